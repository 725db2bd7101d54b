/* The event API (ts_epoll_*) and the cost of waiting: Linux's epoll semantics over two socket
 * runtimes joined by the in-memory pair link, in real time (every wait bounded; only lower
 * bounds of time asserted). The work a call does is counted with ts_runtime_get_stats, never
 * timed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"

/* A: 10.0.0.1 (clients), B: 10.0.0.2 (servers). */
static struct ts_runtime *rt_a, *rt_b;

static void rig_up(void)
{
    rt_pair_up(&rt_a, &rt_b, NULL, NULL);
    ts_runtime_set_default(rt_b);
}

static void rig_down(void)
{
    rt_pair_down(&rt_a, &rt_b);
}

static int ep_new(void)
{
    int ep = ts_epoll_create1(0);
    ck_assert_int_ge(ep, 0);
    return ep;
}

static void ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
}

/* One ts_epoll_wait with room for 8 events; returns how many, the first in *first. */
static int ep_wait1(int ep, int timeout, struct epoll_event *first)
{
    struct epoll_event evs[8];
    int n = ts_epoll_wait(ep, evs, 8, timeout);
    ck_assert_int_ge(n, 0);
    if (n > 0 && first)
        *first = evs[0];
    return n;
}

static void send_all(int fd, const char *s)
{
    ck_assert_int_eq(ts_send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

static int udp_bound(uint16_t port)
{
    int fd = ts_socket_on(rt_b, AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    ck_assert_int_eq(ts_bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* A datagram from A to B's port. */
static void udp_to_b(uint16_t port, const char *s)
{
    int fd = ts_socket_on(rt_a, AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(TH_IP_B)};
    ck_assert_int_eq(ts_sendto(fd, s, strlen(s), 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)strlen(s));
    ts_close(fd);
}

/* ================================================================ semantics */

START_TEST(test_level_triggered_reports_readable_until_drained)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8001, &c, &s);
    ep_add(ep, s, EPOLLIN, 0x1234567890abcdefull);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    send_all(c, "0123456789");
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLIN);
    ck_assert(ev.data.u64 == 0x1234567890abcdefull);
    char b[16];
    ck_assert_int_eq(ts_recv(s, b, 4, 0), 4);
    ck_assert_int_eq(ep_wait1(ep, 0, &ev), 1); /* still 6 bytes: still reported */
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 6);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    ts_close(ep);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_edge_triggered_reports_each_arrival_once)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8002, &c, &s);
    ep_add(ep, s, EPOLLIN | EPOLLET, 7);
    send_all(c, "abc");
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLIN);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0); /* nothing read, but no new event either */
    send_all(c, "def");
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1); /* new data: a new event */
    char b[8];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 6);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    ts_close(ep);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_edge_triggered_out_is_not_woken_by_arriving_data)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8003, &c, &s);
    ep_add(ep, s, EPOLLOUT | EPOLLET, 1);
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 0, &ev), 1); /* writable when added */
    ck_assert_uint_eq(ev.events, EPOLLOUT);
    send_all(c, "data");
    ck_assert_int_eq(ep_wait1(ep, 200, NULL), 0); /* data is not what it waits for (Linux) */
    ts_close(ep);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_oneshot_fires_once_until_rearmed_with_mod)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8004, &c, &s);
    ep_add(ep, s, EPOLLIN | EPOLLONESHOT, 5);
    send_all(c, "x");
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.data.u64, 5);
    send_all(c, "y");
    ck_assert_int_eq(ep_wait1(ep, 200, NULL), 0); /* disarmed: more data, no event */
    struct epoll_event mod = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 6};
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_MOD, s, &mod), 0);
    ck_assert_int_eq(ep_wait1(ep, 0, &ev), 1); /* re-armed, and the data is still there */
    ck_assert_uint_eq(ev.data.u64, 6);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    ts_close(ep);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_rdhup_when_the_peer_shuts_down_its_side)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8005, &c, &s);
    ep_add(ep, s, EPOLLIN | EPOLLRDHUP | EPOLLET, 0);
    ck_assert_int_eq(ts_shutdown(c, SHUT_WR), 0);
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLIN | EPOLLRDHUP); /* half-closed: not a hang-up */
    char b[4];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 0);
    ts_close(ep);
    ts_close(c);
    ts_close(s);
}
END_TEST

START_TEST(test_reset_reports_err_and_hup_even_when_not_asked)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8006, &c, &s);
    ep_add(ep, s, 0, 9); /* no events asked: EPOLLERR and EPOLLHUP still come (Linux) */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    ts_close(c); /* RST */
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLERR | EPOLLHUP);
    ck_assert_uint_eq(ev.data.u64, 9);
    ck_assert_int_eq(ts_recv(s, &lg, 1, 0), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    ts_close(ep);
    ts_close(s);
}
END_TEST

START_TEST(test_refused_nonblocking_connect_reports_out_err_hup)
{
    int ep = ep_new();
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(8999), .sin_addr.s_addr = htonl(TH_IP_B)};
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&a, sizeof a), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    ep_add(ep, c, EPOLLOUT, 0);
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLOUT | EPOLLERR | EPOLLHUP);
    int e = 0;
    socklen_t el = sizeof e;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el), 0);
    ck_assert_int_eq(e, ECONNREFUSED);
    ts_close(ep);
    ts_close(c);
}
END_TEST

START_TEST(test_listener_is_readable_when_a_connection_waits)
{
    int ep = ep_new();
    int l = ts_socket_on(rt_b, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8007)};
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(ts_listen(l, SOMAXCONN), 0);
    ep_add(ep, l, EPOLLIN, 0);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(TH_IP_B);
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&a, sizeof a), 0);
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.events, EPOLLIN);
    int s = ts_accept4(l, NULL, NULL, SOCK_NONBLOCK);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(ts_fcntl(s, F_GETFL) & O_NONBLOCK, O_NONBLOCK); /* accept4's flag */
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);                      /* queue empty again */
    ts_close(ep);
    ts_close(s);
    ts_close(c);
    ts_close(l);
}
END_TEST

START_TEST(test_closing_a_watched_socket_removes_it)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8008, &c, &s);
    int hole = udp_bound(8016); /* takes the listener's old number: s is then the lowest free */
    ep_add(ep, s, EPOLLIN, 1);
    send_all(c, "ready");
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1); /* on the ready list now */
    ts_close(s);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    errno = 0;
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), -1);
    ck_assert_int_eq(errno, EBADF);
    /* The number comes back for a new socket, which is not in the set. */
    int u = ts_socket_on(rt_b, AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(u, s);
    errno = 0;
    struct epoll_event mod = {.events = EPOLLIN};
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_MOD, u, &mod), -1);
    ck_assert_int_eq(errno, ENOENT);
    ep_add(ep, u, EPOLLIN, 2);
    ts_close(ep);
    ts_close(u);
    ts_close(c);
    ts_close(hole);
}
END_TEST

START_TEST(test_ctl_and_wait_errors_are_linux_ones)
{
    int ep = ep_new();
    int u = udp_bound(8009);
    struct epoll_event ev = {.events = EPOLLIN};
    struct epoll_event out[1];
#define FAILS_WITH(call, err)                                                                      \
    do {                                                                                           \
        errno = 0;                                                                                 \
        ck_assert_int_eq((call), -1);                                                              \
        ck_assert_int_eq(errno, (err));                                                            \
    } while (0)
    FAILS_WITH(ts_epoll_create(0), EINVAL);
    FAILS_WITH(ts_epoll_create1(1), EINVAL);
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev), 0);
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev), EEXIST);
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_ADD, u, NULL), EFAULT);
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_ADD, 4321, &ev), EBADF);
    FAILS_WITH(ts_epoll_ctl(4321, EPOLL_CTL_ADD, u, &ev), EBADF);
    FAILS_WITH(ts_epoll_ctl(u, EPOLL_CTL_ADD, u, &ev), EINVAL); /* u is no epoll instance */
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
    FAILS_WITH(ts_epoll_ctl(ep, 99, u, &ev), EINVAL);
    int ep2 = ep_new();
    FAILS_WITH(ts_epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev), EPERM); /* no nesting */
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_MOD, u, &ev), EINVAL);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    FAILS_WITH(ts_epoll_ctl(ep2, EPOLL_CTL_ADD, u, &ev), EINVAL);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ck_assert_int_eq(ts_epoll_ctl(ep2, EPOLL_CTL_ADD, u, &ev), 0); /* a second instance */
    FAILS_WITH(ts_epoll_ctl(ep2, EPOLL_CTL_MOD, u, &ev), EINVAL);  /* exclusive: no MOD */
    ck_assert_int_eq(ts_epoll_ctl(ep, EPOLL_CTL_DEL, u, NULL), 0);
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_DEL, u, NULL), ENOENT);
    ev.events = EPOLLIN;
    FAILS_WITH(ts_epoll_ctl(ep, EPOLL_CTL_MOD, u, &ev), ENOENT);
    FAILS_WITH(ts_epoll_wait(ep, out, 0, 0), EINVAL);
    FAILS_WITH(ts_epoll_wait(ep, NULL, 1, 0), EFAULT);
    FAILS_WITH(ts_epoll_wait(u, out, 1, 0), EINVAL);
    FAILS_WITH(ts_epoll_wait(4321, out, 1, 0), EBADF);
    FAILS_WITH(ts_epoll_fd(u), EINVAL);
    FAILS_WITH(ts_send(ep, "x", 1, 0), ENOTSOCK); /* socket calls on an epoll descriptor */
    FAILS_WITH(ts_listen(ep, 1), ENOTSOCK);
#undef FAILS_WITH
    ck_assert_int_eq(ts_close(ep2), 0);
    ck_assert_int_eq(ts_close(ep), 0);
    ck_assert_int_eq(ts_close(u), 0);
}
END_TEST

START_TEST(test_maxevents_bounds_each_call_and_every_ready_socket_comes_round)
{
    int ep = ep_new(), u[5];
    for (int i = 0; i < 5; i++) {
        u[i] = udp_bound((uint16_t)(8100 + i));
        ep_add(ep, u[i], EPOLLIN | EPOLLET, 100 + (uint64_t)i);
        udp_to_b((uint16_t)(8100 + i), "d");
    }
    unsigned seen = 0;
    int total = 0;
    for (int round = 0; round < 50 && total < 5; round++) {
        struct epoll_event evs[2];
        int n = ts_epoll_wait(ep, evs, 2, 100);
        ck_assert_int_ge(n, 0);
        ck_assert_int_le(n, 2);
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            ck_assert(d >= 100 && d < 105);
            ck_assert_msg(!(seen & (1u << (d - 100))), "socket %d reported twice (ET)",
                          (int)(d - 100));
            seen |= 1u << (d - 100);
        }
        total += n;
    }
    ck_assert_uint_eq(seen, 0x1f);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0);
    for (int i = 0; i < 5; i++)
        ts_close(u[i]);
    ts_close(ep);
}
END_TEST

START_TEST(test_wait_timeout_waits_at_least_that_long)
{
    int ep = ep_new();
    int u = udp_bound(8010);
    ep_add(ep, u, EPOLLIN, 0);
    ts_time_t t0 = ts_runtime_now();
    ck_assert_int_eq(ep_wait1(ep, 150, NULL), 0);
    ck_assert_int_ge(ts_runtime_now() - t0, 150 * TS_MS);
    ts_close(u);
    ts_close(ep);
}
END_TEST

struct waiter {
    int ep;
    int n;
    uint64_t data;
    pthread_t t;
};

static void *wait_one(void *arg)
{
    struct waiter *w = arg;
    struct epoll_event ev;
    w->n = ts_epoll_wait(w->ep, &ev, 1, 3000);
    if (w->n == 1)
        w->data = ev.data.u64;
    return NULL;
}

START_TEST(test_two_threads_waiting_get_one_event_each)
{
    int ep = ep_new();
    int u1 = udp_bound(8011), u2 = udp_bound(8012);
    ep_add(ep, u1, EPOLLIN | EPOLLONESHOT, 1);
    ep_add(ep, u2, EPOLLIN | EPOLLONESHOT, 2);
    struct waiter w[2] = {{.ep = ep}, {.ep = ep}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&w[i].t, NULL, wait_one, &w[i]), 0);
    usleep(50 * 1000); /* let both block (if they do not yet, they find the events at once) */
    udp_to_b(8011, "a");
    udp_to_b(8012, "b");
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].t, NULL);
    ck_assert_int_eq(w[0].n, 1);
    ck_assert_int_eq(w[1].n, 1);
    ck_assert_uint_eq(w[0].data + w[1].data, 3); /* one each: 1 and 2 */
    ts_close(u1);
    ts_close(u2);
    ts_close(ep);
}
END_TEST

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;
    struct epoll_event ev;
    w->n = ts_epoll_wait(w->ep, &ev, 1, -1);
    w->data = (uint64_t)errno;
    return NULL;
}

START_TEST(test_closing_the_instance_wakes_its_waiters_with_ebadf)
{
    int ep = ep_new();
    int u = udp_bound(8013);
    ep_add(ep, u, EPOLLIN, 0);
    struct waiter w = {.ep = ep};
    ck_assert_int_eq(pthread_create(&w.t, NULL, wait_forever, &w), 0);
    usleep(50 * 1000);
    ck_assert_int_eq(ts_close(ep), 0);
    pthread_join(w.t, NULL);
    ck_assert_int_eq(w.n, -1);
    ck_assert_uint_eq(w.data, EBADF);
    udp_to_b(8013, "still works");
    char b[32];
    ck_assert_int_eq(ts_recv(u, b, sizeof b, 0), 11);
    ts_close(u);
}
END_TEST

START_TEST(test_ts_poll_sees_an_instance_readable_while_it_has_events)
{
    int ep = ep_new();
    int u = udp_bound(8014);
    ep_add(ep, u, EPOLLIN, 0);
    struct pollfd p = {.fd = ep, .events = POLLIN};
    ck_assert_int_eq(ts_poll(&p, 1, 0), 0);
    udp_to_b(8014, "x");
    ck_assert_int_eq(ts_poll(&p, 1, 2000), 1);
    ck_assert_int_eq(p.revents, POLLIN);
    ts_close(u);
    ts_close(ep);
}
END_TEST

/* ================================================================ the kernel-pollable fd */

START_TEST(test_kernel_fd_is_readable_exactly_while_events_wait)
{
    int c, s, ep = ep_new();
    rt_tcp_pair(rt_a, rt_b, 8015, &c, &s);
    ep_add(ep, s, EPOLLIN, 3);
    int kfd = ts_epoll_fd(ep);
    ck_assert_int_ge(kfd, 0);
    ck_assert_int_eq(ts_epoll_fd(ep), kfd); /* one per instance */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    /* The kernel's own poll over a pipe and the tapstack instance together. */
    struct pollfd p[2] = {{.fd = pfd[0], .events = POLLIN}, {.fd = kfd, .events = POLLIN}};
    ck_assert_int_eq(poll(p, 2, 0), 0);
    send_all(c, "hello");
    ck_assert_int_eq(poll(p, 2, 2000), 1);
    ck_assert_int_eq(p[1].revents, POLLIN);
    ck_assert_int_eq(p[0].revents, 0);
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 0, &ev), 1);
    ck_assert_uint_eq(ev.data.u64, 3);
    ck_assert_int_eq(poll(p, 2, 0), 1); /* level-triggered and unread: still readable */
    char b[8];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 5);
    ck_assert_int_eq(ep_wait1(ep, 0, NULL), 0); /* finds it drained and clears the fd */
    ck_assert_int_eq(poll(p, 2, 0), 0);
    ck_assert_int_eq(write(pfd[1], "k", 1), 1); /* the kernel fd wakes the same poll */
    ck_assert_int_eq(poll(p, 2, 0), 1);
    ck_assert_int_eq(p[0].revents, POLLIN);
    close(pfd[0]);
    close(pfd[1]);
    ts_close(ep); /* closes kfd too */
    ck_assert_int_eq(fcntl(kfd, F_GETFD), -1);
    ts_close(c);
    ts_close(s);
}
END_TEST

/* ================================================================ cost: counted, not timed */

START_TEST(test_poll_and_epoll_wait_look_only_at_their_own_sockets)
{
    enum { N = 300 };
    int u[N], ep = ep_new();
    for (int i = 0; i < N; i++) {
        u[i] = udp_bound((uint16_t)(9000 + i));
        ep_add(ep, u[i], EPOLLIN, (uint64_t)i);
    }
    struct ts_runtime_stats a, b;
    ts_runtime_get_stats(rt_b, &a);
    struct pollfd p = {.fd = u[N / 2], .events = POLLIN};
    ck_assert_int_eq(ts_poll(&p, 1, 0), 0);
    ts_runtime_get_stats(rt_b, &b);
    ck_assert_uint_eq(b.readiness_checks - a.readiness_checks, 1); /* one fd polled: one look */

    udp_to_b((uint16_t)(9000 + N / 2), "x");
    struct epoll_event ev;
    ck_assert_int_eq(ep_wait1(ep, 2000, &ev), 1);
    ck_assert_uint_eq(ev.data.u64, N / 2);
    ck_assert_int_eq(ep_wait1(ep, 0, &ev), 1); /* level-triggered: again */
    ts_runtime_get_stats(rt_b, &a);
    /* The datagram's event looked at its socket once, and each wait once more: nothing
     * proportional to the 300 sockets watched. */
    ck_assert_uint_le(a.readiness_checks - b.readiness_checks, 4);
    for (int i = 0; i < N; i++)
        ts_close(u[i]);
    ts_close(ep);
}
END_TEST

START_TEST(test_a_waiting_thread_reads_the_driver_itself)
{
    /* Direct wait: the thread asleep in ts_epoll_wait polls the link's descriptor and runs the
     * stack, so the datagram reaches it without the loop thread handing it over. */
    int ep = ep_new();
    int u = udp_bound(8031);
    ep_add(ep, u, EPOLLIN, 7);
    struct ts_runtime_stats b0, b1;
    ts_runtime_get_stats(rt_b, &b0);
    struct waiter w = {.ep = ep};
    ck_assert_int_eq(pthread_create(&w.t, NULL, wait_one, &w), 0);
    usleep(50 * 1000);
    udp_to_b(8031, "x");
    pthread_join(w.t, NULL);
    ts_runtime_get_stats(rt_b, &b1);
    ck_assert_int_eq(w.n, 1);
    ck_assert_uint_eq(w.data, 7);
    ck_assert_uint_ge(b1.direct_waits - b0.direct_waits, 1);
    ck_assert_uint_ge(b1.direct_steps - b0.direct_steps, 1);
    ts_close(u);
    ts_close(ep);
}
END_TEST

START_TEST(test_two_instances_on_one_runtime_both_get_their_events)
{
    /* One runtime has one direct waiter at a time: the other instance's thread sleeps on its
     * condition variable, and is woken by the direct waiter's run of the stack. */
    int ep1 = ep_new(), ep2 = ep_new();
    int u1 = udp_bound(8032), u2 = udp_bound(8033);
    ep_add(ep1, u1, EPOLLIN, 1);
    ep_add(ep2, u2, EPOLLIN, 2);
    struct waiter w[2] = {{.ep = ep1}, {.ep = ep2}};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&w[i].t, NULL, wait_one, &w[i]), 0);
    usleep(50 * 1000);
    udp_to_b(8033, "b"); /* the second first: whoever drives, both must hear */
    udp_to_b(8032, "a");
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].t, NULL);
    ck_assert_int_eq(w[0].n, 1);
    ck_assert_uint_eq(w[0].data, 1);
    ck_assert_int_eq(w[1].n, 1);
    ck_assert_uint_eq(w[1].data, 2);
    ts_close(u1);
    ts_close(u2);
    ts_close(ep1);
    ts_close(ep2);
}
END_TEST

START_TEST(test_send_and_recv_do_not_poll_the_whole_stack)
{
    int c[20], s[20];
    for (int i = 0; i < 20; i++)
        rt_tcp_pair(rt_a, rt_b, (uint16_t)(8200 + i), &c[i], &s[i]);
    struct ts_runtime_stats a0, b0, a1, b1;
    ts_runtime_get_stats(rt_a, &a0);
    ts_runtime_get_stats(rt_b, &b0);
    char buf[64];
    for (int k = 0; k < 10; k++) {
        send_all(c[0], "ping");
        ck_assert_int_eq(ts_recv(s[0], buf, sizeof buf, 0), 4);
        send_all(s[0], "pong");
        ck_assert_int_eq(ts_recv(c[0], buf, sizeof buf, 0), 4);
    }
    ts_runtime_get_stats(rt_a, &a1);
    ts_runtime_get_stats(rt_b, &b1);
    /* ts_stack_poll looks at every connection; a call on one connection must not need it. */
    ck_assert_uint_eq(a1.stack_polls - a0.stack_polls, 0);
    ck_assert_uint_eq(b1.stack_polls - b0.stack_polls, 0);
    for (int i = 0; i < 20; i++) {
        ts_close(c[i]);
        ts_close(s[i]);
    }
}
END_TEST

static Suite *epoll_suite(void)
{
    Suite *s = suite_create("epoll");
    TCase *t = tcase_create("semantics");
    tcase_add_checked_fixture(t, rig_up, rig_down);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_level_triggered_reports_readable_until_drained);
    tcase_add_test(t, test_edge_triggered_reports_each_arrival_once);
    tcase_add_test(t, test_edge_triggered_out_is_not_woken_by_arriving_data);
    tcase_add_test(t, test_oneshot_fires_once_until_rearmed_with_mod);
    tcase_add_test(t, test_rdhup_when_the_peer_shuts_down_its_side);
    tcase_add_test(t, test_reset_reports_err_and_hup_even_when_not_asked);
    tcase_add_test(t, test_refused_nonblocking_connect_reports_out_err_hup);
    tcase_add_test(t, test_listener_is_readable_when_a_connection_waits);
    tcase_add_test(t, test_closing_a_watched_socket_removes_it);
    tcase_add_test(t, test_ctl_and_wait_errors_are_linux_ones);
    tcase_add_test(t, test_maxevents_bounds_each_call_and_every_ready_socket_comes_round);
    tcase_add_test(t, test_wait_timeout_waits_at_least_that_long);
    tcase_add_test(t, test_two_threads_waiting_get_one_event_each);
    tcase_add_test(t, test_a_waiting_thread_reads_the_driver_itself);
    tcase_add_test(t, test_two_instances_on_one_runtime_both_get_their_events);
    tcase_add_test(t, test_closing_the_instance_wakes_its_waiters_with_ebadf);
    tcase_add_test(t, test_ts_poll_sees_an_instance_readable_while_it_has_events);
    tcase_add_test(t, test_kernel_fd_is_readable_exactly_while_events_wait);
    suite_add_tcase(s, t);
    t = tcase_create("cost");
    tcase_add_checked_fixture(t, rig_up, rig_down);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, test_poll_and_epoll_wait_look_only_at_their_own_sockets);
    tcase_add_test(t, test_send_and_recv_do_not_poll_the_whole_stack);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(epoll_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
