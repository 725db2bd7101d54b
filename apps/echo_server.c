/* tapstack-echo-server: TCP and UDP echo (RFC 862) on tapstack, and optionally
 * discard (RFC 863).
 *
 * The stack answers ARP and ping as soon as it is up. TCP clients each get a
 * thread (at most MAX_CLIENTS; beyond that a new connection is closed at once);
 * UDP datagrams are answered from the main thread, which also accepts. A client
 * that half-closes gets every byte echoed and then our FIN: the echo of a whole
 * file ends with a clean close on both sides. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/netio.h"
#include "common/opts.h"

#define MAX_CLIENTS 256
#define IDLE_MS     (10 * 60 * 1000) /* a client silent this long is dropped */
#define IO_MS       60000            /* echo that cannot be sent back for this long: give up */

struct server {
    unsigned port, discard_port;
    volatile sig_atomic_t *stop;
    struct nio_pool pool;
};
static struct server S = {.port = 7, .pool = NIO_POOL_INIT(MAX_CLIENTS)};

struct client {
    int fd;
    bool discard;
    uint8_t buf[65536];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    for (;;) {
        ssize_t n = nio_recv(c->fd, c->buf, sizeof c->buf, IDLE_MS, S.stop);
        if (n <= 0)
            break; /* 0: the client's FIN, and everything before it is echoed already
                    */
        if (!c->discard && nio_send_all(c->fd, c->buf, (size_t)n, IO_MS, S.stop) < 0)
            break;
    }
    /* Our FIN after the echoed data (RFC 862: the server closes when the client
     * is done). */
    ts_close(c->fd);
    free(c);
    nio_pool_done(&S.pool);
    return NULL;
}

static void accept_clients(int lfd, bool discard)
{
    for (;;) {
        int fd = ts_accept(lfd, NULL, NULL);
        if (fd < 0)
            return; /* EAGAIN: the queue is empty */
        struct client *c = malloc(sizeof *c);
        if (!c || nio_nonblock(fd) < 0) {
            free(c);
            ts_close(fd);
            continue;
        }
        c->fd = fd;
        c->discard = discard;
        if (nio_pool_spawn(&S.pool, client_main, c) < 0) {
            free(c);
            ts_close(fd);
        }
    }
}

/* Answer (echo) or drop (discard) every datagram waiting on fd. */
static void serve_udp(int fd, bool discard)
{
    static uint8_t buf[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        ssize_t n = ts_recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &plen);
        if (n < 0)
            return;
        if (!discard)
            ts_sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
    }
}

static const char *set_port(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 65535, &S.port) ? NULL : "must be a port 1..65535";
}
static const char *set_discard(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 65535, &S.discard_port) ? NULL : "must be a port 1..65535";
}

static const struct ts_app_flag flags[] = {
    {"port", "N", "TCP and UDP echo port (default 7)", set_port},
    {"discard-port", "N", "also serve TCP and UDP discard (RFC 863) on this port (e.g. 9)",
     set_discard},
    {0},
};

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-echo-server",
        .summary = "TCP and UDP echo (RFC 862), optionally discard (RFC 863), on "
                   "tapstack; "
                   "answers ARP and ping.",
        .flags = flags,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    if (S.discard_port && S.discard_port == S.port) {
        fprintf(stderr, "%s: --discard-port must differ from --port (%u)\n", o.prog, S.port);
        return 2;
    }

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    S.stop = ts_app_stop_flag();
    struct ts_runtime *rt = nio_runtime_start(&app);
    if (!rt) {
        ts_app_teardown(&app);
        return 1;
    }

    /* fds: echo TCP, echo UDP, then discard TCP and UDP when asked. */
    struct pollfd p[4];
    int n = 0;
    unsigned ports[2] = {S.port, S.discard_port};
    int rc = 0;
    for (int k = 0; k < 2 && ports[k]; k++) {
        int t = nio_serve_socket(o.prog, SOCK_STREAM, o.cfg.ip, ports[k], 128);
        int u = t < 0 ? -1 : nio_serve_socket(o.prog, SOCK_DGRAM, o.cfg.ip, ports[k], 0);
        if (t >= 0)
            p[n++] = (struct pollfd){.fd = t, .events = POLLIN};
        if (u >= 0)
            p[n++] = (struct pollfd){.fd = u, .events = POLLIN};
        if (t < 0 || u < 0 || nio_nonblock(t) < 0 || nio_nonblock(u) < 0) {
            rc = 1;
            break;
        }
    }

    if (rc == 0) {
        char ip[16];
        ts_ip_format(o.cfg.ip, ip);
        fprintf(stderr,
                "%s: TCP and UDP echo on %s:%u - try: nc %s %u   (UDP: nc -u %s "
                "%u; ping %s)\n",
                o.prog, ip, S.port, ip, S.port, ip, S.port, ip);
        if (S.discard_port)
            fprintf(stderr, "%s: TCP and UDP discard on %s:%u - try: nc %s %u </some/file\n",
                    o.prog, ip, S.discard_port, ip, S.discard_port);
        fflush(stderr);
        while (!*S.stop) {
            for (int i = 0; i < n; i++)
                p[i].revents = 0;
            int r = ts_poll(p, (nfds_t)n, NIO_SLICE_MS);
            if (r < 0 && errno != EINTR) {
                fprintf(stderr, "%s: poll: %s\n", o.prog, strerror(errno));
                rc = 1;
                break;
            }
            for (int i = 0; r > 0 && i < n; i++) {
                if (!p[i].revents)
                    continue;
                bool discard = i >= 2;
                if (i % 2 == 0)
                    accept_clients(p[i].fd, discard);
                else
                    serve_udp(p[i].fd, discard);
            }
        }
        fprintf(stderr, "%s: stopping\n", o.prog);
    }
    for (int i = 0; i < n; i++)
        ts_close(p[i].fd);
    if (!nio_pool_wait(&S.pool, 5000)) {
        /* Freeing the stack under a thread still inside a call would be worse. */
        fprintf(stderr, "%s: %u clients did not finish; exiting without cleanup\n", o.prog,
                S.pool.live);
        fflush(stderr);
        _exit(rc);
    }
    nio_runtime_stop(rt, &app);
    ts_app_teardown(&app);
    return rc;
}
