/* TCP timers: retransmission (RFC 6298), persist (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17), delayed
 * ACK (RFC 1122 4.2.3.2), keep-alive (RFC 1122 4.2.3.6), TIME_WAIT (2*MSL) and the FIN_WAIT_2
 * timeout of orphans. Each connection keeps absolute deadlines; ts_tcp_poll runs the due ones. */
#include <errno.h>

#include "tcp_internal.h"

/* RFC 8985 7.2: a tail loss probe goes out after PTO = 2*SRTT (at least 10 ms) when nothing
 * else happens, so that a lost tail is repaired by SACK recovery instead of a 200+ ms timeout.
 * Only when a single segment is in flight may the receiver delay its ACK (it ACKs every second
 * full segment at once), so only then is WCDelAckT added: 50 ms, over the 40 ms delayed ACK of
 * Linux and of this stack. Only with SACK (the probe's answer must say what is missing), only in
 * the open state, one probe per episode. */
void tcp_timer_tlp_arm(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->cc.in_recovery)
        return; /* the timer then watches the retransmission at snd.una (tcp_output.c) */
    c->timers.tlp = TS_TIME_NEVER;
    if (!c->sack_ok || !c->rtt.valid || c->retries > 0 || c->tlp_out ||
        c->timers.persist != TS_TIME_NEVER || !seq_gt(c->snd.max, c->snd.una) ||
        (c->state != TS_TCP_ESTABLISHED && c->state != TS_TCP_CLOSE_WAIT))
        return;
    ts_time_t pto = 2 * c->rtt.srtt;
    if (pto < 10 * TS_MS)
        pto = 10 * TS_MS;
    if (tcp_flight(c) <= c->mss)
        pto += TCP_TLP_DELACK;
    if (now + pto < c->timers.rexmt)
        c->timers.tlp = now + pto;
}

void tcp_timer_rexmt_arm(struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.rexmt = now + c->rtt.rto;
    tcp_timer_tlp_arm(c, now);
}
void tcp_timer_rexmt_stop(struct ts_tcp_conn *c)
{
    c->timers.rexmt = TS_TIME_NEVER;
    c->timers.tlp = TS_TIME_NEVER;
}

void tcp_timer_stop_all(struct ts_tcp_conn *c)
{
    c->timers.rexmt = c->timers.persist = c->timers.delack = c->timers.keep = c->timers.wait =
        c->timers.tlp = TS_TIME_NEVER;
}

void tcp_rtt_sample(struct ts_tcp_conn *c, ts_time_t r)
{
    /* RFC 6298 2.2 / 2.3, alpha 1/8, beta 1/4, K = 4. */
    if (!c->rtt.valid) {
        c->rtt.srtt = r;
        c->rtt.rttvar = r / 2;
        c->rtt.valid = true;
    } else {
        ts_time_t delta = c->rtt.srtt > r ? c->rtt.srtt - r : r - c->rtt.srtt;
        c->rtt.rttvar = (3 * c->rtt.rttvar + delta) / 4;
        c->rtt.srtt = (7 * c->rtt.srtt + r) / 8;
    }
    ts_time_t rto = c->rtt.srtt + (4 * c->rtt.rttvar > 1 ? 4 * c->rtt.rttvar : 1);
    /* RFC 6298 2.4 asks for a 1 s floor; we use Linux's 200 ms (as RFC 6298 allows with a
     * rationale: a LAN RTT is microseconds, a 1 s floor makes every loss a second of silence). */
    if (rto < TCP_RTO_MIN)
        rto = TCP_RTO_MIN;
    if (rto > TCP_RTO_MAX)
        rto = TCP_RTO_MAX;
    c->rtt.rto = rto;
}

void tcp_keepalive_reset(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->opts.keepalive && (tcp_synchronized(c->state) && c->state != TS_TCP_TIME_WAIT))
        c->timers.keep = now + c->opts.keepidle;
    else
        c->timers.keep = TS_TIME_NEVER;
}

void tcp_timer_time_wait(struct ts_tcp_conn *c, ts_time_t now)
{
    ts_time_t msl = c->s->cfg.tcp_msl ? c->s->cfg.tcp_msl : 30 * TS_SEC;
    c->timers.rexmt = c->timers.persist = c->timers.delack = c->timers.keep = c->timers.tlp =
        TS_TIME_NEVER;
    c->timers.wait = now + 2 * msl;
    /* Nothing is sent any more: give the send ring back (TIME_WAIT blocks stay small). */
    if (c->sndbuf.buf && c->sndbuf.len == 0)
        ts_ring_free(&c->sndbuf);
    if (c->orphan && c->rcvbuf.buf)
        ts_ring_free(&c->rcvbuf);
}

ts_time_t tcp_next_timer(const struct ts_tcp_conn *c, const char **name)
{
    ts_time_t t = TS_TIME_NEVER;
    const char *n = "-";
    if (c->timers.rexmt < t) {
        t = c->timers.rexmt;
        n = "retransmit";
    }
    if (c->timers.tlp < t) {
        t = c->timers.tlp;
        n = "loss-probe";
    }
    if (c->timers.persist < t) {
        t = c->timers.persist;
        n = "persist";
    }
    if (c->timers.delack < t) {
        t = c->timers.delack;
        n = "delack";
    }
    if (c->timers.keep < t) {
        t = c->timers.keep;
        n = "keepalive";
    }
    if (c->timers.wait < t) {
        t = c->timers.wait;
        n = c->state == TS_TCP_TIME_WAIT ? "time-wait" : "fin-wait-2";
    }
    if (name)
        *name = n;
    return t;
}

ts_time_t ts_tcp_next_deadline(const struct ts_tcp_conn *c)
{
    return tcp_next_timer(c, NULL);
}

static bool tcp_can_send_data(enum ts_tcp_state st)
{
    return st == TS_TCP_ESTABLISHED || st == TS_TCP_CLOSE_WAIT || st == TS_TCP_FIN_WAIT1 ||
           st == TS_TCP_CLOSING || st == TS_TCP_LAST_ACK;
}

static ts_time_t tcp_persist_interval(const struct ts_tcp_conn *c)
{
    ts_time_t t = c->rtt.rto;
    for (unsigned i = 0; i < c->persist_shift && t < TCP_PERSIST_MAX; i++)
        t *= 2;
    return t > TCP_PERSIST_MAX ? TCP_PERSIST_MAX : t;
}

void tcp_persist_check(struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->timers.persist != TS_TIME_NEVER || !tcp_can_send_data(c->state))
        return;
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    bool unsent = seq_lt(c->snd.nxt, end);
    if (tcp_flight(c) == 0 && unsent) {
        /* Nothing in flight yet data waits: only the window holds it. Probe (RFC 9293 3.8.6.1);
         * with a small open window this is also the SWS override timer (RFC 1122 4.2.3.4). */
        c->persist_shift = 0;
        c->timers.persist = now + tcp_persist_interval(c);
        c->timers.rexmt = TS_TIME_NEVER;
        c->timers.tlp = TS_TIME_NEVER;
    }
}

static void tcp_rexmt_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.rexmt = TS_TIME_NEVER;
    unsigned limit = TCP_DATA_RETRIES;
    if (c->state == TS_TCP_SYN_SENT)
        limit = TCP_SYN_RETRIES;
    else if (c->state == TS_TCP_SYN_RECV)
        limit = TCP_SYNACK_RETRIES;
    bool give_up = c->retries >= limit;
    if (c->opts.user_timeout && c->retries > 0 && now - c->retx_start >= c->opts.user_timeout)
        give_up = true;
    if (give_up) {
        /* RFC 1122 4.2.3.5 R2; RFC 1122 4.2.3.9: report a remembered soft error instead. */
        ts_count(s, TS_C_TCP_CONN_TIMEOUT);
        int err = c->soft_err ? c->soft_err : ETIMEDOUT;
        tcp_enter_closed(s, c, c->parent ? 0 : err, "retransmission limit");
        return;
    }
    if (c->retries == 0)
        c->retx_start = now;
    c->retries++;
    c->tlp_out = false;
    c->timers.tlp = TS_TIME_NEVER;
    ts_count(s, TS_C_TCP_RTO);
    /* RFC 6298 5.5: back off. */
    c->rtt.rto = c->rtt.rto * 2 > TCP_RTO_MAX ? TCP_RTO_MAX : c->rtt.rto * 2;
    c->rtt.timing = false; /* Karn */
    c->rtt.karn_blocked = true;
    if (c->state == TS_TCP_SYN_SENT || c->state == TS_TCP_SYN_RECV) {
        tcp_send_syn(s, c);
        return;
    }
    if (!seq_gt(c->snd.max, c->snd.una))
        return;
    tcp_cc_on_rto(c);
    /* RFC 6298 5.4: resend the earliest unacknowledged segment; with cwnd at one segment the
     * rest follows as ACKs come back (go-back-N). */
    c->snd.nxt = c->snd.una;
    tcp_output(s, c);
    if (c->timers.rexmt == TS_TIME_NEVER && seq_gt(c->snd.nxt, c->snd.una))
        tcp_timer_rexmt_arm(c, now);
}

static void tcp_tlp_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.tlp = TS_TIME_NEVER;
    if (!tcp_can_send_data(c->state) || !seq_gt(c->snd.max, c->snd.una))
        return;
    if (c->cc.in_recovery) {
        /* The retransmission at snd.una had an RTT and more: lost as well, send it again. Also
         * with an empty scoreboard (recovery entered on duplicate ACKs that carried only
         * D-SACKs, or a partial ACK that covered every SACKed block): the NewReno repair then
         * has nothing but the RTO behind it. */
        if (c->una_rxt_seq == c->snd.una && c->una_rxt_count <= 3) {
            ts_count(s, TS_C_TCP_LOST_RETRANSMIT);
            tcp_retransmit_range(s, c, c->snd.una,
                                 c->nsacked ? c->sacked[0].left - c->snd.una : UINT32_MAX - 1);
        }
        return;
    }
    c->tlp_out = true;
    c->tlp_high = c->snd.max;
    ts_count(s, TS_C_TCP_LOSS_PROBE);
    /* The probe is the last segment sent, again. RFC 8985 7.3 prefers a new segment when one is
     * queued, but under random loss the usual reason for silence is a lost final ACK, and a new
     * segment in order is then held by a delayed-ACK receiver (40 ms Linux, up to 500 ms RFC
     * 1122): measured, that doubled the cost of every such probe. A segment the receiver already
     * has must be ACKed at once (RFC 9293 3.10.7.4, not acceptable -> ACK), one beyond a hole
     * too (RFC 5681 4.2), so either way the answer comes after one RTT. */
    uint32_t flight = c->snd.max - c->snd.una;
    uint32_t back = flight < c->mss ? flight : c->mss;
    tcp_retransmit_range(s, c, c->snd.max - back, back);
    c->timers.rexmt = now + c->rtt.rto; /* RFC 8985 7.3: the RTO runs on from the probe */
}

static void tcp_persist_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.persist = TS_TIME_NEVER;
    if (!tcp_can_send_data(c->state))
        return;
    if (c->snd.wnd > 0) {
        /* A small window is open: the SWS override lets one segment go. */
        c->sws_override = true;
        tcp_output(s, c);
        return;
    }
    if (c->probes_unacked >= TCP_DATA_RETRIES) {
        /* The peer stopped answering probes altogether (RFC 1122 4.2.2.17 keeps probing only
         * while it answers). */
        ts_count(s, TS_C_TCP_CONN_TIMEOUT);
        tcp_enter_closed(s, c, c->soft_err ? c->soft_err : ETIMEDOUT, "persist probes unanswered");
        return;
    }
    tcp_send_probe(s, c, false);
    c->probes_unacked++;
    c->persist_shift++;
    c->timers.persist = now + tcp_persist_interval(c);
}

static void tcp_keep_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    c->timers.keep = TS_TIME_NEVER;
    if (!c->opts.keepalive || !tcp_synchronized(c->state) || c->state == TS_TCP_TIME_WAIT)
        return;
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    if (tcp_flight(c) > 0 || seq_lt(c->snd.nxt, end)) {
        /* Data is moving or waiting: retransmission/persist watch the peer. */
        c->timers.keep = now + c->opts.keepidle;
        return;
    }
    if (c->probes_unacked == 0 && now - c->last_rx < c->opts.keepidle) {
        c->timers.keep = c->last_rx + c->opts.keepidle;
        return;
    }
    if (c->probes_unacked >= c->opts.keepcnt) {
        ts_count(s, TS_C_TCP_KEEPALIVE_TIMEOUT);
        tcp_enter_closed(s, c, ETIMEDOUT, "keepalive timeout");
        return;
    }
    tcp_send_probe(s, c, true);
    c->probes_unacked++;
    c->timers.keep = now + c->opts.keepintvl;
}

/* Run c's timers that are due at now; returns its next deadline. */
static ts_time_t tcp_conn_timers(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now)
{
    if (c->timers.wait <= now) {
        c->timers.wait = TS_TIME_NEVER;
        if (c->state == TS_TCP_TIME_WAIT)
            tcp_enter_closed(s, c, 0, "2MSL timer expired");
        else if (c->state == TS_TCP_FIN_WAIT2)
            tcp_enter_closed(s, c, 0, "FIN_WAIT2 timeout (orphan)");
    }
    if (c->timers.tlp <= now)
        tcp_tlp_fire(s, c, now);
    if (c->timers.rexmt <= now)
        tcp_rexmt_fire(s, c, now);
    if (c->timers.persist <= now)
        tcp_persist_fire(s, c, now);
    if (c->timers.delack <= now) {
        c->timers.delack = TS_TIME_NEVER;
        if (tcp_synchronized(c->state)) {
            ts_count(s, TS_C_TCP_DELAYED_ACK);
            tcp_send_ack(s, c);
        }
    }
    if (c->timers.keep <= now)
        tcp_keep_fire(s, c, now);
    return tcp_next_timer(c, NULL);
}

ts_time_t ts_tcp_poll(struct ts_stack *s, ts_time_t now)
{
    s->now = now;
    ts_time_t next = TS_TIME_NEVER;
    struct ts_tcp_conn *c = s->tcp ? s->tcp->all : NULL;
    while (c) {
        struct ts_tcp_conn *n = c->next;
        ts_time_t d = tcp_next_timer(c, NULL);
        if (d <= now) {
            d = tcp_conn_timers(s, c, now);
            if (tcp_conn_reap(s, c)) {
                c = n;
                continue;
            }
        }
        if (d < next)
            next = d;
        c = n;
    }
    return next;
}
