/* The control socket (include/tapstack/control.h) of a runtime on the in-memory pair link, asked
 * over a real Unix socket as tapstack-stat asks it: the socket table, trace, follow and history
 * against connections made through the socket API; and clients that misbehave (garbage, an
 * oversized request, one that never reads, one that leaves mid-request, one that never finishes
 * its line, a hundred at once, more than the cap) while the stack goes on serving. No root. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../apps/common/pattern.h"
#include "harness.h"
#include "json_check.h"
#include "rt_fixture.h"
#include "tapstack/control.h"
#include "tapstack/socket.h"

static struct ts_runtime *rt_a, *rt_b;
static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ts-ctl.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.sock", dir);
    rt_pair_up(&rt_a, &rt_b, NULL, NULL);
    char err[300];
    int r = ts_runtime_control_open(rt_b, path, "pair", err, sizeof err);
    ck_assert_msg(r == 0, "control_open: %s", err);
    ck_assert_str_eq(ts_runtime_control_path(rt_b), path);
}

static void teardown(void)
{
    if (rt_a || rt_b)
        rt_pair_down(&rt_a, &rt_b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- a small client ---- */

/* sun_path for p (the test's paths are short; longer ones fail the test). */
static void sun_of(struct sockaddr_un *a, const char *p)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(p), sizeof a->sun_path);
    memcpy(a->sun_path, p, strlen(p) + 1);
}

static int cdial_path(const char *p)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un a;
    sun_of(&a, p);
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect %s: %s", p,
                  strerror(errno));
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}
static int cdial(void)
{
    return cdial_path(path);
}

static void csend(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

/* One line without its "\n"; false at EOF or error. */
static bool cline(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r <= 0)
            return false;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
    }
    buf[n] = 0;
    return true;
}

/* Read one answer: 0 and the body (malloc'd, NUL-terminated) for "ok", 1 and the text for
 * "error", -1 when the connection ended. */
static int canswer(int fd, char **body)
{
    char line[512];
    *body = NULL;
    if (!cline(fd, line, sizeof line))
        return -1;
    if (!strncmp(line, "error ", 6)) {
        *body = strdup(line + 6);
        return 1;
    }
    ck_assert_msg(!strncmp(line, "ok ", 3), "bad answer line: %s", line);
    size_t len = strtoul(line + 3, NULL, 10);
    char *b = malloc(len + 1);
    size_t got = 0;
    while (got < len) {
        ssize_t r = recv(fd, b + got, len - got, 0);
        ck_assert_msg(r > 0, "body cut after %zu of %zu", got, len);
        got += (size_t)r;
    }
    b[len] = 0;
    *body = b;
    return 0;
}

static int creq(int fd, const char *req, char **body)
{
    csend(fd, req, strlen(req));
    return canswer(fd, body);
}

/* A whole request on a fresh connection; the body (must be "ok"). */
static char *ask(const char *req)
{
    int fd = cdial();
    char *b;
    int r = creq(fd, req, &b);
    ck_assert_msg(r == 0, "%s answered %d: %s", req, r, b ? b : "(nothing)");
    close(fd);
    return b;
}

/* The control socket's counters as the loop publishes them (at its next turn): wait until cond
 * (an expression on st) holds, 2 s at most, then assert it. */
#define STATS_EVENTUALLY(cond)                                                                     \
    do {                                                                                           \
        for (int i_ = 0; i_ < 200; i_++) {                                                         \
            ts_runtime_control_stats(rt_b, &st);                                                   \
            if (cond)                                                                              \
                break;                                                                             \
            usleep(10000);                                                                         \
        }                                                                                          \
        ck_assert_msg(cond, "%s", #cond);                                                          \
    } while (0)

static bool at_eof(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* ---- TCP through the stacks: A (10.0.0.1) connects to B (10.0.0.2) ---- */

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    s.sin_addr.s_addr = htonl(ip);
    return s;
}

static int listen_b(uint16_t port)
{
    int fd = ts_socket_on(rt_b, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = sin_of(0, port);
    ck_assert_int_eq(ts_bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(ts_listen(fd, 16), 0);
    return fd;
}

static void connect_a(uint16_t port, int lst, int *cli, int *srv)
{
    *cli = ts_socket_on(rt_a, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*cli, 0);
    struct sockaddr_in a = sin_of(TH_IP_B, port);
    ck_assert_int_eq(ts_connect(*cli, (struct sockaddr *)&a, sizeof a), 0);
    *srv = ts_accept(lst, NULL, NULL);
    ck_assert_int_ge(*srv, 0);
}

/* Ask until the body contains want (the stack acts on its own time), 10 s at most. */
static char *ask_until(const char *req, const char *want)
{
    for (int i = 0; i < 200; i++) {
        char *b = ask(req);
        if (strstr(b, want))
            return b;
        free(b);
        usleep(50000);
    }
    ck_abort_msg("'%s' never showed '%s'", req, want);
    return NULL;
}

/* ================================================================ what it shows */

START_TEST(test_sockets_shows_listener_and_connection_in_netstat_layout)
{
    int l = listen_b(80), c, s;
    connect_a(80, l, &c, &s);
    char *t = ask("sockets all\n");
    /* bound to 0.0.0.0, so shown as netstat shows a wildcard listener */
    ck_assert_msg(strstr(t, "tcp        0     16 0.0.0.0:80              0.0.0.0:*               "
                            "LISTEN\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "10.0.0.2:80             10.0.0.1:"), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "ESTABLISHED\n"));
    free(t);
    t = ask("sockets\n"); /* netstat's default: no listeners */
    ck_assert_ptr_null(strstr(t, "LISTEN"));
    ck_assert_ptr_nonnull(strstr(t, "ESTABLISHED"));
    free(t);
    t = ask("sockets listen info\n");
    ck_assert_ptr_nonnull(strstr(t, "accept_queue:0/16"));
    ck_assert_ptr_null(strstr(t, "ESTABLISHED"));
    free(t);
    t = ask("sockets all json\n");
    ck_assert_msg(json_valid(t, strlen(t)), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "\"state\":\"ESTABLISHED\""));
    ck_assert_ptr_nonnull(strstr(t, "\"state\":\"LISTEN\""));
    free(t);
    t = ask("counters json\n");
    ck_assert(json_valid(t, strlen(t)));
    ck_assert_ptr_nonnull(strstr(t, "\"tcp_passive_open\":1"));
    free(t);
    t = ask("hello\n");
    ck_assert_ptr_nonnull(strstr(t, "tapstack control 1\n"));
    ck_assert_ptr_nonnull(strstr(t, "name pair\n"));
    ck_assert_ptr_nonnull(strstr(t, "ip 10.0.0.2/24\n"));
    free(t);
    ts_close(c);
    ts_close(s);
    ts_close(l);
}
END_TEST

/* Lines of t that are table rows (start with "tcp "). */
static int rows_in(const char *t)
{
    int n = 0;
    for (const char *p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += !strncmp(p, "tcp ", 4);
    return n;
}

START_TEST(test_sockets_pages_the_table_and_summary_counts_it)
{
    enum { N = 12 };
    int l = listen_b(80), c[N], s[N];
    for (int i = 0; i < N; i++)
        connect_a(80, l, &c[i], &s[i]);
    /* A page of 5 connections (no listener), then where the next one starts. */
    char *t = ask("sockets max=5\n");
    ck_assert_int_eq(rows_in(t), 5);
    ck_assert_msg(strstr(t, "# more: offset=5 of 12 TCP rows\n"), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "Active Internet connections"));
    free(t);
    /* A later page has no header; the last has no "more" line. */
    t = ask("sockets offset=10 max=5\n");
    ck_assert_int_eq(rows_in(t), 2);
    ck_assert_ptr_null(strstr(t, "Active Internet connections"));
    ck_assert_ptr_null(strstr(t, "# more"));
    free(t);
    /* Listeners too: 13 rows; JSON says where the next page starts. */
    t = ask("sockets all max=10 json\n");
    ck_assert_msg(json_valid(t, strlen(t)), "%s", t);
    ck_assert_msg(strstr(t, "\"offset\":0,\"total_tcp\":13,\"next_offset\":10"), "%s", t);
    free(t);
    t = ask("sockets listen\n");
    ck_assert_int_eq(rows_in(t), 1);
    free(t);
    /* Without max=: up to 1000 rows, so all 12 here. */
    t = ask("sockets\n");
    ck_assert_int_eq(rows_in(t), N);
    free(t);
    t = ask("summary json\n");
    ck_assert_msg(json_valid(t, strlen(t)), "%s", t);
    ck_assert_msg(strstr(t, "\"total\":13,"), "%s", t);
    ck_assert_msg(strstr(t, "\"ESTABLISHED\":12,"), "%s", t);
    ck_assert_msg(strstr(t, "\"LISTEN\":1,"), "%s", t);
    free(t);
    t = ask("summary\n");
    ck_assert_msg(strstr(t, "tcp entries 13\n  ESTABLISHED  12\n  LISTEN       1\n"), "%s", t);
    free(t);
    for (int i = 0; i < N; i++) {
        ts_close(c[i]);
        ts_close(s[i]);
    }
    ts_close(l);
}
END_TEST

START_TEST(test_trace_and_history_show_the_path_with_causes)
{
    int l = listen_b(81), c, s;
    connect_a(81, l, &c, &s);
    ts_close(c); /* A closes first: B goes CLOSE_WAIT, then LAST_ACK when it closes too */
    char *t = ask_until("sockets\n", "CLOSE_WAIT");
    free(t);
    ts_close(s);
    t = ask_until("history\n", "LAST_ACK -> CLOSE (rcvd ACK of FIN)");
    ck_assert_ptr_nonnull(strstr(t, "LISTEN -> SYN_RECV (rcvd SYN) after "));
    ck_assert_ptr_nonnull(strstr(t, "ESTABLISHED -> CLOSE_WAIT (rcvd FIN)"));
    ck_assert_ptr_nonnull(strstr(t, "CLOSE_WAIT -> LAST_ACK (app close)"));
    free(t);
    t = ask("trace\n");
    ck_assert_ptr_nonnull(strstr(t, "CLOSE -> LISTEN (app listen)"));
    ck_assert_ptr_nonnull(strstr(t, "> 10.0.0.1:"));
    free(t);
    t = ask("history json\n");
    ck_assert_msg(json_valid(t, strlen(t)), "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "\"from\":\"LAST_ACK\",\"to\":\"CLOSE\""));
    free(t);
    /* since pages: everything after the last number seen is nothing new. */
    t = ask("trace json\n");
    char *nx = strstr(t, "\"next\":");
    ck_assert_ptr_nonnull(nx);
    char req[64];
    snprintf(req, sizeof req, "trace json since=%lu\n", strtoul(nx + 7, NULL, 10));
    free(t);
    t = ask(req);
    ck_assert_ptr_nonnull(strstr(t, "\"events\":[]"));
    free(t);
    ts_close(l);
}
END_TEST

START_TEST(test_follow_streams_changes_as_they_happen)
{
    int l = listen_b(82);
    int f = cdial(), fj = cdial();
    char line[512];
    csend(f, "follow explain\n", 15);
    ck_assert(cline(f, line, sizeof line));
    ck_assert_str_eq(line, "ok stream");
    csend(fj, "follow since=0 json\n", 20); /* replays what is kept, then goes on */
    ck_assert(cline(fj, line, sizeof line));
    ck_assert_str_eq(line, "ok stream");
    ck_assert(cline(fj, line, sizeof line));
    ck_assert_msg(json_valid(line, strlen(line)), "%s", line);
    ck_assert_ptr_nonnull(strstr(line, "\"seq\":1,"));
    ck_assert_ptr_nonnull(strstr(line, "\"to\":\"LISTEN\""));

    int c, s;
    connect_a(82, l, &c, &s);
    bool est = false, explained = false;
    while (!(est && explained) && cline(f, line, sizeof line)) {
        est |= strstr(line, "SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) after ") != NULL;
        explained |= strstr(line, "    ESTABLISHED: Both sides") == line;
    }
    ck_assert(est && explained);
    ck_assert(cline(fj, line, sizeof line));
    ck_assert_msg(strstr(line, "\"from\":\"LISTEN\",\"to\":\"SYN_RECV\""), "%s", line);
    ck_assert(json_valid(line, strlen(line)));
    /* A change made by an application thread wakes the loop for the followers at once. */
    ts_close(s);
    bool fin = false;
    while (!fin && cline(f, line, sizeof line))
        fin = strstr(line, "ESTABLISHED -> FIN_WAIT1 (app close)") != NULL;
    ck_assert(fin);
    close(f);
    close(fj);
    ts_close(c);
    ts_close(l);
}
END_TEST

/* ================================================================ misbehaving clients */

START_TEST(test_garbage_gets_one_error_line_and_the_server_stays)
{
    int fd = cdial();
    char *b;
    ck_assert_int_eq(creq(fd, "frobnicate\n", &b), 1);
    ck_assert_str_eq(b, "unknown command 'frobnicate': try help");
    free(b);
    ck_assert_int_eq(creq(fd, "sockets sideways\n", &b), 1);
    ck_assert_ptr_nonnull(strstr(b, "'sideways' is not an option of sockets"));
    free(b);
    ck_assert_int_eq(creq(fd, "trace since=soon\n", &b), 1);
    ck_assert_ptr_nonnull(strstr(b, "must be a number"));
    free(b);
    ck_assert_int_eq(creq(fd, "history since\n", &b), 1);
    free(b);
    ck_assert_int_eq(creq(fd, "\r\n", &b), 1);
    free(b);
    /* Still usable after text errors. */
    ck_assert_int_eq(creq(fd, "help\r\n", &b), 0);
    ck_assert_ptr_nonnull(strstr(b, "follow"));
    free(b);
    /* Binary bytes: one error line, then the connection is closed. */
    ck_assert_int_eq(creq(fd, "\x16\x03\x01\x02\x01\xff\n", &b), 1);
    ck_assert_ptr_nonnull(strstr(b, "not a line of text"));
    free(b);
    ck_assert(at_eof(fd));
    close(fd);

    /* Random bytes of every value from several clients: each gets one error line, then the
     * end of the connection. */
    uint64_t x = 99;
    for (int k = 0; k < 20; k++) {
        int g = cdial();
        char junk[700];
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (char)(x >> 56);
        }
        junk[sizeof junk - 1] = '\n';
        send(g, junk, sizeof junk, MSG_NOSIGNAL);
        char line[512];
        ck_assert(cline(g, line, sizeof line));
        ck_assert_msg(!strncmp(line, "error ", 6), "%s", line);
        ck_assert(at_eof(g));
        close(g);
    }
    b = ask("hello\n"); /* ...and it is still there */
    free(b);
    struct ts_control_stats st;
    STATS_EVENTUALLY(st.bad_requests >= 6 + 20);
}
END_TEST

START_TEST(test_oversized_request_is_refused_and_closed)
{
    int fd = cdial();
    char big[3000];
    memset(big, 'a', sizeof big);
    send(fd, big, sizeof big, MSG_NOSIGNAL); /* no newline: longer than a request may be */
    char line[512];
    ck_assert(cline(fd, line, sizeof line));
    ck_assert_str_eq(line, "error request longer than 1024 bytes");
    ck_assert(at_eof(fd));
    close(fd);
    /* 1023 bytes and the newline is the longest accepted: an unknown command, not too long. */
    fd = cdial();
    memset(big, 'b', 1023);
    big[1023] = '\n';
    csend(fd, big, 1024);
    ck_assert(cline(fd, line, sizeof line));
    ck_assert_msg(!strncmp(line, "error unknown command", 21), "%s", line);
    close(fd);
    char *b = ask("hello\n");
    free(b);
}
END_TEST

START_TEST(test_pipelined_requests_and_half_close_are_answered_in_order)
{
    int fd = cdial();
    const char *two = "hello\nsockets all\n";
    csend(fd, two, strlen(two));
    shutdown(fd, SHUT_WR); /* as "echo ... | socat - UNIX-CONNECT:..." does */
    char *b;
    ck_assert_int_eq(canswer(fd, &b), 0);
    ck_assert_ptr_nonnull(strstr(b, "tapstack control 1"));
    free(b);
    ck_assert_int_eq(canswer(fd, &b), 0);
    ck_assert_ptr_nonnull(strstr(b, "Proto Recv-Q Send-Q"));
    free(b);
    ck_assert(at_eof(fd));
    close(fd);
}
END_TEST

START_TEST(test_clients_leaving_mid_request_do_not_disturb)
{
    for (int i = 0; i < 50; i++) {
        int fd = cdial();
        const char *part = i % 2 ? "sock" : "sockets all info json"; /* no newline */
        send(fd, part, strlen(part), MSG_NOSIGNAL);
        if (i % 3 == 0)
            shutdown(fd, SHUT_WR);
        close(fd);
    }
    /* A request whose answer is never collected: the client leaves right after sending it. */
    for (int i = 0; i < 20; i++) {
        int fd = cdial();
        send(fd, "trace\n", 6, MSG_NOSIGNAL);
        close(fd);
    }
    char *b = ask("hello\n");
    free(b);
    struct ts_control_stats st; /* the server notices each departure */
    STATS_EVENTUALLY(st.clients == 0 && st.accepted == 71);
}
END_TEST

/* A bulk transfer A -> B through the stacks, checked byte by byte on arrival. */
struct xfer {
    int cli, srv;
    size_t len, got;
    bool ok;
};

static void *xfer_recv(void *arg)
{
    struct xfer *x = arg;
    static uint8_t buf[65536];
    x->ok = true;
    while (x->got < x->len) {
        ssize_t r = ts_recv(x->srv, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] != pattern_byte(x->got + (size_t)i))
                x->ok = false;
        x->got += (size_t)r;
    }
    return NULL;
}

static void *xfer_send(void *arg)
{
    struct xfer *x = arg;
    static uint8_t buf[65536];
    for (size_t off = 0; off < x->len;) {
        size_t n = x->len - off < sizeof buf ? x->len - off : sizeof buf;
        pattern_fill(buf, n, off);
        ssize_t w = ts_send(x->cli, buf, n, 0);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    return NULL;
}

START_TEST(test_hundred_clients_at_once_while_the_stack_transfers)
{
    int l = listen_b(83);
    struct xfer x = {.len = 32u << 20};
    connect_a(83, l, &x.cli, &x.srv);
    pthread_t ts, tr;
    pthread_create(&tr, NULL, xfer_recv, &x);
    pthread_create(&ts, NULL, xfer_send, &x);

    enum { N = 100 };
    int fd[N];
    for (int i = 0; i < N; i++) /* all connected before any asks */
        fd[i] = cdial();
    const char *reqs[] = {"sockets all info\n", "counters json\n", "trace\n", "history json\n"};
    for (int i = 0; i < N; i++)
        csend(fd[i], reqs[i % 4], strlen(reqs[i % 4]));
    int ok = 0;
    for (int i = 0; i < N; i++) {
        char *b;
        ck_assert_int_eq(canswer(fd[i], &b), 0);
        ok++;
        if (i % 4 == 0)
            ck_assert_ptr_nonnull(strstr(b, "ESTABLISHED"));
        free(b);
        close(fd[i]);
    }
    ck_assert_int_eq(ok, N);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    ck_assert_uint_eq(x.got, x.len);
    ck_assert(x.ok);
    ts_close(x.cli);
    ts_close(x.srv);
    ts_close(l);
}
END_TEST

START_TEST(test_clients_over_the_cap_are_told_and_counted)
{
    enum { N = TS_CONTROL_MAX_CLIENTS + 22 };
    int fd[N];
    for (int i = 0; i < N; i++)
        fd[i] = cdial();
    /* The ones over the cap get one line and are closed; the others are served. */
    int served = 0, told = 0;
    for (int i = 0; i < N; i++) {
        char *b;
        send(fd[i], "hello\n", 6, MSG_NOSIGNAL); /* a refused one may be closed already */
        int r = canswer(fd[i], &b);
        if (r == 0)
            served++;
        else if (r == 1 && strstr(b, "too many control clients"))
            told++;
        free(b);
    }
    ck_assert_int_eq(served, TS_CONTROL_MAX_CLIENTS);
    ck_assert_int_eq(told, 22);
    struct ts_control_stats st;
    STATS_EVENTUALLY(st.rejected_full == 22);
    for (int i = 0; i < N; i++)
        close(fd[i]);
    char *b = ask("hello\n"); /* room again */
    free(b);
}
END_TEST

START_TEST(test_client_that_never_reads_is_dropped_and_slow_line_times_out)
{
    /* The reader: requests in one go, never a byte read back. The server writes until the
     * kernel buffer is full, stops reading its requests, and drops it when nothing moved for
     * 10 s. Meanwhile the stack and other clients are served. */
    int slow = cdial();
    int fl = fcntl(slow, F_GETFL);
    fcntl(slow, F_SETFL, fl | O_NONBLOCK);
    static char reqs[5000];
    for (size_t i = 0; i < sizeof reqs; i += 5)
        memcpy(reqs + i, "help\n", 5);
    size_t sent = 0;
    for (int i = 0; i < 100; i++) {
        ssize_t w = send(slow, reqs, sizeof reqs, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    /* Each answer is ~700 bytes: far more than any socket buffer holds. */
    ck_assert_uint_gt(sent, 10 * 1000);
    int partial = cdial();
    csend(partial, "hel", 3); /* and never the rest of the line */

    int l = listen_b(84), c, s;
    ts_time_t t0 = ts_runtime_now();
    for (int i = 0; i < 8; i++) { /* the stack keeps working meanwhile */
        connect_a(84, l, &c, &s);
        ck_assert_int_eq(ts_send(c, "ping", 4, 0), 4);
        char buf[4];
        ck_assert_int_eq(ts_recv(s, buf, 4, MSG_WAITALL), 4);
        ts_close(c);
        ts_close(s);
        char *b = ask("sockets all\n");
        free(b);
        usleep(500000);
    }
    char line[200];
    ck_assert(cline(partial, line, sizeof line));
    ck_assert_str_eq(line, "error the request line did not end within 5 s");
    ck_assert(at_eof(partial));
    ck_assert_int_ge(ts_runtime_now() - t0, 4 * TS_SEC);
    close(partial);

    struct ts_control_stats st;
    for (int i = 0; i < 200; i++) {
        ts_runtime_control_stats(rt_b, &st);
        if (st.dropped_slow)
            break;
        usleep(100000);
    }
    ck_assert_uint_eq(st.dropped_slow, 1);
    ck_assert_uint_ge(st.timeouts, 1);
    /* Its side: whatever was buffered, then the end. */
    fcntl(slow, F_SETFL, fl);
    char buf[65536];
    ssize_t r;
    while ((r = recv(slow, buf, sizeof buf, 0)) > 0)
        ;
    ck_assert(r == 0 || errno == ECONNRESET);
    close(slow);
    ts_close(l);
}
END_TEST

/* ================================================================ the socket's file */

START_TEST(test_live_socket_is_not_taken_and_stale_one_is_replaced)
{
    char err[300];
    ck_assert_int_eq(ts_runtime_control_open(rt_a, path, "pair", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "served by another running tapstack") && strstr(err, "--control"),
                  "%s", err);
    char *b = ask("hello\n"); /* B's is untouched */
    free(b);

    char stale[160];
    snprintf(stale, sizeof stale, "%s/stale.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    sun_of(&a, stale);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd); /* the file stays, nobody listens: as after a crash */
    ck_assert_msg(ts_runtime_control_open(rt_a, stale, "a", err, sizeof err) == 0, "%s", err);
    fd = cdial_path(stale);
    char *t;
    ck_assert_int_eq(creq(fd, "hello\n", &t), 0);
    ck_assert_ptr_nonnull(strstr(t, "name a\n"));
    free(t);
    close(fd);
    struct stat st;
    ck_assert_int_eq(stat(stale, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);

    char notsock[160];
    snprintf(notsock, sizeof notsock, "%s/file", dir);
    FILE *f = fopen(notsock, "w");
    fclose(f);
    ck_assert_int_eq(ts_runtime_control_open(rt_b, notsock, "x", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not a socket"));

    /* Stopping removes the files it made. */
    rt_pair_down(&rt_a, &rt_b);
    ck_assert_int_ne(access(stale, F_OK), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(access(notsock, F_OK), 0);
}
END_TEST

START_TEST(test_default_path_is_in_a_private_directory)
{
    char run[128], want[200], got[TS_CONTROL_PATH_MAX], err[300];
    snprintf(run, sizeof run, "%s/run", dir);
    setenv("TAPSTACK_RUN_DIR", run, 1);
    snprintf(want, sizeof want, "%s/tap9.sock", run);
    ck_assert_int_eq(ts_control_default_path("tap9", got, sizeof got), 0);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(ts_control_default_path("a/b", got, sizeof got), -1);
    char dirs[4][TS_CONTROL_PATH_MAX];
    ck_assert_uint_eq(ts_control_search_dirs(dirs, 4), 1);
    ck_assert_str_eq(dirs[0], run);

    ck_assert_msg(ts_runtime_control_open(rt_a, NULL, "tap9", err, sizeof err) == 0, "%s", err);
    struct stat st;
    ck_assert_int_eq(stat(run, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(want, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    int fd = cdial_path(want);
    close(fd);

    /* A directory others may enter is not used. */
    char open_dir[128];
    snprintf(open_dir, sizeof open_dir, "%s/open", dir);
    ck_assert_int_eq(mkdir(open_dir, 0755), 0);
    chmod(open_dir, 0755);
    setenv("TAPSTACK_RUN_DIR", open_dir, 1);
    rt_pair_down(&rt_a, &rt_b);
    rt_pair_up(&rt_a, &rt_b, NULL, NULL);
    ck_assert_int_eq(ts_runtime_control_open(rt_a, NULL, "tap9", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a private directory"), "%s", err);
    unsetenv("TAPSTACK_RUN_DIR");
}
END_TEST

START_TEST(test_another_user_is_refused)
{
    /* Root only (the suite adds it then): a client as uid 65534 on a socket whose file and
     * directory it may reach is still refused, by SO_PEERCRED. */
    chmod(dir, 0755);
    chmod(path, 0666);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
            _exit(3);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a;
        sun_of(&a, path);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            _exit(4);
        send(fd, "sockets all\n", 12, MSG_NOSIGNAL);
        char line[200];
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (!cline(fd, line, sizeof line))
            _exit(5);
        _exit(strncmp(line, "error permission denied", 23) == 0 && at_eof(fd) ? 0 : 6);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    struct ts_control_stats st;
    STATS_EVENTUALLY(st.refused == 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("control");
    TCase *t = tcase_create("control");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_sockets_shows_listener_and_connection_in_netstat_layout);
    tcase_add_test(t, test_sockets_pages_the_table_and_summary_counts_it);
    tcase_add_test(t, test_trace_and_history_show_the_path_with_causes);
    tcase_add_test(t, test_follow_streams_changes_as_they_happen);
    tcase_add_test(t, test_garbage_gets_one_error_line_and_the_server_stays);
    tcase_add_test(t, test_oversized_request_is_refused_and_closed);
    tcase_add_test(t, test_pipelined_requests_and_half_close_are_answered_in_order);
    tcase_add_test(t, test_clients_leaving_mid_request_do_not_disturb);
    tcase_add_test(t, test_hundred_clients_at_once_while_the_stack_transfers);
    tcase_add_test(t, test_clients_over_the_cap_are_told_and_counted);
    tcase_add_test(t, test_client_that_never_reads_is_dropped_and_slow_line_times_out);
    tcase_add_test(t, test_live_socket_is_not_taken_and_stale_one_is_replaced);
    tcase_add_test(t, test_default_path_is_in_a_private_directory);
    if (geteuid() == 0)
        tcase_add_test(t, test_another_user_is_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
