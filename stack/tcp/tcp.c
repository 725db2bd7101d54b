/* TCP: the connection table, lookup, initial sequence numbers, the one door through which every
 * state change passes, and the birth of a connection: one path, whether it comes from connect(),
 * a SYN or a SYN cookie. The user calls (RFC 9293 3.10.1-3.10.6) are in tcp_user.c.
 *
 * Choices made in the engine (each also stated where it is implemented):
 *  - RTO: 1 s initial, 200 ms floor (Linux; RFC 6298 says 1 s), 120 s ceiling, doubling; SYN
 *    given up after 6 retransmissions, SYN-ACK after 5, data after 15 (Linux's defaults).
 *  - Delayed ACK 40 ms (Linux), an ACK once more than one full segment is unacknowledged.
 *  - RST in TIME_WAIT is ignored (RFC 1337), unlike Linux.
 *  - A SYN for a TIME_WAIT 4-tuple reopens it when its timestamp (or, without timestamps, its
 *    sequence number) is newer (RFC 6191); the new ISS lies above the old incarnation's.
 *  - Listener: at most 256 half-open children, then SYN cookies (RFC 4987) when configured;
 *    a full accept queue drops SYNs and third ACKs (as Linux). Children not yet accepted are
 *    reset when the listener closes.
 *  - A full connection table ends the oldest TIME_WAIT early rather than refuse a connection.
 *  - Congestion control: RFC 5681 + NewReno (RFC 6582), SACK recovery (RFC 6675), limited
 *    transmit (RFC 3042), early retransmit (RFC 5827), tail loss probes (RFC 8985 7).
 *  - Data on a SYN or SYN-ACK is not queued (the peer sends it again); urgent data is delivered
 *    inline and the urgent pointer ignored (RFC 6093).
 *  - Once timestamps are negotiated, a segment without one is still accepted (RFC 7323 3.2 says
 *    SHOULD drop; Linux accepts, and a middlebox that strips options would otherwise stall us).
 *  - A child connection starts as a copy of its listener's LISTEN state, so the door's first
 *    trace of it reads LISTEN -> SYN_RECV (creation is not a state change). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "tcp_internal.h"

/* The 4-tuple as the bytes the keyed hashes (table, ISN) take. */
#define TCP_TUPLE_KEY_LEN (2 * sizeof(uint32_t) + 2 * sizeof(uint16_t))

/* ---- table ---- */

struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s)
{
    struct ts_tcp_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    /* RFC 6056: start the ephemeral search at a secret-dependent place. (The range is sound:
     * ts_stack_new refuses a configuration without one.) */
    uint16_t lo = s->cfg.ephemeral_lo, hi = s->cfg.ephemeral_hi;
    uint64_t h = ts_siphash24(s->cfg.secret, "ephemeral", 9);
    t->next_ephemeral = (uint16_t)(lo + h % ((uint32_t)hi - lo + 1));
    return t;
}

static void tcp_conn_release(struct ts_tcp_conn *c)
{
    ts_ring_free(&c->sndbuf);
    ts_ring_free(&c->rcvbuf);
    free(c);
}

void ts_tcp_table_free(struct ts_tcp_table *t)
{
    if (!t)
        return;
    struct ts_tcp_conn *c = t->all;
    while (c) {
        struct ts_tcp_conn *n = c->next;
        tcp_conn_release(c);
        c = n;
    }
    free(t);
}

static void tcp_tuple_key(uint8_t k[TCP_TUPLE_KEY_LEN], uint32_t laddr, uint16_t lport,
                          uint32_t raddr, uint16_t rport)
{
    memcpy(k, &laddr, 4);
    memcpy(k + 4, &raddr, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
}

static uint32_t tcp_tuple_hash(const struct ts_stack *s, uint32_t laddr, uint16_t lport,
                               uint32_t raddr, uint16_t rport)
{
    uint8_t k[TCP_TUPLE_KEY_LEN];
    tcp_tuple_key(k, laddr, lport, raddr, rport);
    return (uint32_t)ts_siphash24(s->cfg.secret, k, sizeof(k)) & ((1u << TCP_HASH_BITS) - 1);
}

struct ts_tcp_conn *tcp_lookup(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                               uint16_t rport)
{
    struct ts_tcp_conn *c = s->tcp->hash[tcp_tuple_hash(s, laddr, lport, raddr, rport)];
    for (; c; c = c->hnext)
        if (c->laddr == laddr && c->lport == lport && c->raddr == raddr && c->rport == rport)
            return c;
    return NULL;
}

struct ts_tcp_conn *tcp_lookup_listener(struct ts_stack *s, uint32_t laddr, uint16_t lport)
{
    struct ts_tcp_conn *c = tcp_lookup(s, laddr, lport, 0, 0);
    if (!c && laddr != 0)
        c = tcp_lookup(s, 0, lport, 0, 0);
    return (c && c->state == TS_TCP_LISTEN) ? c : NULL;
}

void tcp_hash_insert(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->hashed)
        return;
    uint32_t h = tcp_tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport);
    c->hnext = s->tcp->hash[h];
    s->tcp->hash[h] = c;
    c->hashed = true;
}

static void tcp_hash_remove(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!c->hashed)
        return;
    struct ts_tcp_conn **pp =
        &s->tcp->hash[tcp_tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    c->hashed = false;
    c->hnext = NULL;
}

void tcp_opts_sanitize(struct ts_tcp_opts *o)
{
    if (o->rcvbuf < 2048)
        o->rcvbuf = 2048;
    if (o->sndbuf < 2048)
        o->sndbuf = 2048;
    if (o->rcvbuf > (1u << 30))
        o->rcvbuf = 1u << 30;
    if (o->sndbuf > (1u << 30))
        o->sndbuf = 1u << 30;
    if (o->keepidle == 0)
        o->keepidle = TS_SEC;
    if (o->keepintvl == 0)
        o->keepintvl = TS_SEC;
    if (o->keepcnt == 0)
        o->keepcnt = 1;
}

/* ---- connection blocks ---- */

void tcp_conn_init(struct ts_stack *s, struct ts_tcp_conn *c, const struct ts_tcp_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->state = TS_TCP_CLOSE;
    c->state_since = s->now;
    if (o)
        c->opts = *o;
    else
        ts_tcp_opts_default(s, &c->opts);
    tcp_opts_sanitize(&c->opts);
    /* RFC 7323 2.2: our shift. Linux offers 7; more only if the buffer needs it. */
    c->rcv.wscale = 7;
    while (c->rcv.wscale < TCP_WSCALE_MAX && (c->opts.rcvbuf >> c->rcv.wscale) > TCP_WND_MAX)
        c->rcv.wscale++;
    c->rcv.wscale_max = c->rcv.wscale;
    c->timers.rexmt = c->timers.persist = c->timers.delack = TS_TIME_NEVER;
    c->timers.keep = c->timers.wait = c->timers.tlp = TS_TIME_NEVER;
    c->rtt.rto = TCP_RTO_INIT;
    c->peer_mss = TCP_DEFAULT_MSS;
    c->adv_mss = TCP_DEFAULT_MSS;
    c->pmtu = TCP_DEFAULT_PMTU;
    c->mss = TCP_DEFAULT_MSS;
    c->cc.ops = s->cfg.tcp_cubic ? &tcp_cc_cubic : &tcp_cc_newreno;
}

/* The table is full: give up the TIME_WAIT block closest to its end rather than refuse a live
 * connection (as Linux does past tcp_max_tw_buckets). False when there is none. */
static bool tcp_recycle_time_wait(struct ts_stack *s)
{
    struct ts_tcp_conn *victim = NULL;
    for (struct ts_tcp_conn *o = s->tcp->all; o; o = o->next)
        if (o->state == TS_TCP_TIME_WAIT && o->orphan &&
            (!victim || o->timers.wait < victim->timers.wait))
            victim = o;
    if (!victim)
        return false;
    ts_count(s, TS_C_TCP_TIME_WAIT_RECYCLED);
    ts_tcp_set_state(s, victim, TS_TCP_CLOSE, "TIME_WAIT recycled: connection table full");
    tcp_conn_free(s, victim);
    return true;
}

struct ts_tcp_conn *tcp_conn_new(struct ts_stack *s, const struct ts_tcp_opts *o)
{
    struct ts_tcp_table *t = s->tcp;
    uint32_t maxc = s->cfg.tcp_max_conns ? s->cfg.tcp_max_conns : 4096;
    if (t->count >= maxc && !tcp_recycle_time_wait(s))
        return NULL;
    struct ts_tcp_conn *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    tcp_conn_init(s, c, o);
    c->id = ++t->next_id;
    c->next = t->all;
    if (t->all)
        t->all->prev = c;
    t->all = c;
    t->count++;
    return c;
}

void tcp_set_endpoints(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t laddr, uint16_t lport,
                       uint32_t raddr, uint16_t rport)
{
    c->laddr = laddr;
    c->lport = lport;
    c->raddr = raddr;
    c->rport = rport;
    c->pmtu = ts_ip_mtu(s, raddr);
    c->adv_mss = (uint16_t)(c->pmtu - TCP_IP_HDR_LEN); /* RFC 6691 */
}

struct ts_tcp_conn *tcp_child_new(struct ts_stack *s, struct ts_tcp_conn *l,
                                  const struct ipv4_hdr *ip, const struct tcp_hdr *seg)
{
    struct ts_tcp_conn *c = tcp_conn_new(s, &l->opts);
    if (!c)
        return NULL;
    tcp_set_endpoints(s, c, ip->dst, seg->dport, ip->src, seg->sport);
    c->parent = l;
    c->orphan = true;         /* the listener's until accept() */
    l->listener.synq_len++;   /* tcp_child_established moves it to the accept queue */
    c->state = TS_TCP_LISTEN; /* born a copy of its listener: the door's first trace reads
                                 LISTEN -> ... */
    return c;
}

void tcp_child_unlink(struct ts_tcp_conn *c)
{
    struct ts_tcp_conn *l = c->parent;
    if (!l)
        return;
    if (c->in_acceptq) {
        struct ts_tcp_conn **pp = &l->listener.aq_head, *prev = NULL;
        for (; *pp; prev = *pp, pp = &(*pp)->aq_next)
            if (*pp == c) {
                *pp = c->aq_next;
                if (l->listener.aq_tail == c)
                    l->listener.aq_tail = prev;
                break;
            }
        l->listener.acceptq_len--;
        c->in_acceptq = false;
    } else {
        l->listener.synq_len--;
    }
    c->aq_next = NULL;
    c->parent = NULL;
}

void tcp_conn_free(struct ts_stack *s, struct ts_tcp_conn *c)
{
    struct ts_tcp_table *t = s->tcp;
    if (c->ack_queued) {
        struct ts_tcp_conn **pp = &t->batch_acks;
        while (*pp != c)
            pp = &(*pp)->batch_next;
        *pp = c->batch_next;
    }
    tcp_hash_remove(s, c);
    tcp_child_unlink(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->count--;
    tcp_conn_release(c);
}

bool tcp_conn_reap(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->state == TS_TCP_CLOSE && c->orphan) {
        tcp_conn_free(s, c);
        return true;
    }
    return false;
}

uint32_t tcp_isn(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 ts_time_t now)
{
    /* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 us
     * timer, F a keyed pseudo-random function (SipHash-2-4 here). */
    uint8_t k[TCP_TUPLE_KEY_LEN];
    tcp_tuple_key(k, laddr, lport, raddr, rport);
    return (uint32_t)(now / 4) + (uint32_t)ts_siphash24(s->cfg.secret, k, sizeof(k));
}

int tcp_bufs_alloc(struct ts_tcp_conn *c)
{
    if (!c->sndbuf.buf && ts_ring_init(&c->sndbuf, c->opts.sndbuf) < 0)
        return -ENOMEM;
    /* The ring has 2^wscale bytes more than we advertise: a scaled window field rounded up (so
     * the right edge never moves left, RFC 7323 2.4) must still fit. */
    if (!c->rcvbuf.buf && ts_ring_init(&c->rcvbuf, c->opts.rcvbuf + tcp_rcv_slack(c)) < 0)
        return -ENOMEM;
    return 0;
}

void tcp_notify(struct ts_tcp_conn *c, unsigned events)
{
    if (c->cb && events)
        c->cb(c->user, c, events);
}

uint32_t tcp_path_mss(const struct ts_tcp_conn *c)
{
    uint32_t m = c->peer_mss;
    if (c->pmtu > TCP_IP_HDR_LEN && (uint32_t)(c->pmtu - TCP_IP_HDR_LEN) < m)
        m = c->pmtu - TCP_IP_HDR_LEN;
    return m;
}

void tcp_update_mss(struct ts_tcp_conn *c)
{
    /* RFC 6691: the MSS counts no options; data segments carry timestamps when they were
     * negotiated, so that much less data fits. */
    uint32_t m = tcp_path_mss(c);
    if (c->ts_ok)
        m = m > TCP_OPT_TS_SPACE ? m - TCP_OPT_TS_SPACE : 1;
    if (m < 16)
        m = 16;
    c->mss = (uint16_t)m;
}

/* ---- the state door ---- */

void ts_tcp_set_state(struct ts_stack *s, struct ts_tcp_conn *c, enum ts_tcp_state to,
                      const char *cause)
{
    enum ts_tcp_state from = c->state;
    if (from == to)
        return;
    c->state = to;
    ts_time_t in_from = s->now - c->state_since;
    c->state_since = s->now;
    struct ts_trace_event ev = {
        .time = s->now,
        .laddr = c->laddr,
        .raddr = c->raddr,
        .lport = c->lport,
        .rport = c->rport,
        .from = from,
        .to = to,
        .cause = cause,
        .conn_id = c->id,
        .in_from = in_from,
    };
    ts_stack_trace(s, &ev);
    if (to == TS_TCP_CLOSE) {
        /* A closed connection no longer owns its 4-tuple: later segments meet "no socket". */
        tcp_hash_remove(s, c);
        tcp_timer_stop_all(c);
    }
    if (to == TS_TCP_TIME_WAIT)
        tcp_timer_time_wait(c, s->now);
    tcp_notify(c, TS_TCP_EV_STATE);
}

bool tcp_synchronized(enum ts_tcp_state st)
{
    switch (st) {
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
    case TS_TCP_CLOSE_WAIT:
    case TS_TCP_CLOSING:
    case TS_TCP_LAST_ACK:
    case TS_TCP_TIME_WAIT:
        return true;
    default:
        return false;
    }
}

void tcp_enter_closed(struct ts_stack *s, struct ts_tcp_conn *c, int err, const char *cause)
{
    if (err)
        c->err = err;
    tcp_timer_stop_all(c);
    ts_tcp_set_state(s, c, TS_TCP_CLOSE, cause);
    tcp_notify(c, (err ? TS_TCP_EV_ERROR : 0) | TS_TCP_EV_READABLE | TS_TCP_EV_WRITABLE);
}

void tcp_drop(struct ts_stack *s, struct ts_tcp_conn *c, int err, const char *cause)
{
    switch (c->state) {
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
    case TS_TCP_CLOSE_WAIT:
        tcp_send_rst_conn(s, c); /* RFC 9293 3.10.5 */
        break;
    default:
        break; /* SYN-SENT: nothing to reset; CLOSING, LAST-ACK, TIME-WAIT: no RST either */
    }
    tcp_enter_closed(s, c, err, cause);
}

/* ---- birth: one path for connect(), a SYN and a SYN cookie ---- */

void tcp_init_snd(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t iss)
{
    c->snd.iss = iss;
    c->snd.una = c->snd.nxt = c->snd.max = iss;
    c->snd.buf_seq = iss + 1; /* the SYN takes one sequence number, data the ones after it */
    c->ts_offset = tcp_isn(s, c->raddr, c->rport, c->laddr, c->lport, 0); /* RFC 7323 5.4 */
    c->last_rx = s->now;
}

/* What a SYN or SYN-ACK offered, as far as the configuration lets us take it. */
static void tcp_syn_options(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *syn)
{
    const struct ts_config *cfg = &s->cfg;
    uint32_t mss = TCP_DEFAULT_MSS; /* RFC 9293 3.7.1: 536 when the option is absent */
    if (syn->opts.mss_ok) {
        mss = syn->opts.mss;
        if (mss < 48)
            mss = 48; /* as Linux's tcp_min_snd_mss: a tiny MSS only makes us slow */
    }
    c->peer_mss = (uint16_t)mss;
    c->ws_ok = syn->opts.ws_ok && cfg->tcp_window_scaling;
    if (c->ws_ok) {
        /* RFC 7323 2.3: a shift above 14 is used as 14. */
        c->snd.wscale = syn->opts.ws > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : syn->opts.ws;
    } else {
        c->snd.wscale = 0;
        c->rcv.wscale = 0;
    }
    c->ts_ok = syn->opts.ts_ok && cfg->tcp_timestamps;
    if (c->ts_ok) {
        c->ts_recent = syn->opts.tsval;
        c->ts_recent_age = s->now;
    }
    c->sack_ok = syn->opts.sack_perm && cfg->tcp_sack;
    tcp_update_mss(c);
}

void tcp_init_rcv(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *syn)
{
    c->rcv.irs = syn->seq;
    c->rcv.nxt = syn->seq + 1;
    tcp_syn_options(s, c, syn);
    c->rcv.adv = c->rcv.adv_seen = c->rcv.nxt + tcp_syn_window(c);
    c->snd.wnd = syn->wnd; /* RFC 7323 2.2: the window of a SYN is never scaled */
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = syn->seq;
    c->snd.wl2 = c->snd.una;
}

/* A listener's child is established: move it to the accept queue. */
static void tcp_child_established(struct ts_stack *s, struct ts_tcp_conn *c)
{
    struct ts_tcp_conn *l = c->parent;
    ts_count(s, TS_C_TCP_PASSIVE_OPEN);
    if (!l)
        return;
    l->listener.synq_len--;
    c->in_acceptq = true;
    c->aq_next = NULL;
    if (l->listener.aq_tail)
        l->listener.aq_tail->aq_next = c;
    else
        l->listener.aq_head = c;
    l->listener.aq_tail = c;
    l->listener.acceptq_len++;
    tcp_notify(l, TS_TCP_EV_ACCEPT | TS_TCP_EV_READABLE);
}

void tcp_established(struct ts_stack *s, struct ts_tcp_conn *c, const char *cause)
{
    tcp_cc_init(c);
    ts_tcp_set_state(s, c, TS_TCP_ESTABLISHED, cause);
    /* After the door: keep-alive runs only in a synchronized state (RFC 1122 4.2.3.6), so a
     * connection born with it on (a listener's option, or set before connect) starts it here. */
    tcp_keepalive_reset(c, s->now);
    if (c->parent)
        tcp_child_established(s, c);
    else
        tcp_notify(c, TS_TCP_EV_CONNECTED | TS_TCP_EV_WRITABLE);
    if (c->snd.fin_queued && c->state == TS_TCP_ESTABLISHED)
        ts_tcp_set_state(s, c, TS_TCP_FIN_WAIT1, "app close");
}
