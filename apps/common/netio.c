/* Socket helpers for the apps; see netio.h. */
#include "netio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapstack/control.h"

int64_t nio_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nio_nonblock(int fd)
{
    int fl = ts_fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return ts_fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int nio_wait(int fd, short events, int64_t deadline_ms, volatile sig_atomic_t *stop)
{
    for (;;) {
        if (stop && *stop) {
            errno = ECANCELED;
            return -1;
        }
        int slice = NIO_SLICE_MS;
        if (deadline_ms >= 0) {
            int64_t left = deadline_ms - nio_now_ms();
            if (left <= 0)
                return 0;
            if (left < slice)
                slice = (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = ts_poll(&p, 1, slice);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return p.revents;
    }
}

/* nio_wait for the blocking helpers: 0 to try the call again, or -1 with errno (ETIMEDOUT when
 * the deadline passed, EBADF when fd is not open, ECANCELED on stop). */
static int wait_again(int fd, short events, int64_t deadline_ms, volatile sig_atomic_t *stop)
{
    int r = nio_wait(fd, events, deadline_ms, stop);
    if (r < 0)
        return -1;
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (r & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

ssize_t nio_recv(int fd, void *buf, size_t len, int idle_ms, volatile sig_atomic_t *stop)
{
    int64_t deadline = idle_ms < 0 ? -1 : nio_now_ms() + idle_ms;
    for (;;) {
        ssize_t n = ts_recv(fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_again(fd, POLLIN | POLLRDHUP, deadline, stop) < 0)
            return -1;
        /* POLLIN, POLLHUP or POLLERR: the next recv says which (data, EOF or the error). */
    }
}

int nio_send_all(int fd, const void *buf, size_t len, int idle_ms, volatile sig_atomic_t *stop)
{
    const char *p = buf;
    while (len) {
        ssize_t n = ts_send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_again(fd, POLLOUT, idle_ms < 0 ? -1 : nio_now_ms() + idle_ms, stop) < 0)
            return -1;
    }
    return 0;
}

void nio_lingering_close(int fd, int max_ms, volatile sig_atomic_t *stop)
{
    ts_shutdown(fd, SHUT_WR);
    int64_t deadline = nio_now_ms() + max_ms;
    char junk[4096];
    for (;;) {
        int64_t left = deadline - nio_now_ms();
        if (left <= 0)
            break;
        ssize_t n = nio_recv(fd, junk, sizeof junk, (int)left, stop);
        if (n <= 0)
            break;
    }
    ts_close(fd);
}

int nio_serve_socket(const char *prog, int type, uint32_t ip, unsigned port, int backlog)
{
    const char *proto = type == SOCK_STREAM ? "TCP" : "UDP";
    char ipbuf[16];
    int fd = ts_socket(AF_INET, type, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot create a %s socket: %s\n", prog, proto, strerror(errno));
        return -1;
    }
    int one = 1;
    ts_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(ip)};
    if (ts_bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno == EADDRINUSE)
            fprintf(stderr, "%s: %s port %u on %s is already in use; choose another with --port\n",
                    prog, proto, port, ts_ip_format(ip, ipbuf));
        else
            fprintf(stderr, "%s: cannot bind %s %s:%u: %s\n", prog, proto, ts_ip_format(ip, ipbuf),
                    port, strerror(errno));
        ts_close(fd);
        return -1;
    }
    if (type == SOCK_STREAM && ts_listen(fd, backlog) < 0) {
        fprintf(stderr, "%s: cannot listen on TCP port %u: %s\n", prog, port, strerror(errno));
        ts_close(fd);
        return -1;
    }
    return fd;
}

/* The tap went away under us (deleted): nothing more can arrive, so the app stops. */
static void link_gone(void *prog)
{
    fprintf(stderr, "%s: the link is gone (was the tap deleted?): stopping\n", (const char *)prog);
    fflush(stderr);
    ts_app_request_stop();
}

struct ts_runtime *nio_runtime_start(struct ts_app *app)
{
    const struct ts_app_opts *o = app->opts;
    struct ts_runtime *rt = ts_runtime_start(app->stack, app->drv);
    if (!rt) {
        fprintf(stderr, "%s: cannot start the socket runtime: %s\n", o->prog, strerror(errno));
        return NULL;
    }
    ts_runtime_on_link_down(rt, link_gone, (void *)o->prog);
    /* The runtime owns them now; only its loop touches them, under its lock. */
    app->stack = NULL;
    app->drv = NULL;
    /* The runtime records the trace now; --trace prints after it. */
    if (o->trace)
        ts_runtime_set_trace(rt, ts_app_trace_print, NULL);
    if (o->control && strcmp(o->control, "none") == 0)
        return rt;
    char err[400];
    if (ts_runtime_control_open(rt, o->control, o->tap, err, sizeof err) < 0) {
        if (o->control) { /* asked for by name: not serving it is an error */
            fprintf(stderr, "%s: %s\n", o->prog, err);
            fflush(stderr);
            nio_runtime_stop(rt, app);
            return NULL;
        }
        fprintf(stderr, "%s: %s; going on without a control socket\n", o->prog, err);
    } else {
        const char *p = ts_runtime_control_path(rt);
        if (o->control)
            fprintf(stderr, "%s: control socket %s - try: tapstack-stat -a --control %s\n", o->prog,
                    p, p);
        else
            fprintf(stderr, "%s: control socket %s - try: tapstack-stat -a --tap %s\n", o->prog, p,
                    o->tap);
    }
    fflush(stderr);
    return rt;
}

/* The runtime frees the stack: print the exit statistics under its lock first. */
static void print_exit_stats(struct ts_stack *s, void *arg)
{
    ts_app_print_exit_stats(arg, s);
}

void nio_runtime_stop(struct ts_runtime *rt, struct ts_app *app)
{
    if (!rt)
        return;
    ts_runtime_with_stack(rt, print_exit_stats, app);
    ts_runtime_stop(rt); /* frees the stack and the drivers */
    app->stack = NULL;
    app->drv = NULL;
    app->fault = NULL;
}

bool nio_limit_take(struct nio_limit *l, const char *prog, const char *what)
{
    if (l->open < l->max) {
        l->open++;
        return true;
    }
    l->refused++;
    int64_t now = nio_now_ms();
    if (l->logged_ms == 0 || now - l->logged_ms >= 1000) {
        fprintf(stderr,
                "%s: %u connections open, the --max-conns limit: new ones are %s (%llu so far)\n",
                prog, l->open, what, (unsigned long long)l->refused);
        fflush(stderr);
        l->logged_ms = now;
    }
    return false;
}

void nio_limit_put(struct nio_limit *l)
{
    if (l->open > 0)
        l->open--;
}
