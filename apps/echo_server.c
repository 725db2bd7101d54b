/* tapstack-echo-server: TCP and UDP echo (RFC 862) on tapstack, and optionally discard
 * (RFC 863), every client served from one thread's event loop (apps/common/evloop.h).
 *
 * The stack answers ARP and ping as soon as it is up. A TCP client's bytes are sent back as
 * they come; what the client is not ready to take yet waits in the connection (and nothing more
 * is read from it until that is out, so a client that does not read cannot make us buffer
 * without end). A client that half-closes gets every byte echoed and then our FIN: the echo of a
 * whole file ends with a clean close on both sides. At most --max-conns clients at once; beyond
 * that a new connection is closed at once, counted and reported on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/evloop.h"
#include "common/netio.h"
#include "common/opts.h"

#define IDLE_MS (10 * 60 * 1000) /* a client silent this long is dropped */
#define IO_MS   60000            /* echo that cannot be sent back for this long: give up */

enum { STEP_CLOSE = -1, STEP_WAIT = 0 };

/* A listening or UDP socket, echo or discard. */
struct service {
    struct ev_io io;
    bool discard;
};

struct client {
    struct ev_io io;
    struct ev_timer tmr;
    struct client *prev, *next; /* every client, to close them on exit */
    bool discard;
    bool eof;      /* the client's FIN arrived */
    uint8_t *owed; /* received, not yet echoed back */
    size_t owed_len, owed_off;
};

static struct server {
    const char *prog;
    unsigned port, discard_port;
    struct ev_loop loop;
    struct ev_tlist idle, io;
    struct service svc[4]; /* echo TCP, echo UDP, discard TCP, discard UDP */
    int nsvc;
    struct client *clients;
    struct nio_limit limit;
} S = {.port = 7, .limit = {.max = 2048}};

static uint8_t scratch[65536]; /* one thread: shared by every client */

static void client_close(struct client *c)
{
    ev_timer_stop(&c->tmr);
    if (c->prev)
        c->prev->next = c->next;
    else
        S.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ts_close(c->io.fd); /* our FIN, after everything echoed (or a RST on error) */
    free(c->owed);
    free(c);
    nio_limit_put(&S.limit);
}

/* Send what is owed. STEP_WAIT while some is left, STEP_CLOSE on error, 1 when all is out. */
static int send_owed(struct client *c)
{
    while (c->owed_off < c->owed_len) {
        ssize_t n =
            ts_send(c->io.fd, c->owed + c->owed_off, c->owed_len - c->owed_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        c->owed_off += (size_t)n;
        ev_timer_arm(&S.io, &c->tmr);
    }
    free(c->owed);
    c->owed = NULL;
    c->owed_len = c->owed_off = 0;
    ev_timer_arm(&S.idle, &c->tmr);
    return 1;
}

/* Echo n bytes of scratch: straight back if the socket takes them, the rest owed. */
static int echo(struct client *c, size_t n)
{
    ssize_t s = ts_send(c->io.fd, scratch, n, MSG_NOSIGNAL);
    if (s < 0 && errno != EAGAIN)
        return STEP_CLOSE;
    size_t sent = s < 0 ? 0 : (size_t)s;
    if (sent == n)
        return 1;
    c->owed = malloc(n - sent);
    if (!c->owed)
        return STEP_CLOSE;
    memcpy(c->owed, scratch + sent, n - sent);
    c->owed_len = n - sent;
    ev_timer_arm(&S.io, &c->tmr);
    return 1;
}

/* Everything a client's events ask for, until the socket says EAGAIN (edge-triggered). */
static int client_step(struct client *c)
{
    for (;;) {
        if (c->owed) {
            int r = send_owed(c);
            if (r <= 0)
                return r;
        }
        if (c->eof)
            return STEP_CLOSE; /* all echoed: RFC 862, the server closes when the client is done */
        ssize_t n = ts_recv(c->io.fd, scratch, sizeof scratch, 0);
        if (n == 0) {
            c->eof = true;
            continue;
        }
        if (n < 0)
            return errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        ev_timer_arm(&S.idle, &c->tmr);
        if (!c->discard && echo(c, (size_t)n) < 0)
            return STEP_CLOSE;
    }
}

static void on_client(struct ev_io *io, uint32_t events)
{
    (void)events;
    struct client *c = EV_CONTAINER(io, struct client, io);
    if (client_step(c) == STEP_CLOSE)
        client_close(c);
}

static void on_timeout(struct ev_timer *t)
{
    client_close(EV_CONTAINER(t, struct client, tmr));
}

static void on_listener(struct ev_io *io, uint32_t events)
{
    (void)events;
    bool discard = EV_CONTAINER(io, struct service, io)->discard;
    for (;;) {
        int fd = ts_accept4(io->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            return; /* EAGAIN: the queue is empty */
        }
        if (!nio_limit_take(&S.limit, S.prog, "closed")) {
            ts_close(fd);
            continue;
        }
        struct client *c = calloc(1, sizeof *c);
        if (!c ||
            ev_add(&S.loop, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_client) < 0) {
            free(c);
            ts_close(fd);
            nio_limit_put(&S.limit);
            continue;
        }
        c->discard = discard;
        c->next = S.clients;
        if (S.clients)
            S.clients->prev = c;
        S.clients = c;
        ev_timer_init(&c->tmr, on_timeout);
        ev_timer_arm(&S.idle, &c->tmr);
    }
}

/* Answer (echo) or drop (discard) every datagram waiting. */
static void on_udp(struct ev_io *io, uint32_t events)
{
    (void)events;
    bool discard = EV_CONTAINER(io, struct service, io)->discard;
    for (;;) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        ssize_t n =
            ts_recvfrom(io->fd, scratch, sizeof scratch, 0, (struct sockaddr *)&peer, &plen);
        if (n < 0)
            return;
        if (!discard)
            ts_sendto(io->fd, scratch, (size_t)n, 0, (struct sockaddr *)&peer, plen);
    }
}

/* TCP and UDP on port, echo or discard. 0, or -1 after one line saying why. */
static int serve_port(const struct ts_app_opts *o, unsigned port, bool discard)
{
    for (int udp = 0; udp < 2; udp++) {
        int fd =
            nio_serve_socket(o->prog, udp ? SOCK_DGRAM : SOCK_STREAM, o->cfg.ip, port, NIO_BACKLOG);
        if (fd < 0)
            return -1;
        struct service *sv = &S.svc[S.nsvc++];
        sv->discard = discard;
        sv->io.fd = fd;
        if (nio_nonblock(fd) < 0 ||
            ev_add(&S.loop, &sv->io, fd, EPOLLIN, udp ? on_udp : on_listener) < 0) {
            fprintf(stderr, "%s: cannot watch port %u: %s\n", o->prog, port, strerror(errno));
            return -1;
        }
    }
    return 0;
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
static const char *set_max_conns(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 1000000, &S.limit.max) ? NULL : "must be 1..1000000";
}

static const struct ts_app_flag flags[] = {
    {"port", "N", "TCP and UDP echo port (default 7)", set_port},
    {"discard-port", "N", "also serve TCP and UDP discard (RFC 863) on this port (e.g. 9)",
     set_discard},
    {"max-conns", "N", "TCP clients served at once (default 2048); beyond that a new one is closed",
     set_max_conns},
    {0},
};

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-echo-server",
        .summary = "TCP and UDP echo (RFC 862), optionally discard (RFC 863), on tapstack; "
                   "answers ARP and ping.",
        .flags = flags,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    S.prog = o.prog;
    if (S.discard_port && S.discard_port == S.port) {
        fprintf(stderr, "%s: --discard-port must differ from --port (%u)\n", o.prog, S.port);
        return 2;
    }

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    struct ts_runtime *rt = nio_runtime_start(&app);
    if (!rt) {
        ts_app_teardown(&app);
        return 1;
    }
    int rc = 0;
    if (ev_init(&S.loop, ts_app_stop_flag()) < 0) {
        fprintf(stderr, "%s: cannot create the event loop: %s\n", o.prog, strerror(errno));
        rc = 1;
    } else if (serve_port(&o, S.port, false) < 0 ||
               (S.discard_port && serve_port(&o, S.discard_port, true) < 0)) {
        rc = 1;
    }
    if (rc == 0) {
        ev_tlist_init(&S.loop, &S.idle, IDLE_MS);
        ev_tlist_init(&S.loop, &S.io, IO_MS);
        char ip[16];
        ts_ip_format(o.cfg.ip, ip);
        fprintf(stderr,
                "%s: TCP and UDP echo on %s:%u - try: nc %s %u   (UDP: nc -u %s %u; ping %s)\n",
                o.prog, ip, S.port, ip, S.port, ip, S.port, ip);
        if (S.discard_port)
            fprintf(stderr, "%s: TCP and UDP discard on %s:%u - try: nc %s %u </some/file\n",
                    o.prog, ip, S.discard_port, ip, S.discard_port);
        fflush(stderr);
        if (ev_run(&S.loop) < 0) {
            fprintf(stderr, "%s: epoll: %s\n", o.prog, strerror(errno));
            rc = 1;
        }
        fprintf(stderr, "%s: stopping\n", o.prog);
    }
    while (S.clients)
        client_close(S.clients);
    for (int i = 0; i < S.nsvc; i++)
        ts_close(S.svc[i].io.fd);
    ev_fini(&S.loop);
    nio_runtime_stop(rt, &app);
    ts_app_teardown(&app);
    return rc;
}
