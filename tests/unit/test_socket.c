/* The socket shim: POSIX semantics of every call, over two runtimes (two stacks, each with its
 * own loop thread) joined by the in-memory pair link, in real time. Each test is short; waits
 * are bounded by SO_RCVTIMEO/poll timeouts so a bug fails a test instead of hanging it. Only
 * lower bounds of time are asserted (a timeout did not fire early), never speed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"
#include "tapstack/tcp.h"

/* A: 10.0.0.1 (the client side), B: 10.0.0.2 (the server side). */
static struct ts_runtime *rt_a, *rt_b;

static void rig_up(void)
{
    rt_pair_up(&rt_a, &rt_b, NULL, NULL);
    ts_runtime_set_default(rt_a);
}

/* A driver wrapper that can silently lose everything its stack sends (a cut cable); the rest
 * passes through to the link (the ops left NULL). */
struct hole {
    struct ts_driver drv;
    atomic_bool cut;
};
static int hole_send(struct ts_driver *d, const uint8_t *f, size_t n,
                     const struct ts_frame_meta *meta, ts_time_t now)
{
    struct hole *h = d->priv;
    return atomic_load(&h->cut) ? 0 : ts_driver_send_meta(d->inner, f, n, meta, now);
}
static void hole_destroy(struct ts_driver *d)
{
    free(d->priv);
}
static const struct ts_driver_ops hole_ops = {.send = hole_send, .destroy = hole_destroy};

static struct ts_driver *hole_wrap(struct ts_driver *inner, void *arg)
{
    struct hole *h = arg;
    h->drv = (struct ts_driver){.ops = &hole_ops, .name = "hole", .priv = h, .inner = inner};
    atomic_init(&h->cut, false);
    return &h->drv;
}

/* Like rig_up, with A's sending side behind a hole the test can cut. */
static struct hole *rig_up_with_hole(void)
{
    struct hole *h = calloc(1, sizeof *h);
    ck_assert_ptr_nonnull(h);
    rt_pair_up(&rt_a, &rt_b, hole_wrap, h);
    ts_runtime_set_default(rt_a);
    return h;
}

static void rig_down(void)
{
    rt_pair_down(&rt_a, &rt_b);
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(ip);
    s.sin_port = htons(port);
    return s;
}
#define SA(x) ((struct sockaddr *)&(x))

static void set_rcvtimeo(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    ck_assert_int_eq(ts_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

static int udp_on(struct ts_runtime *rt, uint16_t port)
{
    int fd = ts_socket_on(rt, AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    if (port) {
        struct sockaddr_in a = sin_of(0, port);
        ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), 0);
    }
    set_rcvtimeo(fd, 2000);
    return fd;
}

static int listener_on(struct ts_runtime *rt, uint16_t port)
{
    int fd = ts_socket_on(rt, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    ck_assert_int_eq(ts_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in a = sin_of(0, port);
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), 0);
    ck_assert_int_eq(ts_listen(fd, 16), 0);
    set_rcvtimeo(fd, 2000);
    return fd;
}

/* A connected pair: *cli on A, *srv on B (accepted from a listener on port). */
static void tcp_pair(uint16_t port, int *cli, int *srv, int *lst)
{
    int l = listener_on(rt_b, port);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, port);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int s = ts_accept(l, SA(peer), &plen);
    ck_assert_int_ge(s, 0);
    ck_assert_uint_eq(plen, sizeof peer);
    ck_assert_uint_eq(ntohl(peer.sin_addr.s_addr), TH_IP_A);
    set_rcvtimeo(c, 2000);
    set_rcvtimeo(s, 2000);
    *cli = c;
    *srv = s;
    if (lst)
        *lst = l;
    else
        ts_close(l);
}

static void recv_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = ts_recv(fd, (char *)buf + got, len - got, 0);
        ck_assert_msg(r > 0, "recv returned %zd errno %d after %zu of %zu", r, errno, got, len);
        got += (size_t)r;
    }
}

static short poll1(int fd, short events, int timeout)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r = ts_poll(&p, 1, timeout);
    ck_assert_int_ge(r, 0);
    return r ? p.revents : 0;
}

/* ================================================================ generic errno cases */

START_TEST(test_bad_descriptor_gives_ebadf_everywhere)
{
    rig_up();
    char b[4];
    struct sockaddr_in a = sin_of(TH_IP_B, 1);
    socklen_t l = sizeof a;
    errno = 0;
    ck_assert_int_eq(ts_send(999, "x", 1, 0), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 0;
    ck_assert_int_eq(ts_recv(-1, b, 1, 0), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 0;
    ck_assert_int_eq(ts_connect(12345, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 0;
    ck_assert_int_eq(ts_getsockname(77, SA(a), &l), -1);
    ck_assert_int_eq(errno, EBADF);
    errno = 0;
    ck_assert_int_eq(ts_close(77), -1);
    ck_assert_int_eq(errno, EBADF);
    int fd = ts_socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(ts_close(fd), 0);
    errno = 0;
    ck_assert_int_eq(ts_close(fd), -1); /* closed twice */
    ck_assert_int_eq(errno, EBADF);
    rig_down();
}
END_TEST

START_TEST(test_socket_rejects_other_families_and_types)
{
    rig_up();
    errno = 0;
    ck_assert_int_eq(ts_socket(AF_INET6, SOCK_STREAM, 0), -1);
    ck_assert_int_eq(errno, EAFNOSUPPORT);
    errno = 0;
    ck_assert_int_eq(ts_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), -1);
    ck_assert_int_eq(errno, EPROTONOSUPPORT);
    errno = 0;
    ck_assert_int_eq(ts_socket(AF_INET, SOCK_RAW, 0), -1);
    ck_assert_int_eq(errno, EPROTONOSUPPORT);
    int fd = ts_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    errno = 0;
    ck_assert_int_eq(ts_bind(fd, (struct sockaddr *)&a6, sizeof a6), -1);
    ck_assert_int_eq(errno, EAFNOSUPPORT);
    struct sockaddr_in a = sin_of(0, 80);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a - 1), -1); /* short address */
    ck_assert_int_eq(errno, EINVAL);
    ts_close(fd);
    rig_down();
}
END_TEST

START_TEST(test_fcntl_toggles_o_nonblock_and_socket_type_flag_sets_it)
{
    rig_up();
    int fd = ts_socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(ts_fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(ts_fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_ne(ts_fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(ts_fcntl(fd, F_SETFL, 0), 0);
    ck_assert_int_eq(ts_fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    errno = 0;
    ck_assert_int_eq(ts_fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EINVAL);
    int fd2 = ts_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ne(ts_fcntl(fd2, F_GETFL) & O_NONBLOCK, 0);
    ts_close(fd);
    ts_close(fd2);
    rig_down();
}
END_TEST

START_TEST(test_getsockopt_so_type_and_unknown_options)
{
    rig_up();
    int t = ts_socket(AF_INET, SOCK_STREAM, 0), u = ts_socket(AF_INET, SOCK_DGRAM, 0);
    int v = 0;
    socklen_t l = sizeof v;
    ck_assert_int_eq(ts_getsockopt(t, SOL_SOCKET, SO_TYPE, &v, &l), 0);
    ck_assert_int_eq(v, SOCK_STREAM);
    ck_assert_int_eq(ts_getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &l), 0);
    ck_assert_int_eq(v, SOCK_DGRAM);
    errno = 0;
    ck_assert_int_eq(ts_getsockopt(t, SOL_SOCKET, 0x7777, &v, &l), -1);
    ck_assert_int_eq(errno, ENOPROTOOPT);
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), -1);
    ck_assert_int_eq(errno, ENOPROTOOPT);
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, 2), -1); /* short */
    ck_assert_int_eq(errno, EINVAL);
    /* SO_RCVTIMEO round trip */
    struct timeval tv = {.tv_sec = 1, .tv_usec = 250000}, got;
    ck_assert_int_eq(ts_setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    l = sizeof got;
    ck_assert_int_eq(ts_getsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &got, &l), 0);
    ck_assert_int_eq(got.tv_sec, 1);
    ck_assert_int_eq(got.tv_usec, 250000);
    tv.tv_usec = 1000000;
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(t, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), -1);
    ck_assert_int_eq(errno, EDOM);
    ts_close(t);
    ts_close(u);
    rig_down();
}
END_TEST

START_TEST(test_poll_reports_pollnval_for_closed_descriptor_and_ignores_negative)
{
    rig_up();
    int fd = ts_socket(AF_INET, SOCK_DGRAM, 0);
    ts_close(fd);
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    ck_assert_int_eq(ts_poll(p, 2, 0), 1);
    ck_assert_int_eq(p[0].revents, POLLNVAL);
    ck_assert_int_eq(p[1].revents, 0);
    rig_down();
}
END_TEST

START_TEST(test_poll_times_out_with_zero_when_nothing_is_ready)
{
    rig_up();
    int fd = udp_on(rt_b, 7000);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ts_time_t t0 = ts_runtime_now();
    ck_assert_int_eq(ts_poll(&p, 1, 50), 0);
    ck_assert_uint_ge(ts_runtime_now() - t0, 50 * TS_MS); /* did not give up early */
    ck_assert_int_eq(p.revents, 0);
    ts_close(fd);
    rig_down();
}
END_TEST

/* ================================================================ UDP */

START_TEST(test_udp_echo_between_two_runtimes)
{
    rig_up();
    int srv = udp_on(rt_b, 7);
    int cli = udp_on(rt_a, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 7);
    ck_assert_int_eq(ts_sendto(cli, "hello", 5, 0, SA(to), sizeof to), 5);
    char buf[32];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ck_assert_int_eq(ts_recvfrom(srv, buf, sizeof buf, 0, SA(from), &fl), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert_uint_eq(ntohl(from.sin_addr.s_addr), TH_IP_A);
    /* the client was bound implicitly to an ephemeral port */
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    ck_assert_int_eq(ts_getsockname(cli, SA(me), &ml), 0);
    ck_assert_uint_eq(me.sin_port, from.sin_port);
    ck_assert_uint_ge(ntohs(me.sin_port), 32768);
    ck_assert_int_eq(ts_sendto(srv, buf, 5, 0, SA(from), fl), 5);
    fl = sizeof from;
    ck_assert_int_eq(ts_recvfrom(cli, buf, sizeof buf, 0, SA(from), &fl), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert_uint_eq(ntohs(from.sin_port), 7);
    ts_close(srv);
    ts_close(cli);
    rig_down();
}
END_TEST

START_TEST(test_udp_connected_to_closed_port_gets_econnrefused)
{
    rig_up();
    int cli = udp_on(rt_a, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 9999);
    ck_assert_int_eq(ts_connect(cli, SA(to), sizeof to), 0);
    ck_assert_int_eq(ts_send(cli, "anyone?", 7, 0), 7);
    char buf[8];
    errno = 0;
    ck_assert_int_eq(ts_recv(cli, buf, sizeof buf, 0), -1); /* blocks until the ICMP arrives */
    ck_assert_int_eq(errno, ECONNREFUSED);
    /* reported once */
    ck_assert_int_eq(ts_send(cli, "again", 5, 0), 5);
    ts_close(cli);
    rig_down();
}
END_TEST

START_TEST(test_udp_nonblocking_recv_is_eagain_and_peek_leaves_datagram)
{
    rig_up();
    int srv = udp_on(rt_b, 7000);
    int cli = udp_on(rt_a, 0);
    char buf[16];
    errno = 0;
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
    struct sockaddr_in to = sin_of(TH_IP_B, 7000);
    ck_assert_int_eq(ts_sendto(cli, "abcdef", 6, 0, SA(to), sizeof to), 6);
    ck_assert(poll1(srv, POLLIN, 2000) & POLLIN);
    ck_assert_int_eq(ts_recv(srv, buf, 3, MSG_PEEK), 3);
    ck_assert_mem_eq(buf, "abc", 3);
    ck_assert_int_eq(ts_recv(srv, buf, 2, MSG_TRUNC), 6); /* MSG_TRUNC: the real length */
    ck_assert_mem_eq(buf, "ab", 2);
    ck_assert_int_eq(ts_fcntl(srv, F_SETFL, O_NONBLOCK), 0);
    errno = 0;
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), -1); /* the truncated rest is gone */
    ck_assert_int_eq(errno, EAGAIN);
    ts_close(srv);
    ts_close(cli);
    rig_down();
}
END_TEST

START_TEST(test_udp_send_errors_emsgsize_edestaddrreq_eaddrinuse)
{
    rig_up();
    int a = udp_on(rt_a, 5000);
    static char big[65508];
    struct sockaddr_in to = sin_of(TH_IP_B, 7000);
    errno = 0;
    ck_assert_int_eq(ts_sendto(a, big, sizeof big, 0, SA(to), sizeof to), -1);
    ck_assert_int_eq(errno, EMSGSIZE);
    errno = 0;
    ck_assert_int_eq(ts_send(a, "x", 1, 0), -1);
    ck_assert_int_eq(errno, EDESTADDRREQ);
    int b = ts_socket_on(rt_a, AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = sin_of(0, 5000);
    errno = 0;
    ck_assert_int_eq(ts_bind(b, SA(me), sizeof me), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    errno = 0;
    ck_assert_int_eq(ts_bind(a, SA(me), sizeof me), -1); /* already bound */
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(ts_listen(a, 1), -1);
    ck_assert_int_eq(errno, EOPNOTSUPP);
    errno = 0;
    ck_assert_int_eq(ts_accept(a, NULL, NULL), -1);
    ck_assert_int_eq(errno, EOPNOTSUPP);
    errno = 0;
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    ck_assert_int_eq(ts_getpeername(a, SA(peer), &pl), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    ts_close(a);
    ts_close(b);
    rig_down();
}
END_TEST

START_TEST(test_udp_reuseaddr_lets_two_sockets_share_a_port)
{
    rig_up();
    int one = 1;
    int a = ts_socket_on(rt_b, AF_INET, SOCK_DGRAM, 0);
    int b = ts_socket_on(rt_b, AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(ts_setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    ck_assert_int_eq(ts_setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in me = sin_of(0, 5353);
    ck_assert_int_eq(ts_bind(a, SA(me), sizeof me), 0);
    ck_assert_int_eq(ts_bind(b, SA(me), sizeof me), 0);
    ts_close(a);
    ts_close(b);
    rig_down();
}
END_TEST

START_TEST(test_udp_so_rcvtimeo_expiry_returns_eagain)
{
    rig_up();
    int fd = udp_on(rt_b, 7000);
    set_rcvtimeo(fd, 60);
    char b[4];
    ts_time_t t0 = ts_runtime_now();
    errno = 0;
    ck_assert_int_eq(ts_recv(fd, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_uint_ge(ts_runtime_now() - t0, 60 * TS_MS);
    ts_close(fd);
    rig_down();
}
END_TEST

struct closer {
    int fd;
    int result, err;
};
static void *blocked_recv(void *arg)
{
    struct closer *c = arg;
    char b[4];
    errno = 0;
    c->result = (int)ts_recv(c->fd, b, sizeof b, 0);
    c->err = errno;
    return NULL;
}

START_TEST(test_close_wakes_a_thread_blocked_in_recv_with_ebadf)
{
    rig_up();
    int fd = udp_on(rt_b, 7000);
    set_rcvtimeo(fd, 0); /* block for good */
    struct closer c = {.fd = fd};
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, &c);
    usleep(20000); /* let it block (if it did not yet, it sees EBADF at once: same result) */
    ck_assert_int_eq(ts_close(fd), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(c.result, -1);
    ck_assert_int_eq(c.err, EBADF);
    rig_down();
}
END_TEST

START_TEST(test_udp_icmp_error_shows_as_pollerr_and_so_error_clears_it)
{
    rig_up();
    int cli = udp_on(rt_a, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 9999);
    ck_assert_int_eq(ts_connect(cli, SA(to), sizeof to), 0);
    ck_assert_int_eq(ts_send(cli, "x", 1, 0), 1);
    short ev = poll1(cli, POLLIN, 2000);
    ck_assert(ev & POLLERR);
    ck_assert(!(ev & POLLIN));
    int err = 0;
    socklen_t el = sizeof err;
    ck_assert_int_eq(ts_getsockopt(cli, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ck_assert_int_eq(err, ECONNREFUSED);
    ck_assert_int_eq(poll1(cli, POLLIN, 0), 0);
    ts_close(cli);
    rig_down();
}
END_TEST

struct poller {
    int fd;
    int result;
    short revents;
};
static void *blocked_poll(void *arg)
{
    struct poller *p = arg;
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    p->result = ts_poll(&pf, 1, -1);
    p->revents = pf.revents;
    return NULL;
}

START_TEST(test_close_wakes_a_thread_blocked_in_poll_with_pollnval)
{
    rig_up();
    int fd = udp_on(rt_b, 7000);
    struct poller p = {.fd = fd};
    pthread_t t;
    pthread_create(&t, NULL, blocked_poll, &p);
    usleep(20000);
    ck_assert_int_eq(ts_close(fd), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(p.result, 1);
    ck_assert_int_eq(p.revents, POLLNVAL);
    rig_down();
}
END_TEST

START_TEST(test_runtime_stop_wakes_blocked_thread_and_frees_everything)
{
    rig_up();
    int fd = udp_on(rt_b, 7000);
    set_rcvtimeo(fd, 0);
    int tcp = ts_socket_on(rt_b, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(tcp, 0);
    struct closer c = {.fd = fd};
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, &c);
    usleep(20000);
    ts_runtime_stop(rt_b);
    rt_b = NULL;
    pthread_join(t, NULL);
    ck_assert_int_eq(c.result, -1);
    ck_assert_int_eq(c.err, EBADF);
    errno = 0;
    ck_assert_int_eq(ts_close(tcp), -1); /* the runtime took its descriptors with it */
    ck_assert_int_eq(errno, EBADF);
    ts_runtime_stop(rt_a);
    rt_a = NULL;
}
END_TEST

START_TEST(test_frames_held_by_a_delaying_driver_leave_without_other_traffic)
{
    /* A's frames go out through a fault wrapper that delays them: the loop must wake for the
     * wrapper's deadline after a send from an application thread, not only for the stack's. */
    struct ts_driver *da, *db;
    ts_pair_create(&da, &db, 0);
    struct ts_fault_config fc = {.out = {.delay = 30 * TS_MS}, .seed = 1};
    struct ts_driver *fa = ts_fault_wrap(da, &fc);
    ck_assert_ptr_nonnull(fa);
    struct ts_config ca, cb;
    th_config(&ca, TH_A);
    th_config(&cb, TH_B);
    struct ts_stack *sa = ts_stack_new(&ca, fa, ts_runtime_now());
    struct ts_stack *sb = ts_stack_new(&cb, db, ts_runtime_now());
    rt_a = ts_runtime_start(sa, fa);
    rt_b = ts_runtime_start(sb, db);
    ck_assert(rt_a && rt_b);
    int srv = udp_on(rt_b, 7);
    int cli = udp_on(rt_a, 0);
    usleep(100000); /* let the start-up ARP traffic settle so the loops sleep */
    struct sockaddr_in to = sin_of(TH_IP_B, 7);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ts_sendto(cli, "late", 4, 0, SA(to), sizeof to), 4);
        char buf[8];
        ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), 4);
        usleep(50000);
    }
    ts_close(srv);
    ts_close(cli);
    rig_down();
}
END_TEST

START_TEST(test_poll_across_many_descriptors_reports_only_the_ready_one)
{
    rig_up();
    enum { N = 8 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = udp_on(rt_b, (uint16_t)(7100 + i));
    int cli = udp_on(rt_a, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 7105);
    ck_assert_int_eq(ts_sendto(cli, "5", 1, 0, SA(to), sizeof to), 1);
    struct pollfd p[N];
    for (int i = 0; i < N; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    ck_assert_int_eq(ts_poll(p, N, 2000), 1);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(p[i].revents, i == 5 ? POLLIN : 0);
    /* POLLOUT: a UDP socket can always send */
    for (int i = 0; i < N; i++)
        p[i].events = POLLOUT;
    ck_assert_int_eq(ts_poll(p, N, 0), N);
    for (int i = 0; i < N; i++)
        ts_close(fds[i]);
    ts_close(cli);
    rig_down();
}
END_TEST

/* ================================================================ TCP */

START_TEST(test_tcp_blocking_connect_accept_send_recv_and_names)
{
    rig_up();
    int c, s;
    tcp_pair(8080, &c, &s, NULL);
    ck_assert_int_eq(ts_send(c, "GET", 3, 0), 3);
    char buf[8];
    recv_exact(s, buf, 3);
    ck_assert_mem_eq(buf, "GET", 3);
    ck_assert_int_eq(ts_write(s, "OK!", 3), 3);
    ck_assert_int_eq(ts_read(c, buf, sizeof buf), 3);
    ck_assert_mem_eq(buf, "OK!", 3);
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    ck_assert_int_eq(ts_getpeername(c, SA(a), &l), 0);
    ck_assert_uint_eq(ntohl(a.sin_addr.s_addr), TH_IP_B);
    ck_assert_uint_eq(ntohs(a.sin_port), 8080);
    l = sizeof a;
    ck_assert_int_eq(ts_getsockname(s, SA(a), &l), 0);
    ck_assert_uint_eq(ntohl(a.sin_addr.s_addr), TH_IP_B);
    ck_assert_uint_eq(ntohs(a.sin_port), 8080);
    struct ts_tcp_info info;
    l = sizeof info;
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TS_TCP_INFO, &info, &l), 0);
    ck_assert_int_eq(info.state, TS_TCP_ESTABLISHED);
    ck_assert_uint_eq(info.rport, 8080);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_nonblocking_connect_completes_through_poll_and_so_error)
{
    rig_up();
    int l = listener_on(rt_b, 8081);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 8081);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    short ev = poll1(c, POLLOUT, 2000);
    ck_assert(ev & POLLOUT);
    ck_assert(!(ev & (POLLERR | POLLHUP)));
    int err = -1;
    socklen_t el = sizeof err;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ck_assert_int_eq(err, 0);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EISCONN);
    ts_close(c);
    ts_close(l);
    rig_down();
}
END_TEST

START_TEST(test_tcp_connect_to_closed_port_is_refused)
{
    rig_up();
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 9);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_nonblocking_connect_refused_shows_pollerr_and_so_error)
{
    rig_up();
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 9);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    short ev = poll1(c, POLLOUT, 2000);
    ck_assert(ev & POLLERR);
    ck_assert(ev & POLLHUP);
    int err = 0;
    socklen_t el = sizeof err;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ck_assert_int_eq(err, ECONNREFUSED);
    el = sizeof err;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ck_assert_int_eq(err, 0); /* SO_ERROR clears it */
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_second_connect_while_in_progress_is_ealready)
{
    rig_up();
    /* B's stack never answers: it is not running a listener and we drop nothing, so use a
     * port on an address nobody has (ARP never resolves): the SYN waits. */
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of(th_ip(10, 0, 0, 77), 80);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EINPROGRESS);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EALREADY);
    ck_assert_int_eq(poll1(c, POLLOUT, 0), 0); /* not writable while connecting */
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_calls_on_unconnected_socket_are_enotconn)
{
    rig_up();
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    char b[4];
    errno = 0;
    ck_assert_int_eq(ts_recv(c, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    errno = 0;
    ck_assert_int_eq(ts_send(c, "x", 1, 0), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    errno = 0;
    ck_assert_int_eq(ts_shutdown(c, SHUT_WR), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    errno = 0;
    ck_assert_int_eq(ts_getpeername(c, SA(a), &l), -1);
    ck_assert_int_eq(errno, ENOTCONN);
    errno = 0;
    ck_assert_int_eq(ts_accept(c, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL); /* not listening */
    errno = 0;
    ck_assert_int_eq(ts_shutdown(c, 42), -1);
    ck_assert_int_eq(errno, EINVAL);
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_listen_without_bind_gets_ephemeral_port)
{
    rig_up();
    int l = ts_socket_on(rt_b, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(ts_listen(l, 4), 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    ck_assert_int_eq(ts_getsockname(l, SA(a), &al), 0);
    uint16_t port = ntohs(a.sin_port);
    ck_assert_uint_ge(port, 32768);
    ck_assert_uint_le(port, 60999);
    /* and it works */
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, port);
    ck_assert_int_eq(ts_connect(c, SA(to), sizeof to), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ts_close(s);
    ts_close(c);
    ts_close(l);
    rig_down();
}
END_TEST

START_TEST(test_tcp_bind_port_0_picks_ephemeral_and_bind_twice_is_einval)
{
    rig_up();
    int fd = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 0);
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(ts_getsockname(fd, SA(a), &al), 0);
    ck_assert_uint_ge(ntohs(a.sin_port), 32768);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* a second socket cannot take the same port without SO_REUSEADDR on both */
    int fd2 = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd2, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    struct sockaddr_in foreign = sin_of(th_ip(192, 168, 9, 9), 0);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd2, SA(foreign), sizeof foreign), -1);
    ck_assert_int_eq(errno, EADDRNOTAVAIL);
    ts_close(fd);
    ts_close(fd2);
    rig_down();
}
END_TEST

START_TEST(test_tcp_bind_to_listening_port_is_eaddrinuse_even_with_reuseaddr)
{
    rig_up();
    int l = listener_on(rt_b, 8082); /* has SO_REUSEADDR */
    int fd = ts_socket_on(rt_b, AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ck_assert_int_eq(ts_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_in a = sin_of(0, 8082);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    ts_close(l);
    /* the listener is gone: the port is free */
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), 0);
    ck_assert_int_eq(ts_listen(fd, 1), 0);
    ts_close(fd);
    rig_down();
}
END_TEST

START_TEST(test_tcp_reuseaddr_binds_over_time_wait)
{
    rig_up();
    int c, s, l;
    tcp_pair(8083, &c, &s, &l);
    ts_close(l);
    /* The server closes first: its side of the connection ends in TIME_WAIT on port 8083. */
    ts_close(s);
    char b[4];
    ck_assert_int_eq(ts_recv(c, b, sizeof b, 0), 0);
    ts_close(c);
    usleep(20000);
    int fd = ts_socket_on(rt_b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(0, 8083);
    errno = 0;
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    int one = 1;
    ck_assert_int_eq(ts_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    ck_assert_int_eq(ts_bind(fd, SA(a), sizeof a), 0);
    ts_close(fd);
    rig_down();
}
END_TEST

START_TEST(test_tcp_poll_readable_writable_and_rdhup_after_peer_close)
{
    rig_up();
    int c, s;
    tcp_pair(8084, &c, &s, NULL);
    ck_assert_int_eq(poll1(s, POLLIN, 0), 0);
    ck_assert(poll1(s, POLLOUT, 0) & POLLOUT);
    ck_assert_int_eq(ts_send(c, "data", 4, 0), 4);
    ck_assert(poll1(s, POLLIN, 2000) & POLLIN);
    char b[8];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 4);
    ck_assert_int_eq(poll1(s, POLLIN | POLLRDHUP, 0), 0);
    ts_close(c); /* FIN */
    short ev = poll1(s, POLLIN | POLLRDHUP, 2000);
    ck_assert(ev & POLLIN);
    ck_assert(ev & POLLRDHUP);
    ck_assert(!(ev & POLLHUP)); /* only half: we may still send */
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 0);
    ck_assert_int_eq(ts_shutdown(s, SHUT_WR), 0);
    ev = poll1(s, POLLIN, 0);
    ck_assert(ev & POLLHUP); /* both directions are done */
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_shutdown_wr_delivers_eof_and_keeps_receiving)
{
    rig_up();
    int c, s;
    tcp_pair(8085, &c, &s, NULL);
    ck_assert_int_eq(ts_send(c, "req", 3, 0), 3);
    ck_assert_int_eq(ts_shutdown(c, SHUT_WR), 0);
    errno = 0;
    ck_assert_int_eq(ts_send(c, "x", 1, MSG_NOSIGNAL), -1);
    ck_assert_int_eq(errno, EPIPE);
    char b[8];
    recv_exact(s, b, 3);
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 0); /* EOF */
    ck_assert_int_eq(ts_send(s, "resp", 4, 0), 4);
    recv_exact(c, b, 4);
    ck_assert_mem_eq(b, "resp", 4);
    ts_close(s);
    ck_assert_int_eq(ts_recv(c, b, sizeof b, 0), 0);
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_linger_zero_sends_rst_and_peer_gets_econnreset)
{
    rig_up();
    int c, s;
    tcp_pair(8086, &c, &s, NULL);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    ts_close(c);
    short ev = poll1(s, POLLIN, 2000);
    ck_assert(ev & POLLERR);
    ck_assert(ev & POLLHUP);
    char b[4];
    errno = 0;
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    errno = 0;
    ck_assert_int_eq(ts_send(s, "x", 1, 0), -1); /* no signal, just EPIPE */
    ck_assert_int_eq(errno, EPIPE);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_linger_positive_close_returns_after_fin_is_acked)
{
    rig_up();
    int c, s;
    tcp_pair(8087, &c, &s, NULL);
    struct linger lg = {.l_onoff = 1, .l_linger = 2};
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    static char data[100000];
    memset(data, 'z', sizeof data);
    ck_assert_int_eq(ts_send(c, data, sizeof data, 0), (ssize_t)sizeof data);
    /* Everything fits in the peer's receive buffer, so the FIN is acknowledged without the
     * peer reading: close returns once it is, and the data is all there afterwards. */
    ck_assert_int_eq(ts_close(c), 0);
    static char got[100000];
    recv_exact(s, got, sizeof got);
    ck_assert_mem_eq(got, data, sizeof data);
    char b[4];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), 0);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_lost_peer_times_out_with_etimedout)
{
    struct hole *h = rig_up_with_hole();
    int l = listener_on(rt_b, 8096);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 8096);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    /* Give up on unacknowledged data after 300 ms instead of the retry count. */
    int ut = 300;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut), 0);
    set_rcvtimeo(c, 5000);
    atomic_store(&h->cut, true);
    ck_assert_int_eq(ts_send(c, "lost", 4, 0), 4);
    char b[4];
    errno = 0;
    ck_assert_int_eq(ts_recv(c, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    struct ts_tcp_info info;
    socklen_t il = sizeof info;
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TS_TCP_INFO, &info, &il), 0);
    ck_assert_int_eq(info.state, TS_TCP_CLOSE);
    ck_assert_uint_ge(info.retransmits, 1);
    ts_close(c);
    ts_close(s);
    ts_close(l);
    rig_down();
}
END_TEST

START_TEST(test_tcp_so_sndtimeo_bounds_a_blocked_send)
{
    rig_up();
    int c, s;
    tcp_pair(8097, &c, &s, NULL);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    /* The peer reads nothing: once its receive buffer and our send buffer are full, a blocking
     * send waits, and the timeout ends the wait with what was taken so far... */
    size_t big = 4u << 20;
    char *buf = calloc(1, big);
    ssize_t n = ts_send(c, buf, big, 0);
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, (ssize_t)big);
    /* ...and a send that can take nothing fails with EAGAIN. */
    errno = 0;
    ck_assert_int_eq(ts_send(c, buf, big, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(poll1(c, POLLOUT, 0), 0);
    free(buf);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_so_rcvtimeo_expiry_returns_eagain)
{
    rig_up();
    int c, s;
    tcp_pair(8088, &c, &s, NULL);
    set_rcvtimeo(s, 50);
    char b[4];
    ts_time_t t0 = ts_runtime_now();
    errno = 0;
    ck_assert_int_eq(ts_recv(s, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_uint_ge(ts_runtime_now() - t0, 50 * TS_MS);
    /* accept on a listener honours it too */
    int l = listener_on(rt_b, 8089);
    set_rcvtimeo(l, 30);
    errno = 0;
    ck_assert_int_eq(ts_accept(l, NULL, NULL), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ts_close(l);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_nonblocking_accept_and_recv_are_eagain)
{
    rig_up();
    int l = listener_on(rt_b, 8090);
    ck_assert_int_eq(ts_fcntl(l, F_SETFL, O_NONBLOCK), 0);
    errno = 0;
    ck_assert_int_eq(ts_accept(l, NULL, NULL), -1);
    ck_assert_int_eq(errno, EAGAIN);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 8090);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    ck_assert(poll1(l, POLLIN, 2000) & POLLIN);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    char b[4];
    errno = 0;
    ck_assert_int_eq(ts_recv(s, b, sizeof b, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
    ts_close(s);
    ts_close(c);
    ts_close(l);
    rig_down();
}
END_TEST

START_TEST(test_tcp_connect_on_connected_socket_is_eisconn_and_listen_is_einval)
{
    rig_up();
    int c, s;
    tcp_pair(8091, &c, &s, NULL);
    struct sockaddr_in a = sin_of(TH_IP_B, 8091);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), -1);
    ck_assert_int_eq(errno, EISCONN);
    errno = 0;
    ck_assert_int_eq(ts_listen(c, 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

/* Issue 13: a NULL buffer with a non-zero length is EFAULT from every send and receive call
 * (it used to be dereferenced); the connection is unharmed and a zero length stays a no-op. */
START_TEST(test_null_buffer_with_length_is_efault_not_a_crash)
{
    rig_up();
    int c, s;
    tcp_pair(8097, &c, &s, NULL);
    errno = 0;
    ck_assert_int_eq(ts_write(c, NULL, 1000), -1);
    ck_assert_int_eq(errno, EFAULT);
    errno = 0;
    ck_assert_int_eq(ts_send(c, NULL, 10, 0), -1);
    ck_assert_int_eq(errno, EFAULT);
    errno = 0;
    ck_assert_int_eq(ts_sendto(c, NULL, 10, 0, NULL, 0), -1);
    ck_assert_int_eq(errno, EFAULT);
    ck_assert_int_eq(ts_send(c, NULL, 0, 0), 0);
    ck_assert_int_eq(ts_send(c, "ok", 2, 0), 2);
    errno = 0;
    ck_assert_int_eq(ts_read(s, NULL, 1000), -1);
    ck_assert_int_eq(errno, EFAULT);
    errno = 0;
    ck_assert_int_eq(ts_recv(s, NULL, 10, 0), -1);
    ck_assert_int_eq(errno, EFAULT);
    errno = 0;
    ck_assert_int_eq(ts_recvfrom(s, NULL, 10, 0, NULL, NULL), -1);
    ck_assert_int_eq(errno, EFAULT);
    char b[2];
    recv_exact(s, b, 2); /* nothing was taken by the failed calls */
    ck_assert_int_eq(memcmp(b, "ok", 2), 0);
    int u = udp_on(rt_a, 9000);
    errno = 0;
    ck_assert_int_eq(ts_recv(u, NULL, 10, MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EFAULT);
    ts_close(u);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

/* TCP_MAXSEG with Linux's meaning: before connect it reads back what was set (536 when not
 * set), bounds the MSS announced; once connected it reads the MSS in use (data per segment,
 * timestamps excluded), which the peer's announcement cannot raise past it. */
START_TEST(test_tcp_maxseg_set_before_connect_bounds_the_mss_in_use)
{
    rig_up();
    int l = listener_on(rt_b, 8098);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    int v = 0;
    socklen_t vl = sizeof v;
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &vl), 0);
    ck_assert_int_eq(v, 536);
    v = 50;
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v), -1);
    ck_assert_int_eq(errno, EINVAL);
    v = 1000;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v), 0);
    vl = sizeof v;
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &vl), 0);
    ck_assert_int_eq(v, 1000);
    struct sockaddr_in a = sin_of(TH_IP_B, 8098);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    vl = sizeof v;
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, &vl), 0);
    ck_assert_int_eq(v, 1000 - 12); /* timestamps take 12 bytes of each segment */
    vl = sizeof v;
    ck_assert_int_eq(ts_getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, &vl), 0);
    ck_assert_int_eq(v, 1000 - 12); /* the accepting side saw our announcement */
    ts_close(c);
    ts_close(s);
    ts_close(l);
    rig_down();
}
END_TEST

static void cc_is(int fd, const char *want)
{
    char cc[16];
    memset(cc, 'x', sizeof cc);
    socklen_t l = sizeof cc;
    ck_assert_int_eq(ts_getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l), 0);
    ck_assert_str_eq(cc, want);
    ck_assert_uint_eq(l, strlen(want) + 1);
}

static const char *cc_running(int fd)
{
    struct ts_tcp_info info;
    socklen_t l = sizeof info;
    ck_assert_int_eq(ts_getsockopt(fd, IPPROTO_TCP, TS_TCP_INFO, &info, &l), 0);
    return info.cc;
}

/* TCP_CONGESTION as on Linux: per socket, by name (not NUL-terminated necessarily), ENOENT for
 * a name it does not know, inherited by the connections a listener makes, and changeable on an
 * established connection, which goes on with the new algorithm. */
START_TEST(test_tcp_congestion_is_chosen_per_socket_by_name)
{
    rig_up();
    int l = listener_on(rt_b, 8099);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    cc_is(c, "reno"); /* the stack's default (ts_config.tcp_cc), by Linux's name */
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5), -1);
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "bbr", 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3), 0);
    cc_is(c, "bbr");
    ck_assert_int_eq(ts_setsockopt(l, IPPROTO_TCP, TCP_CONGESTION, "cubic", 6), 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 8099);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ck_assert_str_eq(cc_running(c), "bbr");
    cc_is(s, "cubic");
    ck_assert_str_eq(cc_running(s), "cubic");
    char b[4096] = {0}, r[4096];
    ck_assert_int_eq(ts_send(c, b, sizeof b, 0), (ssize_t)sizeof b);
    recv_exact(s, r, sizeof r);
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), 0);
    cc_is(c, "reno");
    ck_assert_str_eq(cc_running(c), "newreno");
    ck_assert_int_eq(ts_send(c, b, sizeof b, 0), (ssize_t)sizeof b);
    recv_exact(s, r, sizeof r);
    ts_close(c);
    ts_close(s);
    ts_close(l);
    rig_down();
}
END_TEST

START_TEST(test_tcp_msg_peek_leaves_data_for_the_next_read)
{
    rig_up();
    int c, s;
    tcp_pair(8092, &c, &s, NULL);
    ck_assert_int_eq(ts_send(c, "peekaboo", 8, 0), 8);
    char b[16];
    ck_assert_int_eq(poll1(s, POLLIN, 2000) & POLLIN, POLLIN);
    ssize_t n = ts_recv(s, b, 4, MSG_PEEK);
    ck_assert_int_eq(n, 4);
    ck_assert_mem_eq(b, "peek", 4);
    ck_assert(poll1(s, POLLIN, 0) & POLLIN);
    recv_exact(s, b, 8);
    ck_assert_mem_eq(b, "peekaboo", 8);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_closing_listener_resets_connections_never_accepted)
{
    rig_up();
    int l = listener_on(rt_b, 8098);
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, 8098);
    ck_assert_int_eq(ts_connect(c, SA(a), sizeof a), 0);
    set_rcvtimeo(c, 2000);
    int v = 0;
    socklen_t vl = sizeof v;
    ck_assert_int_eq(ts_getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl), 0);
    ck_assert_int_eq(v, 1);
    ck_assert(poll1(l, POLLIN, 2000) & POLLIN); /* established and waiting in the queue */
    ts_close(l);
    char b[4];
    errno = 0;
    ck_assert_int_eq(ts_recv(c, b, sizeof b, 0), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    ts_close(c);
    rig_down();
}
END_TEST

START_TEST(test_tcp_recv_msg_waitall_waits_for_the_whole_buffer)
{
    rig_up();
    int c, s;
    tcp_pair(8099, &c, &s, NULL);
    ck_assert_int_eq(ts_send(c, "abc", 3, 0), 3);
    usleep(20000);
    ck_assert_int_eq(ts_send(c, "defgh", 5, 0), 5);
    char b[8];
    ck_assert_int_eq(ts_recv(s, b, sizeof b, MSG_WAITALL), 8);
    ck_assert_mem_eq(b, "abcdefgh", 8);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

START_TEST(test_tcp_options_round_trip)
{
    rig_up();
    int c, s;
    tcp_pair(8093, &c, &s, NULL);
    int one = 1, v = 0;
    socklen_t l = sizeof v;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    int idle = 30, intvl = 5, cnt = 3;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl), 0);
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt), 0);
    l = sizeof v;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &l), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l), 0);
    ck_assert_int_eq(v, 30);
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &v, &l), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(ts_getsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &v, &l), 0);
    ck_assert_int_eq(v, 3);
    int zero = 0;
    errno = 0;
    ck_assert_int_eq(ts_setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &zero, sizeof zero), -1);
    ck_assert_int_eq(errno, EINVAL);
    int big = 1 << 20;
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
    ck_assert_int_ge(v, 1 << 20);
    struct linger lg = {.l_onoff = 1, .l_linger = 7}, lg2;
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    l = sizeof lg2;
    ck_assert_int_eq(ts_getsockopt(c, SOL_SOCKET, SO_LINGER, &lg2, &l), 0);
    ck_assert_int_eq(lg2.l_onoff, 1);
    ck_assert_int_eq(lg2.l_linger, 7);
    lg.l_onoff = 0;
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

struct acceptor {
    int lst;
    int done;
    int err;
};
static void *blocked_accept(void *arg)
{
    struct acceptor *a = arg;
    errno = 0;
    a->done = ts_accept(a->lst, NULL, NULL);
    a->err = errno;
    return NULL;
}

START_TEST(test_tcp_shutdown_of_listener_wakes_blocked_accept_with_einval)
{
    rig_up();
    int l = listener_on(rt_b, 8094);
    set_rcvtimeo(l, 0);
    struct acceptor a = {.lst = l};
    pthread_t t;
    pthread_create(&t, NULL, blocked_accept, &a);
    usleep(20000);
    ck_assert_int_eq(ts_shutdown(l, SHUT_RDWR), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(a.done, -1);
    ck_assert_int_eq(a.err, EINVAL);
    /* no longer listening: a connect is refused */
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = sin_of(TH_IP_B, 8094);
    errno = 0;
    ck_assert_int_eq(ts_connect(c, SA(to), sizeof to), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    ts_close(c);
    ts_close(l);
    rig_down();
}
END_TEST

/* ---- many threads: an echo server with a thread per client, many clients at once */

#define ECHO_PORT  7007
#define CLIENTS    8
#define PER_CLIENT 65536

static void *echo_conn(void *arg)
{
    int s = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = ts_recv(s, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = ts_send(s, buf + off, (size_t)(n - off), 0);
            if (w <= 0)
                break;
            off += w;
        }
    }
    ts_close(s);
    return NULL;
}

static void *echo_acceptor(void *arg)
{
    int l = (int)(intptr_t)arg;
    pthread_t th[CLIENTS];
    int n = 0;
    while (n < CLIENTS) {
        int s = ts_accept(l, NULL, NULL);
        if (s < 0)
            break;
        set_rcvtimeo(s, 3000);
        pthread_create(&th[n++], NULL, echo_conn, (void *)(intptr_t)s);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return NULL;
}

struct client {
    int id;
    int ok;
    size_t sent, got; /* for the failure message */
    int err;
};
static void *echo_client(void *arg)
{
    struct client *cl = arg;
    int c = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, ECHO_PORT);
    if (c < 0 || ts_connect(c, SA(a), sizeof a) != 0) {
        cl->err = errno;
        return NULL;
    }
    set_rcvtimeo(c, 3000);
    uint8_t *out = malloc(PER_CLIENT), *in = malloc(PER_CLIENT);
    for (size_t i = 0; i < PER_CLIENT; i++)
        out[i] = (uint8_t)(i * 7 + cl->id);
    /* send and receive interleaved so neither side's buffers need to hold it all */
    size_t sent = 0, got = 0;
    while (got < PER_CLIENT) {
        if (sent < PER_CLIENT) {
            size_t chunk = PER_CLIENT - sent < 8192 ? PER_CLIENT - sent : 8192;
            ssize_t w = ts_send(c, out + sent, chunk, 0);
            if (w <= 0) {
                cl->err = errno;
                break;
            }
            sent += (size_t)w;
        }
        ssize_t r = ts_recv(c, in + got, PER_CLIENT - got, sent < PER_CLIENT ? MSG_DONTWAIT : 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            cl->err = r == 0 ? -1 : errno;
            break;
        }
        if (r > 0)
            got += (size_t)r;
    }
    cl->sent = sent;
    cl->got = got;
    cl->ok = got == PER_CLIENT && memcmp(in, out, PER_CLIENT) == 0;
    free(out);
    free(in);
    ts_close(c);
    return NULL;
}

START_TEST(test_tcp_many_threads_echo_at_once)
{
    rig_up();
    int l = listener_on(rt_b, ECHO_PORT);
    set_rcvtimeo(l, 3000);
    pthread_t acc;
    pthread_create(&acc, NULL, echo_acceptor, (void *)(intptr_t)l);
    pthread_t th[CLIENTS];
    struct client cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (struct client){.id = i};
        pthread_create(&th[i], NULL, echo_client, &cl[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    pthread_join(acc, NULL);
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_msg(cl[i].ok, "client %d did not get its bytes back (sent %zu got %zu err %d)", i,
                      cl[i].sent, cl[i].got, cl[i].err);
    ts_close(l);
    rig_down();
}
END_TEST

struct bulk {
    int fd;
    size_t len;
};
static void *bulk_sender(void *arg)
{
    struct bulk *b = arg;
    uint8_t buf[16384];
    size_t off = 0;
    while (off < b->len) {
        size_t n = b->len - off < sizeof buf ? b->len - off : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)((off + i) % 251);
        ssize_t w = ts_send(b->fd, buf, n, 0);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    ts_shutdown(b->fd, SHUT_WR);
    return NULL;
}

START_TEST(test_tcp_blocking_bulk_transfer_is_byte_identical)
{
    rig_up();
    int c, s;
    tcp_pair(8095, &c, &s, NULL);
    struct bulk b = {.fd = c, .len = 2u << 20};
    pthread_t t;
    pthread_create(&t, NULL, bulk_sender, &b);
    uint8_t buf[20000];
    size_t total = 0;
    bool same = true;
    for (;;) {
        ssize_t n = ts_recv(s, buf, sizeof buf, 0);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            same &= buf[i] == (uint8_t)((total + (size_t)i) % 251);
        total += (size_t)n;
    }
    pthread_join(t, NULL);
    ck_assert_uint_eq(total, b.len);
    ck_assert(same);
    ts_close(c);
    ts_close(s);
    rig_down();
}
END_TEST

/* A wrapper that batches as the tap does (driver.h: hold): while held, frames are kept; the
 * outermost release forwards them in order. It records the largest burst and what it kept. */
#define BATCHER_MAX 512
struct batcher {
    struct ts_driver drv;
    unsigned depth, n, max_burst;
    size_t len[BATCHER_MAX];
    uint8_t *frame[BATCHER_MAX];
};
static void batcher_release(struct batcher *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        ts_driver_send(b->drv.inner, b->frame[i], b->len[i], 0);
        free(b->frame[i]);
    }
    if (b->n > b->max_burst)
        b->max_burst = b->n;
    b->n = 0;
}
static int batcher_send(struct ts_driver *d, const uint8_t *f, size_t n,
                        const struct ts_frame_meta *meta, ts_time_t now)
{
    struct batcher *b = d->priv;
    if (b->depth == 0 || b->n == BATCHER_MAX) {
        batcher_release(b); /* what was kept goes first */
        return ts_driver_send_meta(d->inner, f, n, meta, now);
    }
    b->frame[b->n] = malloc(n);
    ck_assert_ptr_nonnull(b->frame[b->n]);
    memcpy(b->frame[b->n], f, n);
    b->len[b->n++] = n;
    return 0;
}
static void batcher_hold(struct ts_driver *d, bool on)
{
    struct batcher *b = d->priv;
    if (on)
        b->depth++;
    else if (--b->depth == 0)
        batcher_release(b);
}
static const struct ts_driver_ops batcher_ops = {.send = batcher_send, .hold = batcher_hold};

static struct ts_driver *batcher_wrap(struct ts_driver *inner, void *arg)
{
    struct batcher *b = arg;
    b->drv = (struct ts_driver){.ops = &batcher_ops, .name = "batcher", .priv = b, .inner = inner};
    return &b->drv;
}

START_TEST(test_frames_held_during_sends_and_loop_steps_all_leave_in_order)
{
    /* A's link keeps what is sent while it is held: the runtime must hold it around a send()
     * call and the loop's step, and release it before returning or sleeping, or the transfer
     * stalls (a FIN left behind never leaves) or arrives reordered. */
    struct batcher *bt = calloc(1, sizeof *bt);
    ck_assert_ptr_nonnull(bt);
    rt_pair_up(&rt_a, &rt_b, batcher_wrap, bt);
    ts_runtime_set_default(rt_a);
    int c, s;
    tcp_pair(8096, &c, &s, NULL);
    struct bulk b = {.fd = c, .len = 2u << 20};
    pthread_t t;
    pthread_create(&t, NULL, bulk_sender, &b);
    uint8_t buf[20000];
    size_t total = 0;
    bool same = true;
    for (;;) {
        ssize_t n = ts_recv(s, buf, sizeof buf, 0);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            same &= buf[i] == (uint8_t)((total + (size_t)i) % 251);
        total += (size_t)n;
    }
    pthread_join(t, NULL);
    ck_assert_uint_eq(total, b.len);
    ck_assert(same);
    ts_close(c);
    ts_close(s);
    unsigned burst = bt->max_burst;
    rig_down();                  /* the batcher has no destroy op: its memory is the test's */
    ck_assert_uint_gt(burst, 1); /* segments did leave together */
    ck_assert_uint_eq(bt->depth, 0);
    ck_assert_uint_eq(bt->n, 0);
    free(bt);
}
END_TEST

/* A driver on a pipe: its fd hangs up when the test closes the write end, as a tap's does when
 * the interface is deleted. */
struct pipedrv {
    struct ts_driver drv;
    int rd, wr;
    atomic_int recvs;
};
static int pipedrv_send(struct ts_driver *d, const uint8_t *f, size_t n,
                        const struct ts_frame_meta *meta, ts_time_t now)
{
    (void)d, (void)f, (void)n, (void)meta, (void)now;
    return 0;
}
static int pipedrv_recv(struct ts_driver *d, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                        ts_time_t now)
{
    (void)buf, (void)cap, (void)meta, (void)now;
    atomic_fetch_add(&((struct pipedrv *)d->priv)->recvs, 1);
    return 0;
}
static int pipedrv_fd(struct ts_driver *d)
{
    return ((struct pipedrv *)d->priv)->rd;
}
static void pipedrv_destroy(struct ts_driver *d)
{
    struct pipedrv *p = d->priv;
    close(p->rd);
    if (p->wr >= 0)
        close(p->wr);
    free(p);
}
static const struct ts_driver_ops pipedrv_ops = {
    .send = pipedrv_send, .recv = pipedrv_recv, .fd = pipedrv_fd, .destroy = pipedrv_destroy};

static void count_link_down(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(test_runtime_reports_a_hung_up_link_once_and_stops_watching_its_fd)
{
    struct pipedrv *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    p->rd = fds[0];
    p->wr = fds[1];
    p->drv = (struct ts_driver){.ops = &pipedrv_ops, .name = "pipe", .priv = p};
    struct ts_config cfg;
    th_config(&cfg, TH_A);
    struct ts_stack *st = ts_stack_new(&cfg, &p->drv, ts_runtime_now());
    ck_assert_ptr_nonnull(st);
    struct ts_runtime *rt = ts_runtime_start(st, &p->drv);
    ck_assert_ptr_nonnull(rt);
    atomic_int downs;
    atomic_init(&downs, 0);
    ts_runtime_on_link_down(rt, count_link_down, &downs);

    close(p->wr); /* the read end now reports POLLHUP for ever */
    p->wr = -1;
    for (int i = 0; i < 500 && atomic_load(&downs) == 0; i++)
        usleep(10000); /* a safety net, not a speed test */
    ck_assert_int_eq(atomic_load(&downs), 1);
    /* Still watched, the fd would wake the loop at once, again and again: thousands of recv calls
     * in this pause. Unwatched, the loop sleeps until its timers. */
    int before = atomic_load(&p->recvs);
    usleep(300000);
    int wakeups = atomic_load(&p->recvs) - before;
    ck_assert_int_lt(wakeups, 100);
    ck_assert_int_eq(atomic_load(&downs), 1);
    ts_runtime_stop(rt);
}
END_TEST

static Suite *socket_suite(void)
{
    Suite *s = suite_create("socket");
    TCase *g = tcase_create("generic");
    tcase_add_test(g, test_bad_descriptor_gives_ebadf_everywhere);
    tcase_add_test(g, test_runtime_reports_a_hung_up_link_once_and_stops_watching_its_fd);
    tcase_add_test(g, test_socket_rejects_other_families_and_types);
    tcase_add_test(g, test_fcntl_toggles_o_nonblock_and_socket_type_flag_sets_it);
    tcase_add_test(g, test_getsockopt_so_type_and_unknown_options);
    tcase_add_test(g, test_poll_reports_pollnval_for_closed_descriptor_and_ignores_negative);
    tcase_add_test(g, test_poll_times_out_with_zero_when_nothing_is_ready);
    suite_add_tcase(s, g);
    TCase *u = tcase_create("udp");
    tcase_add_test(u, test_udp_echo_between_two_runtimes);
    tcase_add_test(u, test_udp_connected_to_closed_port_gets_econnrefused);
    tcase_add_test(u, test_udp_nonblocking_recv_is_eagain_and_peek_leaves_datagram);
    tcase_add_test(u, test_udp_send_errors_emsgsize_edestaddrreq_eaddrinuse);
    tcase_add_test(u, test_udp_reuseaddr_lets_two_sockets_share_a_port);
    tcase_add_test(u, test_udp_so_rcvtimeo_expiry_returns_eagain);
    tcase_add_test(u, test_close_wakes_a_thread_blocked_in_recv_with_ebadf);
    tcase_add_test(u, test_runtime_stop_wakes_blocked_thread_and_frees_everything);
    tcase_add_test(u, test_udp_icmp_error_shows_as_pollerr_and_so_error_clears_it);
    tcase_add_test(u, test_close_wakes_a_thread_blocked_in_poll_with_pollnval);
    tcase_add_test(u, test_poll_across_many_descriptors_reports_only_the_ready_one);
    tcase_add_test(u, test_frames_held_by_a_delaying_driver_leave_without_other_traffic);
    suite_add_tcase(s, u);
    TCase *t = tcase_create("tcp");
    tcase_set_timeout(t, 10);
    tcase_add_test(t, test_tcp_blocking_connect_accept_send_recv_and_names);
    tcase_add_test(t, test_tcp_nonblocking_connect_completes_through_poll_and_so_error);
    tcase_add_test(t, test_tcp_connect_to_closed_port_is_refused);
    tcase_add_test(t, test_tcp_nonblocking_connect_refused_shows_pollerr_and_so_error);
    tcase_add_test(t, test_tcp_second_connect_while_in_progress_is_ealready);
    tcase_add_test(t, test_tcp_calls_on_unconnected_socket_are_enotconn);
    tcase_add_test(t, test_tcp_listen_without_bind_gets_ephemeral_port);
    tcase_add_test(t, test_tcp_bind_port_0_picks_ephemeral_and_bind_twice_is_einval);
    tcase_add_test(t, test_tcp_bind_to_listening_port_is_eaddrinuse_even_with_reuseaddr);
    tcase_add_test(t, test_tcp_reuseaddr_binds_over_time_wait);
    tcase_add_test(t, test_tcp_poll_readable_writable_and_rdhup_after_peer_close);
    tcase_add_test(t, test_tcp_shutdown_wr_delivers_eof_and_keeps_receiving);
    tcase_add_test(t, test_tcp_linger_zero_sends_rst_and_peer_gets_econnreset);
    tcase_add_test(t, test_tcp_linger_positive_close_returns_after_fin_is_acked);
    tcase_add_test(t, test_tcp_so_rcvtimeo_expiry_returns_eagain);
    tcase_add_test(t, test_tcp_lost_peer_times_out_with_etimedout);
    tcase_add_test(t, test_tcp_so_sndtimeo_bounds_a_blocked_send);
    tcase_add_test(t, test_tcp_nonblocking_accept_and_recv_are_eagain);
    tcase_add_test(t, test_tcp_connect_on_connected_socket_is_eisconn_and_listen_is_einval);
    tcase_add_test(t, test_tcp_msg_peek_leaves_data_for_the_next_read);
    tcase_add_test(t, test_tcp_maxseg_set_before_connect_bounds_the_mss_in_use);
    tcase_add_test(t, test_tcp_congestion_is_chosen_per_socket_by_name);
    tcase_add_test(t, test_null_buffer_with_length_is_efault_not_a_crash);
    tcase_add_test(t, test_tcp_options_round_trip);
    tcase_add_test(t, test_tcp_closing_listener_resets_connections_never_accepted);
    tcase_add_test(t, test_tcp_recv_msg_waitall_waits_for_the_whole_buffer);
    tcase_add_test(t, test_tcp_shutdown_of_listener_wakes_blocked_accept_with_einval);
    tcase_add_test(t, test_tcp_many_threads_echo_at_once);
    tcase_add_test(t, test_tcp_blocking_bulk_transfer_is_byte_identical);
    tcase_add_test(t, test_frames_held_during_sends_and_loop_steps_all_leave_in_order);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(socket_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
