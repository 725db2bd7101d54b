/* A byte ring for TCP send and receive buffers. Offsets are relative to the oldest byte (head).
 * The receive side also writes out-of-order data beyond the end (ts_ring_write_at) and makes it
 * part of the ring later (ts_ring_commit), so reassembly needs no second copy.
 *
 * Memory follows use: the ring is a circle of page pointers, and a page (TS_RING_PAGE bytes) is
 * allocated when a byte is first written into it and freed when its last byte is consumed; an
 * empty ring holds no memory at all, its page table included. cap is only the bound on what the
 * ring may hold, so an idle connection costs nothing for its buffers while what TCP advertises
 * (computed from cap) does not change. A write that needs a page when memory is exhausted fails
 * whole (ts_ring_write_at) or stops short (ts_ring_append).
 *
 * Rings may share a pool (a stack's TCP table has one): it counts what they hold and keeps a few
 * free pages and page tables for reuse, so that a connection whose ring empties and fills again
 * at every request does not go to malloc each time. */
#ifndef TS_RINGBUF_H
#define TS_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_RING_PAGE 4096u

struct ts_ring_pool {
    size_t held;   /* bytes the rings hold (pages and page tables) */
    size_t cached; /* bytes kept here for reuse */
    void *pages;   /* free pages, linked through their first bytes */
    void *tables;  /* free page tables, linked through slot 0; slot 1 holds the table's size */
    unsigned npages, ntables;
};
/* The most a pool keeps: 1 MiB of pages, 64 tables. */
#define TS_RING_POOL_PAGES  256u
#define TS_RING_POOL_TABLES 64u
void ts_ring_pool_free(struct ts_ring_pool *p);

struct ts_ring {
    /* While everything written fits in one page (head + hi <= TS_RING_PAGE: a request, a
     * reply), that page is page0 and there is no table. */
    uint8_t *page0;
    uint8_t **pages; /* nslots page pointers, a circle; NULL while at most page0 is held */
    uint32_t nslots; /* cap / TS_RING_PAGE + 2: enough for cap bytes starting anywhere in a page */
    uint32_t first;  /* the slot of the page the oldest byte is in */
    uint32_t head;   /* offset of the oldest byte in that page */
    uint32_t len;    /* readable bytes */
    uint32_t hi;     /* bytes from the oldest to the end of what was written (len <= hi <= cap) */
    uint32_t cap;    /* the most bytes the ring holds (0: not set up) */
    uint32_t npages; /* pages held */
    struct ts_ring_pool *pool; /* if set: where pages come from and go back to */
};

/* Set the bound (no memory is taken yet). 0, or -ENOMEM (never, today: kept for callers). */
int ts_ring_init(struct ts_ring *r, uint32_t cap);
/* Free every page; the ring is no longer set up (cap 0). */
void ts_ring_free(struct ts_ring *r);
/* Raise the bound to newcap (> cap), keeping the contents and the bytes written beyond len. */
int ts_ring_grow(struct ts_ring *r, uint32_t newcap);
static inline uint32_t ts_ring_free_space(const struct ts_ring *r)
{
    return r->cap - r->len;
}
/* Append up to n bytes; returns how many fit (fewer also when memory runs out). */
uint32_t ts_ring_append(struct ts_ring *r, const void *data, uint32_t n);
/* Write n bytes at offset len+off without making them readable; requires len+off+n <= cap.
 * 0, or -ENOMEM (nothing written). */
int ts_ring_write_at(struct ts_ring *r, uint32_t off, const void *data, uint32_t n);
/* Make n bytes previously written with ts_ring_write_at(off=0..) readable. */
static inline void ts_ring_commit(struct ts_ring *r, uint32_t n)
{
    r->len += n;
    if (r->hi < r->len)
        r->hi = r->len;
}
/* Copy n bytes starting at offset off (off+n <= len) without consuming. */
void ts_ring_peek(const struct ts_ring *r, uint32_t off, void *out, uint32_t n);
/* Drop n (<= len) bytes from the front. */
void ts_ring_drop(struct ts_ring *r, uint32_t n);
/* Copy out and drop up to n bytes; returns the count. */
uint32_t ts_ring_read(struct ts_ring *r, void *out, uint32_t n);
/* Bytes of memory the ring holds now (pages and their table). */
size_t ts_ring_memory(const struct ts_ring *r);

#endif
