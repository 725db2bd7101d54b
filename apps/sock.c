/* tapstack-sock: one TCP conversation on tapstack, driven by commands on stdin.
 *
 * Each line of stdin is a command, and each command prints exactly one line on stdout when it is
 * done, so a script that feeds a FIFO can wait for it. It makes tapstack do just what a lesson
 * needs, in the order the lesson needs it: listen, take a connection and hold it in CLOSE_WAIT,
 * close first, connect out, reset. `make demo` drives it; by hand (with --trace, every state
 * change is printed with its cause):
 *
 *     $ build/bin/tapstack-sock --trace --msl 1
 *     listen 80                     CLOSE -> LISTEN (app listen)
 *     accept                        (the host runs: curl http://10.0.0.2/)
 *     recv                          the request
 *     send HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n
 *     recv                          end of stream: curl closed first, we are in CLOSE_WAIT
 *     close                         CLOSE_WAIT -> LAST_ACK (app close) -> CLOSE (rcvd ACK of FIN)
 *
 * There is one listening socket and one current connection at a time (a new accept or connect
 * closes the previous connection first). Blocking commands wait at most --timeout seconds.
 *
 * With --viz-port N it also serves the live TCP page (apps/common/tcpviz.h) about its own stack
 * at http://ADDR:N/tcp, from a second thread with its own event loop (apps/common/httpserve.h,
 * as tapstack-httpd serves it), recording segment ladders from start-up: `make demo WATCH=1`
 * lets a browser watch each step of the tour. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/evloop.h"
#include "common/httpserve.h"
#include "common/netio.h"
#include "common/opts.h"
#include "common/tcpviz.h"
#include "tapstack/tcp.h"

#define LINE_MAX_LEN 4096

static const char help_commands[] =
    "commands (one per line on stdin; each prints one line on stdout when done):\n"
    "  listen PORT        listen on the stack's address (CLOSE -> LISTEN)\n"
    "  accept             wait for a connection on it; it becomes the current one\n"
    "  connect ADDR PORT [FROM]\n"
    "                     open a connection to ADDR:PORT (CLOSE -> SYN_SENT -> ...), from local\n"
    "                     port FROM if given (two stacks connecting to each other's ports at\n"
    "                     once: a simultaneous open)\n"
    "  send TEXT          send TEXT; \\r \\n \\t \\\\ are understood\n"
    "  recv               wait for data and print it, or the end of the stream (the peer's FIN)\n"
    "  shutdown           send our FIN but keep receiving (shutdown(SHUT_WR))\n"
    "  close              close the current connection (FIN; RST if data is left unread)\n"
    "  abort              reset it (SO_LINGER 0: RST)\n"
    "  unlisten           close the listening socket\n"
    "  sleep SECONDS      wait\n"
    "  quit               close everything and exit (as does the end of stdin)\n";

static struct {
    unsigned timeout_s;
    uint32_t ip;
    volatile sig_atomic_t *stop;
    int lfd, cfd;
} S = {.timeout_s = 30, .lfd = -1, .cfd = -1};

static int64_t deadline(void)
{
    return nio_now_ms() + (int64_t)S.timeout_s * 1000;
}

/* The result line of a command: on stdout, flushed at once (a script is waiting for it). */
static void result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void result(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static const char *why(int err)
{
    return err == ECANCELED ? "stopped" : strerror(err);
}

static const char *addr_str(const struct sockaddr_in *sa, char buf[24])
{
    char ip[16];
    snprintf(buf, 24, "%s:%u", ts_ip_format(ntohl(sa->sin_addr.s_addr), ip), ntohs(sa->sin_port));
    return buf;
}

static void close_conn(void)
{
    if (S.cfd >= 0)
        ts_close(S.cfd);
    S.cfd = -1;
}

static void cmd_listen(const char *arg)
{
    unsigned port;
    if (!ts_app_parse_uint(arg, 1, 65535, &port)) {
        result("listen: error: needs a port 1..65535, like: listen 80");
        return;
    }
    if (S.lfd >= 0)
        ts_close(S.lfd);
    S.lfd = nio_serve_socket("tapstack-sock", SOCK_STREAM, S.ip, port, 16);
    if (S.lfd < 0 || nio_nonblock(S.lfd) < 0) {
        result("listen: error: cannot listen on port %u (see the message above)", port);
        S.lfd = -1;
        return;
    }
    char ip[16];
    result("listen: listening on %s:%u", ts_ip_format(S.ip, ip), port);
}

static void cmd_accept(void)
{
    if (S.lfd < 0) {
        result("accept: error: nothing is listening: listen PORT first");
        return;
    }
    int64_t until = deadline();
    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd = ts_accept(S.lfd, (struct sockaddr *)&peer, &plen);
        if (fd >= 0) {
            close_conn();
            S.cfd = fd;
            nio_nonblock(fd);
            char a[24];
            result("accept: connection from %s", addr_str(&peer, a));
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            result("accept: error: %s", why(errno));
            return;
        }
        int r = nio_wait(S.lfd, POLLIN, until, S.stop);
        if (r <= 0) {
            result("accept: error: %s", r == 0 ? "no connection came (--timeout)" : why(errno));
            return;
        }
    }
}

static void cmd_connect(const char *arg)
{
    char host[32], extra[2];
    unsigned port, from = 0;
    uint32_t ip;
    int n = sscanf(arg, "%31s %u %u %1s", host, &port, &from, extra);
    if ((n != 2 && n != 3) || ts_ip_parse(host, &ip) < 0 || port == 0 || port > 65535 ||
        (n == 3 && (from == 0 || from > 65535))) {
        result("connect: error: needs an address and a port, and maybe a local port, like: "
               "connect 10.0.0.1 7000, or connect 10.0.0.3 6000 5000");
        return;
    }
    close_conn();
    int fd = ts_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || nio_nonblock(fd) < 0) {
        result("connect: error: no socket: %s", why(errno));
        if (fd >= 0)
            ts_close(fd);
        return;
    }
    if (from) {
        struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons((uint16_t)from)};
        if (ts_bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
            result("connect: error: cannot use local port %u: %s", from, why(errno));
            ts_close(fd);
            return;
        }
    }
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(ip)};
    int err = 0;
    if (ts_connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            int r = nio_wait(fd, POLLOUT, deadline(), S.stop);
            socklen_t len = sizeof err;
            if (r <= 0)
                err = r == 0 ? ETIMEDOUT : errno;
            else if (ts_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        }
    }
    char a[24], b[24];
    if (err) {
        ts_close(fd);
        result("connect %s: error: %s", addr_str(&sa, a), why(err));
        return;
    }
    struct sockaddr_in me;
    socklen_t mlen = sizeof me;
    ts_getsockname(fd, (struct sockaddr *)&me, &mlen);
    S.cfd = fd;
    result("connect %s: connected from %s", addr_str(&sa, a), addr_str(&me, b));
}

/* C-style escapes in place: \r \n \t \\ (anything else stays as written). */
static size_t unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) {
            *o++ = *p;
            continue;
        }
        p++;
        *o++ = *p == 'r' ? '\r' : *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
    }
    *o = 0;
    return (size_t)(o - s);
}

/* Received bytes as one printable line: escapes for control bytes, cut after 60 characters. */
static void printable(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (o >= 60) {
            o += (size_t)snprintf(out + o, cap - o, "...");
            break;
        }
        if (c == '\r' || c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "%s", c == '\r' ? "\\r" : "\\n");
        else if (c < 32 || c > 126)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o < cap ? o : cap - 1] = 0;
}

static bool need_conn(const char *cmd)
{
    if (S.cfd >= 0)
        return true;
    result("%s: error: no connection: accept or connect first", cmd);
    return false;
}

static void cmd_send(char *arg)
{
    if (!need_conn("send"))
        return;
    size_t n = unescape(arg);
    if (nio_send_all(S.cfd, arg, n, (int)S.timeout_s * 1000, S.stop) < 0)
        result("send: error: %s", why(errno));
    else
        result("send: %zu bytes", n);
}

static void cmd_recv(void)
{
    if (!need_conn("recv"))
        return;
    char buf[4096], shown[128];
    ssize_t n = nio_recv(S.cfd, buf, sizeof buf, (int)S.timeout_s * 1000, S.stop);
    if (n > 0) {
        printable(buf, (size_t)n, shown, sizeof shown);
        result("recv: %zd bytes: %s", n, shown);
    } else if (n == 0) {
        result("recv: end of stream (the peer sent its FIN)");
    } else {
        result("recv: error: %s", errno == ETIMEDOUT ? "nothing came (--timeout)" : why(errno));
    }
}

static void cmd_shutdown(void)
{
    if (!need_conn("shutdown"))
        return;
    if (ts_shutdown(S.cfd, SHUT_WR) < 0)
        result("shutdown: error: %s", why(errno));
    else
        result("shutdown: our FIN is queued; still receiving");
}

static void cmd_close(void)
{
    if (!need_conn("close"))
        return;
    close_conn();
    result("close: closed");
}

static void cmd_unlisten(void)
{
    if (S.lfd >= 0)
        ts_close(S.lfd);
    S.lfd = -1;
    result("unlisten: done");
}

static void cmd_abort(void)
{
    if (!need_conn("abort"))
        return;
    /* SO_LINGER with a zero timeout: close() resets instead of sending a FIN. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    ts_setsockopt(S.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close_conn();
    result("abort: reset sent");
}

static void cmd_sleep(const char *arg)
{
    double sec;
    if (!ts_app_parse_double(arg, 0, 3600, &sec)) {
        result("sleep: error: needs a number of seconds, like: sleep 1.5");
        return;
    }
    /* Sleep on the stop fd, so SIGTERM ends the wait at once. */
    struct pollfd p = {.fd = ts_app_stop_fd(), .events = POLLIN};
    int64_t until = nio_now_ms() + (int64_t)(sec * 1000);
    while (!*S.stop && nio_now_ms() < until)
        poll(&p, 1, (int)(until - nio_now_ms()));
    result("sleep: done");
}

/* Run one command line; false for quit. */
static bool run_command(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    char *cmd = line + strspn(line, " \t");
    if (!*cmd || *cmd == '#')
        return true;
    char *arg = cmd + strcspn(cmd, " \t");
    if (*arg)
        *arg++ = 0;
    arg += strspn(arg, " \t");

    if (strcmp(cmd, "listen") == 0)
        cmd_listen(arg);
    else if (strcmp(cmd, "accept") == 0)
        cmd_accept();
    else if (strcmp(cmd, "connect") == 0)
        cmd_connect(arg);
    else if (strcmp(cmd, "send") == 0)
        cmd_send(arg);
    else if (strcmp(cmd, "recv") == 0)
        cmd_recv();
    else if (strcmp(cmd, "shutdown") == 0)
        cmd_shutdown();
    else if (strcmp(cmd, "close") == 0)
        cmd_close();
    else if (strcmp(cmd, "abort") == 0)
        cmd_abort();
    else if (strcmp(cmd, "unlisten") == 0)
        cmd_unlisten();
    else if (strcmp(cmd, "sleep") == 0)
        cmd_sleep(arg);
    else if (strcmp(cmd, "quit") == 0)
        return false;
    else
        result("error: unknown command '%s' (listen accept connect send recv shutdown close abort "
               "unlisten sleep quit)",
               cmd);
    return true;
}

/* The next line of stdin into buf (NUL-terminated). 1: a line, 0: end of input, -1: stopped.
 * Waits on stdin and the stop fd together, so SIGINT/SIGTERM ends a wait for the next command. */
static int next_line(char *buf, size_t cap)
{
    static char in[LINE_MAX_LEN];
    static size_t have;
    static bool eof;
    for (;;) {
        char *nl = memchr(in, '\n', have);
        if (nl || (eof && have) || have == sizeof in) {
            size_t n = nl ? (size_t)(nl - in) + 1 : have;
            size_t c = n < cap - 1 ? n : cap - 1;
            memcpy(buf, in, c);
            buf[c] = 0;
            memmove(in, in + n, have - n);
            have -= n;
            return 1;
        }
        if (eof)
            return 0;
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
                              {.fd = ts_app_stop_fd(), .events = POLLIN}};
        if (*S.stop)
            return -1;
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (*S.stop)
            return -1;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = read(0, in + have, sizeof in - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            eof = true;
        else
            have += (size_t)r;
    }
}

static const char *set_timeout(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 3600, &S.timeout_s) ? NULL : "must be 1..3600 seconds";
}

/* ---- --viz-port: the live TCP page, served from a thread of its own ---- */

static struct {
    unsigned port; /* 0: no page */
    char title[128];
    struct tcpviz *viz;
    struct ev_loop loop;
    struct hs_server srv;
    volatile sig_atomic_t stop; /* the main thread's word to the page's loop */
    pthread_t thread;
    bool running;
} V = {.srv = {.limit = {.max = 64}}};

static int viz_route(struct hs_conn *c, const struct http_request *req, const char *path,
                     const char *query, bool head)
{
    if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
        return hs_respond_text(c, 405, head, "Allow: GET, HEAD\r\n", "use GET or HEAD here\n");
    if (strcmp(path, "/") == 0)
        return hs_respond_text(c, 302, head, "Location: /tcp\r\n", "the page is at /tcp\n");
    if (!tcpviz_owns(path))
        return hs_respond_text(c, 404, head, NULL,
                               "not found; tapstack-sock serves the live TCP page, /tcp\n");
    struct tcpviz_reply r;
    tcpviz_get(V.viz, path, query, hs_fd(c), &r);
    int ret = hs_respond(c, r.status, r.ctype, r.body, r.len, head, r.extra);
    tcpviz_reply_free(&r);
    return ret;
}

static void *viz_main(void *arg)
{
    (void)arg;
    if (ev_run(&V.loop) < 0)
        fprintf(stderr, "tapstack-sock: the page's event loop failed: %s\n", strerror(errno));
    return NULL;
}

/* Listen on --viz-port and serve from a new thread. 0, or -1 with one line said. */
static int viz_start(struct ts_runtime *rt)
{
    char ip[16];
    ts_ip_format(S.ip, ip);
    int one = 1, lfd = -1;
    V.srv.prog = "tapstack-sock";
    V.srv.route = viz_route;
    V.viz = tcpviz_new(rt);
    if (!V.viz || ev_init(&V.loop, &V.stop) < 0)
        goto fail;
    lfd = nio_serve_socket("tapstack-sock", SOCK_STREAM, S.ip, V.port, 64);
    if (lfd < 0)
        return -1; /* it said why */
    /* Nagle off: every answer is written whole (as tapstack-httpd does). */
    if (nio_nonblock(lfd) < 0 ||
        ts_setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        hs_start(&V.srv, &V.loop, lfd) < 0) {
        ts_close(lfd);
        goto fail;
    }
    tcpviz_describe(V.viz, "tapstack-sock", V.title[0] ? V.title : NULL);
    tcpviz_record_now(V.viz); /* every connection of the lesson gets its ladder */
    if (pthread_create(&V.thread, NULL, viz_main, NULL) != 0) {
        hs_stop(&V.srv);
        goto fail;
    }
    V.running = true;
    fprintf(stderr, "tapstack-sock: the live TCP page: http://%s:%u/tcp\n", ip, V.port);
    return 0;
fail:
    fprintf(stderr, "tapstack-sock: cannot serve the page on port %u: %s\n", V.port,
            strerror(errno ? errno : ENOMEM));
    return -1;
}

static void viz_stop(void)
{
    if (V.running) {
        V.stop = 1; /* seen within NIO_SLICE_MS */
        pthread_join(V.thread, NULL);
        hs_stop(&V.srv);
        V.running = false;
    }
    if (V.loop.epfd > 0)
        ev_fini(&V.loop);
    tcpviz_free(V.viz);
    V.viz = NULL;
}

static const char *set_viz_port(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 65535, &V.port) ? NULL : "must be a port 1..65535";
}

static const char *set_viz_title(const char *val, void *ctx)
{
    (void)ctx;
    if (strlen(val) >= sizeof V.title)
        return "must be at most 127 characters";
    snprintf(V.title, sizeof V.title, "%s", val);
    return NULL;
}

static const char *want_commands(const char *val, void *ctx)
{
    (void)val;
    (void)ctx;
    fputs(help_commands, stdout);
    exit(0);
}

static const struct ts_app_flag flags[] = {
    {"timeout", "SECONDS", "how long accept, connect, recv and send may wait (default 30)",
     set_timeout},
    {"commands", NULL, "list the commands read from stdin and exit", want_commands},
    {"viz-port", "N",
     "also serve the live TCP page of this stack at http://ADDR:N/tcp (segments recorded from "
     "start-up)",
     set_viz_port},
    {"viz-title", "TEXT", "a title for that page (shown in its header)", set_viz_title},
    {0},
};

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-sock",
        .summary = "One TCP conversation on tapstack, driven by commands on stdin (see "
                   "--commands); one result line on stdout per command.",
        .flags = flags,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    S.ip = o.cfg.ip;
    S.stop = ts_app_stop_flag();
    struct ts_runtime *rt = nio_runtime_start(&app);
    if (!rt) {
        ts_app_teardown(&app);
        return 1;
    }
    if (V.port && viz_start(rt) < 0) {
        viz_stop();
        nio_runtime_stop(rt, &app);
        ts_app_teardown(&app);
        return 1;
    }
    fprintf(stderr, "tapstack-sock: reading commands from stdin (--commands lists them)\n");
    fflush(stderr);

    char line[LINE_MAX_LEN];
    int r;
    while (!*S.stop && (r = next_line(line, sizeof line)) > 0)
        if (!run_command(line))
            break;

    viz_stop();
    close_conn();
    if (S.lfd >= 0)
        ts_close(S.lfd);
    nio_runtime_stop(rt, &app);
    ts_app_teardown(&app);
    return 0;
}
