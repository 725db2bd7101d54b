/* tapstack-echo-client HOST PORT: talk to an echo server on the host side
 * through tapstack.
 *
 * Stream mode (default): stdin goes to the connection, what comes back goes to
 * stdout. At the end of stdin we half-close (shutdown SHUT_WR: our FIN) and
 * keep reading until the peer's FIN; exit status 0 means the echo came back
 * complete and the peer closed cleanly.
 * --count N --size BYTES: N round trips of BYTES bytes each (pattern.h bytes,
 * checked on return), then min/avg/max/p99 latency.
 * --udp: each line of stdin (or each --size datagram) is one datagram; replies
 * are printed (or timed); a datagram without a reply within --timeout is
 * reported and makes the exit status 1. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/netio.h"
#include "common/opts.h"
#include "common/pattern.h"
#include "tapstack/tcp.h"

#define IO_MS   60000
#define UDP_MAX 65507 /* largest UDP payload over IPv4 */

struct client {
    uint32_t host;
    unsigned port;
    bool udp;
    unsigned long count;
    unsigned size;
    unsigned timeout_ms;
    bool wait_close;
    const char *prog;
    volatile sig_atomic_t *stop;
    volatile sig_atomic_t quit; /* the writer thread should stop (stop flag or reader error) */
    int write_error;            /* errno of a failed send in the writer thread */
    int fd;
};
static struct client C = {.size = 64, .timeout_ms = 1000};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *what, int64_t *v, size_t n, unsigned long lost)
{
    if (n == 0) {
        printf("%s: no replies (%lu lost)\n", what, lost);
        return;
    }
    qsort(v, n, sizeof v[0], cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    size_t p99 = (n * 99 + 99) / 100; /* nearest-rank: ceil(0.99 n) */
    printf("%s: %zu round trips of %u bytes, %lu lost; latency min %.3f avg %.3f "
           "max %.3f "
           "p99 %.3f ms\n",
           what, n, C.size, lost, (double)v[0] / 1000.0, sum / (double)n / 1000.0,
           (double)v[n - 1] / 1000.0, (double)v[p99 - 1] / 1000.0);
}

/* ---- TCP ---- */

static void *stdin_to_socket(void *arg)
{
    (void)arg;
    static uint8_t buf[65536];
    for (;;) {
        /* Wait for stdin in slices so a finished reader or a signal ends this
         * thread. */
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int r = poll(&p, 1, NIO_SLICE_MS);
        if (C.quit || *C.stop)
            return NULL;
        if (r <= 0)
            continue;
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (nio_send_all(C.fd, buf, (size_t)n, IO_MS, &C.quit) < 0) {
            if (errno != ECANCELED) {
                C.write_error = errno;
                fprintf(stderr, "%s: send: %s\n", C.prog, strerror(errno));
            }
            return NULL;
        }
    }
    ts_shutdown(C.fd, SHUT_WR); /* end of input: our FIN, the echo keeps coming */
    return NULL;
}

static int tcp_stream(void)
{
    pthread_t w;
    if (pthread_create(&w, NULL, stdin_to_socket, NULL) != 0) {
        fprintf(stderr, "%s: cannot start a thread\n", C.prog);
        return 1;
    }
    static uint8_t buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = nio_recv(C.fd, buf, sizeof buf, -1, C.stop);
        if (n == 0)
            break; /* the peer's FIN: the echo is complete */
        if (n < 0) {
            fprintf(stderr, "%s: %s\n", C.prog,
                    errno == ECANCELED ? "interrupted" : strerror(errno));
            rc = 1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t k = write(1, buf + off, (size_t)(n - off));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                fprintf(stderr, "%s: stdout: %s\n", C.prog, strerror(errno));
                rc = 1;
                break;
            }
            off += k;
        }
        if (rc)
            break;
    }
    /* After the peer's FIN the rest of our input still goes out (the peer only
     * half-closed, RFC 9293 3.6); after an error there is no point. */
    if (rc)
        C.quit = 1;
    pthread_join(w, NULL);
    return rc || C.write_error ? 1 : 0;
}

/* Send C.size bytes and take the same number back, both at once: a large round trip would
 * deadlock if we sent everything before reading (the echo fills our receive window, the server
 * stops reading, our send stalls). Returns 0 or -1 (printed). */
static int round_trip(const uint8_t *out, uint8_t *in, unsigned long i)
{
    size_t sent = 0, got = 0;
    int64_t deadline = nio_now_ms() + IO_MS;
    while (got < C.size) {
        bool progress = false;
        if (sent < C.size) {
            ssize_t n = ts_send(C.fd, out + sent, C.size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                progress = true;
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fprintf(stderr, "%s: round trip %lu: send: %s\n", C.prog, i + 1, strerror(errno));
                return -1;
            }
        }
        ssize_t n = ts_recv(C.fd, in + got, C.size - got, 0);
        if (n == 0) {
            fprintf(stderr, "%s: round trip %lu: the server closed the connection\n", C.prog,
                    i + 1);
            return -1;
        }
        if (n > 0) {
            got += (size_t)n;
            progress = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fprintf(stderr, "%s: round trip %lu: recv: %s\n", C.prog, i + 1, strerror(errno));
            return -1;
        }
        if (progress) {
            deadline = nio_now_ms() + IO_MS;
            continue;
        }
        short ev = POLLIN | (sent < C.size ? POLLOUT : 0);
        int r = nio_wait(C.fd, ev, deadline, C.stop);
        if (r <= 0) {
            fprintf(stderr, "%s: round trip %lu: %s\n", C.prog, i + 1,
                    r == 0 ? "no progress for 60 s" : "interrupted");
            return -1;
        }
    }
    return 0;
}

static int tcp_count(void)
{
    int one = 1;
    ts_setsockopt(C.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t *out = malloc(C.size), *in = malloc(C.size);
    int64_t *lat = calloc(C.count ? C.count : 1, sizeof *lat);
    int rc = 0;
    unsigned long i;
    if (!out || !in || !lat) {
        fprintf(stderr, "%s: out of memory\n", C.prog);
        rc = 1;
        goto done;
    }
    for (i = 0; i < C.count && !rc; i++) {
        pattern_fill(out, C.size, (uint64_t)i * C.size);
        int64_t t0 = now_us();
        if (round_trip(out, in, i) < 0) {
            rc = 1;
            break;
        }
        lat[i] = now_us() - t0;
        if (!rc && memcmp(in, out, C.size) != 0) {
            fprintf(stderr, "%s: round trip %lu: the echo differs from what was sent\n", C.prog,
                    i + 1);
            rc = 1;
        }
    }
    if (!rc) {
        print_latency("tcp", lat, C.count, 0);
        /* Close our side and wait for the server's FIN (no RST: we read
         * everything). */
        ts_shutdown(C.fd, SHUT_WR);
        ssize_t n = nio_recv(C.fd, in, C.size, IO_MS, C.stop);
        if (n != 0) {
            fprintf(stderr, "%s: expected the server's FIN after the last echo\n", C.prog);
            rc = 1;
        }
    }
done:
    free(out);
    free(in);
    free(lat);
    return rc;
}

static int tcp_main(void)
{
    C.fd = ts_socket(AF_INET, SOCK_STREAM, 0);
    if (C.fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", C.prog, strerror(errno));
        return 1;
    }
    char ip[16];
    ts_ip_format(C.host, ip);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)C.port),
                             .sin_addr.s_addr = htonl(C.host)};
    if (ts_connect(C.fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (errno == ECONNREFUSED)
            fprintf(stderr,
                    "%s: %s:%u refused the connection: start a server there first (e.g. "
                    "socat TCP-LISTEN:%u,reuseaddr PIPE on the host side)\n",
                    C.prog, ip, C.port, C.port);
        else
            fprintf(stderr, "%s: cannot connect to %s:%u: %s\n", C.prog, ip, C.port,
                    strerror(errno));
        ts_close(C.fd);
        return 1;
    }
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    char mine[16] = "?";
    unsigned mport = 0;
    if (ts_getsockname(C.fd, (struct sockaddr *)&me, &ml) == 0) {
        ts_ip_format(ntohl(me.sin_addr.s_addr), mine);
        mport = ntohs(me.sin_port);
    }
    fprintf(stderr, "%s: connected %s:%u -> %s:%u\n", C.prog, mine, mport, ip, C.port);
    fflush(stderr);
    if (nio_nonblock(C.fd) < 0) {
        ts_close(C.fd);
        return 1;
    }
    int rc = C.count ? tcp_count() : tcp_stream();
    /* Our input may still be in the send buffer when the peer's FIN ends the stream (it only
     * half-closed), and the stack goes away with this process: close lingers until our FIN is
     * acknowledged, so every byte before it arrived (a kernel socket would outlive the process). */
    struct linger lg = {.l_onoff = 1, .l_linger = 30};
    ts_setsockopt(C.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ts_close(C.fd);
    return rc;
}

/* ---- UDP ---- */

/* Send one datagram and wait for its echo into reply. Returns the reply's
 * length, -1 timeout (or stop), -2 error (printed). */
static ssize_t udp_round_trip(const void *msg, size_t len, uint8_t *reply, size_t cap)
{
    if (ts_send(C.fd, msg, len, 0) < 0) {
        fprintf(stderr, "%s: send: %s\n", C.prog,
                errno == ECONNREFUSED ? "port unreachable (nothing listens there)"
                                      : strerror(errno));
        return -2;
    }
    int64_t deadline = nio_now_ms() + C.timeout_ms;
    for (;;) {
        int r = nio_wait(C.fd, POLLIN, deadline, C.stop);
        if (r <= 0)
            return -1;
        ssize_t n = ts_recv(C.fd, reply, cap, 0);
        if (n >= 0)
            return n;
        if (errno == ECONNREFUSED) {
            fprintf(stderr, "%s: port unreachable (nothing listens there)\n", C.prog);
            return -2;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -2;
    }
}

static int udp_main(void)
{
    C.fd = ts_socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)C.port),
                             .sin_addr.s_addr = htonl(C.host)};
    char ip[16];
    ts_ip_format(C.host, ip);
    if (C.fd < 0 || ts_connect(C.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        nio_nonblock(C.fd) < 0) {
        fprintf(stderr, "%s: cannot set up UDP to %s:%u: %s\n", C.prog, ip, C.port,
                strerror(errno));
        if (C.fd >= 0)
            ts_close(C.fd);
        return 1;
    }
    fprintf(stderr, "%s: UDP to %s:%u, %u ms per reply\n", C.prog, ip, C.port, C.timeout_ms);
    fflush(stderr);
    static uint8_t reply[UDP_MAX + 1];
    unsigned long lost = 0, sent = 0;
    int rc = 0;
    if (C.count) {
        uint8_t *out = malloc(C.size ? C.size : 1);
        int64_t *lat = calloc(C.count, sizeof *lat);
        size_t got = 0;
        for (unsigned long i = 0; out && lat && i < C.count && !*C.stop; i++) {
            pattern_fill(out, C.size, (uint64_t)i * C.size);
            int64_t t0 = now_us();
            ssize_t n = udp_round_trip(out, C.size, reply, sizeof reply);
            if (n == -2) {
                rc = 1;
                break;
            }
            sent++;
            if (n < 0 || (size_t)n != C.size || memcmp(reply, out, C.size) != 0) {
                lost++;
                continue;
            }
            lat[got++] = now_us() - t0;
        }
        if (rc == 0)
            print_latency("udp", lat, got, lost);
        free(out);
        free(lat);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (!*C.stop && (len = getline(&line, &cap, stdin)) >= 0) {
            for (ssize_t off = 0; off < len || (len == 0 && off == 0);) {
                size_t k = (size_t)(len - off) > UDP_MAX ? UDP_MAX : (size_t)(len - off);
                ssize_t n = udp_round_trip(line + off, k, reply, sizeof reply);
                sent++;
                if (n == -2) {
                    rc = 1;
                    break;
                }
                if (n < 0) {
                    fprintf(stderr, "%s: no reply to datagram %lu within %u ms\n", C.prog, sent,
                            C.timeout_ms);
                    lost++;
                } else {
                    fwrite(reply, 1, (size_t)n, stdout);
                    fflush(stdout);
                }
                off += (ssize_t)k;
                if (len == 0)
                    break;
            }
            if (rc)
                break;
        }
        free(line);
    }
    ts_close(C.fd);
    if (lost)
        rc = 1;
    return rc;
}

/* ---- wait for the connection to finish closing (TIME_WAIT included) ---- */

static void count_conns(struct ts_stack *s, void *arg)
{
    *(size_t *)arg = ts_tcp_table(s, NULL, 0, ts_runtime_now());
}

static void wait_closed(struct ts_runtime *rt, const struct ts_app_opts *o)
{
    /* TIME_WAIT lasts 2*MSL (RFC 9293 3.3.2); give the close a little more than
     * that. */
    int64_t deadline = nio_now_ms() + (int64_t)(2 * o->cfg.tcp_msl / 1000) + 5000;
    while (!*C.stop && nio_now_ms() < deadline) {
        size_t n = 0;
        ts_runtime_with_stack(rt, count_conns, &n);
        if (n == 0)
            return;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- flags ---- */

static const char *set_udp(const char *val, void *ctx)
{
    (void)val;
    (void)ctx;
    C.udp = true;
    return NULL;
}
static const char *set_count(const char *val, void *ctx)
{
    (void)ctx;
    unsigned v;
    if (!ts_app_parse_uint(val, 1, 100000000, &v))
        return "must be a number of round trips, 1..100000000";
    C.count = v;
    return NULL;
}
static const char *set_size(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 64 * 1024 * 1024, &C.size) ? NULL
                                                                : "must be 1..67108864 bytes";
}
static const char *set_timeout(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 600000, &C.timeout_ms) ? NULL : "must be 1..600000 ms";
}
static const char *set_wait_close(const char *val, void *ctx)
{
    (void)val;
    (void)ctx;
    C.wait_close = true;
    return NULL;
}
static const char *positional(int index, const char *val, void *ctx)
{
    (void)ctx;
    if (index == 0)
        return ts_ip_parse(val, &C.host) == 0 ? NULL : "HOST must be an IPv4 address (10.0.0.1)";
    return ts_app_parse_uint(val, 1, 65535, &C.port) ? NULL : "PORT must be 1..65535";
}

static const struct ts_app_flag flags[] = {
    {"udp", NULL, "UDP instead of TCP: one datagram per line of stdin (or per --count)", set_udp},
    {"count", "N", "measure N round trips instead of copying stdin", set_count},
    {"size", "BYTES", "bytes per round trip with --count (default 64)", set_size},
    {"timeout", "MS", "UDP: wait this long for each reply (default 1000)", set_timeout},
    {"wait-close", NULL,
     "keep the stack up until the connection is fully closed (TIME_WAIT: "
     "2*MSL, see --msl)",
     set_wait_close},
    {0},
};

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-echo-client",
        .summary = "Connect through tapstack to an echo server (e.g. socat on "
                   "the host side): "
                   "stdin there, the echo to stdout; or measure round trips.",
        .args = "HOST PORT",
        .flags = flags,
        .positional = positional,
        .min_positional = 2,
        .max_positional = 2,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    C.prog = o.prog;
    if (C.udp && C.size > UDP_MAX) {
        fprintf(stderr, "%s: --size %u is more than a UDP datagram holds (%d)\n", o.prog, C.size,
                UDP_MAX);
        return 2;
    }

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    C.stop = ts_app_stop_flag();
    struct ts_runtime *rt = nio_runtime_start(&app);
    if (!rt) {
        ts_app_teardown(&app);
        return 1;
    }
    int rc = C.udp ? udp_main() : tcp_main();
    if (C.wait_close && !C.udp)
        wait_closed(rt, &o);
    nio_runtime_stop(rt, &app);
    ts_app_teardown(&app);
    return rc;
}
