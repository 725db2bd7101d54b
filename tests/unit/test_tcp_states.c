/* The TCP state machine. First as a table: one row per arrow of the RFC 9293 3.3.2 diagram and
 * per corner case of RFC 9293 3.10.7 and RFC 5961 (state, what arrives, what is sent, next state,
 * trace cause), each row a test, with the whole connection checked after it. Then behaviour
 * that takes more than one step, test by test, checked through the trace (states passed) and the
 * exact segments the stack sends. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_internal.h"
#include "tcp_fixture.h"

#define MSL (30 * TS_SEC) /* the default, cfg.tcp_msl */

/* ================================================================ the state machine, as a table
 *
 * One row per arrow of the RFC 9293 3.3.2 diagram, then the corner cases of RFC 9293 3.10.7 and
 * RFC 5961, each read as: in this state, when this arrives (a segment from the peer, a user call,
 * or time passing), the stack sends exactly this, moves to that state, and the trace says why.
 * Sequence numbers are relative to the fixture's as they were before the event: PEER_NXT is the
 * next sequence number the peer sends, STACK_NXT the next the stack sends (what the peer would
 * acknowledge), PEER_ISS/STACK_ISS the two initial ones, NEW_ISS the one the event makes the
 * stack choose. A row's state is its 4-tuple's (tf_tuple_state): no connection block and no
 * listener is CLOSED. After every row the whole connection is checked (tf_check_invariants). */

/* Flags and states, short so that a row reads like the RFC's diagram. */
#define SYN         TCP_SYN
#define ACK         TCP_ACK
#define FIN         TCP_FIN
#define RST         TCP_RST
#define CLOSED      TS_TCP_CLOSE
#define LISTEN      TS_TCP_LISTEN
#define SYN_SENT    TS_TCP_SYN_SENT
#define SYN_RECV    TS_TCP_SYN_RECV
#define ESTABLISHED TS_TCP_ESTABLISHED
#define FIN_WAIT1   TS_TCP_FIN_WAIT1
#define FIN_WAIT2   TS_TCP_FIN_WAIT2
#define CLOSE_WAIT  TS_TCP_CLOSE_WAIT
#define CLOSING     TS_TCP_CLOSING
#define LAST_ACK    TS_TCP_LAST_ACK
#define TIME_WAIT   TS_TCP_TIME_WAIT

/* A sequence number is base + offset, the base in the upper 32 bits: PEER_NXT + 1. */
enum seq_base { ABS, B_PEER_ISS, B_PEER_NXT, B_STACK_ISS, B_STACK_NXT, B_NEW_ISS };
#define SEQ_BASE(b) ((int64_t)(b) << 32)
#define PEER_ISS    SEQ_BASE(B_PEER_ISS)
#define PEER_NXT    SEQ_BASE(B_PEER_NXT)
#define STACK_ISS   SEQ_BASE(B_STACK_ISS)
#define STACK_NXT   SEQ_BASE(B_STACK_NXT)
#define NEW_ISS     SEQ_BASE(B_NEW_ISS)

enum event_kind { SEGMENT, USER_CALL, TIME, ICMP_ERROR };
enum user_call { APP_LISTEN, APP_CONNECT, APP_SEND, APP_SHUTDOWN, APP_CLOSE, APP_ABORT };

struct event {
    enum event_kind kind;
    uint8_t flags;    /* SEGMENT: from the peer, with len bytes of text */
    int64_t seq, ack; /* SEGMENT; ICMP_ERROR: seq is the quoted sequence number */
    uint16_t len;     /* SEGMENT, APP_SEND */
    enum user_call call;
    int ret;      /* USER_CALL: what ts_tcp_send/shutdown return (the others return nothing) */
    ts_time_t dt; /* TIME: the clock moves this far, timers run when due */
    uint8_t code; /* ICMP_ERROR: destination unreachable code */
};

/* What the stack sends: n segments (retransmissions of one) with these flags (PSH aside), seq,
 * ack (when ACK is set) and len bytes of text; n = 0: nothing. */
struct sent {
    unsigned n;
    uint8_t flags;
    int64_t seq, ack;
    uint16_t len;
};

struct row {
    const char *name;
    void (*setup)(struct tf *f); /* builds the state; NULL: a fresh stack, no TCB */
    enum ts_tcp_state from;
    struct event ev;
    struct sent sends;
    enum ts_tcp_state to;
    const char *cause; /* the trace cause of from -> to; NULL when the state stays */
    /* Instead of from -> to (cause): every trace event of the row, "A -> B (cause); ...". */
    const char *trace;
};

/* The cells of a row (kept on one line each: clang-format would spread them over five). */
// clang-format off
#define RCV(fl, sq, ak)          {.kind = SEGMENT, .flags = (fl), .seq = (sq), .ack = (ak)}
#define RCV_TEXT(fl, sq, ak, n)  {.kind = SEGMENT, .flags = (fl), .seq = (sq), .ack = (ak), .len = (n)}
#define USER(c)                  {.kind = USER_CALL, .call = (c)}
#define USER_RET(c, n, r)        {.kind = USER_CALL, .call = (c), .len = (n), .ret = (r)}
#define TIMEOUT(t)               {.kind = TIME, .dt = (t)}
#define ICMP_UNREACH(c, sq)      {.kind = ICMP_ERROR, .code = (c), .seq = (sq)}
#define SND(fl, sq, ak)          {1, (fl), (sq), (ak), 0}
#define SND_TEXT(fl, sq, ak, n)  {1, (fl), (sq), (ak), (n)}
#define SND_EACH(k, fl, sq, ak)  {(k), (fl), (sq), (ak), 0}
#define NOTHING                  {0, 0, 0, 0, 0}
#define ROW(name, setup, from, event, sends, to, cause) \
    {name, setup, from, event, sends, to, cause, NULL}
#define ROW_TRACE(name, setup, from, event, sends, to, trace) \
    {name, setup, from, event, sends, to, NULL, trace}
// clang-format on

#define RTO_MIN (200 * TS_MS) /* the RTO after a handshake timed at 0 s: the 200 ms floor */

/* ---- set-ups the fixture does not have (each ends with nothing pending) ---- */

static void syn_sent(struct tf *f)
{
    tf_syn_sent(f);
}

static void syn_recv(struct tf *f)
{
    tf_syn_received(f);
}

/* CLOSE_WAIT a moment after the peer's FIN: its ACK not sent yet (the delayed-ACK timer runs). */
static void close_wait_unacked(struct tf *f)
{
    tf_establish(f);
    tf_send_fin(f);
    tf_expect_nothing(f);
}

/* SYN_RECV from SYN_SENT: the peer's SYN crossed ours (RFC 9293 3.5 figure 8). */
static void syn_recv_active(struct tf *f)
{
    tf_syn_sent(f);
    tf_send(f, TCP_SYN, f->peer_iss, 0, NULL, 0);
    f->peer_nxt = f->peer_iss + 1;
    tf_expect(f, TCP_SYN | TCP_ACK, f->stack_iss, f->peer_nxt);
}

/* ... and the app closed it there: the FIN waits for ESTABLISHED. */
static void syn_recv_active_closed(struct tf *f)
{
    syn_recv_active(f);
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
}

/* ESTABLISHED with 100 bytes of ours in flight (the peer has not acknowledged them). */
static void established_data_out(struct tf *f)
{
    static uint8_t data[100];
    tf_establish(f);
    ck_assert_int_eq(ts_tcp_send(f->conn, data, sizeof(data), f->now), (ssize_t)sizeof(data));
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
}

/* ESTABLISHED with 5 bytes from the peer the app has not read (ACKed at once: the first data
 * of a connection, quick-ACK mode). */
static void established_unread(struct tf *f)
{
    tf_establish(f);
    tf_send_data(f, "hello", 5);
    tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
}

/* ESTABLISHED past quick-ACK mode: the peer's first 16 segments (1 byte each) were each ACKed
 * at once, and read; no time passed, so the mode does not start again for being idle. */
static void established_past_quickack(struct tf *f)
{
    tf_establish(f);
    for (int i = 0; i < 16; i++) {
        tf_send_data(f, "q", 1);
        tf_expect(f, TCP_ACK, f->stack_nxt, f->peer_nxt);
    }
    uint8_t sink[16];
    ck_assert_uint_eq(tf_read_all(f, f->conn, sink, sizeof(sink)), 16);
    tf_expect_nothing(f);
}

/* The app closed: an orphan in FIN_WAIT2 (RFC 9293 leaves it waiting; Linux's 60 s limit). */
static void fin_wait2_orphan(struct tf *f)
{
    tf_fin_wait2(f);
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
}

/* TIME_WAIT, and the app has closed. */
static void time_wait_orphan(struct tf *f)
{
    tf_time_wait(f);
    ts_tcp_close(f->conn, f->now);
    f->conn = NULL;
    tf_expect_nothing(f);
}

/* ---- the table ---- */

static const struct row state_table[] = {
    /* RFC 9293 3.3.2, the diagram's arrows, top to bottom. */
    ROW("CLOSED, passive OPEN: LISTEN", NULL, CLOSED, USER(APP_LISTEN), NOTHING, LISTEN,
        "app listen"),
    ROW("CLOSED, active OPEN: SYN, SYN_SENT", NULL, CLOSED, USER(APP_CONNECT), SND(SYN, NEW_ISS, 0),
        SYN_SENT, "app connect"),
    ROW("LISTEN, rcv SYN: SYN-ACK, SYN_RECV", tf_listen, LISTEN, RCV(SYN, PEER_ISS, 0),
        SND(SYN | ACK, NEW_ISS, PEER_ISS + 1), SYN_RECV, "rcvd SYN"),
    /* The diagram's LISTEN --SEND--> SYN-SENT: a listener does not send (no socket API offers
     * it; RFC 9293 3.10.2 lets an implementation refuse). */
    ROW("LISTEN, SEND: refused (ENOTCONN), stays", tf_listen, LISTEN,
        USER_RET(APP_SEND, 5, -ENOTCONN), NOTHING, LISTEN, NULL),
    ROW("LISTEN, CLOSE: CLOSED", tf_listen, LISTEN, USER(APP_CLOSE), NOTHING, CLOSED, "app close"),
    ROW("SYN_SENT, rcv SYN (simultaneous open): SYN-ACK, SYN_RECV", syn_sent, SYN_SENT,
        RCV(SYN, PEER_ISS, 0), SND(SYN | ACK, STACK_ISS, PEER_ISS + 1), SYN_RECV,
        "rcvd SYN in SYN_SENT (simultaneous open)"),
    ROW("SYN_SENT, rcv SYN-ACK: ACK, ESTABLISHED", syn_sent, SYN_SENT,
        RCV(SYN | ACK, PEER_ISS, STACK_NXT), SND(ACK, STACK_NXT, PEER_ISS + 1), ESTABLISHED,
        "rcvd SYN-ACK"),
    ROW("SYN_SENT, CLOSE: CLOSED, nothing sent", syn_sent, SYN_SENT, USER(APP_CLOSE), NOTHING,
        CLOSED, "app close"),
    ROW("SYN_RECV, rcv ACK of SYN: ESTABLISHED", syn_recv, SYN_RECV, RCV(ACK, PEER_NXT, STACK_NXT),
        NOTHING, ESTABLISHED, "rcvd ACK of SYN"),
    ROW("SYN_RECV (simultaneous open), rcv ACK of SYN: ESTABLISHED", syn_recv_active, SYN_RECV,
        RCV(ACK, PEER_NXT, STACK_NXT), NOTHING, ESTABLISHED, "rcvd ACK of SYN"),
    /* RFC 9293 3.10.4 SYN-RECEIVED: CLOSE queues the FIN until ESTABLISHED (the RFC's
     * "otherwise" branch; it may also send it at once). */
    ROW("SYN_RECV, CLOSE: FIN queued, stays", syn_recv_active, SYN_RECV, USER(APP_CLOSE), NOTHING,
        SYN_RECV, NULL),
    ROW_TRACE("SYN_RECV with FIN queued, rcv ACK of SYN: FIN, FIN_WAIT1", syn_recv_active_closed,
              SYN_RECV, RCV(ACK, PEER_NXT, STACK_NXT), SND(FIN | ACK, STACK_NXT, PEER_NXT),
              FIN_WAIT1,
              "SYN_RECV -> ESTABLISHED (rcvd ACK of SYN); ESTABLISHED -> FIN_WAIT1 (app close)"),
    ROW("ESTABLISHED, CLOSE: FIN, FIN_WAIT1", tf_establish, ESTABLISHED, USER(APP_CLOSE),
        SND(FIN | ACK, STACK_NXT, PEER_NXT), FIN_WAIT1, "app close"),
    ROW("ESTABLISHED, shutdown (write side): FIN, FIN_WAIT1", tf_establish, ESTABLISHED,
        USER_RET(APP_SHUTDOWN, 0, 0), SND(FIN | ACK, STACK_NXT, PEER_NXT), FIN_WAIT1,
        "app shutdown"),
    /* The ACK of the FIN waits for the delayed-ACK timer (as Linux's), so that the app's own
     * FIN can carry it: the two rows after the next. */
    ROW("ESTABLISHED, rcv FIN: CLOSE_WAIT, its ACK delayed", tf_establish, ESTABLISHED,
        RCV(FIN | ACK, PEER_NXT, STACK_NXT), NOTHING, CLOSE_WAIT, "rcvd FIN"),
    ROW("FIN_WAIT1, rcv ACK of FIN: FIN_WAIT2", tf_fin_wait1, FIN_WAIT1,
        RCV(ACK, PEER_NXT, STACK_NXT), NOTHING, FIN_WAIT2, "rcvd ACK of FIN"),
    ROW("FIN_WAIT1, rcv FIN (simultaneous close): ACK, CLOSING", tf_fin_wait1, FIN_WAIT1,
        RCV(FIN | ACK, PEER_NXT, STACK_NXT - 1), SND(ACK, STACK_NXT, PEER_NXT + 1), CLOSING,
        "rcvd FIN (simultaneous close)"),
    ROW("FIN_WAIT1, rcv FIN with ACK of FIN: ACK, TIME_WAIT", tf_fin_wait1, FIN_WAIT1,
        RCV(FIN | ACK, PEER_NXT, STACK_NXT), SND(ACK, STACK_NXT, PEER_NXT + 1), TIME_WAIT,
        "rcvd FIN and ACK of FIN"),
    ROW("FIN_WAIT2, rcv FIN: ACK, TIME_WAIT", tf_fin_wait2, FIN_WAIT2,
        RCV(FIN | ACK, PEER_NXT, STACK_NXT), SND(ACK, STACK_NXT, PEER_NXT + 1), TIME_WAIT,
        "rcvd FIN"),
    ROW("CLOSE_WAIT, CLOSE: FIN, LAST_ACK", tf_close_wait, CLOSE_WAIT, USER(APP_CLOSE),
        SND(FIN | ACK, STACK_NXT, PEER_NXT), LAST_ACK, "app close"),
    ROW("CLOSE_WAIT, 40 ms after the FIN: the delayed ACK", close_wait_unacked, CLOSE_WAIT,
        TIMEOUT(40 * TS_MS), SND(ACK, STACK_NXT, PEER_NXT), CLOSE_WAIT, NULL),
    ROW("CLOSE_WAIT, CLOSE before the delayed ACK: one FIN carries the ACK, LAST_ACK",
        close_wait_unacked, CLOSE_WAIT, USER(APP_CLOSE), SND(FIN | ACK, STACK_NXT, PEER_NXT),
        LAST_ACK, "app close"),
    ROW("CLOSING, rcv ACK of FIN: TIME_WAIT", tf_closing, CLOSING, RCV(ACK, PEER_NXT, STACK_NXT),
        NOTHING, TIME_WAIT, "rcvd ACK of FIN"),
    ROW("LAST_ACK, rcv ACK of FIN: CLOSED", tf_last_ack, LAST_ACK, RCV(ACK, PEER_NXT, STACK_NXT),
        NOTHING, CLOSED, "rcvd ACK of FIN"),
    ROW("TIME_WAIT, 2 MSL pass: CLOSED", tf_time_wait, TIME_WAIT, TIMEOUT(2 * MSL), NOTHING, CLOSED,
        "2MSL timer expired"),
    ROW("TIME_WAIT, 1 ms short of 2 MSL: stays", tf_time_wait, TIME_WAIT, TIMEOUT(2 * MSL - TS_MS),
        NOTHING, TIME_WAIT, NULL),

    /* RFC 9293 3.10.7.1: no connection. */
    ROW("no TCB, rcv SYN: RST-ACK <SEQ=0><ACK=SEG.SEQ+1>", NULL, CLOSED, RCV(SYN, PEER_ISS, 0),
        SND(RST | ACK, 0, PEER_ISS + 1), CLOSED, NULL),
    ROW("no TCB, rcv ACK: RST <SEQ=SEG.ACK>", NULL, CLOSED, RCV(ACK, PEER_NXT, 777777),
        SND(RST, 777777, 0), CLOSED, NULL),
    ROW("no TCB, rcv RST: dropped", NULL, CLOSED, RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, NULL),
    /* 3.10.7.2: LISTEN. */
    ROW("LISTEN, rcv RST: ignored", tf_listen, LISTEN, RCV(RST, PEER_NXT, 0), NOTHING, LISTEN,
        NULL),
    ROW("LISTEN, rcv ACK: RST <SEQ=SEG.ACK>", tf_listen, LISTEN, RCV(ACK, PEER_NXT, 424242),
        SND(RST, 424242, 0), LISTEN, NULL),
    ROW("LISTEN, rcv FIN alone: dropped", tf_listen, LISTEN, RCV(FIN, PEER_NXT, 0), NOTHING, LISTEN,
        NULL),
    /* 3.10.7.3: SYN-SENT. */
    ROW("SYN_SENT, rcv SYN-ACK acking what was never sent: RST <SEQ=SEG.ACK>", syn_sent, SYN_SENT,
        RCV(SYN | ACK, PEER_ISS, STACK_NXT + 5000), SND(RST, STACK_NXT + 5000, 0), SYN_SENT, NULL),
    ROW("SYN_SENT, rcv RST with acceptable ACK: refused, CLOSED", syn_sent, SYN_SENT,
        RCV(RST | ACK, 0, STACK_NXT), NOTHING, CLOSED, "rcvd RST"),
    ROW("SYN_SENT, rcv RST with unacceptable ACK: dropped", syn_sent, SYN_SENT,
        RCV(RST | ACK, 0, STACK_NXT + 1000), NOTHING, SYN_SENT, NULL),
    ROW("SYN_SENT, rcv RST without ACK: dropped", syn_sent, SYN_SENT, RCV(RST, 0, 0), NOTHING,
        SYN_SENT, NULL),
    ROW("SYN_SENT, rcv ACK without SYN: dropped", syn_sent, SYN_SENT, RCV(ACK, PEER_ISS, STACK_NXT),
        NOTHING, SYN_SENT, NULL),
    ROW("SYN_SENT, ICMP port unreachable: refused, CLOSED", syn_sent, SYN_SENT,
        ICMP_UNREACH(3, STACK_ISS), NOTHING, CLOSED, "rcvd ICMP unreachable"),
    ROW("SYN_SENT, RTO (1 s): SYN again", syn_sent, SYN_SENT, TIMEOUT(TS_SEC),
        SND(SYN, STACK_ISS, 0), SYN_SENT, NULL),
    ROW("SYN_SENT, 6 SYNs unanswered (127 s): CLOSED", syn_sent, SYN_SENT, TIMEOUT(127 * TS_SEC),
        SND_EACH(6, SYN, STACK_ISS, 0), CLOSED, "retransmission limit"),
    ROW("SYN_SENT, ABORT: CLOSED, nothing sent", syn_sent, SYN_SENT, USER(APP_ABORT), NOTHING,
        CLOSED, "app abort"),
    /* 3.10.7.4 in SYN-RECEIVED. */
    ROW("SYN_RECV, rcv SYN again: SYN-ACK again", syn_recv, SYN_RECV, RCV(SYN, PEER_ISS, 0),
        SND(SYN | ACK, STACK_ISS, PEER_NXT), SYN_RECV, NULL),
    ROW("SYN_RECV, rcv unacceptable ACK: RST <SEQ=SEG.ACK>", syn_recv, SYN_RECV,
        RCV(ACK, PEER_NXT, STACK_NXT + 999), SND(RST, STACK_NXT + 999, 0), SYN_RECV, NULL),
    ROW("SYN_RECV, rcv RST exactly at RCV.NXT: CLOSED, the listener stays", syn_recv, SYN_RECV,
        RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, "rcvd RST"),
    ROW("SYN_RECV, rcv RST in window not at RCV.NXT: challenge ACK", syn_recv, SYN_RECV,
        RCV(RST, PEER_NXT + 10, 0), SND(ACK, STACK_NXT, PEER_NXT), SYN_RECV, NULL),
    ROW_TRACE("SYN_RECV, rcv ACK of SYN with FIN: CLOSE_WAIT, its ACK delayed", syn_recv, SYN_RECV,
              RCV(FIN | ACK, PEER_NXT, STACK_NXT), NOTHING, CLOSE_WAIT,
              "SYN_RECV -> ESTABLISHED (rcvd ACK of SYN); ESTABLISHED -> CLOSE_WAIT (rcvd FIN)"),
    ROW("SYN_RECV, RTO (1 s): SYN-ACK again", syn_recv, SYN_RECV, TIMEOUT(TS_SEC),
        SND(SYN | ACK, STACK_ISS, PEER_NXT), SYN_RECV, NULL),
    ROW("SYN_RECV, 5 SYN-ACKs unanswered (63 s): CLOSED", syn_recv, SYN_RECV, TIMEOUT(63 * TS_SEC),
        SND_EACH(5, SYN | ACK, STACK_ISS, PEER_NXT), CLOSED, "retransmission limit"),
    /* 3.10.7.4 first: the sequence number test; RFC 5961 3.2 / 4.2 / 5.2 in ESTABLISHED. */
    ROW("ESTABLISHED, rcv text beyond the window: ACK, dropped", tf_establish, ESTABLISHED,
        RCV_TEXT(ACK, PEER_NXT + 1000000, STACK_NXT, 10), SND(ACK, STACK_NXT, PEER_NXT),
        ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv old duplicate text: ACK", tf_establish, ESTABLISHED,
        RCV_TEXT(ACK, PEER_NXT - 10, STACK_NXT, 10), SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED,
        NULL),
    ROW("ESTABLISHED, rcv RST exactly at RCV.NXT: CLOSED (ECONNRESET)", tf_establish, ESTABLISHED,
        RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, "rcvd RST"),
    ROW("ESTABLISHED, rcv RST in window not at RCV.NXT: challenge ACK", tf_establish, ESTABLISHED,
        RCV(RST, PEER_NXT + 1, 0), SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv RST out of window: dropped", tf_establish, ESTABLISHED,
        RCV(RST, PEER_NXT + 0x40000000, 0), NOTHING, ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv SYN: challenge ACK", tf_establish, ESTABLISHED, RCV(SYN, PEER_NXT + 5, 0),
        SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv the peer's first SYN again: ACK", tf_establish, ESTABLISHED,
        RCV(SYN, PEER_ISS, 0), SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv ACK of data never sent: challenge ACK", tf_establish, ESTABLISHED,
        RCV(ACK, PEER_NXT, STACK_NXT + 1000), SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv ACK older than SND.UNA - MAX.SND.WND: challenge ACK", tf_establish,
        ESTABLISHED, RCV(ACK, PEER_NXT, STACK_NXT - 100000), SND(ACK, STACK_NXT, PEER_NXT),
        ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv FIN without the ACK bit: dropped", tf_establish, ESTABLISHED,
        RCV(FIN, PEER_NXT, 0), NOTHING, ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv first text in order: ACK at once (quick ACK)", tf_establish, ESTABLISHED,
        RCV_TEXT(ACK, PEER_NXT, STACK_NXT, 5), SND(ACK, STACK_NXT, PEER_NXT + 5), ESTABLISHED,
        NULL),
    ROW("ESTABLISHED past quick ACK, rcv text in order: ACK delayed", established_past_quickack,
        ESTABLISHED, RCV_TEXT(ACK, PEER_NXT, STACK_NXT, 5), NOTHING, ESTABLISHED, NULL),
    ROW("ESTABLISHED, rcv text out of order: duplicate ACK at once", tf_establish, ESTABLISHED,
        RCV_TEXT(ACK, PEER_NXT + 100, STACK_NXT, 5), SND(ACK, STACK_NXT, PEER_NXT), ESTABLISHED,
        NULL),
    ROW("ESTABLISHED, rcv text with FIN: ACK of both, CLOSE_WAIT", tf_establish, ESTABLISHED,
        RCV_TEXT(FIN | ACK, PEER_NXT, STACK_NXT, 3), SND(ACK, STACK_NXT, PEER_NXT + 4), CLOSE_WAIT,
        "rcvd FIN"),
    /* A bare FIN beyond a hole is held until the hole fills; RFC 5681 4.2: a duplicate ACK at
     * once, as for text out of order. */
    ROW("ESTABLISHED, rcv bare FIN beyond a hole: held, duplicate ACK at once", tf_establish,
        ESTABLISHED, RCV(FIN | ACK, PEER_NXT + 100, STACK_NXT), SND(ACK, STACK_NXT, PEER_NXT),
        ESTABLISHED, NULL),
    ROW("ESTABLISHED, SEND: the text goes out", tf_establish, ESTABLISHED,
        USER_RET(APP_SEND, 100, 100), SND_TEXT(ACK, STACK_NXT, PEER_NXT, 100), ESTABLISHED, NULL),
    ROW("ESTABLISHED, RTO (200 ms) with text in flight: resent", established_data_out, ESTABLISHED,
        TIMEOUT(RTO_MIN), SND_TEXT(ACK, STACK_NXT, PEER_NXT, 100), ESTABLISHED, NULL),
    ROW("ESTABLISHED, idle 3 h (keep-alive off): silence", tf_establish, ESTABLISHED,
        TIMEOUT(3 * 3600 * TS_SEC), NOTHING, ESTABLISHED, NULL),
    ROW("ESTABLISHED, ABORT: RST, CLOSED", tf_establish, ESTABLISHED, USER(APP_ABORT),
        SND(RST | ACK, STACK_NXT, PEER_NXT), CLOSED, "app abort"),
    ROW("ESTABLISHED with unread text, CLOSE: RST, CLOSED", established_unread, ESTABLISHED,
        USER(APP_CLOSE), SND(RST | ACK, STACK_NXT, PEER_NXT), CLOSED, "app close with unread data"),
    /* The other synchronized states. */
    ROW("FIN_WAIT1, rcv RST exactly at RCV.NXT: CLOSED", tf_fin_wait1, FIN_WAIT1,
        RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, "rcvd RST"),
    ROW("FIN_WAIT1, RTO (200 ms): FIN again", tf_fin_wait1, FIN_WAIT1, TIMEOUT(RTO_MIN),
        SND(FIN | ACK, STACK_NXT - 1, PEER_NXT), FIN_WAIT1, NULL),
    ROW("FIN_WAIT2, rcv first text: delivered, ACK at once (quick ACK)", tf_fin_wait2, FIN_WAIT2,
        RCV_TEXT(ACK, PEER_NXT, STACK_NXT, 5), SND(ACK, STACK_NXT, PEER_NXT + 5), FIN_WAIT2, NULL),
    ROW("FIN_WAIT2, rcv SYN: challenge ACK", tf_fin_wait2, FIN_WAIT2, RCV(SYN, PEER_NXT + 5, 0),
        SND(ACK, STACK_NXT, PEER_NXT), FIN_WAIT2, NULL),
    ROW("FIN_WAIT2, 10 min without the peer's FIN (app holds it): stays", tf_fin_wait2, FIN_WAIT2,
        TIMEOUT(600 * TS_SEC), NOTHING, FIN_WAIT2, NULL),
    ROW("FIN_WAIT2 orphan, 60 s without the peer's FIN: CLOSED", fin_wait2_orphan, FIN_WAIT2,
        TIMEOUT(60 * TS_SEC), NOTHING, CLOSED, "FIN_WAIT2 timeout (orphan)"),
    ROW("FIN_WAIT2 orphan, rcv text nobody will read: RST, CLOSED", fin_wait2_orphan, FIN_WAIT2,
        RCV_TEXT(ACK, PEER_NXT, STACK_NXT, 5), SND(RST | ACK, STACK_NXT, PEER_NXT), CLOSED,
        "rcvd data after close"),
    ROW("CLOSE_WAIT, rcv the FIN again: ACK", tf_close_wait, CLOSE_WAIT,
        RCV(FIN | ACK, PEER_NXT - 1, STACK_NXT), SND(ACK, STACK_NXT, PEER_NXT), CLOSE_WAIT, NULL),
    ROW("CLOSE_WAIT, rcv RST exactly at RCV.NXT: CLOSED", tf_close_wait, CLOSE_WAIT,
        RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, "rcvd RST"),
    ROW("CLOSE_WAIT, SEND: the text goes out", tf_close_wait, CLOSE_WAIT, USER_RET(APP_SEND, 5, 5),
        SND_TEXT(ACK, STACK_NXT, PEER_NXT, 5), CLOSE_WAIT, NULL),
    ROW("CLOSING, RTO (200 ms): FIN again", tf_closing, CLOSING, TIMEOUT(RTO_MIN),
        SND(FIN | ACK, STACK_NXT - 1, PEER_NXT), CLOSING, NULL),
    ROW("LAST_ACK, RTO (200 ms): FIN again", tf_last_ack, LAST_ACK, TIMEOUT(RTO_MIN),
        SND(FIN | ACK, STACK_NXT - 1, PEER_NXT), LAST_ACK, NULL),
    ROW("LAST_ACK, rcv RST exactly at RCV.NXT: CLOSED", tf_last_ack, LAST_ACK,
        RCV(RST, PEER_NXT, 0), NOTHING, CLOSED, "rcvd RST"),
    /* TIME-WAIT: RFC 9293 3.10.7.4, RFC 1337, RFC 6191. */
    ROW("TIME_WAIT, rcv the FIN again: ACK (2 MSL restart)", tf_time_wait, TIME_WAIT,
        RCV(FIN | ACK, PEER_NXT - 1, STACK_NXT), SND(ACK, STACK_NXT, PEER_NXT), TIME_WAIT, NULL),
    ROW("TIME_WAIT, rcv RST: ignored (RFC 1337)", tf_time_wait, TIME_WAIT, RCV(RST, PEER_NXT, 0),
        NOTHING, TIME_WAIT, NULL),
    ROW("TIME_WAIT, rcv old SYN: ACK", time_wait_orphan, TIME_WAIT, RCV(SYN, PEER_NXT - 1000, 0),
        SND(ACK, STACK_NXT, PEER_NXT), TIME_WAIT, NULL),
    ROW_TRACE(
        "TIME_WAIT, rcv new SYN above RCV.NXT: reopened, SYN-ACK (RFC 6191)", time_wait_orphan,
        TIME_WAIT, RCV(SYN, PEER_NXT + 100000, 0), SND(SYN | ACK, NEW_ISS, PEER_NXT + 100001),
        SYN_RECV,
        "TIME_WAIT -> CLOSE (new SYN in TIME_WAIT (RFC 6191)); LISTEN -> SYN_RECV (rcvd SYN)"),
    ROW("TIME_WAIT, CLOSE: stays", tf_time_wait, TIME_WAIT, USER(APP_CLOSE), NOTHING, TIME_WAIT,
        NULL),
};

#define N_ROWS ((int)(sizeof(state_table) / sizeof(state_table[0])))

/* ---- the runner ---- */

/* The fixture's sequence numbers before the event, the bases of a row's numbers. */
struct bases {
    uint32_t v[B_NEW_ISS + 1];
};

static const char *const base_name[] = {"",          "PEER_ISS",  "PEER_NXT",
                                        "STACK_ISS", "STACK_NXT", "NEW_ISS"};

static enum seq_base base_of(int64_t x)
{
    return (enum seq_base)((x + ((int64_t)1 << 31)) >> 32);
}

static uint32_t resolve(const struct bases *b, int64_t x)
{
    enum seq_base k = base_of(x);
    return b->v[k] + (uint32_t)(x - SEQ_BASE(k));
}

/* "STACK_NXT+1" (or "777777") for a row's value, for failure messages. */
static const char *rel_str(int64_t x, char *buf, size_t cap)
{
    enum seq_base k = base_of(x);
    long long off = (long long)(x - SEQ_BASE(k));
    if (k == ABS)
        snprintf(buf, cap, "%lld", off);
    else
        snprintf(buf, cap, "%s%+lld", base_name[k], off);
    return buf;
}

static void run_user_call(struct tf *f, const struct row *r, int i)
{
    static uint8_t data[1000];
    int ret = 0;
    struct ts_tcp_conn *c = f->conn ? f->conn : f->listener;
    switch (r->ev.call) {
    case APP_LISTEN:
        tf_listen(f);
        break;
    case APP_CONNECT: {
        struct ts_tcp_opts o;
        int err = 0;
        ts_tcp_opts_default(f->s, &o);
        f->conn = ts_tcp_connect(f->s, 0, 0, TF_PEER_IP, TF_PEER_PORT, &o, &err, f->now);
        ck_assert_msg(f->conn != NULL, "row %d (%s): connect failed: %d", i, r->name, err);
        ts_tcp_endpoints(f->conn, NULL, &f->lport, NULL, &f->rport);
        break;
    }
    case APP_SEND:
        ret = (int)ts_tcp_send(c, data, r->ev.len, f->now);
        break;
    case APP_SHUTDOWN:
        ret = ts_tcp_shutdown_write(c, f->now);
        break;
    case APP_CLOSE:
        ts_tcp_close(c, f->now);
        *(c == f->conn ? &f->conn : &f->listener) = NULL;
        break;
    case APP_ABORT:
        ts_tcp_abort(c, f->now);
        *(c == f->conn ? &f->conn : &f->listener) = NULL;
        break;
    }
    ck_assert_msg(ret == r->ev.ret, "row %d (%s): the call returned %d, not %d", i, r->name, ret,
                  r->ev.ret);
}

static void run_event(struct tf *f, const struct row *r, int i, const struct bases *b)
{
    static uint8_t text[1000];
    const struct event *e = &r->ev;
    switch (e->kind) {
    case SEGMENT: {
        struct tcp_hdr h = tf_hdr(f, e->flags, resolve(b, e->seq), resolve(b, e->ack));
        if (e->flags & TCP_SYN)
            h.opts = f->peer_syn_opts;
        h.payload = text;
        h.payload_len = e->len;
        tf_send_hdr(f, &h);
        break;
    }
    case USER_CALL:
        run_user_call(f, r, i);
        break;
    case TIME:
        tf_advance(f, e->dt);
        break;
    case ICMP_ERROR:
        tf_send_icmp_unreach(f, e->code, resolve(b, e->seq));
        break;
    }
}

/* Every segment sent during the event is one of the row's n, exactly. */
static void check_sent(struct tf *f, const struct row *r, int i, struct bases *b)
{
    const struct sent *w = &r->sends;
    char want[10], got[10], s1[32], s2[32];
    unsigned n = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(f))) {
        ck_assert_msg(n < w->n, "row %d (%s): sent [%s] seq %u ack %u len %zu, %s", i, r->name,
                      tf_flags_str(sg->h.flags, got), sg->h.seq, sg->h.ack, sg->h.payload_len,
                      w->n ? "one segment more than expected" : "expected nothing");
        if (base_of(w->seq) == B_NEW_ISS && n == 0) {
            b->v[B_NEW_ISS] = sg->h.seq; /* the ISS the stack chose: learnt */
            f->stack_iss = sg->h.seq;
            f->stack_nxt = sg->h.seq + 1;
        }
        uint32_t seq = resolve(b, w->seq), ack = resolve(b, w->ack);
        uint8_t gf = sg->h.flags & (uint8_t)~TCP_PSH;
        bool ok = gf == w->flags && sg->h.seq == seq && sg->h.payload_len == w->len &&
                  (!(w->flags & TCP_ACK) || sg->h.ack == ack);
        ck_assert_msg(ok,
                      "row %d (%s): segment %u: expected [%s] seq %s ack %s len %u, got [%s] seq "
                      "%s%+lld ack %u len %zu",
                      i, r->name, n + 1, tf_flags_str(w->flags, want),
                      rel_str(w->seq, s1, sizeof(s1)), rel_str(w->ack, s2, sizeof(s2)), w->len,
                      tf_flags_str(sg->h.flags, got), base_name[base_of(w->seq)],
                      (long long)(int32_t)(sg->h.seq - b->v[base_of(w->seq)]), sg->h.ack,
                      sg->h.payload_len);
        n++;
    }
    ck_assert_msg(n == w->n, "row %d (%s): sent %u segments, expected %u", i, r->name, n, w->n);
}

/* The row's trace: its events as "A -> B (cause); ...". */
static void check_trace(struct tf *f, const struct row *r, int i, size_t from_ev)
{
    char want[256] = "", got[512] = "";
    if (r->trace)
        snprintf(want, sizeof(want), "%s", r->trace);
    else if (r->from != r->to)
        snprintf(want, sizeof(want), "%s -> %s (%s)", ts_tcp_state_name(r->from),
                 ts_tcp_state_name(r->to), r->cause ? r->cause : "?");
    size_t k = 0;
    for (size_t e = from_ev; e < f->nev; e++) {
        const struct tf_event *ev = &f->ev[e];
        if (ev->lport != f->lport || (ev->rport != f->rport && ev->rport != 0))
            continue;
        k += (size_t)snprintf(got + k, sizeof(got) - k, "%s%s -> %s (%s)", k ? "; " : "",
                              ts_tcp_state_name(ev->from), ts_tcp_state_name(ev->to), ev->cause);
        if (k >= sizeof(got))
            break;
    }
    ck_assert_msg(!strcmp(want, got), "row %d (%s): trace \"%s\", expected \"%s\"", i, r->name, got,
                  want);
}

START_TEST(test_state_table_row)
{
    const struct row *r = &state_table[_i];
    struct tf f;
    tf_init(&f);
    if (r->setup)
        r->setup(&f);
    ck_assert_msg(tf_pending(&f) == 0, "row %d (%s): the set-up left segments unread", _i, r->name);
    ck_assert_msg(tf_tuple_state(&f) == r->from, "row %d (%s): the set-up made %s, not %s", _i,
                  r->name, ts_tcp_state_name(tf_tuple_state(&f)), ts_tcp_state_name(r->from));
    tf_check_invariants_at(__FILE__, __LINE__, &f, r->name);
    struct bases b = {{0, f.peer_iss, f.peer_nxt, f.stack_iss, f.stack_nxt, 0}};
    size_t ev0 = f.nev;
    run_event(&f, r, _i, &b);
    check_sent(&f, r, _i, &b);
    ck_assert_msg(tf_tuple_state(&f) == r->to, "row %d (%s): in %s after it, expected %s", _i,
                  r->name, ts_tcp_state_name(tf_tuple_state(&f)), ts_tcp_state_name(r->to));
    check_trace(&f, r, _i, ev0);
    tf_check_invariants_at(__FILE__, __LINE__, &f, r->name);
    tf_free(&f);
}
END_TEST

/* ---- the invariant check itself: each rule it states catches its breakage ---- */

struct breakage {
    const char *name;
    void (*setup)(struct tf *f);
    void (*brk)(struct tf *f, struct ts_tcp_conn *c);
    const char *says; /* in the check's message */
};

static void brk_nxt_past_max(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->snd.nxt = c->snd.max + 1;
}
static void brk_ring_start(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->snd.buf_seq++;
}
static void brk_rcv_nxt(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->rcv.nxt++;
}
static void brk_rexmt_idle(struct tf *f, struct ts_tcp_conn *c)
{
    c->timers.rexmt = f->now + TS_SEC;
}
static void brk_flight_unwatched(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->timers.rexmt = TS_TIME_NEVER;
}
static void brk_wait_outside_time_wait(struct tf *f, struct ts_tcp_conn *c)
{
    c->timers.wait = f->now + TS_SEC;
}
static void brk_time_wait_untimed(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->timers.wait = TS_TIME_NEVER;
}
static void brk_keepalive_unarmed(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->opts.keepalive = true;
}
static void brk_delack_in_close_wait(struct tf *f, struct ts_tcp_conn *c)
{
    c->timers.delack = f->now + TS_MS;
}
static void brk_listener_count(struct tf *f, struct ts_tcp_conn *c)
{
    (void)f;
    c->listener.synq_len++; /* c: the listener (syn_recv leaves f->conn NULL) */
}

static const struct breakage breakages[] = {
    {"SND.NXT past SND.MAX", tf_establish, brk_nxt_past_max, "out of order"},
    {"send ring off SND.UNA", tf_establish, brk_ring_start, "send ring starts at"},
    {"RCV.NXT off by one", tf_establish, brk_rcv_nxt, "does not count"},
    {"retransmission timer, nothing in flight", tf_establish, brk_rexmt_idle, "nothing in flight"},
    {"data in flight, no timer", established_data_out, brk_flight_unwatched, "no timer to resend"},
    {"2MSL timer in ESTABLISHED", tf_establish, brk_wait_outside_time_wait, "2MSL"},
    {"TIME_WAIT without its timer", tf_time_wait, brk_time_wait_untimed, "no 2MSL timer"},
    {"keep-alive on, not armed", tf_establish, brk_keepalive_unarmed,
     "keep-alive on, its timer does not run"},
    {"delayed ACK in CLOSE_WAIT", tf_close_wait, brk_delack_in_close_wait, "delayed-ACK"},
    {"listener's half-open count", syn_recv, brk_listener_count, "half-open"},
};

START_TEST(test_invariant_check_catches_each_breakage)
{
    const struct breakage *b = &breakages[_i];
    struct tf f;
    char why[512];
    tf_init(&f);
    b->setup(&f);
    ck_assert_msg(tf_invariants_hold(&f, why, sizeof(why)), "%s: before: %s", b->name, why);
    struct ts_tcp_conn *c = f.conn ? f.conn : f.listener;
    struct ts_tcp_conn saved = *c;
    b->brk(&f, c);
    bool held = tf_invariants_hold(&f, why, sizeof(why));
    *c = saved;
    ck_assert_msg(!held, "%s: not caught", b->name);
    ck_assert_msg(strstr(why, b->says) != NULL, "%s: caught as \"%s\", expected \"%s\"", b->name,
                  why, b->says);
    tf_free(&f);
}
END_TEST

/* The short names end with the table. */
#undef SYN
#undef ACK
#undef FIN
#undef RST
#undef CLOSED
#undef LISTEN
#undef SYN_SENT
#undef SYN_RECV
#undef ESTABLISHED
#undef FIN_WAIT1
#undef FIN_WAIT2
#undef CLOSE_WAIT
#undef CLOSING
#undef LAST_ACK
#undef TIME_WAIT

/* ================================================================ behaviour, test by test */

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
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* at once: a FIN is ACKed without delay */
    tf_expect_nothing(&f);
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
    ts_time_t sent = f.now;
    tf_send_data(&f, "hello", 5);
    struct tf_seg *a = tf_next(&f); /* the first text is ACKed at once (quick-ACK mode) */
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->t, sent);
    ck_assert_uint_eq(a->h.flags & ~TCP_PSH, TCP_ACK);
    ck_assert_uint_eq(a->h.seq, f.stack_nxt);
    ck_assert_uint_eq(a->h.ack, f.peer_nxt);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT2);
    tf_send_fin(&f);
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
    /* Everything from SND.UNA on goes again at once, in segments of 1000 - 40 bytes, the last
     * 160 bytes too (a retransmission: Nagle does not hold it). */
    uint32_t seq = f.stack_nxt;
    for (int k = 0; k < 5; k++) {
        struct tf_seg *sg = tf_expect(&f, TCP_ACK, seq, f.peer_nxt);
        uint32_t len = k < 4 ? 960 : 160;
        ck_assert(sg->df);
        ck_assert_uint_eq(sg->h.payload_len, len);
        ck_assert_int_eq(memcmp(sg->h.payload, data + 960 * k, len), 0);
        seq += len;
    }
    tf_expect_nothing(&f);
    tf_send(&f, TCP_ACK, f.peer_nxt, seq, NULL, 0);
    tf_expect_nothing(&f);
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
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* resent at once */
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
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt); /* first text: ACKed at once */
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    tf_expect(&f, TCP_RST | TCP_ACK, f.stack_nxt, f.peer_nxt); /* not a FIN */
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
    tf_expect(&f, TCP_RST | TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED CLOSE");
    tf_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ TIME-WAIT
 */

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
    /* The old incarnation ends (TIME_WAIT -> CLOSE) and the new one is born from the listener. */
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE "
                                  "SYN_RECV ESTABLISHED");
    ck_assert_str_eq(tf_cause_of(&f, TS_TCP_CLOSE), "new SYN in TIME_WAIT (RFC 6191)");
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
    tf_expect_nothing(&f); /* the FIN waits for ESTABLISHED (the RFC's "queue" branch) */
    tf_send_ack(&f);       /* ACK of our SYN: established, and the FIN goes at once */
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_int_eq(tf_state(&f), TS_TCP_FIN_WAIT1);
    ck_assert_str_eq(tf_path(&f), "SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1");
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
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_state_table_row, 0, N_ROWS);
    tcase_add_loop_test(tc, test_invariant_check_catches_each_breakage, 0,
                        (int)(sizeof(breakages) / sizeof(breakages[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
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
