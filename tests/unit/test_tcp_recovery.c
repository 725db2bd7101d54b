/* Loss recovery on the wire, as traces (tcp_script.h): RFC 6675 IsLost/pipe/NextSeg, RACK's
 * reordering window and the tail loss probe (RFC 8985), PRR (RFC 6937), D-SACKs sent (RFC 2883)
 * and used to undo a spurious recovery (RFC 3708). Segments of 1000 bytes (the peer's MSS, no
 * timestamps), a 10 ms RTT from the handshake, sequence numbers relative to each ISN. */
#include <check.h>

#include "tcp_fixture.h"
#include "tcp_script.h"

#define MS ((ts_time_t)1000)

static void setup(struct tf *f, uint16_t peer_wnd)
{
    tf_init(f);
    f->peer_syn_opts.mss_ok = true;
    f->peer_syn_opts.mss = 1000;
    f->peer_syn_opts.sack_perm = true;
    f->peer_wnd = peer_wnd;
    tf_establish_rtt(f, 10 * MS);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f->conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f->conn, &o, f->now), 0);
}

static const char TEN_OUT[] = "0 write 10000\n" TF_TEN_SEGMENTS_AT_0;

/* After TEN_OUT: three SACKs find 1:1001 lost, its retransmission repairs it and everything is
 * acknowledged (a recovery: ssthresh is set), then three more segments go out at 20 ms. The
 * script's lines that follow continue it (one string: a script's times count from its start). */
#define RECOVERED_THEN_THREE_OUT                                                                   \
    "10 < ack 1 sack 1001:2001\n"                                                                  \
    "10 < ack 1 sack 1001:3001\n"                                                                  \
    "10 < ack 1 sack 1001:4001\n"                                                                  \
    "10 > 1:1001\n"                                                                                \
    "10.2 < ack 10001\n"                                                                           \
    "20 write 3000\n"                                                                              \
    "20 > 10001:11001\n"                                                                           \
    "20 > 11001:12001\n"                                                                           \
    "20 > 12001:13001\n"

/* The example of issue 13: ten segments out, SACKs for 1001:3001 and 8001:9001. Only 1:1001 has
 * DupThresh SACKed segments above it (RFC 6675 IsLost); RACK finds 4001:8001 lost as well (sent
 * before 8001:9001, and no reordering seen), but PRR lets one segment go for the one delivered:
 * one retransmission, not six. */
START_TEST(test_rfc6675_example_sends_one_retransmission_not_six)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT);
    tf_script(&f, "10 < ack 1 sack 1001:2001\n"
                  "10 < ack 1 sack 1001:3001\n"
                  "10 > none\n"
                  "10.5 < ack 1 sack 8001:9001 1001:3001\n"
                  "10.5 > 1:1001\n"
                  "10.5 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DUPTHRESH_LOST), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* PRR (RFC 6937) after the example: ssthresh = 5000. While the pipe is under ssthresh, each ACK
 * lets out what it delivered (the slow-start reduction bound), plus one segment when snd.una
 * moves and nothing new was lost; lost segments first (NextSeg rule 1). */
START_TEST(test_prr_sends_what_each_ack_delivers_then_one_more_when_snd_una_moves)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT);
    tf_script(&f, "10 < ack 1 sack 1001:2001\n"
                  "10 < ack 1 sack 1001:3001\n"
                  "10.5 < ack 1 sack 8001:9001 1001:3001\n"
                  "10.5 > 1:1001\n"
                  "11 < ack 1 sack 8001:10001 1001:3001\n"
                  "11 > 3001:4001\n"
                  "11 > none\n"
                  "20.5 < ack 3001 sack 8001:10001\n"
                  "20.5 > 4001:5001\n"
                  "20.5 > 5001:6001\n"
                  "20.5 > none\n");
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* RACK (RFC 8985 6.2): one segment SACKed above a hole is no proof of loss; the hole is lost only
 * once an RTT and the reordering window (min_RTT / 4 = 2.5 ms) have passed since it was sent:
 * the reordering timer (12.5 ms, plus Linux's 1 ms slack of a timer tick) sends it at 13.5 ms,
 * not at the SACK and not at the RTO. */
START_TEST(test_rack_retransmits_after_rtt_plus_quarter_min_rtt_not_at_first_sack)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 4000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "0 > 3001:4001\n"
                  "10 < ack 1 sack 1001:2001\n"
                  "10 > none\n"
                  "13.4 > none\n"
                  "13.5 > 1:1001\n"
                  "13.5 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RACK_LOST), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* The same reordering, but the late segment arrives within the window: nothing is resent. */
START_TEST(test_rack_sends_nothing_when_the_reordered_segment_arrives_within_the_window)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 4000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "0 > 3001:4001\n"
                  "10 < ack 1 sack 1001:2001\n"
                  "11 < ack 4001\n"
                  "300 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* The stack's clock moves once per step, and a host answering a tap write at once makes round
 * trips that read as 0 (min_RTT 1 us). Once the path has reordered, the window stays at least
 * 50 us: a SACK above a hole read in the step that sent it resends nothing, and the ACK that
 * fills the hole finds it unsent (with a window of min_RTT / 4 = 0 it went at the SACK). */
START_TEST(test_rack_window_stays_open_after_reordering_when_round_trips_read_as_zero)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 4000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "0 > 3001:4001\n"
                  "10 < ack 1 sack 1001:2001\n"
                  "11 < ack 4001\n" /* 1:1001 came late, never resent: reordering */
                  "20 write 4000\n"
                  "20 < ack 5001\n" /* in the step that sent it: a round trip of 0 */
                  "20 < ack 5001 sack 6001:7001\n"
                  "20 > 4001:5001\n"
                  "20 > 5001:6001\n"
                  "20 > 6001:7001\n"
                  "20 > 7001:8001\n"
                  "20 > none\n"
                  "20.5 < ack 8001\n"
                  "300 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RACK_LOST), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* TLP (RFC 8985 7): no answer to a flight of three: after PTO = 2 SRTT + 2 ms = 22 ms the last
 * segment goes again; the peer had it (a D-SACK answers), so nothing else is resent, no RTO. */
START_TEST(test_tail_loss_probe_resends_the_last_segment_after_2srtt)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 3000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "21.9 > none\n"
                  "22 > 2001:3001\n"
                  "22 > none\n"
                  "32 < ack 3001 sack 2001:3001\n"
                  "1000 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* On a connection that has met no loss, nothing comes back, not even for the probe: one probe
 * per flight (RFC 8985 7.2), then the RTO, 200 ms after it. Silence there is most often a
 * receiver that answers late (a slow reader), not loss. */
START_TEST(test_unanswered_probe_on_a_clean_connection_is_not_repeated_the_rto_follows)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 3000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "22.005 > 2001:3001\n"
                  "221.9 > none\n"
                  "222.005 > 1:1001\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* Once the connection has met loss (a recovery here), nothing at all coming back, not even for
 * the probe, is likely loss again: the probe is sent again after twice the PTO, then after twice
 * that, and so on while the next probe would come before the RTO (200 ms after the last probe),
 * which then takes over: four probes (PTO = 2 SRTT + 0.1 ms + the flight's time on the wire,
 * SRTT ~10 ms), then the RTO. Any ACK would end the probing (test below). */
START_TEST(test_unanswered_probe_after_a_loss_repeated_with_backoff_then_the_rto)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT);
    tf_script(&f, RECOVERED_THEN_THREE_OUT "40.106 > 12001:13001\n"
                                           "80.215 > none\n"
                                           "80.315 > 12001:13001\n"
                                           "160.635 > none\n"
                                           "160.735 > 12001:13001\n"
                                           "321.475 > none\n"
                                           "321.575 > 12001:13001\n"
                                           "521.475 > none\n"
                                           "521.575 > 10001:11001\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 4);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* The receiver answers a probe with a D-SACK: it had the segment, its ACK was late (a slow
 * reader's receiver holds its ACKs while its buffer fills). The next flight's probe waits twice
 * the PTO: 40 + 2 x 22.005 ms, where the first one came after 22.005 ms (without the doubling:
 * at 62.005). */
START_TEST(test_probe_answered_by_a_dsack_doubles_the_next_pto)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 3000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "22.005 > 2001:3001\n"
                  "32 < ack 3001 sack 2001:3001\n"
                  "40 write 3000\n"
                  "40 > 3001:4001\n"
                  "40 > 4001:5001\n"
                  "40 > 5001:6001\n"
                  "83.9 > none\n"
                  "84.01 > 5001:6001\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 2);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DSACK_RX), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* An answer that does not cover the probe (a SACK of it) ends the probing: RACK takes over and
 * repairs what is missing below it; no second probe. */
START_TEST(test_sack_of_the_probe_ends_probing_and_rack_repairs_below_it)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 3000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "22 > 2001:3001\n"
                  "32 < ack 1 sack 2001:3001\n"
                  "32 > 1:1001\n");
    tf_advance(&f, 5 * MS);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* The probe carries the FIN after shutdown(), as Linux's does, instead of waiting for the RTO: it
 * is the last segment sent (here the FIN alone, the data having left at the write). */
START_TEST(test_tail_loss_probe_carries_the_fin_after_shutdown)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 3000\n"
                  "0 shutdown\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "0 > 3001:3001 F\n"
                  "22 > 3001:3001 F\n"
                  "22 > none\n"
                  "32 < ack 3002\n"
                  "1000 > none\n");
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RTO), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* A lone FIN (the data was acknowledged before shutdown): one segment in flight, so the probe
 * waits PTO + 50 ms (RFC 8985 7.2 WCDelAckT) and is the FIN itself. */
START_TEST(test_tail_loss_probe_of_a_lone_fin_waits_the_delayed_ack_allowance)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 1000\n"
                  "0 > 1:1001\n"
                  "10 < ack 1001\n"
                  "20 shutdown\n"
                  "20 > 1001:1001 F\n"
                  "91.9 > none\n"
                  "92 > 1001:1001 F\n"
                  "92 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* A slow reader: its window, shrunk to a fraction of what it offered, is full and more data
 * waits. Its ACKs come when it reads: late, not lost. No probe (issue 13: 129 duplicates in 4 s
 * against `curl --limit-rate`), only the RTO watches (200 ms). */
START_TEST(test_no_tail_loss_probe_while_the_receivers_window_holds_the_flight)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 write 20000\n"
                  "0 > 1:1001\n"
                  "0 > 1001:2001\n"
                  "0 > 2001:3001\n"
                  "0 > 3001:4001\n"
                  "0 > 4001:5001\n"
                  "0 > 5001:6001\n"
                  "0 > 6001:7001\n"
                  "0 > 7001:8001\n"
                  "0 > 8001:9001\n"
                  "0 > 9001:10001\n"
                  "10 < ack 8001 win 4000\n"
                  "10 > 10001:11001\n"
                  "10 > 11001:12001\n"
                  "199 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* RFC 3708 with D-SACKs: the first segment was only late; RFC 6675 IsLost (three SACKed above)
 * had it resent and cwnd halved. The D-SACK for the retransmission proves it was not needed:
 * cwnd and ssthresh are restored. */
START_TEST(test_dsack_of_the_only_retransmission_undoes_the_cwnd_reduction)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT);
    struct ts_tcp_info in;
    ts_tcp_get_info(f.conn, &in, f.now);
    uint32_t cwnd0 = in.cwnd;
    tf_script(&f, "10 < ack 1 sack 1001:2001\n"
                  "10 < ack 1 sack 1001:3001\n"
                  "10 < ack 1 sack 1001:4001\n"
                  "10 > 1:1001\n"
                  "10.2 < ack 10001\n");
    ts_tcp_get_info(f.conn, &in, f.now);
    ck_assert_uint_lt(in.cwnd, cwnd0);
    tf_script(&f, "20 < ack 10001 sack 1:1001\n");
    ts_tcp_get_info(f.conn, &in, f.now);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DSACK_RX), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SPURIOUS_UNDO), 1);
    ck_assert_uint_ge(in.cwnd, cwnd0);
    ck_assert_uint_gt(in.ssthresh, 1u << 20);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* Once the connection has met loss (a recovery set ssthresh), the PTO's floor beyond 2 SRTT is
 * 0.1 ms instead of Linux's 2 ms tick: a silent tail after the recovery is probed at
 * 20 + 2 SRTT (20 ms) + 0.1 ms + the flight's 6 us on the wire, where the test above, on a
 * connection without loss, waits 2 SRTT + 2 ms. */
START_TEST(test_probe_after_a_recovery_waits_2srtt_and_a_tenth_of_a_millisecond)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT);
    tf_script(&f, RECOVERED_THEN_THREE_OUT "40.05 > none\n"
                                           "40.106 > 12001:13001\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_LOSS_PROBE), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* The peer's first 1000 bytes arrived and were ACKed 100 ms ago (the ACK is flushed). */
static void setup_holding_1_1001(struct tf *f)
{
    setup(f, 65535);
    tf_script(f, "0 < data 1:1001 ack 1\n");
    tf_advance(f, 100 * MS);
    tf_flush(f);
}

/* A duplicate of data received is answered at once with a D-SACK (RFC 2883 4) for it, once. */
START_TEST(test_duplicate_segment_answered_with_a_dsack_block)
{
    struct tf f;
    setup_holding_1_1001(&f);
    tf_script(&f, "100 < data 1:1001 ack 1\n"
                  "100 > ack 1001 sack 1:1001\n"
                  "100 > none\n"
                  "100 < data 1001:2001 ack 1\n");
    tf_advance(&f, 300 * MS);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.ack, f.peer_iss + 2001);
    ck_assert_uint_eq(sg->h.opts.nsack, 0); /* reported once */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DSACK_TX), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* RFC 2883 4.1.2: a segment above RCV.NXT that the receiver already holds (its SACK was lost)
 * is reported as the first block, and the block holding it follows. */
START_TEST(test_duplicate_above_the_hole_gets_a_dsack_then_its_block)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, "0 < data 1001:2001 ack 1\n"
                  "0 > ack 1 sack 1001:2001\n"
                  "0 < data 2001:3001 ack 1\n"
                  "0 > ack 1 sack 1001:3001\n"
                  "1 < data 1001:2001 ack 1\n"
                  "1 > ack 1 sack 1001:2001 1001:3001\n"
                  "2 < data 3001:4001 ack 1\n"
                  "2 > ack 1 sack 1001:4001\n"); /* reported once */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DSACK_TX), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* RFC 2883 4.1.1: a retransmission that overlaps RCV.NXT: its old part is the D-SACK block, its
 * new part is ACKed. */
START_TEST(test_partly_duplicate_segment_reports_the_old_part)
{
    struct tf f;
    setup_holding_1_1001(&f);
    tf_script(&f, "100 < data 501:1501 ack 1\n"
                  "100 > ack 1501 sack 501:1001\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DSACK_TX), 1);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* Ten segments out (IW 10) of 14 000 bytes, nothing heard: the tail loss probe at 22 ms, the
 * RTO at 222 ms with the first segment again (RFC 5682 3.1 step 1). */
static const char TEN_OUT_THEN_RTO[] = "0 write 14000\n" TF_TEN_SEGMENTS_AT_0 "22.01 > 9001:10001\n"
                                       "222.01 > 1:1001\n"
                                       "222.01 > none\n";

/* F-RTO (RFC 5682 3.1) on a delay spike: the ACKs of the originals were only late. The first
 * moves snd.una: two new segments go instead of retransmissions (step 2b); the next moves it
 * again, over data sent once: the timeout was spurious (step 3b), cwnd is restored and the
 * rest of the data follows at once, with no retransmission of 3001:10001. */
START_TEST(test_frto_finds_a_spurious_timeout_sends_new_data_and_restores_cwnd)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT_THEN_RTO);
    tf_script(&f, "10 < ack 3001\n"
                  "10 > 10001:11001\n"
                  "10 > 11001:12001\n"
                  "10 > none\n"
                  "11 < ack 6001\n"
                  "11 > 12001:13001\n"
                  "11 > 13001:14001\n"
                  "11 > none\n"
                  "12 < ack 14001\n"
                  "1000 > none\n");
    /* Undone: ssthresh is back above the timeout's halving (5 000) and cwnd at least the ten
     * segments it had before the timeout (a timeout left standing would give 1 000 plus slow
     * start's growth on three ACKs). */
    struct ts_tcp_info i;
    ts_tcp_get_info(f.conn, &i, f.now);
    ck_assert_uint_gt(i.ssthresh, 5000);
    ck_assert_uint_ge(i.cwnd, 10000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_FRTO_SPURIOUS), 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 2); /* the probe and the RTO's */
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

/* F-RTO when the loss is real: the retransmission is ACKed, two new segments go (step 2b), and
 * the receiver SACKs them with snd.una unmoved (step 3a): the sender goes back to snd.una in slow
 * start (cwnd two segments). */
START_TEST(test_frto_finds_a_real_timeout_and_goes_back_to_snd_una)
{
    struct tf f;
    setup(&f, 65535);
    tf_script(&f, TEN_OUT_THEN_RTO);
    tf_script(&f, "10 < ack 1001\n"
                  "10 > 10001:11001\n"
                  "10 > 11001:12001\n"
                  "10 > none\n"
                  "11 < ack 1001 sack 10001:11001\n"
                  "11 > 1001:2001\n"
                  "11 > 2001:3001\n"
                  "11 > none\n");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_FRTO_SPURIOUS), 0);
    tf_check_invariants(&f);
    tf_free(&f);
}
END_TEST

static Suite *tcp_recovery_suite(void)
{
    Suite *s = suite_create("tcp_recovery");
    TCase *tc = tcase_create("recovery");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_rfc6675_example_sends_one_retransmission_not_six);
    tcase_add_test(tc, test_prr_sends_what_each_ack_delivers_then_one_more_when_snd_una_moves);
    tcase_add_test(tc, test_rack_retransmits_after_rtt_plus_quarter_min_rtt_not_at_first_sack);
    tcase_add_test(tc,
                   test_rack_sends_nothing_when_the_reordered_segment_arrives_within_the_window);
    tcase_add_test(tc, test_rack_window_stays_open_after_reordering_when_round_trips_read_as_zero);
    tcase_add_test(tc, test_tail_loss_probe_resends_the_last_segment_after_2srtt);
    tcase_add_test(tc, test_unanswered_probe_on_a_clean_connection_is_not_repeated_the_rto_follows);
    tcase_add_test(tc, test_unanswered_probe_after_a_loss_repeated_with_backoff_then_the_rto);
    tcase_add_test(tc, test_sack_of_the_probe_ends_probing_and_rack_repairs_below_it);
    tcase_add_test(tc, test_probe_answered_by_a_dsack_doubles_the_next_pto);
    tcase_add_test(tc, test_tail_loss_probe_carries_the_fin_after_shutdown);
    tcase_add_test(tc, test_tail_loss_probe_of_a_lone_fin_waits_the_delayed_ack_allowance);
    tcase_add_test(tc, test_no_tail_loss_probe_while_the_receivers_window_holds_the_flight);
    tcase_add_test(tc, test_dsack_of_the_only_retransmission_undoes_the_cwnd_reduction);
    tcase_add_test(tc, test_duplicate_segment_answered_with_a_dsack_block);
    tcase_add_test(tc, test_duplicate_above_the_hole_gets_a_dsack_then_its_block);
    tcase_add_test(tc, test_partly_duplicate_segment_reports_the_old_part);
    tcase_add_test(tc, test_frto_finds_a_spurious_timeout_sends_new_data_and_restores_cwnd);
    tcase_add_test(tc, test_frto_finds_a_real_timeout_and_goes_back_to_snd_una);
    tcase_add_test(tc, test_probe_after_a_recovery_waits_2srtt_and_a_tenth_of_a_millisecond);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_recovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
