/* TCP output: what to send and when.
 *
 * Decisions made here:
 *  - Sender SWS avoidance and Nagle (RFC 1122 4.2.3.4, RFC 896): a segment goes out when it is
 *    full-sized, or when it carries all queued data and no small segment is unacknowledged (or
 *    Nagle is off), or when it fills at least half of the largest window the peer ever offered.
 *    "No small segment" rather than "nothing" is Minshall's variant, as Linux's: the short tail
 *    of a write larger than an MSS goes with the full segments before it. Held back behind them
 *    it would wait for an ACK that a receiver delaying its ACKs sends only after its timer (a
 *    2 000-byte request/response from the host's Linux: 22 round trips a second, 44 ms each,
 *    until this). Small writes while a small one is out still coalesce. When only the window
 *    holds data back and nothing is in flight, the persist timer is the override timeout.
 *  - Receiver SWS avoidance (RFC 1122 4.2.3.3): the right edge moves only by at least
 *    min(rcvbuf/2, MSS); it never moves left (RFC 9293 3.8.6.2.2).
 *  - Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2): 40 ms, Linux's delayed-ACK minimum, well under
 *    the 200 ms we allow ourselves and the RFC's 500 ms: a shorter delay costs a few more ACKs but
 *    keeps Nagle + delayed ACK stalls of request/response traffic short. An ACK goes out at once
 *    for every second full-sized segment, for out-of-order data and for data that fills a hole,
 *    and for every data segment in quick-ACK mode (tcp_input.c: tcp_quickack_note).
 *  - Each segment is built straight into the stack's transmit buffer and its payload copied once
 *    from the send ring.
 *  - Offloads: when the link completes checksums (TS_OFFLOAD_CSUM), every segment leaves with only
 *    the pseudo-header sum in its checksum field, so the payload is not read again here. When it
 *    also cuts super-segments (TS_OFFLOAD_TSO4), new data goes out as segments of up to 64 KiB:
 *    one TCP header, the options (timestamps) repeated by the link on each piece of gso_size =
 *    one MSS of data, PSH and FIN on the last piece only. The windows and cwnd are in bytes, so
 *    they limit a super-segment as they limit a run of MSS-sized ones; Nagle and SWS apply to
 *    its last, partial piece as to a small segment of its own. Retransmissions (a SACK hole, an
 *    RTO, a fast retransmit) stay one MSS at a time: what was lost is resent, not 64 KiB. */
#include <string.h>

#include "siphash.h"
#include "tcp_internal.h"

uint32_t tcp_ts_now(const struct ts_tcp_conn *c, ts_time_t now)
{
    /* RFC 7323 5.4: a 1 ms clock, with a per-connection offset. */
    return (uint32_t)(now / TS_MS) + c->ts_offset;
}

uint32_t tcp_rcv_wnd(const struct ts_tcp_conn *c)
{
    return seq_gt(c->rcv.adv, c->rcv.nxt) ? c->rcv.adv - c->rcv.nxt : 0;
}

uint32_t tcp_rcv_wnd_seen(const struct ts_tcp_conn *c)
{
    uint32_t edge = seq_max(c->rcv.adv, c->rcv.adv_seen);
    return seq_gt(edge, c->rcv.nxt) ? edge - c->rcv.nxt : 0;
}

static uint32_t tcp_rcv_space(const struct ts_tcp_conn *c)
{
    /* From the ring's bound, not from what it holds in memory (ringbuf.h): taking memory only
     * when data comes must not change what we advertise. */
    if (!c->rcvbuf.cap)
        return c->opts.rcvbuf;
    uint32_t f = ts_ring_free_space(&c->rcvbuf), slack = tcp_rcv_slack(c);
    return f > slack ? f - slack : 0;
}

uint16_t tcp_rcv_window(struct ts_tcp_conn *c)
{
    uint8_t ws = c->ws_ok ? c->rcv.wscale : 0;
    uint32_t space = tcp_rcv_space(c);
    uint32_t maxwin = (uint32_t)TCP_WND_MAX << ws;
    if (space > maxwin)
        space = maxwin;
    space &= ~(((uint32_t)1 << ws) - 1); /* what the scaled field can say exactly */
    uint32_t cur = tcp_rcv_wnd(c);
    uint32_t cap = c->opts.rcvbuf;
    uint32_t thresh = cap / 2 < c->adv_mss ? cap / 2 : c->adv_mss;
    /* RFC 1122 4.2.3.3: move the right edge only by a useful amount, or to the whole buffer. */
    if (space > cur && (space - cur >= thresh || space == (cap & ~(((uint32_t)1 << ws) - 1))))
        c->rcv.adv = c->rcv.nxt + space;
    else if (!seq_gt(c->rcv.adv, c->rcv.nxt))
        c->rcv.adv = c->rcv.nxt; /* window closed */
    cur = tcp_rcv_wnd(c);
    /* Never shrink: round the field up if the kept edge is not a multiple of the scale. */
    uint32_t field = (cur + ((uint32_t)1 << ws) - 1) >> ws;
    if (field > TCP_WND_MAX)
        field = TCP_WND_MAX;
    uint32_t seen = c->rcv.nxt + (field << ws);
    if (seq_gt(seen, c->rcv.adv_seen) || seq_lt(c->rcv.adv_seen, c->rcv.nxt))
        c->rcv.adv_seen = seen;
    return (uint16_t)field;
}

void tcp_window_update(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (c->rcv.fin_rcvd || !c->rcvbuf.cap)
        return;
    uint32_t cur = tcp_rcv_wnd(c);
    uint32_t space = tcp_rcv_space(c);
    uint32_t cap = c->opts.rcvbuf;
    uint32_t thresh = cap / 2 < c->adv_mss ? cap / 2 : c->adv_mss;
    /* RFC 7323 2.3: the window field cannot say more than 65535 << shift; without that clamp
     * every read sent a useless update when the buffer exceeds the largest window. */
    uint32_t maxwin = (uint32_t)TCP_WND_MAX << (c->ws_ok ? c->rcv.wscale : 0);
    if (space > maxwin)
        space = maxwin;
    if (cap > maxwin)
        cap = maxwin;
    /* RFC 1122 4.2.3.3: update when the window can open by min(rcvbuf/2, MSS); only bother when
     * what the peer has left is under half the buffer (else it is not held back). */
    if (space > cur && space - cur >= thresh && cur < cap / 2)
        tcp_send_ack(s, c);
}

/* Options for a segment of connection c (not SYN). */
static void tcp_data_opts(struct ts_tcp_conn *c, struct tcp_opts *o, ts_time_t now)
{
    memset(o, 0, sizeof(*o));
    if (c->ts_ok) {
        o->ts_ok = true;
        o->tsval = tcp_ts_now(c, now);
        o->tsecr = c->ts_recent;
    }
    unsigned n = 0;
    if (c->rcv.dsack) {
        /* RFC 2883 4: a duplicate segment was received: its range is the first block (below
         * the cumulative ACK, or inside the block that follows), reported once. */
        o->sack[n].left = c->rcv.dsack_range.left;
        o->sack[n].right = c->rcv.dsack_range.right;
        o->nsack = (uint8_t)++n;
    }
    if (c->sack_ok && c->rcv.nooo > 0) {
        /* RFC 2018 4: the first block holds the most recently received segment; the rest
         * follow. 3 blocks fit next to timestamps, 4 without. */
        unsigned max = c->ts_ok ? 3 : 4;
        int first = -1;
        for (unsigned i = 0; i < c->rcv.nooo; i++)
            if (seq_in(c->rcv.ooo_last, c->rcv.ooo[i].left, c->rcv.ooo[i].right)) {
                first = (int)i;
                break;
            }
        if (first >= 0) {
            o->sack[n].left = c->rcv.ooo[first].left;
            o->sack[n].right = c->rcv.ooo[first].right;
            n++;
        }
        for (unsigned i = 0; i < c->rcv.nooo && n < max; i++) {
            if ((int)i == first)
                continue;
            o->sack[n].left = c->rcv.ooo[i].left;
            o->sack[n].right = c->rcv.ooo[i].right;
            n++;
        }
        o->nsack = (uint8_t)n;
    }
}

/* Payload room per segment given the options this segment carries. */
static uint32_t tcp_seg_room(const struct ts_tcp_conn *c, const struct tcp_opts *o)
{
    uint32_t m = tcp_path_mss(c);
    size_t ol = tcp_opts_len(o);
    return m > ol + 8 ? m - (uint32_t)ol : 8;
}

static void tcp_after_ack_sent(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *h)
{
    if (c->quickack && c->unacked_bytes)
        c->quickack--; /* one quick ACK spent (tcp_quickack_note) */
    if (c->rcv.dsack && h->opts.nsack) {
        c->rcv.dsack = false;
        ts_count(s, TS_C_TCP_DSACK_TX);
    }
    c->rcv.last_ack_sent = c->rcv.nxt;
    c->ack_now = false;
    c->unacked_bytes = 0;
    c->timers.delack = TS_TIME_NEVER;
}

/* Emit h into buf (from ts_ip_tx_buf) and send it: every segment we send leaves through here.
 * DF is set on all of them (RFC 1191: path MTU discovery). With gso_size, h is a super-segment
 * the link cuts into pieces of gso_size data bytes. Returns the segments that went on the wire
 * (the pieces), 0 when it did not fit. */
static unsigned tcp_xmit_buf(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                             const struct tcp_hdr *h, uint8_t *buf, size_t cap, uint16_t gso_size)
{
    unsigned off = ts_ip_offloads(s, raddr);
    bool partial = (off & TS_OFFLOAD_CSUM) != 0;
    size_t n = tcp_emit_ex(h, laddr, raddr, partial, buf, cap);
    if (n == 0)
        return 0;
    ts_stack_segment_note(s, laddr, raddr, h, true); /* the segment hook (stack.h) */
    unsigned pieces = 1;
    if (partial) {
        struct ts_ip_offload o = {
            .gso_size = gso_size,
            .l4_hdr_len = (uint16_t)(n - h->payload_len),
            .csum_partial = true,
            .csum_offset = TCP_OFF_CSUM,
        };
        if (gso_size)
            pieces = (unsigned)((h->payload_len + gso_size - 1) / gso_size);
        ts_ip_send_offload(s, laddr, raddr, IP_PROTO_TCP, n, 0, &o);
    } else {
        ts_ip_send(s, laddr, raddr, IP_PROTO_TCP, n, true, 0);
    }
    s->counters[TS_C_TCP_TX] += pieces;
    return pieces;
}

bool tcp_xmit(struct ts_stack *s, uint32_t laddr, uint32_t raddr, const struct tcp_hdr *h)
{
    size_t cap;
    uint8_t *buf = ts_ip_tx_buf(s, &cap);
    return tcp_xmit_buf(s, laddr, raddr, h, buf, cap, 0) > 0;
}

/* The header of a synchronized connection's segment: our ports, its ACK and current window. */
static struct tcp_hdr tcp_conn_hdr(struct ts_tcp_conn *c, uint32_t seq, uint8_t flags,
                                   const struct tcp_opts *opts)
{
    return (struct tcp_hdr){
        .sport = c->lport,
        .dport = c->rport,
        .seq = seq,
        .ack = c->rcv.nxt,
        .flags = flags,
        .wnd = tcp_rcv_window(c),
        .opts = *opts,
    };
}

/* PSH for the segment [seq, seq+len)? On the one holding the last queued byte, and on each
 * holding the last byte of a send call's data (RFC 9293 3.9.1 lets every SEND push; Linux
 * pushes the end of each sendmsg) even when more is queued behind it, so that the receiver may
 * hand it over at once. Linux loses that mark when the next call's data joins the same unsent
 * buffer; here up to TCP_PUSH_MARKS calls keep theirs. The marks new data passes are retired
 * (a retransmission carries PSH only when it holds the last queued byte). */
static bool tcp_push_here(struct ts_tcp_conn *c, uint32_t seq, uint32_t len)
{
    uint32_t end = seq + len;
    bool push = end == c->snd.buf_seq + c->sndbuf.len;
    unsigned passed = 0;
    for (unsigned i = 0; i < c->snd.npush; i++) {
        if (seq_gt(c->snd.push[i], end))
            break;
        if (seq_lt(seq, c->snd.push[i]))
            push = true;
        passed = i + 1;
    }
    if (passed && !seq_lt(seq, c->snd.max)) {
        c->snd.npush = (uint8_t)(c->snd.npush - passed);
        memmove(&c->snd.push[0], &c->snd.push[passed], c->snd.npush * sizeof(c->snd.push[0]));
    }
    return push;
}

/* Send one segment [seq, seq+len) (+FIN) of c with ACK; when len is more than room (the data one
 * segment with these options holds), a super-segment the link cuts at room. */
static void tcp_send_segment(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq, uint32_t len,
                             uint8_t flags, const struct tcp_opts *opts, uint32_t room)
{
    size_t cap;
    uint8_t *buf = ts_ip_tx_buf(s, &cap);
    struct tcp_hdr h = tcp_conn_hdr(c, seq, (uint8_t)(flags | TCP_ACK), opts);
    size_t hl = TCP_HDR_LEN + tcp_opts_len(&h.opts);
    if (len) {
        if (hl + len > cap)
            len = (uint32_t)(cap - hl);
        ts_ring_peek(&c->sndbuf, seq - c->snd.buf_seq, buf + hl, len);
        h.payload = buf + hl;
        h.payload_len = len;
        if (!(flags & TCP_FIN) && tcp_push_here(c, seq, len))
            h.flags |= TCP_PSH;
    }
    unsigned pieces =
        tcp_xmit_buf(s, c->laddr, c->raddr, &h, buf, cap, len > room ? (uint16_t)room : 0);
    if (pieces == 0)
        return;
    c->segs_out += pieces;
    uint32_t space = len + ((h.flags & TCP_FIN) ? 1 : 0);
    if (space) {
        tcp_txq_sent(s, c, seq, space, len > room ? room : 0);
        if (c->cc.in_recovery)
            c->prr.out += space; /* RFC 6937: prr_out, what recovery sent */
    }
    bool zwp = c->snd.zwp_end == c->snd.max && seq + 1 == c->snd.zwp_end;
    if (seq_lt(seq, c->snd.max) && !zwp) {
        c->retransmits++;
        ts_count(s, TS_C_TCP_RETRANSMIT);
        if (h.opts.ts_ok)
            c->rtt.rxt_tsval = h.opts.tsval;
    } else {
        c->bytes_sent += len;
    }
    tcp_after_ack_sent(s, c, &h);
}

static bool tcp_fin_state(enum ts_tcp_state st)
{
    return st == TS_TCP_FIN_WAIT1 || st == TS_TCP_CLOSING || st == TS_TCP_LAST_ACK;
}

uint32_t tcp_retransmit_range(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq,
                              uint32_t maxlen)
{
    struct tcp_opts o;
    tcp_data_opts(c, &o, s->now);
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    if (seq_lt(seq, c->snd.buf_seq))
        return 0;
    uint32_t avail = seq_lt(seq, end) ? end - seq : 0;
    uint32_t room = tcp_seg_room(c, &o);
    uint32_t len = avail < room ? avail : room;
    if (len > maxlen)
        len = maxlen;
    uint8_t flags = 0;
    if (c->snd.fin_queued && tcp_fin_state(c->state) && seq + len == tcp_fin_seq(c) &&
        seq_gt(c->snd.max, tcp_fin_seq(c)))
        flags |= TCP_FIN;
    if (len == 0 && !flags)
        return 0;
    c->rtt.timing = false; /* Karn */
    tcp_send_segment(s, c, seq, len, flags, &o, room);
    uint32_t n = len + (flags ? 1 : 0);
    if (seq_lt(c->snd.nxt, seq + n))
        c->snd.nxt = seq + n;
    return n;
}

void tcp_retransmit_una(struct ts_stack *s, struct ts_tcp_conn *c)
{
    tcp_retransmit_range(s, c, c->snd.una, UINT32_MAX - 1);
}

/* Does the peer's window hold our FIN at seq? A FIN takes a sequence number: one into a closed
 * window is dropped by the receiver (Linux drops it, and ACKs), so sent on the retransmission
 * timer it would reach the retry limit against a live peer that keeps its window shut. It waits
 * instead, and the persist timer probes the window as for data (RFC 9293 3.8.6.1;
 * tcp_persist_check). As Linux (tcp_snd_wnd_test); cwnd does not hold a FIN back. */
static bool tcp_fin_fits(const struct ts_tcp_conn *c, uint32_t seq)
{
    return seq_lt(seq, c->snd.una + c->snd.wnd);
}

/* The states that send data and FIN. In the others at most an ACK that is owed goes out (false). */
static bool tcp_output_state(struct ts_stack *s, struct ts_tcp_conn *c)
{
    switch (c->state) {
    case TS_TCP_ESTABLISHED:
    case TS_TCP_CLOSE_WAIT:
    case TS_TCP_FIN_WAIT1:
    case TS_TCP_CLOSING:
    case TS_TCP_LAST_ACK:
        return true;
    case TS_TCP_FIN_WAIT2:
    case TS_TCP_TIME_WAIT:
    case TS_TCP_SYN_RECV:
        if (c->ack_now)
            tcp_send_ack(s, c);
        return false;
    default:
        return false;
    }
}

/* How much new data the windows let out now, with flight bytes in flight: the smaller of the
 * peer's window and cwnd (RFC 5681), plus RFC 3042 limited transmit, and never beyond the peer's
 * right edge itself. */
static uint32_t tcp_usable_window(const struct ts_tcp_conn *c, uint32_t flight)
{
    uint32_t cwnd = c->cc.cwnd;
    if (!c->cc.in_recovery && c->cc.dupacks > 0)
        cwnd += (c->cc.dupacks < 2 ? c->cc.dupacks : 2) * c->mss; /* RFC 3042 limited transmit */
    uint32_t wnd = c->snd.wnd < cwnd ? c->snd.wnd : cwnd;
    uint32_t usable = wnd > flight ? wnd - flight : 0;
    uint32_t wedge = c->snd.una + c->snd.wnd;
    uint32_t inwnd = seq_gt(wedge, c->snd.nxt) ? wedge - c->snd.nxt : 0;
    return usable < inwnd ? usable : inwnd;
}

/* Sender SWS avoidance and Nagle (see the top of this file) for a segment of len < room bytes,
 * avail of them queued: may it go now? */
static bool tcp_small_segment_ok(const struct ts_tcp_conn *c, uint32_t len, uint32_t avail,
                                 uint32_t flight)
{
    bool all = len == avail;
    bool retrans = seq_lt(c->snd.nxt, c->snd.max);
    /* Minshall: a small segment is out while SND.UNA < sml <= SND.NXT (sml past SND.NXT: a
     * timeout took SND.NXT back, and what is out is being resent). */
    bool small_out = seq_gt(c->snd.sml, c->snd.una) && !seq_gt(c->snd.sml, c->snd.nxt);
    bool nagle_ok = c->opts.nodelay || flight == 0 || !small_out;
    bool half = c->snd.max_wnd > 0 && len >= c->snd.max_wnd / 2;
    return retrans || (all && nagle_ok) || half || c->sws_override;
}

/* Send [snd.nxt, snd.nxt + len) and the FIN if fin, and advance snd.nxt. */
static void tcp_send_next(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t len, bool fin,
                          const struct tcp_opts *o, uint32_t room)
{
    uint32_t seq = c->snd.nxt;
    if (!c->rtt.timing && !seq_lt(seq, c->snd.max) && len > 0) {
        c->rtt.timing = true;
        c->rtt.seq = seq;
        c->rtt.start = s->now;
    }
    tcp_send_segment(s, c, seq, len, fin ? TCP_FIN : 0, o, room);
    if (len && !seq_lt(seq, c->snd.max)) { /* new data */
        if (len % room)
            c->snd.sml = seq + len; /* a small segment (or a super-segment's short last piece) */
        /* An answer within the delayed-ACK time of the data it answers: interactive (Linux's
         * tcp_event_data_sent), see tcp_quickack_note. */
        if (c->bytes_received && s->now - c->data_rx_time < TCP_DELACK)
            c->pingpong = true;
    }
    c->snd.nxt = seq + len + (fin ? 1 : 0);
    if (seq_gt(c->snd.nxt, c->snd.max))
        c->snd.max = c->snd.nxt;
    if (c->timers.rexmt == TS_TIME_NEVER)
        tcp_timer_rexmt_arm(c, s->now);
}

/* The most new data one segment may carry: a super-segment of whole pieces of room bytes within
 * an IPv4 datagram when the link cuts them (TS_OFFLOAD_TSO4), else room. */
static uint32_t tcp_seg_max(struct ts_stack *s, const struct ts_tcp_conn *c,
                            const struct tcp_opts *o, uint32_t room)
{
    if (!ts_ip_gso_ok(s, c->raddr))
        return room;
    uint32_t space = IPV4_MAX_LEN - IPV4_HDR_LEN - TCP_HDR_LEN - (uint32_t)tcp_opts_len(o);
    uint32_t pieces = space / room;
    return pieces > 1 ? pieces * room : room;
}

/* The length of the next segment of new or resent data, given len allowed by the windows and
 * avail queued: a super-segment only for new data, and its partial last piece held back as a
 * small segment would be (Nagle, SWS). */
static uint32_t tcp_next_len(const struct ts_tcp_conn *c, uint32_t len, uint32_t avail,
                             uint32_t flight, uint32_t room)
{
    if (len <= room)
        return len;
    if (seq_lt(c->snd.nxt, c->snd.max))
        return room;
    uint32_t tail = len % room;
    if (tail && !tcp_small_segment_ok(c, tail, avail - (len - tail), flight + (len - tail)))
        len -= tail;
    return len;
}

void tcp_output(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!tcp_output_state(s, c))
        return;
    ts_time_t now = s->now;
    bool sent_any = false;
    struct tcp_opts o;
    tcp_data_opts(c, &o, now);
    uint32_t room = tcp_seg_room(c, &o);
    uint32_t seg_max = tcp_seg_max(s, c, &o, room);
    c->snd.seg_max = seg_max;
    bool persisting = c->timers.persist != TS_TIME_NEVER;
    for (;;) {
        uint32_t end = c->snd.buf_seq + c->sndbuf.len;
        uint32_t seg_limit = UINT32_MAX;
        if (c->nsacked && seq_lt(c->snd.nxt, c->snd.max)) {
            /* Going back after a timeout: skip what the peer has SACKed. */
            uint32_t lim;
            c->snd.nxt = tcp_sack_skip(c, c->snd.nxt, &lim);
            if (seq_lt(c->snd.nxt, c->snd.max))
                seg_limit = lim - c->snd.nxt;
        }
        uint32_t avail = seq_lt(c->snd.nxt, end) ? end - c->snd.nxt : 0;
        if (avail > seg_limit)
            avail = seg_limit;
        /* In SACK recovery the pipe (RFC 6675) stands for the flight. */
        uint32_t flight = (c->cc.in_recovery && c->sack_ok) ? tcp_sack_pipe(c) : tcp_flight(c);
        /* While persisting, probes only, until the window opens. */
        uint32_t usable = persisting ? 0 : tcp_usable_window(c, flight);
        uint32_t len = avail < seg_max ? avail : seg_max;
        if (len > usable)
            len = usable;
        len = tcp_next_len(c, len, avail, flight, room);
        bool fin = c->snd.fin_queued && tcp_fin_state(c->state) && c->snd.nxt + len == end &&
                   seg_limit == UINT32_MAX && !seq_gt(c->snd.nxt, end) && !persisting &&
                   tcp_fin_fits(c, end);
        if (len == 0 && !fin)
            break;
        if (len > 0 && len < room && !fin && !tcp_small_segment_ok(c, len, avail, flight))
            break; /* wait for an ACK (Nagle) or a bigger window (SWS) */
        bool dsack = c->rcv.dsack;
        tcp_send_next(s, c, len, fin, &o, room);
        sent_any = true;
        if (dsack)
            tcp_data_opts(c, &o, now); /* the D-SACK went out once; fewer options follow */
        if (fin)
            break;
        /* o stays valid: nothing here changes the clock, ts_recent or the out-of-order list. */
    }
    c->sws_override = false;
    /* RFC 8985 7.2: restart the probe timer after sending new data, so that its PTO fits the
     * flight now out (the delayed-ACK allowance applies to a single segment only). */
    if (sent_any) {
        tcp_tlp_arm(c, now);
        tcp_cc_validate(c);
    }
    tcp_rate_check_app_limited(c);
    if (!sent_any && c->ack_now)
        tcp_send_ack(s, c);
    tcp_persist_check(c, now);
}

unsigned tcp_output_new_data(struct ts_stack *s, struct ts_tcp_conn *c, unsigned segs)
{
    uint32_t end = c->snd.buf_seq + c->sndbuf.len, wedge = c->snd.una + c->snd.wnd;
    uint32_t back = c->snd.nxt;
    struct tcp_opts o;
    tcp_data_opts(c, &o, s->now);
    uint32_t room = tcp_seg_room(c, &o);
    unsigned sent = 0;
    c->snd.nxt = c->snd.max;
    while (sent < segs && seq_lt(c->snd.nxt, end) && seq_lt(c->snd.nxt, wedge)) {
        uint32_t len = seq_lt(end, wedge) ? end - c->snd.nxt : wedge - c->snd.nxt;
        tcp_send_next(s, c, len < room ? len : room, false, &o, room);
        sent++;
    }
    if (!sent)
        c->snd.nxt = back;
    return sent;
}

/* A segment with no data and no SYN/FIN at sequence number seq: an ACK, a window update, or a
 * keep-alive. False when it could not be built. */
static bool tcp_send_bare_ack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq)
{
    struct tcp_opts o;
    tcp_data_opts(c, &o, s->now);
    struct tcp_hdr h = tcp_conn_hdr(c, seq, TCP_ACK, &o);
    if (!tcp_xmit(s, c->laddr, c->raddr, &h))
        return false;
    c->segs_out++;
    tcp_after_ack_sent(s, c, &h);
    return true;
}

void tcp_send_ack(struct ts_stack *s, struct ts_tcp_conn *c)
{
    /* After a timeout snd.nxt goes back to snd.una (go-back-N), but the peer may already hold
     * data up to snd.max: an ACK carrying the rewound seq is then below its RCV.NXT, fails its
     * acceptability test and its ACK field is never read, and two such sides retransmit old
     * data at each other until the retry limit. Pure ACKs use snd.max (as BSD does). */
    uint32_t seq = seq_gt(c->snd.max, c->snd.nxt) ? c->snd.max : c->snd.nxt;
    uint32_t wnd_end = c->snd.una + c->snd.wnd;
    /* It must also be acceptable to the peer (RFC 9293 3.10.7.4): after a window probe it may
     * lie past the peer's right edge; then send the edge itself, unless it is only within the
     * rounding of a scaled window (as Linux's tcp_acceptable_seq). */
    if (seq_gt(seq, wnd_end) && tcp_synchronized(c->state) &&
        (c->snd.wnd == 0 || seq - wnd_end >= ((uint32_t)1 << c->snd.wscale)))
        seq = wnd_end;
    tcp_send_bare_ack(s, c, seq);
}

uint32_t tcp_syn_window(const struct ts_tcp_conn *c)
{
    uint32_t space = tcp_rcv_space(c);
    return space > TCP_WND_MAX ? TCP_WND_MAX : space;
}

struct tcp_hdr tcp_syn_hdr(struct ts_stack *s, struct ts_tcp_conn *c, bool synack)
{
    const struct ts_config *cfg = &s->cfg;
    struct tcp_opts o = {.mss_ok = true, .mss = c->adv_mss};
    /* On a SYN we offer what the configuration allows; on a SYN-ACK only what the peer offered
     * (RFC 7323 1.3/2.2, RFC 2018 2). */
    if (synack ? c->ws_ok : cfg->tcp_window_scaling) {
        o.ws_ok = true;
        o.ws = c->rcv.wscale;
    }
    if (synack ? c->sack_ok : cfg->tcp_sack)
        o.sack_perm = true;
    if (synack ? c->ts_ok : cfg->tcp_timestamps) {
        o.ts_ok = true;
        o.tsval = tcp_ts_now(c, s->now);
        o.tsecr = synack ? c->ts_recent : 0;
    }
    return (struct tcp_hdr){
        .sport = c->lport,
        .dport = c->rport,
        .seq = c->snd.iss,
        .ack = synack ? c->rcv.nxt : 0,
        .flags = (uint8_t)(TCP_SYN | (synack ? TCP_ACK : 0)),
        .wnd = (uint16_t)tcp_syn_window(c), /* RFC 7323 2.2: the window of a SYN is never scaled */
        .opts = o,
    };
}

void tcp_send_syn(struct ts_stack *s, struct ts_tcp_conn *c)
{
    bool synack = c->state == TS_TCP_SYN_RECV;
    struct tcp_hdr h = tcp_syn_hdr(s, c, synack);
    if (synack)
        c->rcv.adv = c->rcv.adv_seen = c->rcv.nxt + h.wnd;
    if (!tcp_xmit(s, c->laddr, c->raddr, &h))
        return;
    c->segs_out++;
    if (seq_gt(c->snd.max, c->snd.iss)) {
        c->retransmits++;
        ts_count(s, TS_C_TCP_RETRANSMIT);
        if (h.opts.ts_ok)
            c->rtt.rxt_tsval = h.opts.tsval;
        c->rtt.timing = false; /* Karn */
    } else {
        c->rtt.timing = true;
        c->rtt.seq = c->snd.iss;
        c->rtt.start = s->now;
    }
    c->snd.nxt = c->snd.iss + 1;
    if (seq_gt(c->snd.nxt, c->snd.max))
        c->snd.max = c->snd.nxt;
    if (synack)
        tcp_after_ack_sent(s, c, &h);
    tcp_timer_rexmt_arm(c, s->now);
}

static void tcp_send_rst(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                         uint16_t rport, uint32_t seq, uint32_t ack, bool with_ack)
{
    struct tcp_hdr h = {
        .sport = lport,
        .dport = rport,
        .seq = seq,
        .ack = with_ack ? ack : 0,
        .flags = (uint8_t)(TCP_RST | (with_ack ? TCP_ACK : 0)),
        .wnd = 0,
    };
    if (tcp_xmit(s, laddr, raddr, &h))
        ts_count(s, TS_C_TCP_RST_SENT);
}

void tcp_send_rst_conn(struct ts_stack *s, struct ts_tcp_conn *c)
{
    bool ack = c->state != TS_TCP_SYN_SENT;
    tcp_send_rst(s, c->laddr, c->lport, c->raddr, c->rport, c->snd.nxt, c->rcv.nxt, ack);
    c->segs_out++;
}

void tcp_send_rst_reply(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                        const struct tcp_hdr *seg)
{
    if (seg->flags & TCP_RST)
        return; /* RFC 9293 3.10.7.1: never answer a reset */
    /* RFC 9293 3.10.7.1: if the offending segment has an ACK, the reset takes its sequence
     * number from the ACK field; otherwise seq 0 and ACK = SEG.SEQ + SEG.LEN. */
    if (seg->flags & TCP_ACK) {
        tcp_send_rst(s, laddr, seg->dport, raddr, seg->sport, seg->ack, 0, false);
    } else {
        uint32_t len = (uint32_t)seg->payload_len + ((seg->flags & TCP_SYN) ? 1 : 0) +
                       ((seg->flags & TCP_FIN) ? 1 : 0);
        tcp_send_rst(s, laddr, seg->dport, raddr, seg->sport, 0, seg->seq + len, true);
    }
}

void tcp_send_challenge_ack(struct ts_stack *s, struct ts_tcp_conn *c)
{
    struct ts_tcp_table *t = s->tcp;
    /* RFC 5961 7: limit challenge ACKs per second, for the whole stack (as Linux). A fixed
     * global budget is a side channel (CVE-2016-5696): an off-path attacker who exhausts it with
     * his own connection learns from the challenge ACKs he still gets whether his guesses at
     * another connection's numbers were in its window. So each second's budget is drawn, keyed by
     * the stack's secret, between half and all of TCP_CHALLENGE_PER_SEC (Linux does the same). */
    if (s->now - t->challenge_window >= TS_SEC || s->now < t->challenge_window ||
        t->challenge_budget == 0) {
        t->challenge_window = s->now;
        t->challenge_count = 0;
        uint8_t k[5 + sizeof(ts_time_t)] = {'c', 'h', 'a', 'c', 'k'};
        memcpy(k + 5, &s->now, sizeof(s->now));
        uint64_t r = ts_siphash24(s->cfg.secret, k, sizeof(k));
        t->challenge_budget =
            TCP_CHALLENGE_PER_SEC / 2 + (unsigned)(r % (TCP_CHALLENGE_PER_SEC / 2 + 1));
    }
    if (t->challenge_count >= t->challenge_budget) {
        ts_count(s, TS_C_TCP_CHALLENGE_ACK_LIMITED);
        return;
    }
    t->challenge_count++;
    ts_count(s, TS_C_TCP_CHALLENGE_ACK);
    tcp_send_ack(s, c);
}

void tcp_send_probe(struct ts_stack *s, struct ts_tcp_conn *c, bool keepalive)
{
    uint32_t end = c->snd.buf_seq + c->sndbuf.len;
    if (!keepalive && seq_lt(c->snd.una, end)) {
        /* RFC 9293 3.8.6.1: a zero-window probe carries one byte of new data, so that it is
         * taken as soon as the window opens; its ACK tells us the window. */
        struct tcp_opts o;
        tcp_data_opts(c, &o, s->now);
        c->snd.nxt = c->snd.una;
        tcp_send_segment(s, c, c->snd.una, 1, 0, &o, 1);
        c->snd.nxt = c->snd.una + 1;
        c->snd.zwp_end = c->snd.nxt;
        if (seq_gt(c->snd.nxt, c->snd.max))
            c->snd.max = c->snd.nxt;
        ts_count(s, TS_C_TCP_PERSIST_PROBE);
        return;
    }
    /* RFC 1122 4.2.3.6: a keep-alive is an old sequence number (SND.NXT - 1) with no data, which
     * the peer must answer with an ACK. Also used as a window probe when only a FIN waits. */
    if (tcp_send_bare_ack(s, c, c->snd.una - 1))
        ts_count(s, keepalive ? TS_C_TCP_KEEPALIVE_SENT : TS_C_TCP_PERSIST_PROBE);
}
