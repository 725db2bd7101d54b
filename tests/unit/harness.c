/* The unit-test harness (see harness.h). */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tcp/tcp_internal.h"

const uint8_t th_mac_a[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t th_mac_b[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t th_mac_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* A stuck timer (a deadline that never moves past now) must not hang a test forever: after this
 * many rounds at one instant the harness reports it and moves on. */
#define TH_MAX_ROUNDS 100000

void th_config(struct ts_config *cfg, enum th_side side)
{
    ts_config_default(cfg);
    memcpy(cfg->mac, side == TH_A ? th_mac_a : th_mac_b, 6);
    cfg->ip = side == TH_A ? TH_IP_A : TH_IP_B;
    cfg->prefix_len = 24;
    cfg->gateway = side == TH_A ? TH_IP_B : TH_IP_A;
    for (int i = 0; i < 16; i++)
        cfg->secret[i] = (uint8_t)(0x11 * (i + 1));
}

/* ---------------------------------------------------------------- spy driver */

/* Sits between a stack and its link so the test can see every frame the stack sends; the rest
 * passes through to the link (the ops left NULL). */
struct th_spy {
    struct ts_driver drv;
    struct th_net *n;
    enum th_side side;
};

static int spy_send(struct ts_driver *d, const uint8_t *f, size_t len,
                    const struct ts_frame_meta *meta, ts_time_t now)
{
    struct th_spy *sp = d->priv;
    sp->n->sent[sp->side]++;
    if (sp->n->spy)
        sp->n->spy(sp->n->spy_arg, sp->side, f, len, now);
    if (sp->n->drop && sp->n->drop(sp->n->spy_arg, sp->side, f, len, meta))
        return 0; /* lost on the wire */
    return ts_driver_send_meta(d->inner, f, len, meta, now);
}
static void spy_destroy(struct ts_driver *d)
{
    free(d->priv);
}
static const struct ts_driver_ops spy_ops = {.send = spy_send, .destroy = spy_destroy};

static struct ts_driver *spy_wrap(struct ts_driver *inner, struct th_net *n, enum th_side side)
{
    struct th_spy *sp = calloc(1, sizeof *sp);
    ck_assert_msg(sp != NULL, "harness: out of memory");
    sp->n = n;
    sp->side = side;
    sp->drv = (struct ts_driver){.ops = &spy_ops, .name = "spy", .priv = sp, .inner = inner};
    return &sp->drv;
}

/* ---------------------------------------------------------------- two stacks */

void th_net_init(struct th_net *n, ts_time_t latency)
{
    struct th_net_opts o = {.latency = latency};
    th_net_init_ex(n, &o);
}

void th_net_init_ex(struct th_net *n, const struct th_net_opts *o)
{
    memset(n, 0, sizeof *n);
    n->now = TH_T0;
    ts_pair_create(&n->pair_a, &n->pair_b, o->latency);
    ck_assert_msg(n->pair_a && n->pair_b, "harness: ts_pair_create failed");
    ts_pair_set_offloads(n->pair_a, o->offloads);
    ts_pair_set_offloads(n->pair_b, o->offloads);

    struct ts_driver *inner_a = n->pair_a, *inner_b = n->pair_b;
    if (o->fault_a) {
        n->fault_a = inner_a = ts_fault_wrap(n->pair_a, o->fault_a);
        ck_assert_msg(inner_a != NULL, "harness: ts_fault_wrap failed");
    }
    if (o->fault_b) {
        n->fault_b = inner_b = ts_fault_wrap(n->pair_b, o->fault_b);
        ck_assert_msg(inner_b != NULL, "harness: ts_fault_wrap failed");
    }
    n->drv_a = spy_wrap(inner_a, n, TH_A);
    n->drv_b = spy_wrap(inner_b, n, TH_B);

    struct ts_config ca, cb;
    if (o->cfg_a)
        ca = *o->cfg_a;
    else
        th_config(&ca, TH_A);
    if (o->cfg_b)
        cb = *o->cfg_b;
    else
        th_config(&cb, TH_B);
    n->a = ts_stack_new(&ca, n->drv_a, n->now);
    n->b = ts_stack_new(&cb, n->drv_b, n->now);
    ck_assert_msg(n->a && n->b, "harness: ts_stack_new failed (configuration?)");
    th_settle(n); /* the gratuitous ARPs */
}

void th_net_free(struct th_net *n)
{
    ts_stack_free(n->a);
    ts_stack_free(n->b);
    ts_driver_destroy(n->drv_a);
    ts_driver_destroy(n->drv_b);
    memset(n, 0, sizeof *n);
}

ts_time_t th_settle(struct th_net *n)
{
    for (int round = 0;; round++) {
        ts_time_t na = ts_stack_step(n->a, n->now);
        ts_time_t nb = ts_stack_step(n->b, n->now);
        /* Each connection is in the timer wheel at its earliest deadline (tcp_conn_done). */
        if (tcp_timer_audit(n->a) || tcp_timer_audit(n->b)) {
            fprintf(stderr, "harness: a connection is not in the timer wheel at its deadline\n");
            abort();
        }
        ts_time_t next = ts_time_min(na, nb);
        /* B's step may have sent A something after A's step computed its deadline */
        next = ts_time_min(next, ts_driver_next_deadline(n->drv_a, n->now));
        next = ts_time_min(next, ts_driver_next_deadline(n->drv_b, n->now));
        if (next > n->now)
            return next;
        if (round >= TH_MAX_ROUNDS) {
            fprintf(stderr, "harness: something is due at %llu us forever; moving on\n",
                    (unsigned long long)n->now);
            return n->now + 1;
        }
    }
}

static bool run(struct th_net *n, ts_time_t duration, bool (*pred)(void *), void *arg)
{
    ts_time_t end = n->now + duration;
    if (pred && pred(arg))
        return true;
    for (;;) {
        ts_time_t next = th_settle(n);
        if (pred && pred(arg))
            return true;
        if (next > end) {
            if (n->now == end)
                return false;
            n->now = end;
        } else {
            n->now = next;
        }
    }
}

void th_run(struct th_net *n, ts_time_t duration)
{
    run(n, duration, NULL, NULL);
}

bool th_run_until(struct th_net *n, bool (*pred)(void *arg), void *arg, ts_time_t max)
{
    return run(n, max, pred, arg);
}

bool th_run_until_sent(struct th_net *n, bool (*pred)(void *arg), void *arg, ts_time_t max)
{
    ts_time_t end = n->now + max;
    for (;;) {
        ts_time_t next = th_settle(n);
        if (pred(arg))
            return true;
        next = ts_time_min(next, ts_driver_next_deadline(n->drv_a, n->now));
        next = ts_time_min(next, ts_driver_next_deadline(n->drv_b, n->now));
        if (next <= n->now)
            continue;
        if (next > end)
            return false;
        n->now = next;
    }
}

int th_ping(struct th_net *n, enum th_side from, uint32_t dst, uint16_t id, uint16_t seq,
            const void *data, size_t len)
{
    struct ts_stack *s = th_stack(n, from);
    size_t cap;
    s->now = n->now;
    uint8_t *p = ts_ip_tx_buf(s, &cap);
    size_t l = th_build_icmp_echo(p, cap, id, seq, data, len);
    if (l == 0)
        return -EMSGSIZE;
    return ts_ip_send(s, ts_stack_config(s)->ip, dst, IP_PROTO_ICMP, l, false, 0);
}

/* ---------------------------------------------------------------- stack + raw peer */

struct th_raw_frame {
    size_t len;
    uint8_t data[];
};

static void raw_answer_arp(struct th_raw *r, const struct arp_pkt *req)
{
    struct arp_pkt rep = {.op = ARP_OP_REPLY, .spa = r->peer_ip, .tpa = req->spa};
    memcpy(rep.sha, r->peer_mac, 6);
    memcpy(rep.tha, req->sha, 6);
    uint8_t pkt[ARP_PKT_LEN];
    arp_emit(&rep, pkt, sizeof pkt);
    uint8_t f[ETH_HDR_LEN + ARP_PKT_LEN];
    size_t l = th_build_eth(f, sizeof f, req->sha, r->peer_mac, ETH_TYPE_ARP, pkt, sizeof pkt);
    ts_driver_send(r->peer, f, l, r->now);
    r->arp_answered++;
}

/* Take everything the stack sent that has arrived at the peer end into the local queue. */
static void raw_pull(struct th_raw *r)
{
    static uint8_t buf[TH_FRAME_MAX]; /* test code only; the harness is single-threaded */
    int len;
    while ((len = ts_driver_recv(r->peer, buf, sizeof buf, r->now)) > 0) {
        if (r->auto_arp) {
            struct arp_pkt a;
            if (th_parse_arp(buf, (size_t)len, &a)) {
                if (a.op == ARP_OP_REQUEST && a.tpa == r->peer_ip)
                    raw_answer_arp(r, &a);
                r->arp_swallowed++;
                continue;
            }
        }
        if (r->qcount == TH_RAW_QUEUE) {
            r->lost++;
            continue;
        }
        struct th_raw_frame *f = malloc(sizeof *f + (size_t)len);
        ck_assert_msg(f != NULL, "harness: out of memory");
        f->len = (size_t)len;
        memcpy(f->data, buf, (size_t)len);
        r->q[(r->qhead + r->qcount) % TH_RAW_QUEUE] = f;
        r->qcount++;
    }
}

/* Settle at r->now; returns the next event time. */
static ts_time_t raw_settle(struct th_raw *r)
{
    for (int round = 0;; round++) {
        ts_time_t next = ts_stack_step(r->s, r->now);
        raw_pull(r);
        next = ts_time_min(next, ts_driver_next_deadline(r->drv, r->now));
        next = ts_time_min(next, ts_driver_next_deadline(r->peer, r->now));
        if (next > r->now)
            return next;
        if (round >= TH_MAX_ROUNDS) {
            fprintf(stderr, "harness: something is due at %llu us forever; moving on\n",
                    (unsigned long long)r->now);
            return r->now + 1;
        }
    }
}

void th_raw_settle(struct th_raw *r)
{
    raw_settle(r);
}

void th_raw_advance(struct th_raw *r, ts_time_t dt)
{
    ts_time_t end = r->now + dt;
    for (;;) {
        ts_time_t next = raw_settle(r);
        if (next > end) {
            if (r->now == end)
                return;
            r->now = end;
        } else {
            r->now = next;
        }
    }
}

void th_raw_init(struct th_raw *r)
{
    struct th_raw_opts o = {0};
    th_raw_init_ex(r, &o);
}

void th_raw_init_ex(struct th_raw *r, const struct th_raw_opts *o)
{
    memset(r, 0, sizeof *r);
    r->now = TH_T0;
    struct ts_config c;
    if (o->cfg)
        c = *o->cfg;
    else
        th_config(&c, TH_B);
    r->ip = c.ip;
    memcpy(r->mac, c.mac, 6);
    r->peer_ip = TH_IP_A;
    memcpy(r->peer_mac, th_mac_a, 6);
    r->auto_arp = !o->manual_arp;
    ts_pair_create(&r->drv, &r->peer, o->latency);
    ck_assert_msg(r->drv && r->peer, "harness: ts_pair_create failed");
    r->s = ts_stack_new(&c, r->drv, r->now);
    ck_assert_msg(r->s != NULL, "harness: ts_stack_new failed (configuration?)");
    if (r->auto_arp) {
        /* RFC 826: the stack is the target of this request, so it adds the peer to its cache. */
        struct arp_pkt req = {.op = ARP_OP_REQUEST, .spa = r->peer_ip, .tpa = r->ip};
        memcpy(req.sha, r->peer_mac, 6);
        th_raw_send_arp(r, &req, th_mac_bcast);
        th_raw_advance(r, 2 * o->latency);
    }
    raw_settle(r);
}

void th_raw_flush(struct th_raw *r)
{
    raw_settle(r);
    while (r->qcount > 0) {
        free(r->q[r->qhead]);
        r->q[r->qhead] = NULL;
        r->qhead = (r->qhead + 1) % TH_RAW_QUEUE;
        r->qcount--;
    }
}

void th_raw_free(struct th_raw *r)
{
    th_raw_flush(r);
    ts_stack_free(r->s);
    ts_driver_destroy(r->drv);
    ts_driver_destroy(r->peer);
    r->s = NULL;
    r->drv = r->peer = NULL;
}

void th_raw_inject(struct th_raw *r, const uint8_t *frame, size_t len)
{
    th_raw_inject_meta(r, frame, len, NULL);
}

void th_raw_inject_meta(struct th_raw *r, const uint8_t *frame, size_t len,
                        const struct ts_frame_meta *meta)
{
    int rc = ts_driver_send_meta(r->peer, frame, len, meta, r->now);
    ck_assert_msg(rc == 0, "harness: injecting a frame failed (%d)", rc);
    raw_settle(r);
}

size_t th_raw_pending(struct th_raw *r)
{
    raw_settle(r);
    return r->qcount;
}

size_t th_raw_recv(struct th_raw *r, uint8_t *buf, size_t cap)
{
    raw_settle(r);
    r->frame_len = 0;
    if (r->qcount == 0)
        return 0;
    struct th_raw_frame *f = r->q[r->qhead];
    r->q[r->qhead] = NULL;
    r->qhead = (r->qhead + 1) % TH_RAW_QUEUE;
    r->qcount--;
    memcpy(r->frame, f->data, f->len);
    r->frame_len = f->len;
    free(f);
    if (buf)
        memcpy(buf, r->frame, r->frame_len < cap ? r->frame_len : cap);
    return r->frame_len;
}

bool th_raw_recv_ipv4(struct th_raw *r, struct ipv4_hdr *ip)
{
    struct ipv4_hdr tmp;
    size_t len = th_raw_recv(r, NULL, 0);
    return len && th_parse_ipv4(r->frame, len, ip ? ip : &tmp);
}
bool th_raw_recv_tcp(struct th_raw *r, struct tcp_hdr *h)
{
    size_t len = th_raw_recv(r, NULL, 0);
    return len && th_parse_tcp(r->frame, len, h);
}
bool th_raw_recv_udp(struct th_raw *r, struct udp_hdr *h)
{
    size_t len = th_raw_recv(r, NULL, 0);
    return len && th_parse_udp(r->frame, len, h);
}
bool th_raw_recv_icmp(struct th_raw *r, struct ipv4_hdr *ip, struct icmp_hdr *h)
{
    size_t len = th_raw_recv(r, NULL, 0);
    return len && th_parse_icmp(r->frame, len, ip, h);
}
bool th_raw_recv_arp(struct th_raw *r, struct arp_pkt *a)
{
    size_t len = th_raw_recv(r, NULL, 0);
    return len && th_parse_arp(r->frame, len, a);
}

void th_raw_send_tcp(struct th_raw *r, const struct tcp_hdr *h)
{
    size_t l = th_build_tcp(r, h, r->scratch, sizeof r->scratch);
    ck_assert_msg(l > 0, "harness: TCP segment does not fit");
    th_raw_inject(r, r->scratch, l);
}

void th_raw_send_udp(struct th_raw *r, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
    size_t l = th_build_udp(r, sport, dport, data, len, r->scratch, sizeof r->scratch);
    ck_assert_msg(l > 0, "harness: UDP datagram does not fit");
    th_raw_inject(r, r->scratch, l);
}

void th_raw_send_icmp_echo(struct th_raw *r, uint16_t id, uint16_t seq, const void *data,
                           size_t len)
{
    static uint8_t msg[IPV4_MAX_LEN];
    size_t l = th_build_icmp_echo(msg, sizeof msg, id, seq, data, len);
    ck_assert_msg(l > 0, "harness: echo does not fit");
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_ICMP, msg, l);
    th_raw_send_ipv4(r, &ip);
}

void th_raw_send_ipv4(struct th_raw *r, const struct ipv4_hdr *ip)
{
    size_t l = th_build_ipv4(r->scratch, sizeof r->scratch, r->mac, r->peer_mac, ip);
    ck_assert_msg(l > 0, "harness: IPv4 datagram does not fit");
    th_raw_inject(r, r->scratch, l);
}

void th_raw_send_arp(struct th_raw *r, const struct arp_pkt *a, const uint8_t dst_mac[6])
{
    uint8_t pkt[ARP_PKT_LEN];
    ck_assert(arp_emit(a, pkt, sizeof pkt) == ARP_PKT_LEN);
    size_t l = th_build_eth(r->scratch, sizeof r->scratch, dst_mac, r->peer_mac, ETH_TYPE_ARP, pkt,
                            sizeof pkt);
    th_raw_inject(r, r->scratch, l);
}

/* ---------------------------------------------------------------- builders / parsers */

struct ipv4_hdr th_ipv4_hdr(uint32_t src, uint32_t dst, uint8_t proto, const void *payload,
                            size_t len)
{
    return (struct ipv4_hdr){.hdr_len = IPV4_HDR_LEN,
                             .ttl = 64,
                             .proto = proto,
                             .src = src,
                             .dst = dst,
                             .payload = payload,
                             .payload_len = len};
}

size_t th_build_eth(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
                    uint16_t type, const void *payload, size_t len)
{
    if (cap < ETH_HDR_LEN || len > cap - ETH_HDR_LEN)
        return 0;
    struct eth_hdr e = {.type = type};
    memcpy(e.dst, dst, 6);
    memcpy(e.src, src, 6);
    eth_emit(&e, buf, cap);
    if (len)
        memmove(buf + ETH_HDR_LEN, payload, len);
    return ETH_HDR_LEN + len;
}

size_t th_build_ipv4(uint8_t *buf, size_t cap, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     const struct ipv4_hdr *ip)
{
    size_t need = ETH_HDR_LEN + IPV4_HDR_LEN + ip->payload_len;
    if (need > cap || IPV4_HDR_LEN + ip->payload_len > IPV4_MAX_LEN)
        return 0;
    if (ip->payload_len)
        memmove(buf + ETH_HDR_LEN + IPV4_HDR_LEN, ip->payload, ip->payload_len);
    if (ipv4_emit(ip, buf + ETH_HDR_LEN, cap - ETH_HDR_LEN) != IPV4_HDR_LEN)
        return 0;
    th_build_eth(buf, cap, dst_mac, src_mac, ETH_TYPE_IPV4, NULL, 0);
    return need;
}

size_t th_build_tcp(const struct th_raw *r, const struct tcp_hdr *h, uint8_t *buf, size_t cap)
{
    size_t off = ETH_HDR_LEN + IPV4_HDR_LEN;
    if (cap < off)
        return 0;
    size_t l = tcp_emit(h, r->peer_ip, r->ip, buf + off, cap - off);
    if (l == 0)
        return 0;
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_TCP, buf + off, l);
    return th_build_ipv4(buf, cap, r->mac, r->peer_mac, &ip);
}

size_t th_build_udp(const struct th_raw *r, uint16_t sport, uint16_t dport, const void *data,
                    size_t len, uint8_t *buf, size_t cap)
{
    size_t off = ETH_HDR_LEN + IPV4_HDR_LEN;
    if (cap < off)
        return 0;
    struct udp_hdr u = {.sport = sport, .dport = dport, .payload = data, .payload_len = len};
    size_t l = udp_emit(&u, r->peer_ip, r->ip, buf + off, cap - off);
    if (l == 0)
        return 0;
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_UDP, buf + off, l);
    return th_build_ipv4(buf, cap, r->mac, r->peer_mac, &ip);
}

size_t th_build_icmp_echo(uint8_t *buf, size_t cap, uint16_t id, uint16_t seq, const void *data,
                          size_t len)
{
    struct icmp_hdr h = {
        .type = ICMP_ECHO_REQUEST, .id = id, .seq = seq, .payload = data, .payload_len = len};
    return icmp_emit(&h, buf, cap);
}

bool th_parse_ipv4(const uint8_t *frame, size_t len, struct ipv4_hdr *ip)
{
    struct eth_hdr e;
    if (eth_parse(frame, len, &e) != TS_C_OK || e.type != ETH_TYPE_IPV4)
        return false;
    return ipv4_parse(e.payload, e.payload_len, ip) == TS_C_OK;
}

/* A whole (unfragmented) transport packet of protocol proto. */
static bool parse_l4(const uint8_t *frame, size_t len, uint8_t proto, struct ipv4_hdr *ip)
{
    return th_parse_ipv4(frame, len, ip) && ip->proto == proto && !ip->mf && ip->frag_off == 0;
}

bool th_parse_tcp(const uint8_t *frame, size_t len, struct tcp_hdr *h)
{
    struct ipv4_hdr ip;
    return parse_l4(frame, len, IP_PROTO_TCP, &ip) &&
           tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, h) == TS_C_OK;
}

bool th_parse_udp(const uint8_t *frame, size_t len, struct udp_hdr *h)
{
    struct ipv4_hdr ip;
    return parse_l4(frame, len, IP_PROTO_UDP, &ip) &&
           udp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, h) == TS_C_OK;
}

bool th_parse_icmp(const uint8_t *frame, size_t len, struct ipv4_hdr *ip, struct icmp_hdr *h)
{
    struct ipv4_hdr tmp;
    if (!ip)
        ip = &tmp;
    return parse_l4(frame, len, IP_PROTO_ICMP, ip) &&
           icmp_parse(ip->payload, ip->payload_len, h) == TS_C_OK;
}

bool th_parse_arp(const uint8_t *frame, size_t len, struct arp_pkt *a)
{
    struct eth_hdr e;
    if (eth_parse(frame, len, &e) != TS_C_OK || e.type != ETH_TYPE_ARP)
        return false;
    return arp_parse(e.payload, e.payload_len, a) == TS_C_OK;
}
