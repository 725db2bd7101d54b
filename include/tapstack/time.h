/* Time in tapstack: monotonic microseconds, always passed in by the caller. The core never reads
 * a clock, so a test can run it on a virtual clock. */
#ifndef TAPSTACK_TIME_H
#define TAPSTACK_TIME_H

#include <stdint.h>

typedef uint64_t ts_time_t;

#define TS_US         ((ts_time_t)1)
#define TS_MS         ((ts_time_t)1000)
#define TS_SEC        ((ts_time_t)1000000)
#define TS_TIME_NEVER UINT64_MAX

static inline ts_time_t ts_time_min(ts_time_t a, ts_time_t b)
{
    return a < b ? a : b;
}

#endif
