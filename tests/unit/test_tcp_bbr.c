/* BBR (stack/tcp/tcp_cc_bbr.c) and the delivery rate samples it is built on (stack/tcp/tcp_rate.c):
 *  - the rate sample's arithmetic, draft-cheng-iccrg-delivery-rate-estimation 3.3: delivered over
 *    the longer of the send and ACK intervals;
 *  - a loss is not taken as congestion: ssthresh is the model's window, not half the flight;
 *  - STARTUP fills the pipe and hands over to PROBE_BW, whose window follows the model
 *    (draft-cardwell-iccrg-bbr-congestion-control-00 4.3.2, 4.2.3.6);
 *  - through random loss BBR moves the same data far sooner than NewReno;
 *  - PROBE_RTT after ten seconds without a lower RTT sample, and the window restored after it
 *    (4.3.4);
 *  - application-limited samples do not lower the bandwidth estimate (rate draft 3.4, BBR draft
 *    4.1.1.5);
 *  - after a retransmission timeout the window doubles back to the model's, not linearly;
 *  - STARTUP's window is high_gain (2/ln 2) BDPs (4.3.2.1);
 *  - ACKs in bursts add their excess to the window, at most 100 ms of BtlBw (4.2.3.5).
 * The scripted peer (tcp_fixture.h: segments of 1000 bytes, SACK, no timestamps) gives exact
 * times; two stacks on the in-memory link (harness.h) give whole transfers. The link has no
 * bandwidth limit: what bounds the delivery rate there is the receiver's window, one per round
 * trip, which the tests use as the path's bottleneck; where a rate-limited link is needed, the
 * scripted peer plays one (link_step). The model is read in the connection block
 * (tcp_internal.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp/tcp_internal.h"
#include "tcp_fixture.h"
#include "tcp_script.h"

#define MS TS_MS

/* ---------------------------------------------------------------- reading the model */

static uint64_t max_bw(const struct ts_tcp_conn *c)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < TCP_BBR_BW_ROUNDS; i++)
        if (c->cc.bbr.bw[i] > m)
            m = c->cc.bbr.bw[i];
    return m;
}

static uint64_t bdp(const struct ts_tcp_conn *c)
{
    return max_bw(c) * c->cc.bbr.min_rtt / TS_SEC;
}

/* The ACK aggregation allowance (BBR draft 4.2.3.5): the larger of the two windows' excess. */
static uint32_t extra_acked(const struct ts_tcp_conn *c)
{
    const struct tcp_bbr *b = &c->cc.bbr;
    return b->extra_acked[0] > b->extra_acked[1] ? b->extra_acked[0] : b->extra_acked[1];
}

/* The window PROBE_BW aims at, as the BBR draft 4.2.3.6 defines it: cwnd_gain (2) BDPs, plus the
 * ACK aggregation allowance (4.2.3.5), plus three segments (Linux's quantization budget). */
static uint64_t probe_bw_window(const struct ts_tcp_conn *c)
{
    uint32_t seg = c->snd.seg_max > c->mss ? c->snd.seg_max : c->mss;
    return 2 * bdp(c) + extra_acked(c) + 3ull * seg;
}

/* ---------------------------------------------------------------- the scripted peer */

static void setup_cc(struct tf *f, enum ts_tcp_cc cc, ts_time_t rtt)
{
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_cc = cc;
    tf_init_cfg(f, &cfg);
    f->peer_syn_opts.mss_ok = true;
    f->peer_syn_opts.mss = 1000;
    f->peer_syn_opts.sack_perm = true;
    f->peer_wnd = 65535;
    tf_establish_rtt(f, rtt);
    struct ts_tcp_opts o;
    ts_tcp_get_opts(f->conn, &o);
    o.nodelay = true;
    ck_assert_int_eq(ts_tcp_set_opts(f->conn, &o, f->now), 0);
}

static uint8_t g_buf[1 << 20];

/* One round trip of the scripted peer: the application queues bytes (as many as the send buffer
 * takes), rtt passes, then one ACK covers everything the stack sent. With the peer's 65535-byte
 * window a bulk round delivers 65 segments of 1000 bytes. */
static void tf_round(struct tf *f, size_t bytes, ts_time_t rtt)
{
    if (bytes)
        ts_tcp_send(f->conn, g_buf, bytes, f->now);
    tf_advance(f, rtt);
    tf_flush(f);
    tf_send(f, TCP_ACK, f->peer_nxt, f->conn->snd.nxt, NULL, 0);
}

/* A bottleneck in front of the scripted peer: the link carries one 1000-byte segment a
 * millisecond (1 MB/s) and each segment's ACK comes back 19 ms after it is through: a round trip
 * of 20 ms without a queue, a BDP of 20 000 bytes. With batch, the ACKs wait and come in bursts
 * every batch (a link or a receiver that aggregates them): the same delivery rate, in lumps. */
#define LINK_SEGS 128
struct link {
    ts_time_t batch, t0, free_at; /* free_at: when the link has carried all it was given */
    uint32_t end[LINK_SEGS];      /* the segments not yet ACKed, in order, */
    ts_time_t due[LINK_SEGS];     /* and when each one's ACK is due */
    unsigned head, len;
};

static void link_open(struct tf *f, struct link *l, ts_time_t batch)
{
    setup_cc(f, TS_CC_BBR, 20 * MS);
    *l = (struct link){.batch = batch, .t0 = f->now};
}

/* One millisecond of the link, with the application always ready to send. */
static void link_step(struct tf *f, struct link *l)
{
    ts_tcp_send(f->conn, g_buf, sizeof g_buf, f->now);
    struct tf_seg *sg;
    while ((sg = tf_next(f)) != NULL) {
        if (!sg->h.payload_len)
            continue;
        ck_assert_uint_lt(l->len, LINK_SEGS);
        l->free_at = (l->free_at > sg->t ? l->free_at : sg->t) + MS;
        unsigned i = (l->head + l->len++) % LINK_SEGS;
        l->end[i] = sg->h.seq + (uint32_t)sg->h.payload_len;
        l->due[i] = l->free_at + 19 * MS;
    }
    tf_advance(f, MS);
    if (l->batch && (f->now - l->t0) % l->batch)
        return; /* the ACKs wait for the next burst */
    uint32_t ack = 0;
    for (; l->len && l->due[l->head] <= f->now; l->len--, l->head = (l->head + 1) % LINK_SEGS)
        ack = l->end[l->head];
    if (ack)
        tf_send(f, TCP_ACK, f->peer_nxt, ack, NULL, 0);
}

/* ---------------------------------------------------------------- two stacks */

struct pair {
    struct th_net n;
    struct ts_tcp_conn *l, *a, *b; /* listener on B, sender on A, receiver on B */
};

static bool accepted(void *arg)
{
    struct pair *p = arg;
    if (!p->b)
        p->b = ts_tcp_accept(p->l);
    return p->b && ts_tcp_state(p->a) == TS_TCP_ESTABLISHED;
}

/* A connection from A to B over a link of one-way latency; rcvbuf 0: the default. */
static void pair_open(struct pair *p, enum ts_tcp_cc cc, ts_time_t latency, uint32_t rcvbuf,
                      const struct ts_fault_config *fault)
{
    memset(p, 0, sizeof(*p));
    struct ts_config ca, cb;
    th_config(&ca, TH_A);
    th_config(&cb, TH_B);
    ca.tcp_cc = cb.tcp_cc = cc;
    if (rcvbuf)
        cb.tcp_rcvbuf = rcvbuf;
    struct th_net_opts o = {
        .latency = latency, .cfg_a = &ca, .cfg_b = &cb, .fault_a = fault, .fault_b = fault};
    th_net_init_ex(&p->n, &o);
    int err = 0;
    p->l = ts_tcp_listen(p->n.b, 0, 80, 16, NULL, &err, p->n.now);
    ck_assert_ptr_nonnull(p->l);
    p->a = ts_tcp_connect(p->n.a, 0, 0, TH_IP_B, 80, NULL, &err, p->n.now);
    ck_assert_ptr_nonnull(p->a);
    ck_assert(th_run_until_sent(&p->n, accepted, p, 60 * TS_SEC));
}

static void pair_close(struct pair *p)
{
    ts_tcp_abort(p->a, p->n.now);
    ts_tcp_abort(p->b, p->n.now);
    ts_tcp_close(p->l, p->n.now);
    th_net_free(&p->n);
}

/* A one-way transfer A -> B; watch (optional) is called at every event and may end it early. */
struct flow {
    struct pair *p;
    const uint8_t *src;
    uint8_t *dst;
    size_t len, sent, got;
    bool (*watch)(struct flow *x, void *arg);
    void *arg;
};

static bool flow_pump(void *arg)
{
    struct flow *x = arg;
    ts_time_t now = x->p->n.now;
    while (x->sent < x->len) {
        ssize_t r = ts_tcp_send(x->p->a, x->src + x->sent, x->len - x->sent, now);
        if (r <= 0)
            break;
        x->sent += (size_t)r;
    }
    for (;;) {
        ssize_t r = ts_tcp_recv(x->p->b, x->dst + x->got, x->len - x->got, now);
        if (r <= 0)
            break;
        x->got += (size_t)r;
    }
    if (x->watch && x->watch(x, x->arg))
        return true;
    return x->got == x->len;
}

/* Move len bytes from A to B; every byte must arrive intact (unless watch ended it first).
 * Returns the virtual time it took. */
static ts_time_t flow_run_watch(struct pair *p, size_t len, ts_time_t max,
                                bool (*watch)(struct flow *, void *), void *arg)
{
    struct flow x = {.p = p, .len = len, .watch = watch, .arg = arg};
    uint8_t *src = malloc(len);
    x.dst = malloc(len);
    ck_assert(src && x.dst);
    uint32_t v = 777;
    for (size_t i = 0; i < len; i++) {
        v = v * 1103515245u + 12345u;
        src[i] = (uint8_t)(v >> 16);
    }
    x.src = src;
    ts_time_t t0 = p->n.now;
    ck_assert(th_run_until_sent(&p->n, flow_pump, &x, max));
    ck_assert(memcmp(src, x.dst, x.got) == 0);
    if (!watch)
        ck_assert_uint_eq(x.got, len);
    free(src);
    free(x.dst);
    return p->n.now - t0;
}

static ts_time_t flow_run(struct pair *p, size_t len, ts_time_t max)
{
    return flow_run_watch(p, len, max, NULL, NULL);
}

/* ---------------------------------------------------------------- tests */

/* Rate draft 3.3: a sample is the data delivered between a packet's send and its ACK, over the
 * longer of its send interval (since the first packet of its flight left) and its ACK interval
 * (since the delivery count it carries was reached). Ten segments leave at 0 and are ACKed at
 * 10 ms: 10 000 bytes over 10 ms, 1 000 000 bytes/s. Then ACK compression: C leaves at 10 ms with
 * the flight that began at 0, and its ACK (with B's) comes 2 ms later; the ACK interval (2 ms)
 * would read 2000 bytes as 1 MB/s, the send interval (10 ms) bounds it at 200 000 bytes/s. */
START_TEST(test_rate_sample_is_delivered_over_the_longer_of_send_and_ack_intervals)
{
    struct tf f;
    setup_cc(&f, TS_CC_BBR, 10 * MS);
    struct ts_tcp_conn *c = f.conn;
    const struct tcp_rate_sample *rs = &c->rate.rs;
    tf_script(&f, "0 write 10000\n" TF_TEN_SEGMENTS_AT_0 "10 < ack 10001\n");
    ck_assert(rs->valid);
    ck_assert_uint_eq(rs->prior_delivered, 0);
    ck_assert_uint_eq(rs->delivered, 10000);
    ck_assert_uint_eq(rs->send_elapsed, 0);
    ck_assert_uint_eq(rs->ack_elapsed, 10 * MS);
    ck_assert_uint_eq(rs->interval, 10 * MS);
    ck_assert_uint_eq(max_bw(c), 1000000); /* BtlBw takes it: the first sample of the path */
    ck_assert_uint_eq(c->cc.bbr.min_rtt, 10 * MS);

    /* An ACK 5 ms after its segment, under the 10 ms RTprop: an interval shorter than the
     * minimum RTT is no rate (ACK compression, or the segment counted was not this one). */
    tf_script(&f, "0 write 1000\n"
                  "0 > 10001:11001\n"
                  "5 < ack 11001\n");
    ck_assert_uint_eq(rs->interval, 5 * MS);
    ck_assert(!rs->valid);
    ck_assert_uint_eq(max_bw(c), 1000000);

    /* A leaves alone (a new flight: its interval starts at its send), B 5 ms later; A's ACK at
     * 10 ms; C follows at once with B still out, so C's send interval runs from A's send. */
    tf_script(&f, "0 write 1000\n"
                  "0 > 11001:12001\n"
                  "5 write 1000\n"
                  "5 > 12001:13001\n"
                  "10 < ack 12001\n"
                  "10 write 1000\n"
                  "10 > 13001:14001\n"
                  "12 < ack 14001\n");
    ck_assert_uint_eq(rs->prior_delivered, 12000); /* C's: the newest delivered */
    ck_assert_uint_eq(rs->delivered, 2000);        /* B and C */
    ck_assert_uint_eq(rs->send_elapsed, 10 * MS);  /* A's send to C's */
    ck_assert_uint_eq(rs->ack_elapsed, 2 * MS);    /* A's ACK to C's */
    ck_assert_uint_eq(rs->interval, 10 * MS);
    ck_assert(rs->valid);
    ck_assert_uint_eq(rs->delivered * TS_SEC / rs->interval, 200000);
    /* Application-limited (each write had the window to itself) and below the estimate: the
     * estimate stays (rate draft 3.4). */
    ck_assert(rs->app_limited);
    ck_assert_uint_eq(max_bw(c), 1000000);
    tf_free(&f);
}
END_TEST

/* The same loss for NewReno and BBR: ten segments out, three SACKs above the first (RFC 6675
 * IsLost). Both resend it at once; NewReno halves (RFC 5681 3.1 eq. 4), BBR's ssthresh is its
 * model's window or the window in use, whichever is larger (the BBR draft's cwnd in loss
 * recovery: packet conservation, then back to the model; a loss alone is no congestion signal),
 * so recovery ends at the window it began with. */
static void one_loss(enum ts_tcp_cc cc, uint32_t *cwnd_before, uint32_t *ssthresh,
                     uint32_t *cwnd_after)
{
    struct tf f;
    setup_cc(&f, cc, 10 * MS);
    tf_script(&f, "0 write 10000\n"
                  "10 < ack 1 sack 1001:2001\n"
                  "10 < ack 1 sack 1001:3001\n");
    *cwnd_before = f.conn->cc.cwnd;
    ck_assert(!f.conn->cc.in_recovery);
    tf_flush(&f);
    tf_script(&f, "0 < ack 1 sack 1001:4001\n");
    ck_assert(f.conn->cc.in_recovery);
    struct tf_seg *sg;
    bool resent = false;
    while ((sg = tf_next(&f)) != NULL)
        if (sg->h.seq == f.stack_iss + 1 && sg->h.payload_len == 1000)
            resent = true;
    ck_assert_msg(resent, "%s: no fast retransmit of 1:1001", cc == TS_CC_BBR ? "bbr" : "newreno");
    *ssthresh = f.conn->cc.ssthresh;
    /* Everything (and what went meanwhile) is ACKed: recovery ends. */
    tf_advance(&f, MS / 2);
    tf_send(&f, TCP_ACK, f.peer_nxt, f.conn->snd.max, NULL, 0);
    ck_assert(!f.conn->cc.in_recovery);
    *cwnd_after = f.conn->cc.cwnd;
    tf_free(&f);
}

START_TEST(test_a_loss_halves_newreno_but_does_not_reduce_bbrs_window)
{
    uint32_t before, ssthresh, after;
    one_loss(TS_CC_NEWRENO, &before, &ssthresh, &after);
    ck_assert_uint_eq(before, 10000);
    ck_assert_uint_eq(ssthresh, 5000); /* FlightSize / 2 */
    ck_assert_uint_eq(after, 5000);
    one_loss(TS_CC_BBR, &before, &ssthresh, &after);
    ck_assert_uint_ge(before, 10000);
    ck_assert_uint_ge(ssthresh, before);
    ck_assert_uint_ge(after, before);
}
END_TEST

/* BBR draft 4.3.2: STARTUP grows the window until three rounds in a row add under 25% of
 * bandwidth; DRAIN, then PROBE_BW, where the window is the model's (4.2.3.6). The link's round
 * trip is 10 ms; the receiver's 256 KB buffer bounds what a round trip delivers. */
START_TEST(test_startup_fills_the_pipe_then_probe_bw_keeps_the_models_window)
{
    struct pair p;
    const ts_time_t latency = 5 * MS;
    pair_open(&p, TS_CC_BBR, latency, 256 * 1024, NULL);
    ts_time_t took = flow_run(&p, 4 << 20, 60 * TS_SEC);
    const struct ts_tcp_conn *c = p.a;
    const struct tcp_bbr *b = &c->cc.bbr;
    /* 4.1.1.3: a round ends when what left at its start is delivered: one per round trip, not
     * one per ACK (the bandwidth filter's window and the full-pipe check count these). */
    ck_assert_uint_le(b->round_count, took / (2 * latency) + 1);
    ck_assert_uint_ge(b->round_count, took / (2 * latency) / 2);
    ck_assert(b->filled_pipe);
    ck_assert_uint_eq(b->mode, TCP_BBR_PROBE_BW);
    /* RTprop is the link's round trip: never less, and no queue on this link to add to it. */
    ck_assert_uint_ge(b->min_rtt, 2 * latency);
    ck_assert_uint_le(b->min_rtt, 2 * latency + 1 * MS);
    /* BtlBw: no more than one receive window per round trip can be delivered, and STARTUP got
     * there (at least half of it: it stopped because growth stopped, not early). */
    uint64_t wnd_rate = (uint64_t)c->snd.max_wnd * TS_SEC / b->min_rtt;
    ck_assert_uint_le(max_bw(c), wnd_rate);
    ck_assert_uint_ge(2 * max_bw(c), wnd_rate);
    /* The window: at most the model's, at least its cwnd_gain (2) BDPs. */
    ck_assert_uint_le(c->cc.cwnd, probe_bw_window(c));
    ck_assert_uint_ge(c->cc.cwnd, 2 * bdp(c));
    ck_assert_uint_eq(ts_stack_counter(p.n.a, TS_C_TCP_RETRANSMIT), 0);
    /* STATUS (tapstack-stat -i) shows the same model. */
    struct ts_tcp_info info;
    ts_tcp_get_info(c, &info, p.n.now);
    ck_assert_str_eq(info.cc, "bbr");
    ck_assert_str_eq(info.bbr_mode, "PROBE_BW");
    ck_assert_uint_eq(info.bbr_bw, max_bw(c));
    ck_assert_uint_eq(info.bbr_min_rtt, b->min_rtt);
    ts_tcp_get_info(p.b, &info, p.n.now);
    /* The receiver runs BBR too, but sent no data: nothing measured, still in STARTUP. */
    ck_assert_str_eq(info.bbr_mode, "STARTUP");
    ck_assert_uint_eq(info.bbr_bw, 0);
    pair_close(&p);
}
END_TEST

/* BBR's reason to be (the draft's introduction): at 5% random loss each way, a loss-based window
 * stays at a few segments, BBR keeps its model's. The same 2 MB, the same link and seed: every byte
 * arrives both times, BBR in well under a quarter of NewReno's time. */
START_TEST(test_bbr_moves_two_megabytes_through_random_loss_much_sooner_than_newreno)
{
    struct ts_fault_config fc = {.in = {.drop = 0.05}, .seed = 7};
    ts_time_t took[2];
    uint64_t rtx[2];
    const enum ts_tcp_cc ccs[2] = {TS_CC_NEWRENO, TS_CC_BBR};
    for (int i = 0; i < 2; i++) {
        struct pair p;
        pair_open(&p, ccs[i], 5 * MS, 0, &fc);
        took[i] = flow_run(&p, 2 << 20, 600 * TS_SEC);
        rtx[i] = ts_stack_counter(p.n.a, TS_C_TCP_RETRANSMIT);
        pair_close(&p);
    }
    ck_assert_uint_gt(rtx[0], 0); /* both met loss */
    ck_assert_uint_gt(rtx[1], 0);
    ck_assert_msg(4 * took[1] < took[0], "bbr %llu us, newreno %llu us",
                  (unsigned long long)took[1], (unsigned long long)took[0]);
}
END_TEST

/* BBR draft 4.3.4: RTprop is the least RTT of ten seconds; when ten seconds pass without a sample
 * as low, PROBE_RTT holds the flight at four segments for 200 ms and a round trip so that a queue
 * of its own would drain, then restores the window it had. The peer's round trip is 100 ms for
 * the first rounds, then 105 ms: nothing matches RTprop any more. */
START_TEST(test_probe_rtt_after_ten_seconds_holds_four_segments_then_restores_the_window)
{
    struct tf f;
    setup_cc(&f, TS_CC_BBR, 100 * MS);
    struct ts_tcp_conn *c = f.conn;
    struct tcp_bbr *b = &c->cc.bbr;
    for (int i = 0; i < 8; i++)
        tf_round(&f, sizeof g_buf, 100 * MS);
    ck_assert_uint_eq(b->mode, TCP_BBR_PROBE_BW);
    ck_assert_uint_eq(b->min_rtt, 100 * MS);
    ts_time_t stamp = b->min_rtt_stamp;
    uint32_t cwnd = 0;
    int rounds = 0;
    while (b->mode != TCP_BBR_PROBE_RTT && rounds++ < 200) {
        cwnd = c->cc.cwnd;
        tf_round(&f, sizeof g_buf, 105 * MS);
    }
    ck_assert_uint_eq(b->mode, TCP_BBR_PROBE_RTT);
    ts_time_t entered = f.now;
    /* Not before RTprop expired, and at the first ACK after. */
    ck_assert_uint_gt(entered, stamp + 10 * TS_SEC);
    ck_assert_uint_le(entered, stamp + 10 * TS_SEC + 105 * MS);
    ck_assert_uint_eq(b->prior_cwnd, cwnd);
    ck_assert_uint_gt(cwnd, 4u * c->mss);
    ck_assert_uint_eq(c->cc.cwnd, 4u * c->mss);
    ck_assert_uint_le(tcp_flight(c), 4u * c->mss);
    rounds = 0;
    while (b->mode == TCP_BBR_PROBE_RTT && rounds++ < 20) {
        ck_assert_uint_le(tcp_flight(c), 4u * c->mss);
        tf_round(&f, sizeof g_buf, 105 * MS);
    }
    ck_assert_uint_eq(b->mode, TCP_BBR_PROBE_BW);
    /* 200 ms and a round trip at the small flight, both (the draft's probe_rtt_done_stamp and
     * probe_rtt_round_done): it ends at the first round trip's end after 200 ms. */
    ck_assert_uint_ge(f.now - entered, 200 * MS);
    ck_assert_uint_le(f.now - entered, 200 * MS + 105 * MS);
    ck_assert_uint_ge(c->cc.cwnd, cwnd);
    ck_assert_uint_eq(b->min_rtt, 105 * MS); /* the path's round trip now */
    ck_assert_uint_eq(b->min_rtt_stamp, f.now);
    tf_free(&f);
}
END_TEST

/* Rate draft 3.4 / BBR draft 4.1.1.5: a sample taken while the application, not the network,
 * limited the flight says nothing about the path; unless it is higher, BtlBw ignores it. A bulk
 * transfer establishes the estimate (65 000 bytes per 10 ms), then the application writes 100
 * bytes a round trip for 15 round trips (an idle keep-alive connection, an interactive one): the
 * estimate, and the window built on it, must stay. */
START_TEST(test_app_limited_samples_do_not_lower_the_bandwidth_estimate)
{
    struct tf f;
    setup_cc(&f, TS_CC_BBR, 10 * MS);
    struct ts_tcp_conn *c = f.conn;
    for (int i = 0; i < 12; i++)
        tf_round(&f, sizeof g_buf, 10 * MS);
    ck_assert_uint_eq(c->cc.bbr.mode, TCP_BBR_PROBE_BW);
    ck_assert_uint_eq(max_bw(c), 6500000);
    while (c->snd.una != c->snd.buf_seq + c->sndbuf.len) /* the queue drains */
        tf_round(&f, 0, 10 * MS);
    uint64_t bw = max_bw(c);
    uint32_t cwnd = c->cc.cwnd;
    ck_assert_uint_ge(cwnd, 2 * bdp(c));
    for (int i = 0; i < 15; i++) {
        tf_round(&f, 100, 10 * MS);
        ck_assert(c->rate.rs.valid);
        ck_assert(c->rate.rs.app_limited);
        /* (The ACK aggregation allowance may age out of the window, as Linux's does; the two
         * BDPs built on BtlBw may not.) */
        ck_assert_msg(max_bw(c) == bw && c->cc.cwnd >= 2 * bw * c->cc.bbr.min_rtt / TS_SEC,
                      "after %d application-limited rounds: max bw %llu (was %llu), cwnd %u "
                      "(was %u, two BDPs of the estimate %llu)",
                      i + 1, (unsigned long long)max_bw(c), (unsigned long long)bw, c->cc.cwnd,
                      cwnd, (unsigned long long)(2 * bw * c->cc.bbr.min_rtt / TS_SEC));
    }
    tf_free(&f);
}
END_TEST

/* After a retransmission timeout cwnd restarts at one segment (RFC 5681 3.1), but BBR's ssthresh
 * is its model's window and every ACK adds what it delivered: the window doubles each round trip
 * back to the model's (about log2(window / MSS) round trips), where NewReno's congestion
 * avoidance would add one segment per round trip. A 300 ms outage of the link in a transfer in
 * PROBE_BW. */
struct outage {
    ts_time_t from, to;
    uint32_t cwnd_before;
    uint64_t delivered_before;
    ts_time_t resumed, regrown; /* first delivery after the outage; cwnd back to cwnd_before */
    uint64_t bw_before;
};

static struct outage *g_outage;

static bool outage_drop_window(void *arg, enum th_side from, const uint8_t *frame, size_t len,
                               const struct ts_frame_meta *meta)
{
    struct th_net *n = arg;
    (void)from, (void)frame, (void)len, (void)meta;
    return n->now >= g_outage->from && n->now < g_outage->to;
}

static bool outage_watch(struct flow *x, void *arg)
{
    struct outage *o = arg;
    const struct ts_tcp_conn *c = x->p->a;
    ts_time_t now = x->p->n.now;
    if (now < o->from) {
        o->cwnd_before = c->cc.cwnd;
        o->bw_before = max_bw(c);
    }
    if (now < o->to) {
        o->delivered_before = c->rate.delivered; /* (ACKs sent before the outage still come) */
        return false;
    }
    if (!o->resumed && c->rate.delivered > o->delivered_before)
        o->resumed = now;
    if (o->resumed && c->cc.cwnd >= o->cwnd_before) {
        o->regrown = now;
        return true;
    }
    return false;
}

START_TEST(test_after_a_timeout_the_window_doubles_back_to_the_models_not_linearly)
{
    struct pair p;
    pair_open(&p, TS_CC_BBR, 5 * MS, 256 * 1024, NULL);
    struct outage o = {.from = p.n.now + 300 * MS, .to = p.n.now + 600 * MS};
    g_outage = &o;
    p.n.drop = outage_drop_window;
    p.n.spy_arg = &p.n;
    flow_run_watch(&p, 64 << 20, 60 * TS_SEC, outage_watch, &o);
    const struct ts_tcp_conn *c = p.a;
    ck_assert_uint_ge(ts_stack_counter(p.n.a, TS_C_TCP_RTO), 1);
    ck_assert_uint_gt(o.resumed, o.to);
    ck_assert_msg(o.regrown, "cwnd never came back to %u", o.cwnd_before);
    /* Before the outage the window was the model's; the timeout kept it as ssthresh. */
    ck_assert_uint_eq(c->cc.bbr.mode, TCP_BBR_PROBE_BW);
    ck_assert_uint_ge(c->cc.ssthresh, o.cwnd_before);
    ck_assert_uint_ge(max_bw(c), o.bw_before); /* the timeout did not wipe the model */
    uint32_t segs = o.cwnd_before / c->mss, log2_segs = 0;
    while ((1u << log2_segs) < segs)
        log2_segs++;
    ts_time_t rounds = (o.regrown - o.resumed) / c->cc.bbr.min_rtt;
    ck_assert_msg(rounds <= log2_segs + 2, "%llu round trips back to %u segments",
                  (unsigned long long)rounds, segs);
    ck_assert_uint_gt(segs, 8 * (log2_segs + 2)); /* linear growth could not have done it */
    pair_close(&p);
}
END_TEST

/* BBR draft 4.3.2.1: STARTUP's gain, 2/ln 2 (2.885), is the least that doubles the delivery
 * rate every round; the window it grows to is that many BDPs (plus the aggregation allowance and
 * three segments, as in PROBE_BW), not PROBE_BW's two. Over the 1 MB/s bottleneck, the window
 * STARTUP holds while it checks that the pipe is full: 2.885 * 20 000 bytes. */
START_TEST(test_startup_grows_the_window_to_high_gain_bdps_before_draining)
{
    struct tf f;
    struct link l;
    link_open(&f, &l, 0);
    const struct ts_tcp_conn *c = f.conn;
    const struct tcp_bbr *b = &c->cc.bbr;
    uint32_t cwnd = 0, extra = 0;
    for (int ms = 0; b->mode == TCP_BBR_STARTUP; ms++) {
        ck_assert_int_lt(ms, 1000);
        cwnd = c->cc.cwnd; /* (as the last ACK in STARTUP left them) */
        extra = extra_acked(c);
        link_step(&f, &l);
    }
    ck_assert_uint_eq(max_bw(c), 1000000);
    ck_assert_uint_eq(b->min_rtt, 20 * MS);
    /* The window grows by what each ACK delivers until it reaches the target: at most one ACK's
     * segment past it. */
    uint64_t target = 2885 * bdp(c) / 1000 + extra + 3 * c->mss;
    ck_assert_msg(cwnd >= target && cwnd < target + c->mss,
                  "STARTUP's window %u, 2.885 BDPs + %u + 3 segments: %llu", cwnd, extra,
                  (unsigned long long)target);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
    tf_free(&f);
}
END_TEST

/* BBR draft 4.2.3.5 (Linux's extra_acked): when ACKs come in bursts, a burst delivers more than
 * BtlBw would in the time since the last, and a window of two BDPs would leave the sender idle
 * until the next; the excess is added to the window. The same 1 MB/s bottleneck, ACKed each
 * millisecond or in bursts every 10 ms: the same model (BtlBw, RTprop), but the bursts' window is
 * larger by about the 10 segments a burst ACKs. */
START_TEST(test_ack_aggregation_adds_the_bursts_excess_to_probe_bws_window)
{
    uint32_t cwnd[2], extra[2];
    const ts_time_t batch[2] = {0, 10 * MS};
    for (int i = 0; i < 2; i++) {
        struct tf f;
        struct link l;
        link_open(&f, &l, batch[i]);
        const struct ts_tcp_conn *c = f.conn;
        const struct tcp_bbr *b = &c->cc.bbr;
        for (int ms = 0; ms < 1000; ms++) /* 50 round trips: STARTUP's excess has aged out */
            link_step(&f, &l);
        ck_assert_uint_eq(b->mode, TCP_BBR_PROBE_BW);
        ck_assert_uint_eq(max_bw(c), 1000000);
        ck_assert_uint_eq(b->min_rtt, 20 * MS);
        cwnd[i] = c->cc.cwnd;
        extra[i] = extra_acked(c);
        ck_assert_uint_eq(cwnd[i], probe_bw_window(c));
        ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RETRANSMIT), 0);
        tf_free(&f);
    }
    /* ACKed each millisecond, one segment at a time: at most that one is in excess. */
    ck_assert_uint_le(extra[0], 1000);
    ck_assert_uint_le(cwnd[0], 2 * 20000 + 1000 + 3 * 1000);
    /* In bursts: nearly the 10 000 bytes of a burst, on top of the same two BDPs. */
    ck_assert_msg(extra[1] >= 9000 && extra[1] <= 10000, "allowance %u", extra[1]);
    ck_assert_uint_ge(cwnd[1], 2 * 20000 + 9000 + 3 * 1000);
    ck_assert_uint_ge(cwnd[1] - cwnd[0], 8000);

    /* The allowance is bounded: at most 100 ms of BtlBw (Linux's bbr_extra_acked_max_us), or a
     * peer that holds its ACKs long would buy an unbounded window. One ACK per 200 ms round trip
     * delivers a whole window of 65 000 bytes; the allowance is 100 ms of 325 000 bytes/s. */
    struct tf f;
    setup_cc(&f, TS_CC_BBR, 200 * MS);
    const struct ts_tcp_conn *c = f.conn;
    for (int i = 0; i < 12; i++)
        tf_round(&f, sizeof g_buf, 200 * MS);
    ck_assert_uint_eq(c->cc.bbr.mode, TCP_BBR_PROBE_BW);
    ck_assert_uint_eq(max_bw(c), 325000);
    ck_assert_uint_eq(extra_acked(c), 32500);
    ck_assert_uint_eq(c->cc.cwnd, 2 * 65000 + 32500 + 3 * 1000);
    tf_free(&f);
}
END_TEST

static Suite *tcp_bbr_suite(void)
{
    Suite *s = suite_create("tcp_bbr");
    TCase *tc = tcase_create("bbr");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rate_sample_is_delivered_over_the_longer_of_send_and_ack_intervals);
    tcase_add_test(tc, test_a_loss_halves_newreno_but_does_not_reduce_bbrs_window);
    tcase_add_test(tc, test_startup_fills_the_pipe_then_probe_bw_keeps_the_models_window);
    tcase_add_test(tc, test_bbr_moves_two_megabytes_through_random_loss_much_sooner_than_newreno);
    tcase_add_test(tc,
                   test_probe_rtt_after_ten_seconds_holds_four_segments_then_restores_the_window);
    tcase_add_test(tc, test_app_limited_samples_do_not_lower_the_bandwidth_estimate);
    tcase_add_test(tc, test_after_a_timeout_the_window_doubles_back_to_the_models_not_linearly);
    tcase_add_test(tc, test_startup_grows_the_window_to_high_gain_bdps_before_draining);
    tcase_add_test(tc, test_ack_aggregation_adds_the_bursts_excess_to_probe_bws_window);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_bbr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
