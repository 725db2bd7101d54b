/* Counter names and descriptions, all generated from the one list in counters.h.
 *
 * Names are the enum names in lower case ("IP_DROP_BAD_CSUM" -> "ip_drop_bad_csum"). They are
 * built at compile time, one character at a time from the stringified enum name, so the table
 * is constant data: no global mutable state, no initialisation order, safe from any thread. */
#include "tapstack/counters.h"

#include <stddef.h>

#define TS_NAME_MAX 48 /* longest name + NUL; checked below for every counter */

#define LC(c) ((char)((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' + 'a' : (c)))
/* Character i of string literal s in lower case, or NUL past its end. The inner conditional
 * keeps the index in bounds even in the branch that is not taken. */
#define CH(s, i) ((size_t)(i) < sizeof(s) ? LC((s)[(size_t)(i) < sizeof(s) ? (i) : 0]) : '\0')
#define CH8(s, i)                                                                                  \
    CH(s, (i) + 0), CH(s, (i) + 1), CH(s, (i) + 2), CH(s, (i) + 3), CH(s, (i) + 4),                \
        CH(s, (i) + 5), CH(s, (i) + 6), CH(s, (i) + 7)
#define LOWER(s)                                                                                   \
    {                                                                                              \
        CH8(s, 0), CH8(s, 8), CH8(s, 16), CH8(s, 24), CH8(s, 32), CH8(s, 40)                       \
    }

struct ts_counter_name {
    char s[TS_NAME_MAX];
};

#define TS_NAME_FITS(name, desc)                                                                   \
    _Static_assert(sizeof(#name) <= TS_NAME_MAX, "counter name too long: raise TS_NAME_MAX");
TS_COUNTERS(TS_NAME_FITS)
#undef TS_NAME_FITS

static const struct ts_counter_name names[TS_C_COUNT] = {[TS_C_OK] = {"ok"},
#define TS_NAME_ENTRY(name, desc) [TS_C_##name] = {LOWER(#name)},
                                                         TS_COUNTERS(TS_NAME_ENTRY)
#undef TS_NAME_ENTRY
};

static const char *const descs[TS_C_COUNT] = {[TS_C_OK] = "no drop",
#define TS_DESC_ENTRY(name, desc) [TS_C_##name] = desc,
                                              TS_COUNTERS(TS_DESC_ENTRY)
#undef TS_DESC_ENTRY
};

const char *ts_counter_name(enum ts_counter c)
{
    if ((unsigned)c >= TS_C_COUNT)
        return "unknown";
    return names[c].s;
}

const char *ts_counter_desc(enum ts_counter c)
{
    if ((unsigned)c >= TS_C_COUNT)
        return "unknown counter";
    return descs[c];
}
