/* Many connections: the timer wheel (every timer at its exact deadline, re-arming, cancelling,
 * equal deadlines in scheduling order, far deadlines, blocks freed while due), the cost of a poll
 * with thousands of idle connections, compact TIME_WAIT records (RFC 9293 3.10.7.4, RFC 1337,
 * RFC 6191, the tcp_max_tw bound), buffers that hold memory only while data waits, and the
 * table's summary and pages. Virtual clock, in-memory link. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp/tcp_internal.h"
#include "tcp_fixture.h"

#define MS  TS_MS
#define SEC TS_SEC
#define MSL (30 * SEC)

/* ------------------------------------------------------------------ the wheel */

static struct tcp_tnode *pop_due(struct tcp_tlink *due)
{
    if (due->next == due)
        return NULL;
    struct tcp_tlink *l = due->next;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->next = l->prev = NULL;
    return (struct tcp_tnode *)(void *)((char *)l - offsetof(struct tcp_tnode, link));
}

/* Run the wheel as a run loop does, waking at each tcp_wheel_next(), until nothing is left or
 * end. Each node that fires is checked to fire at exactly its deadline, after the one before it
 * in (deadline, scheduling order); out[] gets the nodes in firing order. Returns the wake-ups. */
static size_t run_wheel(struct tcp_wheel *w, ts_time_t end, struct tcp_tnode **out, size_t *nout)
{
    size_t wakeups = 0;
    const struct tcp_tnode *last = NULL;
    for (;;) {
        ts_time_t now = tcp_wheel_next(w);
        if (now == TS_TIME_NEVER || now > end)
            return wakeups;
        wakeups++;
        struct tcp_tlink due;
        tcp_wheel_advance(w, now, &due);
        struct tcp_tnode *n;
        while ((n = pop_due(&due))) {
            ck_assert_uint_eq(n->when, now); /* never late, never early */
            if (last)
                ck_assert(last->when < n->when || (last->when == n->when && last->seq < n->seq));
            last = n;
            out[(*nout)++] = n;
        }
    }
}

START_TEST(test_wheel_many_timers_fire_at_their_exact_deadlines_in_order)
{
    enum { N = 20000 };
    static struct tcp_wheel w;
    static struct tcp_tnode nodes[N];
    static struct tcp_tnode *out[N];
    ts_time_t t0 = 1000 * SEC + 123;
    tcp_wheel_init(&w, t0);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* From now to 40 days ahead, every level of the wheel; many deadlines are equal. */
        ts_time_t spread[] = {5 * MS, 300 * MS, 20 * SEC, 3600 * SEC, 40 * 24 * 3600ull * SEC};
        ts_time_t d = (x >> 8) % spread[i % 5];
        if (i % 7 == 0)
            d -= d % (100 * MS);
        memset(&nodes[i], 0, sizeof(nodes[i]));
        tcp_wheel_add(&w, &nodes[i], t0 + d);
    }
    ck_assert_uint_eq(w.count, N);
    size_t nout = 0;
    size_t wakeups = run_wheel(&w, TS_TIME_NEVER, out, &nout);
    ck_assert_uint_eq(nout, N);
    ck_assert_uint_eq(w.count, 0);
    ck_assert_uint_eq(tcp_wheel_next(&w), TS_TIME_NEVER);
    /* At most one wake-up per deadline and per level a node cascades down through. */
    ck_assert_uint_le(wakeups, (size_t)N * TCP_WHEEL_LEVELS);
}
END_TEST

START_TEST(test_wheel_rearmed_timer_fires_once_at_its_new_deadline_and_cancelled_never)
{
    static struct tcp_wheel w;
    struct tcp_tnode a = {0}, b = {0}, c = {0}, *out[4];
    ts_time_t t0 = 50 * SEC;
    tcp_wheel_init(&w, t0);
    tcp_wheel_add(&w, &a, t0 + 10 * MS);
    tcp_wheel_add(&w, &b, t0 + 20 * MS);
    tcp_wheel_add(&w, &c, t0 + 90 * SEC);
    tcp_wheel_del(&w, &a);
    tcp_wheel_add(&w, &a, t0 + 50 * MS); /* later */
    tcp_wheel_del(&w, &b);               /* cancelled */
    tcp_wheel_del(&w, &c);
    tcp_wheel_add(&w, &c, t0 + 5 * MS); /* earlier */
    tcp_wheel_del(&w, &b);              /* twice: no harm */
    ck_assert(!tcp_wheel_pending(&b));
    size_t nout = 0;
    run_wheel(&w, TS_TIME_NEVER, out, &nout);
    ck_assert_uint_eq(nout, 2);
    ck_assert_ptr_eq(out[0], &c);
    ck_assert_uint_eq(out[0]->when, t0 + 5 * MS);
    ck_assert_ptr_eq(out[1], &a);
    ck_assert_uint_eq(out[1]->when, t0 + 50 * MS);
    /* A cancelled timer's deadline may be given once as a bound; once passed, nothing is left
     * to wake for (a loop would otherwise spin at it). */
    tcp_wheel_add(&w, &b, t0 + 70 * MS);
    ck_assert_uint_eq(tcp_wheel_next(&w), t0 + 70 * MS);
    tcp_wheel_del(&w, &b);
    ck_assert_uint_le(tcp_wheel_next(&w), t0 + 70 * MS);
    struct tcp_tlink due;
    tcp_wheel_advance(&w, t0 + 70 * MS, &due);
    ck_assert_ptr_null(pop_due(&due));
    ck_assert_uint_eq(tcp_wheel_next(&w), TS_TIME_NEVER);
}
END_TEST

/* Equal deadlines fire in the order they were set, also when the first one was set far ahead
 * (it cascaded down the levels) and the others when the deadline was near. */
START_TEST(test_wheel_equal_deadlines_fire_in_scheduling_order)
{
    static struct tcp_wheel w;
    struct tcp_tnode n[5], *out[5];
    memset(n, 0, sizeof n);
    ts_time_t t0 = 7 * SEC, d = t0 + 10 * SEC;
    tcp_wheel_init(&w, t0);
    tcp_wheel_add(&w, &n[0], d);
    size_t nout = 0;
    run_wheel(&w, d - 20 * MS, out, &nout); /* the clock goes close to d */
    struct tcp_tlink due;
    tcp_wheel_advance(&w, d - 20 * MS, &due);
    ck_assert_ptr_null(pop_due(&due));
    for (int i = 1; i < 5; i++)
        tcp_wheel_add(&w, &n[i], d);
    run_wheel(&w, TS_TIME_NEVER, out, &nout);
    ck_assert_uint_eq(nout, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_eq(out[i], &n[i]);
}
END_TEST

/* A deadline beyond the wheel's top level (2.2 years) waits at the top and still fires exactly;
 * a node taken out of a poll's due list (its block freed meanwhile) is not run. */
START_TEST(test_wheel_far_deadline_fires_exactly_and_node_removed_from_due_list_is_not_run)
{
    static struct tcp_wheel w;
    struct tcp_tnode far = {0}, n[3], *out[3];
    memset(n, 0, sizeof n);
    ts_time_t t0 = 3 * SEC, five_years = 5 * 365 * 24 * 3600ull * SEC;
    tcp_wheel_init(&w, t0);
    tcp_wheel_add(&w, &far, t0 + five_years + 17);
    size_t nout = 0;
    run_wheel(&w, TS_TIME_NEVER, out, &nout);
    ck_assert_uint_eq(nout, 1);
    ck_assert_uint_eq(out[0]->when, t0 + five_years + 17);

    ts_time_t t1 = t0 + five_years + SEC;
    for (int i = 0; i < 3; i++)
        tcp_wheel_add(&w, &n[i], t1 + (ts_time_t)i);
    struct tcp_tlink due;
    tcp_wheel_advance(&w, t1 + 5, &due);
    tcp_wheel_del(&w, &n[1]); /* as tcp_conn_free does for a block freed while due */
    ck_assert_ptr_eq(pop_due(&due), &n[0]);
    ck_assert_ptr_eq(pop_due(&due), &n[2]);
    ck_assert_ptr_null(pop_due(&due));
    ck_assert_uint_eq(w.count, 0);
}
END_TEST

/* ------------------------------------------------------------------ many connections */

/* n more connections from the peer (ports base, base + 1, ...), established and accepted from
 * f->listener; the handles go to out. */
static void open_many(struct tf *f, unsigned n, uint16_t base, struct ts_tcp_conn **out)
{
    for (unsigned i = 0; i < n; i++) {
        struct tcp_hdr h = tf_hdr(f, TCP_SYN, 1000u + i * 70000u, 0);
        h.sport = (uint16_t)(base + i);
        tf_send_hdr(f, &h);
        struct tf_seg *sa = tf_next(f);
        ck_assert_ptr_nonnull(sa);
        struct tcp_hdr a = tf_hdr(f, TCP_ACK, h.seq + 1, sa->h.seq + 1);
        a.sport = h.sport;
        tf_send_hdr(f, &a);
        out[i] = ts_tcp_accept(f->listener);
        ck_assert_ptr_nonnull(out[i]);
        tf_flush(f);
    }
}

/* The connection under test (f->rport, f->peer_iss) through the listener already there, as
 * tf_establish does through a new one. */
static void establish_on(struct tf *f)
{
    struct tcp_hdr h = tf_hdr(f, TCP_SYN, f->peer_iss, 0);
    h.opts = f->peer_syn_opts;
    if (f->peer_ts) {
        h.opts.ts_ok = true;
        h.opts.tsval = (uint32_t)(f->now / TS_MS) + f->peer_ts_offset;
    }
    tf_send_hdr(f, &h);
    f->peer_nxt = f->peer_iss + 1;
    struct tf_seg *sa = tf_next(f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    f->stack_iss = sa->h.seq;
    f->stack_nxt = sa->h.seq + 1;
    tf_send_ack(f);
    f->conn = ts_tcp_accept(f->listener);
    ck_assert_ptr_nonnull(f->conn);
    ck_assert_int_eq(ts_tcp_state(f->conn), TS_TCP_ESTABLISHED);
    tf_expect_nothing(f);
}

/* n idle connections with keep-alive on (a timer 2 h ahead each), then 10 s of request and
 * response on one more: how many times a block's timers were run. */
static uint64_t timer_runs_with_idle(unsigned n, size_t *running)
{
    struct tf f;
    tf_init(&f);
    struct ts_tcp_opts o;
    ts_tcp_opts_default(f.s, &o);
    int err = 0;
    f.listener = ts_tcp_listen(f.s, 0, TF_STACK_PORT, 4096, &o, &err, f.now);
    o.keepalive = true;
    ck_assert_ptr_nonnull(f.listener);
    f.lport = TF_STACK_PORT;
    struct ts_tcp_conn **idle = calloc(n, sizeof(*idle));
    open_many(&f, n, 10000, idle);
    establish_on(&f);
    for (unsigned i = 0; i < n; i++) /* (switched on per connection: armed at once) */
        ck_assert_int_eq(ts_tcp_set_opts(idle[i], &o, f.now), 0);
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f.s, &sum);
    uint64_t before = sum.timer_runs;
    char buf[64];
    for (int i = 0; i < 100; i++) {
        tf_send_data(&f, "ping", 4);
        ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof buf, f.now), 4);
        if (i % 2) /* else no answer: the delayed ACK timer runs */
            ck_assert_int_eq(ts_tcp_send(f.conn, "pong", 4, f.now), 4);
        tf_advance(&f, 100 * MS);
        struct tf_seg *sg;
        while ((sg = tf_next(&f)))
            if (sg->h.payload_len)
                f.stack_nxt += (uint32_t)sg->h.payload_len;
        tf_send_ack(&f);
    }
    ts_tcp_summary(f.s, &sum);
    *running = sum.timers_running;
    ck_assert_uint_ge(sum.hash_bytes / sizeof(void *), n); /* chains stay short */
    for (unsigned i = 0; i < n; i++)
        ts_tcp_abort(idle[i], f.now);
    free(idle);
    tf_free(&f);
    return sum.timer_runs - before;
}

/* The cost of polling does not grow with the connections that are not due: 10 s of traffic with
 * 2000 idle connections runs exactly the timers it runs with 10 (the old poll visited every
 * connection each time). */
START_TEST(test_poll_runs_only_due_connections_however_many_are_idle)
{
    size_t running_few, running_many;
    uint64_t few = timer_runs_with_idle(10, &running_few);
    uint64_t many = timer_runs_with_idle(2000, &running_many);
    ck_assert_uint_eq(running_few, 10 + 1); /* every keep-alive timer is in the wheel */
    ck_assert_uint_eq(running_many, 2000 + 1);
    ck_assert_uint_gt(few, 0);
    ck_assert_uint_eq(many, few);
    ck_assert_uint_lt(few, 1000);
}
END_TEST

/* ------------------------------------------------------------------ compact TIME_WAIT */

static const struct ts_tcp_info *find_state(const struct ts_tcp_info *t, size_t n,
                                            enum ts_tcp_state st)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].state == st)
            return &t[i];
    return NULL;
}

/* The connection under test, ESTABLISHED, closes first: TIME_WAIT, then its owner lets go: a
 * compact record. */
static void close_to_record(struct tf *f)
{
    ck_assert_int_eq(ts_tcp_shutdown_write(f->conn, f->now), 0);
    tf_expect(f, TCP_FIN | TCP_ACK, f->stack_nxt, f->peer_nxt);
    f->stack_nxt++;
    tf_send_ack(f);
    tf_send_fin(f);
    tf_advance(f, 100 * MS);
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    ck_assert_int_eq(tf_state(f), TS_TCP_TIME_WAIT);
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
}

/* The connection under test in TIME_WAIT, then its owner lets go: a compact record. */
static void time_wait_record(struct tf *f)
{
    tf_time_wait(f);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f->s, &sum);
    ck_assert_uint_eq(sum.time_wait_compact, 0); /* held by its owner: still a block */
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
    ts_tcp_summary(f->s, &sum);
    ck_assert_uint_eq(sum.time_wait_compact, 1);
    ck_assert_uint_eq(sum.state[TS_TCP_TIME_WAIT], 1);
    ck_assert_uint_eq(sum.conn_bytes, sizeof(struct ts_tcp_conn)); /* the listener's only */
    ck_assert_uint_lt(sum.time_wait_bytes, 128);
}

START_TEST(test_time_wait_record_listed_with_its_countdown_and_expires_after_2msl)
{
    struct tf f;
    tf_init(&f);
    time_wait_record(&f);
    ts_time_t entered = tf_time_of(&f, TS_TCP_TIME_WAIT);
    tf_advance(&f, 10 * SEC);
    struct ts_tcp_info t[4];
    size_t n = ts_tcp_table(f.s, t, 4, f.now);
    ck_assert_uint_eq(n, 2);
    const struct ts_tcp_info *tw = find_state(t, n, TS_TCP_TIME_WAIT);
    ck_assert_ptr_nonnull(tw);
    ck_assert_uint_eq(tw->lport, TF_STACK_PORT);
    ck_assert_uint_eq(tw->rport, TF_PEER_PORT);
    ck_assert_str_eq(tw->timer_name, "time-wait");
    ck_assert_uint_eq(tw->timer, entered + 2 * MSL - f.now);
    ck_assert_uint_eq(tw->state_age, f.now - entered);
    ck_assert(tw->orphan);
    tf_advance(&f, entered + 2 * MSL - MS - f.now);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2);
    tf_advance(&f, 2 * MS);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    ck_assert_str_eq(tf_path(&f),
                     "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE");
    ck_assert_str_eq(tf_cause_of(&f, TS_TCP_CLOSE), "2MSL timer expired");
    ck_assert_uint_eq(tf_time_of(&f, TS_TCP_CLOSE), entered + 2 * MSL);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4: a retransmitted FIN in TIME-WAIT is acknowledged and restarts 2 MSL. */
START_TEST(test_time_wait_record_acks_retransmitted_fin_and_restarts_2msl)
{
    struct tf f;
    tf_init(&f);
    time_wait_record(&f);
    tf_advance(&f, MSL);
    ts_time_t fin2 = f.now;
    tf_send(&f, TCP_FIN | TCP_ACK, f.peer_nxt - 1, f.stack_nxt, NULL, 0);
    struct tf_seg *ack = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_gt(ack->h.wnd, 0);
    tf_expect_nothing(&f);
    tf_advance(&f, fin2 + 2 * MSL - MS - f.now);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2);
    tf_advance(&f, 2 * MS);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    ck_assert_uint_eq(tf_time_of(&f, TS_TCP_CLOSE), fin2 + 2 * MSL);
    tf_free(&f);
}
END_TEST

/* The record answers exactly as the block did: its ACK is the same segment, window included. */
START_TEST(test_time_wait_record_ack_is_the_blocks_ack)
{
    struct tf f;
    tf_init(&f);
    tf_time_wait(&f);
    tf_send(&f, TCP_FIN | TCP_ACK, f.peer_nxt - 1, f.stack_nxt, NULL, 0);
    struct tf_seg *by_block = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    tf_send(&f, TCP_FIN | TCP_ACK, f.peer_nxt - 1, f.stack_nxt, NULL, 0);
    struct tf_seg *by_record = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(by_record->len, by_block->len);
    ck_assert_uint_eq(by_record->h.wnd, by_block->h.wnd);
    ck_assert_int_eq(memcmp(by_record->frame, by_block->frame, by_block->len), 0);
    tf_free(&f);
}
END_TEST

/* RFC 1337: a RST does not end TIME-WAIT early (in the window or at RCV.NXT). */
START_TEST(test_time_wait_record_ignores_rst)
{
    struct tf f;
    tf_init(&f);
    time_wait_record(&f);
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_TIME_WAIT_RST), 1);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2);
    ck_assert_ptr_null(strstr(tf_path(&f), "TIME_WAIT CLOSE"));
    tf_free(&f);
}
END_TEST

/* RFC 6191 without timestamps: a SYN whose sequence number lies above RCV.NXT reopens the 4-tuple
 * with an ISS above the old connection's; a lower one is an old duplicate (an ACK answers). */
START_TEST(test_time_wait_record_reopened_by_higher_seq_not_by_lower)
{
    struct tf f;
    tf_init(&f);
    time_wait_record(&f);
    uint32_t old_nxt = f.stack_nxt;
    tf_send(&f, TCP_SYN, f.peer_nxt - 1000, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 0);
    uint32_t iss2 = f.peer_nxt + 100000;
    tf_send(&f, TCP_SYN, iss2, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, iss2 + 1);
    ck_assert(seq_geq(sa->h.seq, old_nxt + 65536));
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 1);
    ck_assert_str_eq(tf_cause_of(&f, TS_TCP_CLOSE), "new SYN in TIME_WAIT (RFC 6191)");
    tf_send(&f, TCP_ACK, iss2 + 1, sa->h.seq + 1, NULL, 0);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(ts_tcp_state(f.conn), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

/* RFC 6191 with timestamps: the timestamp decides, not the sequence number. */
START_TEST(test_time_wait_record_reopened_by_higher_timestamp_not_by_lower)
{
    struct tf f;
    tf_init(&f);
    f.peer_ts = true;
    f.peer_ts_offset = 1000000;
    time_wait_record(&f);
    tf_advance(&f, SEC);
    f.peer_ts_offset -= 100000; /* an older clock: the SYN's TSval is below TS.Recent */
    tf_send(&f, TCP_SYN, f.peer_nxt + 100000, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 0);
    f.peer_ts_offset += 200000; /* newer: reopens, though its sequence number is lower */
    uint32_t iss2 = f.peer_nxt - 5000;
    tf_send(&f, TCP_SYN, iss2, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, iss2 + 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 1);
    tf_free(&f);
}
END_TEST

/* tcp_max_tw: past the bound the oldest record ends early, traced and counted. */
START_TEST(test_time_wait_records_bounded_by_tcp_max_tw_oldest_recycled)
{
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_max_tw = 3;
    struct tf f;
    tf_init_cfg(&f, &cfg);
    tf_listen(&f);
    for (uint16_t i = 0; i < 5; i++) {
        f.rport = (uint16_t)(41000 + i);
        f.peer_iss = 90000u * (i + 1);
        establish_on(&f);
        tf_advance(&f, SEC);
        close_to_record(&f);
        if (i < 2)
            ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_RECYCLED), 0);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_RECYCLED), 2);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f.s, &sum);
    ck_assert_uint_eq(sum.time_wait_compact, 3);
    ck_assert_str_eq(tf_path_of(&f, TF_STACK_PORT, 41000),
                     "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE");
    ck_assert_str_eq(tf_path_of(&f, TF_STACK_PORT, 41002),
                     "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT");
    bool traced = false;
    for (size_t i = 0; i < f.nev; i++)
        if (f.ev[i].rport == 41001 && f.ev[i].to == TS_TCP_CLOSE)
            traced = !strcmp(f.ev[i].cause, "TIME_WAIT recycled: tcp_max_tw reached");
    ck_assert(traced);
    tf_free(&f);
}
END_TEST

/* A record keeps its port: without SO_REUSEADDR the port is in use and the 4-tuple cannot be
 * connected again; with it, the port can be bound (as Linux). */
START_TEST(test_time_wait_record_keeps_port_in_use_semantics)
{
    struct tf f;
    tf_init(&f);
    tf_establish_active(&f);
    uint16_t lport = f.lport;
    close_to_record(&f);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f.s, &sum);
    ck_assert_uint_eq(sum.time_wait_compact, 1);
    ck_assert(ts_tcp_port_in_use(f.s, 0, lport, false));
    ck_assert(ts_tcp_port_in_use(f.s, TF_STACK_IP, lport, false));
    ck_assert(!ts_tcp_port_in_use(f.s, 0, lport, true));
    int err = 0;
    ck_assert_ptr_null(ts_tcp_connect(f.s, 0, lport, TF_PEER_IP, TF_PEER_PORT, NULL, &err, f.now));
    ck_assert_int_eq(err, EADDRINUSE);
    /* An ephemeral port for the same peer avoids it. */
    struct ts_tcp_conn *c = ts_tcp_connect(f.s, 0, 0, TF_PEER_IP, TF_PEER_PORT, NULL, &err, f.now);
    ck_assert_ptr_nonnull(c);
    uint16_t p2;
    ts_tcp_endpoints(c, NULL, &p2, NULL, NULL);
    ck_assert_uint_ne(p2, lport);
    ts_tcp_abort(c, f.now);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ buffers */

static size_t buffer_bytes(struct ts_stack *s)
{
    struct ts_tcp_summary sum;
    ts_tcp_summary(s, &sum);
    return sum.buffer_bytes;
}

struct flow {
    struct th_net n;
    struct ts_tcp_conn *l, *a, *b;
    uint8_t b_wscale;
    uint32_t b_edge; /* the right edge B last advertised */
    bool b_edge_seen;
    unsigned edges_checked;
};

/* Every segment B sends: its right edge (ACK + window) never moves left (RFC 9293 3.8.6.2.2),
 * but for the rounding of a scaled window field, less than 2^shift (RFC 7323 2.4: the receiver
 * takes data up to the furthest edge it ever advertised). */
static void spy_b(void *arg, enum th_side from, const uint8_t *frame, size_t len, ts_time_t now)
{
    (void)now;
    struct flow *x = arg;
    struct eth_hdr eh;
    struct ipv4_hdr ip;
    struct tcp_hdr h;
    if (from != TH_B || eth_parse(frame, len, &eh) != TS_C_OK || eh.type != ETH_TYPE_IPV4 ||
        ipv4_parse(eh.payload, eh.payload_len, &ip) != TS_C_OK || ip.proto != IP_PROTO_TCP ||
        tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, &h) != TS_C_OK)
        return;
    if (h.flags & TCP_SYN) {
        x->b_wscale = h.opts.ws_ok ? h.opts.ws : 0;
        return;
    }
    if (!(h.flags & TCP_ACK) || (h.flags & TCP_RST))
        return;
    uint32_t edge = h.ack + ((uint32_t)h.wnd << x->b_wscale);
    if (x->b_edge_seen)
        ck_assert_msg(seq_gt(edge + (1u << x->b_wscale), x->b_edge),
                      "B's right edge moved left: %u -> %u (ack %u wnd %u)", x->b_edge, edge, h.ack,
                      h.wnd);
    if (!x->b_edge_seen || seq_gt(edge, x->b_edge))
        x->b_edge = edge;
    x->b_edge_seen = true;
    x->edges_checked++;
}

static bool flow_established(void *arg)
{
    struct flow *x = arg;
    if (!x->b)
        x->b = ts_tcp_accept(x->l);
    return x->b && ts_tcp_state(x->a) == TS_TCP_ESTABLISHED;
}

/* Rounds of 300 KB from A to B and 100 KB back, read as they come; between rounds, idle: both
 * sides hold no buffer memory, and what comes next is byte for byte what was sent. */
START_TEST(test_idle_connection_holds_no_buffer_memory_data_flows_byte_identical)
{
    static struct flow x;
    memset(&x, 0, sizeof x);
    th_net_init(&x.n, 1 * MS);
    x.n.spy = spy_b;
    x.n.spy_arg = &x;
    int err = 0;
    x.l = ts_tcp_listen(x.n.b, 0, 80, 16, NULL, &err, x.n.now);
    x.a = ts_tcp_connect(x.n.a, 0, 0, TH_IP_B, 80, NULL, &err, x.n.now);
    ck_assert(th_run_until(&x.n, flow_established, &x, 5 * SEC));
    th_run(&x.n, SEC);
    ck_assert_uint_eq(buffer_bytes(x.n.a), 0);
    ck_assert_uint_eq(buffer_bytes(x.n.b), 0);
    static uint8_t chunk[16384], got[16384];
    uint64_t sent_ab = 0, rcvd_ab = 0, sent_ba = 0, rcvd_ba = 0;
    size_t peak = 0;
    for (int round = 0; round < 4; round++) {
        uint64_t end_ab = sent_ab + 300000, end_ba = sent_ba + 100000;
        for (int guard = 0; (rcvd_ab < end_ab || rcvd_ba < end_ba) && guard < 100000; guard++) {
            if (sent_ab < end_ab) {
                size_t k = end_ab - sent_ab < sizeof chunk ? end_ab - sent_ab : sizeof chunk;
                tf_fill(chunk, k, 1, sent_ab);
                ssize_t r = ts_tcp_send(x.a, chunk, k, x.n.now);
                if (r > 0)
                    sent_ab += (uint64_t)r;
            }
            if (sent_ba < end_ba) {
                size_t k = end_ba - sent_ba < sizeof chunk ? end_ba - sent_ba : sizeof chunk;
                tf_fill(chunk, k, 2, sent_ba);
                ssize_t r = ts_tcp_send(x.b, chunk, k, x.n.now);
                if (r > 0)
                    sent_ba += (uint64_t)r;
            }
            size_t held = buffer_bytes(x.n.a) + buffer_bytes(x.n.b);
            peak = held > peak ? held : peak;
            th_run(&x.n, 2 * MS);
            ssize_t r;
            while ((r = ts_tcp_recv(x.b, got, sizeof got, x.n.now)) > 0) {
                tf_fill(chunk, (size_t)r, 1, rcvd_ab);
                ck_assert_int_eq(memcmp(got, chunk, (size_t)r), 0);
                rcvd_ab += (uint64_t)r;
            }
            while ((r = ts_tcp_recv(x.a, got, sizeof got, x.n.now)) > 0) {
                tf_fill(chunk, (size_t)r, 2, rcvd_ba);
                ck_assert_int_eq(memcmp(got, chunk, (size_t)r), 0);
                rcvd_ba += (uint64_t)r;
            }
        }
        ck_assert_uint_eq(rcvd_ab, end_ab);
        ck_assert_uint_eq(rcvd_ba, end_ba);
        th_run(&x.n, SEC); /* idle: everything acknowledged and read */
        ck_assert_uint_eq(buffer_bytes(x.n.a), 0);
        ck_assert_uint_eq(buffer_bytes(x.n.b), 0);
    }
    ck_assert_uint_gt(peak, 0);
    ck_assert_uint_gt(x.edges_checked, 100);
    ts_tcp_abort(x.a, x.n.now);
    ts_tcp_abort(x.b, x.n.now);
    ts_tcp_close(x.l, x.n.now);
    th_net_free(&x.n);
}
END_TEST

/* Out-of-order data lands in pages taken for it, beyond a hole; the hole filled, all of it is
 * delivered in order, and once read the ring holds nothing. */
START_TEST(test_out_of_order_data_takes_pages_on_demand_and_gives_them_back)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    static uint8_t data[20000], got[20000];
    tf_fill(data, sizeof data, 3, 0);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt + 12000, f.stack_nxt, data + 12000, 1400);
    ck_assert_uint_gt(buffer_bytes(f.s), 0);
    for (uint32_t off = 0; off < 12000; off += 1200)
        tf_send(&f, TCP_ACK, f.peer_nxt + off, f.stack_nxt, data + off, 1200);
    f.peer_nxt += 13400;
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 13400);
    ck_assert_uint_eq(tf_read_all(&f, f.conn, got, sizeof got), 13400);
    ck_assert_int_eq(memcmp(got, data, 13400), 0);
    ck_assert_uint_eq(buffer_bytes(f.s), 0);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ summary and pages */

START_TEST(test_summary_counts_states_and_pages_cover_the_table)
{
    struct tf f;
    tf_init(&f);
    time_wait_record(&f); /* listener + a TIME_WAIT record */
    struct ts_tcp_conn *c[6];
    open_many(&f, 6, 30000, c); /* 6 ESTABLISHED */
    ts_tcp_abort(c[5], f.now);  /* 5 left */
    tf_flush(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, 4242, 0); /* one SYN_RECV */
    h.sport = 31000;
    tf_send_hdr(&f, &h);
    tf_flush(&f);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f.s, &sum);
    ck_assert_uint_eq(sum.total, 8);
    ck_assert_uint_eq(sum.state[TS_TCP_LISTEN], 1);
    ck_assert_uint_eq(sum.state[TS_TCP_ESTABLISHED], 5);
    ck_assert_uint_eq(sum.state[TS_TCP_SYN_RECV], 1);
    ck_assert_uint_eq(sum.state[TS_TCP_TIME_WAIT], 1);
    ck_assert_uint_eq(sum.state[TS_TCP_CLOSE], 0);
    struct ts_tcp_info all[16], page[3];
    size_t n = ts_tcp_table(f.s, all, 16, f.now);
    ck_assert_uint_eq(n, 8);
    size_t counted[TS_TCP_NSTATES] = {0};
    for (size_t i = 0; i < n; i++)
        counted[all[i].state]++;
    for (int st = 0; st < TS_TCP_NSTATES; st++)
        ck_assert_uint_eq(counted[st], sum.state[st]);
    /* Pages of 3 in a row give the same entries in the same order. */
    for (size_t off = 0; off < n + 3; off += 3) {
        struct ts_tcp_query q = {.offset = off};
        size_t k = ts_tcp_table_page(f.s, &q, page, 3, f.now);
        ck_assert_uint_eq(k, off >= n ? 0 : (n - off < 3 ? n - off : 3));
        for (size_t i = 0; i < k; i++)
            ck_assert_uint_eq(page[i].id, all[off + i].id);
    }
    /* Only some states. */
    struct ts_tcp_query est = {.states = 1u << TS_TCP_ESTABLISHED, .offset = 1};
    ck_assert_uint_eq(ts_tcp_table_page(f.s, &est, all, 16, f.now), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(all[i].state, TS_TCP_ESTABLISHED);
    struct ts_tcp_query tw = {.states = 1u << TS_TCP_TIME_WAIT};
    ck_assert_uint_eq(ts_tcp_table_page(f.s, &tw, all, 16, f.now), 1);
    ck_assert_int_eq(all[0].state, TS_TCP_TIME_WAIT);
    ck_assert_str_eq(all[0].timer_name, "time-wait");
    for (int i = 0; i < 5; i++)
        ts_tcp_abort(c[i], f.now);
    tf_free(&f);
}
END_TEST

static Suite *tcp_scale_suite(void)
{
    Suite *s = suite_create("tcp_scale");
    TCase *tc = tcase_create("wheel");
    tcase_add_test(tc, test_wheel_many_timers_fire_at_their_exact_deadlines_in_order);
    tcase_add_test(tc, test_wheel_rearmed_timer_fires_once_at_its_new_deadline_and_cancelled_never);
    tcase_add_test(tc, test_wheel_equal_deadlines_fire_in_scheduling_order);
    tcase_add_test(tc,
                   test_wheel_far_deadline_fires_exactly_and_node_removed_from_due_list_is_not_run);
    tcase_add_test(tc, test_poll_runs_only_due_connections_however_many_are_idle);
    suite_add_tcase(s, tc);
    tc = tcase_create("time_wait");
    tcase_add_test(tc, test_time_wait_record_listed_with_its_countdown_and_expires_after_2msl);
    tcase_add_test(tc, test_time_wait_record_acks_retransmitted_fin_and_restarts_2msl);
    tcase_add_test(tc, test_time_wait_record_ack_is_the_blocks_ack);
    tcase_add_test(tc, test_time_wait_record_ignores_rst);
    tcase_add_test(tc, test_time_wait_record_reopened_by_higher_seq_not_by_lower);
    tcase_add_test(tc, test_time_wait_record_reopened_by_higher_timestamp_not_by_lower);
    tcase_add_test(tc, test_time_wait_records_bounded_by_tcp_max_tw_oldest_recycled);
    tcase_add_test(tc, test_time_wait_record_keeps_port_in_use_semantics);
    suite_add_tcase(s, tc);
    tc = tcase_create("buffers");
    tcase_add_test(tc, test_idle_connection_holds_no_buffer_memory_data_flows_byte_identical);
    tcase_add_test(tc, test_out_of_order_data_takes_pages_on_demand_and_gives_them_back);
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_add_test(tc, test_summary_counts_states_and_pages_cover_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_scale_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
