/* The runtime's recorder: see record.h. */
#include "record.h"

#include <stdlib.h>
#include <string.h>

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int rec_init(struct rec *r, size_t ring, size_t hist, uint32_t live)
{
    memset(r, 0, sizeof *r);
    r->ring_cap = pow2_at_least(ring ? ring : 1);
    r->hist_cap = hist ? hist : 1;
    r->live_cap = live ? live : 1;
    /* At most half full, so that probe sequences stay short. */
    r->index_cap = (uint32_t)pow2_at_least((size_t)r->live_cap * 2);
    /* calloc: the kernel maps zero pages lazily, so slots never used cost no memory. */
    r->ring = calloc(r->ring_cap, sizeof *r->ring);
    r->hist = calloc(r->hist_cap, sizeof *r->hist);
    r->live = calloc(r->live_cap, sizeof *r->live);
    r->free_slots = calloc(r->live_cap, sizeof *r->free_slots);
    r->index = calloc(r->index_cap, sizeof *r->index);
    if (!r->ring || !r->hist || !r->live || !r->free_slots || !r->index) {
        rec_free(r);
        return -1;
    }
    /* Hand out low slot numbers first (the pop takes from the end). */
    for (uint32_t i = 0; i < r->live_cap; i++)
        r->free_slots[i] = r->live_cap - 1 - i;
    r->nfree = r->live_cap;
    return 0;
}

void rec_free(struct rec *r)
{
    free(r->ring);
    free(r->hist);
    free(r->live);
    free(r->free_slots);
    free(r->index);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- the index */

static uint32_t home(const struct rec *r, uint64_t id)
{
    /* Fibonacci hashing: ids are consecutive, and this spreads them over the whole table. */
    return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (r->index_cap - 1);
}

/* The index position of id, or the empty position where it would go. */
static uint32_t probe(const struct rec *r, uint64_t id)
{
    uint32_t mask = r->index_cap - 1;
    uint32_t i = home(r, id);
    while (r->index[i] && r->live[r->index[i] - 1].conn_id != id)
        i = (i + 1) & mask;
    return i;
}

/* Backward-shift deletion (Knuth 6.4 algorithm R): later entries of the same run move up into
 * the hole, so a lookup never stops early at it. */
static void index_remove(struct rec *r, uint32_t i)
{
    uint32_t mask = r->index_cap - 1;
    uint32_t j = i;
    for (;;) {
        r->index[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!r->index[j])
                return;
            uint32_t k = home(r, r->live[r->index[j] - 1].conn_id);
            /* Stay if k lies cyclically in (i, j]: the entry is still reachable from k. */
            bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays)
                break;
        }
        r->index[i] = r->index[j];
        i = j;
    }
}

/* ---------------------------------------------------------------- recording */

static void add_step(struct ts_stat_conn *c, const struct ts_trace_event *ev)
{
    struct ts_stat_step st = {
        .time = ev->time,
        .in_from = ev->in_from,
        .cause = ev->cause,
        .from = (uint8_t)ev->from,
        .to = (uint8_t)ev->to,
    };
    if (c->nsteps < TS_STAT_PATH_MAX) {
        c->steps[c->nsteps++] = st;
    } else {
        c->truncated = true;
        c->steps[TS_STAT_PATH_MAX - 1] = st; /* keep the latest: how it ended */
    }
    c->end = ev->time;
    /* A listener's child learns its peer with its first step; a connection may be rebound. */
    c->laddr = ev->laddr;
    c->raddr = ev->raddr;
    c->lport = ev->lport;
    c->rport = ev->rport;
}

void rec_event(struct rec *r, const struct ts_trace_event *ev)
{
    r->seq++;
    struct ts_stat_event *e = &r->ring[r->seq & (r->ring_cap - 1)];
    e->seq = r->seq;
    e->ev = *ev;

    uint32_t i = probe(r, ev->conn_id);
    struct ts_stat_conn *c;
    if (r->index[i]) {
        c = &r->live[r->index[i] - 1];
    } else {
        if (r->nfree == 0) {
            r->untracked++;
            return;
        }
        uint32_t slot = r->free_slots[--r->nfree];
        c = &r->live[slot];
        memset(c, 0, sizeof *c);
        c->conn_id = ev->conn_id;
        c->start = ev->time;
        r->index[i] = slot + 1;
    }
    add_step(c, ev);
    if (ev->to != TS_TCP_CLOSE)
        return;
    /* Ended: into the history, and the slot back to the pool. */
    r->ended++;
    c->ended_seq = r->ended;
    r->hist[(r->ended - 1) % r->hist_cap] = *c;
    r->free_slots[r->nfree++] = r->index[i] - 1;
    index_remove(r, i);
}

/* ---------------------------------------------------------------- reading */

/* Numbers first..last are kept; fill pg and return the first number to copy after since. */
static uint64_t page(uint64_t newest, uint64_t cap, uint64_t since, struct ts_stat_page *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->next = since;
    if (newest == 0)
        return 1;
    pg->last = newest;
    pg->first = newest > cap ? newest - cap + 1 : 1;
    if (since > newest) { /* a number from the future (another run): start over from now */
        pg->next = newest;
        return newest + 1; /* nothing to copy (and since + 1 may wrap) */
    }
    if (since + 1 < pg->first) {
        pg->lost = pg->first - 1 - since;
        return pg->first;
    }
    return since + 1;
}

size_t rec_events_since(const struct rec *r, uint64_t since, struct ts_stat_event *out, size_t max,
                        struct ts_stat_page *pg)
{
    uint64_t from = page(r->seq, r->ring_cap, since, pg);
    size_t n = 0;
    for (uint64_t s = from; s <= r->seq && n < max; s++) {
        out[n++] = r->ring[s & (r->ring_cap - 1)];
        pg->next = s;
    }
    return n;
}

size_t rec_history_since(const struct rec *r, uint64_t since, struct ts_stat_conn *out, size_t max,
                         struct ts_stat_page *pg)
{
    uint64_t from = page(r->ended, r->hist_cap, since, pg);
    if (max == 0)
        return 0;
    if (r->ended >= from && r->ended - from + 1 > max) {
        pg->lost += r->ended - from + 1 - max;
        from = r->ended - max + 1;
    }
    size_t n = 0;
    for (uint64_t s = from; s <= r->ended && n < max; s++) {
        out[n++] = r->hist[(s - 1) % r->hist_cap];
        pg->next = s;
    }
    return n;
}

bool rec_live_path(const struct rec *r, uint64_t conn_id, struct ts_stat_conn *out)
{
    uint32_t i = probe(r, conn_id);
    if (!r->index[i])
        return false;
    *out = r->live[r->index[i] - 1];
    return true;
}
