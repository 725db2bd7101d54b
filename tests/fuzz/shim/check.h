/* Stand-in for libcheck's assertion macros so that the unit tests' fixtures (tests/unit/
 * tcp_fixture.c) run inside a libFuzzer target: a failed assertion prints itself and aborts, and
 * libFuzzer reports it with the input. (Running each input under a real libcheck runner in
 * no-fork mode got the process killed after a few thousand inputs.) */
#ifndef SHIM_CHECK_H
#define SHIM_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#define SHIM_FAIL(...)                                                                             \
    (fprintf(stderr, "fixture assertion %s:%d: ", __FILE__, __LINE__),                             \
     fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), abort())
#define ck_assert_msg(c, ...)                                                                      \
    do {                                                                                           \
        if (!(c))                                                                                  \
            SHIM_FAIL(__VA_ARGS__);                                                                \
    } while (0)
#define ck_abort_msg(...) SHIM_FAIL(__VA_ARGS__)
#define ck_assert(c)      ck_assert_msg(c, "%s", #c)
#define SHIM_CMP(a, op, b, T, fmt)                                                                 \
    do {                                                                                           \
        T _a = (a), _b = (b);                                                                      \
        if (!(_a op _b))                                                                           \
            SHIM_FAIL("%s " #op " %s: " fmt " vs " fmt, #a, #b, _a, _b);                           \
    } while (0)
#define ck_assert_int_eq(a, b)   SHIM_CMP(a, ==, b, long long, "%lld")
#define ck_assert_uint_eq(a, b)  SHIM_CMP(a, ==, b, unsigned long long, "%llu")
#define ck_assert_uint_ge(a, b)  SHIM_CMP(a, >=, b, unsigned long long, "%llu")
#define ck_assert_uint_gt(a, b)  SHIM_CMP(a, >, b, unsigned long long, "%llu")
#define ck_assert_uint_le(a, b)  SHIM_CMP(a, <=, b, unsigned long long, "%llu")
#define ck_assert_ptr_nonnull(p) ck_assert_msg((p) != NULL, "%s is NULL", #p)
#endif
