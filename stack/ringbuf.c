#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ts_ring_init(struct ts_ring *r, uint32_t cap)
{
    r->buf = malloc(cap ? cap : 1);
    if (!r->buf)
        return -ENOMEM;
    r->cap = cap;
    r->head = r->len = 0;
    return 0;
}

void ts_ring_free(struct ts_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->head = r->len = 0;
}

/* Copy n bytes in from data at physical position pos, wrapping once if needed. */
static void copy_in(struct ts_ring *r, uint32_t pos, const uint8_t *data, uint32_t n)
{
    uint32_t first = r->cap - pos;
    if (first > n)
        first = n;
    memcpy(r->buf + pos, data, first);
    if (n > first)
        memcpy(r->buf, data + first, n - first);
}

static uint32_t phys(const struct ts_ring *r, uint32_t off)
{
    /* off < 2*cap always: head < cap and off <= cap. */
    uint64_t p = (uint64_t)r->head + off;
    return (uint32_t)(p >= r->cap ? p - r->cap : p);
}

int ts_ring_grow(struct ts_ring *r, uint32_t newcap)
{
    if (newcap <= r->cap)
        return 0;
    uint8_t *nb = malloc(newcap);
    if (!nb)
        return -ENOMEM;
    /* Keep the whole old capacity in logical order: bytes beyond len may be out-of-order data. */
    if (r->cap)
        ts_ring_peek(&(struct ts_ring){r->buf, r->cap, r->head, r->cap}, 0, nb, r->cap);
    free(r->buf);
    r->buf = nb;
    r->cap = newcap;
    r->head = 0;
    return 0;
}

uint32_t ts_ring_append(struct ts_ring *r, const void *data, uint32_t n)
{
    uint32_t room = r->cap - r->len;
    if (n > room)
        n = room;
    if (n) {
        copy_in(r, phys(r, r->len), data, n);
        r->len += n;
    }
    return n;
}

void ts_ring_write_at(struct ts_ring *r, uint32_t off, const void *data, uint32_t n)
{
    if (n)
        copy_in(r, phys(r, r->len + off), data, n);
}

void ts_ring_peek(const struct ts_ring *r, uint32_t off, void *out, uint32_t n)
{
    if (!n)
        return;
    uint32_t pos = phys(r, off);
    uint32_t first = r->cap - pos;
    if (first > n)
        first = n;
    memcpy(out, r->buf + pos, first);
    if (n > first)
        memcpy((uint8_t *)out + first, r->buf, n - first);
}

void ts_ring_drop(struct ts_ring *r, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    r->head = phys(r, n);
    r->len -= n;
}

uint32_t ts_ring_read(struct ts_ring *r, void *out, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    ts_ring_peek(r, 0, out, n);
    ts_ring_drop(r, n);
    return n;
}
