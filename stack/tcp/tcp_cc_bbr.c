/* BBR congestion control (draft-cardwell-iccrg-bbr-congestion-control-00, BBR v1 as Linux's
 * tcp_bbr runs it by default), selected by ts_config.tcp_cc = TS_CC_BBR.
 *
 * Loss-based algorithms (NewReno, CUBIC) read every loss as congestion and halve their window;
 * at a few percent of random loss they spend most of the time at a window of a few segments.
 * BBR instead models the path: BtlBw, the best delivery rate of the last ten round trips
 * (tcp_rate.c's samples), and RTprop, the least round trip of the last ten seconds, and keeps
 * about two bandwidth-delay products in flight whatever is lost. Its states:
 *   STARTUP    cwnd grows by what each ACK delivers until the bandwidth stops growing by 25%
 *              for three rounds (the pipe is full);
 *   DRAIN      cwnd one BDP until the flight is down to one BDP (the queue STARTUP built);
 *   PROBE_BW   cwnd two BDPs, plus what ACK aggregation needs (draft 4.2.3.5 / Linux's
 *              extra_acked: the host answers a tap in batches);
 *   PROBE_RTT  every ten seconds without a lower round trip, four segments for 200 ms and a
 *              round, so that the queue drains and RTprop can be measured again.
 * What differs from the draft: tapstack has no pacing timer (the runtime wakes every
 * millisecond, far coarser than a segment's time at these rates), so BBR here is window-limited
 * only. Its PROBE_BW therefore has no gain cycle: a flight of two BDPs is itself the probe (a
 * path with more room answers it with a higher rate, which raises the BDP). In loss recovery
 * PRR (tcp_recovery.c) sets cwnd as for any algorithm, towards an ssthresh that is this model's
 * window, so a loss costs no reduction: the draft's packet conservation, then growth back. */
#include "tcp_internal.h"

#define BBR_HIGH_GAIN_X1000  2885 /* 2/ln(2): STARTUP doubles the rate every round */
#define BBR_CWND_GAIN_X1000  2000
#define BBR_FULL_BW_ROUNDS   3
#define BBR_MIN_RTT_WIN      (10 * TS_SEC)
#define BBR_PROBE_RTT_TIME   (200 * TS_MS)
#define BBR_MIN_CWND_SEGS    4u
#define BBR_EXTRA_ACKED_WIN  5u            /* rounds per aggregation window (Linux: 5) */
#define BBR_EXTRA_ACKED_MAXT (100 * TS_MS) /* the aggregation allowance covers at most this */

/* a * b / d without overflow (saturating): rates times times. A hostile peer chooses the times
 * (an ACK held for minutes), so products of a rate and a time must not wrap. */
static uint64_t bbr_muldiv(uint64_t a, uint64_t b, uint64_t d)
{
    unsigned __int128 p = (unsigned __int128)a * b / d;
    return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

static void tcp_bbr_init(struct ts_tcp_conn *c)
{
    tcp_reno_init(c);
    c->cc.bbr = (struct tcp_bbr){.mode = TCP_BBR_STARTUP};
    c->cc.bbr.next_round_delivered = c->rate.delivered;
}

static uint64_t bbr_max_bw(const struct tcp_bbr *b)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < TCP_BBR_BW_ROUNDS; i++)
        if (b->bw[i] > m)
            m = b->bw[i];
    return m;
}

/* Draft 4.1.1.3: a round trip ends when the record that left at its start is delivered. */
static void bbr_update_round(struct ts_tcp_conn *c)
{
    struct tcp_bbr *b = &c->cc.bbr;
    const struct tcp_rate_sample *rs = &c->rate.rs;
    b->round_start = false;
    if (!rs->has_prior || rs->prior_delivered < b->next_round_delivered)
        return;
    b->next_round_delivered = c->rate.delivered;
    b->round_count++;
    b->round_start = true;
}

/* Draft 4.1.1.5: BtlBw takes a sample unless the application limited it below the estimate.
 * The rounds age out only when a sample goes in (as a windowed max filter does): a quiet,
 * application-limited spell keeps the estimate instead of letting a trickle replace it. */
static void bbr_update_bw(struct ts_tcp_conn *c, bool valid)
{
    struct tcp_bbr *b = &c->cc.bbr;
    const struct tcp_rate_sample *rs = &c->rate.rs;
    if (!valid)
        return;
    uint64_t bw = bbr_muldiv(rs->delivered, TS_SEC, rs->interval);
    if (rs->app_limited && bw < bbr_max_bw(b))
        return;
    uint32_t gone = b->round_count - b->bw_round;
    for (uint32_t i = 1; i <= gone && i <= TCP_BBR_BW_ROUNDS; i++)
        b->bw[(b->bw_round + i) % TCP_BBR_BW_ROUNDS] = 0; /* rounds that left the window */
    b->bw_round = b->round_count;
    uint64_t *slot = &b->bw[b->round_count % TCP_BBR_BW_ROUNDS];
    if (bw > *slot)
        *slot = bw;
}

/* Draft 4.1.2.3: RTprop, the least round trip seen in ten seconds; its expiry calls for
 * PROBE_RTT. */
static bool bbr_update_min_rtt(struct ts_tcp_conn *c, ts_time_t now)
{
    struct tcp_bbr *b = &c->cc.bbr;
    ts_time_t rtt = c->rate.rs.rtt;
    bool expired = b->min_rtt && now > b->min_rtt_stamp + BBR_MIN_RTT_WIN;
    if (rtt > 0 && (b->min_rtt == 0 || rtt <= b->min_rtt || expired)) {
        b->min_rtt = rtt;
        b->min_rtt_stamp = now;
    }
    return expired;
}

/* The window for gain (x1000) BDPs, with the aggregation allowance; 0 while there is no model. */
static uint32_t bbr_target(const struct ts_tcp_conn *c, uint32_t gain)
{
    const struct tcp_bbr *b = &c->cc.bbr;
    uint64_t bw = bbr_max_bw(b);
    if (!bw || !b->min_rtt)
        return 0;
    uint64_t bdp = bbr_muldiv(bw, b->min_rtt, TS_SEC);
    uint64_t w = bbr_muldiv(bdp, gain, 1000);
    if (w > (1u << 30))
        w = 1u << 30; /* (the additions below cannot wrap) */
    w += b->extra_acked[0] > b->extra_acked[1] ? b->extra_acked[0] : b->extra_acked[1];
    /* Linux's bbr_quantization_budget: room for three of the segments we send (a super-segment
     * when the link cuts them), so that the window never stops a whole one. */
    w += 3u * (c->snd.seg_max > c->mss ? c->snd.seg_max : c->mss);
    uint64_t floor = (uint64_t)BBR_MIN_CWND_SEGS * c->mss;
    if (w < floor)
        w = floor;
    return w > (1u << 30) ? (1u << 30) : (uint32_t)w;
}

/* Draft 4.2.3.5 (Linux's bbr_update_ack_aggregation): ACKs that arrive faster than BtlBw
 * deliver more than the model expects; the most excess in a window of rounds is added to the
 * window, so that the sender is not idle between the batches. */
static void bbr_update_ack_aggregation(struct ts_tcp_conn *c, ts_time_t now)
{
    struct tcp_bbr *b = &c->cc.bbr;
    uint32_t acked = c->rate.rs.acked;
    uint64_t bw = bbr_max_bw(b);
    if (!acked || !bw)
        return;
    if (b->round_start && ++b->extra_acked_rounds >= BBR_EXTRA_ACKED_WIN) {
        b->extra_acked_rounds = 0;
        b->extra_acked_idx ^= 1;
        b->extra_acked[b->extra_acked_idx] = 0;
    }
    uint64_t expected = bbr_muldiv(bw, now - b->ack_epoch_start, TS_SEC);
    if (b->ack_epoch_start == 0 || b->ack_epoch_acked <= expected) {
        b->ack_epoch_start = now; /* the ACKs came no faster than the model: a new epoch */
        b->ack_epoch_acked = 0;
        expected = 0;
    }
    b->ack_epoch_acked += acked;
    uint64_t extra = b->ack_epoch_acked - expected;
    uint64_t cap = bbr_muldiv(bw, BBR_EXTRA_ACKED_MAXT, TS_SEC);
    if (extra > cap)
        extra = cap;
    if (extra > c->cc.cwnd)
        extra = c->cc.cwnd;
    if (extra > b->extra_acked[b->extra_acked_idx])
        b->extra_acked[b->extra_acked_idx] = (uint32_t)extra;
}

/* Draft 4.3.2.2: the pipe is full once three rounds in a row grew the bandwidth by under 25%. */
static void bbr_check_full_pipe(struct ts_tcp_conn *c)
{
    struct tcp_bbr *b = &c->cc.bbr;
    if (b->filled_pipe || !b->round_start || c->rate.rs.app_limited)
        return;
    uint64_t bw = bbr_max_bw(b);
    if (bw / 5 >= b->full_bw / 4) { /* (grew by 25%: divided, so that it cannot wrap) */
        b->full_bw = bw;
        b->full_bw_cnt = 0;
        return;
    }
    if (++b->full_bw_cnt >= BBR_FULL_BW_ROUNDS)
        b->filled_pipe = true;
}

/* Draft 4.3.2-4.3.4: STARTUP -> DRAIN -> PROBE_BW, and PROBE_RTT's entry and exit. */
static void bbr_update_mode(struct ts_tcp_conn *c, bool rtt_expired, ts_time_t now)
{
    struct tcp_bbr *b = &c->cc.bbr;
    if (b->mode == TCP_BBR_STARTUP && b->filled_pipe)
        b->mode = TCP_BBR_DRAIN;
    if (b->mode == TCP_BBR_DRAIN && tcp_flight(c) <= bbr_target(c, 1000))
        b->mode = TCP_BBR_PROBE_BW;
    /* An application-limited flight builds no queue: its round trips already measure RTprop
     * (the draft's idle-restart exception, widened to every application-limited sample). */
    if (rtt_expired && b->mode != TCP_BBR_PROBE_RTT && !c->rate.rs.app_limited) {
        b->mode = TCP_BBR_PROBE_RTT;
        b->prior_cwnd = c->cc.cwnd;
        b->probe_rtt_done = 0;
    }
    if (b->mode != TCP_BBR_PROBE_RTT)
        return;
    if (b->probe_rtt_done == 0 && tcp_flight(c) <= BBR_MIN_CWND_SEGS * c->mss) {
        b->probe_rtt_done = now + BBR_PROBE_RTT_TIME;
        b->next_round_delivered = c->rate.delivered; /* and one round trip at the small flight */
    } else if (b->probe_rtt_done && now >= b->probe_rtt_done && b->round_start) {
        b->min_rtt_stamp = now;
        b->mode = b->filled_pipe ? TCP_BBR_PROBE_BW : TCP_BBR_STARTUP;
        if (c->cc.cwnd < b->prior_cwnd)
            c->cc.cwnd = b->prior_cwnd;
    }
}

/* Draft 4.2.3.6: the window follows the model, by at most what this ACK delivered per step up
 * (so a burst cannot follow a jump of the estimate), outside loss recovery (PRR's there). */
static void bbr_set_cwnd(struct ts_tcp_conn *c)
{
    struct tcp_bbr *b = &c->cc.bbr;
    uint32_t acked = c->rate.rs.acked, floor = BBR_MIN_CWND_SEGS * c->mss;
    if (b->mode == TCP_BBR_PROBE_RTT) {
        c->cc.cwnd = c->cc.cwnd < floor ? c->cc.cwnd : floor;
        return;
    }
    uint32_t gain = b->mode == TCP_BBR_STARTUP ? BBR_HIGH_GAIN_X1000
                    : b->mode == TCP_BBR_DRAIN ? 1000
                                               : BBR_CWND_GAIN_X1000;
    uint32_t target = bbr_target(c, gain);
    uint64_t w = (uint64_t)c->cc.cwnd + acked;
    if (target && b->filled_pipe && w > target)
        w = target;
    else if (target && !b->filled_pipe && c->cc.cwnd >= target)
        w = c->cc.cwnd; /* STARTUP grows only up to its gain's window */
    if (w < floor)
        w = floor;
    c->cc.cwnd = w > (1u << 30) ? (1u << 30) : (uint32_t)w;
}

static void tcp_bbr_on_sample(struct ts_tcp_conn *c, ts_time_t now)
{
    struct tcp_bbr *b = &c->cc.bbr;
    bool valid = tcp_rate_sample(c, b->min_rtt);
    bbr_update_round(c);
    bbr_update_bw(c, valid);
    bbr_update_ack_aggregation(c, now);
    bbr_check_full_pipe(c);
    bool expired = bbr_update_min_rtt(c, now);
    bbr_update_mode(c, expired, now);
    if (!c->cc.in_recovery && c->rate.rs.acked)
        bbr_set_cwnd(c);
}

/* Growth is bbr_set_cwnd's, on every ACK. */
static void tcp_bbr_cong_avoid(struct ts_tcp_conn *c, uint32_t acked, ts_time_t now)
{
    (void)c, (void)acked, (void)now;
}

/* A loss is not taken as congestion: recovery (PRR) and a timeout's regrowth aim at the model's
 * window, or at the window in use while the model is still empty. */
static uint32_t tcp_bbr_ssthresh(struct ts_tcp_conn *c)
{
    uint32_t t = bbr_target(c, BBR_CWND_GAIN_X1000);
    if (t < c->cc.cwnd)
        t = c->cc.cwnd;
    return t > 2u * c->mss ? t : 2u * c->mss;
}

const struct tcp_cc_ops tcp_cc_bbr = {
    .name = "bbr",
    .init = tcp_bbr_init,
    .cong_avoid = tcp_bbr_cong_avoid,
    .ssthresh = tcp_bbr_ssthresh,
    .on_sample = tcp_bbr_on_sample,
};

void tcp_bbr_get_model(const struct ts_tcp_conn *c, uint64_t *bw, ts_time_t *min_rtt,
                       const char **mode)
{
    static const char *const names[] = {"STARTUP", "DRAIN", "PROBE_BW", "PROBE_RTT"};
    const struct tcp_bbr *b = &c->cc.bbr;
    *bw = bbr_max_bw(b);
    *min_rtt = b->min_rtt;
    *mode = b->mode < sizeof names / sizeof names[0] ? names[b->mode] : "?";
}
