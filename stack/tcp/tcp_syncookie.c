/* SYN cookies (RFC 4987 3.6): when a listener's half-open queue is full, the SYN-ACK's ISN
 * carries the connection's state instead of a block in memory.
 *
 * Layout of the 32-bit cookie (our ISN):  t:5 | mss index:2 | hash:25
 *   t     = the time in 64 s units, mod 32: a cookie is honoured for up to 2 units after it
 *   mss   = index into a small table of MSS values (the largest not above the peer's)
 *   hash  = SipHash-2-4(secret; 4-tuple, the peer's ISN, t), so a cookie cannot be forged
 * What a cookie cannot carry (window scale, SACK, timestamps) is simply not offered; a
 * connection made from a cookie works without them. */
#include <string.h>

#include "siphash.h"
#include "tcp_internal.h"

#define COOKIE_PERIOD       (64 * TS_SEC)
#define COOKIE_MAX_AGE      2
#define COOKIE_CHECK_WINDOW (COOKIE_PERIOD * (COOKIE_MAX_AGE + 1))

static const uint16_t tcp_cookie_mss[4] = {536, 1300, 1440, 1460};

static uint32_t tcp_cookie_hash(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                                uint16_t rport, uint32_t peer_isn, uint32_t t)
{
    uint8_t k[21];
    memcpy(k, &laddr, 4);
    memcpy(k + 4, &raddr, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
    memcpy(k + 12, &peer_isn, 4);
    memcpy(k + 16, &t, 4);
    k[20] = 'c';
    return (uint32_t)ts_siphash24(s->cfg.secret, k, sizeof(k)) & 0x1ffffffu;
}

static uint32_t tcp_cookie_t(ts_time_t now)
{
    return (uint32_t)(now / COOKIE_PERIOD) & 31;
}

/* The SYN as the cookie's ACK tells it: the peer's ISN and the options the cookie carried. */
static struct tcp_hdr tcp_cookie_syn(const struct tcp_hdr *ack, uint32_t idx)
{
    return (struct tcp_hdr){
        .sport = ack->sport,
        .dport = ack->dport,
        .seq = ack->seq - 1,
        .flags = TCP_SYN,
        .wnd = ack->wnd,
        .opts = {.mss_ok = true, .mss = tcp_cookie_mss[idx]},
    };
}

void tcp_syncookie_send(struct ts_stack *s, struct ts_tcp_conn *l, const struct ipv4_hdr *ip,
                        const struct tcp_hdr *seg)
{
    uint16_t peer = seg->opts.mss_ok ? seg->opts.mss : TCP_DEFAULT_MSS;
    uint32_t idx = 0;
    for (uint32_t i = 0; i < 4; i++)
        if (tcp_cookie_mss[i] <= peer)
            idx = i;
    uint32_t t = tcp_cookie_t(s->now);
    uint32_t cookie = t << 27 | idx << 25 |
                      tcp_cookie_hash(s, ip->dst, seg->dport, ip->src, seg->sport, seg->seq, t);
    /* The SYN-ACK is the one a child would send (tcp_syn_hdr), built from a block that lives only
     * for this call: the listener's options, the SYN's endpoints, the cookie as our ISS. */
    struct ts_tcp_conn tmp;
    tcp_conn_init(s, &tmp, &l->opts);
    tcp_set_endpoints(s, &tmp, ip->dst, seg->dport, ip->src, seg->sport);
    tcp_init_snd(s, &tmp, cookie);
    tcp_init_rcv(s, &tmp, seg);
    tmp.ws_ok = tmp.ts_ok = tmp.sack_ok = false; /* the cookie cannot carry them */
    struct tcp_hdr h = tcp_syn_hdr(s, &tmp, true);
    if (!tcp_xmit(s, ip->dst, ip->src, &h))
        return;
    ts_count(s, TS_C_TCP_SYN_COOKIE_SENT);
    l->listener.cookie_sent = true;
    l->listener.cookie_time = s->now;
}

struct ts_tcp_conn *tcp_syncookie_check(struct ts_stack *s, struct ts_tcp_conn *l,
                                        const struct ipv4_hdr *ip, const struct tcp_hdr *seg,
                                        bool *checked)
{
    *checked = false;
    if (!s->cfg.tcp_syncookies || !l->listener.cookie_sent ||
        s->now - l->listener.cookie_time > COOKIE_CHECK_WINDOW)
        return NULL;
    if ((seg->flags & (TCP_SYN | TCP_RST | TCP_ACK)) != TCP_ACK)
        return NULL;
    *checked = true;
    uint32_t cookie = seg->ack - 1, peer_isn = seg->seq - 1;
    uint32_t t = cookie >> 27, idx = (cookie >> 25) & 3;
    uint32_t age = (tcp_cookie_t(s->now) - t) & 31;
    if (age > COOKIE_MAX_AGE ||
        (cookie & 0x1ffffffu) !=
            tcp_cookie_hash(s, ip->dst, seg->dport, ip->src, seg->sport, peer_isn, t)) {
        ts_count(s, TS_C_TCP_DROP_SYN_COOKIE_BAD);
        return NULL;
    }
    if (l->listener.acceptq_len >= (unsigned)l->listener.backlog) {
        ts_count(s, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL);
        return NULL;
    }
    struct ts_tcp_conn *c = tcp_child_new(s, l, ip, seg);
    if (!c || tcp_bufs_alloc(c) < 0) {
        if (c)
            tcp_conn_free(s, c); /* also takes it out of the half-open count */
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY);
        return NULL;
    }
    /* Born as a SYN would make it: our SYN-ACK went out (without state), this ACK answers it. */
    tcp_init_snd(s, c, cookie);
    c->snd.una = c->snd.nxt = c->snd.max = cookie + 1;
    struct tcp_hdr syn = tcp_cookie_syn(seg, idx);
    tcp_init_rcv(s, c, &syn);
    c->rcv.last_ack_sent = c->rcv.nxt;
    tcp_hash_insert(s, c);
    ts_count(s, TS_C_TCP_SYN_COOKIE_OK);
    tcp_established(s, c, "rcvd ACK with a valid SYN cookie");
    return c;
}
