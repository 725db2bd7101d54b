/* SYN cookies (RFC 4987 3.6): when a listener's half-open queue is full, the SYN-ACK's ISN
 * carries the connection's state instead of a block in memory.
 *
 * Layout of the 32-bit cookie (our ISN):  t:5 | mss index:2 | hash:25
 *   t     = the time in 64 s units, mod 32: a cookie is honoured for up to 2 units after it
 *   mss   = index into a small table of MSS values (the largest not above the peer's)
 *   hash  = SipHash-2-4(secret; 4-tuple, the peer's ISN, t), so a cookie cannot be forged
 * The other options ride, as Linux's do, in the low 5 bits of our SYN-ACK's timestamp, which the
 * peer echoes in the TSecr of every segment:  sack:1 | the peer's window shift:4 (15 = none).
 * So a connection from a cookie has window scaling, SACK and timestamps when the peer's SYN
 * offered timestamps; without them there is no room, and the SYN-ACK offers none of the three.
 * The bits are not under the hash: a peer that lies in them only misleads its own connection
 * (its SYN could have said the same), and the cookie itself must still be right. */
#include <string.h>

#include "siphash.h"
#include "tcp_internal.h"

#define COOKIE_PERIOD       (64 * TS_SEC)
#define COOKIE_MAX_AGE      2
#define COOKIE_CHECK_WINDOW (COOKIE_PERIOD * (COOKIE_MAX_AGE + 1))

/* In the TSval of the SYN-ACK. */
#define COOKIE_OPT_BITS 5
#define COOKIE_OPT_MASK ((1u << COOKIE_OPT_BITS) - 1)
#define COOKIE_WS_MASK  0x0fu
#define COOKIE_WS_NONE  0x0fu /* no window scaling (a real shift is at most 14) */
#define COOKIE_SACK     0x10u

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

/* Our SYN-ACK's TSval with the options of c in its low bits. Never later than the clock, so that
 * the connection's later TSvals do not go back (RFC 7323 5.4). */
static uint32_t tcp_cookie_tsval(uint32_t tsval, const struct ts_tcp_conn *c)
{
    uint32_t bits = (c->ws_ok ? c->snd.wscale : COOKIE_WS_NONE) | (c->sack_ok ? COOKIE_SACK : 0);
    uint32_t v = (tsval & ~COOKIE_OPT_MASK) | bits;
    if (seq_gt(v, tsval))
        v -= COOKIE_OPT_MASK + 1;
    return v;
}

/* The SYN as the cookie's ACK tells it: the peer's ISN, the MSS from the cookie, the other options
 * from the ACK's TSecr (an echo of our SYN-ACK's TSval). Its window stands in for the SYN's: the
 * ACK's own, set again (scaled) when the ACK is processed. */
static struct tcp_hdr tcp_cookie_syn(const struct tcp_hdr *ack, uint32_t idx)
{
    struct tcp_hdr syn = {
        .sport = ack->sport,
        .dport = ack->dport,
        .seq = ack->seq - 1,
        .flags = TCP_SYN,
        .wnd = ack->wnd,
        .opts = {.mss_ok = true, .mss = tcp_cookie_mss[idx]},
    };
    if (ack->opts.ts_ok) {
        uint32_t bits = ack->opts.tsecr & COOKIE_OPT_MASK;
        syn.opts.ts_ok = true;
        syn.opts.tsval = ack->opts.tsval;
        syn.opts.ws_ok = (bits & COOKIE_WS_MASK) != COOKIE_WS_NONE;
        syn.opts.ws = syn.opts.ws_ok ? (uint8_t)(bits & COOKIE_WS_MASK) : 0;
        syn.opts.sack_perm = (bits & COOKIE_SACK) != 0;
    }
    return syn;
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
    if (!tmp.ts_ok)
        tmp.ws_ok = tmp.sack_ok = false; /* no timestamp to carry them (as Linux) */
    struct tcp_hdr h = tcp_syn_hdr(s, &tmp, true);
    if (h.opts.ts_ok)
        h.opts.tsval = tcp_cookie_tsval(h.opts.tsval, &tmp);
    if (!tcp_xmit(s, ip->dst, ip->src, &h))
        return;
    ts_count(s, TS_C_TCP_SYN_COOKIE_SENT);
    l->listener.cookie_sent = true;
    l->listener.cookie_time = s->now;
}

struct ts_tcp_conn *tcp_syncookie_check(struct ts_stack *s, struct ts_tcp_conn *l,
                                        const struct ipv4_hdr *ip, const struct tcp_hdr *seg,
                                        enum tcp_cookie *res)
{
    *res = TCP_COOKIE_NOT_CHECKED;
    if (!s->cfg.tcp_syncookies || !l->listener.cookie_sent ||
        s->now - l->listener.cookie_time > COOKIE_CHECK_WINDOW)
        return NULL;
    if ((seg->flags & (TCP_SYN | TCP_RST | TCP_ACK)) != TCP_ACK)
        return NULL;
    *res = TCP_COOKIE_BAD;
    uint32_t cookie = seg->ack - 1, peer_isn = seg->seq - 1;
    uint32_t t = cookie >> 27, idx = (cookie >> 25) & 3;
    uint32_t age = (tcp_cookie_t(s->now) - t) & 31;
    if (age > COOKIE_MAX_AGE ||
        (cookie & 0x1ffffffu) !=
            tcp_cookie_hash(s, ip->dst, seg->dport, ip->src, seg->sport, peer_isn, t)) {
        ts_count(s, TS_C_TCP_DROP_SYN_COOKIE_BAD);
        return NULL;
    }
    *res = TCP_COOKIE_NO_ROOM;
    if (l->listener.acceptq_len >= (unsigned)l->listener.backlog) {
        /* As Linux: dropped, and the peer's next segment (it resends) carries the cookie again. */
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
    *res = TCP_COOKIE_OK;
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
