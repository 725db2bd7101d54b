/* SHA-256 (FIPS 180-4), streaming: for hashing upload bodies of any size as they arrive. */
#ifndef TAPSTACK_APPS_SHA256_H
#define TAPSTACK_APPS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN    65 /* 64 hex digits and the terminating NUL */

struct sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_DIGEST_LEN]);
/* Lower-case hex of a digest. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN]);
/* One-shot convenience. */
void sha256_buf(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

#endif
