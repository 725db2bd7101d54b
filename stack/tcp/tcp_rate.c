/* Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation): how fast the path
 * delivered data over the most recent round trip, from what each segment record remembers of the
 * connection's delivery count when it left. BBR (tcp_cc_bbr.c) builds its bandwidth model from
 * these samples; the other algorithms ignore them.
 *
 * Each transmission stamps its record with C.delivered, C.delivered_time and C.first_sent_time
 * (tcp_rate_on_send). When a record is delivered (ACKed or SACKed for the first time), the
 * newest such record of the ACK defines the sample: the data delivered since it left, over the
 * longer of its send interval and its ACK interval (the draft's 3.3: the longer one bounds the
 * rate from above, since neither can be faster than the bottleneck). */
#include "tcp_internal.h"

void tcp_rate_on_send(struct ts_tcp_conn *c, struct tcp_txseg *r, ts_time_t now, bool idle)
{
    /* Draft 3.2: a send from an empty flight starts a new interval at this send. */
    if (idle || c->rate.first_sent == 0) {
        c->rate.first_sent = now;
        c->rate.delivered_time = now;
    }
    r->delivered = c->rate.delivered;
    r->delivered_time = c->rate.delivered_time;
    r->first_sent = c->rate.first_sent;
    if (c->rate.app_limited)
        r->flags |= TCP_TXS_APPLIM;
    else
        r->flags &= (uint8_t)~TCP_TXS_APPLIM;
}

void tcp_rate_delivered(struct ts_tcp_conn *c, const struct tcp_txseg *r, ts_time_t now)
{
    struct tcp_rate_sample *rs = &c->rate.rs;
    c->rate.delivered += r->end - r->seq;
    c->rate.delivered_time = now;
    rs->acked += r->end - r->seq;
    /* Draft 3.3: the record sent last (the largest delivery count when sent) dates the sample. */
    if (!rs->has_prior || r->delivered >= rs->prior_delivered) {
        rs->has_prior = true;
        rs->prior_delivered = r->delivered;
        rs->app_limited = (r->flags & TCP_TXS_APPLIM) != 0;
        rs->send_elapsed = r->xmit - r->first_sent;
        rs->ack_elapsed = now - r->delivered_time;
        rs->rtt = (r->flags & TCP_TXS_EVER) ? 0 : now - r->xmit; /* Karn: not a retransmission */
        c->rate.first_sent = r->xmit;
    }
}

bool tcp_rate_sample(struct ts_tcp_conn *c, ts_time_t min_rtt)
{
    struct tcp_rate_sample *rs = &c->rate.rs;
    /* Draft 3.2: the application-limited phase ends once what was in flight then is delivered. */
    if (c->rate.app_limited && c->rate.delivered > c->rate.app_limited)
        c->rate.app_limited = 0;
    rs->valid = false;
    if (!rs->has_prior)
        return false;
    rs->delivered = c->rate.delivered - rs->prior_delivered;
    rs->interval = rs->send_elapsed > rs->ack_elapsed ? rs->send_elapsed : rs->ack_elapsed;
    /* Draft 3.3: an interval under the minimum RTT would be an ACK compression artefact. The
     * stack's clock moves once per step, so an interval of 0 says nothing either. */
    rs->valid = rs->interval > 0 && rs->interval >= min_rtt && rs->delivered > 0;
    return rs->valid;
}

void tcp_rate_reset(struct ts_tcp_conn *c)
{
    struct tcp_rate_sample *rs = &c->rate.rs;
    rs->has_prior = false;
    rs->acked = 0;
    rs->rtt = 0;
}

void tcp_rate_check_app_limited(struct ts_tcp_conn *c)
{
    /* Draft 3.4: nothing more queued to send, room in cwnd, nothing lost waiting to go again:
     * the application, not the network, limits this flight; its samples must not lower the
     * bandwidth estimate. */
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    if (!c->cc.ops->on_sample)
        return; /* only BBR reads the mark */
    if (seq_lt(c->snd.nxt, end) || tcp_flight(c) + c->mss > c->cc.cwnd || tcp_sack_lost(c))
        return;
    uint64_t mark = c->rate.delivered + tcp_flight(c);
    c->rate.app_limited = mark ? mark : 1;
}
