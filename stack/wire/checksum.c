/* The Internet checksum (RFC 1071).
 *
 * RFC 1071 2(B): the one's complement sum does not depend on byte order, so the data is summed
 * in the machine's native order, 8 bytes per load, and the folded 16-bit result is byte-swapped
 * once at the end on little-endian machines. 2^16 = 1 (mod 0xffff), so every fold below keeps
 * the sum's value modulo 0xffff, which is all the checksum needs. */
#include "wire/checksum.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CSUM_BIG_ENDIAN 1
#else
#define CSUM_BIG_ENDIAN 0
#endif

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* an unaligned-safe load, compiled to one instruction */
    return v;
}

/* Fold a 64-bit one's complement accumulator down to 16 bits. */
static inline uint16_t fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* Each 64-bit word is added as two 32-bit halves: 2^32 additions before the 64-bit
     * accumulator could overflow, far beyond any datagram. */
    uint64_t acc = 0;
    while (len >= 32) {
        uint64_t a = load64(p), b = load64(p + 8), c = load64(p + 16), d = load64(p + 24);
        acc += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
        acc += (c & 0xffffffffu) + (c >> 32) + (d & 0xffffffffu) + (d >> 32);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t a = load64(p);
        acc += (a & 0xffffffffu) + (a >> 32);
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        acc += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        /* RFC 1071 4.1: an odd last byte is the high byte of a word padded with zero. In native
         * order that byte sits at the lower address. */
#if CSUM_BIG_ENDIAN
        acc += (uint32_t)p[0] << 8;
#else
        acc += p[0];
#endif
    }
    uint16_t folded = fold64(acc);
#if !CSUM_BIG_ENDIAN
    folded = (uint16_t)((folded >> 8) | (folded << 8));
#endif
    uint64_t total = (uint64_t)sum + folded;
    return (uint32_t)((total & 0xffffffffu) + (total >> 32));
}

uint16_t csum_fold(uint32_t sum)
{
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    /* RFC 9293 3.1 / RFC 768: source, destination, zero + protocol, length. */
    uint64_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + len;
    return (uint32_t)s;
}
