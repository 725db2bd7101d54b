/* TCP input: RFC 9293 3.10.7 "SEGMENT ARRIVES", in the RFC's order: no connection (3.10.7.1),
 * LISTEN (3.10.7.2), SYN-SENT (3.10.7.3), and every other state in the RFC's eight steps
 * (3.10.7.4), with the RFC 5961 hardening, RFC 7323 PAWS and RFC 6191 TIME_WAIT reuse. */
#include <errno.h>
#include <string.h>

#include "tcp_internal.h"

/* What the steps of RFC 9293 3.10.7.4 find out about an arriving segment and hand on to the steps
 * after them. The segment itself is never edited: the flags a step reads are the segment's. */
struct tcp_arrival {
    const struct tcp_hdr *seg;
    /* Where the segment's text starts: SEG.SEQ, or one past it when its SYN is the one this
     * connection already has (the peer's SYN-ACK in a simultaneous open). */
    uint32_t seq;
    bool syn;      /* a SYN to act on (not the one already received) */
    uint32_t text; /* bytes of text to take: the payload, or 0 when only its ACK field is usable */
    bool fin;      /* a FIN to act on: on the segment, and not beyond the window */
    /* Found by the seventh step for the eighth: a FIN (this one, or one held from an earlier
     * out-of-order segment) is now next in sequence. */
    bool fin_in_order;
};

/* Our FIN has been sent and acknowledged. */
static bool tcp_our_fin_acked(const struct ts_tcp_conn *c)
{
    return c->snd.fin_queued && seq_gt(c->snd.una, tcp_fin_seq(c));
}

/* ---- RFC 9293 3.10.7.1: CLOSED (no connection) ---- */

static void tcp_closed_input(struct ts_stack *s, const struct ipv4_hdr *ip,
                             const struct tcp_hdr *seg)
{
    if (seg->flags & TCP_RST) {
        ts_count(s, TS_C_TCP_DROP_RST_NO_SOCKET);
        return;
    }
    ts_count(s, TS_C_TCP_DROP_NO_SOCKET);
    if (seg->sport != 0) /* (to port 0 too, as Linux; a reply to port 0 would go nowhere) */
        tcp_send_rst_reply(s, ip->dst, ip->src, seg);
}

/* ---- RFC 9293 3.10.7.2: LISTEN ---- */

/* RFC 9293 3.10.7.2 (and 3.10.7.3 for a simultaneous open): text on a SYN "should be queued for
 * processing later". It is written at the front of the receive ring, bounded by the window our
 * SYN-ACK offers, but not acknowledged: our SYN-ACK acknowledges the SYN alone, and the text is
 * delivered and acknowledged once the handshake completes (tcp_syn_text_deliver), so a SYN that
 * never completes commits nothing. Linux drops such text (without a Fast Open cookie) and the
 * peer sends it again; here it is not needed again, and a copy that comes anyway is trimmed as a
 * duplicate. A SYN answered by a SYN cookie keeps nothing (no state), so its text is dropped. */
static void tcp_syn_text_hold(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    uint32_t n = (uint32_t)seg->payload_len, wnd = tcp_syn_window(c);
    if (n == 0)
        return;
    if (n > wnd) {
        ts_count(s, TS_C_TCP_DROP_OUT_OF_WINDOW); /* the rest, beyond the window */
        n = wnd;
    }
    if (n == 0 || tcp_bufs_alloc(c) < 0 || ts_ring_write_at(&c->rcvbuf, 0, seg->payload, n) < 0) {
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY); /* the peer sends it again */
        return;
    }
    c->rcv.syn_text = n;
}

static void tcp_text_delivered(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t delivered);

/* The handshake completed: the text held from the SYN becomes readable, and is acknowledged. */
static void tcp_syn_text_deliver(struct ts_stack *s, struct ts_tcp_conn *c)
{
    uint32_t n = c->rcv.syn_text;
    if (n == 0)
        return;
    c->rcv.syn_text = 0;
    ts_ring_commit(&c->rcvbuf, n);
    c->rcv.nxt += n;
    c->ack_now = true;
    tcp_text_delivered(s, c, n);
}

static void tcp_other_states_input(struct ts_stack *s, struct ts_tcp_conn *c,
                                   const struct tcp_hdr *seg);

/* LISTEN "third": a SYN. A child is born in SYN-RECEIVED and answers with our SYN-ACK; with the
 * half-open queue full, a SYN cookie answers instead (RFC 4987). min_iss (RFC 6191): the new ISS
 * must lie above it, or NULL. */
static void tcp_passive_open(struct ts_stack *s, struct ts_tcp_conn *l, const struct ipv4_hdr *ip,
                             const struct tcp_hdr *seg, const uint32_t *min_iss)
{
    /* A full accept queue does not drop the SYN (Linux does: its client then waits a whole
     * second to try again, for a queue that is usually full only for a moment). The handshake
     * goes on; its final ACK waits for room (tcp_ack_syn_recv). The half-open queue is bounded
     * (RFC 4987), and past it cookies take no memory at all. */
    if (l->listener.acceptq_len >= (unsigned)l->listener.backlog)
        ts_count(s, TS_C_TCP_ACCEPT_QUEUE_FULL_SYN);
    if (l->listener.synq_len >= TCP_SYNQ_MAX) {
        if (s->cfg.tcp_syncookies)
            tcp_syncookie_send(s, l, ip, seg); /* RFC 4987 3.6 */
        else
            ts_count(s, TS_C_TCP_DROP_SYN_QUEUE_FULL);
        return;
    }
    struct ts_tcp_conn *c = tcp_child_new(s, l, ip, seg);
    if (!c) {
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY);
        return;
    }
    uint32_t iss = tcp_isn(s, c->laddr, c->lport, c->raddr, c->rport, s->now);
    if (min_iss && seq_lt(iss, *min_iss))
        iss = *min_iss; /* RFC 6191: above anything the old incarnation used */
    tcp_init_snd(s, c, iss);
    tcp_init_rcv(s, c, seg);
    c->segs_in = 1;
    tcp_syn_text_hold(s, c, seg);
    tcp_hash_insert(s, c);
    ts_tcp_set_state(s, c, TS_TCP_SYN_RECV, "rcvd SYN");
    tcp_send_syn(s, c);
    tcp_conn_done(s, c);
}

static void tcp_listen_input(struct ts_stack *s, struct ts_tcp_conn *l, const struct ipv4_hdr *ip,
                             const struct tcp_hdr *seg, const uint32_t *min_iss)
{
    uint8_t f = seg->flags;
    l->segs_in++;
    if (f & TCP_RST) {
        ts_count(s, TS_C_TCP_DROP_LISTEN_BAD); /* first: ignore a RST */
        return;
    }
    if (f & TCP_ACK) {
        enum tcp_cookie res;
        struct ts_tcp_conn *c = tcp_syncookie_check(s, l, ip, seg, &res);
        if (c) {
            c->segs_in = 1;
            tcp_other_states_input(s, c, seg); /* the ACK may carry data */
            tcp_conn_done(s, c);
            return;
        }
        if (res == TCP_COOKIE_NO_ROOM)
            return; /* a good cookie, no room yet: the peer sends again (as Linux) */
        /* second: an ACK to a listener gets <SEQ=SEG.ACK><CTL=RST> */
        if (res == TCP_COOKIE_NOT_CHECKED)
            ts_count(s, TS_C_TCP_DROP_LISTEN_BAD);
        tcp_send_rst_reply(s, ip->dst, ip->src, seg);
        return;
    }
    if (!(f & TCP_SYN)) {
        ts_count(s, TS_C_TCP_DROP_LISTEN_BAD); /* fourth: anything else is dropped */
        return;
    }
    tcp_passive_open(s, l, ip, seg, min_iss); /* third */
}

/* ---- RFC 9293 3.10.7.3: SYN-SENT ---- */

static void tcp_process_urg(struct ts_tcp_conn *c, const struct tcp_arrival *a);
static bool tcp_process_text(struct ts_stack *s, struct ts_tcp_conn *c, struct tcp_arrival *a);
static void tcp_process_fin(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a);

/* RFC 9293 3.10.7.3 fourth: "if there are other controls or text in the segment, continue
 * processing at the sixth step" of 3.10.7.4: the SYN-ACK's text, within our window (Linux
 * drops it; the peer sends it again). A FIN with it never comes here: SYN+FIN is dropped as bad
 * flags on arrival, as Linux drops it. */
static void tcp_syn_ack_text(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    struct tcp_arrival a = {
        .seg = seg,
        .seq = seg->seq + 1,
        .text = (uint32_t)seg->payload_len,
        .fin = (seg->flags & TCP_FIN) != 0,
    };
    tcp_process_urg(c, &a);         /* sixth */
    if (tcp_process_text(s, c, &a)) /* seventh */
        tcp_process_fin(s, c, &a);  /* eighth */
}

static void tcp_syn_sent_input(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    uint8_t f = seg->flags;
    bool ack_ok = false;
    if (f & TCP_ACK) { /* first: the ACK */
        if (seq_leq(seg->ack, c->snd.iss) || seq_gt(seg->ack, c->snd.max)) {
            ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
            tcp_send_rst_reply(s, c->laddr, c->raddr, seg); /* not if it is a RST */
            return;
        }
        ack_ok = true;
    }
    if (f & TCP_RST) { /* second: RST */
        if (ack_ok) {
            ts_count(s, TS_C_TCP_RST_RX);
            c->rst_rcvd = true;
            tcp_enter_closed(s, c, ECONNREFUSED, "rcvd RST");
        } else {
            ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
        }
        return;
    }
    /* third: security, not implemented (no IP security option is used) */
    if (!(f & TCP_SYN)) { /* fifth: neither SYN nor RST */
        ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
        return;
    }
    /* fourth: the SYN */
    if (ack_ok)
        c->snd.una = seg->ack;
    tcp_init_rcv(s, c, seg);
    if (!ack_ok) {
        /* Simultaneous open: our SYN and theirs crossed. */
        tcp_syn_text_hold(s, c, seg);
        ts_tcp_set_state(s, c, TS_TCP_SYN_RECV, "rcvd SYN in SYN_SENT (simultaneous open)");
        tcp_send_syn(s, c);
        return;
    }
    if (c->rtt.timing && seq_gt(seg->ack, c->rtt.seq)) {
        tcp_rtt_sample(c, s->now - c->rtt.start);
        c->rtt.timing = false;
    }
    c->retries = 0;
    tcp_timer_rexmt_stop(c);
    tcp_established(s, c, "rcvd SYN-ACK");
    c->ack_now = true;
    if (seg->payload_len > 0 || (f & TCP_FIN))
        tcp_syn_ack_text(s, c, seg);
    tcp_output(s, c);
}

/* ---- RFC 9293 3.10.7.4: the other states, step by step ---- */

/* Before the first step, in SYN-RECEIVED, the SYN that opened the connection may come again.
 * Alone it means our SYN-ACK was lost: it is sent again (false: nothing more to do). With an ACK
 * it is the peer's SYN-ACK of a simultaneous open: its SYN is the one we have, and past it the
 * segment is a plain ACK. */
static bool tcp_arrival_init(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg,
                             struct tcp_arrival *a)
{
    *a = (struct tcp_arrival){
        .seg = seg,
        .seq = seg->seq,
        .syn = (seg->flags & TCP_SYN) != 0,
        .text = (uint32_t)seg->payload_len,
        .fin = (seg->flags & TCP_FIN) != 0,
    };
    if (c->state == TS_TCP_SYN_RECV && a->syn && seg->seq == c->rcv.irs) {
        if (!(seg->flags & TCP_ACK)) {
            tcp_send_syn(s, c);
            return false;
        }
        a->seq++;
        a->syn = false;
    }
    return true;
}

/* Answer a segment dropped by PAWS or the sequence number test with an ACK, at most one per
 * tcp_invalid_ratelimit per connection (RFC 5961 10; Linux's tcp_invalid_ratelimit), so that a
 * flood of forged segments is not reflected one for one and two confused ends cannot ping-pong
 * ACKs at full speed. One kind is always answered: a segment whose sequence space lies wholly
 * below RCV.NXT (retransmitted data or FIN), which says our ACK was lost and the peer waits for
 * it. Linux exempts every segment with data instead (any length, also one beyond the window);
 * here data beyond the window is limited too, since it is what a blind flood would send. */
static void tcp_oow_ack(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a,
                        uint32_t seg_len)
{
    bool dup = seg_len > 0 && seq_leq(a->seq + seg_len, c->rcv.nxt);
    ts_time_t gap = s->cfg.tcp_invalid_ratelimit;
    if (!dup && gap > 0 && c->oow_ack_time != 0 && s->now - c->oow_ack_time < gap) {
        ts_count(s, TS_C_TCP_OOW_ACK_LIMITED);
        return;
    }
    c->oow_ack_time = s->now; /* 0 = never: the clock is well past 0 when segments arrive */
    tcp_send_ack(s, c);
}

/* RFC 7323 5.3 R1-R3: PAWS, before the sequence number test. False: dropped (with an ACK). */
static bool tcp_check_paws(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    const struct tcp_hdr *seg = a->seg;
    if (!c->ts_ok || !seg->opts.ts_ok || (seg->flags & TCP_RST) ||
        !seq_lt(seg->opts.tsval, c->ts_recent))
        return true;
    if (s->now - c->ts_recent_age > TCP_PAWS_IDLE) {
        c->ts_recent = seg->opts.tsval; /* RFC 7323 5.5: ts_recent too old to trust */
        c->ts_recent_age = s->now;
        return true;
    }
    ts_count(s, TS_C_TCP_DROP_PAWS);
    tcp_oow_ack(s, c, a, a->text + (a->syn ? 1 : 0) + (a->fin ? 1 : 0));
    return false;
}

/* A segment that fails the sequence number test: counted, and answered with an ACK unless it is
 * a RST (RFC 9293 3.10.7.4 first). */
static void tcp_unacceptable(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a,
                             uint32_t seg_len)
{
    const struct tcp_hdr *seg = a->seg;
    if (seg->flags & TCP_RST) {
        ts_count(s, TS_C_TCP_DROP_RST_OUT_OF_WINDOW);
        return;
    }
    /* A retransmission of data we already have is a duplicate, not a window violation. */
    if (a->text > 0 && seq_leq(a->seq + seg_len, c->rcv.nxt)) {
        ts_count(s, TS_C_TCP_DUP_DATA_RX);
        tcp_dsack_note(c, a->seq, a->seq + a->text); /* RFC 2883 4: report it */
    } else
        ts_count(s, TS_C_TCP_DROP_OUT_OF_WINDOW);
    if (c->state == TS_TCP_TIME_WAIT && (seg->flags & TCP_FIN))
        tcp_timer_time_wait(c, s->now); /* a retransmitted FIN: restart 2MSL */
    tcp_oow_ack(s, c, a, seg_len);
}

/* RFC 9293 3.10.7.4 first: check the sequence number (the RFC's four cases of segment length
 * and window), after PAWS. False: dropped. */
static bool tcp_check_seq(struct ts_stack *s, struct ts_tcp_conn *c, struct tcp_arrival *a)
{
    const struct tcp_hdr *seg = a->seg;
    if (!tcp_check_paws(s, c, a))
        return false;
    uint32_t seg_len = a->text + (a->syn ? 1 : 0) + (a->fin ? 1 : 0);
    uint32_t wnd = tcp_rcv_wnd_seen(c), nxt = c->rcv.nxt;
    bool ok;
    if (seg_len == 0)
        ok = wnd == 0 ? a->seq == nxt : seq_in(a->seq, nxt, nxt + wnd);
    else
        ok = wnd != 0 &&
             (seq_in(a->seq, nxt, nxt + wnd) || seq_in(a->seq + seg_len - 1, nxt, nxt + wnd));
    bool ack_only = false;
    if (!ok && wnd < c->adv_mss && seq_geq(a->seq, nxt) && a->seq - nxt <= TCP_WND_MAX) {
        /* With a (nearly) closed window, still take valid ACKs and RSTs, also from a peer whose
         * SND.NXT went past our right edge (a window probe with data): dropping its ACKs would
         * stall our own sending. */
        ok = true;
        ack_only = true;
    }
    if (!ok) {
        tcp_unacceptable(s, c, a, seg_len);
        return false;
    }
    if (ack_only && !(seg->flags & TCP_RST) && seg_len > 0) {
        ts_count(s, TS_C_TCP_DROP_OUT_OF_WINDOW); /* its text and FIN; the ACK field is used */
        c->ack_now = true;
        a->text = 0;
        a->fin = false;
    }
    return true; /* TS.Recent is taken later, once the ACK field passed (tcp_update_ts_recent) */
}

/* RFC 7323 4.3 and 5.3 R3: remember the timestamp to echo, from a segment that passed the
 * sequence number test and whose ACK field is acceptable. Taken before the ACK check, a forged
 * in-window segment acknowledging data never sent (dropped there) would set TS.Recent to its
 * TSval, and PAWS would then drop every valid segment of the peer: the connection stalls. Linux
 * also takes it only after its ACK check (tcp_ack, FLAG_UPDATE_TS_RECENT). */
static void tcp_update_ts_recent(struct ts_stack *s, struct ts_tcp_conn *c,
                                 const struct tcp_arrival *a)
{
    const struct tcp_hdr *seg = a->seg;
    if (c->ts_ok && seg->opts.ts_ok && !seq_lt(seg->opts.tsval, c->ts_recent) &&
        seq_leq(a->seq, c->rcv.last_ack_sent)) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_age = s->now;
    }
}

/* RFC 9293 3.10.7.4 second: the RST bit (RFC 5961 3.2: only an exact SEG.SEQ == RCV.NXT resets; any
 * other in the window earns a challenge ACK). False: the segment went no further. */
static bool tcp_check_rst(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    if (!(a->seg->flags & TCP_RST))
        return true;
    if (a->seg->seq != c->rcv.nxt) {
        tcp_send_challenge_ack(s, c);
        return false;
    }
    int err = 0;
    switch (c->state) {
    case TS_TCP_SYN_RECV:
        /* passive: back to LISTEN, i.e. the child goes away; active: refused */
        err = c->parent ? 0 : ECONNREFUSED;
        break;
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
    case TS_TCP_CLOSE_WAIT:
        err = ECONNRESET;
        break;
    case TS_TCP_CLOSING:
    case TS_TCP_LAST_ACK:
        break;
    case TS_TCP_TIME_WAIT:
        /* RFC 1337: a RST must not assassinate TIME_WAIT; we keep the 2MSL quiet time (Linux
         * closes instead). */
        ts_count(s, TS_C_TCP_DROP_TIME_WAIT_RST);
        return false;
    default:
        return false;
    }
    ts_count(s, TS_C_TCP_RST_RX);
    c->rst_rcvd = true;
    tcp_enter_closed(s, c, err, "rcvd RST");
    return false;
}

/* RFC 9293 3.10.7.4 fourth: a SYN in a synchronized state (RFC 5961 4.2): a challenge ACK, and the
 * segment goes no further. */
static bool tcp_check_syn(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    if (!a->syn)
        return true;
    tcp_send_challenge_ack(s, c);
    return false;
}

/* A new cumulative ACK: SND.UNA < SEG.ACK =< SND.MAX. RTT sample (RFC 6298 / Karn: from a timed,
 * never retransmitted segment; after a retransmission, RFC 7323 4.1 timestamps still give a
 * valid one). */
static void tcp_ack_rtt(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    if (c->rtt.timing && seq_gt(seg->ack, c->rtt.seq)) {
        tcp_rtt_sample(c, s->now - c->rtt.start);
        c->rtt.timing = false;
        c->rtt.karn_blocked = false;
    } else if (c->rtt.karn_blocked && c->ts_ok && seg->opts.ts_ok && seg->opts.tsecr != 0 &&
               seq_geq(seg->opts.tsecr, c->rtt.rxt_tsval)) {
        /* Only an echo of a segment sent at or after our latest retransmission: an older one
         * (the original got through, its ACK did not) would time the loss recovery too. */
        uint32_t d = tcp_ts_now(c, s->now) - seg->opts.tsecr;
        if (d < 0x7fffffff) {
            tcp_rtt_sample(c, (ts_time_t)d * TS_MS);
            c->rtt.karn_blocked = false;
        }
    }
}

static void tcp_ack_new(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    ts_time_t now = s->now;
    uint32_t acked = seg->ack - c->snd.una;
    tcp_ack_rtt(s, c, seg);
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    uint32_t upto = seq_lt(seg->ack, end) ? seg->ack : end;
    uint32_t freed = 0;
    if (seq_gt(upto, c->snd.buf_seq)) {
        freed = upto - c->snd.buf_seq;
        ts_ring_drop(&c->sndbuf, freed);
        c->snd.buf_seq = upto;
    }
    c->bytes_acked += freed;
    c->snd.una = seg->ack;
    tcp_txq_acked(s, c, seg);
    if (c->nsacked)
        tcp_sack_trim(c);
    if (c->tlp_out && seq_geq(c->snd.una, c->tlp_high))
        c->tlp_out = false; /* everything up to the probe arrived */
    if (seq_lt(c->snd.nxt, c->snd.una))
        c->snd.nxt = c->snd.una;
    c->retries = 0;
    c->retx_start = 0;
    tcp_cc_on_ack(s, c, acked, now);
    /* RFC 6298 5.2/5.3 */
    if (c->snd.una == c->snd.max)
        tcp_timer_rexmt_stop(c);
    else
        tcp_timer_rexmt_arm(c, now);
    if (freed && c->snd.low_space && ts_ring_free_space(&c->sndbuf) >= c->sndbuf.cap / 2)
        c->snd.low_space = false;
    if (freed && !c->snd.low_space)
        tcp_notify(c, TS_TCP_EV_WRITABLE);
}

/* RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: the ACK of our SYN establishes the connection. */
static bool tcp_ack_syn_recv(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    const struct tcp_hdr *seg = a->seg;
    if (!(seq_lt(c->snd.una, seg->ack) && seq_leq(seg->ack, c->snd.max))) {
        ts_count(s, TS_C_TCP_DROP_BAD_ACK);
        tcp_send_rst_reply(s, c->laddr, c->raddr, seg);
        return false;
    }
    if (c->parent && c->parent->listener.acceptq_len >= (unsigned)c->parent->listener.backlog) {
        /* As Linux: the ACK is dropped while the accept queue is full, and our SYN-ACK
         * retransmissions ask for it again. Besides, accept() making room sends the SYN-ACK of
         * the oldest such child at once (ts_tcp_accept), so its client need not wait. */
        ts_count(s, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL);
        tcp_child_hold(c);
        return false;
    }
    if (tcp_bufs_alloc(c) < 0) {
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY);
        return false;
    }
    c->snd.wnd = (uint32_t)seg->wnd << c->snd.wscale;
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = a->seq;
    c->snd.wl2 = seg->ack;
    tcp_ack_new(s, c, seg);
    tcp_established(s, c, "rcvd ACK of SYN"); /* it starts congestion control afresh */
    tcp_syn_text_deliver(s, c);
    return true;
}

/* RFC 9293 3.10.7.4 fifth: the send window is updated only from a newer segment. */
static void tcp_update_window(struct ts_tcp_conn *c, const struct tcp_arrival *a, uint32_t wnd)
{
    const struct tcp_hdr *seg = a->seg;
    if (seq_leq(c->snd.una, seg->ack) &&
        (seq_lt(c->snd.wl1, a->seq) || (c->snd.wl1 == a->seq && seq_leq(c->snd.wl2, seg->ack)))) {
        c->snd.wnd = wnd;
        c->snd.wl1 = a->seq;
        c->snd.wl2 = seg->ack;
        if (wnd > c->snd.max_wnd)
            c->snd.max_wnd = wnd;
    }
}

/* RFC 9293 3.10.7.4 fifth, ESTABLISHED and after: acknowledgment, SACK, duplicate ACKs and the
 * send window. */
static bool tcp_ack_synchronized(struct ts_stack *s, struct ts_tcp_conn *c,
                                 const struct tcp_arrival *a)
{
    const struct tcp_hdr *seg = a->seg;
    /* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; the others are
     * dropped and answered with an ACK, throttled like every challenge ACK (section 7), so that a
     * flood of forged ones is not reflected one for one. The lower edge goes back no further
     * than the data acknowledged so far: an ACK from before our first byte acknowledges what was
     * never sent (Linux narrows it the same way). */
    uint64_t done = c->bytes_acked + (tcp_our_fin_acked(c) ? 1 : 0);
    uint32_t back = done < c->snd.max_wnd ? (uint32_t)done : c->snd.max_wnd;
    if (seq_gt(seg->ack, c->snd.max) || seq_lt(seg->ack, c->snd.una - back)) {
        ts_count(s, TS_C_TCP_DROP_BAD_ACK);
        tcp_send_challenge_ack(s, c);
        return false;
    }
    uint32_t new_wnd = (uint32_t)seg->wnd << c->snd.wscale;
    uint32_t sacked_before = c->sacked_bytes, una_before = c->snd.una;
    if (c->sack_ok && seg->opts.nsack)
        tcp_sack_update(s, c, seg); /* before the ACK moves recovery along */
    bool dup = false;
    if (seq_gt(seg->ack, c->snd.una)) {
        tcp_ack_new(s, c, seg);
    } else if (seg->ack == c->snd.una && a->text == 0 && !a->fin && new_wnd == c->snd.wnd &&
               new_wnd > 0 && seq_gt(c->snd.max, c->snd.una)) {
        /* RFC 5681 2: a duplicate ACK. An answer to a zero-window probe is not one (the window
         * is closed, nothing was lost): counting it made a fast retransmit push a full segment
         * into the zero window. */
        dup = true;
        tcp_cc_on_dupack(s, c, s->now);
    }
    tcp_update_window(c, a, new_wnd);
    tcp_cc_on_sample(c, s->now); /* the deliveries of this ACK are all counted */
    /* RFC 5682: for the two ACKs after a timeout, F-RTO decides what goes out. */
    if (c->frto && tcp_frto_on_ack(s, c, c->snd.una != una_before, dup))
        return true;
    /* RFC 6675 5, RFC 8985, RFC 6937: loss detection and recovery from the scoreboard, with what
     * this ACK delivered (newly ACKed or SACKed bytes). */
    tcp_recovery_on_ack(s, c, (c->snd.una - una_before) + (c->sacked_bytes - sacked_before),
                        c->snd.una != una_before);
    return true;
}

/* RFC 9293 3.10.7.4 fifth: the ACK field (a segment without ACK is dropped). False: the segment
 * went no further (dropped, or the connection ended: CLOSING and LAST-ACK's ACK of our FIN). */
static bool tcp_process_ack(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    if (!(a->seg->flags & TCP_ACK)) {
        ts_count(s, TS_C_TCP_DROP_NO_ACK);
        return false;
    }
    c->last_rx = s->now;
    c->probes_unacked = 0;
    if (c->timers.keep != TS_TIME_NEVER)
        tcp_keepalive_reset(c, s->now);
    if (!(c->state == TS_TCP_SYN_RECV ? tcp_ack_syn_recv(s, c, a) : tcp_ack_synchronized(s, c, a)))
        return false;
    tcp_update_ts_recent(s, c, a);
    if (c->timers.persist != TS_TIME_NEVER && c->snd.wnd > 0) {
        /* The window opened: leave persist; resend the probe byte if it was not taken. */
        c->timers.persist = TS_TIME_NEVER;
        c->persist_shift = 0;
        c->snd.nxt = c->snd.una;
    }
    if (c->state == TS_TCP_CLOSING && tcp_our_fin_acked(c)) {
        ts_tcp_set_state(s, c, TS_TCP_TIME_WAIT, "rcvd ACK of FIN");
        return false;
    }
    if (c->state == TS_TCP_LAST_ACK && tcp_our_fin_acked(c)) {
        tcp_enter_closed(s, c, 0, "rcvd ACK of FIN");
        return false;
    }
    return true; /* FIN-WAIT-1's ACK of our FIN: see tcp_process_fin */
}

/* RFC 9293 3.10.7.4 sixth: the URG bit. The urgent pointer is not kept and urgent data is delivered
 * inline, in sequence with the rest (RFC 6093 advises new applications not to use it), so nothing
 * is done. */
static void tcp_process_urg(struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    (void)c;
    (void)a;
}

/* Out-of-order range list: insert [l, r), merging neighbours. False when there is no room. */
static bool tcp_ooo_insert(struct ts_tcp_conn *c, uint32_t l, uint32_t r)
{
    unsigned i = 0;
    while (i < c->rcv.nooo && seq_lt(c->rcv.ooo[i].right, l))
        i++;
    /* ranges from i on end at or after l */
    unsigned j = i;
    while (j < c->rcv.nooo && seq_leq(c->rcv.ooo[j].left, r)) {
        l = seq_min(l, c->rcv.ooo[j].left);
        r = seq_max(r, c->rcv.ooo[j].right);
        j++;
    }
    if (j == i) {
        if (c->rcv.nooo >= TCP_OOO_MAX)
            return false;
        memmove(&c->rcv.ooo[i + 1], &c->rcv.ooo[i], (c->rcv.nooo - i) * sizeof(c->rcv.ooo[0]));
        c->rcv.nooo++;
    } else if (j > i + 1) {
        memmove(&c->rcv.ooo[i + 1], &c->rcv.ooo[j], (c->rcv.nooo - j) * sizeof(c->rcv.ooo[0]));
        c->rcv.nooo -= j - i - 1;
    }
    c->rcv.ooo[i].left = l;
    c->rcv.ooo[i].right = r;
    return true;
}

/* The part of a segment's text the seventh step takes. */
struct tcp_text {
    uint32_t seq;
    const uint8_t *p;
    uint32_t n;
    bool fin; /* the segment's FIN, if still inside what is taken */
};

/* Cut off what we already have (a duplicate or overlapping retransmission) and what lies beyond
 * the window we advertised or the room in the ring. */
static void tcp_text_trim(struct ts_stack *s, struct ts_tcp_conn *c, struct tcp_text *t)
{
    if (seq_lt(t->seq, c->rcv.nxt)) {
        uint32_t skip = c->rcv.nxt - t->seq;
        ts_count(s, TS_C_TCP_DUP_DATA_RX);
        /* RFC 2883 4.1.1: the part we already had is reported (the new part is ACKed). */
        tcp_dsack_note(c, t->seq, t->seq + (skip < t->n ? skip : t->n));
        c->ack_now = true;
        if (skip >= t->n) {
            if (skip > t->n)
                t->fin = false; /* the FIN too is old */
            t->p += t->n;
            t->n = 0;
        } else {
            t->p += skip;
            t->n -= skip;
        }
        t->seq = c->rcv.nxt;
    }
    uint32_t edge = c->rcv.nxt + tcp_rcv_wnd_seen(c);
    uint32_t room_edge = c->rcv.nxt + ts_ring_free_space(&c->rcvbuf);
    if (seq_lt(room_edge, edge))
        edge = room_edge;
    if (seq_gt(t->seq + t->n, edge)) {
        t->n = seq_lt(t->seq, edge) ? edge - t->seq : 0;
        t->fin = false; /* beyond the window */
        c->ack_now = true;
    }
}

/* Enter (or extend) quick-ACK mode: the next data segments are each ACKed at once, as many as
 * half the window holds full segments, 2 to TCP_QUICKACKS (as Linux's tcp_incr_quickack). */
static void tcp_quickack_enter(struct ts_tcp_conn *c)
{
    uint32_t n = c->adv_mss ? tcp_rcv_wnd(c) / (2u * c->adv_mss) : 0;
    if (n < 2)
        n = 2;
    if (n > TCP_QUICKACKS)
        n = TCP_QUICKACKS;
    if (n > c->quickack)
        c->quickack = (uint8_t)n;
}

/* Data arrived in order: is its ACK due at once by quick-ACK mode? The mode is entered with the
 * first data of a connection and after an idle gap longer than the RTO (the peer's slow start
 * begins again, or it is a new request), as Linux does, and on out-of-order arrival
 * (tcp_text_out_of_order): a delayed ACK there would hold back a sender whose window is a few
 * segments, 40 ms per round trip (a lone first segment waited the whole delay). It does not
 * apply while the connection is interactive (c->pingpong). */
static bool tcp_quickack_note(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->bytes_received == 0 || s->now - c->data_rx_time > c->rtt.rto)
        tcp_quickack_enter(c);
    c->data_rx_time = s->now;
    /* Not while interactive (tcp_output.c, tcp_send_next): a quick ACK would go alone just
     * before the answer, and release the peer's Nagle-held next small write while our answer,
     * a small segment, is still unacknowledged; our Nagle then holds our next answer until the
     * peer's delayed ACK (as Linux's tcp_in_quickack_mode). */
    return c->quickack > 0 && !c->pingpong;
}

/* RFC 2883 4.1.2: text above RCV.NXT that we already hold (the peer resent it because the ACK
 * with its SACK block was lost): the part held is the D-SACK block, and the block that holds it
 * follows it (tcp_data_opts: the most recent arrival's block comes first). */
static void tcp_ooo_dsack(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_text *t)
{
    for (unsigned i = 0; i < c->rcv.nooo; i++) {
        uint32_t l = seq_max(t->seq, c->rcv.ooo[i].left);
        uint32_t r = seq_min(t->seq + t->n, c->rcv.ooo[i].right);
        if (seq_lt(l, r)) {
            ts_count(s, TS_C_TCP_DUP_DATA_RX);
            tcp_dsack_note(c, l, r);
            return;
        }
    }
}

/* Text beyond RCV.NXT: written at its place in the ring and its range remembered. */
static void tcp_text_out_of_order(struct ts_stack *s, struct ts_tcp_conn *c,
                                  const struct tcp_text *t)
{
    if (t->n == 0)
        return;
    tcp_ooo_dsack(s, c, t);
    c->ack_now = true;     /* RFC 5681 4.2: immediate duplicate ACK (with SACK) */
    tcp_quickack_enter(c); /* and the data that fills the hole and follows it, at once */
    if (ts_ring_write_at(&c->rcvbuf, t->seq - c->rcv.nxt, t->p, t->n) < 0) {
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY); /* the peer sends it again */
        return;
    }
    if (!tcp_ooo_insert(c, t->seq, t->seq + t->n)) {
        ts_count(s, TS_C_TCP_DROP_OOO_FULL);
        return;
    }
    c->rcv.ooo_last = t->seq;
    if (t->fin) {
        c->rcv.ooo_fin = true;
        c->rcv.ooo_fin_seq = t->seq + t->n;
    }
    ts_count(s, TS_C_TCP_OOO_QUEUED);
}

/* A FIN with no text beyond RCV.NXT: held as the end of the stream, taken once the hole before
 * it fills (as the out-of-order text's FIN is), and a duplicate ACK at once (RFC 5681 4.2). */
static void tcp_fin_out_of_order(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq)
{
    c->ack_now = true;
    if (!c->rcv.ooo_fin) {
        c->rcv.ooo_fin = true;
        c->rcv.ooo_fin_seq = seq;
    }
    ts_count(s, TS_C_TCP_OOO_QUEUED);
}

/* Text at RCV.NXT, already written at the front of the ring: delivered, with whatever
 * out-of-order data it now joins. Returns the bytes that became readable. */
static uint32_t tcp_text_in_order(struct ts_tcp_conn *c, const struct tcp_text *t)
{
    uint32_t delivered = 0;
    if (t->n) {
        ts_ring_commit(&c->rcvbuf, t->n);
        c->rcv.nxt += t->n;
        delivered = t->n;
    }
    if (c->rcv.nooo > 0 && t->n > 0) {
        c->ack_now = true; /* RFC 5681 4.2: data filling a hole is ACKed at once */
        while (c->rcv.nooo > 0 && seq_leq(c->rcv.ooo[0].left, c->rcv.nxt)) {
            if (seq_gt(c->rcv.ooo[0].right, c->rcv.nxt)) {
                uint32_t more = c->rcv.ooo[0].right - c->rcv.nxt;
                ts_ring_commit(&c->rcvbuf, more);
                c->rcv.nxt += more;
                delivered += more;
            }
            memmove(&c->rcv.ooo[0], &c->rcv.ooo[1], (c->rcv.nooo - 1) * sizeof(c->rcv.ooo[0]));
            c->rcv.nooo--;
        }
    }
    return delivered;
}

/* An ACK owed for in-order data of a batch: sent at the batch's end (ts_tcp_batch_end). */
static void tcp_ack_at_batch_end(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->ack_queued)
        return;
    c->ack_queued = true;
    c->batch_next = s->tcp->batch_acks;
    s->tcp->batch_acks = c;
}

/* Bytes became readable: the owner hears of it, and an ACK is owed. RFC 1122 4.2.3.2: ACK at
 * least every second full-sized segment; as Linux, once more than one full segment's worth is
 * unacknowledged (segments carrying SACK blocks are a little shorter than "full" and must still
 * count). A super-segment is one segment: it is ACKed at once. So is a batch of frames the link
 * handed over at one wake-up, which is what the kernel's GRO makes into one super-segment: one
 * ACK at its end, or every TCP_BATCH_ACK_BYTES of it, rather than one per two frames (each ACK is
 * a write to the tap and a round of the sender's ACK processing). Otherwise the delayed ACK timer
 * runs. */
static void tcp_text_delivered(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t delivered)
{
    bool quick = tcp_quickack_note(s, c);
    c->bytes_received += delivered;
    uint32_t full =
        c->adv_mss > TCP_OPT_TS_SPACE && c->ts_ok ? c->adv_mss - TCP_OPT_TS_SPACE : c->adv_mss;
    c->unacked_bytes += delivered;
    bool owed = c->unacked_bytes > full || quick;
    if (owed && s->tcp->batch && c->unacked_bytes < TCP_BATCH_ACK_BYTES)
        tcp_ack_at_batch_end(s, c);
    else if (owed)
        c->ack_now = true;
    else if (c->timers.delack == TS_TIME_NEVER)
        c->timers.delack = s->now + TCP_DELACK;
    tcp_notify(c, TS_TCP_EV_READABLE);
}

/* The text of a segment in ESTABLISHED, FIN-WAIT-1 or FIN-WAIT-2. Returns true when the
 * segment's FIN (or a FIN held from an earlier out-of-order segment) is now in order. */
static bool tcp_text_take(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    struct tcp_text t = {.seq = a->seq, .p = a->seg->payload, .n = a->text, .fin = a->fin};
    tcp_text_trim(s, c, &t);
    if (t.seq != c->rcv.nxt) {
        tcp_text_out_of_order(s, c, &t);
        return false;
    }
    if (ts_ring_write_at(&c->rcvbuf, 0, t.p, t.n) < 0) {
        ts_count(s, TS_C_TCP_DROP_NO_MEMORY); /* no page for it: the peer sends it again */
        return false;
    }
    uint32_t delivered = tcp_text_in_order(c, &t);
    bool fin = t.fin;
    if (c->rcv.ooo_fin && c->rcv.nxt == c->rcv.ooo_fin_seq) {
        c->rcv.ooo_fin = false;
        fin = true;
    }
    if (delivered)
        tcp_text_delivered(s, c, delivered);
    return fin;
}

/* RFC 9293 3.10.7.4 seventh: the segment text, taken in ESTABLISHED and FIN-WAIT-1/2. False: the
 * connection ended (data nobody will read). */
static bool tcp_process_text(struct ts_stack *s, struct ts_tcp_conn *c, struct tcp_arrival *a)
{
    switch (c->state) {
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
        if (a->text > 0 && c->orphan && !c->parent && seq_gt(a->seq + a->text, c->rcv.nxt)) {
            /* Nobody will ever read this (the app closed): reset, as Linux does. */
            ts_count(s, TS_C_TCP_DROP_CLOSED);
            tcp_drop(s, c, 0, "rcvd data after close");
            return false;
        }
        if (a->text > 0)
            a->fin_in_order = tcp_text_take(s, c, a);
        else if (a->fin && a->seq != c->rcv.nxt)
            tcp_fin_out_of_order(s, c, a->seq);
        else
            a->fin_in_order = a->fin;
        break;
    default:
        /* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer's FIN came already, so data past
         * it cannot be (RFC 9293 3.10.7.4 seventh): ignored, and counted. */
        if (a->text > 0)
            ts_count(s, TS_C_TCP_DROP_CLOSED);
        break;
    }
    return true;
}

/* When the ACK of an in-order FIN goes. In FIN-WAIT-1/2 at once: our own close waits on it. In
 * SYN-RECEIVED and ESTABLISHED (to CLOSE-WAIT) it waits for the delayed-ACK timer, as Linux's
 * does (RFC 1122 4.2.3.2 lets an ACK wait, under 0.5 s): the application usually answers a
 * moment later with its own FIN, which then carries the ACK, one segment instead of two. An ACK
 * the segment's text already owes (quick ACK, a filled hole) still goes at once. */
static void tcp_fin_ack_plan(struct ts_stack *s, struct ts_tcp_conn *c)
{
    bool to_close_wait = c->state == TS_TCP_ESTABLISHED || c->state == TS_TCP_SYN_RECV;
    if (!to_close_wait)
        c->ack_now = true;
    else if (!c->ack_now && c->timers.delack == TS_TIME_NEVER)
        c->timers.delack = s->now + TCP_DELACK;
}

/* The FIN, once it is next in sequence: the state it leads to (RFC 9293 3.10.7.4 eighth). */
static void tcp_fin_in_order(struct ts_stack *s, struct ts_tcp_conn *c)
{
    c->rcv.nxt++;
    c->rcv.fin_rcvd = true;
    tcp_fin_ack_plan(s, c);
    c->rcv.ooo_fin = false;
    if (c->rcv.nooo > 0) {
        /* RFC 9293 3.10.7.4 eighth: the FIN ends the stream; what a peer queued beyond it
         * can never be delivered. */
        ts_count(s, TS_C_TCP_DROP_PAST_FIN);
        c->rcv.nooo = 0;
    }
    switch (c->state) {
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
        ts_tcp_set_state(s, c, TS_TCP_CLOSE_WAIT, "rcvd FIN");
        break;
    case TS_TCP_FIN_WAIT1:
        if (tcp_our_fin_acked(c))
            ts_tcp_set_state(s, c, TS_TCP_TIME_WAIT, "rcvd FIN and ACK of FIN");
        else
            ts_tcp_set_state(s, c, TS_TCP_CLOSING, "rcvd FIN (simultaneous close)");
        break;
    case TS_TCP_FIN_WAIT2:
        ts_tcp_set_state(s, c, TS_TCP_TIME_WAIT, "rcvd FIN");
        break;
    default:
        break;
    }
    tcp_notify(c, TS_TCP_EV_READABLE);
}

/* RFC 9293 3.10.7.4 eighth: the FIN bit. FIN-WAIT-1's "ACK of our FIN" (a fifth-step rule) is taken
 * here, after the FIN, so that a segment carrying both moves FIN-WAIT-1 straight to TIME-WAIT. */
static void tcp_process_fin(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_arrival *a)
{
    if (a->fin_in_order)
        tcp_fin_in_order(s, c);
    if (c->state == TS_TCP_FIN_WAIT1 && tcp_our_fin_acked(c)) {
        ts_tcp_set_state(s, c, TS_TCP_FIN_WAIT2, "rcvd ACK of FIN");
        if (c->orphan)
            c->timers.wait = s->now + TCP_FIN_TIMEOUT;
    }
}

/* RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states, in the RFC's eight steps. */
static void tcp_other_states_input(struct ts_stack *s, struct ts_tcp_conn *c,
                                   const struct tcp_hdr *seg)
{
    struct tcp_arrival a;
    if (!tcp_arrival_init(s, c, seg, &a))
        return;
    if (!tcp_check_seq(s, c, &a)) /* first */
        return;
    if (!tcp_check_rst(s, c, &a)) /* second */
        return;
    /* third: security and compartment, not implemented (no IP security option is used) */
    if (!tcp_check_syn(s, c, &a)) /* fourth */
        return;
    if (!tcp_process_ack(s, c, &a)) /* fifth */
        return;
    tcp_process_urg(c, &a);          /* sixth */
    if (!tcp_process_text(s, c, &a)) /* seventh */
        return;
    tcp_process_fin(s, c, &a); /* eighth */
    tcp_output(s, c);
}

/* ---- RFC 9293 3.10.7: a segment arrives ---- */

/* ---- RFC 9293 3.10.7.4 in TIME-WAIT, for a compact record (tcp_timewait.c) ---- */

/* RFC 6191 / RFC 9293 3.10.7.4: a new SYN may reopen a TIME_WAIT 4-tuple if it is clearly newer:
 * a higher timestamp, or without timestamps a higher sequence number. True when it did. */
static bool tcp_tw_reopen(struct ts_stack *s, struct tcp_tw *tw, const struct ipv4_hdr *ip,
                          const struct tcp_hdr *seg)
{
    bool newer = (tw->ts_ok && seg->opts.ts_ok) ? seq_gt(seg->opts.tsval, tw->ts_recent)
                                                : seq_gt(seg->seq, tw->rcv_nxt);
    struct ts_tcp_conn *l = tcp_lookup_listener(s, ip->dst, seg->dport);
    if (!newer || !l)
        return false; /* an old duplicate, answered by the synchronized-state rules (an ACK) */
    uint32_t min_iss = tw->snd_nxt + 65536; /* past the old one's numbers, and a window more */
    ts_count(s, TS_C_TCP_TIME_WAIT_REUSE);
    tcp_tw_close(s, tw, "new SYN in TIME_WAIT (RFC 6191)");
    tcp_listen_input(s, l, ip, seg, &min_iss);
    return true;
}

/* A segment for a record: a SYN that reopens the 4-tuple, or else the rules of a block in
 * TIME-WAIT, run on a block made from the record for this segment. */
static void tcp_tw_input(struct ts_stack *s, struct tcp_tw *tw, const struct ipv4_hdr *ip,
                         const struct tcp_hdr *seg)
{
    if ((seg->flags & TCP_SYN) && !(seg->flags & TCP_ACK) && tcp_tw_reopen(s, tw, ip, seg))
        return;
    struct ts_tcp_conn c;
    tcp_tw_expand(s, tw, &c);
    tcp_other_states_input(s, &c, seg);
    tcp_tw_absorb(s, tw, &c);
}

/* ---- RFC 9293 3.10.7: a segment arrives ---- */

void ts_tcp_batch_begin(struct ts_stack *s)
{
    s->tcp->batch = true;
}

void ts_tcp_batch_end(struct ts_stack *s)
{
    struct ts_tcp_table *t = s->tcp;
    t->batch = false;
    while (t->batch_acks) {
        struct ts_tcp_conn *c = t->batch_acks;
        t->batch_acks = c->batch_next;
        c->ack_queued = false;
        if (c->unacked_bytes > 0) { /* not carried by a segment sent since */
            c->ack_now = true;
            tcp_output(s, c);
            tcp_conn_done(s, c); /* the ACK stopped its delayed-ACK timer */
        }
    }
}

void ts_tcp_input(struct ts_stack *s, const struct ipv4_hdr *ip, bool csum_ok)
{
    ts_count(s, TS_C_TCP_RX);
    if (ts_ip_is_broadcast(s, ip->dst) || ipv4_is_multicast(ip->dst)) {
        ts_count(s, TS_C_TCP_DROP_BROADCAST); /* RFC 1122 4.2.3.10 */
        return;
    }
    struct tcp_hdr seg;
    enum ts_counter r =
        tcp_parse_ex(ip->payload, ip->payload_len, ip->src, ip->dst, !csum_ok, &seg);
    if (r != TS_C_OK) {
        ts_count(s, r);
        return;
    }
    /* SYN with RST or FIN, or no SYN, ACK, RST or FIN at all: nonsense to a connection or a
     * listener, dropped silently (as Linux); but a closed port answers anything but a RST with a
     * RST (RFC 9293 3.10.7.1), these too, so they are looked up. */
    uint8_t f = seg.flags;
    bool nonsense = ((f & TCP_SYN) && (f & (TCP_RST | TCP_FIN))) ||
                    !(f & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN));
    ts_stack_segment_note(s, ip->dst, ip->src, &seg, false); /* the segment hook (stack.h) */
    uint32_t h = tcp_tuple_hash(s, ip->dst, seg.dport, ip->src, seg.sport);
    struct ts_tcp_conn *c = tcp_lookup_h(s, h, ip->dst, seg.dport, ip->src, seg.sport);
    if (!c) {
        struct tcp_tw *tw = tcp_tw_lookup_h(s, h, ip->dst, seg.dport, ip->src, seg.sport);
        struct ts_tcp_conn *l = tw ? NULL : tcp_lookup_listener(s, ip->dst, seg.dport);
        if (nonsense && (tw || l))
            ts_count(s, TS_C_TCP_DROP_BAD_FLAGS);
        else if (tw)
            tcp_tw_input(s, tw, ip, &seg);
        else if (l)
            tcp_listen_input(s, l, ip, &seg, NULL);
        else
            tcp_closed_input(s, ip, &seg);
        return;
    }
    c->segs_in++;
    if (nonsense)
        ts_count(s, TS_C_TCP_DROP_BAD_FLAGS);
    else if (c->state == TS_TCP_SYN_SENT)
        tcp_syn_sent_input(s, c, &seg);
    else
        tcp_other_states_input(s, c, &seg);
    tcp_conn_done(s, c);
}
