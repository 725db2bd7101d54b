/* SipHash-2-4 (Aumasson & Bernstein): a keyed hash, used for RFC 6528 initial sequence numbers
 * and for the connection hash table (so a remote peer cannot aim at one bucket). */
#ifndef TS_SIPHASH_H
#define TS_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t ts_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
