/* Kernel mirrors (ts_mirror_open) and ts_ioctl: the kernel's own poll and epoll, waiting on the
 * mirror descriptor, see exactly what a call on the tapstack socket would find. Two socket
 * runtimes on the pair link, real threads, real clock. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"

static struct ts_runtime *ra, *rb;

static void up(void)
{
    rt_pair_up(&ra, &rb, NULL, NULL);
}
static void down(void)
{
    rt_pair_down(&ra, &rb);
}

/* What the kernel's poll says about kfd right now, or within ms. */
static short kpoll(int kfd, short events, int ms)
{
    struct pollfd p = {.fd = kfd, .events = events};
    int n = poll(&p, 1, ms);
    ck_assert_int_ge(n, 0);
    return n ? p.revents : 0;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    s.sin_addr.s_addr = htonl(ip);
    return s;
}

START_TEST(test_mirror_is_a_socket_readable_exactly_while_data_waits)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7000, &cli, &srv);
    int m = ts_mirror_open(srv, SOCK_CLOEXEC, 0);
    ck_assert_int_ge(m, 0);
    struct stat st;
    ck_assert_int_eq(fstat(m, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode)); /* programs that check S_ISSOCK accept it */
    ck_assert_int_eq(fcntl(m, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(ts_mirror_open(srv, 0, 0), -1);
    ck_assert_int_eq(errno, EEXIST);
    ck_assert_int_eq(kpoll(m, POLLIN | POLLOUT, 0), POLLOUT);
    ck_assert_int_eq(ts_send(cli, "hello", 5, 0), 5);
    ck_assert_int_eq(kpoll(m, POLLIN, 2000), POLLIN);
    char buf[16];
    ck_assert_int_eq(ts_recv(srv, buf, 3, 0), 3); /* some left: still readable */
    ck_assert_int_eq(kpoll(m, POLLIN, 0), POLLIN);
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), 2);
    ck_assert_int_eq(kpoll(m, POLLIN, 0), 0); /* read out: not readable, no spin */
    close(m);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_mirror_writable_follows_the_send_buffer)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7001, &cli, &srv);
    int m = ts_mirror_open(cli, 0, 0);
    ck_assert_int_ge(m, 0);
    ck_assert_int_eq(kpoll(m, POLLOUT, 0), POLLOUT);
    static char chunk[65536];
    size_t sent = 0;
    /* The peer does not read: fill its window, then our buffer (until a send finds it still full
     * after the acknowledgements of what was in flight had time to come). */
    for (bool fresh = true;; fresh = false) {
        ssize_t n = ts_send(cli, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        ck_assert_int_eq(errno, EAGAIN);
        if (!fresh && kpoll(m, POLLOUT, 0) == 0 && (usleep(300000), kpoll(m, POLLOUT, 0) == 0))
            break;
        ck_assert_uint_lt(sent, 16u << 20);
    }
    ck_assert_int_eq(kpoll(m, POLLOUT, 0), 0); /* full: a waiter sleeps */
    ck_assert_int_eq(kpoll(m, POLLOUT, 300), 0);
    size_t got = 0;
    while (got < sent) {
        ssize_t n = ts_recv(srv, chunk, sizeof chunk, 0);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
    }
    ck_assert_int_eq(kpoll(m, POLLOUT, 2000), POLLOUT); /* drained: the waiter wakes */
    close(m);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_kernel_epoll_edge_triggered_gets_an_edge_per_arrival)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7002, &cli, &srv);
    int m = ts_mirror_open(srv, 0, 0);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u64 = 42}, out[4];
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, m, &e), 0);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 0), 0);
    ck_assert_int_eq(ts_send(cli, "a", 1, 0), 1);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 2000), 1);
    ck_assert_uint_eq(out[0].data.u64, 42);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 0), 0); /* edge-triggered: reported once */
    /* Not read, yet new data must wake an edge-triggered waiter again (as Linux). */
    ck_assert_int_eq(ts_send(cli, "b", 1, 0), 1);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 2000), 1);
    char buf[8];
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, MSG_WAITALL), 2);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 0), 0);
    ck_assert_int_eq(ts_send(cli, "c", 1, 0), 1);
    ck_assert_int_eq(epoll_wait(ep, out, 4, 2000), 1);
    close(ep);
    close(m);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_mirror_rdhup_at_the_peers_fin_then_hup_when_both_are_shut)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7003, &cli, &srv);
    int m = ts_mirror_open(srv, 0, 0);
    ck_assert_int_eq(ts_shutdown(cli, SHUT_WR), 0);
    ck_assert_int_eq(kpoll(m, POLLIN | POLLRDHUP, 2000), POLLIN | POLLRDHUP);
    ck_assert_int_eq(kpoll(m, POLLHUP, 0) & POLLHUP, 0);
    char buf[8];
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), 0);
    ck_assert_int_eq(ts_shutdown(srv, SHUT_WR), 0);
    ck_assert_int_eq(kpoll(m, 0, 2000) & POLLHUP, POLLHUP);
    close(m);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_mirror_hup_and_err_after_a_reset)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7004, &cli, &srv);
    int m = ts_mirror_open(srv, 0, 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(ts_setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    ts_close(cli); /* RST */
    short r = kpoll(m, POLLIN, 2000);
    ck_assert_int_eq(r & (POLLHUP | POLLERR | POLLIN), POLLHUP | POLLERR | POLLIN);
    char buf[8];
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    close(m);
    ts_close(srv);
}
END_TEST

START_TEST(test_mirror_of_a_listener_is_readable_with_a_connection_to_accept)
{
    int l = ts_socket_on(rb, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 7005);
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&a, sizeof a), 0);
    int m = ts_mirror_open(l, 0, 0);
    ck_assert_int_eq(kpoll(m, POLLOUT, 0), POLLOUT); /* not listening yet: a fresh socket */
    ck_assert_int_eq(ts_listen(l, 8), 0);
    ck_assert_int_eq(kpoll(m, POLLIN | POLLOUT, 0), 0); /* a listener is never writable */
    int c = ts_socket_on(ra, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 7005);
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&to, sizeof to), 0);
    ck_assert_int_eq(kpoll(m, POLLIN, 2000), POLLIN);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(kpoll(m, POLLIN, 0), 0);
    close(m);
    ts_close(s);
    ts_close(c);
    ts_close(l);
}
END_TEST

START_TEST(test_nonblocking_connect_writable_when_connected_err_when_refused)
{
    int c = ts_socket_on(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int m = ts_mirror_open(c, 0, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 7006); /* nobody listens: RST */
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&to, sizeof to), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    short r = kpoll(m, POLLOUT, 2000);
    ck_assert_int_eq(r & (POLLOUT | POLLERR | POLLHUP), POLLOUT | POLLERR | POLLHUP);
    int err = 0;
    socklen_t len = sizeof err;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    ck_assert_int_eq(err, ECONNREFUSED);
    close(m);
    ts_close(c);

    int l = ts_socket_on(rb, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&to, sizeof to), 0);
    ck_assert_int_eq(ts_listen(l, 8), 0);
    c = ts_socket_on(ra, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    m = ts_mirror_open(c, 0, 0);
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&to, sizeof to), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    ck_assert_int_eq(kpoll(m, POLLOUT, 2000), POLLOUT);
    len = sizeof err;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    ck_assert_int_eq(err, 0);
    close(m);
    ts_close(c);
    ts_close(l);
}
END_TEST

START_TEST(test_one_kernel_poll_over_a_pipe_and_a_mirror)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7007, &cli, &srv);
    int m = ts_mirror_open(srv, 0, 0);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = m, .events = POLLIN}};
    ck_assert_int_eq(poll(fds, 2, 0), 0);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    ck_assert_int_eq(poll(fds, 2, 2000), 1);
    ck_assert_int_eq(fds[0].revents, POLLIN);
    ck_assert_int_eq(fds[1].revents, 0);
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    ck_assert_int_eq(ts_send(cli, "y", 1, 0), 1);
    ck_assert_int_eq(poll(fds, 2, 2000), 1);
    ck_assert_int_eq(fds[0].revents, 0);
    ck_assert_int_eq(fds[1].revents, POLLIN);
    close(p[0]);
    close(p[1]);
    close(m);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_close_hangs_the_mirror_up_and_lets_go_of_its_descriptors)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7008, &cli, &srv);
    int before = open_fds();
    int m = ts_mirror_open(srv, 0, 100);
    ck_assert_int_eq(open_fds(), before + 3); /* the caller's end and the runtime's two */
    ck_assert_int_eq(ts_mirror_hangup(srv), 0);
    ck_assert_int_eq(kpoll(m, POLLIN, 0) & POLLHUP, POLLHUP);
    ck_assert_int_eq(open_fds(), before + 1); /* only the caller's end is left */
    close(m);
    int m2 = ts_mirror_open(cli, 0, 0);
    ts_close(cli);
    ck_assert_int_eq(kpoll(m2, POLLIN, 0) & POLLHUP, POLLHUP);
    close(m2);
    ts_close(srv);
    ck_assert_int_eq(open_fds(), before);
}
END_TEST

START_TEST(test_udp_mirror_readable_per_datagram_always_writable)
{
    int u = ts_socket_on(rb, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = sin_of(0, 7009);
    ck_assert_int_eq(ts_bind(u, (struct sockaddr *)&a, sizeof a), 0);
    int m = ts_mirror_open(u, 0, 0);
    ck_assert_int_eq(kpoll(m, POLLIN | POLLOUT, 0), POLLOUT);
    int c = ts_socket_on(ra, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 7009);
    ck_assert_int_eq(ts_sendto(c, "one", 3, 0, (struct sockaddr *)&to, sizeof to), 3);
    ck_assert_int_eq(ts_sendto(c, "three", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    ck_assert_int_eq(kpoll(m, POLLIN, 2000), POLLIN);
    int n = -1;
    for (int i = 0; i < 100 && n != 3; i++) { /* the second may still be on its way */
        ck_assert_int_eq(ts_ioctl(u, FIONREAD, &n), 0);
        usleep(10000);
    }
    ck_assert_int_eq(n, 3); /* FIONREAD on UDP: the next datagram's size, as Linux */
    char buf[8];
    ck_assert_int_eq(ts_recv(u, buf, sizeof buf, 0), 3);
    ck_assert_int_eq(kpoll(m, POLLIN, 2000), POLLIN);
    ck_assert_int_eq(ts_recv(u, buf, sizeof buf, 0), 5);
    ck_assert_int_eq(kpoll(m, POLLIN, 0), 0);
    close(m);
    ts_close(u);
    ts_close(c);
}
END_TEST

START_TEST(test_ioctl_reads_queues_and_sets_nonblocking)
{
    int cli, srv;
    rt_tcp_pair(ra, rb, 7010, &cli, &srv);
    ck_assert_int_eq(ts_send(cli, "0123456789", 10, 0), 10);
    int n = 0;
    for (int i = 0; i < 200 && n != 10; i++) {
        ck_assert_int_eq(ts_ioctl(srv, FIONREAD, &n), 0);
        usleep(10000);
    }
    ck_assert_int_eq(n, 10);
    char buf[4];
    ck_assert_int_eq(ts_recv(srv, buf, 4, MSG_PEEK), 4);
    ck_assert_int_eq(ts_ioctl(srv, SIOCINQ, &n), 0);
    ck_assert_int_eq(n, 10); /* peeked bytes are still there to read */
    ck_assert_int_eq(ts_ioctl(cli, SIOCOUTQ, &n), 0);
    ck_assert_int_ge(n, 0);
    ck_assert_int_le(n, 10);
    int one = 1;
    ck_assert_int_eq(ts_ioctl(srv, FIONBIO, &one), 0);
    static char big[64];
    ck_assert_int_eq(ts_recv(srv, big, sizeof big, MSG_WAITALL), 10);
    ck_assert_int_eq(ts_recv(srv, big, sizeof big, 0), -1);
    ck_assert_int_eq(errno, EAGAIN); /* non-blocking now */
    ck_assert_int_eq(ts_ioctl(srv, 0x5401 /* TCGETS */, &n), -1);
    ck_assert_int_eq(errno, ENOTTY);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mirror");
    TCase *t = tcase_create("mirror");
    tcase_add_checked_fixture(t, up, down);
    tcase_add_test(t, test_mirror_is_a_socket_readable_exactly_while_data_waits);
    tcase_add_test(t, test_mirror_writable_follows_the_send_buffer);
    tcase_add_test(t, test_kernel_epoll_edge_triggered_gets_an_edge_per_arrival);
    tcase_add_test(t, test_mirror_rdhup_at_the_peers_fin_then_hup_when_both_are_shut);
    tcase_add_test(t, test_mirror_hup_and_err_after_a_reset);
    tcase_add_test(t, test_mirror_of_a_listener_is_readable_with_a_connection_to_accept);
    tcase_add_test(t, test_nonblocking_connect_writable_when_connected_err_when_refused);
    tcase_add_test(t, test_one_kernel_poll_over_a_pipe_and_a_mirror);
    tcase_add_test(t, test_close_hangs_the_mirror_up_and_lets_go_of_its_descriptors);
    tcase_add_test(t, test_udp_mirror_readable_per_datagram_always_writable);
    tcase_add_test(t, test_ioctl_reads_queues_and_sets_nonblocking);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
