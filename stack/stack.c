/* The conductor: one stack instance, the Ethernet layer, the run-loop entry points, counters,
 * and the trace of TCP state changes.
 *
 * Inbound: ts_stack_input parses the Ethernet header, filters by MAC and hands the frame to ARP
 * or IPv4; IPv4 hands every complete datagram back here (ts_stack_deliver) and this file picks
 * the protocol module. Outbound: protocol modules reach the driver only through ts_link_send. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire/icmp.h"

/* ts_stack_step reads at most this many frames per call, so one busy link cannot starve the
 * timers; the loop comes back at once (the returned deadline is "now"). */
#define STEP_MAX_FRAMES 4096

void ts_config_default(struct ts_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    memcpy(cfg->mac, mac, 6);
    cfg->ip = 0x0a000002u; /* 10.0.0.2 */
    cfg->prefix_len = 24;
    cfg->gateway = 0x0a000001u; /* 10.0.0.1 */
    cfg->mtu = 1500;
    cfg->tcp_rcvbuf = 256 * 1024;
    cfg->tcp_sndbuf = 256 * 1024;
    cfg->tcp_msl = 30 * TS_SEC;
    cfg->tcp_max_conns = 4096;
    cfg->tcp_timestamps = true;
    cfg->tcp_sack = true;
    cfg->tcp_window_scaling = true;
    cfg->tcp_syncookies = true;
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
    s->arp = ts_arp_new(s);
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

/* ---------------------------------------------------------------- link layer */

void ts_stack_input(struct ts_stack *s, const uint8_t *frame, size_t len, ts_time_t now)
{
    s->now = now;
    ts_count(s, TS_C_ETH_RX);
    struct eth_hdr eth;
    enum ts_counter why = eth_parse(frame, len, &eth);
    if (why != TS_C_OK) {
        ts_count(s, why);
        return;
    }
    if (eth.payload_len > s->cfg.mtu) {
        ts_count(s, TS_C_ETH_DROP_OVERSIZE);
        return;
    }
    /* We listen to our own address and broadcast only; we join no multicast group. */
    if (memcmp(eth.dst, s->cfg.mac, 6) != 0 && !eth_is_broadcast(eth.dst)) {
        ts_count(s, TS_C_ETH_DROP_NOT_FOR_US);
        return;
    }
    /* A group address is never a valid source (IEEE 802.3), and our own address coming back
     * means a loop or an impostor. */
    if (eth_is_multicast(eth.src) || memcmp(eth.src, s->cfg.mac, 6) == 0) {
        ts_count(s, TS_C_ETH_DROP_BAD_SRC);
        return;
    }
    s->rx_link_broadcast = eth_is_broadcast(eth.dst);
    switch (eth.type) {
    case ETH_TYPE_ARP:
        ts_arp_input(s, &eth);
        break;
    case ETH_TYPE_IPV4:
        ts_ipv4_input(s, eth.payload, eth.payload_len);
        break;
    default:
        ts_count(s, TS_C_ETH_DROP_UNKNOWN_TYPE);
        break;
    }
    s->rx_link_broadcast = false;
}

int ts_link_send(struct ts_stack *s, const uint8_t dst_mac[6], uint16_t type, uint8_t *frame,
                 size_t len)
{
    struct eth_hdr eth = {.type = type};
    memcpy(eth.dst, dst_mac, 6);
    memcpy(eth.src, s->cfg.mac, 6);
    if (eth_emit(&eth, frame, len) != ETH_HDR_LEN) {
        ts_count(s, TS_C_ETH_TX_ERROR);
        return -EINVAL;
    }
    int rc = ts_driver_send(s->drv, frame, len, s->now);
    if (rc < 0) {
        ts_count(s, TS_C_ETH_TX_ERROR);
        return rc;
    }
    ts_count(s, TS_C_ETH_TX);
    return 0;
}

/* ---------------------------------------------------------------- run loop */

ts_time_t ts_stack_poll(struct ts_stack *s, ts_time_t now)
{
    s->now = now;
    ts_time_t next = ts_arp_poll(s, now);
    next = ts_time_min(next, ts_reass_poll(s, now));
    next = ts_time_min(next, ts_tcp_poll(s, now));
    return next;
}

ts_time_t ts_stack_step(struct ts_stack *s, ts_time_t now)
{
    bool more = false;
    for (int i = 0;; i++) {
        if (i == STEP_MAX_FRAMES) {
            more = true;
            break;
        }
        int n = ts_driver_recv(s->drv, s->rx, sizeof s->rx, now);
        if (n > 0) {
            ts_stack_input(s, s->rx, (size_t)n, now);
            continue;
        }
        if (n == -EMSGSIZE) {
            /* the driver dropped a frame too large for any datagram we accept */
            ts_count(s, TS_C_ETH_DROP_OVERSIZE);
            continue;
        }
        break; /* 0: nothing waiting; other errors: the driver will tell again next time */
    }
    ts_time_t next = ts_stack_poll(s, now);
    next = ts_time_min(next, ts_driver_next_deadline(s->drv, now));
    return more ? now : next;
}

/* ---------------------------------------------------------------- dispatch */

void ts_stack_deliver(struct ts_stack *s, const struct ipv4_hdr *ip)
{
    switch (ip->proto) {
    case IP_PROTO_ICMP:
        ts_icmp_input(s, ip);
        break;
    case IP_PROTO_TCP:
        ts_tcp_input(s, ip);
        break;
    case IP_PROTO_UDP:
        ts_udp_input(s, ip);
        break;
    default:
        /* RFC 1122 3.2.2.1: a host SHOULD say "protocol unreachable" (icmp.c decides whether
         * this datagram may get an error at all). */
        ts_count(s, TS_C_IP_DROP_UNKNOWN_PROTO);
        ts_icmp_send_error(s, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, 0, ip);
        break;
    }
}

void ts_stack_deliver_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
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

/* ---------------------------------------------------------------- trace */

void ts_stack_set_trace(struct ts_stack *s, ts_trace_fn fn, void *arg)
{
    s->trace_fn = fn;
    s->trace_arg = arg;
}

void ts_stack_trace(struct ts_stack *s, const struct ts_trace_event *ev)
{
    if (s->trace_fn)
        s->trace_fn(s->trace_arg, ev);
}

size_t ts_trace_format(const struct ts_trace_event *ev, char *buf, size_t cap)
{
    char la[16], ra[16];
    int n = snprintf(buf, cap, "%llu.%06llu %s:%u > %s:%u %s -> %s (%s)",
                     (unsigned long long)(ev->time / TS_SEC),
                     (unsigned long long)(ev->time % TS_SEC), ts_ip_format(ev->laddr, la),
                     ev->lport, ts_ip_format(ev->raddr, ra), ev->rport, ts_tcp_state_name(ev->from),
                     ts_tcp_state_name(ev->to), ev->cause ? ev->cause : "?");
    return n < 0 ? 0 : (size_t)n;
}

/* ---------------------------------------------------------------- TCP state names */

struct state_text {
    const char *name, *rfc, *explain;
};

/* RFC 9293 3.3.2, in our own words. Indexed by the Linux number. */
static const struct state_text state_texts[] = {
    [TS_TCP_ESTABLISHED] = {"ESTABLISHED", "ESTABLISHED",
                            "Both sides have seen each other's SYN acknowledged: the connection "
                            "is open and data flows both ways."},
    [TS_TCP_SYN_SENT] = {"SYN_SENT", "SYN-SENT",
                         "We opened actively: our SYN is out and we wait for the peer's SYN-ACK "
                         "(or a plain SYN, for a simultaneous open)."},
    [TS_TCP_SYN_RECV] = {"SYN_RECV", "SYN-RECEIVED",
                         "A SYN arrived and we answered with our own SYN-ACK; we wait for the "
                         "ACK that completes the three-way handshake."},
    [TS_TCP_FIN_WAIT1] = {"FIN_WAIT1", "FIN-WAIT-1",
                          "Our application closed first: our FIN is sent but not yet "
                          "acknowledged; we may still receive data."},
    [TS_TCP_FIN_WAIT2] = {"FIN_WAIT2", "FIN-WAIT-2",
                          "Our FIN is acknowledged; our direction is finished and we wait for "
                          "the peer to close its own."},
    [TS_TCP_TIME_WAIT] = {"TIME_WAIT", "TIME-WAIT",
                          "Both FINs are exchanged and we closed first: we linger for 2*MSL so "
                          "a lost final ACK can be repeated and old duplicates die out."},
    [TS_TCP_CLOSE] = {"CLOSE", "CLOSED",
                      "No connection: the fictional state before a connection exists and after "
                      "it is gone."},
    [TS_TCP_CLOSE_WAIT] = {"CLOSE_WAIT", "CLOSE-WAIT",
                           "The peer closed its direction (its FIN arrived) and we wait for our "
                           "own application to close; we may still send."},
    [TS_TCP_LAST_ACK] = {"LAST_ACK", "LAST-ACK",
                         "The peer closed first and now we have too: we wait for the ACK of our "
                         "FIN, then the connection is gone."},
    [TS_TCP_LISTEN] = {"LISTEN", "LISTEN",
                       "A server waits for connection requests on a port. Only a passive open "
                       "reaches it; a connecting client never passes through LISTEN."},
    [TS_TCP_CLOSING] = {"CLOSING", "CLOSING",
                        "Both sides closed at the same time: we got the peer's FIN before the "
                        "ACK of ours, and wait for that ACK."},
};

static const struct state_text *state_text(enum ts_tcp_state st)
{
    if ((int)st < TS_TCP_ESTABLISHED || (int)st > TS_TCP_CLOSING)
        return NULL;
    return &state_texts[st];
}

const char *ts_tcp_state_name(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->name : "UNKNOWN";
}

const char *ts_tcp_state_rfc_name(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->rfc : "UNKNOWN";
}

const char *ts_tcp_state_explain(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->explain : "Not a TCP state.";
}
