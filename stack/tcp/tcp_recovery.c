/* Loss recovery over the per-segment retransmission queue of tcp_sack.c:
 *  - RACK (RFC 8985 6): a segment is lost when one sent after it was delivered and it is still
 *    missing a round trip and a reordering window after it left. The window is min_RTT/4 (0 in
 *    recovery or with DupThresh SACKed segments, until reordering is seen), widened on D-SACKs.
 *  - RFC 6675 IsLost (DupThresh SACKed above) marks alongside it (tcp_sack_mark_lost).
 *  - TLP (RFC 8985 7): after PTO = 2*SRTT of silence, the last segment (with its FIN) again, so
 *    that SACK recovery rather than a timeout repairs a lost tail; never while the peer's window,
 *    not the network, holds the flight (a slow reader's ACKs are late, not lost), and one probe
 *    per flight. In recovery, the same timer probes a recovery that went silent.
 *  - PRR (RFC 6937, with Linux's choices): how much recovery sends per ACK, as cwnd = pipe +
 *    sndcnt, so the retransmissions and new data of tcp_sack_recover and tcp_output follow it.
 *  - Undo (RFC 3708 with RFC 2883 D-SACKs, as Linux's undo): when every retransmission of an
 *    episode is reported duplicate, the loss was not one: cwnd and ssthresh are restored. */
#include "tcp_internal.h"

#define DUP_THRESH           3u
#define TLP_MIN              (2 * TS_MS) /* Linux: 2 jiffies (2 ms at HZ 1000) */
#define TLP_MIN_LOSSY        (100 * TS_US)
#define RECOVERY_PROBES      6u /* silent-recovery probes before leaving it to the RTO */
#define RACK_TIMER_SLACK     (1 * TS_MS)
#define RACK_TIMER_SLACK_MIN (50 * TS_US)
#define RACK_REO_WND_MIN     (50 * TS_US) /* see rack_reo_wnd */
#define TLP_MAX_PROBES       5u           /* probes of one flight while nothing at all comes back */
#define TLP_PATIENCE_MAX     4u /* the PTO x16 at most after needless probes (tcp_tlp_dsack) */

/* RFC 8985 6.2 RACK_sent_after: by the order of transmission, which the send times follow; the
 * RFC breaks ties of equal times by sequence number, which misorders a retransmission sent on the
 * same clock tick as the originals above it. */
static bool rack_sent_after(uint32_t order1, uint32_t order2)
{
    return (int32_t)(order1 - order2) > 0;
}

void tcp_rack_delivered(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_txseg *r,
                        const struct tcp_hdr *seg)
{
    /* RFC 8985 6.2 step 3: delivered below what was delivered before, never retransmitted:
     * the network reordered it. */
    if (c->rack.fack_valid && !(r->flags & TCP_TXS_EVER) && seq_lt(r->end, c->rack.fack))
        c->rack.reordering_seen = true;
    if (!c->rack.fack_valid || seq_gt(r->end, c->rack.fack)) {
        c->rack.fack = r->end;
        c->rack.fack_valid = true;
    }
    ts_time_t rtt = s->now - r->xmit;
    /* The loss probe's own delivery is not ambiguous for RACK's purpose: nothing was sent
     * between the original it copies and the probe, so either copy dates what lies below it
     * (RFC 8985 7.4: the probe got through, what is missing below it was lost). */
    bool probe = c->tlp_out && r->end == c->tlp_high;
    if ((r->flags & TCP_TXS_EVER) && !probe) {
        /* Step 2: ambiguous if the ACK may be the original's: an RTT under the minimum, or an
         * echoed timestamp older than the retransmission. */
        if (rtt < c->rack.min_rtt)
            return;
        if (c->ts_ok && seg->opts.ts_ok && seq_lt(seg->opts.tsecr, tcp_ts_now(c, r->xmit)))
            return;
    }
    if (!(r->flags & TCP_TXS_EVER) && (c->rack.min_rtt == 0 || rtt < c->rack.min_rtt))
        c->rack.min_rtt = rtt > 0 ? rtt : 1; /* (a probe's copy may be answered early) */
    if (c->rack.xmit == 0 || rack_sent_after(r->order, c->rack.order)) {
        c->rack.xmit = r->xmit;
        c->rack.order = r->order;
        c->rack.rtt = rtt;
    }
}

/* RFC 8985 6.2 step 4: the reordering window, RACK.reo_wnd_mult * RACK.min_RTT / 4, at most
 * SRTT. Once the path has reordered, at least RACK_REO_WND_MIN: the stack's clock moves once
 * per step, and the host answers a tap write at once, so a round trip that ends in the step it
 * began in reads as 0 and min_RTT as 1 us. The window was then 0 whatever the multiplier, and
 * a SACK read in the same batch as the ACK that fills the hole below it marked the hole lost
 * before that ACK was looked at: with --reorder 0.05, ~3 100 retransmissions per 100 MiB, every
 * one of data the host had already ACKed on the wire. */
static ts_time_t rack_reo_wnd(const struct ts_tcp_conn *c)
{
    if (!c->rack.reordering_seen && (c->cc.in_recovery || c->txq.sacked_segs >= DUP_THRESH))
        return 0;
    ts_time_t w = c->rack.min_rtt * (c->rack.reo_wnd_mult ? c->rack.reo_wnd_mult : 1) / 4;
    if (c->rack.reordering_seen && w < RACK_REO_WND_MIN)
        w = RACK_REO_WND_MIN;
    return c->rtt.valid && w > c->rtt.srtt ? c->rtt.srtt : w;
}

/* The slack added to the reordering timer: Linux's timer tick (1-2 ms) where round trips are
 * milliseconds, but no more than half a smoothed round trip: at the tap's ~0.1 ms round
 * trips a millisecond of slack was ten round trips of silence, each time a lone SACK above a
 * hole was all that came back (measured at 10% loss: most of the 1-2 ms gaps on the link). */
static ts_time_t rack_timer_slack(const struct ts_tcp_conn *c)
{
    ts_time_t half = c->rtt.valid ? c->rtt.srtt / 2 : RACK_TIMER_SLACK;
    if (half < RACK_TIMER_SLACK_MIN)
        half = RACK_TIMER_SLACK_MIN;
    return half < RACK_TIMER_SLACK ? half : RACK_TIMER_SLACK;
}

unsigned tcp_rack_detect(struct ts_stack *s, struct ts_tcp_conn *c)
{
    c->timers.reo = TS_TIME_NEVER;
    if (c->rack.xmit == 0)
        return 0;
    ts_time_t reo = rack_reo_wnd(c), wait = 0;
    unsigned marked = 0;
    for (uint32_t i = 0; i < c->txq.len; i++) {
        struct tcp_txseg *r = tcp_txq_at(c, i);
        if ((r->flags & (TCP_TXS_SACKED | TCP_TXS_LOST)) ||
            !rack_sent_after(c->rack.order, r->order))
            continue;
        /* Step 5: lost once an RTT and the window passed since it left. */
        ts_time_t due = r->xmit + c->rack.rtt + reo;
        if (due <= s->now) {
            r->flags = (uint8_t)((r->flags & ~TCP_TXS_RETRANS) | TCP_TXS_LOST);
            marked++;
        } else if (due - s->now > wait) {
            wait = due - s->now;
        }
    }
    /* RFC 8985 6.3: look again then, with Linux's slack of a timer tick (TCP_TIMEOUT_MIN): a
     * window of microseconds would otherwise expire before the ACKs already on their way are
     * read. */
    if (wait)
        c->timers.reo = s->now + wait + rack_timer_slack(c);
    if (marked)
        s->counters[TS_C_TCP_RACK_LOST] += marked;
    return marked;
}

static void tcp_undo(struct ts_stack *s, struct ts_tcp_conn *c)
{
    ts_count(s, TS_C_TCP_SPURIOUS_UNDO);
    if (c->cc.cwnd < c->undo.prior_cwnd)
        c->cc.cwnd = c->undo.prior_cwnd;
    if (c->cc.ssthresh < c->undo.prior_ssthresh)
        c->cc.ssthresh = c->undo.prior_ssthresh;
    c->undo.armed = false;
    c->cc.in_recovery = false;
    c->cc.dupacks = 0;
    c->cc.recover = c->snd.una; /* a later loss starts a recovery of its own */
    tcp_sack_unmark(c);
}

/* A D-SACK for the last segment of a tail loss probe sent outside recovery: the probe was not
 * needed, the receiver's ACK was only late (a slow reader's receiver holds its ACK while its
 * buffer fills: measured against curl --limit-rate, 10-40 ms after a 1 MiB burst). Wait longer
 * before the next probe (RFC 8985 leaves the PTO's margin to the sender; it adapts the
 * reordering window to D-SACKs the same way, 6.2 step 4). */
static void tcp_tlp_dsack(struct ts_tcp_conn *c, uint32_t r)
{
    if (c->tlp_probes == 0 || r != c->tlp_high || c->tlp_dsacked == c->tlp_high ||
        c->cc.in_recovery)
        return;
    c->tlp_dsacked = c->tlp_high;
    if (c->tlp_patience < TLP_PATIENCE_MAX)
        c->tlp_patience++;
}

void tcp_rack_dsack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t l, uint32_t r)
{
    ts_count(s, TS_C_TCP_DSACK_RX);
    tcp_tlp_dsack(c, r);
    /* RFC 8985 6.2 step 4: one widening of the reordering window per round trip with D-SACKs;
     * it is kept for 16 recoveries. */
    if (c->rack.dsack_round_on && seq_geq(c->snd.una, c->rack.dsack_round))
        c->rack.dsack_round_on = false;
    if (!c->rack.dsack_round_on) {
        c->rack.dsack_round_on = true;
        c->rack.dsack_round = c->snd.max;
        if (c->rack.reo_wnd_mult < 64)
            c->rack.reo_wnd_mult++;
        c->rack.reo_wnd_persist = 16;
    }
    /* RFC 3708 / Linux: a duplicate of data retransmitted in the episode: one retransmission
     * fewer was needed. None left: the episode was spurious. */
    if (!c->undo.armed || seq_lt(l, c->undo.marker))
        return;
    uint32_t segs = (r - l + c->mss - 1) / c->mss;
    c->undo.retrans -= (int)segs;
    if (c->undo.retrans <= 0)
        tcp_undo(s, c);
}

void tcp_undo_arm(struct ts_tcp_conn *c)
{
    c->undo.armed = true;
    c->undo.marker = c->snd.una;
    c->undo.retrans = 0;
    c->undo.prior_cwnd = c->cc.cwnd;
    c->undo.prior_ssthresh = c->cc.ssthresh;
}

void tcp_undo_count_retrans(struct ts_tcp_conn *c)
{
    if (c->undo.armed)
        c->undo.retrans++;
}

void tcp_prr_init(struct ts_tcp_conn *c)
{
    c->prr.delivered = 0;
    c->prr.out = 0;
    c->prr.recover_fs = c->snd.max - c->snd.una; /* RFC 6937: RecoverFS = snd.nxt - snd.una */
    if (c->prr.recover_fs == 0)
        c->prr.recover_fs = 1;
}

/* RFC 6937 3: sndcnt for this ACK, as cwnd = pipe + sndcnt (rounded up to whole segments, as
 * Linux counts in segments). */
static void tcp_prr_update(struct ts_tcp_conn *c, uint32_t delivered, bool una_moved, bool lost)
{
    c->prr.delivered += delivered;
    uint32_t pipe = tcp_sack_pipe(c), ss = c->cc.ssthresh, mss = c->mss;
    int64_t snd;
    if (pipe > ss) {
        /* Proportional: ssthresh/RecoverFS of what was delivered, less what was sent. */
        uint64_t fs = c->prr.recover_fs;
        snd = (int64_t)(((uint64_t)c->prr.delivered * ss + fs - 1) / fs) - (int64_t)c->prr.out;
    } else {
        /* Slow-start reduction bound: what was delivered, plus a segment when snd.una moved and
         * nothing new was lost (Linux's refinement of PRR-SSRB), up to ssthresh. */
        int64_t lim = (int64_t)c->prr.delivered - (int64_t)c->prr.out;
        if (lim < (int64_t)delivered)
            lim = delivered;
        if (una_moved && !lost)
            lim += mss;
        snd = (int64_t)(ss - pipe) < lim ? (int64_t)(ss - pipe) : lim;
    }
    if (snd < 0)
        snd = 0;
    if (c->prr.out == 0 && snd < mss)
        snd = mss; /* the fast retransmit goes out on entry whatever the quota */
    uint32_t segs = (uint32_t)((snd + mss - 1) / mss);
    c->cc.cwnd = pipe + segs * mss;
}

void tcp_recovery_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t delivered,
                         bool una_moved)
{
    /* Nothing SACKed, nothing retransmitted, not in recovery: every record left was sent after
     * what was just delivered, so neither rule can find a loss (and an ACK of a large flight
     * does not walk the queue). */
    if (!c->sack_ok || c->txq.len == 0 ||
        (!c->txq.sacked_segs && !c->txq.rxt_segs && !c->cc.in_recovery)) {
        c->timers.reo = TS_TIME_NEVER;
        return;
    }
    if (delivered)
        c->una_rxt_count = 0; /* progress: the silent-recovery probes start again */
    unsigned lost = 0;
    if (c->txq.sacked_segs) {
        lost = tcp_sack_mark_lost(c); /* RFC 6675 IsLost first, then RACK's time rule */
        s->counters[TS_C_TCP_DUPTHRESH_LOST] += lost;
    }
    lost += tcp_rack_detect(s, c);
    if (!c->cc.in_recovery) {
        if (!tcp_sack_lost(c))
            return;
        if (seq_lt(c->snd.una, c->cc.recover)) {
            /* After a timeout (RFC 6582 4: no second reduction for what was sent before it):
             * what is found lost goes out again within cwnd - pipe. */
            tcp_sack_recover(s, c);
            return;
        }
        tcp_cc_enter_recovery(s, c, true);
    } else if (!c->prr.recover_fs) {
        return; /* NewReno's recovery (entered on duplicate ACKs without SACK blocks) */
    }
    tcp_prr_update(c, delivered, una_moved, lost > 0);
    tcp_sack_recover(s, c);
    tcp_tlp_arm(c, s->now);
}

/* RFC 5682 3.1 step 2, the first ACK after the timeout's retransmission: if it moves snd.una
 * but not to the RecoveryPoint, up to two segments of new data go instead of the next
 * retransmissions (step 2b); otherwise, or with no new data to send, the conventional recovery
 * goes on (step 2a). */
static bool tcp_frto_step2(struct ts_stack *s, struct ts_tcp_conn *c, bool una_moved)
{
    if (!una_moved || seq_geq(c->snd.una, c->cc.recover) || !tcp_output_new_data(s, c, 2)) {
        c->frto = 0;
        return false;
    }
    c->frto = 2;
    return true;
}

/* RFC 5682 3.1 step 3, the next ACK: one that acknowledges more (data sent once, before the
 * timeout) shows the timeout spurious, and the congestion response is undone, as Linux's F-RTO
 * does; a duplicate ACK (the new data SACKed, the old still missing) shows the loss real, and
 * the retransmissions start again from snd.una. */
static void tcp_frto_step3(struct ts_stack *s, struct ts_tcp_conn *c, bool una_moved)
{
    c->frto = 0;
    if (una_moved) {
        ts_count(s, TS_C_TCP_FRTO_SPURIOUS);
        c->cc.cwnd_acc = 0;
        tcp_undo(s, c);
        /* The ACK taken for the retransmission's was the original's: RACK must not date what
         * was sent before the retransmission by it (RFC 8985 6.2 step 2), or it finds all of
         * that lost. The next delivery sets RACK afresh. */
        c->rack.xmit = 0;
        return;
    }
    c->snd.nxt = c->snd.una; /* go-back-N, skipping what is SACKed (tcp_output) */
    c->cc.dupacks = 0;       /* F-RTO's answer, not a count towards limited transmit */
}

bool tcp_frto_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, bool una_moved, bool dup)
{
    if (c->frto == 1)
        return tcp_frto_step2(s, c, una_moved);
    if (!una_moved && !dup)
        return true; /* a window update: not an answer either way (step 3 waits) */
    tcp_frto_step3(s, c, una_moved);
    return false;
}

void tcp_rack_timeout(struct ts_stack *s, struct ts_tcp_conn *c)
{
    c->timers.reo = TS_TIME_NEVER;
    if (!c->txq.len)
        return;
    tcp_recovery_on_ack(s, c, 0, false);
    tcp_output(s, c);
}

/* Has this connection met loss (a recovery or a timeout set ssthresh)? Until then, silence is
 * most often a receiver that answers late (a slow reader), not loss. */
static bool tcp_met_loss(const struct ts_tcp_conn *c)
{
    return c->cc.in_recovery || c->cc.ssthresh < UINT32_MAX / 2;
}

/* RFC 8985 7.2: may a probe be scheduled for the flight now out? */
static bool tcp_tlp_allowed(const struct ts_tcp_conn *c)
{
    switch (c->state) {
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
    case TS_TCP_FIN_WAIT1: /* the probe carries our FIN, as Linux's does */
    case TS_TCP_CLOSING:
    case TS_TCP_LAST_ACK:
        break;
    default:
        return false;
    }
    if (!c->sack_ok || !c->rtt.valid || c->retries > 0 || c->timers.persist != TS_TIME_NEVER ||
        !seq_gt(c->snd.max, c->snd.una))
        return false;
    if (c->cc.in_recovery)
        return c->una_rxt_count < RECOVERY_PROBES;
    if (c->tlp_out) {
        /* RFC 8985 7.2 sends one probe per flight; here, while nothing at all came back since
         * the last one (not an ACK, not a SACK), up to TLP_MAX_PROBES (while the RTO is further),
         * each after twice the previous PTO: the probe or its answer was lost too. A receiver that
         * coalesces a burst (GRO) ACKs it once, so a small flight often has a single ACK to lose,
         * and then its probe's answer too: measured at 10% loss each way, that one-in-a-hundred
         * flight cost a 200-400 ms RTO every few hundred milliseconds. An ACK that moves snd.una
         * ends it (a slow reader whose ACKs keep coming gets no repeated probes), so does one whose
         * SACKs let RACK find what is lost; SACKs that reveal nothing leave the flight as silent as
         * before. */
        bool silent = c->last_rx < c->tlp_sent || (c->snd.una == c->tlp_una && !tcp_sack_lost(c) &&
                                                   c->timers.reo == TS_TIME_NEVER);
        /* Before any loss, RFC 8985's one probe per flight: a slow reader's receiver, which
         * holds its ACKs while its buffer fills, was probed 3-5 times per 1 MiB flight. */
        return tcp_met_loss(c) && c->tlp_probes < TLP_MAX_PROBES && silent;
    }
    /* The flight reaches within a quarter of the largest window the peer offered of the right
     * edge of its window: the receiver's window, not the network, holds us. A slow reader's
     * ACKs come as it reads, late but not lost (measured against `curl --limit-rate 10M`: 3 to
     * 40 ms of silence with 500 KB in flight, and 129 duplicate probes in 4 s before this rule).
     * The RTO still watches such a flight. */
    uint32_t edge = c->snd.una + c->snd.wnd;
    uint32_t room = seq_gt(edge, c->snd.max) ? edge - c->snd.max : 0;
    if (room < c->snd.max_wnd / 4)
        return false;
    return true;
}

/* The PTO's floor beyond 2*SRTT. Linux's 2 ms (a timer tick) until the connection has met
 * loss: a receiver that reads slowly answers late, not never, and 2 ms keeps it from being
 * probed for nothing (tests/integration/test_slow_reader.sh). Once loss has been seen here
 * (ssthresh was set: a recovery or a timeout) silence is most often loss again, and at the tap's
 * ~0.1 ms round trips 2 ms of it per probe were half of a transfer at 10% loss: then 0.1 ms,
 * about a round trip past 2*SRTT (RFC 8985 7.2 asks only PTO = 2*SRTT). Measured, 10 MiB at
 * 10% loss: 0.85 s with 2 ms, 0.35-0.43 s with 0.5 ms, 0.23-0.31 s with 0.25 ms, 0.18-0.23 s
 * with 0.1 ms (at 1% and with 5% reordering: no more retransmissions). */
static ts_time_t tlp_floor(const struct ts_tcp_conn *c)
{
    return tcp_met_loss(c) ? TLP_MIN_LOSSY : TLP_MIN;
}

void tcp_tlp_arm(struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.tlp = TS_TIME_NEVER;
    if (!tcp_tlp_allowed(c))
        return;
    /* RFC 8985 7.2: PTO = 2*SRTT (plus Linux's 2 ms floor); a single segment in flight may wait
     * for the receiver's delayed ACK: WCDelAckT more. At most the RTO. */
    /* The flight must also leave through the link: a large one is written in one burst while
     * the core's clock stands at the burst's start (it is given the time once per wake-up), and
     * its ACKs queue behind it; its time at ~4 Gbit/s is added (2 ms for the 1 MiB send buffer,
     * microseconds for a few segments). Measured against a slow reader: 3-4 ms of silence after
     * a 1 MiB burst at the start, where SRTT said 0.2 ms. */
    ts_time_t pto = 2 * c->rtt.srtt + tlp_floor(c) + tcp_flight(c) / 512;
    if (tcp_flight(c) <= c->mss && !c->cc.in_recovery)
        pto += TCP_TLP_DELACK;
    if (c->tlp_out && !c->cc.in_recovery)
        pto <<= c->tlp_probes; /* a repeated probe backs off */
    if (!c->cc.in_recovery)
        pto <<= c->tlp_patience; /* probes found needless before (tcp_tlp_dsack) */
    if (c->cc.in_recovery)
        pto <<= c->una_rxt_count;
    if (now + pto < c->timers.rexmt)
        c->timers.tlp = now + pto;
}

/* A silent recovery: neither ACKs nor SACKs for a PTO. Send the first unSACKed segment again
 * (it is what the cumulative ACK waits for); its answer lets RACK see the rest. */
static void tcp_recovery_probe(struct ts_stack *s, struct ts_tcp_conn *c)
{
    for (uint32_t i = 0; i < c->txq.len; i++) {
        const struct tcp_txseg *r = tcp_txq_at(c, i);
        if (r->flags & TCP_TXS_SACKED)
            continue;
        c->una_rxt_count++;
        ts_count(s, TS_C_TCP_RECOVERY_PROBE);
        tcp_retransmit_range(s, c, r->seq, r->end - r->seq);
        return;
    }
}

void tcp_tlp_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.tlp = TS_TIME_NEVER;
    if (!tcp_tlp_allowed(c))
        return;
    if (c->cc.in_recovery) {
        tcp_recovery_probe(s, c);
        tcp_tlp_arm(c, now);
        return;
    }
    if (!c->tlp_out)
        c->tlp_probes = 0;
    c->tlp_out = true;
    c->tlp_high = c->snd.max;
    c->tlp_sent = now;
    c->tlp_una = c->snd.una;
    c->tlp_probes++;
    ts_count(s, TS_C_TCP_LOSS_PROBE);
    /* The probe is the last segment sent, again (with the FIN if it was sent). RFC 8985 7.3
     * prefers a new segment when one is queued, but under random loss the usual reason for
     * silence is a lost final ACK, and a new segment in order is then held by a delayed-ACK
     * receiver (40 ms Linux, up to 500 ms RFC 1122): measured, that doubled the cost of every
     * such probe. A segment the receiver already has must be ACKed at once (RFC 9293 3.10.7.4,
     * not acceptable -> ACK, with a D-SACK), one beyond a hole too (RFC 5681 4.2). */
    uint32_t flight = c->snd.max - c->snd.una;
    uint32_t back = flight < c->mss ? flight : c->mss;
    if (c->txq.len) {
        const struct tcp_txseg *last = tcp_txq_at(c, c->txq.len - 1);
        back = c->snd.max - last->seq;
        if (last->flags & TCP_TXS_SACKED) {
            /* A repeated probe whose predecessor was SACKed: what is missing lies below. */
            tcp_recovery_probe(s, c);
            c->timers.rexmt = now + c->rtt.rto;
            tcp_tlp_arm(c, now);
            return;
        }
    }
    tcp_retransmit_range(s, c, c->snd.max - back, back);
    c->timers.rexmt = now + c->rtt.rto; /* RFC 8985 7.3: the RTO runs on from the probe */
    tcp_tlp_arm(c, now);
}
