/* TCP timers: retransmission (RFC 6298), persist (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17), delayed
 * ACK (RFC 1122 4.2.3.2), keep-alive (RFC 1122 4.2.3.6), TIME_WAIT (2*MSL) and the FIN_WAIT_2
 * timeout of orphans. Each connection keeps absolute deadlines in c->timers, the one source of
 * truth; tcp_next_timer() is the one function that reads them all. A timer wheel holds each block
 * once, at that earliest deadline: ts_tcp_poll takes from it only the blocks that are due, so
 * neither a poll nor a segment costs more with 100 000 idle connections than with ten.
 * Compact TIME_WAIT records wait in a list of their own (tcp_timewait.c). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tcp_internal.h"

/* ---- the timer wheel ----
 * A hierarchical timing wheel (Varghese and Lauck, 1987): level l has 64 slots of 64^l ticks. A
 * node lies in level 0 when its deadline is less than 64 ticks away, else in the level whose
 * span covers the distance, and moves down ("cascades") when the clock reaches its slot. Adding
 * and removing a node are O(1), and a poll touches only due nodes and the slots they pass
 * through (each node cascades at most once per level). Nodes keep their exact deadline: a tick
 * only sorts them, and a node fires when the time passed to the poll reaches its deadline. */

#define W_BITS  TCP_WHEEL_BITS
#define W_SLOTS (1u << W_BITS)
#define W_MASK  (W_SLOTS - 1)
#define W_DUE   0xff /* the level of a node moved to a poll's list of due nodes */

#define TNODE_OF(l) ((struct tcp_tnode *)(void *)((char *)(l)-offsetof(struct tcp_tnode, link)))
#define CONN_OF_TNODE(n)                                                                           \
    ((struct ts_tcp_conn *)(void *)((char *)(n)-offsetof(struct ts_tcp_conn, tnode)))

static void tl_init(struct tcp_tlink *h)
{
    h->next = h->prev = h;
}

static bool tl_empty(const struct tcp_tlink *h)
{
    return h->next == h;
}

static void tl_add_tail(struct tcp_tlink *h, struct tcp_tlink *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}

static void tl_unlink(struct tcp_tlink *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

/* Move every node of list from to the empty list to. */
static void tl_splice(struct tcp_tlink *from, struct tcp_tlink *to)
{
    tl_init(to);
    if (tl_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    tl_init(from);
}

static uint64_t rotr64(uint64_t x, unsigned r)
{
    r &= 63;
    return r ? (x >> r) | (x << (64 - r)) : x;
}

void tcp_wheel_init(struct tcp_wheel *w, ts_time_t now)
{
    memset(w, 0, sizeof(*w));
    for (unsigned l = 0; l < TCP_WHEEL_LEVELS; l++)
        for (unsigned i = 0; i < W_SLOTS; i++)
            tl_init(&w->slot[l][i]);
    w->clk = now >> TCP_WHEEL_SHIFT;
    w->next = TS_TIME_NEVER;
    w->next_valid = true;
}

/* Put n in the slot its deadline belongs to, seen from the clock. */
static void wheel_place(struct tcp_wheel *w, struct tcp_tnode *n)
{
    uint64_t t = n->when >> TCP_WHEEL_SHIFT;
    unsigned level = 0;
    if (t <= w->clk) {
        t = w->clk; /* due already: the current slot */
    } else {
        uint64_t delta = t - w->clk;
        while (level < TCP_WHEEL_LEVELS - 1 && (delta >> (W_BITS * (level + 1))) != 0)
            level++;
        if ((delta >> (W_BITS * TCP_WHEEL_LEVELS)) != 0) /* beyond the top: wait at its end */
            t = w->clk + ((uint64_t)1 << (W_BITS * TCP_WHEEL_LEVELS)) - 1;
    }
    n->level = (uint8_t)level;
    n->slot = (uint8_t)((t >> (W_BITS * level)) & W_MASK);
    tl_add_tail(&w->slot[level][n->slot], &n->link);
    w->occupied[level] |= (uint64_t)1 << n->slot;
}

void tcp_wheel_add(struct tcp_wheel *w, struct tcp_tnode *n, ts_time_t when)
{
    n->when = when;
    n->seq = ++w->seq;
    wheel_place(w, n);
    w->count++;
    if (w->next_valid && when < w->next)
        w->next = when;
}

void tcp_wheel_del(struct tcp_wheel *w, struct tcp_tnode *n)
{
    if (!tcp_wheel_pending(n))
        return;
    if (n->level == W_DUE) {
        tl_unlink(&n->link); /* in a poll's due list, no longer counted */
        return;
    }
    struct tcp_tlink *h = &w->slot[n->level][n->slot];
    tl_unlink(&n->link);
    if (tl_empty(h))
        w->occupied[n->level] &= ~((uint64_t)1 << n->slot);
    w->count--;
    /* w->next stays: still a bound (if loose, a poll at that time finds nothing and finds the
     * next bound), and a segment that stops a timer then costs no search of the wheel. */
}

/* The first tick after the clock at which something happens: a level-0 slot holds nodes, or a
 * slot of a higher level that holds nodes is reached and cascades. UINT64_MAX: nothing. */
static uint64_t wheel_next_tick(const struct tcp_wheel *w)
{
    uint64_t best = UINT64_MAX;
    uint64_t occ = w->occupied[0] & ~((uint64_t)1 << (w->clk & W_MASK));
    if (occ) /* bit k of the rotation: the slot of tick clk + 1 + k */
        best = w->clk + 1 + (uint64_t)__builtin_ctzll(rotr64(occ, (unsigned)(w->clk + 1)));
    for (unsigned l = 1; l < TCP_WHEEL_LEVELS; l++) {
        if (!w->occupied[l])
            continue;
        uint64_t cur = w->clk >> (W_BITS * l);
        uint64_t k = (uint64_t)__builtin_ctzll(rotr64(w->occupied[l], (unsigned)(cur + 1)));
        uint64_t t = (cur + 1 + k) << (W_BITS * l);
        if (t < best)
            best = t;
    }
    return best;
}

/* The clock reached tick e: the higher-level slots that begin at e move down. */
static void wheel_cascade(struct tcp_wheel *w, uint64_t e)
{
    for (unsigned l = 1; l < TCP_WHEEL_LEVELS; l++) {
        if (e & (((uint64_t)1 << (W_BITS * l)) - 1))
            break;
        unsigned i = (unsigned)((e >> (W_BITS * l)) & W_MASK);
        struct tcp_tlink moving;
        tl_splice(&w->slot[l][i], &moving);
        w->occupied[l] &= ~((uint64_t)1 << i);
        while (!tl_empty(&moving)) {
            struct tcp_tnode *n = TNODE_OF(moving.next);
            tl_unlink(&n->link);
            wheel_place(w, n);
        }
    }
}

/* The slot of the current tick: nodes due at now go to due; a node that waited at the top of the
 * wheel for a later deadline is placed again. */
static void wheel_collect(struct tcp_wheel *w, ts_time_t now, struct tcp_tlink *due)
{
    unsigned i = (unsigned)(w->clk & W_MASK);
    struct tcp_tlink *h = &w->slot[0][i];
    for (struct tcp_tlink *l = h->next, *next; l != h; l = next) {
        next = l->next;
        struct tcp_tnode *n = TNODE_OF(l);
        if (n->when <= now) {
            tl_unlink(l);
            n->level = W_DUE;
            tl_add_tail(due, l);
            w->count--;
        } else if ((n->when >> TCP_WHEEL_SHIFT) != w->clk) {
            tl_unlink(l);
            wheel_place(w, n);
        }
    }
    if (tl_empty(h))
        w->occupied[0] &= ~((uint64_t)1 << i);
}

static bool tnode_before(const struct tcp_tnode *a, const struct tcp_tnode *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* Sort the list by deadline, then scheduling order (a merge sort on the next pointers). */
static void wheel_sort(struct tcp_tlink *list)
{
    if (tl_empty(list) || list->next->next == list)
        return;
    list->prev->next = NULL;
    struct tcp_tlink *head = list->next;
    for (size_t width = 1;; width *= 2) {
        struct tcp_tlink *p = head, *out = NULL, **tail = &out;
        size_t merges = 0;
        while (p) {
            merges++;
            struct tcp_tlink *q = p;
            size_t psize = 0, qsize = width;
            while (psize < width && q) {
                psize++;
                q = q->next;
            }
            while (psize > 0 || (qsize > 0 && q)) {
                struct tcp_tlink *e;
                if (psize == 0 || (qsize > 0 && q && tnode_before(TNODE_OF(q), TNODE_OF(p)))) {
                    e = q;
                    q = q->next;
                    qsize--;
                } else {
                    e = p;
                    p = p->next;
                    psize--;
                }
                *tail = e;
                tail = &e->next;
            }
            p = q;
        }
        *tail = NULL;
        head = out;
        if (merges <= 1)
            break;
    }
    struct tcp_tlink *prev = list;
    for (struct tcp_tlink *e = head; e; prev = e, e = e->next)
        e->prev = prev;
    prev->next = list;
    list->prev = prev;
    list->next = head;
}

void tcp_wheel_advance(struct tcp_wheel *w, ts_time_t now, struct tcp_tlink *due)
{
    uint64_t target = now >> TCP_WHEEL_SHIFT;
    tl_init(due);
    if (w->count == 0) {
        if (target > w->clk)
            w->clk = target;
        w->next = TS_TIME_NEVER; /* (a cancelled timer's deadline may have been kept) */
        w->next_valid = true;
        return;
    }
    if (target == w->clk && w->next_valid && w->next > now)
        return; /* the same tick, nothing due yet: nothing can move */
    for (;;) {
        wheel_collect(w, now, due);
        if (w->clk >= target)
            break;
        uint64_t e = wheel_next_tick(w);
        if (e > target) {
            w->clk = target; /* nothing on the way: jump */
            continue;
        }
        w->clk = e;
        wheel_cascade(w, e);
    }
    wheel_sort(due);
    /* The bound stays good while it lies ahead (nodes only left or moved down); one that was
     * reached may have been a cascade's or a due node's, so it is computed again. */
    if (w->next <= now)
        w->next_valid = false;
}

ts_time_t tcp_wheel_next(struct tcp_wheel *w)
{
    if (w->next_valid)
        return w->next;
    ts_time_t best = TS_TIME_NEVER;
    if (w->occupied[0]) {
        /* The first level-0 slot with nodes: its earliest deadline, exactly (a node that waits
         * there for a later deadline never makes it later than the next slot's start). */
        unsigned k = (unsigned)__builtin_ctzll(rotr64(w->occupied[0], (unsigned)w->clk));
        uint64_t tick = w->clk + k;
        best = (tick + 1) << TCP_WHEEL_SHIFT;
        struct tcp_tlink *h = &w->slot[0][tick & W_MASK];
        for (struct tcp_tlink *l = h->next; l != h; l = l->next)
            if (TNODE_OF(l)->when < best)
                best = TNODE_OF(l)->when;
    }
    for (unsigned l = 1; l < TCP_WHEEL_LEVELS; l++) {
        if (!w->occupied[l])
            continue;
        /* Further slots: when they cascade, a lower bound of their deadlines. */
        uint64_t cur = w->clk >> (W_BITS * l);
        uint64_t k = (uint64_t)__builtin_ctzll(rotr64(w->occupied[l], (unsigned)(cur + 1)));
        ts_time_t t = ((cur + 1 + k) << (W_BITS * l)) << TCP_WHEEL_SHIFT;
        if (t < best)
            best = t;
    }
    w->next = best;
    w->next_valid = true;
    return best;
}

void tcp_timer_sched(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!c->in_table)
        return;
    ts_time_t d = tcp_next_timer(c, NULL);
    struct tcp_tnode *n = &c->tnode;
    if (tcp_wheel_pending(n)) {
        if (n->when == d && n->level != W_DUE)
            return; /* the common case: no deadline moved */
        tcp_wheel_del(&s->tcp->wheel, n);
    }
    if (d != TS_TIME_NEVER)
        tcp_wheel_add(&s->tcp->wheel, n, d);
}

void tcp_timer_cancel(struct ts_stack *s, struct ts_tcp_conn *c)
{
    tcp_wheel_del(&s->tcp->wheel, &c->tnode);
}

size_t tcp_timer_audit(const struct ts_stack *s)
{
    size_t bad = 0;
    for (const struct ts_tcp_conn *c = s->tcp->all; c; c = c->next) {
        ts_time_t d = tcp_next_timer(c, NULL);
        bool pending = tcp_wheel_pending(&c->tnode) && c->tnode.level != W_DUE;
        if (pending ? c->tnode.when != d : d != TS_TIME_NEVER)
            bad++;
    }
    return bad;
}

void tcp_timer_rexmt_arm(struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.rexmt = now + c->rtt.rto;
    tcp_tlp_arm(c, now);
}
void tcp_timer_rexmt_stop(struct ts_tcp_conn *c)
{
    c->timers.rexmt = TS_TIME_NEVER;
    c->timers.tlp = TS_TIME_NEVER;
    c->timers.reo = TS_TIME_NEVER;
}

void tcp_timer_stop_all(struct ts_tcp_conn *c)
{
    c->timers.rexmt = c->timers.persist = c->timers.delack = c->timers.keep = c->timers.wait =
        c->timers.tlp = c->timers.reo = TS_TIME_NEVER;
}

void tcp_rtt_sample(struct ts_tcp_conn *c, ts_time_t r)
{
    /* RFC 6298 2.2 / 2.3, alpha 1/8, beta 1/4, K = 4. */
    if (!c->rtt.valid) {
        c->rtt.srtt = r;
        c->rtt.rttvar = r / 2;
        c->rtt.valid = true;
    } else {
        ts_time_t delta = c->rtt.srtt > r ? c->rtt.srtt - r : r - c->rtt.srtt;
        c->rtt.rttvar = (3 * c->rtt.rttvar + delta) / 4;
        c->rtt.srtt = (7 * c->rtt.srtt + r) / 8;
    }
    ts_time_t rto = c->rtt.srtt + (4 * c->rtt.rttvar > 1 ? 4 * c->rtt.rttvar : 1);
    /* RFC 6298 2.4 asks for a 1 s floor; we use Linux's 200 ms (as RFC 6298 allows with a
     * rationale: a LAN RTT is microseconds, a 1 s floor makes every loss a second of silence). */
    if (rto < TCP_RTO_MIN)
        rto = TCP_RTO_MIN;
    if (rto > TCP_RTO_MAX)
        rto = TCP_RTO_MAX;
    c->rtt.rto = rto;
}

void tcp_keepalive_reset(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->opts.keepalive && (tcp_synchronized(c->state) && c->state != TS_TCP_TIME_WAIT))
        c->timers.keep = now + c->opts.keepidle;
    else
        c->timers.keep = TS_TIME_NEVER;
}

void tcp_timer_time_wait(struct ts_tcp_conn *c, ts_time_t now)
{
    ts_time_t msl = c->s->cfg.tcp_msl ? c->s->cfg.tcp_msl : 30 * TS_SEC;
    c->timers.rexmt = c->timers.persist = c->timers.delack = c->timers.keep = c->timers.tlp =
        c->timers.reo = TS_TIME_NEVER;
    c->timers.wait = now + 2 * msl;
    /* Nothing is sent any more: give the send ring back (TIME_WAIT blocks stay small). */
    if (c->sndbuf.cap && c->sndbuf.len == 0)
        ts_ring_free(&c->sndbuf);
    tcp_txq_free(c);
    if (c->orphan && c->rcvbuf.cap)
        ts_ring_free(&c->rcvbuf);
}

ts_time_t tcp_next_timer(const struct ts_tcp_conn *c, const char **name)
{
    ts_time_t t = TS_TIME_NEVER;
    const char *n = "-";
    if (c->timers.rexmt < t) {
        t = c->timers.rexmt;
        n = "retransmit";
    }
    if (c->timers.tlp < t) {
        t = c->timers.tlp;
        n = "loss-probe";
    }
    if (c->timers.reo < t) {
        t = c->timers.reo;
        n = "reorder";
    }
    if (c->timers.persist < t) {
        t = c->timers.persist;
        n = "persist";
    }
    if (c->timers.delack < t) {
        t = c->timers.delack;
        n = "delack";
    }
    if (c->timers.keep < t) {
        t = c->timers.keep;
        n = "keepalive";
    }
    if (c->timers.wait < t) {
        t = c->timers.wait;
        n = c->state == TS_TCP_TIME_WAIT ? "time-wait" : "fin-wait-2";
    }
    if (name)
        *name = n;
    return t;
}

ts_time_t ts_tcp_next_deadline(const struct ts_tcp_conn *c)
{
    return tcp_next_timer(c, NULL);
}

static bool tcp_can_send_data(enum ts_tcp_state st)
{
    return st == TS_TCP_ESTABLISHED || st == TS_TCP_CLOSE_WAIT || st == TS_TCP_FIN_WAIT1 ||
           st == TS_TCP_CLOSING || st == TS_TCP_LAST_ACK;
}

static ts_time_t tcp_persist_interval(const struct ts_tcp_conn *c)
{
    ts_time_t t = c->rtt.rto;
    for (unsigned i = 0; i < c->persist_shift && t < TCP_PERSIST_MAX; i++)
        t *= 2;
    return t > TCP_PERSIST_MAX ? TCP_PERSIST_MAX : t;
}

void tcp_persist_check(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->timers.persist != TS_TIME_NEVER || !tcp_can_send_data(c->state))
        return;
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    /* Data not yet sent, or only our FIN, held by a closed window (tcp_fin_fits). */
    bool fin_waits =
        c->snd.fin_queued && c->snd.nxt == end &&
        (c->state == TS_TCP_FIN_WAIT1 || c->state == TS_TCP_CLOSING || c->state == TS_TCP_LAST_ACK);
    bool unsent = seq_lt(c->snd.nxt, end) || fin_waits;
    if (tcp_flight(c) == 0 && unsent) {
        /* Nothing in flight yet data waits: only the window holds it. Probe (RFC 9293 3.8.6.1);
         * with a small open window this is also the SWS override timer (RFC 1122 4.2.3.4). */
        c->persist_shift = 0;
        c->timers.persist = now + tcp_persist_interval(c);
        c->timers.rexmt = TS_TIME_NEVER;
        c->timers.tlp = TS_TIME_NEVER;
        c->timers.reo = TS_TIME_NEVER;
    }
}

static void tcp_rexmt_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.rexmt = TS_TIME_NEVER;
    unsigned limit = TCP_DATA_RETRIES;
    if (c->state == TS_TCP_SYN_SENT)
        limit = TCP_SYN_RETRIES;
    else if (c->state == TS_TCP_SYN_RECV)
        limit = TCP_SYNACK_RETRIES;
    bool give_up = c->retries >= limit;
    if (c->opts.user_timeout && c->retries > 0 && now - c->retx_start >= c->opts.user_timeout)
        give_up = true;
    if (give_up) {
        /* RFC 1122 4.2.3.5 R2; RFC 1122 4.2.3.9: report a remembered soft error instead. */
        ts_count(s, TS_C_TCP_CONN_TIMEOUT);
        int err = c->soft_err ? c->soft_err : ETIMEDOUT;
        tcp_enter_closed(s, c, c->parent ? 0 : err, "retransmission limit");
        return;
    }
    if (c->retries == 0)
        c->retx_start = now;
    c->retries++;
    c->tlp_out = false;
    c->tlp_patience = 0;
    c->timers.tlp = TS_TIME_NEVER;
    c->timers.reo = TS_TIME_NEVER;
    ts_count(s, TS_C_TCP_RTO);
    /* RFC 6298 5.5: back off. */
    c->rtt.rto = c->rtt.rto * 2 > TCP_RTO_MAX ? TCP_RTO_MAX : c->rtt.rto * 2;
    c->rtt.timing = false; /* Karn */
    c->rtt.karn_blocked = true;
    if (c->state == TS_TCP_SYN_SENT || c->state == TS_TCP_SYN_RECV) {
        tcp_send_syn(s, c);
        return;
    }
    if (!seq_gt(c->snd.max, c->snd.una))
        return;
    /* RFC 5682 3.1 step 1: F-RTO for the first timeout of an episode outside fast recovery; a
     * second timeout, or one during F-RTO, goes the conventional way. */
    c->frto = c->retries == 1 && !c->cc.in_recovery && !c->frto ? 1 : 0;
    tcp_cc_on_rto(c);
    /* RFC 6298 5.4: resend the earliest unacknowledged segment; with cwnd at one segment the
     * rest follows as ACKs come back (go-back-N). */
    c->snd.nxt = c->snd.una;
    tcp_output(s, c);
    if (c->timers.rexmt == TS_TIME_NEVER && seq_gt(c->snd.nxt, c->snd.una))
        tcp_timer_rexmt_arm(c, now);
}

static void tcp_persist_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.persist = TS_TIME_NEVER;
    if (!tcp_can_send_data(c->state))
        return;
    if (c->snd.wnd > 0) {
        /* A small window is open: the SWS override lets one segment go. */
        c->sws_override = true;
        tcp_output(s, c);
        return;
    }
    if (c->probes_unacked >= TCP_DATA_RETRIES) {
        /* The peer stopped answering probes altogether (RFC 1122 4.2.2.17 keeps probing only
         * while it answers). */
        ts_count(s, TS_C_TCP_CONN_TIMEOUT);
        tcp_enter_closed(s, c, c->soft_err ? c->soft_err : ETIMEDOUT, "persist probes unanswered");
        return;
    }
    tcp_send_probe(s, c, false);
    c->probes_unacked++;
    c->persist_shift++;
    c->timers.persist = now + tcp_persist_interval(c);
}

static void tcp_keep_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.keep = TS_TIME_NEVER;
    if (!c->opts.keepalive || !tcp_synchronized(c->state) || c->state == TS_TCP_TIME_WAIT)
        return;
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    if (tcp_flight(c) > 0 || seq_lt(c->snd.nxt, end)) {
        /* Data is moving or waiting: retransmission/persist watch the peer. */
        c->timers.keep = now + c->opts.keepidle;
        return;
    }
    if (c->probes_unacked == 0 && now - c->last_rx < c->opts.keepidle) {
        c->timers.keep = c->last_rx + c->opts.keepidle;
        return;
    }
    if (c->probes_unacked >= c->opts.keepcnt) {
        ts_count(s, TS_C_TCP_KEEPALIVE_TIMEOUT);
        tcp_enter_closed(s, c, ETIMEDOUT, "keepalive timeout");
        return;
    }
    tcp_send_probe(s, c, true);
    c->probes_unacked++;
    c->timers.keep = now + c->opts.keepintvl;
}

/* Run c's timers that are due at now. */
static void tcp_conn_timers(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->timers.wait <= now) {
        c->timers.wait = TS_TIME_NEVER;
        if (c->state == TS_TCP_TIME_WAIT)
            tcp_enter_closed(s, c, 0, "2MSL timer expired");
        else if (c->state == TS_TCP_FIN_WAIT2)
            tcp_enter_closed(s, c, 0, "FIN_WAIT2 timeout (orphan)");
    }
    if (c->timers.reo <= now)
        tcp_rack_timeout(s, c);
    if (c->timers.tlp <= now)
        tcp_tlp_fire(s, c, now);
    if (c->timers.rexmt <= now)
        tcp_rexmt_fire(s, c, now);
    if (c->timers.persist <= now)
        tcp_persist_fire(s, c, now);
    if (c->timers.delack <= now) {
        c->timers.delack = TS_TIME_NEVER;
        c->pingpong = false; /* no answer came to carry the ACK: not interactive (as Linux) */
        if (tcp_synchronized(c->state)) {
            ts_count(s, TS_C_TCP_DELAYED_ACK);
            tcp_send_ack(s, c);
        }
    }
    if (c->timers.keep <= now)
        tcp_keep_fire(s, c, now);
}

ts_time_t ts_tcp_poll(struct ts_stack *s, ts_time_t now)
{
    s->now = now;
    struct ts_tcp_table *t = s->tcp;
    if (!t)
        return TS_TIME_NEVER;
    struct tcp_tlink due;
    tcp_wheel_advance(&t->wheel, now, &due);
    while (!tl_empty(&due)) {
        /* Out of the list before its timers run: if it is freed, nothing points at it. */
        struct tcp_tnode *n = TNODE_OF(due.next);
        tl_unlink(&n->link);
        struct ts_tcp_conn *c = CONN_OF_TNODE(n);
        t->timer_visits++;
        tcp_conn_timers(s, c, now);
        tcp_conn_done(s, c);
    }
    ts_time_t tw_next = t->tw_head ? tcp_tw_expire(s, now) : TS_TIME_NEVER;
    return ts_time_min(tcp_wheel_next(&t->wheel), tw_next);
}
