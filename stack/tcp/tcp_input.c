/* TCP input: RFC 9293 3.10.7 "SEGMENT ARRIVES", in the RFC's order, with the RFC 5961
 * hardening, RFC 7323 PAWS and RFC 6191 TIME_WAIT reuse. Also the ICMP error upcall. */
#include <errno.h>
#include <string.h>

#include "tcp_internal.h"
#include "wire/icmp.h"

static inline uint32_t fin_seq(const struct ts_tcp_conn *c)
{
    return c->snd.buf_seq + c->sndbuf.len;
}

/* Our FIN has been sent and acknowledged. */
static bool our_fin_acked(const struct ts_tcp_conn *c)
{
    return c->snd.fin_queued && seq_gt(c->snd.una, fin_seq(c));
}

/* Options of a received SYN or SYN-ACK. */
static void syn_options(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    const struct ts_config *cfg = &s->cfg;
    uint32_t mss = TCP_DEFAULT_MSS; /* RFC 9293 3.7.1: 536 when the option is absent */
    if (seg->opts.mss_ok) {
        mss = seg->opts.mss;
        if (mss < 48)
            mss = 48; /* as Linux's tcp_min_snd_mss: a tiny MSS only makes us slow */
    }
    c->peer_mss = (uint16_t)mss;
    c->ws_ok = seg->opts.ws_ok && cfg->tcp_window_scaling;
    if (c->ws_ok) {
        /* RFC 7323 2.3: a shift above 14 is used as 14. */
        c->snd.wscale = seg->opts.ws > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : seg->opts.ws;
    } else {
        c->snd.wscale = 0;
        c->rcv.wscale = 0;
    }
    c->ts_ok = seg->opts.ts_ok && cfg->tcp_timestamps;
    if (c->ts_ok) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_age = s->now;
    }
    c->sack_ok = seg->opts.sack_perm && cfg->tcp_sack;
    tcp_update_mss(c);
}

static void no_socket(struct ts_stack *s, const struct ipv4_hdr *ip, const struct tcp_hdr *seg)
{
    if (seg->flags & TCP_RST) {
        ts_count(s, TS_C_TCP_DROP_RST_NO_SOCKET);
        return;
    }
    ts_count(s, TS_C_TCP_DROP_NO_SOCKET);
    if (seg->sport != 0 && seg->dport != 0)
        tcp_send_rst_reply(s, ip->dst, ip->src, seg);
}

static void sync_input(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg_in);

/* RFC 9293 3.10.7.2: LISTEN. */
static void listen_input(struct ts_stack *s, struct ts_tcp_conn *l, const struct ipv4_hdr *ip,
                         const struct tcp_hdr *seg, bool have_min_iss, uint32_t min_iss)
{
    uint8_t f = seg->flags;
    l->segs_in++;
    if (f & TCP_RST) {
        ts_count(s, TS_C_TCP_DROP_LISTEN_BAD); /* first: ignore a RST */
        return;
    }
    if (f & TCP_ACK) {
        bool checked;
        struct ts_tcp_conn *c = tcp_syncookie_check(s, l, ip, seg, &checked);
        if (c) {
            c->segs_in = 1;
            sync_input(s, c, seg); /* the ACK may carry data */
            tcp_conn_reap(s, c);
            return;
        }
        /* second: an ACK to a listener gets <SEQ=SEG.ACK><CTL=RST> */
        if (!checked)
            ts_count(s, TS_C_TCP_DROP_LISTEN_BAD);
        tcp_send_rst_reply(s, ip->dst, ip->src, seg);
        return;
    }
    if (!(f & TCP_SYN)) {
        ts_count(s, TS_C_TCP_DROP_LISTEN_BAD);
        return;
    }
    /* RFC 4987: bounded half-open and accept queues. */
    if (l->listener.acceptq_len >= (unsigned)l->listener.backlog) {
        ts_count(s, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL);
        return;
    }
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
    c->snd.iss = tcp_isn(s, c->laddr, c->lport, c->raddr, c->rport, s->now);
    if (have_min_iss && seq_lt(c->snd.iss, min_iss))
        c->snd.iss = min_iss; /* RFC 6191: above anything the old incarnation used */
    c->ts_offset = tcp_isn(s, c->raddr, c->rport, c->laddr, c->lport, 0);
    c->snd.una = c->snd.nxt = c->snd.max = c->snd.iss;
    c->snd.buf_seq = c->snd.iss + 1;
    c->rcv.irs = seg->seq;
    c->rcv.nxt = seg->seq + 1;
    syn_options(s, c, seg);
    c->snd.wnd = seg->wnd; /* RFC 7323 2.2: never scaled in a SYN */
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = seg->seq;
    c->snd.wl2 = c->snd.iss;
    c->last_rx = s->now;
    c->segs_in = 1;
    /* Data on a SYN is not queued (RFC 9293 allows either); the peer sends it again. */
    tcp_hash_insert(s, c);
    ts_tcp_set_state(s, c, TS_TCP_SYN_RECV, "rcvd SYN");
    tcp_send_syn(s, c);
}

/* SYN_SENT/SYN_RECV -> ESTABLISHED bookkeeping. */
static void established(struct ts_stack *s, struct ts_tcp_conn *c, const char *cause)
{
    tcp_cc_init(c);
    tcp_keepalive_reset(c, s->now);
    ts_tcp_set_state(s, c, TS_TCP_ESTABLISHED, cause);
    if (c->parent)
        tcp_child_established(s, c);
    else
        tcp_notify(c, TS_TCP_EV_CONNECTED | TS_TCP_EV_WRITABLE);
    if (c->snd.fin_queued && c->state == TS_TCP_ESTABLISHED)
        ts_tcp_set_state(s, c, TS_TCP_FIN_WAIT1, "app close");
}

/* RFC 9293 3.10.7.3: SYN-SENT. */
static void syn_sent_input(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    uint8_t f = seg->flags;
    bool ack_ok = false;
    if (f & TCP_ACK) {
        if (seq_leq(seg->ack, c->snd.iss) || seq_gt(seg->ack, c->snd.max)) {
            ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
            tcp_send_rst_reply(s, c->laddr, c->raddr, seg); /* not if it is a RST */
            return;
        }
        ack_ok = true;
    }
    if (f & TCP_RST) {
        if (ack_ok) {
            ts_count(s, TS_C_TCP_RST_RX);
            c->rst_rcvd = true;
            tcp_drop(s, c, ECONNREFUSED, "rcvd RST");
        } else {
            ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
        }
        return;
    }
    if (!(f & TCP_SYN)) {
        ts_count(s, TS_C_TCP_DROP_SYN_SENT_BAD);
        return;
    }
    c->rcv.irs = seg->seq;
    c->rcv.nxt = seg->seq + 1;
    syn_options(s, c, seg);
    uint32_t space = c->opts.rcvbuf - c->rcvbuf.len;
    c->rcv.adv = c->rcv.nxt + (space > 65535 ? 65535 : space); /* what our SYN said */
    c->rcv.adv_seen = c->rcv.adv;
    c->snd.wnd = seg->wnd; /* RFC 7323 2.2: not scaled in a SYN */
    c->snd.max_wnd = c->snd.wnd;
    c->snd.wl1 = seg->seq;
    c->snd.wl2 = seg->ack;
    if (ack_ok) {
        c->snd.una = seg->ack;
        if (c->rtt.timing && seq_gt(seg->ack, c->rtt.seq)) {
            tcp_rtt_sample(c, s->now - c->rtt.start);
            c->rtt.timing = false;
        }
        c->retries = 0;
        tcp_timer_rexmt_stop(c);
        established(s, c, "rcvd SYN-ACK");
        /* Data on the SYN-ACK is not queued; the peer sends it again. */
        c->ack_now = true;
        tcp_output(s, c);
    } else {
        /* RFC 9293 3.10.7.3 fourth: simultaneous open. */
        ts_tcp_set_state(s, c, TS_TCP_SYN_RECV, "rcvd SYN in SYN_SENT (simultaneous open)");
        tcp_send_syn(s, c);
    }
}

/* Out-of-order range list: insert [l, r), merging neighbours. False when there is no room. */
static bool ooo_insert(struct ts_tcp_conn *c, uint32_t l, uint32_t r)
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

/* Text of a segment in ESTABLISHED/FIN_WAIT1/FIN_WAIT2 (RFC 9293 3.10.7.4 seventh). Returns true
 * when the segment's FIN (or a FIN held from an earlier out-of-order segment) is now in order. */
static bool rcv_data(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg, bool fin)
{
    uint32_t seq = seg->seq;
    const uint8_t *p = seg->payload;
    uint32_t n = (uint32_t)seg->payload_len;
    if (seq_lt(seq, c->rcv.nxt)) {
        /* Trim what we already have (duplicate or overlapping retransmission). */
        uint32_t skip = c->rcv.nxt - seq;
        ts_count(s, TS_C_TCP_DUP_DATA_RX);
        c->ack_now = true;
        if (skip >= n) {
            if (skip > n)
                fin = false; /* the FIN too is old */
            p += n;
            n = 0;
        } else {
            p += skip;
            n -= skip;
        }
        seq = c->rcv.nxt;
    }
    /* Keep to the window we advertised, and to the room in the ring. */
    uint32_t edge = c->rcv.nxt + tcp_rcv_wnd_seen(c);
    uint32_t room_edge = c->rcv.nxt + ts_ring_free_space(&c->rcvbuf);
    if (seq_lt(room_edge, edge))
        edge = room_edge;
    if (seq_gt(seq + n, edge)) {
        n = seq_lt(seq, edge) ? edge - seq : 0;
        fin = false; /* beyond the window */
        c->ack_now = true;
    }
    if (seq != c->rcv.nxt) {
        if (n == 0)
            return false;
        /* Out of order: write it at its place in the ring and remember the range. */
        if (!ooo_insert(c, seq, seq + n)) {
            ts_count(s, TS_C_TCP_DROP_OOO_FULL);
            c->ack_now = true;
            return false;
        }
        ts_ring_write_at(&c->rcvbuf, seq - c->rcv.nxt, p, n);
        c->rcv.ooo_last = seq;
        if (fin) {
            c->rcv.ooo_fin = true;
            c->rcv.ooo_fin_seq = seq + n;
        }
        ts_count(s, TS_C_TCP_OOO_QUEUED);
        c->ack_now = true; /* RFC 5681 4.2: immediate duplicate ACK (with SACK) */
        return false;
    }
    uint32_t delivered = 0;
    if (n) {
        ts_ring_write_at(&c->rcvbuf, 0, p, n);
        ts_ring_commit(&c->rcvbuf, n);
        c->rcv.nxt += n;
        delivered = n;
    }
    if (c->rcv.nooo > 0 && n > 0) {
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
    if (c->rcv.ooo_fin && c->rcv.nxt == c->rcv.ooo_fin_seq) {
        c->rcv.ooo_fin = false;
        fin = true;
    }
    if (delivered) {
        c->bytes_received += delivered;
        /* RFC 1122 4.2.3.2: ACK at least every second full-sized segment: as Linux, once more
         * than one full segment's worth is unacknowledged (segments carrying SACK blocks are a
         * little shorter than "full" and must still count). */
        uint32_t full = c->adv_mss > 12 && c->ts_ok ? c->adv_mss - 12u : c->adv_mss;
        c->unacked_bytes += delivered;
        if (c->unacked_bytes > full)
            c->ack_now = true;
        else if (c->timers.delack == TS_TIME_NEVER)
            c->timers.delack = s->now + TCP_DELACK;
        tcp_notify(c, TS_TCP_EV_READABLE);
    }
    return fin;
}

void tcp_fin_in_order(struct ts_stack *s, struct ts_tcp_conn *c)
{
    /* RFC 9293 3.10.7.4 eighth. */
    c->rcv.nxt++;
    c->rcv.fin_rcvd = true;
    c->ack_now = true;
    c->rcv.ooo_fin = false;
    switch (c->state) {
    case TS_TCP_SYN_RECV:
    case TS_TCP_ESTABLISHED:
        ts_tcp_set_state(s, c, TS_TCP_CLOSE_WAIT, "rcvd FIN");
        break;
    case TS_TCP_FIN_WAIT1:
        if (our_fin_acked(c))
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

/* A new cumulative ACK: SND.UNA < SEG.ACK =< SND.MAX. */
static void new_ack(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    ts_time_t now = s->now;
    uint32_t acked = seg->ack - c->snd.una;
    /* RFC 6298 / Karn: a sample from a timed, never retransmitted segment; after a
     * retransmission, RFC 7323 4.1 timestamps still give a valid one. */
    if (c->rtt.timing && seq_gt(seg->ack, c->rtt.seq)) {
        tcp_rtt_sample(c, now - c->rtt.start);
        c->rtt.timing = false;
        c->rtt.karn_blocked = false;
    } else if (c->rtt.karn_blocked && c->ts_ok && seg->opts.ts_ok && seg->opts.tsecr != 0 &&
               seq_geq(seg->opts.tsecr, c->rtt.rxt_tsval)) {
        /* Only an echo of a segment sent at or after our latest retransmission: an older one
         * (the original got through, its ACK did not) would time the loss recovery too. */
        uint32_t d = tcp_ts_now(c, now) - seg->opts.tsecr;
        if (d < 0x7fffffff) {
            tcp_rtt_sample(c, (ts_time_t)d * TS_MS);
            c->rtt.karn_blocked = false;
        }
    }
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
    if (freed)
        tcp_notify(c, TS_TCP_EV_WRITABLE);
}

/* RFC 9293 3.10.7.4: every synchronized state, and SYN_RECV. */
static void sync_input(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg_in)
{
    ts_time_t now = s->now;
    struct tcp_hdr segcopy = *seg_in;
    struct tcp_hdr *seg = &segcopy;
    uint8_t f = seg->flags;

    if (c->state == TS_TCP_SYN_RECV && (f & TCP_SYN) && seg->seq == c->rcv.irs) {
        if (!(f & TCP_ACK)) {
            /* The peer did not get our SYN-ACK: send it again. */
            tcp_send_syn(s, c);
            return;
        }
        /* Simultaneous open: the peer's SYN-ACK acknowledges our SYN. Past its SYN it is a
         * plain ACK. */
        seg->seq++;
        seg->flags &= (uint8_t)~TCP_SYN;
        f = seg->flags;
    }

    uint32_t plen = (uint32_t)seg->payload_len;
    uint32_t seg_len = plen + ((f & TCP_SYN) ? 1 : 0) + ((f & TCP_FIN) ? 1 : 0);

    /* RFC 7323 5.3 R1-R3: PAWS. */
    if (c->ts_ok && seg->opts.ts_ok && !(f & TCP_RST) && seq_lt(seg->opts.tsval, c->ts_recent)) {
        if (now - c->ts_recent_age > TCP_PAWS_IDLE) {
            c->ts_recent = seg->opts.tsval; /* RFC 7323 5.5: ts_recent too old to trust */
            c->ts_recent_age = now;
        } else {
            ts_count(s, TS_C_TCP_DROP_PAWS);
            tcp_send_ack(s, c);
            return;
        }
    }

    /* First: the sequence number (four cases). */
    uint32_t wnd = tcp_rcv_wnd_seen(c);
    bool ok;
    bool ack_only = false;
    if (seg_len == 0)
        ok = wnd == 0 ? seg->seq == c->rcv.nxt : seq_in(seg->seq, c->rcv.nxt, c->rcv.nxt + wnd);
    else
        ok = wnd != 0 && (seq_in(seg->seq, c->rcv.nxt, c->rcv.nxt + wnd) ||
                          seq_in(seg->seq + seg_len - 1, c->rcv.nxt, c->rcv.nxt + wnd));
    if (!ok && wnd < c->adv_mss && seq_geq(seg->seq, c->rcv.nxt) && seg->seq - c->rcv.nxt < 65536) {
        /* RFC 9293 3.10.7.4: with a (nearly) closed window, still take valid ACKs and RSTs,
         * also from a peer whose SND.NXT went past our right edge (a window probe with data):
         * dropping its ACKs would stall our own sending. */
        ok = true;
        ack_only = true;
    }
    if (!ok) {
        if (f & TCP_RST) {
            ts_count(s, TS_C_TCP_DROP_RST_OUT_OF_WINDOW);
            return;
        }
        /* A retransmission of data we already have is a duplicate, not a window violation. */
        if (plen > 0 && seq_leq(seg->seq + seg_len, c->rcv.nxt))
            ts_count(s, TS_C_TCP_DUP_DATA_RX);
        else
            ts_count(s, TS_C_TCP_DROP_OUT_OF_WINDOW);
        if (c->state == TS_TCP_TIME_WAIT && (f & TCP_FIN))
            tcp_timer_time_wait(c, now); /* a retransmitted FIN: restart 2MSL */
        tcp_send_ack(s, c);
        return;
    }
    if (ack_only && !(f & TCP_RST) && seg_len > 0) {
        ts_count(s, TS_C_TCP_DROP_OUT_OF_WINDOW); /* its data; the ACK field is used */
        c->ack_now = true;
        plen = 0;
        seg->payload_len = 0;
        f &= (uint8_t)~TCP_FIN;
    }
    /* RFC 7323 4.3: remember the timestamp to echo. */
    if (c->ts_ok && seg->opts.ts_ok && !seq_lt(seg->opts.tsval, c->ts_recent) &&
        seq_leq(seg->seq, c->rcv.last_ack_sent)) {
        c->ts_recent = seg->opts.tsval;
        c->ts_recent_age = now;
    }

    /* Second: RST (RFC 5961 3.2). */
    if (f & TCP_RST) {
        if (seg->seq != c->rcv.nxt) {
            tcp_send_challenge_ack(s, c);
            return;
        }
        switch (c->state) {
        case TS_TCP_SYN_RECV:
            ts_count(s, TS_C_TCP_RST_RX);
            c->rst_rcvd = true;
            /* passive: back to LISTEN, i.e. the child goes away; active: refused */
            tcp_drop(s, c, c->parent ? 0 : ECONNREFUSED, "rcvd RST");
            return;
        case TS_TCP_ESTABLISHED:
        case TS_TCP_FIN_WAIT1:
        case TS_TCP_FIN_WAIT2:
        case TS_TCP_CLOSE_WAIT:
            ts_count(s, TS_C_TCP_RST_RX);
            c->rst_rcvd = true;
            tcp_drop(s, c, ECONNRESET, "rcvd RST");
            return;
        case TS_TCP_CLOSING:
        case TS_TCP_LAST_ACK:
            ts_count(s, TS_C_TCP_RST_RX);
            c->rst_rcvd = true;
            tcp_drop(s, c, 0, "rcvd RST");
            return;
        case TS_TCP_TIME_WAIT:
            /* RFC 1337: a RST must not assassinate TIME_WAIT; we keep the 2MSL quiet time
             * (Linux closes instead). */
            ts_count(s, TS_C_TCP_DROP_TIME_WAIT_RST);
            return;
        default:
            return;
        }
    }

    /* Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK. */
    if (f & TCP_SYN) {
        tcp_send_challenge_ack(s, c);
        return;
    }

    /* Fifth: ACK. */
    if (!(f & TCP_ACK)) {
        ts_count(s, TS_C_TCP_DROP_NO_ACK);
        return;
    }
    c->last_rx = now;
    c->probes_unacked = 0;
    if (c->timers.keep != TS_TIME_NEVER)
        tcp_keepalive_reset(c, now);
    if (c->state == TS_TCP_SYN_RECV) {
        if (!(seq_lt(c->snd.una, seg->ack) && seq_leq(seg->ack, c->snd.max))) {
            ts_count(s, TS_C_TCP_DROP_BAD_ACK);
            tcp_send_rst_reply(s, c->laddr, c->raddr, seg);
            return;
        }
        if (c->parent && c->parent->listener.acceptq_len >= (unsigned)c->parent->listener.backlog) {
            /* As Linux: ignore the ACK; the SYN-ACK retransmission tries again later. */
            ts_count(s, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL);
            return;
        }
        if (tcp_bufs_alloc(c) < 0) {
            ts_count(s, TS_C_TCP_DROP_NO_MEMORY);
            return;
        }
        c->snd.wnd = (uint32_t)seg->wnd << c->snd.wscale;
        c->snd.max_wnd = c->snd.wnd;
        c->snd.wl1 = seg->seq;
        c->snd.wl2 = seg->ack;
        tcp_cc_init(c); /* new_ack feeds congestion control the ACK of our SYN */
        new_ack(s, c, seg);
        established(s, c, "rcvd ACK of SYN");
    } else {
        /* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT]; the others
         * are dropped and answered with an ACK, throttled like every challenge ACK (section 7),
         * so that a flood of forged ones is not reflected one for one. */
        if (seq_gt(seg->ack, c->snd.max)) {
            ts_count(s, TS_C_TCP_DROP_BAD_ACK);
            tcp_send_challenge_ack(s, c);
            return;
        }
        if (seq_lt(seg->ack, c->snd.una - c->snd.max_wnd)) {
            ts_count(s, TS_C_TCP_DROP_BAD_ACK);
            tcp_send_challenge_ack(s, c);
            return;
        }
        uint32_t new_wnd = (uint32_t)seg->wnd << c->snd.wscale;
        uint32_t sacked_before = c->sacked_bytes;
        if (c->sack_ok && seg->opts.nsack)
            tcp_sack_update(c, &seg->opts); /* before the ACK moves recovery along */
        if (c->sacked_bytes > sacked_before && seg->ack == c->snd.una)
            tcp_sack_lost_retransmit(s, c);
        if (seq_gt(seg->ack, c->snd.una)) {
            new_ack(s, c, seg);
        } else if (seg->ack == c->snd.una && plen == 0 && !(f & TCP_FIN) && new_wnd == c->snd.wnd &&
                   new_wnd > 0 && seq_gt(c->snd.max, c->snd.una)) {
            /* RFC 5681 2: a duplicate ACK. An answer to a zero-window probe is not one (the
             * window is closed, nothing was lost): counting it made a fast retransmit push a
             * full segment into the zero window. */
            tcp_cc_on_dupack(s, c, now);
        }
        /* RFC 9293 3.10.7.4: window update only from a newer segment. */
        if (seq_leq(c->snd.una, seg->ack) &&
            (seq_lt(c->snd.wl1, seg->seq) ||
             (c->snd.wl1 == seg->seq && seq_leq(c->snd.wl2, seg->ack)))) {
            c->snd.wnd = new_wnd;
            c->snd.wl1 = seg->seq;
            c->snd.wl2 = seg->ack;
            if (new_wnd > c->snd.max_wnd)
                c->snd.max_wnd = new_wnd;
        }
        if (c->sack_ok)
            tcp_cc_sack_check(s, c); /* RFC 6675 5: loss recovery from the scoreboard */
    }
    if (c->timers.persist != TS_TIME_NEVER && c->snd.wnd > 0) {
        /* The window opened: leave persist; resend the probe byte if it was not taken. */
        c->timers.persist = TS_TIME_NEVER;
        c->persist_shift = 0;
        c->snd.nxt = c->snd.una;
    }
    switch (c->state) {
    case TS_TCP_CLOSING:
        if (our_fin_acked(c)) {
            ts_tcp_set_state(s, c, TS_TCP_TIME_WAIT, "rcvd ACK of FIN");
            return;
        }
        break;
    case TS_TCP_LAST_ACK:
        if (our_fin_acked(c)) {
            tcp_drop(s, c, 0, "rcvd ACK of FIN");
            return;
        }
        break;
    default:
        break;
    }

    /* Sixth: URG. The urgent pointer is ignored and urgent data delivered inline (RFC 6093). */

    /* Seventh: text. */
    bool fin_in_order = false;
    switch (c->state) {
    case TS_TCP_ESTABLISHED:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_FIN_WAIT2:
        if (plen > 0 && c->orphan && !c->parent && seq_gt(seg->seq + plen, c->rcv.nxt)) {
            /* Nobody will ever read this (the app closed): reset, as Linux does. */
            ts_count(s, TS_C_TCP_DROP_CLOSED);
            tcp_send_rst_conn(s, c);
            tcp_drop(s, c, 0, "rcvd data after close");
            return;
        }
        if (plen > 0)
            fin_in_order = rcv_data(s, c, seg, (f & TCP_FIN) != 0);
        else
            fin_in_order = (f & TCP_FIN) && seg->seq == c->rcv.nxt;
        break;
    default:
        /* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer's FIN came already, so data
         * past it cannot be (RFC 9293 3.10.7.4 seventh): ignored, and counted. */
        if (plen > 0)
            ts_count(s, TS_C_TCP_DROP_CLOSED);
        break;
    }

    /* Eighth: FIN. */
    if (fin_in_order)
        tcp_fin_in_order(s, c);
    if (c->state == TS_TCP_FIN_WAIT1 && our_fin_acked(c)) {
        ts_tcp_set_state(s, c, TS_TCP_FIN_WAIT2, "rcvd ACK of FIN");
        if (c->orphan)
            c->timers.wait = now + TCP_FIN_TIMEOUT;
    }
    tcp_output(s, c);
}

void ts_tcp_input(struct ts_stack *s, const struct ipv4_hdr *ip)
{
    ts_count(s, TS_C_TCP_RX);
    if (ts_ip_is_broadcast(s, ip->dst) || ipv4_is_multicast(ip->dst)) {
        ts_count(s, TS_C_TCP_DROP_BROADCAST); /* RFC 1122 4.2.3.10 */
        return;
    }
    struct tcp_hdr seg;
    enum ts_counter r = tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, &seg);
    if (r != TS_C_OK) {
        ts_count(s, r);
        return;
    }
    uint8_t f = seg.flags;
    if (((f & TCP_SYN) && (f & (TCP_RST | TCP_FIN))) ||
        !(f & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN))) {
        ts_count(s, TS_C_TCP_DROP_BAD_FLAGS);
        return;
    }
    struct ts_tcp_conn *c = tcp_lookup(s, ip->dst, seg.dport, ip->src, seg.sport);
    if (c && c->state == TS_TCP_TIME_WAIT && (f & TCP_SYN) && !(f & TCP_ACK)) {
        /* RFC 6191 / RFC 9293 3.10.7.4: a new SYN may reopen a TIME_WAIT 4-tuple if it is
         * clearly newer: a higher timestamp, or without timestamps a higher sequence number. */
        bool newer = (c->ts_ok && seg.opts.ts_ok) ? seq_gt(seg.opts.tsval, c->ts_recent)
                                                  : seq_gt(seg.seq, c->rcv.nxt);
        struct ts_tcp_conn *l = tcp_lookup_listener(s, ip->dst, seg.dport);
        if (newer && l && c->orphan) {
            uint32_t min_iss = c->snd.max + 65536;
            ts_count(s, TS_C_TCP_TIME_WAIT_REUSE);
            ts_tcp_set_state(s, c, TS_TCP_CLOSE, "new SYN in TIME_WAIT (RFC 6191)");
            tcp_conn_free(s, c);
            listen_input(s, l, ip, &seg, true, min_iss);
            return;
        }
        /* else: an old duplicate, answered by the synchronized-state rules (an ACK) */
    }
    if (!c) {
        struct ts_tcp_conn *l = tcp_lookup_listener(s, ip->dst, seg.dport);
        if (l)
            listen_input(s, l, ip, &seg, false, 0);
        else
            no_socket(s, ip, &seg);
        return;
    }
    c->segs_in++;
    if (c->state == TS_TCP_SYN_SENT)
        syn_sent_input(s, c, &seg);
    else
        sync_input(s, c, &seg);
    tcp_conn_reap(s, c);
}

/* ---- ICMP errors (RFC 1122 4.2.3.9, RFC 5927, RFC 1191) ---- */

static int unreach_errno(uint8_t code)
{
    switch (code) {
    case ICMP_UNREACH_NET:
        return ENETUNREACH;
    case ICMP_UNREACH_PROTO:
    case ICMP_UNREACH_PORT:
        return ECONNREFUSED;
    default:
        return EHOSTUNREACH;
    }
}

void ts_tcp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    struct tcp_hdr q;
    if (!tcp_parse_quoted(e->l4, e->l4_len, &q)) {
        ts_count(s, TS_C_TCP_ICMP_DROP_NO_CONN);
        return;
    }
    uint32_t seq = q.seq;
    struct ts_tcp_conn *c = tcp_lookup(s, e->src, q.sport, e->dst, q.dport);
    if (!c || c->is_listener) {
        ts_count(s, TS_C_TCP_ICMP_DROP_NO_CONN);
        return;
    }
    /* RFC 5927 4.1: only believe errors quoting a sequence number we have in flight. */
    if (!seq_in(seq, c->snd.una, c->snd.max) && !(c->snd.una == c->snd.max && seq == c->snd.una)) {
        ts_count(s, TS_C_TCP_ICMP_DROP_NO_CONN);
        return;
    }
    ts_count(s, TS_C_TCP_ICMP_ERR);
    int err = 0;
    bool hard = false;
    if (e->type == ICMP_DEST_UNREACH) {
        if (e->code == ICMP_UNREACH_NEEDFRAG) {
            /* RFC 1191: lower the path MTU and resend at the new size. A message without an
             * MTU (pre-RFC 1191 router) drops us to 576. RFC 5927 7.1: a forged tiny MTU would
             * make every segment a few bytes long, so like Linux (min_pmtu) we never go below
             * 552 bytes. (Linux also clears DF then; we keep it: no real path is that small.) */
            uint16_t mtu = e->mtu ? e->mtu : 576;
            if (mtu < TCP_MIN_PMTU)
                mtu = TCP_MIN_PMTU;
            if (mtu < c->pmtu) {
                c->pmtu = mtu;
                tcp_update_mss(c);
                if (tcp_synchronized(c->state) && seq_gt(c->snd.max, c->snd.una)) {
                    c->snd.nxt = c->snd.una;
                    c->rtt.timing = false;
                    tcp_output(s, c);
                }
            }
            return;
        }
        err = unreach_errno(e->code);
        hard = e->code == ICMP_UNREACH_PROTO || e->code == ICMP_UNREACH_PORT;
    } else if (e->type == ICMP_TIME_EXCEEDED) {
        err = EHOSTUNREACH;
    } else if (e->type == ICMP_PARAM_PROBLEM) {
        err = EPROTO;
    } else {
        return; /* source quench etc.: ignored (RFC 6633) */
    }
    if (c->state == TS_TCP_SYN_SENT && e->type == ICMP_DEST_UNREACH) {
        /* A connect in progress fails with the matching error, as on Linux. */
        tcp_drop(s, c, err, "rcvd ICMP unreachable");
    } else if (hard && !tcp_synchronized(c->state) && c->state != TS_TCP_SYN_RECV) {
        tcp_drop(s, c, err, "rcvd ICMP port/protocol unreachable");
    } else {
        /* RFC 5927 7.2 (as Linux, FreeBSD): in the synchronized states hard errors are soft
         * too. A blind attacker who hits the window of a bulk transfer would otherwise reset it
         * with one forged datagram, and the peer's own stack says "no such port" with a RST. */
        c->soft_err = err; /* RFC 1122 4.2.3.9: soft; reported if we time out */
        return;
    }
    tcp_conn_reap(s, c);
}
