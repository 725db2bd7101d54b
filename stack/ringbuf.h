/* A byte ring for TCP send and receive buffers. Offsets are relative to the oldest byte (head).
 * The receive side also writes out-of-order data beyond the end (ts_ring_write_at) and makes it
 * part of the ring later (ts_ring_commit), so reassembly needs no second copy. */
#ifndef TS_RINGBUF_H
#define TS_RINGBUF_H

#include <stdbool.h>
#include <stdint.h>

struct ts_ring {
    uint8_t *buf;
    uint32_t cap, head, len;
};

int ts_ring_init(struct ts_ring *r, uint32_t cap); /* 0 or -ENOMEM */
void ts_ring_free(struct ts_ring *r);
/* Grow to newcap (> cap), keeping the contents and the bytes written beyond len (up to cap). */
int ts_ring_grow(struct ts_ring *r, uint32_t newcap);
static inline uint32_t ts_ring_free_space(const struct ts_ring *r)
{
    return r->cap - r->len;
}
/* Append up to n bytes; returns how many fit. */
uint32_t ts_ring_append(struct ts_ring *r, const void *data, uint32_t n);
/* Write n bytes at offset len+off without making them readable; requires len+off+n <= cap. */
void ts_ring_write_at(struct ts_ring *r, uint32_t off, const void *data, uint32_t n);
/* Make n bytes previously written with ts_ring_write_at(off=0..) readable. */
static inline void ts_ring_commit(struct ts_ring *r, uint32_t n)
{
    r->len += n;
}
/* Copy n bytes starting at offset off (off+n <= len) without consuming. */
void ts_ring_peek(const struct ts_ring *r, uint32_t off, void *out, uint32_t n);
/* Drop n (<= len) bytes from the front. */
void ts_ring_drop(struct ts_ring *r, uint32_t n);
/* Copy out and drop up to n bytes; returns the count. */
uint32_t ts_ring_read(struct ts_ring *r, void *out, uint32_t n);

#endif
