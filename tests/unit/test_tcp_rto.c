/* Retransmission (RFC 6298): RTO values, exponential backoff, the floor and the
 * ceiling, the retry limits, Karn's rule, SYN / SYN-ACK / FIN retransmission.
 * Values chosen by tapstack: initial RTO 1 s, floor 200 ms (as Linux), ceiling
 * 120 s, 6 SYN retries and 15 data retries (as Linux). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS      TS_MS
#define SEC     TS_SEC
#define RTO_MIN (200 * MS)
#define RTO_MAX (120 * SEC)

static void assert_near(ts_time_t got, ts_time_t want, ts_time_t tol, const char *what)
{
    ts_time_t d = got > want ? got - want : want - got;
    ck_assert_msg(d <= tol, "%s: got %llu us, want %llu us (+-%llu)", what, (unsigned long long)got,
                  (unsigned long long)want, (unsigned long long)tol);
}

static struct ts_tcp_info info_of(struct tf *f)
{
    struct ts_tcp_info in;
    memset(&in, 0, sizeof(in));
    ts_tcp_get_info(f->conn, &in, f->now);
    return in;
}

/* The stack sends len bytes; the peer ACKs them rtt later. Returns the data
 * segment. */
static struct tf_seg *data_round(struct tf *f, size_t len, ts_time_t rtt)
{
    uint8_t buf[1460];
    ck_assert_uint_le(len, sizeof(buf));
    tf_fill(buf, len, 1, f->stack_nxt - f->stack_iss - 1);
    ck_assert_int_eq(ts_tcp_send(f->conn, buf, len, f->now), (ssize_t)len);
    struct tf_seg *sg = tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, len);
    f->stack_nxt += (uint32_t)len;
    tf_advance(f, rtt);
    tf_send_ack(f);
    tf_expect_nothing(f);
    return sg;
}

/* RFC 6298 2.1 + 5.5: SYN after 1 s, then doubling; Linux gives up after 6
 * retries (127 s). */
START_TEST(test_syn_retransmitted_after_1_2_4_8_16_32_s_then_etimedout)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *syn = tf_syn_sent(&f);
    ts_time_t prev = syn->t;
    static const int gaps[] = {1, 2, 4, 8, 16, 32};
    for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
        struct tf_seg *r = tf_wait_seg(&f, 200 * SEC);
        ck_assert_msg(r != NULL, "SYN retransmission %zu missing", i + 1);
        ck_assert_uint_eq(r->h.flags & ~TCP_PSH, TCP_SYN);
        ck_assert_uint_eq(r->h.seq, f.stack_iss);
        ck_assert_uint_eq(r->t - prev, (ts_time_t)gaps[i] * SEC);
        prev = r->t;
        ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_SENT);
    }
    tf_advance(&f, 64 * SEC - (f.now - prev) + MS);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_uint_eq(tf_time_of(&f, TS_TCP_CLOSE) - prev, 64 * SEC);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ETIMEDOUT);
    ck_assert(f.events & TS_TCP_EV_ERROR);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CONN_TIMEOUT), 1);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT CLOSE");
    tf_free(&f);
}
END_TEST

START_TEST(test_syn_ack_retransmitted_after_1_then_2_s)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *sa = tf_syn_received(&f);
    ts_time_t prev = sa->t;
    for (int i = 0; i < 2; i++) {
        struct tf_seg *r = tf_wait_seg(&f, 10 * SEC);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->h.flags & ~TCP_PSH, TCP_SYN | TCP_ACK);
        ck_assert_uint_eq(r->h.seq, f.stack_iss);
        ck_assert_uint_eq(r->h.ack, f.peer_nxt);
        ck_assert_uint_eq(r->t - prev, (ts_time_t)(i + 1) * SEC);
        prev = r->t;
    }
    /* The handshake still completes after retransmissions. */
    tf_send_ack(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED");
    tf_free(&f);
}
END_TEST

/* RFC 6298 2.2 / 2.3: SRTT, RTTVAR (alpha 1/8, beta 1/4) and RTO = SRTT + 4
 * RTTVAR, and the retransmission timer really fires RTO after the segment left.
 */
START_TEST(test_rto_is_srtt_plus_four_rttvar_and_the_timer_uses_it)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    tf_advance(&f, 500 * MS); /* handshake RTT 500 ms */
    tf_send_ack(&f);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    struct ts_tcp_info in = info_of(&f);
    /* Sampling the handshake is allowed (RFC 6298 2.2 does not forbid it), not
     * required. */
    bool sampled = in.srtt != 0;
    if (sampled) {
        assert_near(in.srtt, 500 * MS, MS, "srtt after handshake");
        assert_near(in.rttvar, 250 * MS, MS, "rttvar after handshake");
        assert_near(in.rto, 1500 * MS, MS, "rto after handshake");
    } else {
        ck_assert_uint_eq(in.rto, 1 * SEC);
    }
    data_round(&f, 100, 500 * MS);
    in = info_of(&f);
    assert_near(in.srtt, 500 * MS, MS, "srtt");
    /* second sample equal to SRTT: RTTVAR = 3/4 * 250 ms */
    assert_near(in.rttvar, sampled ? 187500 : 250 * MS, MS, "rttvar");
    assert_near(in.rto, sampled ? 1250 * MS : 1500 * MS, 2 * MS, "rto");

    /* Now lose a segment: it is resent exactly RTO later. */
    ck_assert_int_eq(ts_tcp_send(f.conn, "lost", 4, f.now), 4);
    struct tf_seg *first = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    struct tf_seg *again = tf_wait_seg(&f, 10 * SEC);
    ck_assert_ptr_nonnull(again);
    ck_assert_uint_eq(again->h.seq, first->h.seq);
    ck_assert_uint_eq(again->h.payload_len, 4);
    ck_assert_uint_eq(again->t - first->t, in.rto);
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_RTO), 1);
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_RETRANSMIT), 1);
    tf_free(&f);
}
END_TEST

/* RFC 6298 2.4 (floor 200 ms, as Linux), 5.5 (double on each timeout), 2.5
 * (ceiling, 120 s here), and the retry limit: after 15 retransmissions the
 * connection is aborted with ETIMEDOUT. */
START_TEST(test_rto_backoff_200ms_floor_doubling_to_120s_ceiling_then_etimedout)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    for (int i = 0; i < 5; i++)
        data_round(&f, 100, 1 * MS);
    ck_assert_uint_eq(info_of(&f).rto, RTO_MIN);

    uint8_t buf[300];
    tf_fill(buf, sizeof(buf), 7, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    struct tf_seg *orig = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(orig->h.payload_len, sizeof(buf));
    ts_time_t prev = orig->t, want = RTO_MIN;
    int retrans = 0;
    for (;;) {
        struct tf_seg *r = tf_wait_seg(&f, 2 * RTO_MAX);
        if (!r)
            break;
        retrans++;
        ck_assert_msg(r->t - prev == want, "retransmission %d after %llu us, want %llu", retrans,
                      (unsigned long long)(r->t - prev), (unsigned long long)want);
        ck_assert_uint_eq(r->h.seq, f.stack_nxt);
        ck_assert_uint_eq(r->h.payload_len, sizeof(buf));
        ck_assert_int_eq(memcmp(r->h.payload, buf, sizeof(buf)), 0);
        prev = r->t;
        want = want * 2 > RTO_MAX ? RTO_MAX : want * 2;
        ck_assert_int_le(retrans, 30);
    }
    ck_assert_int_eq(retrans, 15);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ts_time_t died = tf_time_of(&f, TS_TCP_CLOSE);
    ck_assert_uint_gt(died, prev);
    ck_assert_uint_le(died - prev, RTO_MAX);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ETIMEDOUT);
    ck_assert(f.events & TS_TCP_EV_ERROR);
    ck_assert_int_eq(ts_tcp_send(f.conn, "x", 1, f.now), -ETIMEDOUT);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CONN_TIMEOUT), 1);
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_RTO), 15);
    tf_free(&f);
}
END_TEST

/* RFC 6298 3 (Karn): no RTT sample from a retransmitted segment when timestamps
 * are off. */
START_TEST(test_karn_no_rtt_sample_from_retransmitted_segment)
{
    struct tf f;
    tf_init(&f); /* the peer offers no timestamps */
    tf_establish(&f);
    ck_assert(!f.stack_syn_opts.ts_ok || !f.peer_syn_opts.ts_ok);
    for (int i = 0; i < 3; i++)
        data_round(&f, 100, 10 * MS);
    struct ts_tcp_info before = info_of(&f);
    ck_assert_uint_gt(before.srtt, 0);

    ck_assert_int_eq(ts_tcp_send(f.conn, "retx", 4, f.now), 4);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt += 4;
    struct tf_seg *r = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->h.seq, f.stack_nxt - 4);
    tf_advance(&f, 300 * MS); /* the next timeout would be 400 ms after the copy */
    tf_expect_nothing(&f);
    tf_send_ack(&f); /* ambiguous: of the original or of the copy? */
    struct ts_tcp_info after = info_of(&f);
    ck_assert_uint_eq(after.srtt, before.srtt);
    ck_assert_uint_eq(after.rttvar, before.rttvar);

    /* A segment sent once gives a sample again. */
    data_round(&f, 100, 40 * MS);
    ck_assert_uint_ne(info_of(&f).srtt, before.srtt);
    tf_free(&f);
}
END_TEST

/* Karn for the handshake: a SYN-ACK answering a retransmitted SYN gives no
 * sample. */
START_TEST(test_karn_no_rtt_sample_from_retransmitted_syn)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    ck_assert_ptr_nonnull(tf_wait_seg(&f, 2 * SEC)); /* the SYN again, at 1 s */
    tf_advance(&f, 300 * MS);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN | TCP_ACK, f.peer_iss, f.stack_nxt);
    h.opts = f.peer_syn_opts;
    tf_send_hdr(&f, &h);
    f.peer_nxt = f.peer_iss + 1;
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    struct ts_tcp_info in = info_of(&f);
    ck_assert_uint_eq(in.srtt, 0);
    /* RFC 6298 5.7: without a sample, the RTO for data is at least 1 s (3 s if
     * re-initialised). */
    ck_assert_uint_ge(in.rto, 1 * SEC);
    tf_free(&f);
}
END_TEST

/* The FIN is retransmitted like data, with backoff, until it is acknowledged.
 */
START_TEST(test_fin_retransmitted_with_backoff_until_acked)
{
    struct tf f;
    tf_init(&f);
    tf_fin_wait1(&f);
    uint32_t fin_seq = f.stack_nxt - 1;
    struct tf_seg *r1 = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(r1);
    ck_assert_uint_eq(r1->h.flags & ~TCP_PSH, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(r1->h.seq, fin_seq);
    ts_time_t first_gap = r1->t - tf_time_of(&f, TS_TCP_FIN_WAIT1);
    ck_assert_uint_ge(first_gap, RTO_MIN);
    struct tf_seg *r2 = tf_wait_seg(&f, 10 * SEC);
    ck_assert_ptr_nonnull(r2);
    ck_assert_uint_eq(r2->h.seq, fin_seq);
    ck_assert_uint_eq(r2->t - r1->t, 2 * first_gap);
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_advance(&f, 20 * SEC);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* RFC 6298 5.3: an ACK of new data restarts the timer from that moment. */
START_TEST(test_ack_of_new_data_restarts_retransmission_timer)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    for (int i = 0; i < 5; i++)
        data_round(&f, 100, 1 * MS);
    ck_assert_uint_eq(info_of(&f).rto, RTO_MIN);
    uint8_t a[100], b[100];
    tf_fill(a, sizeof(a), 3, 0);
    tf_fill(b, sizeof(b), 3, 100);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    o.nodelay = true; /* both segments leave at once */
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, a, sizeof(a), f.now), 100);
    ck_assert_int_eq(ts_tcp_send(f.conn, b, sizeof(b), f.now), 100);
    ck_assert_uint_eq(tf_flush(&f), 2);
    tf_advance(&f, 150 * MS);
    tf_send(&f, TCP_ACK, f.peer_nxt, f.stack_nxt + 100, NULL, 0); /* first one only */
    ts_time_t acked = f.now;
    struct tf_seg *r = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->h.seq, f.stack_nxt + 100);
    ck_assert_uint_ge(r->t - acked, RTO_MIN - MS); /* not 200 ms after the original send */
    tf_free(&f);
}
END_TEST

/* RFC 5681 3.2: the third duplicate ACK triggers a retransmission at once (no RTO wait), and
 * RFC 6582: a partial ACK during recovery retransmits the next hole at once too. */
START_TEST(test_three_dup_acks_fast_retransmit_and_partial_ack_resends_next_hole)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    for (int i = 0; i < 3; i++)
        data_round(&f, 100, 1 * MS);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    uint8_t buf[6000];
    tf_fill(buf, sizeof(buf), 2, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    uint32_t s0 = f.stack_nxt, seqs[8];
    int n = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f)) && n < 8)
        seqs[n++] = sg->h.seq;
    ck_assert_int_ge(n, 5); /* initial window of 10 segments: all of it left at once */
    ck_assert_uint_eq(seqs[0], s0);
    /* Segment 0 is lost; 1, 2, 3 arrive: three duplicate ACKs. */
    tf_send(&f, TCP_ACK, f.peer_nxt, s0, NULL, 0);
    tf_send(&f, TCP_ACK, f.peer_nxt, s0, NULL, 0);
    tf_expect_nothing(&f);
    tf_send(&f, TCP_ACK, f.peer_nxt, s0, NULL, 0);
    sg = tf_next(&f);
    ck_assert_msg(sg != NULL, "no fast retransmit after 3 duplicate ACKs");
    ck_assert_uint_eq(sg->h.seq, s0);
    ck_assert_int_eq(memcmp(sg->h.payload, buf, sg->h.payload_len), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_FAST_RETRANSMIT), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_flush(&f);
    /* Segment 4 was lost too: the ACK after the repair is partial (up to segment 4). */
    tf_send(&f, TCP_ACK, f.peer_nxt, seqs[4], NULL, 0);
    sg = tf_next(&f);
    ck_assert_msg(sg != NULL, "no retransmission on a partial ACK (RFC 6582)");
    ck_assert_uint_eq(sg->h.seq, seqs[4]);
    tf_flush(&f);
    f.stack_nxt = s0 + sizeof(buf);
    tf_send_ack(&f);
    tf_advance(&f, 5 * SEC);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_free(&f);
}
END_TEST

/* RFC 7323 4.1 / RFC 6298 3: with timestamps, the echoed TSval makes even the ACK of a
 * retransmission a valid RTT sample (Karn's ambiguity does not exist). */
START_TEST(test_timestamps_give_rtt_sample_after_retransmission)
{
    struct tf f;
    tf_init(&f);
    f.peer_ts = true;
    f.peer_ts_offset = 777;
    tf_establish(&f);
    ck_assert(f.stack_syn_opts.ts_ok);
    for (int i = 0; i < 3; i++)
        data_round(&f, 100, 100 * MS);
    struct ts_tcp_info before = info_of(&f);
    ck_assert_uint_ge(before.srtt, 20 * MS); /* the handshake gave a sample of 0 */
    ck_assert_int_eq(ts_tcp_send(f.conn, "retx", 4, f.now), 4);
    struct tf_seg *orig = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert(orig->h.opts.ts_ok); /* RFC 7323 3.2: on every segment once negotiated */
    f.stack_nxt += 4;
    struct tf_seg *r = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(r);
    ck_assert(r->h.opts.ts_ok);
    tf_advance(&f, 10 * MS);
    tf_send_ack(&f); /* echoes the retransmission's TSval: RTT 10 ms */
    ck_assert_uint_lt(info_of(&f).srtt, before.srtt);
    tf_free(&f);
}
END_TEST

/* A half-open connection whose SYN-ACK is never answered is given up after 5 retries (as
 * Linux); the listener stays. */
START_TEST(test_syn_ack_retry_limit_drops_half_open_listener_stays)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    int retx = 0;
    while (tf_wait_seg(&f, 200 * SEC))
        retx++;
    ck_assert_int_eq(retx, 5);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV CLOSE");
    ck_assert_int_eq(ts_tcp_state(f.listener), TS_TCP_LISTEN);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    ck_assert_int_eq(ts_tcp_error(f.listener, false), 0);
    tf_free(&f);
}
END_TEST

/* After a timeout the stack resends from SND.UNA (go-back-N), but the peer may already hold
 * everything up to the highest sequence sent. A pure ACK must then carry that highest sequence
 * number: with the rewound one it is below the peer's RCV.NXT, fails the peer's acceptability
 * test (RFC 9293 3.10.7.4) and its ACK is never read; two such stacks retransmitted old data at
 * each other until the retry limit (seen in test_tcp_transfer at 5% loss). */
START_TEST(test_pure_ack_after_timeout_carries_highest_seq_sent)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f.conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f.conn, &o, f.now), 0);
    static uint8_t buf[3000];
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    ck_assert_uint_eq(tf_flush(&f), 3); /* 1460 + 1460 + 80: the peer got it, its ACK is lost */
    struct tf_seg *r = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->h.seq, f.stack_nxt); /* resent from SND.UNA */
    tf_flush(&f);
    ts_time_t talked = f.now;
    tf_send_data(&f, "?", 1);       /* the peer talks; its ACK field acknowledges nothing new */
    struct tf_seg *a = tf_next(&f); /* its first data: ACKed at once (quick-ACK mode) */
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->t, talked);
    ck_assert_uint_eq(a->h.payload_len, 0);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    ck_assert_uint_eq(a->h.seq, f.stack_nxt + sizeof(buf));
    tf_free(&f);
}
END_TEST

/* RFC 6928: the initial window is 10 segments; RFC 5681 3.1: after a timeout cwnd is one
 * segment (one retransmission, nothing else). RFC 5682 (F-RTO): the ACK of that retransmission
 * lets two new segments out instead of more retransmissions; a duplicate ACK for them shows the
 * ten really lost, and the sender goes back to snd.una in slow start, which doubles cwnd per
 * round trip (cwnd grows by the bytes acknowledged, RFC 5681 3.1). */
START_TEST(test_initial_window_10_then_one_at_timeout_then_frto_then_slow_start_from_una)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    static uint8_t buf[60000];
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    int n = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f))) {
        ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
        n++;
    }
    ck_assert_int_eq(n, 10);
    uint32_t iss1 = f.stack_nxt;
    /* All ten are lost: one segment at the timeout. */
    sg = tf_wait_seg(&f, 5 * SEC);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, iss1);
    tf_expect_nothing(&f);
    uint32_t una = iss1 + TF_MSS;
    /* F-RTO step 2b: two segments never sent before. */
    tf_send(&f, TCP_ACK, f.peer_nxt, una, NULL, 0);
    for (int i = 0; i < 2; i++) {
        sg = tf_next(&f);
        ck_assert_ptr_nonnull(sg);
        ck_assert_uint_eq(sg->h.seq, iss1 + (uint32_t)(10 + i) * TF_MSS);
    }
    tf_expect_nothing(&f);
    /* Step 3a: a duplicate ACK. Back to snd.una, in slow start. */
    tf_send(&f, TCP_ACK, f.peer_nxt, una, NULL, 0);
    int k = 0;
    while ((sg = tf_next(&f))) {
        ck_assert_uint_eq(sg->h.seq, una + (uint32_t)k * TF_MSS);
        k++;
    }
    ck_assert_int_eq(k, 2);
    una += (uint32_t)k * TF_MSS;
    tf_send(&f, TCP_ACK, f.peer_nxt, una, NULL, 0);
    int k2 = 0;
    while ((sg = tf_next(&f)))
        k2++;
    ck_assert_int_eq(k2, 4);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_FRTO_SPURIOUS), 0);
    tf_free(&f);
}
END_TEST

/* RFC 6675: with SACK the sender repairs every hole the scoreboard shows during one recovery,
 * and never resends SACKed data. Segments 1 and 5 of 10 are lost: both are resent before any
 * cumulative ACK moves (NewReno alone would wait for a partial ACK to find the second hole). */
START_TEST(test_sack_recovery_resends_both_holes_and_nothing_sacked)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    ck_assert(f.stack_syn_opts.sack_perm);
    static uint8_t buf[10 * 1460];
    tf_fill(buf, sizeof(buf), 6, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof(buf), f.now), (ssize_t)sizeof(buf));
    ck_assert_uint_eq(tf_flush(&f), 10);
    uint32_t s0 = f.stack_nxt;
#define SEG(k) (s0 + (uint32_t)(k)*1460u) /* start of segment k (0-based) */
    bool resent[10] = {false};
    /* Arrivals of segments 1,2,3 (0-based), then 5..9, each answered by a duplicate ACK. */
    static const int arrived[] = {1, 2, 3, 5, 6, 7, 8, 9};
    for (size_t i = 0; i < sizeof(arrived) / sizeof(arrived[0]); i++) {
        int k = arrived[i];
        struct tcp_hdr h = tf_hdr(&f, TCP_ACK, f.peer_nxt, s0);
        if (k < 4) {
            h.opts.nsack = 1;
            h.opts.sack[0].left = SEG(1);
            h.opts.sack[0].right = SEG(k + 1);
        } else {
            h.opts.nsack = 2; /* most recent block first (RFC 2018) */
            h.opts.sack[0].left = SEG(5);
            h.opts.sack[0].right = SEG(k + 1);
            h.opts.sack[1].left = SEG(1);
            h.opts.sack[1].right = SEG(4);
        }
        tf_send_hdr(&f, &h);
        struct tf_seg *sg;
        while ((sg = tf_next(&f))) {
            if (!sg->h.payload_len)
                continue;
            uint32_t off = sg->h.seq - s0;
            ck_assert_uint_eq(off % 1460, 0);
            uint32_t seg = off / 1460;
            ck_assert_msg(seg == 0 || seg == 4, "resent segment %u, which was SACKed", seg);
            ck_assert_int_eq(memcmp(sg->h.payload, buf + off, sg->h.payload_len), 0);
            resent[seg] = true;
        }
    }
    ck_assert_msg(resent[0], "first hole not repaired");
    ck_assert_msg(resent[4], "second hole not repaired during the same recovery");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_send(&f, TCP_ACK, f.peer_nxt, s0 + sizeof(buf), NULL, 0);
    tf_advance(&f, 5 * SEC);
    struct tf_seg *sg;
    while ((sg = tf_next(&f)))
        ck_assert_uint_eq(sg->h.payload_len, 0);
#undef SEG
    tf_free(&f);
}
END_TEST

/* ---- loss recovery performance: what the 5% loss runs showed (tests/bench/loss_reference.sh) ----
 */

/* A few 100-byte rounds with a 1 ms RTT: SRTT is about 1 ms, so PTO = 2 SRTT + 2 ms = 4 ms.
 */
static void settle_rtt(struct tf *f)
{
    for (int i = 0; i < 4; i++)
        data_round(f, 100, 1 * MS);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f->conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f->conn, &o, f->now), 0);
}

/* Queue n full segments; returns how many left at once (their first seq is f->stack_nxt). */
static int send_segments(struct tf *f, int n)
{
    static uint8_t buf[40 * TF_MSS];
    ck_assert_int_le(n, 40);
    tf_fill(buf, (size_t)n * TF_MSS, 7, 0);
    ck_assert_int_eq(ts_tcp_send(f->conn, buf, (size_t)n * TF_MSS, f->now),
                     (ssize_t)((size_t)n * TF_MSS));
    int k = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(f))) {
        ck_assert_uint_eq(sg->h.seq, f->stack_nxt + (uint32_t)k * TF_MSS);
        ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
        k++;
    }
    return k;
}

/* The data segments among what the stack sent since the last look. */
static int data_segments_sent(struct tf *f)
{
    int k = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(f)))
        if (sg->h.payload_len)
            k++;
    return k;
}

/* RFC 6582 3.2 step 3, option 1: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS). The full ACK
 * usually empties the flight: cwnd was set to one segment, which a delayed-ACK receiver held 40 ms
 * at the end of every recovery (the largest cost in the 5% loss download). */
START_TEST(test_newreno_full_ack_with_nothing_in_flight_leaves_two_segments_of_cwnd)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert(!info_of(&f).sack_ok);
    settle_rtt(&f);
    uint32_t s0 = f.stack_nxt;
    ck_assert_int_eq(send_segments(&f, 4), 4);
    /* Segment 0 lost, 1..3 arrive: three duplicate ACKs, fast retransmit. */
    for (int i = 0; i < 3; i++)
        tf_send(&f, TCP_ACK, f.peer_nxt, s0, NULL, 0);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, s0);
    tf_flush(&f);
    /* The full ACK: nothing left in flight. */
    f.stack_nxt = s0 + 4 * TF_MSS;
    tf_send_ack(&f);
    struct ts_tcp_info in = info_of(&f);
    ck_assert_uint_eq(in.ssthresh, 2 * TF_MSS); /* FlightSize 4 segments / 2 */
    ck_assert_uint_eq(in.cwnd, 2 * TF_MSS);
    /* So two segments leave together, and a receiver ACKs the second at once. */
    ck_assert_int_eq(send_segments(&f, 4), 2);
    tf_free(&f);
}
END_TEST

/* RFC 6675 5 (4.2): SACK recovery sets cwnd = ssthresh on entry and paces itself by the pipe, so
 * nothing is deflated at the end: after the full ACK, ssthresh worth of new data leaves at once. */
START_TEST(test_sack_recovery_ends_with_cwnd_at_ssthresh)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    settle_rtt(&f);
    uint32_t s0 = f.stack_nxt;
    int k = send_segments(&f, 10);
    ck_assert_int_eq(k, 10);
    /* Segment 0 lost; 1..9 arrive, each SACKed. */
    for (int i = 1; i < k; i++) {
        struct tcp_hdr h = tf_hdr(&f, TCP_ACK, f.peer_nxt, s0);
        h.opts.nsack = 1;
        h.opts.sack[0].left = s0 + TF_MSS;
        h.opts.sack[0].right = s0 + (uint32_t)(i + 1) * TF_MSS;
        tf_send_hdr(&f, &h);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_FAST_RETRANSMIT), 1);
    bool repaired = false;
    struct tf_seg *sg;
    while ((sg = tf_next(&f)))
        if (sg->h.payload_len && sg->h.seq == s0)
            repaired = true;
    ck_assert(repaired);
    f.stack_nxt = s0 + (uint32_t)k * TF_MSS;
    tf_send_ack(&f);
    struct ts_tcp_info in = info_of(&f);
    ck_assert_uint_eq(in.ssthresh, 5 * TF_MSS);
    ck_assert_uint_eq(in.cwnd, in.ssthresh);
    ck_assert_int_eq(send_segments(&f, 8), 5);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_free(&f);
}
END_TEST

/* RFC 8985 7.2: PTO = 2 SRTT + 2 ms (Linux's floor at HZ 1000); the delayed-ACK allowance
 * (WCDelAckT) only when a single segment is in flight, since a receiver ACKs every second full
 * segment at once. The timer is set for the whole burst, not for its first segment. */
START_TEST(test_loss_probe_after_2srtt_for_a_burst_and_after_the_delack_allowance_for_one_segment)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    settle_rtt(&f);
    ck_assert_uint_lt(info_of(&f).srtt, 3 * MS);
    /* Three segments, no answer at all: the probe comes after 2 SRTT + 2 ms. */
    ts_time_t pto = 2 * info_of(&f).srtt + 2 * MS;
    uint32_t s0 = f.stack_nxt;
    ts_time_t t0 = f.now;
    ck_assert_int_eq(send_segments(&f, 3), 3);
    struct tf_seg *sg = tf_wait_seg(&f, RTO_MIN);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    ck_assert_uint_eq(sg->h.seq, s0 + 2 * TF_MSS);
    assert_near(sg->t - t0, pto, 100, "probe time for three segments");
    f.stack_nxt = s0 + 3 * TF_MSS;
    tf_send_ack(&f);
    tf_flush(&f);
    /* One segment: the peer may hold its ACK 40 ms, so the probe waits PTO + 50 ms. */
    pto = 2 * info_of(&f).srtt + 2 * MS;
    s0 = f.stack_nxt;
    t0 = f.now;
    ck_assert_int_eq(send_segments(&f, 1), 1);
    sg = tf_wait_seg(&f, RTO_MIN);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 2);
    ck_assert_uint_eq(sg->h.seq, s0);
    assert_near(sg->t - t0, pto + 50 * MS, 100, "probe time for one segment");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_free(&f);
}
END_TEST

/* The probe is the last segment sent, even when unsent data waits (a deliberate choice against
 * RFC 8985 7.3's preference for new data): the common cause of the silence under random loss is a
 * lost final ACK, and a receiver must answer a segment it already has at once (RFC 9293
 * 3.10.7.4), while a new in-order segment may wait for its delayed ACK. */
START_TEST(test_loss_probe_resends_the_last_segment_sent_even_with_new_data_queued)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    settle_rtt(&f);
    uint32_t s0 = f.stack_nxt;
    int k = send_segments(&f, 20);
    ck_assert_int_ge(k, 10);
    ck_assert_int_lt(k, 20); /* cwnd holds the rest back */
    struct tf_seg *sg = tf_wait_seg(&f, RTO_MIN);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    ck_assert_uint_eq(sg->h.seq, s0 + (uint32_t)(k - 1) * TF_MSS);
    ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
    tf_expect_nothing(&f);
    /* The peer had it all (only the ACKs were lost): its ACK lets the queued data go. */
    f.stack_nxt = s0 + (uint32_t)k * TF_MSS;
    tf_send_ack(&f);
    ck_assert_int_gt(data_segments_sent(&f), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_free(&f);
}
END_TEST

/* RFC 8985 6.3 (the idea of RACK's reordering timer): in SACK recovery, when a partial ACK
 * brings snd_una to a hole whose retransmission was itself lost, nothing else reveals it (the
 * SACKs above it were all counted already): it is sent again after an RTT and a reordering
 * window, not after the 200 ms RTO followed by a slow start from one segment. */
START_TEST(test_lost_retransmission_of_second_hole_resent_without_waiting_for_the_rto)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    settle_rtt(&f);
    uint32_t s0 = f.stack_nxt;
#define SEG(k) (s0 + (uint32_t)(k)*TF_MSS)
    ck_assert_int_eq(send_segments(&f, 10), 10);
    /* Segments 0 and 4 lost; 1..3 and 5..9 arrive, SACKed. */
    static const int arrived[] = {1, 2, 3, 5, 6, 7, 8, 9};
    bool resent0 = false, resent4 = false;
    for (size_t i = 0; i < sizeof(arrived) / sizeof(arrived[0]); i++) {
        int k = arrived[i];
        struct tcp_hdr h = tf_hdr(&f, TCP_ACK, f.peer_nxt, s0);
        h.opts.nsack = k < 4 ? 1 : 2;
        h.opts.sack[0].left = k < 4 ? SEG(1) : SEG(5);
        h.opts.sack[0].right = SEG(k + 1);
        h.opts.sack[1].left = SEG(1);
        h.opts.sack[1].right = SEG(4);
        tf_send_hdr(&f, &h);
        struct tf_seg *sg;
        while ((sg = tf_next(&f))) {
            resent0 |= sg->h.payload_len && sg->h.seq == SEG(0);
            resent4 |= sg->h.payload_len && sg->h.seq == SEG(4);
        }
    }
    ck_assert(resent0 && resent4);
    /* The repair of segment 0 arrives, that of segment 4 was lost: a partial ACK, within the
     * PTO (2*SRTT + 0.1 ms after a loss), so no probe went out before it. */
    tf_advance(&f, MS / 2);
    struct tcp_hdr h = tf_hdr(&f, TCP_ACK, f.peer_nxt, SEG(4));
    h.opts.nsack = 1;
    h.opts.sack[0].left = SEG(5);
    h.opts.sack[0].right = SEG(10);
    tf_send_hdr(&f, &h);
    ts_time_t t_ack = f.now;
    uint64_t lost_before = tf_count(&f, TS_C_TCP_LOST_RETRANSMIT);
    tf_advance(&f, 50 * MS);
    struct tf_seg *sg, *again = NULL;
    while ((sg = tf_next(&f)))
        if (sg->h.payload_len && sg->h.seq == SEG(4) && !again)
            again = sg;
    ck_assert_msg(again != NULL, "lost retransmission of the second hole not resent within 50 ms");
    /* Not at once: it may still be on its way (2*SRTT and the 0.1 ms floor of a connection that
     * met loss, tcp_recovery.c tlp_floor). */
    ck_assert_uint_ge(again->t - t_ack, MS / 2);
    ck_assert_uint_gt(tf_count(&f, TS_C_TCP_LOST_RETRANSMIT), lost_before);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    f.stack_nxt = SEG(10);
    tf_send_ack(&f);
    tf_advance(&f, 2 * SEC);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
#undef SEG
    tf_free(&f);
}
END_TEST

/* The same watch when the scoreboard is empty: three duplicate ACKs without SACK blocks (a SACK
 * peer sends those when it holds only duplicates, e.g. answers to spurious retransmissions, with
 * D-SACKs we ignore) start a NewReno recovery; its retransmission is lost too. It is sent again
 * after an RTT and a reordering window instead of at the RTO. */
START_TEST(test_lost_fast_retransmission_resent_before_the_rto_with_empty_scoreboard)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.sack_perm = true;
    tf_establish(&f);
    settle_rtt(&f);
    uint32_t s0 = f.stack_nxt;
    ck_assert_int_eq(send_segments(&f, 4), 4);
    for (int i = 0; i < 3; i++)
        tf_send(&f, TCP_ACK, f.peer_nxt, s0, NULL, 0);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, s0); /* the fast retransmission, lost */
    ts_time_t t_fr = sg->t;
    tf_flush(&f);
    tf_advance(&f, 50 * MS);
    struct tf_seg *again = NULL;
    while ((sg = tf_next(&f)))
        if (sg->h.payload_len && sg->h.seq == s0 && !again)
            again = sg;
    ck_assert_msg(again != NULL, "lost fast retransmission not resent within 50 ms");
    ck_assert_uint_ge(again->t - t_fr, MS / 2); /* 2*SRTT + 0.1 ms, not at once */
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_LOST_RETRANSMIT), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    f.stack_nxt = s0 + 4 * TF_MSS;
    tf_send_ack(&f);
    tf_advance(&f, 2 * SEC);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_free(&f);
}
END_TEST

static Suite *tcp_rto_suite(void)
{
    Suite *s = suite_create("tcp_rto");
    TCase *tc = tcase_create("rto");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_syn_retransmitted_after_1_2_4_8_16_32_s_then_etimedout);
    tcase_add_test(tc, test_syn_ack_retransmitted_after_1_then_2_s);
    tcase_add_test(tc, test_rto_is_srtt_plus_four_rttvar_and_the_timer_uses_it);
    tcase_add_test(tc, test_rto_backoff_200ms_floor_doubling_to_120s_ceiling_then_etimedout);
    tcase_add_test(tc, test_karn_no_rtt_sample_from_retransmitted_segment);
    tcase_add_test(tc, test_karn_no_rtt_sample_from_retransmitted_syn);
    tcase_add_test(tc, test_fin_retransmitted_with_backoff_until_acked);
    tcase_add_test(tc, test_ack_of_new_data_restarts_retransmission_timer);
    tcase_add_test(tc, test_three_dup_acks_fast_retransmit_and_partial_ack_resends_next_hole);
    tcase_add_test(tc, test_timestamps_give_rtt_sample_after_retransmission);
    tcase_add_test(tc, test_syn_ack_retry_limit_drops_half_open_listener_stays);
    tcase_add_test(tc, test_pure_ack_after_timeout_carries_highest_seq_sent);
    tcase_add_test(tc,
                   test_initial_window_10_then_one_at_timeout_then_frto_then_slow_start_from_una);
    tcase_add_test(tc, test_sack_recovery_resends_both_holes_and_nothing_sacked);
    suite_add_tcase(s, tc);
    TCase *lr = tcase_create("loss recovery");
    tcase_set_timeout(lr, 60);
    tcase_add_test(lr, test_newreno_full_ack_with_nothing_in_flight_leaves_two_segments_of_cwnd);
    tcase_add_test(lr, test_sack_recovery_ends_with_cwnd_at_ssthresh);
    tcase_add_test(
        lr, test_loss_probe_after_2srtt_for_a_burst_and_after_the_delack_allowance_for_one_segment);
    tcase_add_test(lr, test_loss_probe_resends_the_last_segment_sent_even_with_new_data_queued);
    tcase_add_test(lr, test_lost_retransmission_of_second_hole_resent_without_waiting_for_the_rto);
    tcase_add_test(lr, test_lost_fast_retransmission_resent_before_the_rto_with_empty_scoreboard);
    suite_add_tcase(s, lr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_rto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
