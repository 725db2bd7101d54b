/* SACK on the sending side: the scoreboard of RFC 6675 over a per-segment retransmission queue.
 *
 * Two views of what the peer holds are kept side by side:
 *  - c->sacked: the SACKed ranges above snd.una, sorted and disjoint (sacked_bytes in all); what
 *    a go-back-N after a timeout skips (tcp_sack_skip) and what PRR counts as delivered;
 *  - c->txq: a record per segment sent and not cumulatively acknowledged, with its latest send
 *    time and whether it is SACKed, lost, or retransmitted and in flight again. RFC 6675 IsLost,
 *    SetPipe and NextSeg are written over these records as the RFC states them, and RACK
 *    (tcp_recovery.c) reads their send times.
 * Loss recovery itself (when it starts, how much it sends) is in tcp_recovery.c. After a second
 * timeout of the same data the scoreboard is forgotten, in case the receiver reneged (RFC 2018
 * 8). */
#include <stdlib.h>
#include <string.h>

#include "tcp_internal.h"

#define DUP_THRESH 3u /* RFC 6675 2: DupThresh */

void tcp_sack_clear(struct ts_tcp_conn *c)
{
    c->nsacked = 0;
    c->sacked_bytes = 0;
    for (uint32_t i = 0; i < c->txq.len; i++)
        tcp_txq_at(c, i)->flags &= (uint8_t)~TCP_TXS_SACKED;
    c->txq.sacked_segs = 0;
}

static void tcp_sack_recount(struct ts_tcp_conn *c)
{
    uint32_t b = 0;
    for (unsigned i = 0; i < c->nsacked; i++)
        b += c->sacked[i].right - c->sacked[i].left;
    c->sacked_bytes = b;
}

void tcp_sack_trim(struct ts_tcp_conn *c)
{
    unsigned i = 0;
    while (i < c->nsacked && seq_leq(c->sacked[i].right, c->snd.una))
        i++;
    if (i) {
        memmove(&c->sacked[0], &c->sacked[i], (c->nsacked - i) * sizeof(c->sacked[0]));
        c->nsacked -= i;
    }
    if (c->nsacked && seq_lt(c->sacked[0].left, c->snd.una))
        c->sacked[0].left = c->snd.una;
    tcp_sack_recount(c);
}

void tcp_txq_free(struct ts_tcp_conn *c)
{
    free(c->txq.v);
    memset(&c->txq, 0, sizeof(c->txq));
}

/* Room for one more record: the ring doubles (a power of two, so an index is masked). */
static bool tcp_txq_grow(struct ts_tcp_conn *c)
{
    if (c->txq.len < c->txq.cap)
        return true;
    uint32_t ncap = c->txq.cap ? c->txq.cap * 2 : 64;
    struct tcp_txseg *v = malloc((size_t)ncap * sizeof(*v));
    if (!v)
        return false;
    for (uint32_t i = 0; i < c->txq.len; i++)
        v[i] = *tcp_txq_at(c, i);
    free(c->txq.v);
    c->txq.v = v;
    c->txq.head = 0;
    c->txq.cap = ncap;
    return true;
}

/* The first record whose end lies above seq (binary search; len when none). */
static uint32_t tcp_txq_find(const struct ts_tcp_conn *c, uint32_t seq)
{
    uint32_t lo = 0, hi = c->txq.len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seq_leq(tcp_txq_at(c, mid)->end, seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void tcp_txq_sent(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq, uint32_t len,
                  uint32_t piece)
{
    uint32_t end = seq + len;
    uint32_t top = c->txq.len ? tcp_txq_at(c, c->txq.len - 1)->end : c->snd.una;
    bool idle = c->txq.len == 0; /* nothing in flight (tcp_rate_on_send) */
    /* Retransmitted records: sent again now, in the pipe again (RFC 6675 HighRxt, per segment). */
    for (uint32_t i = tcp_txq_find(c, seq); i < c->txq.len; i++) {
        struct tcp_txseg *r = tcp_txq_at(c, i);
        if (!seq_lt(r->seq, end))
            break;
        tcp_undo_count_retrans(c);
        if ((r->flags & TCP_TXS_EVER) && r->end != c->snd.zwp_end)
            ts_count(s, TS_C_TCP_LOST_RETRANSMIT); /* its previous copy was lost too */
        if (!(r->flags & TCP_TXS_EVER))
            c->txq.rxt_segs++;
        r->xmit = s->now;
        r->order = ++c->txq.order;
        r->flags = (uint8_t)((r->flags & ~TCP_TXS_LOST) | TCP_TXS_RETRANS | TCP_TXS_EVER);
        tcp_rate_on_send(c, r, s->now, false);
    }
    if (seq_lt(top, seq))
        top = seq; /* (a gap cannot happen: new data starts at snd.max) */
    if (!piece)
        piece = len;
    while (seq_lt(top, end)) {
        if (!tcp_txq_grow(c))
            return; /* out of memory: RACK and IsLost see less; the RTO still covers it */
        uint32_t n = end - top < piece ? end - top : piece;
        if (end - (top + n) == 1)
            n++; /* a FIN rides with the last piece */
        struct tcp_txseg *r = tcp_txq_at(c, c->txq.len++);
        *r =
            (struct tcp_txseg){.seq = top, .end = top + n, .xmit = s->now, .order = ++c->txq.order};
        tcp_rate_on_send(c, r, s->now, idle);
        idle = false;
        top += n;
    }
}

/* A record delivered for the first time (ACKed or SACKed): RACK's and the rate sample's. */
static void tcp_txq_delivered(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_txseg *r,
                              const struct tcp_hdr *seg)
{
    tcp_rack_delivered(s, c, r, seg);
    tcp_rate_delivered(c, r, s->now);
}

void tcp_txq_acked(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    while (c->txq.len) {
        struct tcp_txseg *r = tcp_txq_at(c, 0);
        if (seq_gt(r->end, c->snd.una)) {
            if (seq_lt(r->seq, c->snd.una))
                r->seq = c->snd.una; /* a part of it acknowledged (an MSS change) */
            break;
        }
        if (r->flags & TCP_TXS_EVER)
            c->txq.rxt_segs--;
        if (r->flags & TCP_TXS_SACKED)
            c->txq.sacked_segs--;
        else
            tcp_txq_delivered(s, c, r, seg);
        c->txq.head = (c->txq.head + 1) & (c->txq.cap - 1);
        c->txq.len--;
    }
}

static void tcp_sack_insert(struct ts_tcp_conn *c, uint32_t l, uint32_t r)
{
    unsigned i = 0;
    while (i < c->nsacked && seq_lt(c->sacked[i].right, l))
        i++;
    unsigned j = i;
    while (j < c->nsacked && seq_leq(c->sacked[j].left, r)) {
        l = seq_min(l, c->sacked[j].left);
        r = seq_max(r, c->sacked[j].right);
        j++;
    }
    if (j == i) {
        if (c->nsacked >= TCP_SACKSB_MAX)
            return; /* full: this block is simply not remembered */
        memmove(&c->sacked[i + 1], &c->sacked[i], (c->nsacked - i) * sizeof(c->sacked[0]));
        c->nsacked++;
    } else if (j > i + 1) {
        memmove(&c->sacked[i + 1], &c->sacked[j], (c->nsacked - j) * sizeof(c->sacked[0]));
        c->nsacked -= j - i - 1;
    }
    c->sacked[i].left = l;
    c->sacked[i].right = r;
}

/* Mark the records inside [l, r) SACKed; each newly SACKed one is delivered (RACK). */
static void tcp_txq_sack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t l, uint32_t r,
                         const struct tcp_hdr *seg)
{
    for (uint32_t i = tcp_txq_find(c, l); i < c->txq.len; i++) {
        struct tcp_txseg *x = tcp_txq_at(c, i);
        if (seq_gt(x->end, r))
            break;
        if (seq_lt(x->seq, l) || (x->flags & TCP_TXS_SACKED))
            continue;
        x->flags = (uint8_t)((x->flags & ~(TCP_TXS_LOST | TCP_TXS_RETRANS)) | TCP_TXS_SACKED);
        c->txq.sacked_segs++;
        tcp_txq_delivered(s, c, x, seg);
    }
}

void tcp_sack_update(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg)
{
    const struct tcp_opts *o = &seg->opts;
    for (unsigned k = 0; k < o->nsack && k < TCP_MAX_SACK; k++) {
        uint32_t l = o->sack[k].left, r = o->sack[k].right;
        if (!seq_lt(l, r))
            continue;
        /* RFC 2883 4: a D-SACK is the first block, below the cumulative ACK or inside the
         * second block: a duplicate arrived (our retransmission was not needed, or the network
         * duplicated it). It says nothing about holes. */
        if (k == 0 && (seq_leq(r, seg->ack) || (o->nsack > 1 && seq_geq(l, o->sack[1].left) &&
                                                seq_leq(r, o->sack[1].right)))) {
            tcp_rack_dsack(s, c, l, r);
            continue;
        }
        /* RFC 2018 / RFC 6675 5.1: only blocks above snd.una and not beyond what we sent
         * (forged blocks are ignored). */
        if (!seq_gt(l, c->snd.una) || seq_gt(r, c->snd.max))
            continue;
        tcp_sack_insert(c, l, r);
        tcp_txq_sack(s, c, l, r, seg);
    }
    tcp_sack_recount(c);
}

uint32_t tcp_sack_pipe(const struct ts_tcp_conn *c)
{
    /* RFC 6675 4 SetPipe: an octet counts if it is neither SACKed nor lost (the original is in
     * flight), or if it was retransmitted (the copy is in flight: a retransmission takes a record
     * out of the lost state). A retransmitted record found lost again has left the pipe: only its
     * next copy will count. (A record retransmitted without having been lost, a loss probe, counts
     * once, not twice as the RFC's octet rule would have it: its original and copy are one.) */
    uint32_t pipe = 0;
    for (uint32_t i = 0; i < c->txq.len; i++) {
        const struct tcp_txseg *r = tcp_txq_at(c, i);
        if (r->flags & TCP_TXS_SACKED)
            continue;
        if (!(r->flags & TCP_TXS_LOST))
            pipe += r->end - r->seq;
    }
    return pipe;
}

unsigned tcp_sack_mark_lost(struct ts_tcp_conn *c)
{
    /* RFC 6675 4 IsLost(SeqNum): DupThresh discontiguous SACKed segments above it, or more than
     * (DupThresh - 1) * SMSS SACKed bytes above it. From the top down, counting the SACKed
     * records passed. A retransmitted record is left to RACK: the SACKs above it may have been
     * sent before the retransmission could arrive. */
    unsigned segs = 0, marked = 0;
    uint32_t bytes = 0;
    for (uint32_t i = c->txq.len; i-- > 0;) {
        struct tcp_txseg *r = tcp_txq_at(c, i);
        if (r->flags & TCP_TXS_SACKED) {
            segs++;
            bytes += r->end - r->seq;
            continue;
        }
        if (r->flags & (TCP_TXS_LOST | TCP_TXS_EVER))
            continue;
        if (segs >= DUP_THRESH || bytes > (DUP_THRESH - 1) * c->mss) {
            r->flags |= TCP_TXS_LOST;
            marked++;
        }
    }
    return marked;
}

bool tcp_sack_lost(const struct ts_tcp_conn *c)
{
    for (uint32_t i = 0; i < c->txq.len; i++)
        if (tcp_txq_at(c, i)->flags & TCP_TXS_LOST)
            return true;
    return false;
}

void tcp_sack_mark_all_lost(struct ts_tcp_conn *c)
{
    for (uint32_t i = 0; i < c->txq.len; i++) {
        struct tcp_txseg *r = tcp_txq_at(c, i);
        if (!(r->flags & TCP_TXS_SACKED))
            r->flags = (uint8_t)((r->flags & ~TCP_TXS_RETRANS) | TCP_TXS_LOST);
    }
}

void tcp_sack_unmark(struct ts_tcp_conn *c)
{
    for (uint32_t i = 0; i < c->txq.len; i++)
        tcp_txq_at(c, i)->flags &= (uint8_t) ~(TCP_TXS_LOST | TCP_TXS_RETRANS);
}

uint32_t tcp_sack_skip(const struct ts_tcp_conn *c, uint32_t seq, uint32_t *limit)
{
    *limit = c->snd.max;
    for (unsigned i = 0; i < c->nsacked; i++) {
        if (seq_in(seq, c->sacked[i].left, c->sacked[i].right))
            seq = c->sacked[i].right;
        else if (seq_lt(seq, c->sacked[i].left)) {
            *limit = c->sacked[i].left;
            break;
        }
    }
    return seq;
}

void tcp_sack_recover(struct ts_stack *s, struct ts_tcp_conn *c)
{
    /* RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, NextSeg rule 1: the first record lost
     * and not retransmitted since, one segment. Rule 2 (new data) is tcp_output's, with the same
     * pipe. Rules 3 and 4 (a segment not yet lost, the rescue retransmission) are left to RACK's
     * timer and the loss probe, which retransmit what time shows lost. */
    uint32_t pipe = tcp_sack_pipe(c);
    for (uint32_t i = 0; i < c->txq.len; i++) {
        struct tcp_txseg *r = tcp_txq_at(c, i);
        if ((r->flags & (TCP_TXS_LOST | TCP_TXS_SACKED)) != TCP_TXS_LOST)
            continue;
        if (pipe + c->mss > c->cc.cwnd)
            return;
        uint32_t len = r->end - r->seq;
        uint32_t n = tcp_retransmit_range(s, c, r->seq, len);
        if (n == 0)
            return;
        pipe += n;
        if (seq_gt(r->seq + n, c->high_rxt))
            c->high_rxt = r->seq + n;
    }
}

void tcp_dsack_note(struct ts_tcp_conn *c, uint32_t l, uint32_t r)
{
    if (!c->sack_ok || !seq_lt(l, r))
        return;
    c->rcv.dsack = true;
    c->rcv.dsack_range = (struct tcp_range){l, r};
}
