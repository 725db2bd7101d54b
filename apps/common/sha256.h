/* SHA-256 (FIPS 180-4), streaming: for hashing upload bodies of any size as they arrive. */
#ifndef TAPSTACK_APPS_SHA256_H
#define TAPSTACK_APPS_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN    65 /* 64 hex digits and the terminating NUL */

typedef void (*sha256_compress_fn)(uint32_t h[8], const uint8_t *block);

struct sha256 {
    uint32_t h[8];
    sha256_compress_fn compress; /* one 64-byte block into h: portable, or the CPU's SHA */
    uint64_t total;              /* bytes hashed so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
};

/* A new stream with the fastest compression the CPU has (the x86 SHA extensions where present;
 * TAPSTACK_SHA_NI=0 in the environment keeps the portable code). */
void sha256_init(struct sha256 *c);
/* A new stream with a chosen compression, for tests that compare them; false when the CPU lacks
 * it. */
enum sha256_impl { SHA256_PORTABLE, SHA256_X86_SHA };
bool sha256_init_impl(struct sha256 *c, enum sha256_impl impl);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_DIGEST_LEN]);
/* Lower-case hex of a digest. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN]);
/* One-shot convenience. */
void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
