/* The deterministic byte pattern of tapstack-httpd's GET /bytes/N (and the echo client's
 * payloads): byte number i (counting from 0) is i mod 251.
 *
 * 251 is prime, so the pattern never lines up with power-of-two buffer, segment or window sizes:
 * a lost, repeated or shifted block of any such size changes the SHA-256. Because 251*4096 bytes
 * is a whole number of periods, the stream is that block repeated; its SHA-256 for N bytes is
 *   python3 -c 'import sys,hashlib;n=int(sys.argv[1]);c=bytes(range(251))*4096;h=hashlib.sha256()
 *     [h.update(c[:min(len(c),n-i)]) for i in range(0,n,len(c))];print(h.hexdigest())' N
 * (on one line, with ";" for the line break; see README "Apps"). */
#ifndef TAPSTACK_APPS_PATTERN_H
#define TAPSTACK_APPS_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define PATTERN_PERIOD 251

static inline uint8_t pattern_byte(uint64_t i)
{
    return (uint8_t)(i % PATTERN_PERIOD);
}
/* buf[k] = pattern_byte(offset + k) for k < len. */
void pattern_fill(uint8_t *buf, size_t len, uint64_t offset);

#endif
