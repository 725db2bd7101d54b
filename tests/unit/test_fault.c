/* The fault injection wrapper on the pair link: determinism, rates, per-direction settings, and
 * the reorder and delay holds announced through next_deadline. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/driver.h"

#define FRAME_LEN 64
#define N_RATE    10000

/* A link: the stack's side wrapped in the fault injector (f), and the far end (peer). */
struct link {
    struct ts_driver *f, *peer;
};

static struct link link_new(const struct ts_fault_config *cfg)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    ck_assert_ptr_nonnull(a);
    struct link l = {ts_fault_wrap(a, cfg), b};
    ck_assert_ptr_nonnull(l.f);
    return l;
}

static void link_free(struct link *l)
{
    ts_driver_destroy(l->f);
    ts_driver_destroy(l->peer);
}

/* Frame i: an Ethernet header, then i as 4 bytes, then filler derived from i. */
static void make_frame(uint32_t i, uint8_t *f)
{
    memset(f, 0, FRAME_LEN);
    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
    memcpy(f + 14, &i, 4);
    for (int k = 18; k < FRAME_LEN; k++)
        f[k] = (uint8_t)(i * 7 + (uint32_t)k);
}

static uint32_t frame_index(const uint8_t *f)
{
    uint32_t i;
    memcpy(&i, f + 14, 4);
    return i;
}

/* Send frame i out through the injector at `now`, collect what reaches the far end into
 * got[*n...] (indexes). */
static void send_and_collect(struct link *l, uint32_t i, ts_time_t now, uint32_t *got, size_t *n,
                             size_t cap)
{
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(i, f);
    ck_assert_int_eq(ts_driver_send(l->f, f, FRAME_LEN, now), 0);
    int r;
    while ((r = ts_driver_recv(l->peer, buf, sizeof buf, now)) > 0) {
        ck_assert_int_eq(r, FRAME_LEN);
        ck_assert_uint_lt(*n, cap);
        got[(*n)++] = frame_index(buf);
    }
    ck_assert_int_eq(r, 0);
}

/* Run N frames out through a fresh injector with cfg; returns the indexes in arrival order. */
static uint32_t *run_out(const struct ts_fault_config *cfg, size_t n, size_t *got_n,
                         struct ts_fault_stats *st)
{
    struct link l = link_new(cfg);
    size_t cap = n * 2 + 16;
    uint32_t *got = calloc(cap, sizeof(*got));
    ck_assert_ptr_nonnull(got);
    *got_n = 0;
    for (uint32_t i = 0; i < n; i++)
        send_and_collect(&l, i, (ts_time_t)i * 10, got, got_n, cap);
    /* Anything still held (a reorder slot) goes after its hold time. */
    ts_time_t end = (ts_time_t)n * 10 + TS_FAULT_REORDER_HOLD;
    uint8_t buf[256];
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, end), 0);
    int r;
    while ((r = ts_driver_recv(l.peer, buf, sizeof buf, end)) > 0)
        got[(*got_n)++] = frame_index(buf);
    ck_assert_int_eq(ts_fault_stats(l.f, st), 0);
    link_free(&l);
    return got;
}

/* |observed - expected| within 5 standard deviations of a binomial(n, p). */
static void assert_rate(uint64_t observed, size_t n, double p)
{
    double expect = (double)n * p;
    double sd = sqrt((double)n * p * (1 - p));
    double diff = (double)observed - expect;
    if (diff < 0)
        diff = -diff;
    ck_assert_msg(diff <= 5 * sd + 1, "observed %llu, expected %.0f +- %.0f",
                  (unsigned long long)observed, expect, 5 * sd);
}

START_TEST(test_zero_rates_pass_every_frame_once_in_order)
{
    struct ts_fault_config cfg = {.seed = 1};
    size_t n;
    struct ts_fault_stats st;
    uint32_t *got = run_out(&cfg, 1000, &n, &st);
    ck_assert_uint_eq(n, 1000);
    for (uint32_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(got[i], i);
    ck_assert_uint_eq(st.dropped + st.duplicated + st.reordered + st.corrupted + st.delayed, 0);
    free(got);
}
END_TEST

START_TEST(test_same_seed_gives_same_decisions_and_another_seed_does_not)
{
    struct ts_fault_config cfg = {
        .out = {.drop = 0.1, .dup = 0.1, .reorder = 0.1},
        .seed = 42,
    };
    size_t n1, n2, n3;
    struct ts_fault_stats s1, s2, s3;
    uint32_t *g1 = run_out(&cfg, 3000, &n1, &s1);
    uint32_t *g2 = run_out(&cfg, 3000, &n2, &s2);
    cfg.seed = 43;
    uint32_t *g3 = run_out(&cfg, 3000, &n3, &s3);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(g1, g2, n1 * sizeof(*g1));
    ck_assert_mem_eq(&s1, &s2, sizeof(s1));
    ck_assert_msg(n1 != n3 || memcmp(g1, g3, n1 * sizeof(*g1)) != 0,
                  "seeds 42 and 43 made identical decisions");
    free(g1);
    free(g2);
    free(g3);
}
END_TEST

START_TEST(test_drop_rate_matches_configuration_and_send_still_succeeds)
{
    struct ts_fault_config cfg = {.out = {.drop = 0.1}, .seed = 7};
    size_t n;
    struct ts_fault_stats st;
    uint32_t *got = run_out(&cfg, N_RATE, &n, &st);
    assert_rate(st.dropped, N_RATE, 0.1);
    ck_assert_uint_eq(n + st.dropped, N_RATE);
    for (size_t i = 1; i < n; i++)
        ck_assert_uint_gt(got[i], got[i - 1]); /* what is left keeps its order */
    free(got);
}
END_TEST

START_TEST(test_dup_rate_matches_configuration_and_copies_follow_the_original)
{
    struct ts_fault_config cfg = {.out = {.dup = 0.2}, .seed = 9};
    size_t n;
    struct ts_fault_stats st;
    uint32_t *got = run_out(&cfg, N_RATE, &n, &st);
    assert_rate(st.duplicated, N_RATE, 0.2);
    ck_assert_uint_eq(n, N_RATE + st.duplicated);
    size_t adjacent = 0;
    for (size_t i = 1; i < n; i++) {
        ck_assert_uint_ge(got[i], got[i - 1]);
        adjacent += got[i] == got[i - 1];
    }
    ck_assert_uint_eq(adjacent, st.duplicated);
    free(got);
}
END_TEST

START_TEST(test_reorder_swaps_a_held_frame_with_the_next_one_at_the_configured_rate)
{
    struct ts_fault_config cfg = {.out = {.reorder = 0.1}, .seed = 11};
    size_t n;
    struct ts_fault_stats st;
    uint32_t *got = run_out(&cfg, N_RATE, &n, &st);
    /* One frame is held at a time and the frame right after a held one cannot be held, so a
     * frame is held with probability p/(1+p) in the long run. */
    assert_rate(st.reordered, N_RATE, 0.1 / 1.1);
    ck_assert_uint_eq(n, N_RATE);
    size_t inversions = 0;
    uint8_t *seen = calloc(N_RATE, 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(got[i], N_RATE);
        ck_assert_uint_eq(seen[got[i]], 0);
        seen[got[i]] = 1;
        if (i > 0 && got[i] < got[i - 1]) {
            ck_assert_uint_eq(got[i] + 1, got[i - 1]); /* swapped with its successor */
            inversions++;
        }
    }
    ck_assert_uint_eq(inversions, st.reordered);
    free(seen);
    free(got);
}
END_TEST

START_TEST(test_corrupt_flips_exactly_one_bit_after_the_ethernet_header_at_the_rate)
{
    struct ts_fault_config cfg = {.out = {.corrupt = 0.1}, .seed = 13};
    struct link l = link_new(&cfg);
    size_t corrupted = 0;
    for (uint32_t i = 0; i < N_RATE; i++) {
        uint8_t f[FRAME_LEN], buf[256];
        make_frame(i, f);
        ck_assert_int_eq(ts_driver_send(l.f, f, FRAME_LEN, i), 0);
        ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, i), FRAME_LEN);
        ck_assert_mem_eq(buf, f, 14);
        int bits = 0;
        for (int k = 14; k < FRAME_LEN; k++)
            bits += __builtin_popcount((unsigned)(buf[k] ^ f[k]));
        ck_assert_int_le(bits, 1);
        corrupted += bits;
    }
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(l.f, &st), 0);
    ck_assert_uint_eq(st.corrupted, corrupted);
    assert_rate(st.corrupted, N_RATE, 0.1);
    link_free(&l);
}
END_TEST

START_TEST(test_in_direction_faults_apply_only_to_received_frames)
{
    struct ts_fault_config cfg = {.in = {.drop = 1.0}, .seed = 1};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(5, f);
    /* Out: untouched. */
    ck_assert_int_eq(ts_driver_send(l.f, f, FRAME_LEN, 0), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, 0), FRAME_LEN);
    ck_assert_mem_eq(buf, f, FRAME_LEN);
    /* In: every frame dropped. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), 0);
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(l.f, &st), 0);
    ck_assert_uint_eq(st.dropped, 10);
    link_free(&l);
}
END_TEST

START_TEST(test_in_direction_dup_and_reorder_reach_the_receiver)
{
    struct ts_fault_config cfg = {.in = {.dup = 1.0}, .seed = 1};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(1, f);
    ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    make_frame(2, f);
    ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    uint32_t want[] = {1, 1, 2, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), FRAME_LEN);
        ck_assert_uint_eq(frame_index(buf), want[i]);
    }
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), 0);
    link_free(&l);

    cfg = (struct ts_fault_config){.in = {.reorder = 1.0}, .seed = 1};
    l = link_new(&cfg);
    for (uint32_t i = 1; i <= 3; i++) {
        make_frame(i, f);
        ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    }
    /* 1 is held, 2 passes (the slot is taken) and releases 1, 3 is held until the hold time. */
    uint32_t want2[] = {2, 1};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), FRAME_LEN);
        ck_assert_uint_eq(frame_index(buf), want2[i]);
    }
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, 0), TS_FAULT_REORDER_HOLD);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, TS_FAULT_REORDER_HOLD), FRAME_LEN);
    ck_assert_uint_eq(frame_index(buf), 3);
    link_free(&l);
}
END_TEST

START_TEST(test_out_delay_holds_frame_until_next_deadline)
{
    struct ts_fault_config cfg = {.out = {.delay = 50 * TS_MS}, .seed = 1};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(1, f);
    ts_time_t t0 = 1000 * TS_MS;
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, t0), TS_TIME_NEVER);
    ck_assert_int_eq(ts_driver_send(l.f, f, FRAME_LEN, t0), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, t0), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, t0), t0 + 50 * TS_MS);
    /* A loop that wakes early releases nothing. */
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, t0 + 49 * TS_MS), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, t0 + 49 * TS_MS), 0);
    /* At the deadline the loop's recv call sends it on. */
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, t0 + 50 * TS_MS), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, t0 + 50 * TS_MS), FRAME_LEN);
    ck_assert_mem_eq(buf, f, FRAME_LEN);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, t0 + 50 * TS_MS), TS_TIME_NEVER);
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(l.f, &st), 0);
    ck_assert_uint_eq(st.delayed, 1);
    link_free(&l);
}
END_TEST

START_TEST(test_in_delay_holds_received_frames_in_order_until_due)
{
    struct ts_fault_config cfg = {.in = {.delay = 20 * TS_MS}, .seed = 1};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(1, f);
    ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), 0);
    make_frame(2, f);
    ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 5 * TS_MS), 0);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 5 * TS_MS), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, 5 * TS_MS), 20 * TS_MS);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 20 * TS_MS), FRAME_LEN);
    ck_assert_uint_eq(frame_index(buf), 1);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 20 * TS_MS), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, 20 * TS_MS), 25 * TS_MS);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 25 * TS_MS), FRAME_LEN);
    ck_assert_uint_eq(frame_index(buf), 2);
    link_free(&l);
}
END_TEST

START_TEST(test_reordered_frame_alone_is_released_after_the_hold_time)
{
    struct ts_fault_config cfg = {.out = {.reorder = 1.0}, .seed = 1};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    make_frame(1, f);
    ck_assert_int_eq(ts_driver_send(l.f, f, FRAME_LEN, 0), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, 0), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(l.f, 0), TS_FAULT_REORDER_HOLD);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, TS_FAULT_REORDER_HOLD - 1), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, TS_FAULT_REORDER_HOLD), 0);
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, TS_FAULT_REORDER_HOLD), 0);
    ck_assert_int_eq(ts_driver_recv(l.peer, buf, sizeof buf, TS_FAULT_REORDER_HOLD), FRAME_LEN);
    ck_assert_uint_eq(frame_index(buf), 1);
    link_free(&l);
}
END_TEST

START_TEST(test_destroy_frees_frames_still_held)
{
    /* Run under ASan/LSan: a leak here fails the sanitizer build. */
    struct ts_fault_config cfg = {
        .in = {.delay = TS_SEC}, .out = {.delay = TS_SEC, .reorder = 0.5}, .seed = 3};
    struct link l = link_new(&cfg);
    uint8_t f[FRAME_LEN], buf[256];
    for (uint32_t i = 0; i < 100; i++) {
        make_frame(i, f);
        ck_assert_int_eq(ts_driver_send(l.f, f, FRAME_LEN, 0), 0);
        ck_assert_int_eq(ts_driver_send(l.peer, f, FRAME_LEN, 0), 0);
    }
    ck_assert_int_eq(ts_driver_recv(l.f, buf, sizeof buf, 0), 0);
    ck_assert_uint_eq(ts_pair_pending(l.peer), 0);
    link_free(&l);
}
END_TEST

START_TEST(test_stats_refuse_a_driver_that_is_not_a_fault_injector)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(a, &st), -1);
    ck_assert_int_eq(ts_fault_stats(NULL, &st), -1);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_out_of_range_probabilities_are_clamped)
{
    struct ts_fault_config cfg = {.out = {.drop = 7.0, .dup = -1.0}, .seed = 1};
    size_t n;
    struct ts_fault_stats st;
    uint32_t *got = run_out(&cfg, 100, &n, &st);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(st.dropped, 100);
    ck_assert_uint_eq(st.duplicated, 0);
    free(got);
}
END_TEST

START_TEST(test_fd_is_the_inner_drivers)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    int fd = ts_driver_fd(a);
    struct ts_fault_config cfg = {.seed = 1};
    struct ts_driver *f = ts_fault_wrap(a, &cfg);
    ck_assert_int_eq(ts_driver_fd(f), fd);
    ck_assert_str_eq(f->name, "fault");
    ts_driver_destroy(f);
    ts_driver_destroy(b);
}
END_TEST

static Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_zero_rates_pass_every_frame_once_in_order);
    tcase_add_test(tc, test_same_seed_gives_same_decisions_and_another_seed_does_not);
    tcase_add_test(tc, test_drop_rate_matches_configuration_and_send_still_succeeds);
    tcase_add_test(tc, test_dup_rate_matches_configuration_and_copies_follow_the_original);
    tcase_add_test(tc, test_reorder_swaps_a_held_frame_with_the_next_one_at_the_configured_rate);
    tcase_add_test(tc, test_corrupt_flips_exactly_one_bit_after_the_ethernet_header_at_the_rate);
    tcase_add_test(tc, test_in_direction_faults_apply_only_to_received_frames);
    tcase_add_test(tc, test_in_direction_dup_and_reorder_reach_the_receiver);
    tcase_add_test(tc, test_out_delay_holds_frame_until_next_deadline);
    tcase_add_test(tc, test_in_delay_holds_received_frames_in_order_until_due);
    tcase_add_test(tc, test_reordered_frame_alone_is_released_after_the_hold_time);
    tcase_add_test(tc, test_destroy_frees_frames_still_held);
    tcase_add_test(tc, test_stats_refuse_a_driver_that_is_not_a_fault_injector);
    tcase_add_test(tc, test_out_of_range_probabilities_are_clamped);
    tcase_add_test(tc, test_fd_is_the_inner_drivers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
