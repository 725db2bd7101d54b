/* The runtime's segment ladders: see seglog.h. */
#include "seglog.h"

#include <stdlib.h>
#include <string.h>

struct ladder {
    struct ts_seg_conn c;
    struct ts_seg_item *items; /* per entries: item n at (n - 1) % per */
    uint64_t last_in;          /* item number of the latest received segment (0: none) */
    bool indexed;              /* its 4-tuple leads here in the index */
};

struct tuple {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

struct seglog {
    struct ladder *lad; /* cap ladders */
    uint32_t cap, per;
    struct ts_seg_item *items; /* cap * per */
    uint64_t made;             /* ladders made so far: the next takes slot made % cap */
    uint32_t *index;           /* index_cap entries: ladder slot + 1, or 0 = empty */
    uint32_t index_cap;
    /* The latest received segment that matched no ladder (the SYN a listener's child is made
     * from), with its 4-tuple. */
    struct ts_seg_item held;
    struct tuple held_tuple;
    bool held_ok;
    struct ladder *last; /* the latest lookup's ladder: a bulk transfer asks for the same one */
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

struct seglog *seglog_new(uint32_t cap, uint32_t per)
{
    struct seglog *sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    sl->cap = cap ? cap : 1;
    sl->per = per ? per : 1;
    sl->index_cap = (uint32_t)pow2_at_least((size_t)sl->cap * 2); /* at most half full */
    /* calloc: pages of ladders never used are never touched, so they cost no memory. */
    sl->lad = calloc(sl->cap, sizeof *sl->lad);
    sl->items = calloc((size_t)sl->cap * sl->per, sizeof *sl->items);
    sl->index = calloc(sl->index_cap, sizeof *sl->index);
    if (!sl->lad || !sl->items || !sl->index) {
        seglog_free(sl);
        return NULL;
    }
    for (uint32_t i = 0; i < sl->cap; i++)
        sl->lad[i].items = sl->items + (size_t)i * sl->per;
    return sl;
}

void seglog_free(struct seglog *sl)
{
    if (!sl)
        return;
    free(sl->lad);
    free(sl->items);
    free(sl->index);
    free(sl);
}

bool seglog_cause_is_segment(const char *cause)
{
    if (!cause)
        return false;
    if (strncmp(cause, "rcvd ", 5) == 0)
        return strncmp(cause + 5, "ICMP", 4) != 0;
    return strncmp(cause, "new SYN", 7) == 0;
}

/* ---------------------------------------------------------------- the 4-tuple index */

static bool tuple_eq(const struct tuple *a, const struct ts_seg_conn *c)
{
    return a->laddr == c->laddr && a->raddr == c->raddr && a->lport == c->lport &&
           a->rport == c->rport;
}

static uint32_t home(const struct seglog *sl, const struct tuple *t)
{
    uint64_t k = ((uint64_t)t->raddr << 32 | (uint64_t)t->rport << 16 | t->lport) ^
                 (uint64_t)t->laddr * 0x9E3779B97F4A7C15ull;
    k *= 0x9E3779B97F4A7C15ull; /* Fibonacci hashing: spreads consecutive ports */
    return (uint32_t)(k >> 32) & (sl->index_cap - 1);
}

static struct tuple tuple_of(const struct ts_seg_conn *c)
{
    return (struct tuple){c->laddr, c->raddr, c->lport, c->rport};
}

/* The index position of t, or the empty position where it would go. */
static uint32_t probe(const struct seglog *sl, const struct tuple *t)
{
    uint32_t mask = sl->index_cap - 1;
    uint32_t i = home(sl, t);
    while (sl->index[i] && !tuple_eq(t, &sl->lad[sl->index[i] - 1].c))
        i = (i + 1) & mask;
    return i;
}

/* Backward-shift deletion: later entries of the same run move up into the hole, so that a
 * lookup never stops early at it (no tombstones). */
static void index_remove(struct seglog *sl, uint32_t i)
{
    uint32_t mask = sl->index_cap - 1;
    uint32_t j = i;
    for (;;) {
        sl->index[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!sl->index[j])
                return;
            struct tuple t = tuple_of(&sl->lad[sl->index[j] - 1].c);
            uint32_t k = home(sl, &t);
            /* Stays if k lies cyclically in (i, j]: still reachable from its home. */
            bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays)
                break;
        }
        sl->index[i] = sl->index[j];
        i = j;
    }
}

static struct ladder *lookup(struct seglog *sl, const struct tuple *t)
{
    if (sl->last && tuple_eq(t, &sl->last->c))
        return sl->last;
    uint32_t i = probe(sl, t);
    struct ladder *l = sl->index[i] ? &sl->lad[sl->index[i] - 1] : NULL;
    if (l)
        sl->last = l;
    return l;
}

/* A fresh ladder for conn_id on t, in the oldest ladder's slot. The ladder t led to before (an
 * ended connection on the same 4-tuple) is returned in *displaced. */
static struct ladder *ladder_make(struct seglog *sl, uint64_t conn_id, const struct tuple *t,
                                  uint8_t state, ts_time_t now, struct ladder **displaced)
{
    uint32_t slot = (uint32_t)(sl->made++ % sl->cap);
    struct ladder *l = &sl->lad[slot];
    sl->last = NULL; /* the index changes */
    if (l->indexed) {
        struct tuple old = tuple_of(&l->c);
        index_remove(sl, probe(sl, &old));
    }
    uint32_t i = probe(sl, t);
    *displaced = NULL;
    if (sl->index[i]) {
        *displaced = &sl->lad[sl->index[i] - 1];
        (*displaced)->indexed = false;
    }
    sl->index[i] = slot + 1;
    struct ts_seg_item *items = l->items;
    memset(l, 0, sizeof *l);
    l->items = items;
    l->indexed = true;
    l->c = (struct ts_seg_conn){
        .conn_id = conn_id,
        .laddr = t->laddr,
        .raddr = t->raddr,
        .lport = t->lport,
        .rport = t->rport,
        .state = state,
        .start = now,
        .last = now,
        .ws_ours = -1,
        .ws_peer = -1,
    };
    return l;
}

static struct ladder *find_id(const struct seglog *sl, uint64_t conn_id)
{
    for (uint32_t i = 0; i < sl->cap; i++)
        if (sl->lad[i].c.conn_id == conn_id && conn_id != 0)
            return &sl->lad[i];
    return NULL;
}

static struct ts_seg_item *item_at(const struct seglog *sl, const struct ladder *l, uint64_t n)
{
    if (n == 0 || n > l->c.items || l->c.items - n >= sl->per)
        return NULL; /* never was, or overwritten */
    return &l->items[(n - 1) % sl->per];
}

static struct ts_seg_item *push(struct seglog *sl, struct ladder *l, ts_time_t time)
{
    uint64_t n = ++l->c.items;
    struct ts_seg_item *it = &l->items[(n - 1) % sl->per];
    memset(it, 0, sizeof *it);
    it->n = n;
    it->time = time;
    l->c.last = time;
    return it;
}

/* ---------------------------------------------------------------- recording */

void seglog_seed(struct seglog *sl, const struct ts_tcp_info *t, ts_time_t now)
{
    if (t->raddr == 0 && t->rport == 0)
        return; /* a listener: its children get the ladders */
    struct tuple tp = {t->laddr, t->raddr, t->lport, t->rport};
    struct ladder *l = lookup(sl, &tp);
    if (l && l->c.conn_id == t->id) {
        l->c.state = (uint8_t)t->state; /* recording was off for a while */
        return;
    }
    struct ladder *displaced;
    ladder_make(sl, t->id, &tp, (uint8_t)t->state, now, &displaced);
}

/* Sequence bases: our ISS from our SYN, the peer's IRS from its SYN; without a SYN, the first
 * segment's number less one (as if the SYN had been there). */
static void learn_bases(struct ts_seg_conn *c, const struct ts_segment_event *ev)
{
    bool syn = ev->flags & TS_SEG_SYN;
    uint32_t *base = ev->sent ? &c->iss : &c->irs;
    bool *known = ev->sent ? &c->iss_known : &c->irs_known;
    bool *from_syn = ev->sent ? &c->iss_syn : &c->irs_syn;
    if (syn && !*from_syn) {
        *base = ev->seq;
        *known = *from_syn = true;
        if (ev->sent)
            c->ws_ours = ev->wscale;
        else
            c->ws_peer = ev->wscale;
    } else if (!*known) {
        *base = ev->seq - 1;
        *known = true;
    }
}

static void fill_segment(struct ts_seg_item *it, const struct ts_segment_event *ev, uint8_t state)
{
    it->kind = ev->sent ? TS_SEGITEM_SENT : TS_SEGITEM_RCVD;
    it->state = state;
    it->u.seg.seq = ev->seq;
    it->u.seg.ack = ev->ack;
    it->u.seg.len = ev->len;
    it->u.seg.mss = ev->mss;
    it->u.seg.wnd = ev->wnd;
    it->u.seg.flags = ev->flags;
    it->u.seg.nsack = ev->nsack;
    it->u.seg.wscale = ev->wscale;
    it->u.seg.sack_perm = ev->sack_perm;
    it->u.seg.ts = ev->ts;
}

void seglog_segment(struct seglog *sl, const struct ts_segment_event *ev)
{
    struct tuple t = {ev->laddr, ev->raddr, ev->lport, ev->rport};
    struct ladder *l = lookup(sl, &t);
    if (!l) {
        if (!ev->sent) { /* perhaps the SYN of a child about to be made: hold it aside */
            memset(&sl->held, 0, sizeof sl->held);
            sl->held.time = ev->time;
            fill_segment(&sl->held, ev, TS_TCP_LISTEN);
            sl->held_tuple = t;
            sl->held_ok = true;
        }
        return;
    }
    learn_bases(&l->c, ev);
    struct ts_seg_item *it = push(sl, l, ev->time);
    fill_segment(it, ev, l->c.state);
    if (!ev->sent)
        l->last_in = it->n;
}

/* A connection's first change, caused by a received segment: that segment begins its ladder. It
 * is the one held aside (a listener's child), or the latest the displaced ladder of the same
 * 4-tuple received (a new SYN that ended a TIME_WAIT). */
static void adopt_first_segment(struct seglog *sl, struct ladder *l, const struct tuple *t,
                                struct ladder *displaced, ts_time_t time)
{
    const struct ts_seg_item *src = NULL;
    if (sl->held_ok && sl->held.time == time && memcmp(&sl->held_tuple, t, sizeof *t) == 0)
        src = &sl->held;
    else if (displaced && displaced->last_in)
        src = item_at(sl, displaced, displaced->last_in);
    if (!src || src->time != time || !(src->u.seg.flags & (TS_SEG_SYN | TS_SEG_ACK)))
        return;
    struct ts_seg_item copy = *src;
    sl->held_ok = sl->held_ok && src != &sl->held;
    struct ts_segment_event ev = {.sent = false,
                                  .seq = copy.u.seg.seq,
                                  .flags = copy.u.seg.flags,
                                  .wscale = copy.u.seg.wscale};
    learn_bases(&l->c, &ev);
    struct ts_seg_item *it = push(sl, l, time);
    uint64_t n = it->n;
    *it = copy;
    it->n = n;
    it->state = l->c.state;
    it->u.seg.ncaused = 0;
    l->last_in = n;
}

void seglog_trace(struct seglog *sl, const struct ts_trace_event *ev, uint64_t trace_seq)
{
    if (ev->raddr == 0 && ev->rport == 0)
        return; /* a listener's own changes */
    struct tuple t = {ev->laddr, ev->raddr, ev->lport, ev->rport};
    struct ladder *l = lookup(sl, &t);
    bool by_segment = seglog_cause_is_segment(ev->cause);
    if (!l || l->c.conn_id != ev->conn_id) {
        bool birth = ev->from == TS_TCP_CLOSE || ev->from == TS_TCP_LISTEN;
        if (birth) {
            struct ladder *displaced;
            l = ladder_make(sl, ev->conn_id, &t, (uint8_t)ev->from, ev->time, &displaced);
            if (by_segment)
                adopt_first_segment(sl, l, &t, displaced, ev->time);
        } else {
            l = find_id(sl, ev->conn_id); /* its 4-tuple changed, or it has no ladder */
            if (!l)
                return;
        }
    }
    struct ts_seg_item *it = push(sl, l, ev->time);
    it->kind = TS_SEGITEM_STATE;
    it->state = (uint8_t)ev->to;
    it->u.st.from = (uint8_t)ev->from;
    it->u.st.cause = ev->cause;
    it->u.st.in_from = ev->in_from;
    it->u.st.trace_seq = trace_seq;
    /* The segment being processed is the latest received one, at the same stack time. */
    struct ts_seg_item *by = by_segment ? item_at(sl, l, l->last_in) : NULL;
    if (by && by->time == ev->time) {
        it->u.st.by = by->n;
        if (by->u.seg.ncaused < 2)
            by->u.seg.caused[by->u.seg.ncaused++] = it->n;
    }
    l->c.state = (uint8_t)ev->to;
    if (ev->to == TS_TCP_CLOSE)
        l->c.ended = true;
}

/* ---------------------------------------------------------------- reading */

bool seglog_items_since(const struct seglog *sl, uint64_t conn_id, uint64_t since,
                        struct ts_seg_item *out, size_t max, size_t *n, struct ts_seg_conn *conn,
                        struct ts_stat_page *pg)
{
    *n = 0;
    memset(pg, 0, sizeof *pg);
    pg->next = since;
    const struct ladder *l = find_id(sl, conn_id);
    if (!l)
        return false;
    *conn = l->c;
    uint64_t newest = l->c.items;
    if (newest == 0)
        return true;
    pg->last = newest;
    pg->first = newest > sl->per ? newest - sl->per + 1 : 1;
    if (since > newest) { /* a number from another life of the ladder: start over from now */
        pg->next = newest;
        return true; /* nothing to copy (and since + 1 may wrap) */
    }
    uint64_t from = since + 1;
    if (since + 1 < pg->first) {
        pg->lost = pg->first - 1 - since;
        from = pg->first;
    }
    for (uint64_t k = from; k <= newest && *n < max; k++) {
        out[(*n)++] = l->items[(k - 1) % sl->per];
        pg->next = k;
    }
    return true;
}

size_t seglog_conns(const struct seglog *sl, struct ts_seg_conn *out, size_t max)
{
    size_t n = 0;
    uint64_t have = sl->made < sl->cap ? sl->made : sl->cap;
    for (uint64_t k = 0; k < have && n < max; k++)
        out[n++] = sl->lad[(sl->made - 1 - k) % sl->cap].c;
    return n;
}
