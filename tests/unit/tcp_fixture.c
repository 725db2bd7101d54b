/* Shared fixtures of the TCP test suites: see tcp_fixture.h. */
#include "tcp_fixture.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_internal.h"
#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

static const uint8_t tf_peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

#define TF_FRAME_CAP 2048

/* ---------------------------------------------------------------- set-up */

void tf_config(struct ts_config *cfg)
{
    ts_config_default(cfg);
    for (int i = 0; i < 16; i++)
        cfg->secret[i] = (uint8_t)(0x5a + 3 * i);
}

static void tf_trace_cb(void *arg, const struct ts_trace_event *ev)
{
    struct tf *f = arg;
    if (f->nev >= TF_MAX_EVENTS)
        return;
    struct tf_event *e = &f->ev[f->nev++];
    e->t = ev->time;
    e->lport = ev->lport;
    e->rport = ev->rport;
    e->from = ev->from;
    e->to = ev->to;
    e->cause = ev->cause;
}

static void tf_conn_cb(void *user, struct ts_tcp_conn *c, unsigned events)
{
    struct tf *f = user;
    if (c == f->listener)
        f->listener_events |= events;
    else
        f->events |= events;
}

static void tf_arp_send(struct tf *f, uint16_t op, const uint8_t tha[6], uint32_t tpa)
{
    uint8_t frame[ETH_HDR_LEN + ARP_PKT_LEN];
    struct eth_hdr eh = {.type = ETH_TYPE_ARP};
    memcpy(eh.dst,
           op == ARP_OP_REQUEST ? (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff} : tha, 6);
    memcpy(eh.src, tf_peer_mac, 6);
    ck_assert_uint_eq(eth_emit(&eh, frame, sizeof(frame)), ETH_HDR_LEN);
    struct arp_pkt ap = {.op = op, .spa = TF_PEER_IP, .tpa = tpa};
    memcpy(ap.sha, tf_peer_mac, 6);
    memcpy(ap.tha, tha, 6);
    ck_assert_uint_eq(arp_emit(&ap, frame + ETH_HDR_LEN, ARP_PKT_LEN), ARP_PKT_LEN);
    ts_stack_input(f->s, frame, sizeof(frame), f->now);
}

static void tf_capture(struct tf *f, uint8_t *frame, size_t len, const struct ts_frame_meta *m)
{
    /* What the link would do: complete a partial checksum (only a link that takes it gets one). */
    if (m->csum == TS_CSUM_PARTIAL) {
        ck_assert_msg(f->offloads & TS_OFFLOAD_CSUM, "partial checksum sent to a link without");
        ck_assert_int_eq(ts_frame_csum_complete(frame, len, m), 0);
    }
    ck_assert_msg(m->gso == TS_GSO_NONE || (f->offloads & TS_OFFLOAD_TSO4),
                  "super-segment sent to a link without TSO");
    struct eth_hdr eh;
    if (eth_parse(frame, len, &eh) != TS_C_OK) {
        f->non_tcp_frames++;
        return;
    }
    if (eh.type == ETH_TYPE_ARP) {
        struct arp_pkt ap;
        /* Answer "who has 10.0.0.1" so the tests never wait for ARP. */
        if (arp_parse(eh.payload, eh.payload_len, &ap) == TS_C_OK && ap.op == ARP_OP_REQUEST &&
            ap.tpa == TF_PEER_IP) {
            f->arp_answered++;
            tf_arp_send(f, ARP_OP_REPLY, ap.sha, ap.spa);
        }
        f->non_tcp_frames++;
        return;
    }
    struct ipv4_hdr ip;
    if (eh.type != ETH_TYPE_IPV4 || ipv4_parse(eh.payload, eh.payload_len, &ip) != TS_C_OK ||
        ip.proto != IP_PROTO_TCP) {
        f->non_tcp_frames++;
        return;
    }
    struct tf_seg *sg = malloc(sizeof(*sg) + ip.payload_len + 1);
    ck_assert_ptr_nonnull(sg);
    memset(sg, 0, sizeof(*sg));
    memcpy(sg->frame, ip.payload, ip.payload_len);
    sg->len = ip.payload_len;
    sg->t = f->now;
    sg->src = ip.src;
    sg->dst = ip.dst;
    sg->df = ip.df;
    sg->gso_size = m->gso == TS_GSO_TCPV4 ? m->gso_size : 0;
    /* The stack's checksum must be right: tcp_parse verifies it. */
    enum ts_counter rc = tcp_parse(sg->frame, sg->len, ip.src, ip.dst, &sg->h);
    ck_assert_msg(rc == TS_C_OK, "stack sent a TCP segment that does not parse (%s)",
                  ts_counter_name(rc));
    if (sg->h.opts.ts_ok)
        f->stack_tsval = sg->h.opts.tsval;
    if (f->q_len == f->q_cap) {
        f->q_cap = f->q_cap ? 2 * f->q_cap : 64;
        f->q = realloc(f->q, f->q_cap * sizeof(*f->q));
        ck_assert_ptr_nonnull(f->q);
    }
    f->q[f->q_len++] = sg;
}

static void tf_drain(struct tf *f)
{
    static uint8_t buf[70000];
    int n;
    struct ts_frame_meta m;
    while ((n = ts_driver_recv_meta(f->peer_drv, buf, sizeof(buf), &m, f->now)) > 0)
        tf_capture(f, buf, (size_t)n, &m);
    /* After every step: each connection is in the timer wheel at its earliest deadline. */
    ck_assert_uint_eq(tcp_timer_audit(f->s), 0);
}

static void tf_init_with(struct tf *f, const struct ts_config *cfg, unsigned offloads)
{
    memset(f, 0, sizeof(*f));
    if (cfg)
        f->cfg = *cfg;
    else
        tf_config(&f->cfg);
    f->now = TF_T0;
    ts_pair_create(&f->stack_drv, &f->peer_drv, 0);
    ck_assert_ptr_nonnull(f->stack_drv);
    f->offloads = offloads;
    ts_pair_set_offloads(f->stack_drv, offloads);
    f->s = ts_stack_new(&f->cfg, f->stack_drv, f->now);
    ck_assert_ptr_nonnull(f->s);
    ts_stack_set_trace(f->s, tf_trace_cb, f);
    /* RFC 826: a request whose target is the stack makes it learn the peer's MAC.
     */
    tf_arp_send(f, ARP_OP_REQUEST, (const uint8_t[6]){0}, f->cfg.ip);
    tf_drain(f);
    tf_flush(f);
    f->lport = TF_STACK_PORT;
    f->rport = TF_PEER_PORT;
    f->peer_iss = TF_PEER_ISS;
    f->peer_nxt = TF_PEER_ISS;
    f->peer_wnd = 65535;
    f->peer_syn_opts.mss_ok = true;
    f->peer_syn_opts.mss = TF_MSS;
    f->ip_id = 1;
}

void tf_init_cfg(struct tf *f, const struct ts_config *cfg)
{
    tf_init_with(f, cfg, 0);
}

void tf_init(struct tf *f)
{
    tf_init_cfg(f, NULL);
}

void tf_init_offload(struct tf *f, unsigned offloads)
{
    tf_init_with(f, NULL, offloads);
}

void tf_free(struct tf *f)
{
    tf_check_invariants_at(__FILE__, __LINE__, f, "at the end of the test (tf_free)");
    if (f->conn)
        ts_tcp_abort(f->conn, f->now);
    if (f->listener)
        ts_tcp_close(f->listener, f->now);
    f->conn = f->listener = NULL;
    ts_stack_free(f->s);
    ts_driver_destroy(f->stack_drv);
    ts_driver_destroy(f->peer_drv);
    for (size_t i = 0; i < f->q_len; i++)
        free(f->q[i]);
    free(f->q);
    f->q = NULL;
    f->s = NULL;
}

/* ---------------------------------------------------------------- the peer
 * sends */

static void tf_add_ts(const struct tf *f, struct tcp_hdr *h)
{
    if (!f->peer_ts)
        return;
    h->opts.ts_ok = true;
    h->opts.tsval = (uint32_t)(f->now / TS_MS) + f->peer_ts_offset;
    h->opts.tsecr = (h->flags & TCP_ACK) ? f->stack_tsval : 0;
}

struct tcp_hdr tf_hdr(const struct tf *f, uint8_t flags, uint32_t seq, uint32_t ack)
{
    struct tcp_hdr h;
    memset(&h, 0, sizeof(h));
    h.sport = f->rport;
    h.dport = f->lport;
    h.seq = seq;
    h.ack = ack;
    h.flags = flags;
    h.wnd = f->peer_wnd;
    tf_add_ts(f, &h);
    return h;
}

size_t tf_build_tcp(const struct tcp_hdr *h, uint8_t *buf, size_t cap)
{
    size_t n = tcp_emit(h, TF_PEER_IP, TF_STACK_IP, buf, cap);
    ck_assert_uint_gt(n, 0);
    return n;
}

void tf_fix_csum(uint8_t *seg, size_t len)
{
    ck_assert_uint_ge(len, TCP_HDR_LEN);
    seg[TCP_OFF_CSUM] = seg[TCP_OFF_CSUM + 1] = 0;
    uint32_t sum = csum_pseudo(TF_PEER_IP, TF_STACK_IP, IP_PROTO_TCP, (uint16_t)len);
    uint16_t c = csum_fold(csum_add(sum, seg, len));
    seg[TCP_OFF_CSUM] = (uint8_t)(c >> 8);
    seg[TCP_OFF_CSUM + 1] = (uint8_t)c;
}

void tf_input_frame(struct tf *f, const uint8_t *frame, size_t len)
{
    ts_stack_input(f->s, frame, len, f->now);
    tf_drain(f);
}

void tf_send_raw(struct tf *f, const uint8_t *seg, size_t len)
{
    tf_send_ip(f, IP_PROTO_TCP, seg, len);
}

void tf_send_icmp_unreach(struct tf *f, uint8_t code, uint32_t quoted_seq)
{
    tf_send_icmp_unreach_mtu(f, code, 0, quoted_seq);
}

void tf_send_icmp_unreach_mtu(struct tf *f, uint8_t code, uint16_t mtu, uint32_t quoted_seq)
{
    /* The quoted datagram: the stack's IPv4 header and the first 8 bytes of its TCP header. */
    uint8_t msg[ICMP_HDR_LEN + IPV4_HDR_LEN + 8];
    struct ipv4_hdr q;
    memset(&q, 0, sizeof(q));
    q.hdr_len = IPV4_HDR_LEN;
    q.df = true;
    q.ttl = 64;
    q.proto = IP_PROTO_TCP;
    q.src = TF_STACK_IP;
    q.dst = TF_PEER_IP;
    q.payload_len = 20; /* as if the segment had a bare header */
    uint8_t *quote = msg + ICMP_HDR_LEN;
    ck_assert_uint_eq(ipv4_emit(&q, quote, IPV4_HDR_LEN), IPV4_HDR_LEN);
    uint8_t *th = quote + IPV4_HDR_LEN;
    th[0] = (uint8_t)(f->lport >> 8);
    th[1] = (uint8_t)f->lport;
    th[2] = (uint8_t)(f->rport >> 8);
    th[3] = (uint8_t)f->rport;
    th[4] = (uint8_t)(quoted_seq >> 24);
    th[5] = (uint8_t)(quoted_seq >> 16);
    th[6] = (uint8_t)(quoted_seq >> 8);
    th[7] = (uint8_t)quoted_seq;
    struct icmp_hdr ih;
    memset(&ih, 0, sizeof(ih));
    ih.type = ICMP_DEST_UNREACH;
    ih.code = code;
    ih.rest = mtu; /* icmp_emit writes `rest` for errors: the next-hop MTU (RFC 1191) */
    ih.payload = quote;
    ih.payload_len = IPV4_HDR_LEN + 8;
    ck_assert_uint_eq(icmp_emit(&ih, msg, sizeof(msg)), sizeof(msg));
    tf_send_ip(f, IP_PROTO_ICMP, msg, sizeof(msg));
}

void tf_send_ip(struct tf *f, uint8_t proto, const uint8_t *seg, size_t len)
{
    static uint8_t frame[TF_FRAME_CAP];
    ck_assert_uint_le(len, sizeof(frame) - ETH_HDR_LEN - IPV4_HDR_LEN);
    struct eth_hdr eh = {.type = ETH_TYPE_IPV4};
    memcpy(eh.dst, f->cfg.mac, 6);
    memcpy(eh.src, tf_peer_mac, 6);
    eth_emit(&eh, frame, ETH_HDR_LEN);
    struct ipv4_hdr ip;
    memset(&ip, 0, sizeof(ip));
    ip.hdr_len = IPV4_HDR_LEN;
    ip.id = f->ip_id++;
    ip.df = true;
    ip.ttl = 64;
    ip.proto = proto;
    ip.src = TF_PEER_IP;
    ip.dst = TF_STACK_IP;
    ip.payload_len = len;
    ck_assert_uint_eq(ipv4_emit(&ip, frame + ETH_HDR_LEN, IPV4_HDR_LEN), IPV4_HDR_LEN);
    memcpy(frame + ETH_HDR_LEN + IPV4_HDR_LEN, seg, len);
    tf_input_frame(f, frame, ETH_HDR_LEN + IPV4_HDR_LEN + len);
}

void tf_send_hdr(struct tf *f, const struct tcp_hdr *h)
{
    uint8_t seg[TF_FRAME_CAP];
    size_t n = tf_build_tcp(h, seg, sizeof(seg) - ETH_HDR_LEN - IPV4_HDR_LEN);
    tf_send_raw(f, seg, n);
}

void tf_send(struct tf *f, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
{
    struct tcp_hdr h = tf_hdr(f, flags, seq, ack);
    h.payload = data;
    h.payload_len = len;
    tf_send_hdr(f, &h);
}

void tf_send_data(struct tf *f, const void *data, size_t len)
{
    tf_send(f, TCP_ACK | TCP_PSH, f->peer_nxt, f->stack_nxt, data, len);
    f->peer_nxt += (uint32_t)len;
}

void tf_send_ack(struct tf *f)
{
    tf_send(f, TCP_ACK, f->peer_nxt, f->stack_nxt, NULL, 0);
}

void tf_send_fin(struct tf *f)
{
    tf_send(f, TCP_FIN | TCP_ACK, f->peer_nxt, f->stack_nxt, NULL, 0);
    f->peer_nxt++;
}

/* ---------------------------------------------------------------- what the
 * stack sent */

struct tf_seg *tf_next(struct tf *f)
{
    tf_drain(f);
    if (f->q_head == f->q_len)
        return NULL;
    return f->q[f->q_head++];
}

size_t tf_pending(struct tf *f)
{
    tf_drain(f);
    return f->q_len - f->q_head;
}

size_t tf_flush(struct tf *f)
{
    size_t n = tf_pending(f);
    f->q_head = f->q_len;
    return n;
}

const char *tf_flags_str(uint8_t fl, char buf[10])
{
    static const char names[] = "FSRPAUEC";
    int k = 0;
    for (int i = 0; i < 8; i++)
        if (fl & (1 << i))
            buf[k++] = names[i];
    if (!k)
        buf[k++] = '.';
    buf[k] = 0;
    return buf;
}

struct tf_seg *tf_expect_at(const char *file, int line, struct tf *f, uint8_t flags, uint32_t seq,
                            uint32_t ack)
{
    char want[10], got[10];
    struct tf_seg *sg = tf_next(f);
    ck_assert_msg(sg != NULL,
                  "%s:%d: expected a segment [%s] seq %u ack %u, the stack sent nothing", file,
                  line, tf_flags_str(flags, want), seq, ack);
    uint8_t gf = sg->h.flags & (uint8_t)~TCP_PSH;
    uint8_t wf = flags & (uint8_t)~TCP_PSH;
    bool ok = gf == wf && sg->h.seq == seq && (!(wf & TCP_ACK) || sg->h.ack == ack);
    ck_assert_msg(ok, "%s:%d: expected [%s] seq %u ack %u, got [%s] seq %u ack %u len %zu", file,
                  line, tf_flags_str(flags, want), seq, ack, tf_flags_str(sg->h.flags, got),
                  sg->h.seq, sg->h.ack, sg->h.payload_len);
    return sg;
}

void tf_expect_nothing_at(const char *file, int line, struct tf *f)
{
    char got[10];
    struct tf_seg *sg = tf_next(f);
    ck_assert_msg(sg == NULL, "%s:%d: expected silence, got [%s] seq %u ack %u len %zu", file, line,
                  sg ? tf_flags_str(sg->h.flags, got) : "", sg ? sg->h.seq : 0, sg ? sg->h.ack : 0,
                  sg ? sg->h.payload_len : 0);
}

/* ---------------------------------------------------------------- time */

/* Run timers at their due times until `end`; stop early (at the time of the
 * event) when stop_on_seg and a segment was captured. */
static void tf_run(struct tf *f, ts_time_t end, bool stop_on_seg)
{
    for (unsigned guard = 0;; guard++) {
        ck_assert_msg(guard < 2000000, "timer loop does not advance (deadline stuck at now)");
        tf_drain(f);
        if (stop_on_seg && f->q_head < f->q_len)
            return;
        ts_time_t next = ts_stack_poll(f->s, f->now);
        tf_drain(f);
        if (stop_on_seg && f->q_head < f->q_len)
            return;
        if (next == TS_TIME_NEVER || next > end)
            break;
        f->now = next > f->now ? next : f->now + 1;
    }
    f->now = end;
    ts_stack_poll(f->s, f->now);
    tf_drain(f);
}

void tf_advance(struct tf *f, ts_time_t dt)
{
    tf_run(f, f->now + dt, false);
}

struct tf_seg *tf_wait_seg(struct tf *f, ts_time_t max)
{
    tf_run(f, f->now + max, true);
    return tf_next(f);
}

/* ---------------------------------------------------------------- connection
 * fixtures */

enum ts_tcp_state tf_state(const struct tf *f)
{
    ck_assert_ptr_nonnull(f->conn);
    return ts_tcp_state(f->conn);
}

enum ts_tcp_state tf_tuple_state(struct tf *f)
{
    struct ts_tcp_info t[64];
    size_t n = ts_tcp_table(f->s, t, 64, f->now);
    ck_assert_uint_le(n, 64);
    const struct ts_tcp_info *best = NULL, *listener = NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].lport != f->lport)
            continue;
        if (t[i].rport == 0 && t[i].state == TS_TCP_LISTEN)
            listener = &t[i];
        else if (t[i].rport == f->rport && (!best || t[i].id > best->id))
            best = &t[i];
    }
    if (best)
        return best->state;
    for (size_t i = f->nev; i-- > 0;)
        if (f->ev[i].lport == f->lport && f->ev[i].rport == f->rport)
            return f->ev[i].to;
    return listener ? TS_TCP_LISTEN : TS_TCP_CLOSE;
}

void tf_listen(struct tf *f)
{
    struct ts_tcp_opts o;
    int err = 0;
    ts_tcp_opts_default(f->s, &o);
    if (f->opts)
        o = *f->opts;
    f->listener = ts_tcp_listen(f->s, 0, TF_STACK_PORT, 16, &o, &err, f->now);
    ck_assert_msg(f->listener != NULL, "listen failed: %d", err);
    ts_tcp_set_callback(f->listener, tf_conn_cb, f);
    ck_assert_int_eq(ts_tcp_state(f->listener), TS_TCP_LISTEN);
    f->lport = TF_STACK_PORT;
}

struct tf_seg *tf_syn_received(struct tf *f)
{
    tf_listen(f);
    struct tcp_hdr h = tf_hdr(f, TCP_SYN, f->peer_iss, 0);
    h.opts = f->peer_syn_opts;
    tf_add_ts(f, &h);
    tf_send_hdr(f, &h);
    f->peer_nxt = f->peer_iss + 1;
    struct tf_seg *sg = tf_next(f);
    ck_assert_msg(sg != NULL, "no SYN-ACK to the peer's SYN");
    ck_assert_uint_eq(sg->h.flags & ~TCP_PSH, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sg->h.ack, f->peer_iss + 1);
    f->stack_iss = sg->h.seq;
    f->stack_nxt = sg->h.seq + 1;
    f->stack_syn_opts = sg->h.opts;
    return sg;
}

void tf_establish_rtt(struct tf *f, ts_time_t rtt)
{
    tf_syn_received(f);
    tf_advance(f, rtt);
    tf_send_ack(f);
    f->conn = ts_tcp_accept(f->listener);
    ck_assert_msg(f->conn != NULL, "handshake completed but nothing to accept");
    ts_tcp_set_callback(f->conn, tf_conn_cb, f);
    ck_assert_int_eq(ts_tcp_state(f->conn), TS_TCP_ESTABLISHED);
    tf_expect_nothing(f);
}

void tf_establish(struct tf *f)
{
    tf_syn_received(f);
    tf_send_ack(f);
    f->conn = ts_tcp_accept(f->listener);
    ck_assert_msg(f->conn != NULL, "handshake completed but nothing to accept");
    ts_tcp_set_callback(f->conn, tf_conn_cb, f);
    ck_assert_int_eq(ts_tcp_state(f->conn), TS_TCP_ESTABLISHED);
    tf_expect_nothing(f);
}

struct tf_seg *tf_syn_sent(struct tf *f)
{
    struct ts_tcp_opts o;
    int err = 0;
    ts_tcp_opts_default(f->s, &o);
    if (f->opts)
        o = *f->opts;
    f->conn = ts_tcp_connect(f->s, 0, 0, TF_PEER_IP, TF_PEER_PORT, &o, &err, f->now);
    ck_assert_msg(f->conn != NULL, "connect failed: %d", err);
    ts_tcp_set_callback(f->conn, tf_conn_cb, f);
    uint32_t la, ra;
    uint16_t lp, rp;
    ts_tcp_endpoints(f->conn, &la, &lp, &ra, &rp);
    ck_assert_uint_eq(ra, TF_PEER_IP);
    ck_assert_uint_eq(rp, TF_PEER_PORT);
    f->lport = lp;
    f->rport = rp;
    struct tf_seg *sg = tf_next(f);
    ck_assert_msg(sg != NULL, "connect sent no SYN");
    ck_assert_uint_eq(sg->h.flags & ~TCP_PSH, TCP_SYN);
    f->stack_iss = sg->h.seq;
    f->stack_nxt = sg->h.seq + 1;
    f->stack_syn_opts = sg->h.opts;
    ck_assert_int_eq(ts_tcp_state(f->conn), TS_TCP_SYN_SENT);
    return sg;
}

void tf_establish_active(struct tf *f)
{
    tf_syn_sent(f);
    struct tcp_hdr h = tf_hdr(f, TCP_SYN | TCP_ACK, f->peer_iss, f->stack_nxt);
    h.opts = f->peer_syn_opts;
    tf_add_ts(f, &h);
    tf_send_hdr(f, &h);
    f->peer_nxt = f->peer_iss + 1;
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    ck_assert_int_eq(ts_tcp_state(f->conn), TS_TCP_ESTABLISHED);
    tf_expect_nothing(f);
}

void tf_fin_wait1(struct tf *f)
{
    tf_establish(f);
    ck_assert_int_eq(ts_tcp_shutdown_write(f->conn, f->now), 0);
    tf_expect(f, TCP_FIN | TCP_ACK, f->stack_nxt, f->peer_nxt);
    f->stack_nxt++;
    ck_assert_int_eq(tf_state(f), TS_TCP_FIN_WAIT1);
}

void tf_fin_wait2(struct tf *f)
{
    tf_fin_wait1(f);
    tf_send_ack(f);
    tf_expect_nothing(f);
    ck_assert_int_eq(tf_state(f), TS_TCP_FIN_WAIT2);
}

void tf_time_wait(struct tf *f)
{
    tf_fin_wait2(f);
    tf_send_fin(f);
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    ck_assert_int_eq(tf_state(f), TS_TCP_TIME_WAIT);
}

void tf_close_wait(struct tf *f)
{
    tf_establish(f);
    tf_send_fin(f);
    ck_assert_int_eq(tf_state(f), TS_TCP_CLOSE_WAIT);
    /* The ACK of a FIN that leads to CLOSE-WAIT waits for the delayed-ACK timer, as Linux's
     * (an application's prompt FIN would carry it). */
    tf_expect_nothing(f);
    tf_advance(f, 40 * TS_MS);
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
}

void tf_last_ack(struct tf *f)
{
    tf_close_wait(f);
    ck_assert_int_eq(ts_tcp_shutdown_write(f->conn, f->now), 0);
    tf_expect(f, TCP_FIN | TCP_ACK, f->stack_nxt, f->peer_nxt);
    f->stack_nxt++;
    ck_assert_int_eq(tf_state(f), TS_TCP_LAST_ACK);
}

void tf_closing(struct tf *f)
{
    tf_fin_wait1(f);
    /* The peer's FIN crossed ours: it acknowledges only up to our FIN, not the
     * FIN itself. */
    tf_send(f, TCP_FIN | TCP_ACK, f->peer_nxt, f->stack_nxt - 1, NULL, 0);
    f->peer_nxt++;
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    ck_assert_int_eq(tf_state(f), TS_TCP_CLOSING);
}

/* ---------------------------------------------------------------- invariants */

/* What a failed invariant says: the connection, its state and what is wrong. */
struct tf_why {
    char *buf;
    size_t cap;
};

__attribute__((format(printf, 3, 4))) static bool
tf_inv_fail(struct tf_why *w, const struct ts_tcp_conn *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(w->buf, w->cap, "connection %u->%u in %s: %s", c->lport, c->rport,
             ts_tcp_state_name(c->state), msg);
    return false;
}

/* Each check returns false, with the reason in w, at the first invariant that does not hold. */
#define TF_INV(w, c, cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return tf_inv_fail(w, c, __VA_ARGS__);                                                 \
    } while (0)

static bool tf_on(ts_time_t t)
{
    return t != TS_TIME_NEVER;
}

/* A listener: no timers, and its queue lengths count its children. */
static bool tf_inv_listener(struct tf_why *w, struct ts_stack *s, const struct ts_tcp_conn *l)
{
    TF_INV(w, l, l->state == TS_TCP_LISTEN, "a listener outside LISTEN");
    TF_INV(w, l, tcp_next_timer(l, NULL) == TS_TIME_NEVER, "a listener with a timer running");
    unsigned synq = 0, acceptq = 0;
    for (const struct ts_tcp_conn *k = s->tcp->all; k; k = k->next)
        if (k->parent == l) {
            acceptq += k->in_acceptq;
            synq += !k->in_acceptq;
        }
    TF_INV(w, l, synq == l->listener.synq_len && acceptq == l->listener.acceptq_len,
           "%u children half-open and %u in the accept queue, counted %u and %u", synq, acceptq,
           l->listener.synq_len, l->listener.acceptq_len);
    return true;
}

/* Send side: SND.UNA <= SND.NXT <= SND.MAX, and the ring holds what lies from SND.UNA on. */
static bool tf_inv_send(struct tf_why *w, const struct ts_tcp_conn *c)
{
    TF_INV(w, c, seq_leq(c->snd.una, c->snd.nxt) && seq_leq(c->snd.nxt, c->snd.max),
           "SND.UNA %u, SND.NXT %u, SND.MAX %u out of order", c->snd.una, c->snd.nxt, c->snd.max);
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    bool fin_acked = c->snd.fin_queued && c->snd.una == end + 1;
    uint32_t want = c->snd.una == c->snd.iss ? c->snd.iss + 1 : fin_acked ? end : c->snd.una;
    TF_INV(w, c, c->snd.buf_seq == want, "send ring starts at %u, SND.UNA %u (ISS %u)",
           c->snd.buf_seq, c->snd.una, c->snd.iss);
    TF_INV(w, c, seq_leq(c->snd.max, end + (c->snd.fin_queued ? 1 : 0)),
           "SND.MAX %u beyond the queued data's end %u%s", c->snd.max, end,
           c->snd.fin_queued ? " and the FIN" : "");
    if (c->state == TS_TCP_SYN_SENT || c->state == TS_TCP_SYN_RECV)
        TF_INV(w, c, c->snd.max == c->snd.iss + 1, "SND.MAX %u, ISS %u: more than the SYN sent",
               c->snd.max, c->snd.iss);
    return true;
}

/* Receive side: RCV.NXT = IRS + 1 + bytes delivered + FIN; unread and out-of-order data fit. */
static bool tf_inv_receive(struct tf_why *w, const struct ts_tcp_conn *c)
{
    uint32_t in_order = c->rcv.nxt - c->rcv.irs - 1 - (c->rcv.fin_rcvd ? 1 : 0);
    TF_INV(w, c, in_order == (uint32_t)c->bytes_received,
           "RCV.NXT %u (IRS %u%s) does not count the %llu bytes received", c->rcv.nxt, c->rcv.irs,
           c->rcv.fin_rcvd ? ", FIN" : "", (unsigned long long)c->bytes_received);
    TF_INV(w, c, c->rcvbuf.len <= in_order, "%u bytes unread of %u received", c->rcvbuf.len,
           in_order);
    uint32_t from = c->rcv.nxt;
    for (unsigned i = 0; i < c->rcv.nooo; i++) {
        const struct tcp_range *r = &c->rcv.ooo[i];
        TF_INV(w, c, seq_gt(r->left, from) && seq_gt(r->right, r->left),
               "out-of-order range %u [%u, %u) not beyond %u", i, r->left, r->right, from);
        TF_INV(w, c, r->right - c->rcv.nxt <= ts_ring_free_space(&c->rcvbuf),
               "out-of-order range [%u, %u) beyond the ring (RCV.NXT %u, %u free)", r->left,
               r->right, c->rcv.nxt, ts_ring_free_space(&c->rcvbuf));
        from = r->right;
    }
    return true;
}

/* The timers a state allows (see tcp_fixture.h). */
static bool tf_inv_timers(struct tf_why *w, const struct ts_tcp_conn *c)
{
    enum ts_tcp_state st = c->state;
    const char *name = "-";
    if (st == TS_TCP_CLOSE || st == TS_TCP_LISTEN) {
        TF_INV(w, c, tcp_next_timer(c, &name) == TS_TIME_NEVER, "the %s timer runs", name);
        return true;
    }
    const struct ts_tcp_conn *k = c;
    bool syn = st == TS_TCP_SYN_SENT || st == TS_TCP_SYN_RECV;
    bool flight = c->snd.max != c->snd.una;
    bool sends = st == TS_TCP_ESTABLISHED || st == TS_TCP_CLOSE_WAIT || st == TS_TCP_FIN_WAIT1 ||
                 st == TS_TCP_CLOSING || st == TS_TCP_LAST_ACK;
    bool receives = st == TS_TCP_ESTABLISHED || st == TS_TCP_FIN_WAIT1 || st == TS_TCP_FIN_WAIT2;
    bool keep = c->opts.keepalive && !syn && st != TS_TCP_TIME_WAIT;
    TF_INV(w, k, !syn || tf_on(c->timers.rexmt), "our SYN unacknowledged, no retransmission timer");
    if (st == TS_TCP_TIME_WAIT)
        TF_INV(w, k, tf_on(c->timers.wait), "no 2MSL timer");
    else
        TF_INV(w, k, !tf_on(c->timers.wait) || (st == TS_TCP_FIN_WAIT2 && c->orphan),
               "the 2MSL (or orphan FIN_WAIT2) timer runs");
    TF_INV(w, k, flight || (!tf_on(c->timers.rexmt) && !tf_on(c->timers.tlp)),
           "nothing in flight (SND.UNA = SND.MAX = %u), yet the %s timer runs", c->snd.una,
           tf_on(c->timers.rexmt) ? "retransmission" : "loss-probe");
    TF_INV(w, k, flight || !tf_on(c->timers.reo),
           "nothing in flight, yet the reordering timer runs");
    TF_INV(w, k, c->txq.len == 0 || flight,
           "nothing in flight, yet %u segments in the retransmission queue", c->txq.len);
    TF_INV(w, k, !flight || tf_on(c->timers.rexmt) || tf_on(c->timers.persist),
           "%u in flight and no timer to resend it", c->snd.max - c->snd.una);
    TF_INV(w, k, sends || !tf_on(c->timers.persist), "the persist timer runs");
    /* After receiving ends, the one ACK still owed is the FIN's, held for CLOSE_WAIT's app to
     * send with its own FIN (tcp_fin_ack_plan). */
    bool fin_unacked = c->rcv.fin_rcvd && c->rcv.last_ack_sent != c->rcv.nxt;
    TF_INV(w, k, receives || fin_unacked || !tf_on(c->timers.delack), "the delayed-ACK timer runs");
    TF_INV(w, k, keep == tf_on(c->timers.keep), "keep-alive %s, its timer %s",
           c->opts.keepalive ? "on" : "off", tf_on(c->timers.keep) ? "runs" : "does not run");
    return true;
}

static bool tf_inv_conn(struct tf_why *w, struct ts_stack *s, const struct ts_tcp_conn *c)
{
    if (c->is_listener)
        return tf_inv_listener(w, s, c);
    if (!tf_inv_timers(w, c))
        return false;
    TF_INV(w, c, c->state != TS_TCP_CLOSE || !c->hashed, "closed, still in the lookup table");
    if (c->state == TS_TCP_LISTEN)
        return true; /* a child not yet given its sequence space */
    if (!tf_inv_send(w, c))
        return false;
    /* The receive side exists once the peer's SYN came (SYN_SENT has none; a block that closed
     * in SYN_SENT neither). */
    bool rcv = c->state != TS_TCP_SYN_SENT && !(c->state == TS_TCP_CLOSE && c->rcv.nxt == 0);
    return !rcv || tf_inv_receive(w, c);
}

bool tf_invariants_hold(struct tf *f, char *why, size_t cap)
{
    struct tf_why w = {why, cap};
    for (const struct ts_tcp_conn *c = f->s->tcp->all; c; c = c->next)
        if (!tf_inv_conn(&w, f->s, c))
            return false;
    return true;
}

void tf_check_invariants_at(const char *file, int line, struct tf *f, const char *what)
{
    char why[512];
    if (!tf_invariants_hold(f, why, sizeof(why))) {
        if (what)
            ck_abort_msg("%s: %s", what, why);
        ck_abort_msg("%s:%d: %s", file, line, why);
    }
}

/* ---------------------------------------------------------------- trace */

static const char *tf_state_str(enum ts_tcp_state st)
{
    static const char *const n[] = {"?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                    "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                    "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};
    return (unsigned)st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

const char *tf_path_of(struct tf *f, uint16_t lport, uint16_t rport)
{
    static char buf[2048];
    size_t k = 0;
    buf[0] = 0;
    bool first = true;
    for (size_t i = 0; i < f->nev; i++) {
        const struct tf_event *e = &f->ev[i];
        if (e->lport != lport || e->rport != rport)
            continue;
        if (first && e->from != TS_TCP_CLOSE)
            k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s", tf_state_str(e->from));
        if (k >= sizeof(buf) - 20)
            break;
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", k ? " " : "", tf_state_str(e->to));
        first = false;
    }
    return buf;
}

const char *tf_path(struct tf *f)
{
    return tf_path_of(f, f->lport, f->rport);
}

const char *tf_cause_of(struct tf *f, enum ts_tcp_state to)
{
    for (size_t i = f->nev; i-- > 0;) {
        const struct tf_event *e = &f->ev[i];
        if (e->lport == f->lport && e->rport == f->rport && e->to == to)
            return e->cause;
    }
    return NULL;
}

ts_time_t tf_time_of(struct tf *f, enum ts_tcp_state to)
{
    for (size_t i = f->nev; i-- > 0;) {
        const struct tf_event *e = &f->ev[i];
        if (e->lport == f->lport && e->rport == f->rport && e->to == to)
            return e->t;
    }
    ck_abort_msg("the connection never entered state %s", tf_state_str(to));
    return 0;
}

uint64_t tf_count(const struct tf *f, enum ts_counter c)
{
    return ts_stack_counter(f->s, c);
}

/* ---------------------------------------------------------------- data helpers
 */

uint8_t tf_pattern(unsigned stream, uint64_t i)
{
    /* A cheap mix so that shifted or repeated blocks never look right by
     * accident. */
    uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)stream * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 32;
    return (uint8_t)x;
}

void tf_fill(uint8_t *buf, size_t len, unsigned stream, uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = tf_pattern(stream, offset + i);
}

size_t tf_read_all(struct tf *f, struct ts_tcp_conn *c, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = ts_tcp_recv(c, buf + got, cap - got, f->now);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    tf_drain(f);
    return got;
}
