/* Conformance details found on the wire (issue 13 sections 2 and 3): which segment may set the
 * timestamp to echo, data on a SYN, a FIN into a closed window, the rate of answers to
 * out-of-window segments, quick ACKs at the start of a connection and PSH on each send call.
 * Each test plays the peer with hand-built segments on the in-memory link (virtual clock) and
 * asserts the segments the stack sends. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS  TS_MS
#define SEC TS_SEC

/* RFC 7323 4.3/5.3: a forged in-window segment whose ACK acknowledges data never sent is dropped
 * (with an ACK) and must not set TS.Recent: else the peer's next valid segment, with a lower
 * TSval than the forged one, would fail PAWS and the connection would stall. */
START_TEST(test_ts_recent_not_taken_from_segment_acking_unsent_data)
{
    struct tf f;
    tf_init(&f);
    f.peer_ts = true;
    f.peer_ts_offset = 100000;
    tf_establish(&f);
    tf_advance(&f, 10 * MS);
    struct tcp_hdr h = tf_hdr(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt + 50000);
    uint32_t forged = h.opts.tsval + 1000000;
    h.opts.tsval = forged;
    h.payload = (const uint8_t *)"forged";
    h.payload_len = 6;
    tf_send_hdr(&f, &h);
    /* RFC 5961 5.2: dropped, answered with an ACK that still echoes the peer's real TSval */
    struct tf_seg *a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert(a->h.opts.ts_ok);
    ck_assert_uint_ne(a->h.opts.tsecr, forged);
    ck_assert_uint_eq(a->h.opts.tsecr, (uint32_t)(TF_T0 / MS) + 100000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), 1);
    tf_expect_nothing(&f);
    /* the peer's next valid segment is taken, not dropped by PAWS, and its TSval echoed */
    tf_advance(&f, 10 * MS);
    tf_send_data(&f, "valid", 5);
    tf_advance(&f, 200 * MS);
    a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(a->h.opts.tsecr, (uint32_t)((TF_T0 + 20 * MS) / MS) + 100000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_PAWS), 0);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "valid", 5), 0);
    tf_free(&f);
}
END_TEST

/* RFC 5961 10, as Linux's tcp_invalid_ratelimit: segments outside the window are answered with
 * at most one ACK per 500 ms per connection (the rest counted); a retransmission of data we
 * already have is always answered (our ACK was lost). */
START_TEST(test_acks_to_out_of_window_segments_one_per_500ms)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    for (int i = 0; i < 10; i++) {
        tf_send(&f, TCP_ACK, f.peer_nxt - 100000 - (uint32_t)i, f.stack_nxt, NULL, 0);
        tf_advance(&f, 10 * MS);
    }
    struct tf_seg *a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(a->t, TF_T0);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_OUT_OF_WINDOW), 10);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_OOW_ACK_LIMITED), 9);
    /* 500 ms after the first answer, the next one is answered again */
    tf_advance(&f, 400 * MS); /* now T0 + 500 ms */
    tf_send(&f, TCP_ACK, f.peer_nxt + 5000000, f.stack_nxt, NULL, 0);
    a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(a->t, TF_T0 + 500 * MS);
    tf_send(&f, TCP_ACK, f.peer_nxt + 5000000, f.stack_nxt, NULL, 0);
    tf_expect_nothing(&f);
    /* old data (and an old FIN) again: answered every time */
    tf_send_data(&f, "abcd", 4);
    tf_advance(&f, 100 * MS);
    tf_flush(&f);
    for (int i = 0; i < 3; i++) {
        tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt - 4, f.stack_nxt, "abcd", 4);
        tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_OOW_ACK_LIMITED), 10);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.9.1, as Linux: the segment holding the last byte of a send call's data carries
 * PSH even when more data is queued behind it; segments in the middle of a call do not. */
START_TEST(test_psh_on_last_segment_of_each_send_call)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    static uint8_t buf[20000];
    tf_fill(buf, sizeof(buf), 1, 0);
    /* call 1: 10 full segments and 500 bytes; the initial window (10 segments) holds the rest */
    uint32_t n1 = 10 * TF_MSS + 500;
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, n1, f.now), n1);
    uint32_t seq = f.stack_nxt;
    for (int i = 0; i < 10; i++) {
        struct tf_seg *g = tf_next(&f);
        ck_assert_ptr_nonnull(g);
        ck_assert_uint_eq(g->h.seq, seq);
        ck_assert_uint_eq(g->h.payload_len, TF_MSS);
        ck_assert_msg(!(g->h.flags & TCP_PSH), "segment %d of the call is pushed", i);
        seq += TF_MSS;
    }
    tf_expect_nothing(&f);
    /* call 2 queues 1000 bytes behind the 500 left of call 1 */
    ck_assert_int_eq(ts_tcp_send(f.conn, buf + n1, 1000, f.now), 1000);
    tf_expect_nothing(&f);
    f.stack_nxt = seq;
    tf_send_ack(&f);
    /* [500 of call 1 + 960 of call 2]: holds call 1's end, PSH though data follows; then the
     * last 40 bytes of call 2, PSH */
    struct tf_seg *g = tf_expect(&f, TCP_ACK | TCP_PSH, seq, f.peer_nxt);
    ck_assert_uint_eq(g->h.payload_len, TF_MSS);
    ck_assert(g->h.flags & TCP_PSH);
    g = tf_expect(&f, TCP_ACK | TCP_PSH, seq + TF_MSS, f.peer_nxt);
    ck_assert_uint_eq(g->h.payload_len, 40);
    ck_assert(g->h.flags & TCP_PSH);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* TCP_MAXSEG (opts.maxseg) set before connect: the SYN announces it, and the segments sent stay
 * within it even though the peer offers 1460; on a listener, its children's SYN-ACKs do. */
START_TEST(test_maxseg_set_before_connect_clamps_announced_and_sent_mss)
{
    struct tf f;
    tf_init(&f);
    struct ts_tcp_opts o;
    ts_tcp_opts_default(f.s, &o);
    o.maxseg = 1000;
    o.nodelay = true;
    f.opts = &o;
    tf_syn_sent(&f);
    ck_assert(f.stack_syn_opts.mss_ok);
    ck_assert_uint_eq(f.stack_syn_opts.mss, 1000);
    tf_free(&f);

    tf_init(&f);
    f.opts = &o;
    tf_establish_active(&f);
    static uint8_t buf[2500];
    tf_fill(buf, sizeof(buf), 2, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    struct tf_seg *g = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(g->h.payload_len, 1000);
    g = tf_expect(&f, TCP_ACK, f.stack_nxt + 1000, f.peer_nxt);
    ck_assert_uint_eq(g->h.payload_len, 1000);
    g = tf_expect(&f, TCP_ACK, f.stack_nxt + 2000, f.peer_nxt);
    ck_assert_uint_eq(g->h.payload_len, 500);
    struct ts_tcp_info info;
    ts_tcp_get_info(f.conn, &info, f.now);
    ck_assert_uint_eq(info.mss_send, 1000);
    tf_free(&f);

    tf_init(&f);
    o.maxseg = 700;
    f.opts = &o;
    struct tf_seg *sa = tf_syn_received(&f);
    ck_assert_uint_eq(sa->h.opts.mss, 700);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.8.6.1: a FIN into a zero window waits and the window is probed (persist, with
 * backoff), as for data, for as long as the peer answers: well past the retransmission limit
 * (15) the connection is still in FIN_WAIT1; the FIN goes as soon as the window opens. */
START_TEST(test_fin_into_zero_window_is_probed_not_retried_to_the_limit)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    f.peer_wnd = 0;
    tf_send_ack(&f);
    ck_assert_int_eq(ts_tcp_shutdown_write(f.conn, f.now), 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT1);
    tf_expect_nothing(&f); /* no FIN into the closed window */
    tf_check_invariants(&f);
    ts_time_t prev = f.now, prev_gap = 0;
    int probes = 0;
    while (probes < 25) {
        struct tf_seg *p = tf_wait_seg(&f, 3 * 60 * SEC);
        ck_assert_msg(p != NULL, "probes stopped after %d", probes);
        /* a window probe: an old sequence number, no data, no FIN */
        ck_assert_uint_eq(p->h.flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK), TCP_ACK);
        ck_assert_uint_eq(p->h.seq, f.stack_nxt - 1);
        ck_assert_uint_eq(p->h.payload_len, 0);
        ts_time_t gap = p->t - prev;
        if (prev_gap && prev_gap < 30 * SEC)
            ck_assert_uint_eq(gap, 2 * prev_gap); /* backoff */
        ck_assert_uint_le(gap, 60 * SEC);
        prev_gap = gap;
        prev = p->t;
        probes++;
        tf_send_ack(&f); /* the peer answers, its window still shut */
        ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT1);
        tf_check_invariants(&f);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CONN_TIMEOUT), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_PERSIST_PROBE), 25);
    f.peer_wnd = 65535;
    tf_send_ack(&f); /* the window opens: the FIN goes at once */
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt++;
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.2: text on a SYN to a listener is queued, not acknowledged by the SYN-ACK,
 * and delivered (and acknowledged at once) when the handshake completes. */
START_TEST(test_data_on_syn_held_and_delivered_once_established)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, f.peer_iss, 0);
    h.opts = f.peer_syn_opts;
    h.payload = (const uint8_t *)"early-data";
    h.payload_len = 10;
    tf_send_hdr(&f, &h);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, f.peer_iss + 1); /* the SYN only: the text is not yet taken */
    f.stack_iss = sa->h.seq;
    f.stack_nxt = sa->h.seq + 1;
    f.peer_nxt = f.peer_iss + 1;
    tf_expect_nothing(&f);
    tf_send_ack(&f); /* the handshake completes: the text is delivered and ACKed at once */
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_iss + 11);
    tf_expect_nothing(&f);
    f.peer_nxt += 10;
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    char buf[32];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 10);
    ck_assert_int_eq(memcmp(buf, "early-data", 10), 0);
    /* a copy of it sent again is a duplicate, and the stream goes on after it */
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_iss + 1, f.stack_nxt, "early-data", 10);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_send_data(&f, "next", 4);
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 4);
    ck_assert_int_eq(memcmp(buf, "next", 4), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.3: the text of a SYN-ACK is processed as from the sixth step on: delivered,
 * and acknowledged by the ACK that completes the handshake (Linux drops it; the peer would send
 * it again). A SYN-ACK with FIN is still dropped as bad flags before this, as SYN+FIN anywhere. */
START_TEST(test_data_on_syn_ack_delivered_and_acked)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN | TCP_ACK, f.peer_iss, f.stack_nxt);
    h.opts = f.peer_syn_opts;
    h.payload = (const uint8_t *)"hello";
    h.payload_len = 5;
    tf_send_hdr(&f, &h);
    f.peer_nxt = f.peer_iss + 1 + 5;
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    tf_free(&f);
}
END_TEST

/* Quick ACK, as Linux's quick-ACK mode: the first 16 data segments of a connection are each
 * ACKed at once (so the peer's slow start is not slowed by delayed ACKs), then the ACK of a
 * small segment is delayed (40 ms); after an idle gap longer than the RTO, and after
 * out-of-order data, segments are again ACKed at once. */
START_TEST(test_quick_ack_at_start_after_idle_and_after_out_of_order)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint8_t sink[64];
    for (int i = 0; i < 16; i++) {
        ts_time_t t = f.now;
        tf_send_data(&f, "abc", 3);
        struct tf_seg *a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
        ck_assert_int_eq(a->t, t); /* at once */
        tf_advance(&f, 1 * MS);
    }
    tf_read_all(&f, f.conn, sink, sizeof(sink));
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DELAYED_ACK), 0);
    /* the 17th: delayed ACK (40 ms) */
    ts_time_t t = f.now;
    tf_send_data(&f, "abc", 3);
    tf_expect_nothing(&f);
    struct tf_seg *a = tf_wait_seg(&f, 200 * MS);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->t - t, 40 * MS);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    /* idle for longer than the RTO: quick-ACK mode again */
    tf_advance(&f, 2 * SEC);
    t = f.now;
    tf_send_data(&f, "abc", 3);
    a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(a->t, t);
    for (int i = 0; i < 20; i++) { /* spend it */
        tf_send_data(&f, "abc", 3);
        tf_advance(&f, 50 * MS);
        tf_flush(&f);
    }
    tf_read_all(&f, f.conn, sink, sizeof(sink));
    tf_send_data(&f, "abc", 3);
    tf_expect_nothing(&f); /* delayed again */
    tf_advance(&f, 50 * MS);
    tf_flush(&f);
    /* out of order: a duplicate ACK at once, the hole's filling too, and the next in order */
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt + 3, f.stack_nxt, "def", 3);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_send_data(&f, "abc", 3);
    f.peer_nxt += 3;
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_advance(&f, 1 * MS);
    tf_send_data(&f, "ghi", 3);
    a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(a->t, f.now);
    tf_free(&f);
}
END_TEST

/* Under a SYN flood the listener answers with SYN cookies (RFC 4987), which keep no state: the
 * text of a SYN answered so is dropped (the SYN-ACK acknowledges the SYN alone, as for a held
 * one), nothing of it is readable once the cookie's ACK makes the connection, and the peer's
 * retransmission of it is delivered. */
START_TEST(test_data_on_syn_answered_by_cookie_is_dropped_and_sent_again)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    for (uint32_t i = 0; i < 256; i++) { /* fill the half-open queue */
        struct tcp_hdr h = tf_hdr(&f, TCP_SYN, 1000000 + i * 7919, 0);
        h.sport = (uint16_t)(10000 + i);
        tf_send_hdr(&f, &h);
    }
    tf_flush(&f);
    f.rport = 9000;
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, f.peer_iss, 0);
    h.opts = f.peer_syn_opts;
    h.payload = (const uint8_t *)"early-data";
    h.payload_len = 10;
    tf_send_hdr(&f, &h);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, f.peer_iss + 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_SENT), 1);
    f.stack_nxt = sa->h.seq + 1;
    f.peer_nxt = f.peer_iss + 1;
    tf_send_ack(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    tf_expect_nothing(&f);
    tf_send_data(&f, "early-data", 10); /* sent again */
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 10);
    ck_assert_int_eq(memcmp(buf, "early-data", 10), 0);
    tf_free(&f);
}
END_TEST

static Suite *tcp_conform_suite(void)
{
    Suite *s = suite_create("tcp_conform");
    TCase *tc = tcase_create("arrival");
    tcase_add_test(tc, test_ts_recent_not_taken_from_segment_acking_unsent_data);
    tcase_add_test(tc, test_acks_to_out_of_window_segments_one_per_500ms);
    tcase_add_test(tc, test_psh_on_last_segment_of_each_send_call);
    tcase_add_test(tc, test_maxseg_set_before_connect_clamps_announced_and_sent_mss);
    tcase_add_test(tc, test_fin_into_zero_window_is_probed_not_retried_to_the_limit);
    tcase_add_test(tc, test_data_on_syn_held_and_delivered_once_established);
    tcase_add_test(tc, test_data_on_syn_ack_delivered_and_acked);
    tcase_add_test(tc, test_quick_ack_at_start_after_idle_and_after_out_of_order);
    tcase_add_test(tc, test_data_on_syn_answered_by_cookie_is_dropped_and_sent_again);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_conform_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
