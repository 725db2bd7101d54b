/* TCP: the connection table, lookup, initial sequence numbers, the one door through which every
 * state change passes, and the connection API of include/tapstack/tcp.h.
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

/* ---- table ---- */

struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s)
{
    struct ts_tcp_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    uint16_t lo = s->cfg.ephemeral_lo, hi = s->cfg.ephemeral_hi;
    if (lo == 0 || hi < lo) {
        lo = 32768;
        hi = 60999;
    }
    /* RFC 6056: start the ephemeral search at a secret-dependent place. */
    uint64_t h = ts_siphash24(s->cfg.secret, "ephemeral", 9);
    t->next_ephemeral = (uint16_t)(lo + h % ((uint32_t)hi - lo + 1));
    return t;
}

static void conn_release(struct ts_tcp_conn *c)
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
        conn_release(c);
        c = n;
    }
    free(t);
}

/* The 4-tuple as the bytes the keyed hashes (table, ISN) take. */
static void tuple_key(uint8_t k[12], uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    memcpy(k, &laddr, 4);
    memcpy(k + 4, &raddr, 4);
    memcpy(k + 8, &lport, 2);
    memcpy(k + 10, &rport, 2);
}

static uint32_t tuple_hash(const struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                           uint16_t rport)
{
    uint8_t k[12];
    tuple_key(k, laddr, lport, raddr, rport);
    return (uint32_t)ts_siphash24(s->cfg.secret, k, sizeof(k)) & ((1u << TCP_HASH_BITS) - 1);
}

struct ts_tcp_conn *tcp_lookup(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                               uint16_t rport)
{
    struct ts_tcp_conn *c = s->tcp->hash[tuple_hash(s, laddr, lport, raddr, rport)];
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
    uint32_t h = tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport);
    c->hnext = s->tcp->hash[h];
    s->tcp->hash[h] = c;
    c->hashed = true;
}

static void hash_remove(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!c->hashed)
        return;
    struct ts_tcp_conn **pp = &s->tcp->hash[tuple_hash(s, c->laddr, c->lport, c->raddr, c->rport)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    c->hashed = false;
    c->hnext = NULL;
}

void ts_tcp_opts_default(const struct ts_stack *s, struct ts_tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rcvbuf = s->cfg.tcp_rcvbuf ? s->cfg.tcp_rcvbuf : 256 * 1024;
    o->sndbuf = s->cfg.tcp_sndbuf ? s->cfg.tcp_sndbuf : 256 * 1024;
    o->nodelay = false;
    o->keepalive = false;
    o->keepidle = 2 * 3600 * TS_SEC; /* RFC 1122 4.2.3.6: at least two hours */
    o->keepintvl = 75 * TS_SEC;
    o->keepcnt = 9;
    o->user_timeout = 0;
}

static void opts_sanitize(struct ts_tcp_opts *o)
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

struct ts_tcp_conn *tcp_conn_new(struct ts_stack *s, const struct ts_tcp_opts *o)
{
    struct ts_tcp_table *t = s->tcp;
    uint32_t maxc = s->cfg.tcp_max_conns ? s->cfg.tcp_max_conns : 4096;
    if (t->count >= maxc) {
        /* Full: give up the TIME_WAIT block closest to its end rather than refuse a live
         * connection (as Linux does past tcp_max_tw_buckets). */
        struct ts_tcp_conn *victim = NULL;
        for (struct ts_tcp_conn *o = t->all; o; o = o->next)
            if (o->state == TS_TCP_TIME_WAIT && o->orphan &&
                (!victim || o->timers.wait < victim->timers.wait))
                victim = o;
        if (!victim)
            return NULL;
        ts_count(s, TS_C_TCP_TIME_WAIT_RECYCLED);
        ts_tcp_set_state(s, victim, TS_TCP_CLOSE, "TIME_WAIT recycled: connection table full");
        tcp_conn_free(s, victim);
    }
    struct ts_tcp_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->s = s;
    c->id = ++t->next_id;
    c->state = TS_TCP_CLOSE;
    c->state_since = s->now;
    if (o)
        c->opts = *o;
    else
        ts_tcp_opts_default(s, &c->opts);
    opts_sanitize(&c->opts);
    /* RFC 7323 2.2: our shift. Linux offers 7; more only if the buffer needs it. */
    c->rcv.wscale = 7;
    while (c->rcv.wscale < TCP_WSCALE_MAX && (c->opts.rcvbuf >> c->rcv.wscale) > 65535)
        c->rcv.wscale++;
    c->rcv.wscale_max = c->rcv.wscale;
    c->timers.rexmt = c->timers.persist = c->timers.delack = c->timers.keep = c->timers.wait =
        c->timers.tlp = TS_TIME_NEVER;
    c->rtt.rto = TCP_RTO_INIT;
    c->peer_mss = TCP_DEFAULT_MSS;
    c->adv_mss = TCP_DEFAULT_MSS;
    c->pmtu = 576;
    c->mss = TCP_DEFAULT_MSS;
    c->cc.ops = s->cfg.tcp_cubic ? &tcp_cc_cubic : &tcp_cc_newreno;
    c->next = t->all;
    if (t->all)
        t->all->prev = c;
    t->all = c;
    t->count++;
    return c;
}

struct ts_tcp_conn *tcp_child_new(struct ts_stack *s, struct ts_tcp_conn *l,
                                  const struct ipv4_hdr *ip, const struct tcp_hdr *seg)
{
    struct ts_tcp_conn *c = tcp_conn_new(s, &l->opts);
    if (!c)
        return NULL;
    c->laddr = ip->dst;
    c->lport = seg->dport;
    c->raddr = ip->src;
    c->rport = seg->sport;
    c->parent = l;
    c->orphan = true;       /* the listener's until accept() */
    l->listener.synq_len++; /* tcp_child_established moves it to the accept queue */
    c->pmtu = ts_ip_mtu(s, c->raddr);
    c->adv_mss = (uint16_t)(c->pmtu - 40); /* RFC 6691: MTU - 40 for IPv4 */
    /* Born a copy of its listener: the door's first trace of it reads LISTEN -> ... */
    c->state = TS_TCP_LISTEN;
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
    hash_remove(s, c);
    tcp_child_unlink(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->count--;
    conn_release(c);
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
    uint8_t k[12];
    tuple_key(k, laddr, lport, raddr, rport);
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
    if (c->pmtu > 40 && (uint32_t)(c->pmtu - 40) < m)
        m = c->pmtu - 40;
    return m;
}

void tcp_update_mss(struct ts_tcp_conn *c)
{
    /* RFC 6691: the MSS counts no options; data segments carry timestamps (12 bytes) when they
     * were negotiated, so that much less data fits. */
    uint32_t m = tcp_path_mss(c);
    if (c->ts_ok)
        m = m > 12 ? m - 12 : 1;
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
        hash_remove(s, c);
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

void tcp_drop(struct ts_stack *s, struct ts_tcp_conn *c, int err, const char *cause)
{
    if (err)
        c->err = err;
    tcp_timer_stop_all(c);
    ts_tcp_set_state(s, c, TS_TCP_CLOSE, cause);
    tcp_notify(c, (err ? TS_TCP_EV_ERROR : 0) | TS_TCP_EV_READABLE | TS_TCP_EV_WRITABLE);
}

void tcp_child_established(struct ts_stack *s, struct ts_tcp_conn *c)
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

/* ---- API ---- */

static bool port_used_by_listener(struct ts_stack *s, uint32_t laddr, uint16_t lport)
{
    return tcp_lookup(s, laddr, lport, 0, 0) || tcp_lookup(s, 0, lport, 0, 0);
}

struct ts_tcp_conn *ts_tcp_listen(struct ts_stack *s, uint32_t laddr, uint16_t lport, int backlog,
                                  const struct ts_tcp_opts *o, int *err, ts_time_t now)
{
    int e = 0;
    s->now = now;
    if (laddr == 0)
        laddr = s->cfg.ip;
    if (lport == 0 || !ts_ip_is_local(s, laddr)) {
        e = lport == 0 ? EINVAL : EADDRNOTAVAIL;
        goto fail;
    }
    if (port_used_by_listener(s, laddr, lport)) {
        e = EADDRINUSE;
        goto fail;
    }
    struct ts_tcp_conn *c = tcp_conn_new(s, o);
    if (!c) {
        e = ENOMEM;
        goto fail;
    }
    c->is_listener = true;
    c->laddr = laddr;
    c->lport = lport;
    c->listener.backlog = backlog < 1 ? 1 : (backlog > 4096 ? 4096 : backlog);
    tcp_hash_insert(s, c);
    ts_tcp_set_state(s, c, TS_TCP_LISTEN, "app listen");
    return c;
fail:
    if (err)
        *err = e;
    return NULL;
}

static bool tuple_free(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    return !tcp_lookup(s, laddr, lport, raddr, rport) && !port_used_by_listener(s, laddr, lport);
}

struct ts_tcp_conn *ts_tcp_connect(struct ts_stack *s, uint32_t laddr, uint16_t lport,
                                   uint32_t raddr, uint16_t rport, const struct ts_tcp_opts *o,
                                   int *err, ts_time_t now)
{
    int e = 0;
    s->now = now;
    if (laddr == 0)
        laddr = s->cfg.ip;
    if (raddr == 0 || rport == 0 || ts_ip_is_broadcast(s, raddr) || ipv4_is_multicast(raddr)) {
        e = EINVAL;
        goto fail;
    }
    if (!ts_ip_is_local(s, laddr)) {
        e = EADDRNOTAVAIL;
        goto fail;
    }
    if (ts_ip_route(s, raddr) == 0) {
        e = ENETUNREACH;
        goto fail;
    }
    if (lport == 0) {
        struct ts_tcp_table *t = s->tcp;
        uint16_t lo = s->cfg.ephemeral_lo, hi = s->cfg.ephemeral_hi;
        if (lo == 0 || hi < lo) {
            lo = 32768;
            hi = 60999;
        }
        uint32_t n = (uint32_t)hi - lo + 1;
        for (uint32_t i = 0; i < n; i++) {
            uint16_t p = t->next_ephemeral;
            t->next_ephemeral = (p >= hi || p < lo) ? lo : (uint16_t)(p + 1);
            if (p < lo || p > hi)
                continue;
            if (tuple_free(s, laddr, p, raddr, rport)) {
                lport = p;
                break;
            }
        }
        if (lport == 0) {
            e = EADDRNOTAVAIL;
            goto fail;
        }
    } else if (!tuple_free(s, laddr, lport, raddr, rport)) {
        e = EADDRINUSE;
        goto fail;
    }
    struct ts_tcp_conn *c = tcp_conn_new(s, o);
    if (!c || tcp_bufs_alloc(c) < 0) {
        if (c)
            tcp_conn_free(s, c);
        e = ENOMEM;
        goto fail;
    }
    c->laddr = laddr;
    c->lport = lport;
    c->raddr = raddr;
    c->rport = rport;
    c->pmtu = ts_ip_mtu(s, raddr);
    c->adv_mss = (uint16_t)(c->pmtu - 40); /* RFC 6691 */
    c->snd.iss = tcp_isn(s, laddr, lport, raddr, rport, now);
    c->snd.una = c->snd.nxt = c->snd.max = c->snd.iss;
    c->snd.buf_seq = c->snd.iss + 1;
    c->ts_offset = tcp_isn(s, raddr, rport, laddr, lport, 0); /* RFC 7323 5.4 */
    c->last_rx = now;
    tcp_hash_insert(s, c);
    ts_count(s, TS_C_TCP_ACTIVE_OPEN);
    ts_tcp_set_state(s, c, TS_TCP_SYN_SENT, "app connect");
    tcp_send_syn(s, c);
    return c;
fail:
    if (err)
        *err = e;
    return NULL;
}

struct ts_tcp_conn *ts_tcp_accept(struct ts_tcp_conn *l)
{
    if (!l || !l->is_listener || !l->listener.aq_head)
        return NULL;
    struct ts_tcp_conn *c = l->listener.aq_head;
    tcp_child_unlink(c);
    c->orphan = false;
    return c;
}

bool ts_tcp_port_in_use(const struct ts_stack *s, uint32_t laddr, uint16_t lport, bool reuse)
{
    for (const struct ts_tcp_conn *c = s->tcp->all; c; c = c->next) {
        if (c->lport != lport || c->state == TS_TCP_CLOSE)
            continue;
        if (laddr != 0 && c->laddr != 0 && c->laddr != laddr)
            continue;
        if (reuse && !c->is_listener)
            continue; /* SO_REUSEADDR (as Linux): TIME_WAIT and live connections do not block */
        return true;
    }
    return false;
}

void ts_tcp_set_callback(struct ts_tcp_conn *c, ts_tcp_event_fn fn, void *user)
{
    c->cb = fn;
    c->user = user;
}

void *ts_tcp_user(const struct ts_tcp_conn *c)
{
    return c->user;
}

/* Report a pending error once, as Linux's sock_error() does. */
static int take_err(struct ts_tcp_conn *c)
{
    int e = c->err;
    c->err = 0;
    return e;
}

ssize_t ts_tcp_send(struct ts_tcp_conn *c, const void *buf, size_t len, ts_time_t now)
{
    struct ts_stack *s = c->s;
    s->now = now;
    if (c->err)
        return -take_err(c);
    if (c->is_listener)
        return -ENOTCONN;
    switch (c->state) {
    case TS_TCP_SYN_SENT:
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
        break;
    case TS_TCP_CLOSE:
        return c->rst_rcvd || c->snd.fin_queued || c->rcv.fin_rcvd ? -EPIPE : -ENOTCONN;
    default:
        return -EPIPE;
    }
    if (c->snd.fin_queued)
        return -EPIPE;
    if (len == 0)
        return 0;
    if (tcp_bufs_alloc(c) < 0)
        return -ENOMEM;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    uint32_t n = ts_ring_append(&c->sndbuf, buf, (uint32_t)len);
    if (n == 0)
        return -EAGAIN;
    tcp_output(s, c);
    return n;
}

ssize_t ts_tcp_recv(struct ts_tcp_conn *c, void *buf, size_t len, ts_time_t now)
{
    struct ts_stack *s = c->s;
    s->now = now;
    if (c->rcvbuf.len > 0) {
        if (len > UINT32_MAX)
            len = UINT32_MAX;
        uint32_t n = ts_ring_read(&c->rcvbuf, buf, (uint32_t)len);
        if (n && tcp_synchronized(c->state))
            tcp_window_update(s, c);
        return n;
    }
    if (len == 0)
        return 0;
    if (c->rcv.fin_rcvd)
        return 0;
    if (c->err)
        return -take_err(c);
    switch (c->state) {
    case TS_TCP_SYN_SENT:
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
        return -EAGAIN;
    case TS_TCP_CLOSE:
        return c->rst_rcvd ? 0 : -ENOTCONN;
    default:
        return c->is_listener ? -ENOTCONN : 0;
    }
}

/* RFC 9293 3.10.4 CLOSE, for close and for shutdown of the write side: a FIN follows the queued
 * data. Before the connection is established it waits (established() sends it). */
static void queue_fin(struct ts_stack *s, struct ts_tcp_conn *c, const char *cause)
{
    c->snd.fin_queued = true;
    if (c->state == TS_TCP_ESTABLISHED)
        ts_tcp_set_state(s, c, TS_TCP_FIN_WAIT1, cause);
    else if (c->state == TS_TCP_CLOSE_WAIT)
        ts_tcp_set_state(s, c, TS_TCP_LAST_ACK, cause);
}

int ts_tcp_shutdown_write(struct ts_tcp_conn *c, ts_time_t now)
{
    struct ts_stack *s = c->s;
    s->now = now;
    switch (c->state) {
    case TS_TCP_SYN_SENT:
    case TS_TCP_SYN_RECV:
        queue_fin(s, c, "app shutdown");
        return 0;
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
        queue_fin(s, c, "app shutdown");
        break;
    case TS_TCP_LISTEN:
    case TS_TCP_CLOSE:
        return -ENOTCONN;
    default:
        return 0; /* already closing */
    }
    tcp_output(s, c);
    return 0;
}

static void close_listener(struct ts_stack *s, struct ts_tcp_conn *l)
{
    /* Connections nobody accepted are reset (as Linux does when a listener closes). */
    struct ts_tcp_conn *c = s->tcp->all;
    while (c) {
        struct ts_tcp_conn *n = c->next;
        if (c->parent == l) {
            tcp_send_rst_conn(s, c);
            tcp_child_unlink(c);
            c->orphan = true;
            tcp_drop(s, c, 0, "listener closed");
            tcp_conn_free(s, c);
        }
        c = n;
    }
    ts_tcp_set_state(s, l, TS_TCP_CLOSE, "app close");
    tcp_conn_free(s, l);
}

/* The owner lets go of c (close or abort): from now on the stack frees it when it reaches CLOSE.
 * A listener goes at once. Returns false when nothing is left to do. */
static bool let_go(struct ts_tcp_conn *c, ts_time_t now)
{
    c->s->now = now;
    c->orphan = true;
    c->cb = NULL;
    c->user = NULL;
    if (c->is_listener) {
        close_listener(c->s, c);
        return false;
    }
    return true;
}

void ts_tcp_close(struct ts_tcp_conn *c, ts_time_t now)
{
    if (!let_go(c, now))
        return;
    struct ts_stack *s = c->s;
    switch (c->state) {
    case TS_TCP_SYN_SENT:
        ts_tcp_set_state(s, c, TS_TCP_CLOSE, "app close");
        break;
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
        if (c->rcvbuf.len > 0) {
            /* RFC 2525 2.17 / RFC 1122 4.2.2.13: data the app never read is lost; tell the
             * peer with a RST rather than a FIN that would look like a clean close. */
            tcp_send_rst_conn(s, c);
            tcp_drop(s, c, 0, "app close with unread data");
            break;
        }
        if (c->state == TS_TCP_FIN_WAIT2)
            c->timers.wait = now + TCP_FIN_TIMEOUT; /* Linux tcp_fin_timeout for orphans */
        else
            queue_fin(s, c, "app close"); /* FIN_WAIT1: queued already */
        tcp_output(s, c);
        break;
    default:
        break;
    }
    tcp_conn_reap(s, c);
}

void ts_tcp_abort(struct ts_tcp_conn *c, ts_time_t now)
{
    if (!let_go(c, now))
        return;
    struct ts_stack *s = c->s;
    switch (c->state) {
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
    case TS_TCP_CLOSE_WAIT:
        /* RFC 9293 3.10.5 ABORT: send a reset. */
        tcp_send_rst_conn(s, c);
        break;
    default:
        break;
    }
    tcp_drop(s, c, 0, "app abort");
    tcp_conn_reap(s, c);
}

size_t ts_tcp_readable(const struct ts_tcp_conn *c)
{
    return c->rcvbuf.len;
}

bool ts_tcp_read_eof(const struct ts_tcp_conn *c)
{
    return c->rcvbuf.len == 0 && (c->rcv.fin_rcvd || (c->state == TS_TCP_CLOSE && !c->is_listener));
}

size_t ts_tcp_writable(const struct ts_tcp_conn *c)
{
    if (c->snd.fin_queued || c->err)
        return 0;
    switch (c->state) {
    case TS_TCP_SYN_SENT:
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
        return c->sndbuf.buf ? ts_ring_free_space(&c->sndbuf) : c->opts.sndbuf;
    default:
        return 0;
    }
}

bool ts_tcp_accept_ready(const struct ts_tcp_conn *c)
{
    return c->listener.aq_head != NULL;
}

int ts_tcp_error(struct ts_tcp_conn *c, bool take)
{
    /* As Linux's SO_ERROR: a soft error (RFC 1122 4.2.3.9) is not an error of the socket; it
     * only replaces ETIMEDOUT if the connection times out. */
    int e = c->err;
    if (take)
        c->err = 0;
    return e;
}

enum ts_tcp_state ts_tcp_state(const struct ts_tcp_conn *c)
{
    return c->state;
}

void ts_tcp_endpoints(const struct ts_tcp_conn *c, uint32_t *laddr, uint16_t *lport,
                      uint32_t *raddr, uint16_t *rport)
{
    if (laddr)
        *laddr = c->laddr;
    if (lport)
        *lport = c->lport;
    if (raddr)
        *raddr = c->raddr;
    if (rport)
        *rport = c->rport;
}

int ts_tcp_set_opts(struct ts_tcp_conn *c, const struct ts_tcp_opts *o, ts_time_t now)
{
    struct ts_stack *s = c->s;
    s->now = now;
    struct ts_tcp_opts n = *o;
    opts_sanitize(&n);
    if (n.rcvbuf < c->opts.rcvbuf)
        n.rcvbuf = c->opts.rcvbuf;
    if (n.sndbuf < c->opts.sndbuf)
        n.sndbuf = c->opts.sndbuf;
    if (c->rcvbuf.buf && n.rcvbuf > c->opts.rcvbuf &&
        ts_ring_grow(&c->rcvbuf, n.rcvbuf + tcp_rcv_slack(c)) < 0)
        return -ENOMEM;
    if (c->sndbuf.buf && n.sndbuf > c->sndbuf.cap && ts_ring_grow(&c->sndbuf, n.sndbuf) < 0)
        return -ENOMEM;
    bool ka_on = n.keepalive && !c->opts.keepalive;
    c->opts = n;
    if (ka_on || !n.keepalive)
        tcp_keepalive_reset(c, now);
    if (tcp_synchronized(c->state)) {
        tcp_window_update(s, c);
        tcp_output(s, c); /* nodelay may release held data */
    }
    return 0;
}

void ts_tcp_get_opts(const struct ts_tcp_conn *c, struct ts_tcp_opts *o)
{
    *o = c->opts;
}

void ts_tcp_get_info(const struct ts_tcp_conn *c, struct ts_tcp_info *i, ts_time_t now)
{
    memset(i, 0, sizeof(*i));
    i->id = c->id;
    i->state = c->state;
    i->state_age = now > c->state_since ? now - c->state_since : 0;
    i->laddr = c->laddr;
    i->raddr = c->raddr;
    i->lport = c->lport;
    i->rport = c->rport;
    if (!c->is_listener) {
        i->snd_una = c->snd.una - c->snd.iss;
        i->snd_nxt = c->snd.nxt - c->snd.iss;
        i->snd_wnd = c->snd.wnd;
        i->rcv_nxt = c->rcv.nxt - c->rcv.irs;
        i->rcv_wnd = tcp_rcv_wnd(c);
    }
    i->mss_send = c->mss;
    i->mss_recv = c->adv_mss;
    i->cwnd = c->cc.cwnd;
    i->ssthresh = c->cc.ssthresh;
    i->srtt = c->rtt.srtt;
    i->rttvar = c->rtt.rttvar;
    i->rto = c->rtt.rto;
    i->send_queued = c->sndbuf.len;
    i->recv_queued = c->rcvbuf.len;
    i->snd_wscale = c->ws_ok ? c->snd.wscale : 0;
    i->rcv_wscale = c->ws_ok ? c->rcv.wscale : 0;
    i->ts_ok = c->ts_ok;
    i->sack_ok = c->sack_ok;
    i->bytes_sent = c->bytes_sent;
    i->bytes_received = c->bytes_received;
    i->bytes_acked = c->bytes_acked;
    i->segs_in = c->segs_in;
    i->segs_out = c->segs_out;
    i->retransmits = c->retransmits;
    const char *name = "-";
    ts_time_t t = tcp_next_timer(c, &name);
    i->timer = (t == TS_TIME_NEVER) ? 0 : (t > now ? t - now : 0);
    i->timer_name = name;
    i->orphan = c->orphan;
    if (c->is_listener) {
        i->accept_queued = c->listener.acceptq_len;
        i->syn_queued = c->listener.synq_len;
        i->backlog = (uint32_t)c->listener.backlog;
    }
}

size_t ts_tcp_table(const struct ts_stack *s, struct ts_tcp_info *out, size_t max, ts_time_t now)
{
    size_t n = 0;
    for (const struct ts_tcp_conn *c = s->tcp->all; c; c = c->next) {
        if (n < max && out)
            ts_tcp_get_info(c, &out[n], now);
        n++;
    }
    return n;
}
