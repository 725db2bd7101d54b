/* The edge cases of running an unmodified program on tapstack (tapstack-run). A plain libc
 * program: it knows nothing of tapstack, and checks that its sockets behave as the kernel's.
 *
 *   prog_edge ECHO_IP ECHO_PORT      (a TCP echo server on the host side, e.g. socat PIPE)
 *
 * Each check prints "ok NAME" or "FAIL NAME: why"; the exit status is the number of failures.
 * Most talk to the program itself over 127.0.0.1 (the stack's loopback), a few to the host. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static const char *echo_ip;
static int echo_port;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s: line %d: ", __func__, __LINE__);                                      \
            printf(__VA_ARGS__);                                                                   \
            printf(" (errno %d %s)\n", errno, strerror(errno));                                    \
            fflush(stdout);                                                                        \
            failures++;                                                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define OK() (printf("ok %s\n", __func__), fflush(stdout))

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in sin_of(const char *ip, int port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &s.sin_addr);
    return s;
}

/* A listener on 127.0.0.1 (port chosen by the stack), and its port. */
static int listener(int *port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = sin_of("127.0.0.1", 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 16) < 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return l;
}

/* A connected pair over the stack's loopback: *c connected to *s (accepted). */
static int pair(int *c, int *s)
{
    int port;
    int l = listener(&port);
    if (l < 0)
        return -1;
    *c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of("127.0.0.1", port);
    if (connect(*c, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    *s = accept(l, NULL, NULL);
    close(l);
    return *s < 0 ? -1 : 0;
}

static int connect_echo(void)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of(echo_ip, echo_port);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    return c;
}

/* ---------------------------------------------------------------- checks */

static void fd_is_a_real_socket_from_the_kernels_table(void)
{
    int probe = open("/dev/null", O_RDONLY);
    close(probe);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s == probe, "socket() gave %d, the lowest free descriptor is %d", s, probe);
    struct stat st;
    CHECK(fstat(s, &st) == 0 && S_ISSOCK(st.st_mode), "fstat does not say socket");
    int v = 0;
    socklen_t l = sizeof v;
    CHECK(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0 && v == AF_INET, "SO_DOMAIN %d", v);
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_STREAM, "SO_TYPE %d", v);
    CHECK(getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l) == 0 && v == IPPROTO_TCP, "SO_PROTOCOL");
    close(s);
    OK();
}

static void echo_through_host(void)
{
    int c = connect_echo();
    CHECK(c >= 0, "connect to the host's echo server %s:%d", echo_ip, echo_port);
    char buf[64];
    CHECK(write(c, "hello\n", 6) == 6, "write");
    ssize_t n = 0;
    while (n < 6) {
        ssize_t r = read(c, buf + n, sizeof buf - (size_t)n);
        CHECK(r > 0, "read %zd", r);
        n += r;
    }
    CHECK(memcmp(buf, "hello\n", 6) == 0, "echo differs");
    close(c);
    OK();
}

static void poll_over_a_pipe_and_a_socket(void)
{
    int c, s, p[2];
    CHECK(pair(&c, &s) == 0 && pipe(p) == 0, "setup");
    struct pollfd f[2] = {{.fd = p[0], .events = POLLIN}, {.fd = s, .events = POLLIN}};
    CHECK(poll(f, 2, 100) == 0, "nothing is ready yet");
    CHECK(write(p[1], "x", 1) == 1, "pipe write");
    CHECK(poll(f, 2, 1000) == 1 && f[0].revents == POLLIN && f[1].revents == 0, "pipe only");
    char b;
    CHECK(read(p[0], &b, 1) == 1, "pipe read");
    CHECK(send(c, "y", 1, 0) == 1, "send");
    CHECK(poll(f, 2, 2000) == 1 && f[0].revents == 0 && f[1].revents == POLLIN, "socket only");
    struct timespec ts = {.tv_sec = 2};
    sigset_t none;
    sigemptyset(&none);
    CHECK(ppoll(f, 2, &ts, &none) == 1 && f[1].revents == POLLIN, "ppoll");
    CHECK(recv(s, &b, 1, 0) == 1 && b == 'y', "recv");
    CHECK(poll(f, 2, 0) == 0, "drained: no spurious readiness");
    close(c), close(s), close(p[0]), close(p[1]);
    OK();
}

static void select_over_a_pipe_and_a_socket(void)
{
    int c, s, p[2];
    CHECK(pair(&c, &s) == 0 && pipe(p) == 0, "setup");
    fd_set r;
    int max = (p[0] > s ? p[0] : s) + 1;
    struct timeval tv = {.tv_usec = 100000};
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_SET(s, &r);
    CHECK(select(max, &r, NULL, NULL, &tv) == 0, "nothing ready");
    CHECK(send(c, "z", 1, 0) == 1, "send");
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    FD_SET(s, &r);
    tv.tv_sec = 2;
    CHECK(select(max, &r, NULL, NULL, &tv) == 1 && FD_ISSET(s, &r) && !FD_ISSET(p[0], &r),
          "socket readable");
    fd_set w;
    FD_ZERO(&w);
    FD_SET(c, &w);
    struct timespec ts = {.tv_sec = 1};
    CHECK(pselect(c + 1, NULL, &w, NULL, &ts, NULL) == 1 && FD_ISSET(c, &w), "pselect writable");
    close(c), close(s), close(p[0]), close(p[1]);
    OK();
}

static void epoll_edge_and_level_over_mixed_descriptors(void)
{
    int c, s, p[2];
    CHECK(pair(&c, &s) == 0 && pipe(p) == 0, "setup");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = s}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) == 0, "add socket");
    e.events = EPOLLIN;
    e.data.fd = p[0];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e) == 0, "add pipe");
    CHECK(epoll_wait(ep, out, 4, 50) == 0, "nothing yet");
    CHECK(send(c, "a", 1, 0) == 1 && write(p[1], "b", 1) == 1, "send+write");
    int n = 0, seen = 0;
    double end = now_s() + 2;
    while (seen != 3 && now_s() < end) {
        n = epoll_wait(ep, out, 4, 200);
        for (int i = 0; i < n; i++)
            seen |= out[i].data.fd == s ? 1 : 2;
    }
    CHECK(seen == 3, "both reported (%d)", seen);
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && out[0].data.fd == p[0], "level pipe again, ET not");
    char b;
    CHECK(read(p[0], &b, 1) == 1, "pipe read");
    CHECK(epoll_wait(ep, out, 4, 100) == 0, "nothing now: the socket's data is not new");
    CHECK(send(c, "c", 1, 0) == 1, "send");
    sigset_t none;
    sigemptyset(&none);
    n = epoll_pwait(ep, out, 4, 2000, &none);
    seen = 0;
    for (int i = 0; i < n; i++)
        seen |= out[i].data.fd == s;
    CHECK(seen, "new data: a new edge for the unread socket");
    close(ep), close(c), close(s), close(p[0]), close(p[1]);
    OK();
}

static void dup_and_dup2_over_a_tapstack_socket(void)
{
    int c, s, p[2];
    CHECK(pair(&c, &s) == 0 && pipe(p) == 0, "setup");
    int d = dup(c);
    CHECK(d >= 0 && d != c, "dup");
    close(c);
    CHECK(send(d, "q", 1, 0) == 1, "the dup still sends after the original is closed");
    char b;
    CHECK(recv(s, &b, 1, 0) == 1 && b == 'q', "received");
    int f = fcntl(d, F_DUPFD_CLOEXEC, 100);
    CHECK(f >= 100 && (fcntl(f, F_GETFD) & FD_CLOEXEC), "F_DUPFD_CLOEXEC");
    close(f);
    /* dup2 a pipe over the socket: the socket closes (its last descriptor), the number is the
     * pipe's now. */
    CHECK(dup2(p[0], d) == d, "dup2");
    struct stat st;
    CHECK(fstat(d, &st) == 0 && S_ISFIFO(st.st_mode), "d is the pipe now");
    CHECK(write(p[1], "w", 1) == 1 && read(d, &b, 1) == 1 && b == 'w', "reads the pipe");
    CHECK(recv(s, &b, 1, 0) == 0, "the peer sees the socket closed (EOF)");
    close(d), close(s), close(p[0]), close(p[1]);
    OK();
}

static void *blocked_recv(void *arg)
{
    int *fd = arg;
    char b;
    ssize_t r = recv(*fd, &b, 1, 0);
    fd[1] = (int)r;
    fd[2] = errno;
    return NULL;
}

static void close_while_another_thread_blocks_in_recv(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    int arg[3] = {s, 99, 0};
    pthread_t t;
    pthread_create(&t, NULL, blocked_recv, arg);
    usleep(200000);
    double t0 = now_s();
    CHECK(close(s) == 0, "close");
    pthread_join(t, NULL);
    CHECK(now_s() - t0 < 2, "the blocked recv took %.1f s to end", now_s() - t0);
    CHECK(arg[1] == -1 && arg[2] == EBADF, "recv gave %d errno %d, want -1 EBADF", arg[1], arg[2]);
    char b;
    CHECK(recv(c, &b, 1, 0) == 0, "the peer sees EOF");
    close(c);
    OK();
}

static void fork_and_exec_a_child_while_sockets_are_open(void)
{
    int c, s, p[2];
    CHECK(pair(&c, &s) == 0 && pipe(p) == 0, "setup");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl("/bin/echo", "echo", "child ran", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[32] = {0};
    CHECK(read(p[0], buf, sizeof buf - 1) > 0 && strstr(buf, "child ran"), "child output");
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status");
    CHECK(send(c, "k", 1, 0) == 1 && recv(s, buf, 1, 0) == 1 && buf[0] == 'k',
          "the parent's sockets still work");
    close(c), close(s), close(p[0]);
    OK();
}

static void forked_child_using_a_socket_gets_ebadf(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    pid_t pid = fork();
    if (pid == 0) {
        ssize_t r = send(c, "x", 1, MSG_NOSIGNAL);
        int e = errno;
        int fresh = socket(AF_INET, SOCK_STREAM, 0);
        close(c); /* closing an inherited one is fine */
        _exit(r == -1 && e == EBADF && fresh == -1 ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child's send did not fail with EBADF (status %d)", st);
    char b;
    CHECK(send(c, "p", 1, 0) == 1 && recv(s, &b, 1, 0) == 1 && b == 'p',
          "the parent's socket still works");
    close(c), close(s);
    OK();
}

static volatile sig_atomic_t got_pipe;
static void on_pipe(int sig)
{
    (void)sig;
    got_pipe++;
}

static void sigpipe_on_a_closed_connection_unless_msg_nosignal(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    struct sigaction sa = {.sa_handler = on_pipe}, old;
    sigaction(SIGPIPE, &sa, &old);
    close(s);
    usleep(100000);
    /* The peer is gone: the first write may go out (and draw the RST), then EPIPE. */
    ssize_t r = 0;
    for (int i = 0; i < 50 && r >= 0; i++) {
        r = send(c, "data", 4, MSG_NOSIGNAL);
        usleep(20000);
    }
    CHECK(r == -1 && (errno == EPIPE || errno == ECONNRESET), "send kept working");
    CHECK(got_pipe == 0, "MSG_NOSIGNAL still raised SIGPIPE");
    r = write(c, "data", 4);
    CHECK(r == -1 && errno == EPIPE, "write after the reset: %zd", r);
    CHECK(got_pipe == 1, "write raised SIGPIPE %d times, want 1", (int)got_pipe);
    sigaction(SIGPIPE, &old, NULL);
    close(c);
    OK();
}

static void nonblocking_connect_reports_through_so_error(void)
{
    int port;
    int l = listener(&port);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = sin_of("127.0.0.1", port);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    CHECK(r == 0 || errno == EINPROGRESS, "connect");
    struct pollfd f = {.fd = c, .events = POLLOUT};
    CHECK(poll(&f, 1, 2000) == 1 && (f.revents & POLLOUT), "writable when connected");
    int err = -1;
    socklen_t l2 = sizeof err;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l2) == 0 && err == 0, "SO_ERROR %d", err);
    close(c);
    close(l); /* now nobody listens on port */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&a, sizeof a);
    CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED), "connect 2");
    f.revents = 0;
    CHECK(poll(&f, 1, 2000) == 1, "poll after refusal");
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l2) == 0 && err == ECONNREFUSED,
          "SO_ERROR %d, want ECONNREFUSED", err);
    close(c);
    /* And a blocking one to a closed port: ECONNREFUSED at once. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == -1 && errno == ECONNREFUSED,
          "blocking connect");
    close(c);
    OK();
}

static void connections_to_own_address_and_127_stay_inside(void)
{
    const char *addrs[] = {"127.0.0.1", "10.0.0.2"};
    for (int i = 0; i < 2; i++) {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = sin_of("0.0.0.0", 0);
        CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0, "listen");
        socklen_t len = sizeof a;
        getsockname(l, (struct sockaddr *)&a, &len);
        struct sockaddr_in to = sin_of(addrs[i], ntohs(a.sin_port));
        int c = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(c, (struct sockaddr *)&to, sizeof to) == 0, "connect to %s", addrs[i]);
        struct sockaddr_in peer;
        len = sizeof peer;
        int s = accept(l, (struct sockaddr *)&peer, &len);
        CHECK(s >= 0, "accept");
        char ip[16];
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        CHECK(strcmp(ip, addrs[i]) == 0, "peer %s, want %s", ip, addrs[i]);
        static char big[1 << 20], in[1 << 20];
        for (size_t k = 0; k < sizeof big; k++)
            big[k] = (char)(k % 251);
        pid_t none = 0;
        (void)none;
        size_t sent = 0, got = 0;
        fcntl(c, F_SETFL, O_NONBLOCK);
        while (got < sizeof big) {
            if (sent < sizeof big) {
                ssize_t r = send(c, big + sent, sizeof big - sent, 0);
                if (r > 0)
                    sent += (size_t)r;
            }
            ssize_t r = recv(s, in + got, sizeof in - got, MSG_DONTWAIT);
            if (r > 0)
                got += (size_t)r;
            else if (r == 0)
                break;
        }
        CHECK(got == sizeof big && memcmp(in, big, sizeof big) == 0, "1 MiB over %s", addrs[i]);
        close(c), close(s), close(l);
    }
    OK();
}

static void socket_options_read_back_as_linux(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    int v = 100000, got = 0;
    socklen_t l = sizeof got;
    CHECK(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0, "SO_SNDBUF");
    CHECK(getsockopt(c, SOL_SOCKET, SO_SNDBUF, &got, &l) == 0 && got == 200000,
          "SO_SNDBUF reads %d, Linux reads back twice the value set", got);
    v = 1;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0, "TCP_NODELAY");
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &l) == 0 && got == 1, "nodelay");
    CHECK(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) == 0, "SO_KEEPALIVE");
    v = 30;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v) == 0, "TCP_KEEPIDLE");
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &got, &l) == 0 && got == 30, "keepidle");
    v = 0x10;
    CHECK(setsockopt(c, IPPROTO_IP, IP_TOS, &v, sizeof v) == 0, "IP_TOS");
    CHECK(getsockopt(c, IPPROTO_IP, IP_TOS, &got, &l) == 0 && got == 0x10, "tos");
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &got, &l) == 0 && got > 500, "mss %d", got);
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_ESTABLISHED &&
              ti.tcpi_snd_mss > 0 && ti.tcpi_snd_cwnd > 0,
          "TCP_INFO state %d mss %u cwnd %u", ti.tcpi_state, ti.tcpi_snd_mss, ti.tcpi_snd_cwnd);
    int port;
    int ls = listener(&port);
    CHECK(getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &got, &l) == 0 && got == 1, "acceptconn");
    char cc[16] = {0};
    socklen_t cl = sizeof cc;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &cl) == 0 && cc[0], "congestion");
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3) == 0, "TCP_CONGESTION bbr");
    cl = sizeof cc;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &cl) == 0 && strcmp(cc, "bbr") == 0,
          "congestion now %s", cc);
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5) == -1 && errno == ENOENT,
          "an unknown congestion control is ENOENT");
    CHECK(setsockopt(c, SOL_SOCKET, 9999, &v, sizeof v) == -1 && errno == ENOPROTOOPT,
          "an unknown option is ENOPROTOOPT");
    close(ls), close(c), close(s);
    OK();
}

/* Issue 13: TCP_MAXSEG set before connect bounds the MSS the connection uses (read back as the
 * MSS in use, timestamps excluded, as Linux), TCP_USER_TIMEOUT reads back as set, and a NULL
 * buffer with a length is EFAULT from write, read, send, recv and writev (not a crash). */
static void maxseg_user_timeout_and_null_buffers_as_linux(void)
{
    int port;
    int l = listener(&port);
    CHECK(l >= 0, "setup");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int v = 1000, got = 0;
    socklen_t gl = sizeof got;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v) == 0, "TCP_MAXSEG set");
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &got, &gl) == 0 && got == 1000,
          "TCP_MAXSEG before connect reads %d", got);
    v = 10;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v) == -1 && errno == EINVAL,
          "TCP_MAXSEG 10 is EINVAL");
    struct sockaddr_in a = sin_of("127.0.0.1", port);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0, "accept");
    gl = sizeof got;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &got, &gl) == 0 && got <= 1000 && got >= 900,
          "TCP_MAXSEG in use %d, not above the 1000 set", got);
    gl = sizeof got;
    CHECK(getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &got, &gl) == 0 && got <= 1000 && got >= 900,
          "the accepting side's MSS %d follows our announcement", got);
    v = 4500;
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof v) == 0, "TCP_USER_TIMEOUT");
    gl = sizeof got;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_USER_TIMEOUT, &got, &gl) == 0 && got == 4500,
          "TCP_USER_TIMEOUT reads %d", got);
    char *volatile none = NULL;
    errno = 0;
    CHECK(write(c, none, 10) == -1 && errno == EFAULT, "write(NULL, 10) is EFAULT");
    errno = 0;
    CHECK(send(c, none, 10, 0) == -1 && errno == EFAULT, "send(NULL, 10) is EFAULT");
    struct iovec iv[2] = {{"ab", 2}, {none, 5}};
    errno = 0;
    CHECK(writev(c, iv, 2) == -1 && errno == EFAULT, "writev with a NULL base is EFAULT");
    CHECK(write(c, "ok", 2) == 2, "write after the EFAULTs");
    errno = 0;
    CHECK(read(s, none, 10) == -1 && errno == EFAULT, "read(NULL, 10) is EFAULT");
    errno = 0;
    CHECK(recv(s, none, 10, 0) == -1 && errno == EFAULT, "recv(NULL, 10) is EFAULT");
    char b[2];
    CHECK(recv(s, b, 2, MSG_WAITALL) == 2 && memcmp(b, "ok", 2) == 0, "the data intact");
    close(c), close(s), close(l);
    OK();
}

static void ioctl_fionbio_and_fionread(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    int one = 1, n = 0;
    CHECK(ioctl(s, FIONBIO, &one) == 0, "FIONBIO");
    CHECK(fcntl(s, F_GETFL) & O_NONBLOCK, "F_GETFL shows O_NONBLOCK");
    char b[16];
    CHECK(recv(s, b, sizeof b, 0) == -1 && errno == EAGAIN, "non-blocking recv: EAGAIN");
    CHECK(send(c, "12345", 5, 0) == 5, "send");
    for (int i = 0; i < 100 && n != 5; i++) {
        ioctl(s, FIONREAD, &n);
        usleep(10000);
    }
    CHECK(n == 5, "FIONREAD %d", n);
    close(c), close(s);
    OK();
}

static void vectors_sendmsg_recvmsg_readv_writev(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    struct iovec out[3] = {{"abc", 3}, {"", 0}, {"defgh", 5}};
    struct msghdr m = {.msg_iov = out, .msg_iovlen = 3};
    CHECK(sendmsg(c, &m, 0) == 8, "sendmsg");
    CHECK(writev(c, out, 3) == 8, "writev");
    char a[4] = {0}, bb[20] = {0};
    struct iovec in[2] = {{a, 3}, {bb, 5}};
    struct msghdr r = {.msg_iov = in, .msg_iovlen = 2};
    ssize_t got = 0;
    for (int i = 0; i < 100 && got < 8; i++)
        got = recvmsg(s, &r, MSG_WAITALL);
    CHECK(got == 8 && memcmp(a, "abc", 3) == 0 && memcmp(bb, "defgh", 5) == 0, "recvmsg %zd", got);
    memset(a, 0, sizeof a), memset(bb, 0, sizeof bb);
    CHECK(readv(s, in, 2) == 8 && memcmp(bb, "defgh", 5) == 0, "readv");
    close(c), close(s);
    OK();
}

/* Read fd[0] to its end; fd[1] = bytes read. */
static void *drain_all(void *arg)
{
    int *fd = arg;
    char buf[65536];
    ssize_t r;
    while ((r = recv(fd[0], buf, sizeof buf, 0)) > 0)
        fd[1] += (int)r;
    return NULL;
}

static void sendfile_and_splice_both_ways(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    char path[] = "/tmp/prog_edge_XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    CHECK(write(f, data, sizeof data) == (ssize_t)sizeof data, "file");
    off_t off = 0;
    static char in[sizeof data];
    size_t sent = 0, got = 0;
    fcntl(c, F_SETFL, O_NONBLOCK);
    while (got < sizeof data) {
        if (sent < sizeof data) {
            ssize_t r = sendfile(c, f, &off, sizeof data - sent);
            if (r > 0)
                sent += (size_t)r;
        }
        ssize_t r = recv(s, in + got, sizeof in - got, MSG_DONTWAIT);
        if (r > 0)
            got += (size_t)r;
    }
    CHECK(off == (off_t)sizeof data && memcmp(in, data, sizeof data) == 0, "sendfile content");
    int p[2];
    CHECK(pipe(p) == 0 && write(p[1], "spliced", 7) == 7, "pipe");
    CHECK(splice(p[0], NULL, c, NULL, 7, 0) == 7, "splice pipe -> socket");
    char b[8] = {0};
    CHECK(recv(s, b, 7, MSG_WAITALL) == 7 && memcmp(b, "spliced", 7) == 0, "spliced data");
    CHECK(send(c, "back", 4, 0) == 4, "send");
    CHECK(splice(s, NULL, p[1], NULL, 4, 0) == 4, "splice socket -> pipe");
    CHECK(read(p[0], b, 4) == 4 && memcmp(b, "back", 4) == 0, "what went through the pipe");
    /* A blocking socket takes the whole file in one sendfile, as Linux's does. */
    fcntl(c, F_SETFL, 0);
    off = 0;
    int done[3] = {s, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, drain_all, done);
    CHECK(sendfile(c, f, &off, sizeof data) == (ssize_t)sizeof data, "blocking sendfile");
    shutdown(c, SHUT_WR);
    pthread_join(t, NULL);
    CHECK(done[1] == (int)sizeof data, "the peer got %d bytes", done[1]);
    close(f), close(p[0]), close(p[1]), close(c), close(s);
    OK();
}

static void udp_over_loopback_truncation_and_connect(void)
{
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = sin_of("127.0.0.1", 0);
    CHECK(bind(a, (struct sockaddr *)&sa, sizeof sa) == 0, "bind");
    socklen_t len = sizeof sa;
    getsockname(a, (struct sockaddr *)&sa, &len);
    CHECK(sendto(b, "datagram", 8, 0, (struct sockaddr *)&sa, sizeof sa) == 8, "sendto");
    char buf[4];
    struct iovec v = {buf, sizeof buf};
    struct sockaddr_in from;
    struct msghdr m = {
        .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &v, .msg_iovlen = 1};
    CHECK(recvmsg(a, &m, 0) == 4 && (m.msg_flags & MSG_TRUNC), "truncated datagram");
    CHECK(from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), "from 127.0.0.1");
    CHECK(connect(b, (struct sockaddr *)&sa, sizeof sa) == 0, "connect");
    CHECK(send(b, "two", 3, 0) == 3, "send connected");
    char big[16];
    CHECK(recv(a, big, sizeof big, 0) == 3, "recv");
    close(a), close(b);
    OK();
}

static void ipv6_socket_works_v4_mapped(void)
{
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    int zero = 0;
    CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0, "V6ONLY 0");
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0, "bind :: listen");
    socklen_t len = sizeof a;
    CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0 && a.sin6_family == AF_INET6,
          "getsockname");
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = a.sin6_port};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr);
    CHECK(connect(c, (struct sockaddr *)&to, sizeof to) == 0, "connect ::ffff:127.0.0.1");
    struct sockaddr_in6 peer;
    len = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &len);
    char ip[64];
    inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof ip);
    CHECK(s >= 0 && strcmp(ip, "::ffff:127.0.0.1") == 0, "peer %s", ip);
    /* An IPv6-only socket binds (as nginx's [::]:80 next to 0.0.0.0:80) and never gets a
     * connection: tapstack has no IPv6. */
    int v6 = socket(AF_INET6, SOCK_STREAM, 0), one = 1;
    setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    CHECK(bind(v6, (struct sockaddr *)&a, sizeof a) == 0 && listen(v6, 4) == 0,
          "v6only bind to the same port");
    int flags = fcntl(v6, F_GETFL);
    fcntl(v6, F_SETFL, flags | O_NONBLOCK);
    CHECK(accept(v6, NULL, NULL) == -1 && errno == EAGAIN, "nothing ever comes");
    close(v6), close(c), close(s), close(l);
    OK();
}

static void receive_timeout_and_eintr(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    struct timeval tv = {.tv_usec = 200000};
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    char b;
    double t0 = now_s();
    CHECK(recv(s, &b, 1, 0) == -1 && errno == EAGAIN, "timed out");
    double dt = now_s() - t0;
    CHECK(dt > 0.15 && dt < 2, "after %.2f s", dt);
    struct sigaction sa = {.sa_handler = on_pipe}, old; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    tv.tv_usec = 0;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct itimerval it = {.it_value = {.tv_usec = 200000}};
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK(recv(s, &b, 1, 0) == -1 && errno == EINTR, "a signal interrupts a blocked recv");
    sigaction(SIGALRM, &old, NULL);
    close(c), close(s);
    OK();
}

static void shutdown_and_rdhup(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    CHECK(shutdown(c, SHUT_WR) == 0, "shutdown");
    struct pollfd f = {.fd = s, .events = POLLIN | POLLRDHUP};
    CHECK(poll(&f, 1, 2000) == 1 && (f.revents & POLLRDHUP), "POLLRDHUP at the peer's FIN");
    char b;
    CHECK(recv(s, &b, 1, 0) == 0, "EOF");
    CHECK(send(s, "r", 1, 0) == 1 && recv(c, &b, 1, 0) == 1, "the other direction still works");
    close(c), close(s);
    OK();
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void waits_block_without_spinning(void)
{
    int c, s;
    CHECK(pair(&c, &s) == 0, "setup");
    double cpu0 = cpu_s();
    struct pollfd f = {.fd = s, .events = POLLIN};
    CHECK(poll(&f, 1, 700) == 0, "poll timed out");
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = s}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
    struct timespec ts = {.tv_nsec = 700 * 1000 * 1000};
    CHECK(epoll_pwait2(ep, &out, 1, &ts, NULL) == 0, "epoll_pwait2 timed out");
    struct timeval tv = {.tv_usec = 700000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    CHECK(recv(s, &b, 1, 0) == -1 && errno == EAGAIN, "a blocking recv timed out");
    double used = cpu_s() - cpu0;
    CHECK(used < 0.2, "2.1 s of waiting took %.2f s of CPU", used);
    CHECK(send(c, "w", 1, 0) == 1 && epoll_pwait2(ep, &out, 1, &ts, NULL) == 1, "pwait2 wakes");
    close(ep), close(c), close(s);
    OK();
}

static void accept4_flags_and_io_uring_refused(void)
{
    int port;
    int l = listener(&port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = sin_of("127.0.0.1", port);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) && (fcntl(s, F_GETFD) & FD_CLOEXEC),
          "accept4 flags");
    close(c), close(s), close(l);
    long r = syscall(SYS_io_uring_setup, 8, NULL);
    CHECK(r == -1 && errno == ENOSYS, "io_uring_setup refused");
    OK();
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: prog_edge ECHO_IP ECHO_PORT\n");
        return 2;
    }
    echo_ip = argv[1];
    echo_port = atoi(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    fd_is_a_real_socket_from_the_kernels_table();
    echo_through_host();
    poll_over_a_pipe_and_a_socket();
    select_over_a_pipe_and_a_socket();
    epoll_edge_and_level_over_mixed_descriptors();
    dup_and_dup2_over_a_tapstack_socket();
    close_while_another_thread_blocks_in_recv();
    fork_and_exec_a_child_while_sockets_are_open();
    forked_child_using_a_socket_gets_ebadf();
    sigpipe_on_a_closed_connection_unless_msg_nosignal();
    nonblocking_connect_reports_through_so_error();
    connections_to_own_address_and_127_stay_inside();
    socket_options_read_back_as_linux();
    maxseg_user_timeout_and_null_buffers_as_linux();
    ioctl_fionbio_and_fionread();
    vectors_sendmsg_recvmsg_readv_writev();
    sendfile_and_splice_both_ways();
    udp_over_loopback_truncation_and_connect();
    ipv6_socket_works_v4_mapped();
    receive_timeout_and_eintr();
    shutdown_and_rdhup();
    accept4_flags_and_io_uring_refused();
    waits_block_without_spinning();
    printf("%d failed\n", failures);
    return failures;
}
