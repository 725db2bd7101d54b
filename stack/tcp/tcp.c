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
 *  - Listener: at most 256 half-open children, then SYN cookies (RFC 4987) when configured.
 *    A full accept queue does not cost a SYN (Linux drops it, and its client waits a second
 *    before it tries again): the SYN is answered, the handshake's final ACK is dropped while the
 *    queue is full, and when accept() makes room the oldest such child sends its SYN-ACK again,
 *    which its client answers at once. Children not yet accepted are reset when the listener
 *    closes.
 *  - A connection whose owner let go waits out TIME_WAIT as a compact record (tcp_timewait.c),
 *    at most tcp_max_tw of them; at that bound the oldest one ends early (as Linux refuses new
 *    ones past tcp_max_tw_buckets).
 *  - Timers: each block is in a timer wheel (tcp_timer.c) at its earliest deadline, put there by
 *    tcp_conn_done at the end of every entry point.
 *  - Congestion control: RFC 5681 + NewReno (RFC 6582), SACK recovery (RFC 6675), limited
 *    transmit (RFC 3042), early retransmit (RFC 5827), tail loss probes (RFC 8985 7).
 *  - Data on a SYN is held (within the window) and delivered once the handshake completes, data
 *    on a SYN-ACK is taken at once (RFC 9293 3.10.7.2/3.10.7.3; Linux drops both without Fast
 *    Open, and the peer sends them again); not after a SYN cookie. Urgent data is delivered
 *    inline and the urgent pointer ignored (RFC 6093).
 *  - Once timestamps are negotiated, a segment without one is still accepted (RFC 7323 3.2 says
 *    SHOULD drop; Linux accepts, and a middlebox that strips options would otherwise stall us).
 *  - A child connection starts as a copy of its listener's LISTEN state, so the door's first
 *    trace of it reads LISTEN -> SYN_RECV (creation is not a state change). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "tcp_internal.h"

/* The 4-tuple as the bytes the keyed hashes (table, ISN) take. */
#define TCP_TUPLE_KEY_LEN (2 * sizeof(uint32_t) + 2 * sizeof(uint16_t))

/* ---- table ---- */

static int tcp_htab_init(struct tcp_htab *t, unsigned bits)
{
    t->b = calloc((size_t)1 << bits, sizeof(*t->b));
    t->mask = (1u << bits) - 1;
    t->n = 0;
    return t->b ? 0 : -1;
}

struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s)
{
    struct ts_tcp_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (tcp_htab_init(&t->hash, TCP_HASH_BITS) < 0 || tcp_htab_init(&t->tw_hash, 10) < 0) {
        free(t->hash.b);
        free(t);
        return NULL;
    }
    tcp_wheel_init(&t->wheel, s->now);
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
    tcp_txq_free(c);
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
    tcp_tw_free_all(t);
    ts_ring_pool_free(&t->ring_pool);
    free(t->hash.b);
    free(t->tw_hash.b);
    free(t);
}

/* Twice as many buckets: chains stay short however many connections there are. When there is no
 * memory for it the table keeps working with longer chains. */
static void tcp_htab_grow(struct tcp_htab *t)
{
    uint32_t nmask = t->mask * 2 + 1;
    struct tcp_hnode **nb = calloc((size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return;
    for (uint32_t i = 0; i <= t->mask; i++) {
        struct tcp_hnode *n = t->b[i];
        while (n) {
            struct tcp_hnode *next = n->next;
            n->next = nb[n->hash & nmask];
            nb[n->hash & nmask] = n;
            n = next;
        }
    }
    free(t->b);
    t->b = nb;
    t->mask = nmask;
}

void tcp_htab_insert(struct tcp_htab *t, struct tcp_hnode *n, uint32_t hash)
{
    if (t->n >= (size_t)t->mask + 1 && t->mask < 0x7fffffffu)
        tcp_htab_grow(t);
    n->hash = hash;
    n->next = t->b[hash & t->mask];
    t->b[hash & t->mask] = n;
    t->n++;
}

void tcp_htab_remove(struct tcp_htab *t, struct tcp_hnode *n)
{
    for (struct tcp_hnode **pp = &t->b[n->hash & t->mask]; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            n->next = NULL;
            t->n--;
            return;
        }
}

static void tcp_tuple_key(uint8_t k[TCP_TUPLE_KEY_LEN], uint32_t laddr, uint16_t lport,
                          uint32_t raddr, uint16_t rport)
{
    memcpy(k, &laddr, 4);
    memcpy(k + 4, &raddr, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
}

uint32_t tcp_tuple_hash(const struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport)
{
    uint8_t k[TCP_TUPLE_KEY_LEN];
    tcp_tuple_key(k, laddr, lport, raddr, rport);
    return (uint32_t)ts_siphash24(s->cfg.secret, k, sizeof(k));
}

#define TCP_CONN_OF_HNODE(n)                                                                       \
    ((struct ts_tcp_conn *)(void *)((char *)(n)-offsetof(struct ts_tcp_conn, hnode)))

struct ts_tcp_conn *tcp_lookup_h(struct ts_stack *s, uint32_t h, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport)
{
    const struct tcp_htab *t = &s->tcp->hash;
    for (struct tcp_hnode *n = t->b[h & t->mask]; n; n = n->next) {
        struct ts_tcp_conn *c = TCP_CONN_OF_HNODE(n);
        if (n->hash == h && c->laddr == laddr && c->lport == lport && c->raddr == raddr &&
            c->rport == rport)
            return c;
    }
    return NULL;
}

struct ts_tcp_conn *tcp_lookup(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                               uint16_t rport)
{
    return tcp_lookup_h(s, tcp_tuple_hash(s, laddr, lport, raddr, rport), laddr, lport, raddr,
                        rport);
}

struct ts_tcp_conn *tcp_lookup_listener(struct ts_stack *s, uint32_t laddr, uint16_t lport)
{
    struct ts_tcp_conn *c = tcp_lookup(s, laddr, lport, 0, 0);
    if (!c && laddr != 0)
        c = tcp_lookup(s, 0, lport, 0, 0);
    return (c && c->state == TS_TCP_LISTEN) ? c : NULL;
}

bool tcp_tuple_in_use(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport)
{
    uint32_t h = tcp_tuple_hash(s, laddr, lport, raddr, rport);
    return tcp_lookup_h(s, h, laddr, lport, raddr, rport) ||
           tcp_tw_lookup_h(s, h, laddr, lport, raddr, rport);
}

void tcp_hash_insert(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->hashed)
        return;
    tcp_htab_insert(&s->tcp->hash, &c->hnode,
                    tcp_tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport));
    c->hashed = true;
}

static void tcp_hash_remove(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!c->hashed)
        return;
    tcp_htab_remove(&s->tcp->hash, &c->hnode);
    c->hashed = false;
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
    if (!c->opts.cc_set)
        c->opts.cc = s->cfg.tcp_cc; /* (what TCP_CONGESTION reads back) */
    /* RFC 7323 2.2: our shift. Linux offers 7; more only if the buffer needs it. */
    c->rcv.wscale = 7;
    while (c->rcv.wscale < TCP_WSCALE_MAX && (c->opts.rcvbuf >> c->rcv.wscale) > TCP_WND_MAX)
        c->rcv.wscale++;
    c->rcv.wscale_max = c->rcv.wscale;
    c->timers.rexmt = c->timers.persist = c->timers.delack = TS_TIME_NEVER;
    c->timers.keep = c->timers.wait = c->timers.tlp = c->timers.reo = TS_TIME_NEVER;
    c->rtt.rto = TCP_RTO_INIT;
    c->peer_mss = TCP_DEFAULT_MSS;
    c->adv_mss = TCP_DEFAULT_MSS;
    c->pmtu = TCP_DEFAULT_PMTU;
    c->mss = TCP_DEFAULT_MSS;
    c->cc.ops = tcp_cc_ops_of(c->opts.cc_set ? c->opts.cc : s->cfg.tcp_cc);
}

void tcp_count_state(struct ts_stack *s, struct ts_tcp_conn *c, enum ts_tcp_state from,
                     enum ts_tcp_state to)
{
    if (!c->in_table)
        return;
    s->tcp->by_state[from]--;
    s->tcp->by_state[to]++;
}

struct ts_tcp_conn *tcp_conn_new(struct ts_stack *s, const struct ts_tcp_opts *o)
{
    struct ts_tcp_table *t = s->tcp;
    uint32_t maxc = s->cfg.tcp_max_conns ? s->cfg.tcp_max_conns : TCP_MAX_CONNS_DEFAULT;
    if (t->count >= maxc)
        return NULL; /* (TIME_WAIT records are bounded apart: tcp_max_tw) */
    struct ts_tcp_conn *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    tcp_conn_init(s, c, o);
    c->id = ++t->next_id;
    c->in_table = true;
    c->next = t->all;
    if (t->all)
        t->all->prev = c;
    t->all = c;
    t->count++;
    t->by_state[c->state]++;
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
    c->user_mss = c->opts.maxseg;
    if (c->user_mss && c->user_mss < c->adv_mss)
        c->adv_mss = c->user_mss; /* TCP_MAXSEG: announce no more */
}

struct ts_tcp_conn *tcp_child_new(struct ts_stack *s, struct ts_tcp_conn *l,
                                  const struct ipv4_hdr *ip, const struct tcp_hdr *seg)
{
    struct ts_tcp_conn *c = tcp_conn_new(s, &l->opts);
    if (!c)
        return NULL;
    tcp_set_endpoints(s, c, ip->dst, seg->dport, ip->src, seg->sport);
    c->parent = l;
    c->orphan = true;       /* the listener's until accept() */
    l->listener.synq_len++; /* tcp_child_established moves it to the accept queue */
    /* Born a copy of its listener: the door's first trace reads LISTEN -> ... */
    tcp_count_state(s, c, c->state, TS_TCP_LISTEN);
    c->state = TS_TCP_LISTEN;
    return c;
}

/* A listener's child list (the accept queue or the held list): append c, take c out. O(1). */
static void child_list_append(struct ts_tcp_conn **head, struct ts_tcp_conn **tail,
                              struct ts_tcp_conn *c)
{
    c->aq_next = NULL;
    c->aq_prev = *tail;
    if (*tail)
        (*tail)->aq_next = c;
    else
        *head = c;
    *tail = c;
}

static void child_list_remove(struct ts_tcp_conn **head, struct ts_tcp_conn **tail,
                              struct ts_tcp_conn *c)
{
    if (c->aq_prev)
        c->aq_prev->aq_next = c->aq_next;
    else
        *head = c->aq_next;
    if (c->aq_next)
        c->aq_next->aq_prev = c->aq_prev;
    else
        *tail = c->aq_prev;
    c->aq_next = c->aq_prev = NULL;
}

/* Take c out of its listener's list of children whose final ACK was held back. */
static void tcp_child_unhold(struct ts_tcp_conn *l, struct ts_tcp_conn *c)
{
    child_list_remove(&l->listener.held_head, &l->listener.held_tail, c);
    c->ack_held = false;
}

void tcp_child_hold(struct ts_tcp_conn *c)
{
    struct ts_tcp_conn *l = c->parent;
    if (!l || c->ack_held || c->in_acceptq)
        return;
    c->ack_held = true;
    child_list_append(&l->listener.held_head, &l->listener.held_tail, c);
}

void tcp_listener_resume(struct ts_stack *s, struct ts_tcp_conn *l)
{
    struct ts_tcp_conn *c = l->listener.held_head;
    if (!c || l->listener.acceptq_len >= (unsigned)l->listener.backlog)
        return;
    tcp_child_unhold(l, c);
    ts_count(s, TS_C_TCP_ACCEPT_QUEUE_RESUMED);
    tcp_send_syn(s, c); /* our SYN-ACK again: its client answers with the ACK we dropped */
    tcp_conn_done(s, c);
}

void tcp_child_unlink(struct ts_tcp_conn *c)
{
    struct ts_tcp_conn *l = c->parent;
    if (!l)
        return;
    if (c->ack_held)
        tcp_child_unhold(l, c);
    if (c->in_acceptq) {
        child_list_remove(&l->listener.aq_head, &l->listener.aq_tail, c);
        l->listener.acceptq_len--;
        c->in_acceptq = false;
    } else {
        l->listener.synq_len--;
    }
    c->aq_next = c->aq_prev = NULL;
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
    tcp_timer_cancel(s, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->count--;
    t->by_state[c->state]--;
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

bool tcp_conn_done(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (tcp_conn_reap(s, c))
        return false;
    if (c->state == TS_TCP_TIME_WAIT && c->orphan && !c->parent && tcp_tw_from_conn(s, c))
        return false;
    tcp_timer_sched(s, c);
    return true;
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
    /* The rings take memory only for the bytes they hold (ringbuf.h): an idle connection keeps
     * none, and what we advertise does not depend on it (tcp_rcv_space). */
    if (!c->sndbuf.cap && ts_ring_init(&c->sndbuf, c->opts.sndbuf) < 0)
        return -ENOMEM;
    /* The ring has 2^wscale bytes more than we advertise: a scaled window field rounded up (so
     * the right edge never moves left, RFC 7323 2.4) must still fit. */
    if (!c->rcvbuf.cap && ts_ring_init(&c->rcvbuf, c->opts.rcvbuf + tcp_rcv_slack(c)) < 0)
        return -ENOMEM;
    c->sndbuf.pool = c->rcvbuf.pool = &c->s->tcp->ring_pool;
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
    if (c->user_mss && c->user_mss < m)
        m = c->user_mss; /* TCP_MAXSEG bounds what we send too (as Linux's mss_clamp) */
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

void tcp_trace_state(struct ts_stack *s, uint64_t id, uint32_t laddr, uint16_t lport,
                     uint32_t raddr, uint16_t rport, enum ts_tcp_state from, enum ts_tcp_state to,
                     ts_time_t since, const char *cause)
{
    struct ts_trace_event ev = {
        .time = s->now,
        .laddr = laddr,
        .raddr = raddr,
        .lport = lport,
        .rport = rport,
        .from = from,
        .to = to,
        .cause = cause,
        .conn_id = id,
        .in_from = s->now - since,
    };
    ts_stack_trace(s, &ev);
}

void ts_tcp_set_state(struct ts_stack *s, struct ts_tcp_conn *c, enum ts_tcp_state to,
                      const char *cause)
{
    enum ts_tcp_state from = c->state;
    if (from == to)
        return;
    tcp_count_state(s, c, from, to);
    c->state = to;
    ts_time_t since = c->state_since;
    c->state_since = s->now;
    tcp_trace_state(s, c->id, c->laddr, c->lport, c->raddr, c->rport, from, to, since, cause);
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
    c->snd.una = c->snd.nxt = c->snd.max = c->snd.sml = iss;
    c->snd.buf_seq = iss + 1; /* the SYN takes one sequence number, data the ones after it */
    c->ts_offset = tcp_isn(s, c->raddr, c->rport, c->laddr, c->lport, 0); /* RFC 7323 5.4 */
    c->last_rx = s->now;
}

/* What a SYN or SYN-ACK offered, as far as the configuration lets us take it. */
static void tcp_syn_options(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *syn)
{
    const struct ts_config *cfg = &s->cfg;
    uint32_t mss = TCP_DEFAULT_MSS; /* RFC 9293 3.7.1: 536 when the option is absent */
    if (syn->opts.mss_ok && syn->opts.mss != 0) { /* MSS 0 means nothing: as absent (Linux) */
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
    if (c->ack_held)
        tcp_child_unhold(l, c); /* (aq_next links the accept queue from now on) */
    l->listener.synq_len--;
    c->in_acceptq = true;
    child_list_append(&l->listener.aq_head, &l->listener.aq_tail, c);
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
