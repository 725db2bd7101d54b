/* The /bytes pattern; see pattern.h. */
#include "pattern.h"

#include <string.h>

void pattern_fill(uint8_t *buf, size_t len, uint64_t offset)
{
    /* One period as a table, copied in runs: several GB/s, so the pattern is never what limits
     * a download. */
    static const uint8_t period[PATTERN_PERIOD] = {
#define P4(i)  (i), (i) + 1, (i) + 2, (i) + 3
#define P16(i) P4(i), P4((i) + 4), P4((i) + 8), P4((i) + 12)
        P16(0),   P16(16),  P16(32),  P16(48),  P16(64),  P16(80),  P16(96),
        P16(112), P16(128), P16(144), P16(160), P16(176), P16(192), P16(208),
        P16(224), P4(240),  P4(244),  248,      249,      250,
#undef P16
#undef P4
    };
    size_t k = (size_t)(offset % PATTERN_PERIOD);
    while (len) {
        size_t n = PATTERN_PERIOD - k;
        if (n > len)
            n = len;
        memcpy(buf, period + k, n);
        buf += n;
        len -= n;
        k = 0;
    }
}
