/* Receiving out of order (RFC 9293 3.10.7.4 text processing, RFC 5681 4.2, RFC
 * 2018): segments beyond rcv.nxt are held and delivered in order once the hole
 * fills; duplicates and overlaps are trimmed (only new bytes count, old bytes
 * are never replaced); segments partly outside the window are cut to it;
 * out-of-order data is ACKed at once, with SACK blocks if agreed. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS TS_MS

static uint8_t pat[70000];

static void init_pattern(void)
{
    tf_fill(pat, sizeof(pat), 5, 0);
}

/* Peer bytes [off, off+len) of the pattern, at base + off. */
static void send_at(struct tf *f, uint32_t base, uint32_t off, uint32_t len)
{
    tf_send(f, TCP_ACK, base + off, f->stack_nxt, pat + off, len);
}

/* The next segment must be an immediate pure ACK of `ack` (no delay). */
static struct tf_seg *expect_ack_now(struct tf *f, uint32_t ack)
{
    struct tf_seg *sg = tf_expect(f, TCP_ACK, f->stack_nxt, ack);
    ck_assert_uint_eq(sg->h.payload_len, 0);
    return sg;
}

static void expect_delivered(struct tf *f, uint32_t len)
{
    static uint8_t got[70000];
    ck_assert_uint_eq(ts_tcp_readable(f->conn), len);
    size_t n = tf_read_all(f, f->conn, got, sizeof(got));
    ck_assert_uint_eq(n, len);
    ck_assert_int_eq(memcmp(got, pat, len), 0);
}

/* After in-order data the ACK may be delayed: take whatever comes within 200
 * ms; return the last segment. */
static struct tf_seg *last_ack_within_200ms(struct tf *f)
{
    tf_advance(f, 200 * MS);
    struct tf_seg *last = NULL, *sg;
    while ((sg = tf_next(f)))
        last = sg;
    ck_assert_ptr_nonnull(last);
    return last;
}

START_TEST(test_out_of_order_segment_held_then_delivered_when_hole_fills)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 100, 100);
    expect_ack_now(&f, base); /* RFC 5681 4.2: immediate duplicate ACK */
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_OOO_QUEUED), 1);
    send_at(&f, base, 200, 100);
    expect_ack_now(&f, base);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    send_at(&f, base, 0, 100);
    expect_ack_now(&f, base + 300); /* filling the hole: ACK at once too */
    tf_expect_nothing(&f);
    expect_delivered(&f, 300);
    f.peer_nxt = base + 300;
    tf_free(&f);
}
END_TEST

START_TEST(test_segments_in_reverse_order_are_reassembled)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    for (int i = 7; i >= 1; i--) {
        send_at(&f, base, (uint32_t)i * 500, 500);
        expect_ack_now(&f, base);
    }
    send_at(&f, base, 0, 500);
    expect_ack_now(&f, base + 4000);
    expect_delivered(&f, 4000);
    tf_free(&f);
}
END_TEST

START_TEST(test_duplicate_segment_delivered_once_and_acked_at_once)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 0, 100);
    tf_flush(&f);
    uint64_t dups = tf_count(&f, TS_C_TCP_DUP_DATA_RX);
    send_at(&f, base, 0, 100); /* entirely old: RFC 9293 3.10.7.4 -> ACK and drop */
    expect_ack_now(&f, base + 100);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DUP_DATA_RX), dups + 1);
    expect_delivered(&f, 100);
    tf_free(&f);
}
END_TEST

START_TEST(test_duplicate_out_of_order_segment_stored_once)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 100, 100);
    send_at(&f, base, 100, 100);
    tf_flush(&f);
    send_at(&f, base, 0, 100);
    expect_ack_now(&f, base + 200);
    expect_delivered(&f, 200);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4: a segment straddling rcv.nxt: only the new part is
 * processed; the old part is not written again even if its bytes differ. */
START_TEST(test_overlap_with_old_data_keeps_first_copy_and_takes_only_new_bytes)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 0, 100);
    uint8_t seg[100];
    memset(seg, 0xEE, 50);           /* bytes 50..99: a different (wrong) copy */
    memcpy(seg + 50, pat + 100, 50); /* bytes 100..149: new */
    tf_send(&f, TCP_ACK, base + 50, f.stack_nxt, seg, sizeof(seg));
    struct tf_seg *last = last_ack_within_200ms(&f);
    ck_assert_uint_eq(last->h.ack, base + 150);
    expect_delivered(&f, 150);
    tf_free(&f);
}
END_TEST

START_TEST(test_overlapping_out_of_order_segments_trimmed)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 100, 100); /* [100,200) */
    send_at(&f, base, 150, 150); /* [150,300) overlaps its tail */
    send_at(&f, base, 250, 10);  /* inside */
    send_at(&f, base, 320, 30);  /* a second island [320,350) */
    send_at(&f, base, 90, 280);  /* covers both islands and the gap between */
    tf_flush(&f);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    send_at(&f, base, 0, 120); /* fills the hole, overlapping */
    expect_ack_now(&f, base + 370);
    expect_delivered(&f, 370);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4: the part of a segment beyond the right window edge is cut
 * off. */
START_TEST(test_segment_partly_beyond_window_is_trimmed_to_window)
{
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_rcvbuf = 4096;
    struct tf f;
    tf_init_cfg(&f, &cfg);
    struct tf_seg *sa = tf_syn_received(&f);
    uint32_t wnd = sa->h.wnd;
    ck_assert_uint_gt(wnd, 1000);
    ck_assert_uint_le(wnd, 4096);
    tf_send_ack(&f);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    uint32_t base = f.peer_nxt, off = 0;
    while (off < wnd - 500) {
        uint32_t n = wnd - 500 - off < 1000 ? wnd - 500 - off : 1000;
        send_at(&f, base, off, n);
        off += n;
    }
    send_at(&f, base, off, 1000); /* [wnd - 500, wnd + 500): straddles the right edge */
    struct tf_seg *last = last_ack_within_200ms(&f);
    ck_assert_uint_eq(last->h.ack, base + wnd); /* exactly the window, no more */
    ck_assert_uint_eq(last->h.wnd, 0);
    expect_delivered(&f, wnd);
    tf_free(&f);
}
END_TEST

START_TEST(test_segment_entirely_beyond_window_dropped_with_ack)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *sa = tf_syn_received(&f);
    uint32_t wnd = sa->h.wnd; /* no window scaling (peer did not offer it) */
    tf_send_ack(&f);
    f.conn = ts_tcp_accept(f.listener);
    uint64_t oow = tf_count(&f, TS_C_TCP_DROP_OUT_OF_WINDOW);
    uint32_t base = f.peer_nxt;
    tf_send(&f, TCP_ACK, base + wnd + 10, f.stack_nxt, pat, 100);
    expect_ack_now(&f, base);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_OUT_OF_WINDOW), oow + 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    /* And a segment entirely before rcv.nxt (old) as well. */
    tf_send(&f, TCP_ACK, base - 1000, f.stack_nxt, pat, 100);
    expect_ack_now(&f, base);
    tf_free(&f);
}
END_TEST

/* RFC 2018 4: every out-of-order segment gets an immediate ACK with SACK
 * blocks; the first block holds the most recently received segment. */
START_TEST(test_out_of_order_data_gets_immediate_ack_with_sack_blocks)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    ck_assert(f.stack_syn_opts.sack_perm);
    uint32_t base = f.peer_nxt;

    send_at(&f, base, 1000, 100);
    struct tf_seg *a = expect_ack_now(&f, base);
    ck_assert_uint_eq(a->h.opts.nsack, 1);
    ck_assert_uint_eq(a->h.opts.sack[0].left, base + 1000);
    ck_assert_uint_eq(a->h.opts.sack[0].right, base + 1100);

    send_at(&f, base, 2000, 100);
    a = expect_ack_now(&f, base);
    ck_assert_uint_eq(a->h.opts.nsack, 2);
    ck_assert_uint_eq(a->h.opts.sack[0].left, base + 2000);
    ck_assert_uint_eq(a->h.opts.sack[0].right, base + 2100);
    ck_assert_uint_eq(a->h.opts.sack[1].left, base + 1000);
    ck_assert_uint_eq(a->h.opts.sack[1].right, base + 1100);

    send_at(&f, base, 1100, 100); /* extends the older island: it becomes the first block */
    a = expect_ack_now(&f, base);
    ck_assert_uint_eq(a->h.opts.nsack, 2);
    ck_assert_uint_eq(a->h.opts.sack[0].left, base + 1000);
    ck_assert_uint_eq(a->h.opts.sack[0].right, base + 1200);
    ck_assert_uint_eq(a->h.opts.sack[1].left, base + 2000);
    ck_assert_uint_eq(a->h.opts.sack[1].right, base + 2100);

    send_at(&f, base, 0, 1000);
    a = expect_ack_now(&f, base + 1200);
    ck_assert_uint_eq(a->h.opts.nsack, 1);
    ck_assert_uint_eq(a->h.opts.sack[0].left, base + 2000);
    ck_assert_uint_eq(a->h.opts.sack[0].right, base + 2100);
    expect_delivered(&f, 1200);
    tf_free(&f);
}
END_TEST

START_TEST(test_no_sack_blocks_when_sack_not_negotiated)
{
    struct tf f;
    tf_init(&f); /* the peer does not offer SACK-permitted */
    tf_establish(&f);
    send_at(&f, f.peer_nxt, 500, 100);
    struct tf_seg *a = expect_ack_now(&f, f.peer_nxt);
    ck_assert_uint_eq(a->h.opts.nsack, 0);
    tf_free(&f);
}
END_TEST

/* A FIN beyond a hole waits for the hole (RFC 9293 3.10.7.4: FIN processing is
 * in sequence). */
START_TEST(test_out_of_order_fin_processed_only_when_hole_fills)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    tf_send(&f, TCP_ACK | TCP_FIN, base + 100, f.stack_nxt, pat + 100, 100);
    expect_ack_now(&f, base);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert(!ts_tcp_read_eof(f.conn));
    send_at(&f, base, 0, 100);
    struct tf_seg *last = last_ack_within_200ms(&f);
    ck_assert_uint_eq(last->h.ack, base + 201); /* the FIN takes one */
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE_WAIT);
    expect_delivered(&f, 200);
    ck_assert_int_eq(ts_tcp_recv(f.conn, pat + 60000, 10, f.now), 0);
    tf_free(&f);
}
END_TEST

/* Many tiny islands: the store stays bounded (whatever it keeps or drops), and
 * the stream is still exact once the data arrives in order. */
START_TEST(test_many_tiny_out_of_order_segments_bounded_and_stream_exact)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    uint64_t q0 = tf_count(&f, TS_C_TCP_OOO_QUEUED), full0 = tf_count(&f, TS_C_TCP_DROP_OOO_FULL);
    for (uint32_t i = 0; i < 2000; i++)
        send_at(&f, base, 2 * i + 1, 1);
    tf_flush(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_OOO_QUEUED) - q0 +
                          tf_count(&f, TS_C_TCP_DROP_OOO_FULL) - full0,
                      2000);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    for (uint32_t off = 0; off < 4000; off += 1000)
        send_at(&f, base, off, 1000);
    last_ack_within_200ms(&f);
    expect_delivered(&f, 4000);
    tf_free(&f);
}
END_TEST

/* Sequence numbers that wrap around 2^32 in the middle of reassembly. */
START_TEST(test_reassembly_across_sequence_wrap)
{
    struct tf f;
    tf_init(&f);
    f.peer_iss = 0xffffff00u;
    tf_establish(&f);
    uint32_t base = f.peer_nxt; /* 0xffffff01: byte 255 is at seq 0 */
    send_at(&f, base, 300, 200);
    expect_ack_now(&f, base);
    send_at(&f, base, 0, 300);
    expect_ack_now(&f, base + 500);
    expect_delivered(&f, 500);
    tf_free(&f);
}
END_TEST

/* A FIN at RCV.NXT while data beyond it waits out of order (a hostile or broken peer: nothing can
 * follow a FIN). The FIN ends the stream: the bytes past it are forgotten, never delivered, and
 * the receive side stays consistent (found by the libFuzzer target lf_tcp_conn). */
START_TEST(test_fin_before_queued_out_of_order_data_forgets_that_data)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    send_at(&f, base, 1, 100);
    expect_ack_now(&f, base);
    tf_send(&f, TCP_ACK | TCP_FIN, base, f.stack_nxt, NULL, 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE_WAIT);
    tf_advance(&f, 40 * TS_MS);                    /* to CLOSE_WAIT: the delayed ACK */
    tf_expect(&f, TCP_ACK, f.stack_nxt, base + 1); /* the FIN, not the bytes past it */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_PAST_FIN), 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* A FIN without text beyond a hole: a duplicate ACK at once (RFC 5681 4.2), and the FIN is held,
 * so the text that fills the hole also ends the stream, without waiting for the FIN again. */
START_TEST(test_bare_fin_beyond_hole_held_until_text_fills_it)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint32_t base = f.peer_nxt;
    tf_send(&f, TCP_ACK | TCP_FIN, base + 100, f.stack_nxt, NULL, 0);
    expect_ack_now(&f, base);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    send_at(&f, base, 0, 100);
    tf_expect(&f, TCP_ACK, f.stack_nxt, base + 101);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE_WAIT);
    expect_delivered(&f, 100);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

static Suite *tcp_reass_suite(void)
{
    Suite *s = suite_create("tcp_reass");
    TCase *tc = tcase_create("reass");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_out_of_order_segment_held_then_delivered_when_hole_fills);
    tcase_add_test(tc, test_segments_in_reverse_order_are_reassembled);
    tcase_add_test(tc, test_duplicate_segment_delivered_once_and_acked_at_once);
    tcase_add_test(tc, test_duplicate_out_of_order_segment_stored_once);
    tcase_add_test(tc, test_overlap_with_old_data_keeps_first_copy_and_takes_only_new_bytes);
    tcase_add_test(tc, test_overlapping_out_of_order_segments_trimmed);
    tcase_add_test(tc, test_segment_partly_beyond_window_is_trimmed_to_window);
    tcase_add_test(tc, test_segment_entirely_beyond_window_dropped_with_ack);
    tcase_add_test(tc, test_out_of_order_data_gets_immediate_ack_with_sack_blocks);
    tcase_add_test(tc, test_no_sack_blocks_when_sack_not_negotiated);
    tcase_add_test(tc, test_out_of_order_fin_processed_only_when_hole_fills);
    tcase_add_test(tc, test_many_tiny_out_of_order_segments_bounded_and_stream_exact);
    tcase_add_test(tc, test_reassembly_across_sequence_wrap);
    tcase_add_test(tc, test_fin_before_queued_out_of_order_data_forgets_that_data);
    tcase_add_test(tc, test_bare_fin_beyond_hole_held_until_text_fills_it);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    init_pattern();
    SRunner *sr = srunner_create(tcp_reass_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
