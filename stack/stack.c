/* The conductor: one stack instance, its configuration, the run-loop entry points and the
 * counters, and the only file that knows every layer. It stands on top of them all (see
 * internal.h): each layer returns what it found, and this file decides where it goes next.
 *
 * Inbound, ts_stack_input reads top to bottom: the link layer filters the frame; ARP takes its
 * own; IPv4 validates and reassembles; the datagram goes to ICMP, TCP or UDP; an ICMP error is
 * routed to the transport it is about; what nobody takes is answered with an ICMP error.
 * Timers, in ts_stack_poll: ARP's failures become host-unreachable errors for the transports,
 * expired reassemblies become "time exceeded", then TCP's timers run. Outbound needs no
 * conductor: a transport calls ts_ip_send, and each layer calls the one below it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire/icmp.h"

/* ts_stack_step reads at most this many frames per call, so one busy link cannot starve the
 * timers; the loop comes back at once (the returned deadline is "now"). The frames of one call are
 * one batch for TCP's ACKs (ts_tcp_batch_begin/end): one ACK per burst, as for a super-segment. */
#define STEP_MAX_FRAMES 4096
/* ts_stack_poll feeds at most this many datagrams of the loopback queue back in per call, so a
 * conversation of the stack with itself cannot hold its caller (and the lock) for long; the
 * deadline it returns is then "now". */
#define LOOP_BATCH 256

void ts_config_default(struct ts_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    memcpy(cfg->mac, mac, 6);
    cfg->ip = 0x0a000002u; /* 10.0.0.2 */
    cfg->prefix_len = 24;
    cfg->gateway = 0x0a000001u; /* 10.0.0.1 */
    cfg->mtu = 1500;
    cfg->tcp_rcvbuf = 1024 * 1024;
    cfg->tcp_sndbuf = 1024 * 1024;
    cfg->tcp_msl = 30 * TS_SEC;
    cfg->tcp_max_conns = 262144;
    cfg->tcp_max_tw = 131072;
    cfg->tcp_timestamps = true;
    cfg->tcp_sack = true;
    cfg->tcp_window_scaling = true;
    cfg->tcp_syncookies = true;
    cfg->tcp_invalid_ratelimit = 500 * TS_MS;
    cfg->ephemeral_lo = 32768;
    cfg->ephemeral_hi = 60999;
}

static uint32_t mask_of(uint8_t prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static bool config_ok(const struct ts_config *c)
{
    if (c->prefix_len < 1 || c->prefix_len > 30)
        return false;
    /* RFC 791 lets a link have an MTU as small as 68, but every host must take 576-byte
     * datagrams whole; below that TCP would barely work, so we refuse such links. */
    if (c->mtu < 576 || c->mtu > 9000)
        return false;
    uint32_t mask = mask_of(c->prefix_len);
    uint32_t net = c->ip & mask;
    uint32_t bcast = net | ~mask;
    /* A unicast host address: not 0/8, 127/8, multicast/reserved, nor the subnet's network or
     * broadcast address. */
    if ((c->ip >> 24) == 0 || (c->ip >> 24) == 127 || (c->ip >> 28) >= 0xe || c->ip == net ||
        c->ip == bcast)
        return false;
    if (c->gateway != 0) {
        /* RFC 1122 3.3.1.1: the first hop must be directly reachable. */
        if ((c->gateway & mask) != net || c->gateway == net || c->gateway == bcast ||
            c->gateway == c->ip)
            return false;
    }
    static const uint8_t zero[6];
    if (eth_is_multicast(c->mac) || memcmp(c->mac, zero, 6) == 0)
        return false;
    if (c->ephemeral_lo == 0 || c->ephemeral_lo > c->ephemeral_hi)
        return false;
    return true;
}

struct ts_stack *ts_stack_new(const struct ts_config *cfg, struct ts_driver *drv, ts_time_t now)
{
    if (!cfg || !drv || !config_ok(cfg))
        return NULL;
    struct ts_stack *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    s->drv = drv;
    s->now = now;
    s->netmask = mask_of(cfg->prefix_len);
    /* Start the IP identification somewhere that depends on the secret, so two stacks started
     * together do not emit the same ids (it only needs to be unique per src/dst/proto). */
    s->ip_id = (uint16_t)(cfg->secret[0] << 8 | cfg->secret[1]);
    s->icmp_refill = now;
    s->icmp_tokens = UINT32_MAX; /* "full": icmp.c clamps it to its burst size */
    s->offloads = ts_driver_offloads(drv);
    s->arp = ts_arp_new();
    s->reass = ts_reass_new();
    if (!s->arp || !s->reass)
        goto fail;
    s->udp = ts_udp_table_new();
    s->tcp = ts_tcp_table_new(s);
    if (!s->udp || !s->tcp)
        goto fail;
    ts_arp_announce(s);
    return s;
fail:
    ts_stack_free(s);
    return NULL;
}

void ts_stack_free(struct ts_stack *s)
{
    if (!s)
        return;
    ts_ip_loopback_flush(s);
    ts_tcp_table_free(s->tcp);
    ts_udp_table_free(s->udp);
    ts_reass_free(s->reass);
    ts_arp_free(s->arp);
    free(s);
}

const struct ts_config *ts_stack_config(const struct ts_stack *s)
{
    return &s->cfg;
}
struct ts_driver *ts_stack_driver(const struct ts_stack *s)
{
    return s->drv;
}

uint64_t ts_stack_counter(const struct ts_stack *s, enum ts_counter c)
{
    if ((int)c <= TS_C_OK || c >= TS_C_COUNT)
        return 0;
    return s->counters[c];
}

/* ---------------------------------------------------------------- inbound */

/* An ICMP error about a datagram we sent (or an ARP failure in its form): tell the transport that
 * sent it (RFC 1122 3.2.2: errors are passed to the transport; 4.1.3.3 UDP, 4.2.3.9 TCP). */
static void deliver_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    switch (e->proto) {
    case IP_PROTO_TCP:
        ts_count(s, TS_C_ICMP_ERR_RX);
        ts_tcp_icmp_error(s, e);
        break;
    case IP_PROTO_UDP:
        ts_count(s, TS_C_ICMP_ERR_RX);
        ts_udp_icmp_error(s, e);
        break;
    default:
        /* About an ICMP message or a protocol we never send: nobody to tell. */
        ts_count(s, TS_C_ICMP_DROP_NO_TRANSPORT);
        break;
    }
}

/* A complete datagram for us: the protocol it names takes it. What nobody takes is answered with
 * an ICMP error, which icmp.c sends only where RFC 1122 3.2.2 allows one. */
static void deliver(struct ts_stack *s, const struct ts_ip_rx *rx)
{
    struct ts_icmp_error err;
    switch (rx->ip.proto) {
    case IP_PROTO_ICMP:
        if (ts_icmp_input(s, &rx->ip, &err))
            deliver_icmp_error(s, &err);
        break;
    case IP_PROTO_TCP:
        ts_tcp_input(s, &rx->ip, rx->l4_csum_ok);
        break;
    case IP_PROTO_UDP:
        /* RFC 1122 4.1.3.1: a datagram to a port nobody listens on gets port unreachable. */
        if (ts_udp_input(s, &rx->ip, rx->l4_csum_ok, rx->gso_size) == TS_UDP_RX_NO_PORT)
            ts_icmp_send_error(s, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, rx);
        break;
    default:
        /* RFC 1122 3.2.2.1: a host SHOULD say "protocol unreachable". */
        ts_count(s, TS_C_IP_DROP_UNKNOWN_PROTO);
        ts_icmp_send_error(s, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, 0, rx);
        break;
    }
}

void ts_stack_input_meta(struct ts_stack *s, const uint8_t *frame, size_t len,
                         const struct ts_frame_meta *meta, ts_time_t now)
{
    s->now = now;
    struct ts_link_rx f;
    if (!ts_link_input(s, frame, len, meta, &f))
        return;
    struct ts_ip_rx rx;
    switch (f.type) {
    case ETH_TYPE_ARP:
        ts_arp_input(s, &f);
        break;
    case ETH_TYPE_IPV4:
        if (ts_ipv4_input(s, &f, &rx))
            deliver(s, &rx);
        break;
    default:
        ts_count(s, TS_C_ETH_DROP_UNKNOWN_TYPE);
        break;
    }
}

void ts_stack_input(struct ts_stack *s, const uint8_t *frame, size_t len, ts_time_t now)
{
    ts_stack_input_meta(s, frame, len, NULL, now);
}

/* Datagrams the stack sent to itself (to its address or to 127/8: ipv4.c queued them) come back
 * in here as received ones, but never from a link: no Ethernet, and none of the checks that keep
 * a link's datagrams honest (a source of 127.0.0.1 or of our own address is right here, RFC 1122
 * 3.2.1.3). Returns true when more wait than one call takes. */
static bool loopback_run(struct ts_stack *s)
{
    for (int i = 0; i < LOOP_BATCH; i++) {
        struct ts_loop_dgram *d = ts_ip_loopback_pop(s);
        if (!d)
            return false;
        /* Its checksums were made here a moment ago: nothing to check (Linux's lo alike). */
        struct ts_ip_rx rx = {.link_broadcast = false, .loopback = true, .l4_csum_ok = true};
        enum ts_counter why = ipv4_parse(d->data, d->len, &rx.ip);
        if (why == TS_C_OK)
            deliver(s, &rx);
        else
            ts_count(s, why); /* cannot happen: we wrote it; counted, never trusted */
        free(d);
    }
    return s->loop_head != NULL;
}

bool ts_stack_has_loopback(const struct ts_stack *s)
{
    return s->loop_head != NULL;
}

/* ---------------------------------------------------------------- timers */

/* ARP gave up on a next hop: each datagram that waited for it is lost, and its transport hears
 * of it as from an ICMP host unreachable (RFC 1122 2.3.2.2, 3.2.2.1), so TCP and UDP see
 * EHOSTUNREACH. Only a first fragment carries the transport header the error must quote. */
static void report_unresolved(struct ts_stack *s, const struct ts_arp_failure *failed)
{
    for (const struct ts_arp_frame *q = failed->frames; q; q = q->next) {
        ts_count(s, TS_C_ARP_DROP_UNRESOLVED);
        struct ipv4_hdr ip;
        if (q->len <= ETH_HDR_LEN ||
            ipv4_parse(q->data + ETH_HDR_LEN, q->len - ETH_HDR_LEN, &ip) != TS_C_OK ||
            ip.frag_off != 0 || ip.payload_len < 8)
            continue;
        struct ts_icmp_error err = {
            .type = ICMP_DEST_UNREACH,
            .code = ICMP_UNREACH_HOST,
            .src = ip.src,
            .dst = ip.dst,
            .proto = ip.proto,
            .l4 = ip.payload,
            .l4_len = ip.payload_len,
        };
        deliver_icmp_error(s, &err);
    }
}

ts_time_t ts_stack_poll(struct ts_stack *s, ts_time_t now)
{
    s->now = now;
    bool more = loopback_run(s);
    ts_time_t arp_next, reass_next;
    struct ts_arp_failure failed;
    while (ts_arp_poll(s, now, &arp_next, &failed)) {
        report_unresolved(s, &failed);
        ts_arp_frames_free(failed.frames);
    }
    struct ts_reass_expired expired;
    while (ts_reass_poll(s, now, &reass_next, &expired)) {
        /* RFC 792, RFC 1122 3.3.2: "fragment reassembly time exceeded", but only when fragment
         * zero came, since only it holds the transport header the sender needs to see. */
        if (expired.has_first)
            ts_icmp_send_error(s, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0, &expired.first);
    }
    ts_time_t tcp_next = ts_tcp_poll(s, now);
    /* What the timers sent to ourselves is fed back in by the next call, at once. */
    if (more || s->loop_head)
        return now;
    return ts_time_min(arp_next, ts_time_min(reass_next, tcp_next));
}

ts_time_t ts_stack_step(struct ts_stack *s, ts_time_t now)
{
    bool more = false;
    ts_tcp_batch_begin(s);
    for (int i = 0;; i++) {
        if (i == STEP_MAX_FRAMES) {
            more = true;
            break;
        }
        struct ts_frame_meta meta;
        int n = ts_driver_recv_meta(s->drv, s->rx, sizeof s->rx, &meta, now);
        if (n > 0) {
            ts_stack_input_meta(s, s->rx, (size_t)n, &meta, now);
            continue;
        }
        if (n == -EMSGSIZE) {
            /* the driver dropped a frame too large for any datagram we accept */
            ts_count(s, TS_C_ETH_DROP_OVERSIZE);
            continue;
        }
        break; /* 0: nothing waiting; other errors: the driver will tell again next time */
    }
    ts_tcp_batch_end(s);
    ts_time_t next = ts_stack_poll(s, now);
    next = ts_time_min(next, ts_driver_next_deadline(s->drv, now));
    return more ? now : next;
}

/* ---------------------------------------------------------------- counters */

size_t ts_stack_counters_format(const struct ts_stack *s, char *buf, size_t cap, bool all)
{
    size_t need = 0;
    if (cap > 0)
        buf[0] = '\0';
    for (int c = TS_C_OK + 1; c < TS_C_COUNT; c++) {
        if (!all && s->counters[c] == 0)
            continue;
        int n = snprintf(need < cap ? buf + need : NULL, need < cap ? cap - need : 0,
                         "%-30s %12llu  # %s\n", ts_counter_name((enum ts_counter)c),
                         (unsigned long long)s->counters[c], ts_counter_desc((enum ts_counter)c));
        if (n > 0)
            need += (size_t)n;
    }
    return need;
}
