/* A growing text buffer for generated bodies (pages, counters): sb_printf appends, doubling the
 * buffer as needed; on allocation failure it sets oom and ignores everything after. Free p. */
#ifndef TAPSTACK_APPS_SBUF_H
#define TAPSTACK_APPS_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
