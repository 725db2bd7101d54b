#include "ringbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGE TS_RING_PAGE

static uint32_t slots_for(uint32_t cap)
{
    return cap / PAGE + 2;
}

/* ---- pages and tables, through the pool when there is one ---- */

static void *page_get(struct ts_ring *r)
{
    struct ts_ring_pool *p = r->pool;
    void *pg;
    if (p && p->pages) {
        pg = p->pages;
        p->pages = *(void **)pg;
        p->npages--;
        p->cached -= PAGE;
    } else if (!(pg = malloc(PAGE))) {
        return NULL;
    }
    if (p)
        p->held += PAGE;
    r->npages++;
    return pg;
}

static void page_put(struct ts_ring *r, void *pg)
{
    struct ts_ring_pool *p = r->pool;
    r->npages--;
    if (!p) {
        free(pg);
        return;
    }
    p->held -= PAGE;
    if (p->npages < TS_RING_POOL_PAGES) {
        *(void **)pg = p->pages;
        p->pages = pg;
        p->npages++;
        p->cached += PAGE;
    } else {
        free(pg);
    }
}

static size_t table_bytes(uint32_t nslots)
{
    return (size_t)nslots * sizeof(uint8_t *);
}

static uint8_t **table_get(struct ts_ring *r, uint32_t nslots)
{
    struct ts_ring_pool *p = r->pool;
    uint8_t **t = NULL;
    if (p && nslots >= 2) {
        /* A cached table of this size: the pool's are nearly always the stack's default size. */
        for (void **pp = &p->tables; *pp; pp = (void **)*pp) {
            uint8_t **c = *pp;
            if ((uintptr_t)c[1] == nslots) {
                *pp = (void *)c[0];
                p->ntables--;
                p->cached -= table_bytes(nslots);
                c[0] = c[1] = NULL; /* the rest is NULL already: tables come back empty */
                t = c;
                break;
            }
        }
    }
    if (!t && !(t = calloc(nslots, sizeof(*t))))
        return NULL;
    if (p)
        p->held += table_bytes(nslots);
    return t;
}

/* t must hold no page any more (every slot NULL). */
static void table_put(struct ts_ring *r, uint8_t **t, uint32_t nslots)
{
    struct ts_ring_pool *p = r->pool;
    if (!p) {
        free(t);
        return;
    }
    p->held -= table_bytes(nslots);
    if (nslots >= 2 && p->ntables < TS_RING_POOL_TABLES) {
        t[0] = p->tables;
        t[1] = (uint8_t *)(uintptr_t)nslots;
        p->tables = t;
        p->ntables++;
        p->cached += table_bytes(nslots);
    } else {
        free(t);
    }
}

void ts_ring_pool_free(struct ts_ring_pool *p)
{
    while (p->pages) {
        void *n = *(void **)p->pages;
        free(p->pages);
        p->pages = n;
    }
    while (p->tables) {
        void *n = *(void **)p->tables;
        free(p->tables);
        p->tables = n;
    }
    p->npages = p->ntables = 0;
    p->cached = 0;
}

/* Give back every page and the table: the ring holds nothing (its bound stays). */
static void release_all(struct ts_ring *r)
{
    if (r->pages) {
        /* Pages lie from the first slot on (those before it were freed as they were read). */
        for (uint32_t k = 0, i = r->first; k < r->nslots && r->npages; k++) {
            if (r->pages[i]) {
                page_put(r, r->pages[i]);
                r->pages[i] = NULL;
            }
            i = i + 1 == r->nslots ? 0 : i + 1;
        }
        table_put(r, r->pages, r->nslots);
    }
    if (r->page0)
        page_put(r, r->page0);
    r->page0 = NULL;
    r->pages = NULL;
    r->npages = 0;
    r->first = r->head = 0;
}

int ts_ring_init(struct ts_ring *r, uint32_t cap)
{
    release_all(r);
    r->nslots = slots_for(cap);
    r->cap = cap;
    r->len = r->hi = 0;
    return 0;
}

void ts_ring_free(struct ts_ring *r)
{
    release_all(r);
    r->cap = r->len = r->hi = r->nslots = 0;
}

/* The table slot of the page holding byte off (table mode). */
static uint32_t slot_index(const struct ts_ring *r, uint64_t q)
{
    uint32_t i = r->first + (uint32_t)(q / PAGE); /* < 2 * nslots: no division needed */
    return i >= r->nslots ? i - r->nslots : i;
}

/* The page holding byte off from the oldest, and where in it that byte is. */
static uint8_t *page_at(const struct ts_ring *r, uint32_t off, uint32_t *in_page)
{
    uint64_t q = (uint64_t)r->head + off;
    *in_page = (uint32_t)(q % PAGE);
    return r->pages ? r->pages[slot_index(r, q)] : r->page0; /* (page0: q < PAGE) */
}

/* Pages for the bytes [off, off + n) from the oldest one. -ENOMEM when one cannot be had (those
 * allocated stay, freed with the rest when the ring empties). */
static int ensure(struct ts_ring *r, uint32_t off, uint32_t n)
{
    if (!n)
        return 0;
    uint64_t end = (uint64_t)r->head + off + n;
    if (!r->pages && end <= PAGE) {
        if (!r->page0 && !(r->page0 = page_get(r)))
            return -ENOMEM;
        return 0;
    }
    if (!r->pages) {
        /* Past one page: a table, with page0 (if any) as the first slot's page. */
        if (!(r->pages = table_get(r, r->nslots)))
            return -ENOMEM;
        r->pages[r->first] = r->page0;
        r->page0 = NULL;
    }
    for (uint64_t q = (uint64_t)r->head + off; q < end; q = (q / PAGE + 1) * PAGE) {
        uint8_t **p = &r->pages[slot_index(r, q)];
        if (!*p && !(*p = page_get(r)))
            return -ENOMEM;
    }
    return 0;
}

static void copy_in(struct ts_ring *r, uint32_t off, const uint8_t *data, uint32_t n)
{
    while (n) {
        uint32_t in;
        uint8_t *p = page_at(r, off, &in);
        uint32_t k = PAGE - in < n ? PAGE - in : n;
        memcpy(p + in, data, k);
        data += k;
        off += k;
        n -= k;
    }
}

int ts_ring_grow(struct ts_ring *r, uint32_t newcap)
{
    if (newcap <= r->cap)
        return 0;
    uint32_t ns = slots_for(newcap);
    if (r->pages) {
        /* The table in logical order from the oldest page, in a larger circle. */
        uint8_t **np = table_get(r, ns);
        if (!np)
            return -ENOMEM;
        for (uint32_t i = 0; i < r->nslots; i++)
            np[i] = r->pages[(r->first + i) % r->nslots];
        memset(r->pages, 0, table_bytes(r->nslots));
        table_put(r, r->pages, r->nslots);
        r->pages = np;
        r->first = 0;
    }
    r->nslots = ns;
    r->cap = newcap;
    return 0;
}

uint32_t ts_ring_append(struct ts_ring *r, const void *data, uint32_t n)
{
    uint32_t room = r->cap - r->len;
    if (n > room)
        n = room;
    while (n && ensure(r, r->len, n) < 0)
        n = n > PAGE ? n / 2 : 0; /* take what the memory we have allows */
    if (n) {
        copy_in(r, r->len, data, n);
        r->len += n;
        if (r->hi < r->len)
            r->hi = r->len;
    }
    return n;
}

int ts_ring_write_at(struct ts_ring *r, uint32_t off, const void *data, uint32_t n)
{
    if (!n)
        return 0;
    if (ensure(r, r->len + off, n) < 0)
        return -ENOMEM;
    copy_in(r, r->len + off, data, n);
    if (r->hi < r->len + off + n)
        r->hi = r->len + off + n;
    return 0;
}

void ts_ring_peek(const struct ts_ring *r, uint32_t off, void *out, uint32_t n)
{
    uint8_t *o = out;
    while (n) {
        uint32_t in;
        const uint8_t *p = page_at(r, off, &in);
        uint32_t k = PAGE - in < n ? PAGE - in : n;
        memcpy(o, p + in, k);
        o += k;
        off += k;
        n -= k;
    }
}

void ts_ring_drop(struct ts_ring *r, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    r->len -= n;
    r->hi -= n;
    if (r->len == 0 && r->hi == 0) {
        release_all(r); /* empty, nothing written beyond: no memory while idle */
        return;
    }
    uint64_t q = (uint64_t)r->head + n;
    if (!r->pages) {
        r->head = (uint32_t)q; /* within page0: bytes remain after it */
        return;
    }
    while (q >= PAGE) {
        uint8_t **p = &r->pages[r->first];
        if (*p) {
            page_put(r, *p);
            *p = NULL;
        }
        r->first = r->first + 1 == r->nslots ? 0 : r->first + 1;
        q -= PAGE;
    }
    r->head = (uint32_t)q;
}

uint32_t ts_ring_read(struct ts_ring *r, void *out, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    ts_ring_peek(r, 0, out, n);
    ts_ring_drop(r, n);
    return n;
}

size_t ts_ring_memory(const struct ts_ring *r)
{
    return (size_t)r->npages * PAGE + (r->pages ? table_bytes(r->nslots) : 0);
}
