/* The Internet checksum (RFC 1071), shared by IPv4, ICMP, UDP and TCP. */
#ifndef TS_WIRE_CHECKSUM_H
#define TS_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add len bytes (big-endian 16-bit words, odd last byte padded) to a running 32-bit sum.
 * Sums of several pieces may be chained only if every piece but the last has even length. */
uint32_t csum_add(uint32_t sum, const void *data, size_t len);
/* Fold and complement: the value to put in a header (or 0 when verifying a correct one). */
uint16_t csum_fold(uint32_t sum);
/* The IPv4 pseudo-header of TCP and UDP (addresses in host order). */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
static inline uint16_t csum(const void *data, size_t len)
{
    return csum_fold(csum_add(0, data, len));
}

#endif
