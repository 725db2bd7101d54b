/* apps/common/netio: the socket helpers the bundled apps stand on, over two socket runtimes
 * joined by the in-memory pair link (real time; every wait is bounded, nothing asserts speed). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/evloop.h"
#include "../../apps/common/netio.h"
#include "../../apps/common/pattern.h"
#include "harness.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"

/* A: 10.0.0.1 (client), B: 10.0.0.2 (server). */
static struct ts_runtime *rt_a, *rt_b;

static void rig_up(void)
{
    rt_pair_up(&rt_a, &rt_b, NULL, NULL);
    ts_runtime_set_default(rt_b); /* nio_serve_socket makes its sockets on the default */
}

static void rig_down(void)
{
    rt_pair_down(&rt_a, &rt_b);
}

/* A listener on B, a connection from A, and the accepted end: both non-blocking. */
static void connected_pair(unsigned port, int *client, int *server)
{
    int l = nio_serve_socket("test", SOCK_STREAM, TH_IP_B, port, 8);
    ck_assert_int_ge(l, 0);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(TH_IP_B)};
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ts_close(l);
    ck_assert_int_eq(nio_nonblock(c), 0);
    ck_assert_int_eq(nio_nonblock(s), 0);
    *client = c;
    *server = s;
}

static void count_rst(struct ts_stack *s, void *arg)
{
    *(uint64_t *)arg = ts_stack_counter(s, TS_C_TCP_RST_SENT);
}

START_TEST(test_recv_from_a_silent_peer_times_out_with_etimedout)
{
    int c, s;
    connected_pair(7001, &c, &s);
    char b[16];
    int64_t t0 = nio_now_ms();
    errno = 0;
    ck_assert_int_eq(nio_recv(s, b, sizeof b, 100, NULL), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_ge(nio_now_ms() - t0, 100); /* not early */
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_wait_with_the_stop_flag_set_returns_ecanceled)
{
    int c, s;
    connected_pair(7002, &c, &s);
    volatile sig_atomic_t stop = 1;
    errno = 0;
    ck_assert_int_eq(nio_wait(s, POLLIN, -1, &stop), -1);
    ck_assert_int_eq(errno, ECANCELED);
    char b[4];
    ck_assert_int_eq(nio_recv(s, b, sizeof b, -1, &stop), -1);
    ck_assert_int_eq(errno, ECANCELED);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_recv_returns_zero_at_the_peers_fin)
{
    int c, s;
    connected_pair(7003, &c, &s);
    ck_assert_int_eq(nio_send_all(c, "abc", 3, 1000, NULL), 0);
    ck_assert_int_eq(ts_shutdown(c, SHUT_WR), 0);
    char b[8];
    ck_assert_int_eq(nio_recv(s, b, sizeof b, 2000, NULL), 3);
    ck_assert_mem_eq(b, "abc", 3);
    ck_assert_int_eq(nio_recv(s, b, sizeof b, 2000, NULL), 0);
    ts_close(c);
    ts_close(s);
}
END_TEST

struct sink {
    int fd;
    size_t want, got;
    bool same;
};

static void *sink_main(void *arg)
{
    struct sink *k = arg;
    static uint8_t buf[65536], expect[65536];
    k->same = true;
    while (k->got < k->want) {
        ssize_t n = nio_recv(k->fd, buf, sizeof buf, 3000, NULL);
        if (n <= 0)
            break;
        pattern_fill(expect, (size_t)n, k->got);
        if (memcmp(buf, expect, (size_t)n) != 0)
            k->same = false;
        k->got += (size_t)n;
    }
    return NULL;
}

START_TEST(test_send_all_delivers_more_than_the_buffers_hold)
{
    int c, s;
    connected_pair(7004, &c, &s);
    const size_t total = 4u << 20; /* 16 times the default send buffer */
    uint8_t *data = malloc(total);
    ck_assert_ptr_nonnull(data);
    pattern_fill(data, total, 0);
    struct sink k = {.fd = s, .want = total};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, sink_main, &k), 0);
    ck_assert_int_eq(nio_send_all(c, data, total, 3000, NULL), 0);
    pthread_join(t, NULL);
    ck_assert_uint_eq(k.got, total);
    ck_assert(k.same);
    free(data);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_lingering_close_with_unread_data_ends_in_fin_not_reset)
{
    int c, s;
    connected_pair(7005, &c, &s);
    /* The client sent a request the server will not read (as after a 400 or 431). */
    static const char junk[5000] = {1};
    ck_assert_int_eq(nio_send_all(c, junk, sizeof junk, 1000, NULL), 0);
    ck_assert_int_eq(nio_send_all(s, "bye", 3, 1000, NULL), 0);
    /* The client reads the answer, sees the FIN, and closes; the server's linger then ends. */
    pthread_t t;
    struct sink k = {.fd = c, .want = 1};
    ck_assert_int_eq(pthread_create(&t, NULL, sink_main, &k), 0);
    nio_lingering_close(s, 3000, NULL);
    pthread_join(t, NULL);
    ck_assert_uint_eq(k.got, 3);
    char b[4];
    ck_assert_int_eq(nio_recv(c, b, sizeof b, 2000, NULL), 0); /* FIN, not ECONNRESET */
    uint64_t rst = 1;
    ts_runtime_with_stack(rt_b, count_rst, &rst);
    ck_assert_uint_eq(rst, 0);
    ts_close(c);
}
END_TEST

START_TEST(test_second_listener_on_a_port_is_refused)
{
    int l = nio_serve_socket("test", SOCK_STREAM, TH_IP_B, 7006, 8);
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(nio_serve_socket("test", SOCK_STREAM, TH_IP_B, 7006, 8), -1);
    int u = nio_serve_socket("test", SOCK_DGRAM, TH_IP_B, 7006, 0); /* UDP is another space */
    ck_assert_int_ge(u, 0);
    ts_close(u);
    ts_close(l);
}
END_TEST

/* ---- the connection limit ---- */

START_TEST(test_limit_refuses_beyond_its_bound_and_counts_refusals)
{
    struct nio_limit l = {.max = 2};
    ck_assert(nio_limit_take(&l, "test", "closed"));
    ck_assert(nio_limit_take(&l, "test", "closed"));
    ck_assert(!nio_limit_take(&l, "test", "closed")); /* prints one line */
    ck_assert(!nio_limit_take(&l, "test", "closed")); /* within the second: silent */
    ck_assert_uint_eq(l.refused, 2);
    ck_assert_uint_eq(l.open, 2);
    nio_limit_put(&l);
    ck_assert(nio_limit_take(&l, "test", "closed")); /* room again */
    ck_assert_uint_eq(l.refused, 2);
}
END_TEST

/* ---- the event loop (evloop.h) ---- */

static volatile sig_atomic_t ev_stop;
static int fired[8], nfired;
static struct ev_timer timers[4];

static void on_fire(struct ev_timer *t)
{
    fired[nfired++] = (int)(t - timers);
    if (nfired == 3)
        ev_stop = 1;
}

START_TEST(test_timers_fire_in_deadline_order_and_rearming_moves_one_to_the_tail)
{
    struct ev_loop l;
    struct ev_tlist tl;
    ev_stop = 0;
    nfired = 0;
    ck_assert_int_eq(ev_init(&l, &ev_stop), 0); /* an epoll instance needs no runtime */
    ev_tlist_init(&l, &tl, 30);
    for (int i = 0; i < 4; i++) {
        ev_timer_init(&timers[i], on_fire);
        ev_timer_arm(&tl, &timers[i]);
    }
    ev_timer_arm(&tl, &timers[0]); /* now last */
    ev_timer_stop(&timers[2]);     /* never fires */
    int64_t t0 = nio_now_ms();
    ck_assert_int_eq(ev_run(&l), 0);
    ck_assert_int_ge(nio_now_ms() - t0, 30);
    ck_assert_int_eq(nfired, 3);
    ck_assert_int_eq(fired[0], 1);
    ck_assert_int_eq(fired[1], 3);
    ck_assert_int_eq(fired[2], 0);
    ev_fini(&l);
}
END_TEST

static uint32_t got_events;
static void on_ready(struct ev_io *io, uint32_t events)
{
    char b[16];
    ck_assert_int_eq(ts_recv(io->fd, b, sizeof b, 0), 5);
    got_events = events;
    ev_stop = 1;
}

START_TEST(test_loop_calls_the_handler_of_the_socket_that_is_ready)
{
    struct ev_loop l;
    ev_stop = 0;
    got_events = 0;
    ck_assert_int_eq(ev_init(&l, &ev_stop), 0);
    int quiet = nio_serve_socket("test", SOCK_DGRAM, TH_IP_B, 7101, 0);
    int u = nio_serve_socket("test", SOCK_DGRAM, TH_IP_B, 7100, 0);
    ck_assert_int_ge(u, 0);
    struct ev_io io_u, io_quiet;
    ck_assert_int_eq(ev_add(&l, &io_quiet, quiet, EPOLLIN, on_ready), 0);
    ck_assert_int_eq(ev_add(&l, &io_u, u, EPOLLIN, on_ready), 0);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(7100), .sin_addr.s_addr = htonl(TH_IP_B)};
    ck_assert_int_eq(ts_sendto(c, "hello", 5, 0, (struct sockaddr *)&sa, sizeof sa), 5);
    ck_assert_int_eq(ev_run(&l), 0);
    ck_assert_uint_eq(got_events, EPOLLIN);
    ts_close(c);
    ts_close(u);
    ts_close(quiet);
    ev_fini(&l);
}
END_TEST

static Suite *netio_suite(void)
{
    Suite *s = suite_create("netio");
    TCase *tc = tcase_create("sockets");
    tcase_add_checked_fixture(tc, rig_up, rig_down);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_recv_from_a_silent_peer_times_out_with_etimedout);
    tcase_add_test(tc, test_wait_with_the_stop_flag_set_returns_ecanceled);
    tcase_add_test(tc, test_recv_returns_zero_at_the_peers_fin);
    tcase_add_test(tc, test_send_all_delivers_more_than_the_buffers_hold);
    tcase_add_test(tc, test_lingering_close_with_unread_data_ends_in_fin_not_reset);
    tcase_add_test(tc, test_second_listener_on_a_port_is_refused);
    tcase_add_test(tc, test_loop_calls_the_handler_of_the_socket_that_is_ready);
    suite_add_tcase(s, tc);
    tc = tcase_create("limit and timers");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_limit_refuses_beyond_its_bound_and_counts_refusals);
    tcase_add_test(tc, test_timers_fire_in_deadline_order_and_rearming_moves_one_to_the_tail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(netio_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
