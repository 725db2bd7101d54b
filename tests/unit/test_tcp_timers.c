/* Delayed ACKs (RFC 1122 4.2.3.2, RFC 5681 4.2), Nagle's algorithm (RFC
 * 1122 4.2.3.4, RFC 896) on and off, and keep-alive (RFC 1122 4.2.3.6: off by
 * default; probes after idle; abort after the configured count). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS  TS_MS
#define SEC TS_SEC

static uint8_t pat[100000];

/* Past the quick-ACK phase at connection start (the first 16 segments are ACKed at once, as
 * Linux's quick-ACK mode): the peer sends full segments in pairs until the stack has ACKed 40
 * of them. No pause is longer than the RTO (200 ms): that would start quick-ACK mode again. */
static void warm_up(struct tf *f)
{
    for (int i = 0; i < 20; i++) {
        tf_send_data(f, pat, TF_MSS);
        tf_send_data(f, pat, TF_MSS);
        tf_advance(f, 100 * MS);
        tf_flush(f);
    }
    uint8_t sink[TF_MSS];
    while (ts_tcp_recv(f->conn, sink, sizeof(sink), f->now) > 0)
        ;
    tf_advance(f, 50 * MS);
    tf_flush(f);
}

/* RFC 1122 4.2.3.2: an ACK may be delayed, but never more than 0.5 s; tapstack
 * uses <= 200 ms. */
START_TEST(test_single_segment_ack_is_delayed_at_most_200ms)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    warm_up(&f);
    uint64_t d0 = tf_count(&f, TS_C_TCP_DELAYED_ACK);
    ts_time_t sent = f.now;
    tf_send_data(&f, "small", 5);
    tf_expect_nothing(&f); /* not at once: delayed */
    struct tf_seg *a = tf_wait_seg(&f, 500 * MS);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->h.flags & ~TCP_PSH, TCP_ACK);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    ck_assert_uint_gt(a->t - sent, 0);
    ck_assert_uint_le(a->t - sent, 200 * MS);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DELAYED_ACK), d0 + 1);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* RFC 5681 4.2 / RFC 1122 4.2.3.2: at least every second full-sized segment is
 * ACKed at once. */
START_TEST(test_every_second_full_segment_acked_at_once)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    warm_up(&f);
    for (int i = 0; i < 5; i++) {
        tf_send_data(&f, pat, TF_MSS);
        tf_send_data(&f, pat, TF_MSS);
        /* without moving the clock */
        struct tf_seg *a = tf_next(&f);
        ck_assert_msg(a != NULL, "pair %d: no immediate ACK after two full segments", i);
        ck_assert_uint_eq(a->h.ack, f.peer_nxt);
        ck_assert_uint_eq(a->h.payload_len, 0);
        tf_flush(&f);
        uint8_t sink[2 * TF_MSS];
        tf_read_all(&f, f.conn, sink, sizeof(sink));
        tf_flush(&f);
    }
    tf_free(&f);
}
END_TEST

/* Data the app sends back rides on the segment that carries the ACK (no
 * separate ACK). */
START_TEST(test_delayed_ack_piggybacks_on_reply_data)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    warm_up(&f);
    tf_send_data(&f, "ask", 3);
    tf_expect_nothing(&f);
    tf_advance(&f, 10 * MS);
    ck_assert_int_eq(ts_tcp_send(f.conn, "answer", 6, f.now), 6);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 6);
    f.stack_nxt += 6;
    tf_advance(&f, 300 * MS);
    struct tf_seg *extra;
    while ((extra = tf_next(&f)))
        ck_assert_msg(extra->h.payload_len || extra->h.ack != f.peer_nxt ||
                          extra->h.seq != f.stack_nxt,
                      "a separate delayed ACK followed the piggybacked one");
    tf_free(&f);
}
END_TEST

/* Nagle (RFC 1122 4.2.3.4): with data in flight, a small write waits for the
 * ACK. */
START_TEST(test_nagle_on_by_default_holds_small_segment_until_ack)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    ck_assert(!o.nodelay);
    ck_assert_int_eq(ts_tcp_send(f.conn, "a", 1, f.now), 1);
    struct tf_seg *first = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* nothing in flight */
    ck_assert_uint_eq(first->h.payload_len, 1);
    f.stack_nxt += 1;
    ck_assert_int_eq(ts_tcp_send(f.conn, "b", 1, f.now), 1);
    ck_assert_int_eq(ts_tcp_send(f.conn, "c", 1, f.now), 1);
    tf_expect_nothing(&f); /* held: a small segment is outstanding */
    tf_advance(&f, 50 * MS);
    tf_expect_nothing(&f);
    tf_send_ack(&f);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 2); /* coalesced */
    ck_assert_int_eq(memcmp(sg->h.payload, "bc", 2), 0);
    tf_free(&f);
}
END_TEST

START_TEST(test_nodelay_sends_small_segments_at_once)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    const char *msgs[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ts_tcp_send(f.conn, msgs[i], 1, f.now), 1);
        struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
        ck_assert_uint_eq(sg->h.payload_len, 1);
        ck_assert_int_eq(sg->h.payload[0], msgs[i][0]);
        f.stack_nxt += 1;
    }
    tf_free(&f);
}
END_TEST

/* Nagle never delays full-sized segments. */
START_TEST(test_nagle_sends_full_segments_while_data_in_flight)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "a", 1, f.now), 1);
    tf_flush(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, pat, 3 * TF_MSS, f.now), 3 * TF_MSS);
    int full = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f)))
        if (sg->h.payload_len == TF_MSS)
            full++;
    ck_assert_int_eq(full, 3);
    tf_free(&f);
}
END_TEST

/* Minshall's Nagle, as Linux's: a write larger than an MSS goes out whole, its short tail with
 * the full segments before it. Held back, the tail would wait for the ACK of one full segment,
 * which a receiver delaying its ACKs (RFC 1122 4.2.3.2: up to every second full segment) sends
 * only when its timer fires. */
START_TEST(test_nagle_sends_a_writes_short_tail_with_its_full_segments)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, pat, TF_MSS + 100, f.now), TF_MSS + 100);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
    sg = tf_expect(&f, TCP_ACK, f.stack_nxt + TF_MSS, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 100);
    ck_assert(sg->h.flags & TCP_PSH);
    f.stack_nxt += TF_MSS + 100;
    /* That tail is a small segment out: another small write waits for its ACK. */
    ck_assert_int_eq(ts_tcp_send(f.conn, "x", 1, f.now), 1);
    tf_expect_nothing(&f);
    tf_send_ack(&f);
    sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 1);
    tf_free(&f);
}
END_TEST

/* Quick-ACK mode ACKs each of the first data segments at once, but not once the connection is
 * interactive (Linux's pingpong mode): an answer sent within the delayed-ACK time of the data
 * makes the next ACK wait to ride on the next answer. A lone quick ACK there would release the
 * peer's Nagle-held second small write while our small answer is still unacknowledged, and our
 * Nagle would hold the second answer for the peer's delayed ACK (measured: 44 ms stalls in a
 * write-write-read loop from the host). When the delayed-ACK timer fires (no answer came), the
 * connection is not interactive any more and quick ACKs resume. */
START_TEST(test_an_answer_within_the_delayed_ack_time_stops_quick_acks_until_one_is_missed)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send_data(&f, "ask1", 4);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* quick ACK: the first data */
    tf_advance(&f, MS);
    ck_assert_int_eq(ts_tcp_send(f.conn, "ans1", 4, f.now), 4);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt += 4;
    tf_send_data(&f, "ask2", 4); /* (acknowledges ans1: f.stack_nxt) */
    tf_expect_nothing(&f);       /* interactive: the ACK waits for the answer */
    tf_advance(&f, MS);
    ck_assert_int_eq(ts_tcp_send(f.conn, "ans2", 4, f.now), 4);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* it rides on it */
    ck_assert_uint_eq(sg->h.payload_len, 4);
    f.stack_nxt += 4;
    /* No answer this time: the delayed ACK, 40 ms later, ends the interactive mode. */
    tf_send_data(&f, "ask3", 4);
    tf_expect_nothing(&f);
    sg = tf_wait_seg(&f, 100 * MS);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.ack, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 0);
    tf_send_data(&f, "ask4", 4);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* quick again */
    tf_free(&f);
}
END_TEST

/* RFC 1122 4.2.3.6: keep-alive is off by default. */
START_TEST(test_keepalive_off_by_default_idle_connection_silent)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    ck_assert(!o.keepalive);
    ck_assert_uint_ge(o.keepidle, 2 * 3600 * SEC); /* at least two hours by default */
    tf_advance(&f, 3 * 3600 * SEC);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

static void enable_keepalive(struct tf *f)
{
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f->conn, &o);
    o.keepalive = true;
    o.keepidle = 10 * SEC;
    o.keepintvl = 2 * SEC;
    o.keepcnt = 3;
    ck_assert_int_eq(ts_tcp_set_opts(f->conn, &o, f->now), 0);
}

/* A keep-alive probe: SEG.SEQ = SND.NXT - 1, with zero or one byte of garbage
 * (RFC 1122). */
static void assert_keepalive_probe(struct tf *f, struct tf_seg *p)
{
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->h.flags & ~TCP_PSH, TCP_ACK);
    ck_assert_uint_eq(p->h.seq, f->stack_nxt - 1);
    ck_assert_uint_le(p->h.payload_len, 1);
    ck_assert_uint_eq(p->h.ack, f->peer_nxt);
}

START_TEST(test_keepalive_probes_after_idle_and_answered_probe_keeps_connection)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    enable_keepalive(&f);
    ts_time_t idle_from = f.now;
    struct tf_seg *p = tf_wait_seg(&f, 60 * SEC);
    assert_keepalive_probe(&f, p);
    ck_assert_uint_eq(p->t - idle_from, 10 * SEC);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_KEEPALIVE_SENT), 1);
    tf_send_ack(&f); /* the peer is alive */
    ts_time_t answered = f.now;
    p = tf_wait_seg(&f, 60 * SEC);
    assert_keepalive_probe(&f, p);
    ck_assert_uint_eq(p->t - answered, 10 * SEC); /* a whole idle period again */
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

START_TEST(test_keepalive_unanswered_probes_abort_with_etimedout)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    enable_keepalive(&f);
    ts_time_t idle_from = f.now;
    ts_time_t want[] = {10 * SEC, 12 * SEC, 14 * SEC};
    for (int i = 0; i < 3; i++) {
        struct tf_seg *p = tf_wait_seg(&f, 60 * SEC);
        assert_keepalive_probe(&f, p);
        ck_assert_uint_eq(p->t - idle_from, want[i]);
    }
    tf_advance(&f, 2 * SEC + MS);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_uint_eq(tf_time_of(&f, TS_TCP_CLOSE) - idle_from, 16 * SEC);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ETIMEDOUT);
    ck_assert(f.events & TS_TCP_EV_ERROR);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_KEEPALIVE_TIMEOUT), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_KEEPALIVE_SENT), 3);
    tf_free(&f);
}
END_TEST

/* Keep-alive on from the start: options whose keepalive is on when the connection is born (a
 * listener's, which its children inherit, or set before connect) arm the timer as the
 * connection becomes ESTABLISHED; after keepidle of silence the first probe goes out, at
 * SND.UNA - 1 (RFC 1122 4.2.3.6). */
static void keepalive_from_birth(void (*establish)(struct tf *))
{
    struct tf f;
    tf_init(&f);
    struct ts_tcp_opts o;
    ts_tcp_opts_default(f.s, &o);
    o.keepalive = true;
    o.keepidle = 10 * SEC;
    o.keepintvl = 2 * SEC;
    o.keepcnt = 3;
    f.opts = &o;
    establish(&f);
    ts_time_t idle_from = f.now;
    struct tf_seg *p = tf_wait_seg(&f, 60 * SEC);
    ck_assert_msg(p != NULL, "no keep-alive probe within 60 s of idle (keepidle 10 s)");
    assert_keepalive_probe(&f, p);
    ck_assert_uint_eq(p->t - idle_from, 10 * SEC);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_KEEPALIVE_SENT), 1);
    tf_free(&f);
}

START_TEST(test_keepalive_on_listener_probes_accepted_connection_after_idle)
{
    keepalive_from_birth(tf_establish);
}
END_TEST

START_TEST(test_keepalive_set_before_connect_probes_after_idle)
{
    keepalive_from_birth(tf_establish_active);
}
END_TEST

/* Traffic resets the idle clock: no probe while data flows. */
START_TEST(test_keepalive_not_sent_while_data_flows)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    enable_keepalive(&f);
    for (int i = 0; i < 10; i++) {
        tf_advance(&f, 5 * SEC);
        tf_send_data(&f, "tick", 4);
        tf_advance(&f, 200 * MS);
        struct tf_seg *sg;
        while ((sg = tf_next(&f)))
            ck_assert_uint_ne(sg->h.seq, f.stack_nxt - 1); /* never a probe */
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_KEEPALIVE_SENT), 0);
    tf_free(&f);
}
END_TEST

static Suite *tcp_timers_suite(void)
{
    Suite *s = suite_create("tcp_timers");
    TCase *tc = tcase_create("delack");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_single_segment_ack_is_delayed_at_most_200ms);
    tcase_add_test(tc, test_every_second_full_segment_acked_at_once);
    tcase_add_test(tc, test_delayed_ack_piggybacks_on_reply_data);
    suite_add_tcase(s, tc);
    tc = tcase_create("nagle");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_nagle_on_by_default_holds_small_segment_until_ack);
    tcase_add_test(tc, test_nodelay_sends_small_segments_at_once);
    tcase_add_test(tc, test_nagle_sends_full_segments_while_data_in_flight);
    tcase_add_test(tc, test_nagle_sends_a_writes_short_tail_with_its_full_segments);
    tcase_add_test(tc,
                   test_an_answer_within_the_delayed_ack_time_stops_quick_acks_until_one_is_missed);
    suite_add_tcase(s, tc);
    tc = tcase_create("keepalive");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_keepalive_off_by_default_idle_connection_silent);
    tcase_add_test(tc, test_keepalive_probes_after_idle_and_answered_probe_keeps_connection);
    tcase_add_test(tc, test_keepalive_unanswered_probes_abort_with_etimedout);
    tcase_add_test(tc, test_keepalive_not_sent_while_data_flows);
    tcase_add_test(tc, test_keepalive_on_listener_probes_accepted_connection_after_idle);
    tcase_add_test(tc, test_keepalive_set_before_connect_probes_after_idle);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    tf_fill(pat, sizeof(pat), 5, 0);
    SRunner *sr = srunner_create(tcp_timers_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
