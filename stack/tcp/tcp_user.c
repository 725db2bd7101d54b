/* The user calls of RFC 9293 3.10.1-3.10.6, as include/tapstack/tcp.h offers them: OPEN
 * (ts_tcp_listen, ts_tcp_connect), SEND, RECEIVE, CLOSE (ts_tcp_close, ts_tcp_shutdown_write),
 * ABORT and STATUS (ts_tcp_get_info, ts_tcp_table), and the readiness and option calls a socket
 * layer needs. None of them blocks; each takes the time of the call. */
#include <errno.h>
#include <string.h>

#include "tcp_internal.h"

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
    o->cc = s->cfg.tcp_cc;
}

/* ---- 3.10.1 OPEN ---- */

static bool tcp_port_has_listener(struct ts_stack *s, uint32_t laddr, uint16_t lport)
{
    return tcp_lookup(s, laddr, lport, 0, 0) || tcp_lookup(s, 0, lport, 0, 0);
}

struct ts_tcp_conn *ts_tcp_listen(struct ts_stack *s, uint32_t laddr, uint16_t lport, int backlog,
                                  const struct ts_tcp_opts *o, int *err, ts_time_t now)
{
    int e = 0;
    s->now = now;
    /* A listener on 0.0.0.0 keeps it: tcp_lookup_listener matches it for any of our addresses,
     * 127/8 included. */
    if (lport == 0 || (laddr != 0 && !ts_ip_is_local(s, laddr))) {
        e = lport == 0 ? EINVAL : EADDRNOTAVAIL;
        goto fail;
    }
    if (tcp_port_has_listener(s, laddr, lport)) {
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

static bool tcp_tuple_free(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                           uint16_t rport)
{
    return !tcp_tuple_in_use(s, laddr, lport, raddr, rport) &&
           !tcp_port_has_listener(s, laddr, lport);
}

/* An ephemeral port for a connection to raddr:rport, or 0 when every one is taken. (The range
 * is sound: ts_stack_new refuses a configuration without one.) */
static uint16_t tcp_ephemeral_port(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                                   uint16_t rport)
{
    struct ts_tcp_table *t = s->tcp;
    uint16_t lo = s->cfg.ephemeral_lo, hi = s->cfg.ephemeral_hi;
    uint32_t n = (uint32_t)hi - lo + 1;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = t->next_ephemeral;
        t->next_ephemeral = (p >= hi || p < lo) ? lo : (uint16_t)(p + 1);
        if (p < lo || p > hi)
            continue;
        if (tcp_tuple_free(s, laddr, p, raddr, rport))
            return p;
    }
    return 0;
}

/* Why a connection to raddr:rport from laddr:*lport cannot be made (an errno), or 0; picks the
 * ephemeral port when *lport is 0. */
static int tcp_connect_check(struct ts_stack *s, uint32_t laddr, uint16_t *lport, uint32_t raddr,
                             uint16_t rport)
{
    if (raddr == 0 || rport == 0 || ts_ip_is_broadcast(s, raddr) || ipv4_is_multicast(raddr))
        return EINVAL;
    if (!ts_ip_is_local(s, laddr))
        return EADDRNOTAVAIL;
    if (ts_ip_route(s, raddr) == 0)
        return ENETUNREACH;
    if (*lport == 0) {
        *lport = tcp_ephemeral_port(s, laddr, raddr, rport);
        return *lport == 0 ? EADDRNOTAVAIL : 0;
    }
    return tcp_tuple_free(s, laddr, *lport, raddr, rport) ? 0 : EADDRINUSE;
}

struct ts_tcp_conn *ts_tcp_connect(struct ts_stack *s, uint32_t laddr, uint16_t lport,
                                   uint32_t raddr, uint16_t rport, const struct ts_tcp_opts *o,
                                   int *err, ts_time_t now)
{
    s->now = now;
    if (laddr == 0)
        laddr = ts_ip_source(s, raddr);
    int e = tcp_connect_check(s, laddr, &lport, raddr, rport);
    struct ts_tcp_conn *c = NULL;
    if (e == 0) {
        c = tcp_conn_new(s, o);
        if (!c || tcp_bufs_alloc(c) < 0) {
            if (c)
                tcp_conn_free(s, c);
            c = NULL;
            e = ENOMEM;
        }
    }
    if (!c) {
        if (err)
            *err = e;
        return NULL;
    }
    tcp_set_endpoints(s, c, laddr, lport, raddr, rport);
    tcp_init_snd(s, c, tcp_isn(s, laddr, lport, raddr, rport, now));
    tcp_hash_insert(s, c);
    ts_count(s, TS_C_TCP_ACTIVE_OPEN);
    ts_tcp_set_state(s, c, TS_TCP_SYN_SENT, "app connect");
    tcp_send_syn(s, c);
    tcp_conn_done(s, c);
    return c;
}

struct ts_tcp_conn *ts_tcp_accept(struct ts_tcp_conn *l)
{
    if (!l || !l->is_listener || !l->listener.aq_head)
        return NULL;
    struct ts_tcp_conn *c = l->listener.aq_head;
    tcp_child_unlink(c);
    c->orphan = false;
    tcp_listener_resume(l->s, l); /* a handshake held for want of room goes on */
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
    if (reuse)
        return false; /* compact TIME_WAIT records are never listeners */
    for (const struct tcp_tw *tw = s->tcp->tw_head; tw; tw = tw->next)
        if (tw->lport == lport && (laddr == 0 || tw->laddr == laddr))
            return true;
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

/* ---- 3.10.2 SEND, 3.10.3 RECEIVE ---- */

/* Report a pending error once, as Linux's sock_error() does. */
static int tcp_take_err(struct ts_tcp_conn *c)
{
    int e = c->err;
    c->err = 0;
    return e;
}

/* RFC 9293 3.9.1: every SEND may set PUSH; as Linux, each call's data ends with a pushed
 * segment. The end of what the call queued is remembered (the oldest mark gives way when more
 * calls wait unsent). */
static void tcp_push_mark(struct ts_tcp_conn *c)
{
    if (c->snd.npush == TCP_PUSH_MARKS) {
        memmove(&c->snd.push[0], &c->snd.push[1], (TCP_PUSH_MARKS - 1) * sizeof(c->snd.push[0]));
        c->snd.npush--;
    }
    c->snd.push[c->snd.npush++] = c->snd.buf_seq + c->sndbuf.len;
}

ssize_t ts_tcp_send(struct ts_tcp_conn *c, const void *buf, size_t len, ts_time_t now)
{
    struct ts_stack *s = c->s;
    s->now = now;
    if (c->err)
        return -tcp_take_err(c);
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
    if (ts_ring_free_space(&c->sndbuf) < c->sndbuf.cap / 2)
        c->snd.low_space = true;
    if (n == 0)
        return ts_ring_free_space(&c->sndbuf) ? -ENOMEM : -EAGAIN;
    tcp_push_mark(c);
    tcp_output(s, c);
    tcp_conn_done(s, c);
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
        if (n && tcp_synchronized(c->state)) {
            tcp_window_update(s, c);
            tcp_conn_done(s, c);
        }
        return n;
    }
    if (len == 0)
        return 0;
    if (c->rcv.fin_rcvd)
        return 0;
    if (c->err)
        return -tcp_take_err(c);
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

/* ---- 3.10.4 CLOSE, 3.10.5 ABORT ---- */

/* RFC 9293 3.10.4 CLOSE, for close and for shutdown of the write side: a FIN follows the queued
 * data. Before the connection is established it waits (established() sends it). */
static void tcp_queue_fin(struct ts_stack *s, struct ts_tcp_conn *c, const char *cause)
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
        tcp_queue_fin(s, c, "app shutdown");
        return 0;
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
        tcp_queue_fin(s, c, "app shutdown");
        break;
    case TS_TCP_LISTEN:
    case TS_TCP_CLOSE:
        return -ENOTCONN;
    default:
        return 0; /* already closing */
    }
    tcp_output(s, c);
    tcp_conn_done(s, c);
    return 0;
}

static void tcp_close_listener(struct ts_stack *s, struct ts_tcp_conn *l)
{
    /* Connections nobody accepted are reset (as Linux does when a listener closes). */
    struct ts_tcp_conn *c = s->tcp->all;
    while (c) {
        struct ts_tcp_conn *n = c->next;
        if (c->parent == l) {
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
static bool tcp_let_go(struct ts_tcp_conn *c, ts_time_t now)
{
    c->s->now = now;
    c->orphan = true;
    c->cb = NULL;
    c->user = NULL;
    if (c->is_listener) {
        tcp_close_listener(c->s, c);
        return false;
    }
    return true;
}

void ts_tcp_close(struct ts_tcp_conn *c, ts_time_t now)
{
    if (!tcp_let_go(c, now))
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
            tcp_drop(s, c, 0, "app close with unread data");
            break;
        }
        if (c->state == TS_TCP_FIN_WAIT2)
            c->timers.wait = now + TCP_FIN_TIMEOUT; /* Linux tcp_fin_timeout for orphans */
        else
            tcp_queue_fin(s, c, "app close"); /* FIN_WAIT1: queued already */
        tcp_output(s, c);
        break;
    default:
        break;
    }
    tcp_conn_done(s, c);
}

void ts_tcp_abort(struct ts_tcp_conn *c, ts_time_t now)
{
    if (!tcp_let_go(c, now))
        return;
    struct ts_stack *s = c->s;
    tcp_drop(s, c, 0, "app abort"); /* RFC 9293 3.10.5: a reset where the state calls for one */
    tcp_conn_done(s, c);
}

/* ---- readiness, options and 3.10.6 STATUS ---- */

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
        return c->sndbuf.cap ? ts_ring_free_space(&c->sndbuf) : c->opts.sndbuf;
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
    tcp_opts_sanitize(&n);
    if (n.rcvbuf < c->opts.rcvbuf)
        n.rcvbuf = c->opts.rcvbuf;
    if (n.sndbuf < c->opts.sndbuf)
        n.sndbuf = c->opts.sndbuf;
    if (c->rcvbuf.cap && n.rcvbuf > c->opts.rcvbuf &&
        ts_ring_grow(&c->rcvbuf, n.rcvbuf + tcp_rcv_slack(c)) < 0)
        return -ENOMEM;
    if (c->sndbuf.cap && n.sndbuf > c->sndbuf.cap && ts_ring_grow(&c->sndbuf, n.sndbuf) < 0)
        return -ENOMEM;
    bool ka_on = n.keepalive && !c->opts.keepalive;
    if (n.cc_set)
        tcp_cc_select(c, n.cc);
    c->opts = n;
    if (ka_on || !n.keepalive)
        tcp_keepalive_reset(c, now);
    if (tcp_synchronized(c->state)) {
        tcp_window_update(s, c);
        tcp_output(s, c); /* nodelay may release held data */
    }
    tcp_conn_done(s, c);
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
    if (!c->is_listener && c->cc.ops) {
        i->cc = c->cc.ops->name;
        if (c->cc.ops == &tcp_cc_bbr)
            tcp_bbr_get_model(c, &i->bbr_bw, &i->bbr_min_rtt, &i->bbr_mode);
    }
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

/* Does the query take entries in state st? */
static bool tcp_query_takes(const struct ts_tcp_query *q, enum ts_tcp_state st)
{
    return !q || !q->states || (q->states & (1u << st));
}

size_t ts_tcp_table_page(const struct ts_stack *s, const struct ts_tcp_query *q,
                         struct ts_tcp_info *out, size_t max, ts_time_t now)
{
    const struct ts_tcp_table *t = s->tcp;
    size_t skip = q ? q->offset : 0, n = 0;
    bool every_state = !q || !q->states;
    if (max == 0 || !out)
        return 0;
    /* Blocks, newest first; skipped whole when the offset lies past them (no filter). */
    if (every_state && skip >= t->count) {
        skip -= t->count;
    } else {
        for (const struct ts_tcp_conn *c = t->all; c && n < max; c = c->next) {
            if (!tcp_query_takes(q, c->state))
                continue;
            if (skip) {
                skip--;
                continue;
            }
            ts_tcp_get_info(c, &out[n++], now);
        }
    }
    if (!tcp_query_takes(q, TS_TCP_TIME_WAIT))
        return n;
    /* Then the compact TIME_WAIT records, the next to end first. */
    for (const struct tcp_tw *tw = t->tw_head; tw && n < max; tw = tw->next) {
        if (skip) {
            skip--;
            continue;
        }
        tcp_tw_get_info(tw, &out[n++], now);
    }
    return n;
}

size_t ts_tcp_table(const struct ts_stack *s, struct ts_tcp_info *out, size_t max, ts_time_t now)
{
    ts_tcp_table_page(s, NULL, out, max, now);
    return s->tcp->count + s->tcp->tw_count;
}

void ts_tcp_summary(const struct ts_stack *s, struct ts_tcp_summary *sum)
{
    const struct ts_tcp_table *t = s->tcp;
    memset(sum, 0, sizeof(*sum));
    sum->total = t->count + t->tw_count;
    for (int st = 0; st < TS_TCP_NSTATES; st++)
        sum->state[st] = t->by_state[st];
    sum->time_wait_compact = t->tw_count;
    sum->conn_bytes = t->count * sizeof(struct ts_tcp_conn);
    sum->time_wait_bytes = t->tw_count * sizeof(struct tcp_tw);
    sum->buffer_bytes = t->ring_pool.held;
    sum->buffer_cache_bytes = t->ring_pool.cached;
    sum->hash_bytes =
        ((size_t)t->hash.mask + 1 + (size_t)t->tw_hash.mask + 1) * sizeof(struct tcp_hnode *);
    sum->timers_running = t->wheel.count;
    sum->timer_runs = t->timer_visits;
}
