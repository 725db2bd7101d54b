/* Wrap-safe sequence number arithmetic (RFC 9293 3.4: sequence space is modulo 2^32; a plain
 * `<` between sequence numbers is always a bug). */
#ifndef TS_SEQ_H
#define TS_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}
/* lo <= a < hi. The unsigned distance check matters at the edge of the signed comparisons: with
 * a == lo + 2^31 both seq_leq(lo, a) and seq_lt(a, hi) hold even for the empty range lo == hi, and
 * an idle connection took an ICMP error quoting SND.UNA + 2^31 as one about data in flight
 * (RFC 5927 4.1). */
static inline bool seq_in(uint32_t a, uint32_t lo, uint32_t hi)
{
    return seq_leq(lo, a) && seq_lt(a, hi) && (uint32_t)(a - lo) < (uint32_t)(hi - lo);
}

#endif
