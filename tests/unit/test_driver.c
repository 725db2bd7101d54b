/* Wrapper drivers (include/tapstack/driver.h): an op a wrapper leaves NULL passes through to its
 * inner driver, and destroying the outermost driver frees every layer, outermost first. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/driver.h"

/* A wrapper that only counts what is sent through it, and logs its destruction. */
struct counter {
    struct ts_driver drv;
    int sent;
    char tag;
    char *log; /* destroy appends tag here */
};
static int counter_send(struct ts_driver *d, const uint8_t *f, size_t n,
                        const struct ts_frame_meta *meta, ts_time_t now)
{
    ((struct counter *)d->priv)->sent++;
    return ts_driver_send_meta(d->inner, f, n, meta, now);
}
static void counter_destroy(struct ts_driver *d)
{
    struct counter *c = d->priv;
    size_t l = strlen(c->log);
    c->log[l] = c->tag;
    c->log[l + 1] = '\0';
    free(c);
}
static const struct ts_driver_ops counter_ops = {.send = counter_send, .destroy = counter_destroy};

static struct counter *counter_wrap(struct ts_driver *inner, char tag, char *log)
{
    struct counter *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->tag = tag;
    c->log = log;
    c->drv = (struct ts_driver){.ops = &counter_ops, .name = "counter", .priv = c, .inner = inner};
    return c;
}

/* A wrapper that changes only the deadline. */
static ts_time_t early_deadline(struct ts_driver *d, ts_time_t now)
{
    (void)d;
    return now + 7;
}
static const struct ts_driver_ops early_ops = {.next_deadline = early_deadline};

START_TEST(test_a_wrapper_that_changes_only_send_passes_recv_fd_and_deadline_through)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 500);
    char log[8] = "";
    struct counter *w = counter_wrap(a, 'w', log);
    uint8_t f[20] = {1, 2, 3}, buf[32];
    /* send: the wrapper's own, which forwards */
    ck_assert_int_eq(ts_driver_send(&w->drv, f, sizeof f, 0), 0);
    ck_assert_int_eq(w->sent, 1);
    ck_assert_uint_eq(ts_pair_pending(b), 1);
    /* recv, fd, next_deadline: the inner pair end's */
    ck_assert_int_eq(ts_driver_send(b, f, sizeof f, 0), 0);
    ck_assert_int_eq(ts_driver_fd(&w->drv), ts_driver_fd(a));
    ck_assert_int_ge(ts_driver_fd(&w->drv), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(&w->drv, 0), 500);
    ck_assert_int_eq(ts_driver_recv(&w->drv, buf, sizeof buf, 100), 0); /* not due yet */
    ck_assert_int_eq(ts_driver_recv(&w->drv, buf, sizeof buf, 500), (int)sizeof f);
    ck_assert_mem_eq(buf, f, sizeof f);
    ts_driver_destroy(&w->drv); /* and a with it */
    ck_assert_str_eq(log, "w");
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_an_op_goes_to_the_first_driver_inwards_that_has_it)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 500);
    char log[8] = "";
    struct ts_driver *early = calloc(1, sizeof *early);
    ck_assert_ptr_nonnull(early);
    *early = (struct ts_driver){.ops = &early_ops, .name = "early", .inner = a};
    struct counter *outer = counter_wrap(early, 'o', log);
    uint8_t f[4] = {0};
    ts_driver_send(b, f, sizeof f, 0);
    /* the deadline is the middle wrapper's; the fd passes both wrappers to the pair end */
    ck_assert_uint_eq(ts_driver_next_deadline(&outer->drv, 1000), 1007);
    ck_assert_int_eq(ts_driver_fd(&outer->drv), ts_driver_fd(a));
    ck_assert_int_eq(ts_driver_send(&outer->drv, f, sizeof f, 0), 0);
    ck_assert_uint_eq(ts_pair_pending(b), 1);
    ts_driver_destroy(&outer->drv);
    free(early); /* no destroy op: its memory is the test's */
    ck_assert_str_eq(log, "o");
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_destroy_frees_every_layer_outermost_first)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char log[8] = "";
    struct counter *inner = counter_wrap(a, 'i', log);
    struct counter *outer = counter_wrap(&inner->drv, 'o', log);
    ts_driver_destroy(&outer->drv); /* the sanitizer build finds a leak if a layer is left */
    ck_assert_str_eq(log, "oi");
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_a_driver_without_the_op_and_without_inner_gets_the_default)
{
    static const struct ts_driver_ops none = {0};
    struct ts_driver d = {.ops = &none, .name = "none"};
    uint8_t buf[4];
    ck_assert_int_eq(ts_driver_fd(&d), -1);
    ck_assert_uint_eq(ts_driver_next_deadline(&d, 5), TS_TIME_NEVER);
    ck_assert_int_eq(ts_driver_recv(&d, buf, sizeof buf, 0), 0);
    ck_assert_int_lt(ts_driver_send(&d, buf, sizeof buf, 0), 0);
    ts_driver_destroy(&d); /* no destroy op: nothing to free */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("driver");
    TCase *tc = tcase_create("wrappers");
    tcase_add_test(tc, test_a_wrapper_that_changes_only_send_passes_recv_fd_and_deadline_through);
    tcase_add_test(tc, test_an_op_goes_to_the_first_driver_inwards_that_has_it);
    tcase_add_test(tc, test_destroy_frees_every_layer_outermost_first);
    tcase_add_test(tc, test_a_driver_without_the_op_and_without_inner_gets_the_default);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
