/* Flow control: zero window and persist probes (RFC 9293 3.8.6.1, RFC
 * 1122 4.2.2.17), window reopening and window updates as the application reads,
 * receiver and sender silly window syndrome avoidance (RFC 1122 4.2.3.3
 * and 4.2.3.4). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS  TS_MS
#define SEC TS_SEC

static uint8_t pat[300000];

/* Established with a small receive buffer; returns the window of the SYN-ACK.
 */
static uint32_t establish_rcvbuf(struct tf *f, uint32_t rcvbuf)
{
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_rcvbuf = rcvbuf;
    tf_init_cfg(f, &cfg);
    struct tf_seg *sa = tf_syn_received(f);
    uint32_t wnd = sa->h.wnd;
    tf_send_ack(f);
    f->conn = ts_tcp_accept(f->listener);
    ck_assert_ptr_nonnull(f->conn);
    return wnd;
}

/* The peer sends [off, off+len) of the pattern in MSS pieces. */
static void peer_sends(struct tf *f, uint32_t len)
{
    uint32_t off = f->peer_nxt - f->peer_iss - 1;
    while (len) {
        uint32_t n = len > TF_MSS ? TF_MSS : len;
        tf_send_data(f, pat + off, n);
        off += n;
        len -= n;
    }
}

/* Take every segment the stack sent within 200 ms; return the last. */
static struct tf_seg *last_within_200ms(struct tf *f)
{
    tf_advance(f, 200 * MS);
    struct tf_seg *last = NULL, *sg;
    while ((sg = tf_next(f)))
        last = sg;
    return last;
}

/* Sum of payload the stack sent (pending segments), checking the bytes against
 * the pattern stream 9 at offset (seq - stack_iss - 1). */
static uint32_t take_data(struct tf *f, uint32_t *next_seq)
{
    uint32_t total = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(f))) {
        if (!sg->h.payload_len)
            continue;
        ck_assert_uint_eq(sg->h.seq, *next_seq);
        uint8_t want[1460];
        ck_assert_uint_le(sg->h.payload_len, sizeof(want));
        tf_fill(want, sg->h.payload_len, 9, sg->h.seq - f->stack_iss - 1);
        ck_assert_int_eq(memcmp(sg->h.payload, want, sg->h.payload_len), 0);
        *next_seq += (uint32_t)sg->h.payload_len;
        total += (uint32_t)sg->h.payload_len;
    }
    return total;
}

/* The app writes the next len bytes of its stream (pattern 9). app_off: bytes
 * written so far; every test starts with tf_init, which the helpers below pair
 * with app_off = 0. */
static uint64_t app_off;

static void app_send(struct tf *f, uint32_t len)
{
    static uint8_t buf[300000];
    tf_fill(buf, len, 9, app_off);
    ck_assert_int_eq(ts_tcp_send(f->conn, buf, len, f->now), (ssize_t)len);
    app_off += len;
}

/* RFC 1122 4.2.2.17: a zero window is probed with backoff, for as long as the
 * peer answers (well past the retransmission limit); the queued data goes as
 * soon as the window opens. */
START_TEST(test_zero_window_probed_with_backoff_forever_then_reopened)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    tf_establish(&f);
    f.peer_wnd = 0;
    tf_send_ack(&f);
    app_send(&f, 1000);
    tf_expect_nothing(&f); /* nothing goes into a zero window */

    ts_time_t prev = f.now, prev_gap = 0;
    int probes = 0;
    uint64_t c0 = tf_count(&f, TS_C_TCP_PERSIST_PROBE);
    ts_time_t end = f.now + 40 * 60 * SEC; /* 40 minutes: beyond any retry limit */
    while (f.now < end) {
        struct tf_seg *p = tf_wait_seg(&f, 3 * 60 * SEC);
        ck_assert_msg(p != NULL, "persist probes stopped after %d", probes);
        /* With data queued, a probe is one byte of it at SND.UNA (RFC 9293 3.8.6.1), taken as
         * soon as the window opens. */
        ck_assert_msg(p->h.seq == f.stack_nxt && p->h.payload_len == 1,
                      "probe %d: seq %u len %zu, expected seq %u len 1", probes, p->h.seq,
                      p->h.payload_len, f.stack_nxt);
        ts_time_t gap = p->t - prev;
        ck_assert_uint_ge(gap, 200 * MS);
        ck_assert_uint_le(gap, 60 * SEC); /* capped */
        if (prev_gap && prev_gap < 30 * SEC)
            ck_assert_uint_eq(gap, 2 * prev_gap); /* exponential backoff */
        if (prev_gap)
            ck_assert_uint_ge(gap, prev_gap);
        prev_gap = gap;
        prev = p->t;
        probes++;
        tf_send_ack(&f); /* the peer answers: still zero window, nothing accepted */
        ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    }
    ck_assert_int_ge(probes, 30);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_PERSIST_PROBE) - c0, (uint64_t)probes);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);

    f.peer_wnd = 65535;
    tf_send_ack(&f); /* the window opens */
    uint32_t seq = f.stack_nxt;
    ck_assert_uint_eq(take_data(&f, &seq), 1000);
    tf_free(&f);
}
END_TEST

START_TEST(test_stack_never_sends_beyond_peer_window)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    f.peer_wnd = 3000;
    tf_establish(&f);
    app_send(&f, 10000);
    uint32_t seq = f.stack_nxt;
    uint32_t sent = take_data(&f, &seq);
    ck_assert_uint_le(sent, 3000);
    ck_assert_uint_ge(sent, 2 * TF_MSS);
    f.stack_nxt = seq;
    tf_send_ack(&f); /* everything acknowledged, window 3000 again */
    sent += take_data(&f, &seq);
    ck_assert_uint_le(seq - f.stack_nxt, 3000);
    tf_free(&f);
}
END_TEST

/* RFC 1122 4.2.3.4: with a usable window far below both the MSS and half the
 * largest window the peer offered, the sender waits rather than sending a tiny
 * segment. */
START_TEST(test_sender_sws_avoidance_waits_for_a_useful_window)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    f.peer_wnd = 4000;
    tf_establish(&f);
    app_send(&f, 20000);
    uint32_t seq = f.stack_nxt;
    uint32_t sent = take_data(&f, &seq);
    ck_assert_uint_ge(sent, 2 * TF_MSS);
    ck_assert_uint_le(sent, 4000);
    /* The peer takes 100 bytes: the usable window is (4000 - sent) + 100, small.
     */
    tf_send(&f, TCP_ACK, f.peer_nxt, f.stack_nxt + 100, NULL, 0);
    uint32_t usable = 4000 - sent + 100;
    if (usable < 1000) /* below Fs * max window (1/2 * 4000) and below one MSS */
        tf_expect_nothing(&f);
    /* The whole window back: full-sized segments again. */
    tf_send(&f, TCP_ACK, f.peer_nxt, seq, NULL, 0);
    f.stack_nxt = seq;
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, seq);
    ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
    tf_free(&f);
}
END_TEST

/* The advertised window is the free buffer space: its right edge stays put
 * while the app does not read (RFC 9293 3.8.6.2.2: never shrink it). */
START_TEST(test_advertised_window_follows_free_receive_buffer)
{
    struct tf f;
    uint32_t wnd = establish_rcvbuf(&f, 8192);
    uint32_t right = f.peer_nxt + wnd;
    for (int i = 0; i < 4; i++) {
        peer_sends(&f, 1000);
        struct tf_seg *a = last_within_200ms(&f);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(a->h.ack, f.peer_nxt);
        ck_assert_uint_eq(a->h.ack + a->h.wnd, right);
    }
    tf_free(&f);
}
END_TEST

/* A full receive buffer shows a zero window; when the app drains it, a window
 * update goes out without waiting for the peer. */
START_TEST(test_window_update_sent_when_app_drains_full_buffer)
{
    struct tf f;
    uint32_t wnd = establish_rcvbuf(&f, 4096);
    peer_sends(&f, wnd);
    struct tf_seg *a = last_within_200ms(&f);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    ck_assert_uint_eq(a->h.wnd, 0);
    uint8_t buf[8192];
    ck_assert_uint_eq(tf_read_all(&f, f.conn, buf, sizeof(buf)), wnd);
    ck_assert_int_eq(memcmp(buf, pat, wnd), 0);
    a = tf_next(&f); /* at once: the read itself sends it (RFC 1122 4.2.3.3) */
    ck_assert_msg(a != NULL, "no window update when the app drained the buffer");
    tf_expect_nothing(&f);
    ck_assert_uint_eq(a->h.flags & ~TCP_PSH, TCP_ACK);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    ck_assert_uint_ge(a->h.wnd, wnd / 2);
    /* The peer can fill it again. */
    peer_sends(&f, a->h.wnd);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), a->h.wnd);
    tf_free(&f);
}
END_TEST

/* RFC 1122 4.2.3.3: after a zero window, reading a few bytes does not advertise
 * a tiny window; the update waits until min(buffer/2, MSS) is free. */
START_TEST(test_receiver_sws_avoidance_no_tiny_window_update)
{
    struct tf f;
    uint32_t wnd = establish_rcvbuf(&f, 4096);
    peer_sends(&f, wnd);
    tf_advance(&f, 200 * MS);
    tf_flush(&f);
    uint8_t buf[4096];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, 10, f.now), 10);
    tf_advance(&f, 500 * MS);
    struct tf_seg *sg;
    while ((sg = tf_next(&f)))
        ck_assert_msg(sg->h.wnd == 0, "advertised a silly window of %u", sg->h.wnd);
    uint32_t need = wnd / 2 < TF_MSS ? wnd / 2 : TF_MSS;
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, need, f.now), (ssize_t)need);
    sg = tf_next(&f); /* at once, from the read that freed enough */
    ck_assert_msg(sg != NULL, "no window update when %u bytes were freed", need + 10);
    tf_expect_nothing(&f);
    ck_assert_uint_ge(sg->h.wnd, need);
    tf_free(&f);
}
END_TEST

/* After a zero window, the data the app queued meanwhile is neither lost nor reordered when the
 * window opens: the probe byte (if taken) and then the rest, in sequence. */
START_TEST(test_small_window_opening_after_zero_window_sends_in_order)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    tf_establish(&f);
    f.peer_wnd = 0;
    tf_send_ack(&f);
    app_send(&f, 5000);
    tf_expect_nothing(&f);
    struct tf_seg *p = tf_wait_seg(&f, 10 * SEC);
    ck_assert_ptr_nonnull(p);
    f.peer_wnd = 65535;
    /* The peer accepts the probe byte if there was one. */
    uint32_t ack = f.stack_nxt + (uint32_t)p->h.payload_len;
    tf_send(&f, TCP_ACK, f.peer_nxt, ack, NULL, 0);
    uint32_t seq = ack;
    uint32_t got = (uint32_t)p->h.payload_len;
    for (int round = 0; round < 10 && got < 5000; round++) {
        got += take_data(&f, &seq);
        tf_send(&f, TCP_ACK, f.peer_nxt, seq, NULL, 0); /* Nagle holds the tail until this */
    }
    ck_assert_uint_eq(got, 5000);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.7.1 / RFC 1122 4.2.2.6: without an MSS option the peer gets at most 536 bytes per
 * segment; with one, at most what it asked for. */
static void mss_check(bool offer, uint16_t mss, size_t want_max)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    f.peer_syn_opts.mss_ok = offer;
    f.peer_syn_opts.mss = mss;
    tf_establish(&f);
    app_send(&f, 20000);
    uint32_t seq = f.stack_nxt;
    size_t biggest = 0, segs = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f))) {
        ck_assert_uint_eq(sg->h.seq, seq);
        seq += (uint32_t)sg->h.payload_len;
        if (sg->h.payload_len > biggest)
            biggest = sg->h.payload_len;
        segs++;
    }
    ck_assert_uint_ge(segs, 2);
    ck_assert_uint_eq(biggest, want_max);
    tf_free(&f);
}

START_TEST(test_peer_without_mss_option_gets_536_byte_segments)
{
    mss_check(false, 0, 536);
}
END_TEST
START_TEST(test_peer_mss_option_is_honoured)
{
    mss_check(true, 1000, 1000);
}
END_TEST
/* An MSS of 0 says nothing usable: taken as no option (536), as Linux does; a tiny one is
 * floored at 48 bytes (Linux's tcp_min_snd_mss), not honoured down to one-byte segments. */
START_TEST(test_peer_mss_zero_is_taken_as_absent_and_a_tiny_one_floored_at_48)
{
    mss_check(true, 0, 536);
    mss_check(true, 1, 48);
}
END_TEST

/* RFC 1122 4.2.2.17 keeps probing a zero window only while the peer answers: a peer that
 * vanished behind a zero window does not hold the connection forever (ETIMEDOUT, like data
 * retransmissions). */
START_TEST(test_unanswered_zero_window_probes_eventually_abort)
{
    struct tf f;
    tf_init(&f);
    app_off = 0;
    tf_establish(&f);
    f.peer_wnd = 0;
    tf_send_ack(&f);
    app_send(&f, 100);
    int probes = 0;
    while (tf_state(&f) == TS_TCP_ESTABLISHED && f.now < TF_T0 + 4 * 3600 * SEC) {
        if (tf_wait_seg(&f, 5 * 60 * SEC))
            probes++;
    }
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_int_ge(probes, 8);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ETIMEDOUT);
    tf_free(&f);
}
END_TEST

static Suite *tcp_flow_suite(void)
{
    Suite *s = suite_create("tcp_flow");
    TCase *tc = tcase_create("flow");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_zero_window_probed_with_backoff_forever_then_reopened);
    tcase_add_test(tc, test_small_window_opening_after_zero_window_sends_in_order);
    tcase_add_test(tc, test_stack_never_sends_beyond_peer_window);
    tcase_add_test(tc, test_sender_sws_avoidance_waits_for_a_useful_window);
    tcase_add_test(tc, test_advertised_window_follows_free_receive_buffer);
    tcase_add_test(tc, test_window_update_sent_when_app_drains_full_buffer);
    tcase_add_test(tc, test_receiver_sws_avoidance_no_tiny_window_update);
    tcase_add_test(tc, test_peer_without_mss_option_gets_536_byte_segments);
    tcase_add_test(tc, test_peer_mss_option_is_honoured);
    tcase_add_test(tc, test_peer_mss_zero_is_taken_as_absent_and_a_tiny_one_floored_at_48);
    tcase_add_test(tc, test_unanswered_zero_window_probes_eventually_abort);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    tf_fill(pat, sizeof(pat), 5, 0);
    SRunner *sr = srunner_create(tcp_flow_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
