/* Congestion control: RFC 5681 (slow start, congestion avoidance, fast retransmit / fast
 * recovery) with the NewReno modification of RFC 6582, behind a small ops table so another
 * algorithm can supply its own growth and ssthresh: CUBIC (RFC 9438, tcp_cc_cubic.c), or BBR
 * (tcp_cc_bbr.c), which also takes every ACK's delivery rate sample. */
#include <string.h>

#include "tcp_internal.h"

void tcp_reno_init(struct ts_tcp_conn *c)
{
    /* RFC 6928: IW = min(10*MSS, max(2*MSS, 14600)). */
    uint32_t mss = c->mss;
    uint32_t iw = 14600 > 2 * mss ? 14600 : 2 * mss;
    if (iw > TCP_IW_SEGS * mss)
        iw = TCP_IW_SEGS * mss;
    c->cc.cwnd = iw;
    c->cc.ssthresh = UINT32_MAX / 2; /* RFC 5681 3.1: arbitrarily high */
    c->cc.cwnd_acc = 0;
}

void tcp_reno_cong_avoid(struct ts_tcp_conn *c, uint32_t acked, ts_time_t now)
{
    (void)now;
    uint32_t mss = c->mss;
    if (c->cc.cwnd < c->cc.ssthresh) {
        /* RFC 5681 3.1 eq. 2, with RFC 3465 L = 2 so delayed ACKs do not halve growth. L counts
         * our segments: a super-segment (GSO) is one, which its receiver ACKs as one. */
        uint32_t seg = c->snd.seg_max > mss ? c->snd.seg_max : mss;
        c->cc.cwnd += acked < 2 * seg ? acked : 2 * seg;
    } else {
        /* RFC 5681 3.1 eq. 3 by byte counting: one MSS per cwnd of data acknowledged. */
        c->cc.cwnd_acc += acked;
        if (c->cc.cwnd_acc >= c->cc.cwnd) {
            c->cc.cwnd_acc -= c->cc.cwnd;
            c->cc.cwnd += mss;
        }
    }
    if (c->cc.cwnd > (1u << 30))
        c->cc.cwnd = 1u << 30;
}

static uint32_t tcp_reno_ssthresh(struct ts_tcp_conn *c)
{
    /* RFC 5681 3.1 eq. 4: max(FlightSize / 2, 2 * SMSS). */
    uint32_t flight = c->snd.max - c->snd.una;
    uint32_t half = flight / 2;
    return half > 2u * c->mss ? half : 2u * c->mss;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = tcp_reno_init,
    .cong_avoid = tcp_reno_cong_avoid,
    .ssthresh = tcp_reno_ssthresh,
};

const struct tcp_cc_ops *tcp_cc_ops_of(enum ts_tcp_cc cc)
{
    return cc == TS_CC_CUBIC ? &tcp_cc_cubic : cc == TS_CC_BBR ? &tcp_cc_bbr : &tcp_cc_newreno;
}

void tcp_cc_select(struct ts_tcp_conn *c, enum ts_tcp_cc cc)
{
    const struct tcp_cc_ops *ops = tcp_cc_ops_of(cc);
    if (ops == c->cc.ops)
        return;
    c->cc.ops = ops;
    if (!c->cc.cwnd)
        return; /* not started yet: tcp_cc_init will */
    uint32_t cwnd = c->cc.cwnd, ssthresh = c->cc.ssthresh;
    ops->init(c);
    c->cc.cwnd = cwnd;
    c->cc.ssthresh = ssthresh;
}

const char *ts_tcp_cc_name(enum ts_tcp_cc cc)
{
    return cc == TS_CC_CUBIC ? "cubic" : cc == TS_CC_BBR ? "bbr" : "reno";
}

bool ts_tcp_cc_parse(const char *name, enum ts_tcp_cc *cc)
{
    static const struct {
        const char *name;
        enum ts_tcp_cc cc;
    } known[] = {{"reno", TS_CC_NEWRENO},
                 {"newreno", TS_CC_NEWRENO},
                 {"cubic", TS_CC_CUBIC},
                 {"bbr", TS_CC_BBR}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(name, known[i].name) == 0) {
            *cc = known[i].cc;
            return true;
        }
    }
    return false;
}

void tcp_cc_on_sample(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->cc.ops->on_sample)
        c->cc.ops->on_sample(c, now);
    tcp_rate_reset(c);
}

void tcp_cc_init(struct ts_tcp_conn *c)
{
    if (!c->cc.ops)
        c->cc.ops = &tcp_cc_newreno;
    c->cc.ops->init(c);
    c->cc.dupacks = 0;
    c->cc.in_recovery = false;
    c->cc.recover = c->snd.una;
    c->rack.reo_wnd_mult = 1;
    c->cc.flight_peak = 0;
    c->cc.peak_seq = c->cc.usage_seq = c->snd.una;
    c->cc.cwnd_limited = false;
}

/* Enter fast recovery: RFC 5681 3.2 / RFC 6582 (NewReno) or RFC 6675 (SACK), the congestion
 * response saved first so that D-SACKs can undo it (tcp_recovery.c). */
void tcp_cc_enter_recovery(struct ts_stack *s, struct ts_tcp_conn *c, bool sack)
{
    tcp_undo_arm(c);
    c->cc.ssthresh = c->cc.ops->ssthresh(c);
    c->cc.recover = c->snd.max;
    c->cc.in_recovery = true;
    c->tlp_out = false;
    c->tlp_patience = 0; /* a real loss: silence may be loss again */
    c->una_rxt_count = 0;
    c->rtt.timing = false;
    c->rtt.karn_blocked = true;
    ts_count(s, TS_C_TCP_FAST_RETRANSMIT);
    if (sack) {
        /* RFC 6675 5 steps (4.1)-(4.3), with PRR (RFC 6937) for how much: tcp_recovery_on_ack
         * sets cwnd from the pipe and sends the first lost segment at once. */
        c->high_rxt = c->snd.una;
        tcp_prr_init(c);
    } else {
        c->prr.recover_fs = 0; /* (NewReno's recovery: no PRR) */
        tcp_retransmit_una(s, c);
        c->cc.cwnd = c->cc.ssthresh + 3u * c->mss; /* RFC 5681 3.2 step 3 */
    }
    tcp_timer_rexmt_arm(c, s->now);
}

/* RFC 7661 4 / Linux's tcp_is_cwnd_limited: grow cwnd only while it limits the sender. In slow
 * start, while the largest flight of the round trip is over half of it. */
static bool tcp_cwnd_limited(const struct ts_tcp_conn *c)
{
    if (c->cc.cwnd_limited)
        return true;
    return c->cc.cwnd < c->cc.ssthresh && c->cc.cwnd < 2u * c->cc.flight_peak;
}

void tcp_cc_validate(struct ts_tcp_conn *c)
{
    uint32_t flight = tcp_flight(c);
    if (!seq_lt(c->snd.una, c->cc.peak_seq) || flight > c->cc.flight_peak) {
        c->cc.flight_peak = flight;
        c->cc.peak_seq = c->snd.max;
    }
    /* cwnd stopped us when it leaves no room for another full segment. */
    bool limited = flight + c->mss > c->cc.cwnd;
    if (!seq_lt(c->snd.una, c->cc.usage_seq) || limited) {
        c->cc.cwnd_limited = limited;
        c->cc.usage_seq = c->snd.max;
    }
}

void tcp_cc_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t acked, ts_time_t now)
{
    if (c->cc.in_recovery) {
        if (seq_geq(c->snd.una, c->cc.recover)) {
            if (c->sack_ok) {
                /* RFC 6937 / RFC 6675: recovery ends with cwnd = ssthresh. */
                c->cc.cwnd = c->cc.ssthresh;
            } else {
                /* RFC 6582 3.2 step 3 option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
                 * The full ACK usually leaves nothing in flight: without the max() cwnd fell to
                 * one segment, which a delayed-ACK receiver holds 40 ms every time. */
                uint32_t flight = tcp_flight(c);
                uint32_t w = (flight > c->mss ? flight : c->mss) + c->mss;
                c->cc.cwnd = c->cc.ssthresh < w ? c->cc.ssthresh : w;
            }
            c->cc.in_recovery = false;
            c->cc.dupacks = 0;
            c->cc.cwnd_acc = 0;
            /* (undo stays armed: the D-SACKs of the last retransmissions come after.) */
            /* RFC 8985 6.2 step 4: a widened reordering window lasts 16 recoveries. */
            if (c->rack.reo_wnd_persist && --c->rack.reo_wnd_persist == 0)
                c->rack.reo_wnd_mult = 1;
        } else if (!c->prr.recover_fs) {
            /* RFC 6582 3.2 step 4: partial ACK; resend the next hole, deflate by the amount
             * acknowledged, add back one MSS if that was at least one MSS. */
            tcp_retransmit_una(s, c);
            c->cc.cwnd = c->cc.cwnd > acked ? c->cc.cwnd - acked : c->mss;
            if (acked >= c->mss)
                c->cc.cwnd += c->mss;
            if (c->cc.cwnd < c->mss)
                c->cc.cwnd = c->mss;
        }
        /* SACK recovery: PRR in tcp_recovery_on_ack, after the SACK blocks are taken. */
        return;
    }
    c->cc.dupacks = 0;
    if (tcp_cwnd_limited(c))
        c->cc.ops->cong_avoid(c, acked, now);
}

void tcp_cc_on_dupack(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    (void)now;
    ts_count(s, TS_C_TCP_DUP_ACK_RX);
    if (c->cc.in_recovery) {
        if (!c->prr.recover_fs)
            c->cc.cwnd += c->mss; /* RFC 5681 3.2 step 4: inflate for the segment that left */
        return;                   /* (SACK recovery: PRR, tcp_recovery_on_ack) */
    }
    /* A hole lies before the segment being timed: its ACK will include the repair time. Time a
     * later segment instead (RFC 7323 timestamps give a sample meanwhile). */
    c->rtt.timing = false;
    c->rtt.karn_blocked = true;
    c->cc.dupacks++;
    if (c->cc.dupacks != 3)
        return;
    /* RFC 6582 3.2 step 2: only if this loss is past the previous recovery point. */
    if (seq_lt(c->snd.una, c->cc.recover))
        return;
    if (c->sack_ok && c->nsacked)
        return; /* the scoreboard decides (tcp_recovery_on_ack) */
    tcp_cc_enter_recovery(s, c, false);
}

void tcp_cc_on_rto(struct ts_tcp_conn *c)
{
    /* RFC 5681 3.1 eq. 4 (only for the first timeout of an episode, RFC 5681 says the
     * ssthresh must not shrink further on repeated timeouts of the same segment) and LW = 1. */
    if (c->retries <= 1) {
        tcp_undo_arm(c);
        c->cc.ssthresh = c->cc.ops->ssthresh(c);
    } else {
        tcp_sack_clear(c); /* timed out twice: maybe the receiver reneged (RFC 2018 8) */
    }
    tcp_sack_mark_all_lost(c); /* RFC 6675 5.1: everything not SACKed is resent */
    c->cc.cwnd = c->mss;
    c->cc.cwnd_acc = 0;
    c->cc.in_recovery = false;
    c->cc.dupacks = 0;
    c->high_rxt = c->snd.una;
    c->cc.recover = c->snd.max; /* RFC 6582 4: no fast retransmit for what was sent before */
}
