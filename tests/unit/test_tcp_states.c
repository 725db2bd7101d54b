/* The TCP state machine: every transition of RFC 9293 3.3.2, each in its own
 * test, checked through the trace (states passed) and the exact segments the
 * stack sends. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MSL (30 * TS_SEC) /* the default, cfg.tcp_msl */

/* ------------------------------------------------------------------ opening */

START_TEST(test_passive_open_goes_listen_syn_recv_established)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *sa = tf_syn_received(&f);
    /* RFC 9293 3.7.1 / RFC 6691: MSS on the SYN-ACK is the MTU minus 40. */
    ck_assert(sa->h.opts.mss_ok);
    ck_assert_uint_eq(sa->h.opts.mss, 1460);
    ck_assert_int_eq(ts_tcp_state(f.listener), TS_TCP_LISTEN);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV");
    ck_assert_ptr_null(ts_tcp_accept(f.listener)); /* not before the handshake completes */

    tf_send_ack(&f);
    tf_expect_nothing(&f);
    ck_assert(ts_tcp_accept_ready(f.listener));
    ck_assert(f.listener_events & TS_TCP_EV_ACCEPT);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(ts_tcp_state(f.conn), TS_TCP_ESTABLISHED);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED");
    ck_assert_str_eq(tf_path_of(&f, TF_STACK_PORT, 0), "LISTEN"); /* the listener stays */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_PASSIVE_OPEN), 1);
    tf_free(&f);
}
END_TEST

START_TEST(test_active_open_goes_syn_sent_established)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *syn = tf_syn_sent(&f);
    ck_assert(syn->h.opts.mss_ok);
    ck_assert_uint_eq(syn->h.opts.mss, 1460);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT");
    ck_assert_uint_eq(f.events & TS_TCP_EV_CONNECTED, 0);

    struct tcp_hdr h = tf_hdr(&f, TCP_SYN | TCP_ACK, f.peer_iss, f.stack_nxt);
    h.opts = f.peer_syn_opts;
    tf_send_hdr(&f, &h);
    f.peer_nxt = f.peer_iss + 1;
    /* RFC 9293 3.10.7.3: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert(f.events & TS_TCP_EV_CONNECTED);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT ESTABLISHED");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ACTIVE_OPEN), 1);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.5 figure 8: both SYNs cross. */
START_TEST(test_simultaneous_open_syn_sent_syn_recv_established)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, f.peer_iss, 0);
    h.opts = f.peer_syn_opts;
    tf_send_hdr(&f, &h);
    f.peer_nxt = f.peer_iss + 1;
    /* RFC 9293 3.10.7.3: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
    tf_expect(&f, TCP_SYN | TCP_ACK, f.stack_iss, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_RECV);

    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT SYN_RECV ESTABLISHED");
    ck_assert(f.events & TS_TCP_EV_CONNECTED);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* Figure 8 exactly: the peer's SYN-ACK (its SYN repeated with the ACK of ours)
 * completes it. */
START_TEST(test_simultaneous_open_completed_by_peers_syn_ack)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    f.peer_nxt = f.peer_iss + 1;
    tf_expect(&f, TCP_SYN | TCP_ACK, f.stack_iss, f.peer_nxt);
    tf_send(&f, TCP_SYN | TCP_ACK, f.peer_iss, f.stack_nxt, NULL, 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT SYN_RECV ESTABLISHED");
    /* Data flows afterwards in both directions. */
    tf_flush(&f);
    tf_send_data(&f, "ping", 4);
    char buf[8];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 4);
    ck_assert_int_eq(memcmp(buf, "ping", 4), 0);
    tf_free(&f);
}
END_TEST

START_TEST(test_listener_close_goes_listen_to_close)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    ts_tcp_close(f.listener, f.now);
    f.listener = NULL;
    ck_assert_str_eq(tf_path_of(&f, TF_STACK_PORT, 0), "LISTEN CLOSE");
    /* The port is closed now: a SYN gets a RST. */
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    tf_expect(&f, TCP_RST | TCP_ACK, 0, f.peer_iss + 1);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB, nothing is sent. */
START_TEST(test_close_in_syn_sent_goes_to_close_silently)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    tf_expect_nothing(&f);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT CLOSE");
    tf_advance(&f, 10 * TS_SEC); /* no retransmitted SYN either */
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 us clock: for one 4-tuple the ISN advances with
 * time (one tick per 4 us), and another 4-tuple gets an unrelated one. */
START_TEST(test_isn_follows_4us_clock_and_differs_per_4tuple)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    uint32_t iss1 = f.stack_iss;
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0); /* clear the half-open connection */
    tf_advance(&f, 1 * TS_SEC);
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.seq - iss1, 250000u);
    f.rport = TF_PEER_PORT + 1;
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    uint32_t d = sa->h.seq - iss1;
    ck_assert_msg(d > 250000u + 1000 || d < 250000u - 1000, "ISN of another 4-tuple too close");
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4 (fifth, SYN-RECEIVED): an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>
 * and the half-open connection stays. */
START_TEST(test_bad_ack_in_syn_recv_gets_rst_with_seq_of_ack)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    uint32_t bad = f.stack_iss + 1000;
    tf_send(&f, TCP_ACK, f.peer_nxt, bad, NULL, 0);
    tf_expect(&f, TCP_RST, bad, 0);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV");
    tf_send_ack(&f); /* the right ACK still completes it */
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED");
    tf_free(&f);
}
END_TEST

/* The ACK that completes the handshake may carry data: it is kept for the application. */
START_TEST(test_handshake_ack_with_data_delivers_data)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    tf_send_data(&f, "GET /", 5);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    char buf[8];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "GET /", 5), 0);
    tf_free(&f);
}
END_TEST

/* Data and FIN in one segment: the data is delivered, then end of stream; CLOSE_WAIT. */
START_TEST(test_fin_with_data_delivers_data_then_eof)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send(&f, TCP_ACK | TCP_PSH | TCP_FIN, f.peer_nxt, f.stack_nxt, "bye", 3);
    f.peer_nxt += 4;
    struct tf_seg *a = tf_next(&f);
    if (!a)
        a = tf_wait_seg(&f, 200 * TS_MS);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE_WAIT);
    char buf[8];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 3);
    ck_assert_int_eq(memcmp(buf, "bye", 3), 0);
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 0);
    tf_free(&f);
}
END_TEST

/* Wrap-safety of the send side: choose the moment of the SYN so that the stack's ISS (a 4 us
 * clock plus a fixed hash, RFC 6528) lies 1000 below 2^32; data, ACKs and the FIN then cross
 * zero, and everything must still be in order and acknowledged exactly. */
START_TEST(test_send_sequence_wraps_around_zero_cleanly)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    uint32_t iss1 = f.stack_iss;
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0);
    uint32_t ticks = 0xfffffc18u - iss1; /* ISS 1000 below zero, counting its SYN */
    tf_advance(&f, (ts_time_t)ticks * 4);
    tf_flush(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, f.peer_iss, 0);
    h.opts = f.peer_syn_opts;
    tf_send_hdr(&f, &h);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.seq, 0xfffffc18u);
    f.stack_iss = sa->h.seq;
    f.stack_nxt = sa->h.seq + 1;
    f.peer_nxt = f.peer_iss + 1;
    tf_send_ack(&f);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);

    static uint8_t data[5000], got[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (ssize_t)sizeof(data));
    ck_assert_int_eq(ts_tcp_shutdown_write(f.conn, f.now), 0);
    size_t have = 0;
    bool fin = false;
    for (int round = 0; round < 10 && !fin; round++) {
        struct tf_seg *sg;
        while ((sg = tf_next(&f))) {
            uint32_t off = sg->h.seq - (f.stack_iss + 1);
            ck_assert_uint_eq(off, have); /* in order, no gap, no repeat */
            memcpy(got + have, sg->h.payload, sg->h.payload_len);
            have += sg->h.payload_len;
            if (sg->h.flags & TCP_FIN)
                fin = true;
        }
        f.stack_nxt = f.stack_iss + 1 + (uint32_t)have + (fin ? 1 : 0);
        tf_send_ack(&f);
    }
    ck_assert(fin);
    ck_assert_uint_eq(have, sizeof(data));
    ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
    ck_assert(f.stack_nxt < 0x10000u); /* really wrapped */
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_advance(&f, 10 * TS_SEC);
    tf_expect_nothing(&f); /* nothing left unacknowledged */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ closing */

START_TEST(test_active_close_fin_wait1_fin_wait2_time_wait_close_after_2msl)
{
    struct tf f;
    tf_init(&f);
    tf_fin_wait1(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1");
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_send_fin(&f);
    if (!tf_pending(&f))
        tf_advance(&f, 200 * TS_MS);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    ck_assert_int_eq(ts_tcp_recv(f.conn, (char[4]){0}, 4, f.now), 0); /* EOF */

    /* RFC 9293 3.10.7.4: TIME-WAIT lasts 2 MSL (60 s by default). */
    ts_time_t entered = tf_time_of(&f, TS_TCP_TIME_WAIT);
    tf_advance(&f, entered + 2 * MSL - TS_MS - f.now);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    tf_advance(&f, 2 * TS_MS);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_str_eq(tf_path(&f),
                     "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE");
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

START_TEST(test_active_close_by_orphan_is_freed_after_time_wait)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ts_tcp_close(f.conn, f.now); /* the owner lets go: the stack finishes on its own */
    f.conn = NULL;
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt++;
    tf_send_ack(&f);
    tf_send_fin(&f);
    tf_advance(&f, 200 * TS_MS);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2); /* listener + TIME_WAIT */
    tf_advance(&f, 2 * MSL + TS_SEC);
    ck_assert_str_eq(tf_path(&f),
                     "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE");
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1); /* only the listener is left */
    tf_free(&f);
}
END_TEST

START_TEST(test_passive_close_close_wait_last_ack_close)
{
    struct tf f;
    tf_init(&f);
    tf_close_wait(&f);
    ck_assert(f.events & TS_TCP_EV_READABLE);
    ck_assert(ts_tcp_read_eof(f.conn));
    ck_assert_int_eq(ts_tcp_recv(f.conn, (char[4]){0}, 4, f.now), 0);
    ck_assert_int_eq(ts_tcp_shutdown_write(f.conn, f.now), 0);
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt++;
    ck_assert_int_eq(tf_state(&f), TS_TCP_LAST_ACK);
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSE");
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.6 figure 13: both FINs cross. */
START_TEST(test_simultaneous_close_fin_wait1_closing_time_wait)
{
    struct tf f;
    tf_init(&f);
    tf_closing(&f);
    tf_send_ack(&f); /* the ACK of our FIN */
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    tf_expect_nothing(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 CLOSING TIME_WAIT");
    tf_advance(&f, 2 * MSL + TS_MS);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    tf_free(&f);
}
END_TEST

START_TEST(test_fin_and_ack_of_fin_together_go_fin_wait1_to_time_wait)
{
    struct tf f;
    tf_init(&f);
    tf_fin_wait1(&f);
    tf_send_fin(&f); /* FIN|ACK acknowledging our FIN */
    if (!tf_pending(&f))
        tf_advance(&f, 200 * TS_MS);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 TIME_WAIT");
    tf_free(&f);
}
END_TEST

START_TEST(test_half_close_shutdown_write_still_receives)
{
    struct tf f;
    tf_init(&f);
    tf_fin_wait2(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "x", 1, f.now), -EPIPE);
    tf_send_data(&f, "hello", 5);
    if (!tf_pending(&f))
        tf_advance(&f, 200 * TS_MS);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_send_fin(&f);
    tf_advance(&f, 200 * TS_MS);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    tf_free(&f);
}
END_TEST

START_TEST(test_close_wait_still_sends_after_peer_fin)
{
    struct tf f;
    tf_init(&f);
    tf_close_wait(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "reply", 5, f.now), 5);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 5);
    ck_assert_int_eq(memcmp(sg->h.payload, "reply", 5), 0);
    f.stack_nxt += 5;
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE_WAIT);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ RST in
 * synchronized states */

/* RFC 5961 3.2 / RFC 9293 3.10.7.4: a RST whose seq is exactly RCV.NXT resets
 * the connection. */
static void rst_exact(void (*setup)(struct tf *), enum ts_tcp_state st, int want_err)
{
    struct tf f;
    tf_init(&f);
    setup(&f);
    ck_assert_int_eq(tf_state(&f), st);
    uint64_t rx = tf_count(&f, TS_C_TCP_RST_RX);
    f.events = 0;
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0);
    tf_expect_nothing(&f); /* never answer a RST */
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RST_RX), rx + 1);
    ck_assert_ptr_nonnull(tf_cause_of(&f, TS_TCP_CLOSE));
    if (want_err) {
        ck_assert_int_eq(ts_tcp_error(f.conn, false), want_err);
        ck_assert(f.events & TS_TCP_EV_ERROR);
        ck_assert_int_eq(ts_tcp_send(f.conn, "x", 1, f.now), -want_err);
    }
    tf_advance(&f, 5 * TS_SEC); /* and no retransmission of anything afterwards */
    tf_expect_nothing(&f);
    tf_free(&f);
}

/* RFC 5961 3.2: in the window but not exact -> challenge ACK, the state is
 * unchanged. */
static void rst_in_window(void (*setup)(struct tf *), enum ts_tcp_state st)
{
    struct tf f;
    tf_init(&f);
    setup(&f);
    uint64_t ch = tf_count(&f, TS_C_TCP_CHALLENGE_ACK);
    tf_send(&f, TCP_RST, f.peer_nxt + 1, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), st);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CHALLENGE_ACK), ch + 1);
    /* ... and a RST out of the window is dropped silently. */
    uint64_t oow = tf_count(&f, TS_C_TCP_DROP_RST_OUT_OF_WINDOW);
    tf_send(&f, TCP_RST, f.peer_nxt + 0x40000000u, 0, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), st);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_RST_OUT_OF_WINDOW), oow + 1);
    tf_free(&f);
}

/* The state builders of tcp_fixture.h (tf_establish, tf_fin_wait1, ...) are the setups: each
 * ends with f->conn in the state under test. */
#define RST_TESTS(name, setup, st, err)                                                            \
    START_TEST(test_rst_exact_seq_in_##name##_resets_to_close)                                     \
    {                                                                                              \
        rst_exact(setup, st, err);                                                                 \
    }                                                                                              \
    END_TEST                                                                                       \
    START_TEST(test_rst_in_window_not_exact_in_##name##_gets_challenge_ack)                        \
    {                                                                                              \
        rst_in_window(setup, st);                                                                  \
    }                                                                                              \
    END_TEST

RST_TESTS(established, tf_establish, TS_TCP_ESTABLISHED, ECONNRESET)
RST_TESTS(established_active, tf_establish_active, TS_TCP_ESTABLISHED, ECONNRESET)
RST_TESTS(fin_wait1, tf_fin_wait1, TS_TCP_FIN_WAIT1, ECONNRESET)
RST_TESTS(fin_wait2, tf_fin_wait2, TS_TCP_FIN_WAIT2, ECONNRESET)
RST_TESTS(close_wait, tf_close_wait, TS_TCP_CLOSE_WAIT, ECONNRESET)
RST_TESTS(closing, tf_closing, TS_TCP_CLOSING, 0)
RST_TESTS(last_ack, tf_last_ack, TS_TCP_LAST_ACK, 0)

/* SYN-RECEIVED (passive): the half-open child dies, the listener stays (RFC
 * 9293 3.10.7.4: "return this connection to the LISTEN state"). */
START_TEST(test_rst_exact_seq_in_syn_recv_drops_half_open_listener_stays)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV CLOSE");
    ck_assert_int_eq(ts_tcp_state(f.listener), TS_TCP_LISTEN);
    ck_assert(!ts_tcp_accept_ready(f.listener));
    tf_advance(&f, 5 * TS_SEC); /* no SYN-ACK retransmission for the dead child */
    tf_expect_nothing(&f);
    /* The listener still accepts new connections. */
    f.peer_iss += 1000000;
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    tf_free(&f);
}
END_TEST

START_TEST(test_rst_in_window_not_exact_in_syn_recv_gets_challenge_ack)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    tf_send(&f, TCP_RST, f.peer_nxt + 10, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV");
    /* The handshake can still complete. */
    tf_send_ack(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED");
    tf_free(&f);
}
END_TEST

/* TIME-WAIT: we follow RFC 1337 (ignore RSTs, no assassination); Linux would
 * close instead. */
START_TEST(test_rst_in_time_wait_is_ignored_rfc1337)
{
    struct tf f;
    tf_init(&f);
    tf_time_wait(&f);
    tf_send(&f, TCP_RST, f.peer_nxt, 0, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_TIME_WAIT_RST), 1);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ SYN in
 * synchronized states */

/* RFC 5961 4.2 / RFC 9293 3.10.7.4: any SYN in a synchronized state gets a
 * challenge ACK. */
static void syn_challenge(void (*setup)(struct tf *), enum ts_tcp_state st)
{
    struct tf f;
    tf_init(&f);
    setup(&f);
    uint64_t ch = tf_count(&f, TS_C_TCP_CHALLENGE_ACK);
    tf_send(&f, TCP_SYN, f.peer_nxt + 5, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), st);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CHALLENGE_ACK), ch + 1);
    tf_free(&f);
}

START_TEST(test_syn_in_established_gets_challenge_ack)
{
    syn_challenge(tf_establish, TS_TCP_ESTABLISHED);
}
END_TEST
START_TEST(test_syn_in_fin_wait2_gets_challenge_ack)
{
    syn_challenge(tf_fin_wait2, TS_TCP_FIN_WAIT2);
}
END_TEST
START_TEST(test_syn_in_close_wait_gets_challenge_ack)
{
    syn_challenge(tf_close_wait, TS_TCP_CLOSE_WAIT);
}
END_TEST

/* The peer's original SYN repeated (old sequence number) is answered with an
 * ACK, nothing else. */
START_TEST(test_retransmitted_syn_in_established_gets_ack_state_unchanged)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ SYN-SENT
 * special cases */

/* RFC 9293 3.10.7.3: RST with an acceptable ACK in SYN-SENT -> "connection
 * reset" (refused). */
START_TEST(test_rst_ack_to_syn_sent_with_acceptable_ack_refuses_connection)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send(&f, TCP_RST | TCP_ACK, 0, f.stack_nxt, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ECONNREFUSED);
    ck_assert(f.events & TS_TCP_EV_ERROR);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT CLOSE");
    ck_assert_int_eq(ts_tcp_error(f.conn, true), ECONNREFUSED);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0); /* taken */
    tf_advance(&f, 10 * TS_SEC);                      /* the SYN is not retransmitted any more */
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

START_TEST(test_rst_to_syn_sent_with_unacceptable_ack_is_ignored)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send(&f, TCP_RST | TCP_ACK, 0, f.stack_nxt + 1000, NULL, 0);
    tf_send(&f, TCP_RST, 0, 0, NULL, 0); /* no ACK: also dropped */
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_SENT);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.3: an unacceptable ACK in SYN-SENT (no RST) gets
 * <SEQ=SEG.ACK><CTL=RST>. */
START_TEST(test_bad_ack_in_syn_sent_gets_rst_with_seq_of_ack)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    uint32_t bad = f.stack_iss + 5000;
    tf_send(&f, TCP_SYN | TCP_ACK, f.peer_iss, bad, NULL, 0);
    tf_expect(&f, TCP_RST, bad, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_SENT);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ ICMP errors */

/* RFC 1122 4.2.3.9 / RFC 9293 3.10.7.3: port unreachable is a hard error: the connect fails. */
START_TEST(test_icmp_port_unreachable_in_syn_sent_refuses_connection)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send_icmp_unreach(&f, 3 /* port */, f.stack_iss);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), ECONNREFUSED);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT CLOSE");
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ICMP_ERR), 1);
    tf_free(&f);
}
END_TEST

/* RFC 5927: an ICMP error quoting a sequence number we never sent is ignored. */
START_TEST(test_icmp_error_with_out_of_window_quote_is_ignored)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send_icmp_unreach(&f, 3, f.stack_iss + 100000);
    ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_SENT);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);
    tf_free(&f);
}
END_TEST

/* RFC 1122 4.2.3.9: host unreachable is soft: an established connection does not abort. */
START_TEST(test_icmp_host_unreachable_in_established_is_soft)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "data", 4, f.now), 4);
    tf_flush(&f);
    tf_send_icmp_unreach(&f, 1 /* host */, f.stack_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    f.stack_nxt += 4;
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_int_eq(ts_tcp_send(f.conn, "more", 4, f.now), 4);
    tf_free(&f);
}
END_TEST

/* RFC 1191: segments leave with DF; "fragmentation needed" with a next-hop MTU lowers the MSS
 * and the lost segment is resent in pieces that fit. */
START_TEST(test_icmp_frag_needed_lowers_mss_and_resends)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    static uint8_t data[4000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (ssize_t)sizeof(data));
    struct tf_seg *first = tf_next(&f);
    ck_assert_ptr_nonnull(first);
    ck_assert(first->df);
    ck_assert_uint_eq(first->h.payload_len, 1460);
    tf_flush(&f);
    tf_send_icmp_unreach_mtu(&f, 4, 1000, f.stack_nxt);
    /* Everything resent from SND.UNA on is at most 1000 - 40 bytes per segment. */
    uint32_t seq = f.stack_nxt;
    size_t got = 0, biggest = 0;
    for (int round = 0; round < 20 && got < sizeof(data); round++) {
        struct tf_seg *sg = tf_next(&f);
        if (!sg)
            sg = tf_wait_seg(&f, 5 * TS_SEC);
        ck_assert_ptr_nonnull(sg);
        if (!sg->h.payload_len || sg->h.seq != seq)
            continue;
        ck_assert_uint_le(sg->h.payload_len, 960);
        if (sg->h.payload_len > biggest)
            biggest = sg->h.payload_len;
        ck_assert_int_eq(memcmp(sg->h.payload, data + got, sg->h.payload_len), 0);
        got += sg->h.payload_len;
        seq += (uint32_t)sg->h.payload_len;
        tf_send(&f, TCP_ACK, f.peer_nxt, seq, NULL, 0);
    }
    ck_assert_uint_eq(got, sizeof(data));
    ck_assert_uint_eq(biggest, 960); /* the new path MTU is used, not a fallback */
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

/* RFC 5927 7.1: a forged "fragmentation needed" with a tiny MTU (here 68, the RFC 791 minimum)
 * cannot shrink segments below Linux's floor of a 552-byte path MTU (512 bytes of data). */
START_TEST(test_icmp_frag_needed_tiny_mtu_is_floored_at_552)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    static uint8_t data[3000];
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (ssize_t)sizeof(data));
    tf_flush(&f);
    tf_send_icmp_unreach_mtu(&f, 4, 68, f.stack_nxt);
    struct tf_seg *sg = tf_next(&f);
    if (!sg)
        sg = tf_wait_seg(&f, 5 * TS_SEC);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 552 - 40);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ closed
 * port, listener */

/* RFC 9293 3.10.7.1: ACK off -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (SYN
 * counts one). */
START_TEST(test_syn_to_closed_port_gets_rst_ack_seq_zero_ack_syn_plus_one)
{
    struct tf f;
    tf_init(&f);
    uint64_t ns = tf_count(&f, TS_C_TCP_DROP_NO_SOCKET);
    tf_send(&f, TCP_SYN, 123456789u, 0, NULL, 0);
    tf_expect(&f, TCP_RST | TCP_ACK, 0, 123456790u);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_NO_SOCKET), ns + 1);
    ck_assert_uint_ge(tf_count(&f, TS_C_TCP_RST_SENT), 1);
    /* With data the ACK covers the data too. */
    tf_send(&f, TCP_SYN, 0xfffffff0u, 0, "0123456789", 10);
    tf_expect(&f, TCP_RST | TCP_ACK, 0, 0xfffffff0u + 11);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.1: ACK on -> <SEQ=SEG.ACK><CTL=RST>. */
START_TEST(test_ack_to_closed_port_gets_rst_with_seq_of_ack)
{
    struct tf f;
    tf_init(&f);
    tf_send(&f, TCP_ACK | TCP_PSH, 5000, 777777, "abc", 3);
    tf_expect(&f, TCP_RST, 777777, 0);
    tf_expect_nothing(&f);
    tf_free(&f);
}
END_TEST

START_TEST(test_rst_to_closed_port_is_dropped_silently)
{
    struct tf f;
    tf_init(&f);
    tf_send(&f, TCP_RST, 5000, 0, NULL, 0);
    tf_send(&f, TCP_RST | TCP_ACK, 5000, 6000, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_RST_NO_SOCKET), 2);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.2: any ACK to a LISTEN socket gets <SEQ=SEG.ACK><CTL=RST>. */
START_TEST(test_ack_to_listen_gets_rst_listener_stays)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    tf_send(&f, TCP_ACK, 31337, 424242, NULL, 0);
    tf_expect(&f, TCP_RST, 424242, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(ts_tcp_state(f.listener), TS_TCP_LISTEN);
    ck_assert(!ts_tcp_accept_ready(f.listener));
    ck_assert_str_eq(tf_path_of(&f, TF_STACK_PORT, 0), "LISTEN");
    ck_assert_str_eq(tf_path(&f), ""); /* no connection was made */
    /* A RST to a listener is ignored. */
    tf_send(&f, TCP_RST, 31337, 0, NULL, 0);
    tf_expect_nothing(&f);
    ck_assert_int_eq(ts_tcp_state(f.listener), TS_TCP_LISTEN);
    tf_free(&f);
}
END_TEST

/* RFC 2525 2.17 / RFC 1122 4.2.2.13: closing with unread data sends RST, not
 * FIN. */
START_TEST(test_close_with_unread_data_sends_rst)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send_data(&f, "unread", 6);
    tf_flush(&f); /* a possible ACK */
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert(sg->h.flags & TCP_RST);
    ck_assert(!(sg->h.flags & TCP_FIN));
    ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
    tf_expect_nothing(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED CLOSE");
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    tf_free(&f);
}
END_TEST

START_TEST(test_abort_sends_rst_and_closes)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ts_tcp_abort(f.conn, f.now);
    f.conn = NULL;
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert(sg->h.flags & TCP_RST);
    ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED CLOSE");
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ TIME-WAIT
 */

static void time_wait_orphan(struct tf *f)
{
    tf_time_wait(f);
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
}

/* RFC 6191 / RFC 9293 3.10.7.4: a SYN with a higher sequence number reopens the
 * 4-tuple. */
START_TEST(test_time_wait_reopened_by_syn_with_higher_seq)
{
    struct tf f;
    tf_init(&f);
    time_wait_orphan(&f);
    uint32_t iss2 = f.peer_nxt + 100000;
    tf_send(&f, TCP_SYN, iss2, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags & ~TCP_PSH, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, iss2 + 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 1);
    tf_send(&f, TCP_ACK, iss2 + 1, sa->h.seq + 1, NULL, 0);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(ts_tcp_state(f.conn), TS_TCP_ESTABLISHED);
    /* The old incarnation ends (TIME_WAIT -> CLOSE, or is reused directly) and
     * the new one goes through SYN_RECV. */
    const char *tw = strstr(tf_path(&f), "TIME_WAIT");
    ck_assert_ptr_nonnull(tw);
    ck_assert_ptr_nonnull(strstr(tw, "SYN_RECV ESTABLISHED"));
    tf_free(&f);
}
END_TEST

START_TEST(test_time_wait_syn_with_lower_seq_gets_ack_not_reopened)
{
    struct tf f;
    tf_init(&f);
    time_wait_orphan(&f);
    tf_send(&f, TCP_SYN, f.peer_nxt - 1000, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_TIME_WAIT_REUSE), 0);
    ck_assert_ptr_null(strstr(tf_path(&f), "TIME_WAIT CLOSE"));
    tf_free(&f);
}
END_TEST

START_TEST(test_old_duplicate_data_in_time_wait_gets_ack)
{
    struct tf f;
    tf_init(&f);
    tf_time_wait(&f);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt - 11, f.stack_nxt, "old-dupdata", 10);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4 (FIN in TIME-WAIT): ACK it and restart the 2 MSL timeout.
 */
START_TEST(test_retransmitted_fin_in_time_wait_gets_ack_and_restarts_2msl)
{
    struct tf f;
    tf_init(&f);
    tf_time_wait(&f);
    tf_advance(&f, MSL); /* halfway */
    ts_time_t fin2 = f.now;
    tf_send(&f, TCP_FIN | TCP_ACK, f.peer_nxt - 1, f.stack_nxt, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_advance(&f, fin2 + 2 * MSL - TS_SEC - f.now);
    ck_assert_int_eq(tf_state(&f), TS_TCP_TIME_WAIT);
    tf_advance(&f, 2 * TS_SEC);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.4: CLOSE in SYN-RECEIVED: a FIN (now, or once established) and FIN_WAIT1. */
START_TEST(test_shutdown_in_syn_recv_leads_to_fin_wait1)
{
    struct tf f;
    tf_init(&f);
    tf_syn_sent(&f);
    tf_send(&f, TCP_SYN, f.peer_iss, 0, NULL, 0); /* simultaneous open */
    f.peer_nxt = f.peer_iss + 1;
    tf_expect(&f, TCP_SYN | TCP_ACK, f.stack_iss, f.peer_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_SYN_RECV);
    ck_assert_int_eq(ts_tcp_shutdown_write(f.conn, f.now), 0);
    tf_flush(&f);
    tf_send_ack(&f); /* ACK of our SYN */
    struct tf_seg *fin = tf_next(&f);
    if (!fin)
        fin = tf_wait_seg(&f, 2 * TS_SEC);
    ck_assert_ptr_nonnull(fin);
    ck_assert_uint_eq(fin->h.flags & ~TCP_PSH, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(fin->h.seq, f.stack_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT1);
    const char *p = tf_path(&f);
    ck_assert_msg(!strcmp(p, "SYN_SENT SYN_RECV FIN_WAIT1") ||
                      !strcmp(p, "SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1"),
                  "path %s", p);
    tf_free(&f);
}
END_TEST

/* An orphan (closed by its owner) stuck in FIN_WAIT2 is not kept forever (Linux tcp_fin_timeout,
 * 60 s): the peer may never send its FIN. */
START_TEST(test_orphan_in_fin_wait2_times_out)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt++;
    tf_send_ack(&f);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2);
    tf_advance(&f, 59 * TS_SEC);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 2);
    tf_advance(&f, 2 * TS_SEC);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 CLOSE");
    tf_free(&f);
}
END_TEST

/* Closing a listener resets the connections still waiting in its accept queue. */
START_TEST(test_listener_close_resets_unaccepted_connections)
{
    struct tf f;
    tf_init(&f);
    tf_syn_received(&f);
    tf_send_ack(&f); /* established, waiting in the accept queue */
    ck_assert(ts_tcp_accept_ready(f.listener));
    ts_tcp_close(f.listener, f.now);
    f.listener = NULL;
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert(sg->h.flags & TCP_RST);
    ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED CLOSE");
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 0);
    tf_free(&f);
}
END_TEST

/* LAST_ACK: the FIN is retransmitted until it is acknowledged. */
START_TEST(test_last_ack_retransmits_fin_until_acked)
{
    struct tf f;
    tf_init(&f);
    tf_last_ack(&f);
    struct tf_seg *r = tf_wait_seg(&f, 5 * TS_SEC);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->h.flags & ~TCP_PSH, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(r->h.seq, f.stack_nxt - 1);
    ck_assert_int_eq(tf_state(&f), TS_TCP_LAST_ACK);
    tf_send_ack(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    tf_free(&f);
}
END_TEST

/* Every trace event carries a cause (the trace is what people read to learn the
 * machine). */
START_TEST(test_every_transition_has_a_cause_and_time)
{
    struct tf f;
    tf_init(&f);
    tf_last_ack(&f);
    tf_send_ack(&f);
    ck_assert_uint_ge(f.nev, 6);
    for (size_t i = 0; i < f.nev; i++) {
        ck_assert_ptr_nonnull(f.ev[i].cause);
        ck_assert_uint_gt(strlen(f.ev[i].cause), 0);
        ck_assert_uint_ge(f.ev[i].t, TF_T0);
        ck_assert_int_ne(f.ev[i].from, f.ev[i].to);
    }
    tf_free(&f);
}
END_TEST

static Suite *tcp_states_suite(void)
{
    Suite *s = suite_create("tcp_states");
    TCase *tc = tcase_create("open");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_passive_open_goes_listen_syn_recv_established);
    tcase_add_test(tc, test_active_open_goes_syn_sent_established);
    tcase_add_test(tc, test_simultaneous_open_syn_sent_syn_recv_established);
    tcase_add_test(tc, test_simultaneous_open_completed_by_peers_syn_ack);
    tcase_add_test(tc, test_listener_close_goes_listen_to_close);
    tcase_add_test(tc, test_close_in_syn_sent_goes_to_close_silently);
    tcase_add_test(tc, test_isn_follows_4us_clock_and_differs_per_4tuple);
    tcase_add_test(tc, test_bad_ack_in_syn_recv_gets_rst_with_seq_of_ack);
    tcase_add_test(tc, test_handshake_ack_with_data_delivers_data);
    tcase_add_test(tc, test_fin_with_data_delivers_data_then_eof);
    tcase_add_test(tc, test_send_sequence_wraps_around_zero_cleanly);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_active_close_fin_wait1_fin_wait2_time_wait_close_after_2msl);
    tcase_add_test(tc, test_active_close_by_orphan_is_freed_after_time_wait);
    tcase_add_test(tc, test_passive_close_close_wait_last_ack_close);
    tcase_add_test(tc, test_simultaneous_close_fin_wait1_closing_time_wait);
    tcase_add_test(tc, test_fin_and_ack_of_fin_together_go_fin_wait1_to_time_wait);
    tcase_add_test(tc, test_half_close_shutdown_write_still_receives);
    tcase_add_test(tc, test_close_wait_still_sends_after_peer_fin);
    tcase_add_test(tc, test_close_with_unread_data_sends_rst);
    tcase_add_test(tc, test_abort_sends_rst_and_closes);
    tcase_add_test(tc, test_every_transition_has_a_cause_and_time);
    tcase_add_test(tc, test_shutdown_in_syn_recv_leads_to_fin_wait1);
    tcase_add_test(tc, test_orphan_in_fin_wait2_times_out);
    tcase_add_test(tc, test_listener_close_resets_unaccepted_connections);
    tcase_add_test(tc, test_last_ack_retransmits_fin_until_acked);
    suite_add_tcase(s, tc);

    tc = tcase_create("rst");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_rst_exact_seq_in_established_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_established_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_established_active_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_established_active_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_fin_wait1_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_fin_wait1_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_fin_wait2_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_fin_wait2_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_close_wait_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_close_wait_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_closing_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_closing_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_last_ack_resets_to_close);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_last_ack_gets_challenge_ack);
    tcase_add_test(tc, test_rst_exact_seq_in_syn_recv_drops_half_open_listener_stays);
    tcase_add_test(tc, test_rst_in_window_not_exact_in_syn_recv_gets_challenge_ack);
    tcase_add_test(tc, test_rst_in_time_wait_is_ignored_rfc1337);
    suite_add_tcase(s, tc);

    tc = tcase_create("syn");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_syn_in_established_gets_challenge_ack);
    tcase_add_test(tc, test_syn_in_fin_wait2_gets_challenge_ack);
    tcase_add_test(tc, test_syn_in_close_wait_gets_challenge_ack);
    tcase_add_test(tc, test_retransmitted_syn_in_established_gets_ack_state_unchanged);
    tcase_add_test(tc, test_rst_ack_to_syn_sent_with_acceptable_ack_refuses_connection);
    tcase_add_test(tc, test_rst_to_syn_sent_with_unacceptable_ack_is_ignored);
    tcase_add_test(tc, test_bad_ack_in_syn_sent_gets_rst_with_seq_of_ack);
    tcase_add_test(tc, test_syn_to_closed_port_gets_rst_ack_seq_zero_ack_syn_plus_one);
    tcase_add_test(tc, test_ack_to_closed_port_gets_rst_with_seq_of_ack);
    tcase_add_test(tc, test_rst_to_closed_port_is_dropped_silently);
    tcase_add_test(tc, test_ack_to_listen_gets_rst_listener_stays);
    tcase_add_test(tc, test_icmp_port_unreachable_in_syn_sent_refuses_connection);
    tcase_add_test(tc, test_icmp_error_with_out_of_window_quote_is_ignored);
    tcase_add_test(tc, test_icmp_host_unreachable_in_established_is_soft);
    tcase_add_test(tc, test_icmp_frag_needed_lowers_mss_and_resends);
    tcase_add_test(tc, test_icmp_frag_needed_tiny_mtu_is_floored_at_552);
    suite_add_tcase(s, tc);

    tc = tcase_create("time_wait");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_time_wait_reopened_by_syn_with_higher_seq);
    tcase_add_test(tc, test_time_wait_syn_with_lower_seq_gets_ack_not_reopened);
    tcase_add_test(tc, test_old_duplicate_data_in_time_wait_gets_ack);
    tcase_add_test(tc, test_retransmitted_fin_in_time_wait_gets_ack_and_restarts_2msl);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_states_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
