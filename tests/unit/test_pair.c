/* The in-memory pair driver: delivery, latency, bounds, the eventfd. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/driver.h"

static bool fd_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_frame_sent_on_one_end_is_received_on_the_other_unchanged)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[60], buf[100];
    for (int i = 0; i < 60; i++)
        f[i] = (uint8_t)i;
    ck_assert_int_eq(ts_driver_send(a, f, sizeof f, 10), 0);
    ck_assert_uint_eq(ts_pair_pending(b), 1);
    ck_assert_uint_eq(ts_pair_pending(a), 0);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 10), 60);
    ck_assert_mem_eq(buf, f, 60);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 10), 0);
    ck_assert_int_eq(ts_driver_recv(a, buf, sizeof buf, 10), 0);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_frames_keep_their_order_both_ways)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t buf[8];
    for (uint8_t i = 0; i < 10; i++) {
        ck_assert_int_eq(ts_driver_send(a, &i, 1, 0), 0);
        ck_assert_int_eq(ts_driver_send(b, &i, 1, 0), 0);
    }
    for (uint8_t i = 0; i < 10; i++) {
        ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 0), 1);
        ck_assert_uint_eq(buf[0], i);
        ck_assert_int_eq(ts_driver_recv(a, buf, sizeof buf, 0), 1);
        ck_assert_uint_eq(buf[0], i);
    }
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_latency_holds_frame_until_its_delivery_time)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 500);
    uint8_t f[20] = {1}, buf[20];
    ck_assert_uint_eq(ts_driver_next_deadline(b, 0), TS_TIME_NEVER);
    ck_assert_int_eq(ts_driver_send(a, f, sizeof f, 1000), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(b, 1000), 1500);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 1499), 0);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 1500), 20);
    ck_assert_uint_eq(ts_driver_next_deadline(b, 1500), TS_TIME_NEVER);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_queue_is_bounded_and_excess_frames_are_refused)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[14] = {0};
    int ok = 0, refused = 0;
    for (int i = 0; i < 5000; i++) {
        int rc = ts_driver_send(a, f, sizeof f, 0);
        if (rc == 0)
            ok++;
        else if (rc == -EAGAIN)
            refused++;
    }
    ck_assert_int_eq(ok, 4096);
    ck_assert_int_eq(refused, 5000 - 4096);
    ck_assert_uint_eq(ts_pair_pending(b), 4096);
    ts_driver_destroy(a);
    ts_driver_destroy(b); /* frees the queued frames: LSan checks */
}
END_TEST

START_TEST(test_eventfd_readable_exactly_while_a_frame_is_receivable)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    int fd = ts_driver_fd(b);
    ck_assert_int_ge(fd, 0);
    ck_assert(!fd_readable(fd));
    uint8_t f[14] = {0}, buf[14];
    ts_driver_send(a, f, sizeof f, 0);
    ts_driver_send(a, f, sizeof f, 0);
    ck_assert(fd_readable(fd));
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 0), 14);
    ck_assert(fd_readable(fd)); /* one more waiting */
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 0), 14);
    ck_assert(!fd_readable(fd));
    ck_assert(!fd_readable(ts_driver_fd(a)));
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_delayed_frame_clears_eventfd_after_early_recv)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 100);
    int fd = ts_driver_fd(b);
    uint8_t f[14] = {0}, buf[14];
    ts_driver_send(a, f, sizeof f, 0);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 50), 0);
    /* nothing receivable now: a loop must sleep until next_deadline, not spin */
    ck_assert(!fd_readable(fd));
    ck_assert_uint_eq(ts_driver_next_deadline(b, 50), 100);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 100), 14);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_frame_larger_than_buffer_is_dropped_with_emsgsize)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[100] = {0}, buf[50];
    ts_driver_send(a, f, sizeof f, 0);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof buf, 0), -EMSGSIZE);
    ck_assert_uint_eq(ts_pair_pending(b), 0);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_send_to_destroyed_end_is_lost_silently)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[14] = {0};
    ts_driver_send(a, f, sizeof f, 0);
    ts_driver_destroy(b);
    ck_assert_int_eq(ts_driver_send(a, f, sizeof f, 0), 0);
    ts_driver_destroy(a);
}
END_TEST

START_TEST(test_empty_frame_is_refused)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[1] = {0};
    ck_assert_int_eq(ts_driver_send(a, f, 0, 0), -EINVAL);
    ck_assert_uint_eq(ts_pair_pending(b), 0);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_pending_of_non_pair_driver_is_zero)
{
    ck_assert_uint_eq(ts_pair_pending(NULL), 0);
}
END_TEST

static Suite *pair_suite(void)
{
    Suite *s = suite_create("pair");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_frame_sent_on_one_end_is_received_on_the_other_unchanged);
    tcase_add_test(tc, test_frames_keep_their_order_both_ways);
    tcase_add_test(tc, test_latency_holds_frame_until_its_delivery_time);
    tcase_add_test(tc, test_queue_is_bounded_and_excess_frames_are_refused);
    tcase_add_test(tc, test_eventfd_readable_exactly_while_a_frame_is_receivable);
    tcase_add_test(tc, test_delayed_frame_clears_eventfd_after_early_recv);
    tcase_add_test(tc, test_frame_larger_than_buffer_is_dropped_with_emsgsize);
    tcase_add_test(tc, test_send_to_destroyed_end_is_lost_silently);
    tcase_add_test(tc, test_empty_frame_is_refused);
    tcase_add_test(tc, test_pending_of_non_pair_driver_is_zero);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pair_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
