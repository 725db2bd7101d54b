/* SACK on the sending side: the RFC 6675 scoreboard and loss recovery.
 *
 * Simplifications, chosen for a small, robust implementation:
 *  - every hole below the highest SACKed byte counts as lost (RFC 6675 uses DupThresh segments
 *    SACKed above it); with reordering this costs a spurious retransmission, never a stall;
 *  - loss recovery starts when 3 segments' worth is SACKed above snd.una, or (RFC 5827 early
 *    retransmit) when all but the first segment of a small flight is SACKed;
 *  - after a second timeout of the same data the scoreboard is forgotten, in case the receiver
 *    reneged (RFC 2018 8). */
#include <string.h>

#include "tcp_internal.h"

void tcp_sack_clear(struct ts_tcp_conn *c)
{
    c->nsacked = 0;
    c->sacked_bytes = 0;
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

void tcp_sack_update(struct ts_tcp_conn *c, const struct tcp_opts *o)
{
    for (unsigned k = 0; k < o->nsack && k < TCP_MAX_SACK; k++) {
        uint32_t l = o->sack[k].left, r = o->sack[k].right;
        /* RFC 2018 / RFC 6675 5.1: only blocks above snd.una and not beyond what we sent
         * (D-SACKs and forged blocks are ignored). */
        if (!seq_lt(l, r) || !seq_gt(l, c->snd.una) || seq_gt(r, c->snd.max))
            continue;
        tcp_sack_insert(c, l, r);
    }
    tcp_sack_recount(c);
}

static uint32_t tcp_sack_high(const struct ts_tcp_conn *c)
{
    return c->nsacked ? c->sacked[c->nsacked - 1].right : c->snd.una;
}

uint32_t tcp_sack_pipe(const struct ts_tcp_conn *c)
{
    uint32_t high = tcp_sack_high(c);
    uint32_t pipe = seq_gt(c->snd.max, high) ? c->snd.max - high : 0;
    /* Holes below `high` are lost; those already retransmitted are in flight again. */
    uint32_t prev = c->snd.una;
    for (unsigned i = 0; i < c->nsacked; i++) {
        uint32_t hl = prev, hr = c->sacked[i].left;
        if (seq_lt(hl, hr) && seq_lt(hl, c->high_rxt))
            pipe += seq_min(hr, c->high_rxt) - hl;
        prev = c->sacked[i].right;
    }
    return pipe;
}

bool tcp_sack_lost(const struct ts_tcp_conn *c)
{
    if (!c->nsacked)
        return false;
    if (c->sacked_bytes >= 3u * c->mss)
        return true;
    if (c->tlp_out)
        return true; /* RFC 8985 7.4: the probe got through, what lies below it did not */
    /* RFC 5827: a flight too small to produce three duplicates. */
    uint32_t flight = c->snd.max - c->snd.una;
    return flight < 4u * c->mss && c->sacked_bytes + c->mss >= flight;
}

void tcp_sack_lost_retransmit(struct ts_stack *s, struct ts_tcp_conn *c)
{
    if (!c->cc.in_recovery || !c->nsacked || !c->rtt.valid || c->una_rxt_seq != c->snd.una ||
        c->una_rxt_time == 0)
        return;
    /* RFC 8985 6.2: lost if not delivered within RTT + a reordering window (RTT/4). */
    ts_time_t wait = c->rtt.srtt + c->rtt.srtt / 4 + 500 * TS_US;
    if (s->now - c->una_rxt_time < wait)
        return;
    ts_count(s, TS_C_TCP_LOST_RETRANSMIT);
    tcp_retransmit_range(s, c, c->snd.una, c->sacked[0].left - c->snd.una);
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
    for (unsigned guard = 0; guard < 4 * TCP_SACKSB_MAX + 64; guard++) {
        if (tcp_sack_pipe(c) + c->mss > c->cc.cwnd)
            return; /* RFC 6675 5 step (C): only while cwnd - pipe >= 1 SMSS */
        /* NextSeg rule 1: the first lost byte not yet retransmitted. */
        uint32_t from = seq_max(c->high_rxt, c->snd.una);
        uint32_t prev = c->snd.una, hl = 0, hr = 0;
        bool found = false;
        for (unsigned i = 0; i < c->nsacked; i++) {
            uint32_t a = seq_max(prev, from), b = c->sacked[i].left;
            if (seq_lt(a, b)) {
                hl = a;
                hr = b;
                found = true;
                break;
            }
            prev = c->sacked[i].right;
        }
        if (!found)
            return; /* rule 2 (new data) is tcp_output's, which counts the pipe too */
        uint32_t n = tcp_retransmit_range(s, c, hl, hr - hl);
        if (n == 0)
            return;
        c->high_rxt = hl + n;
    }
}
