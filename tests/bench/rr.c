/* rr: request/response on one TCP connection, one at a time (a ping-pong), for a while.
 *
 *   rr [-d SECONDS] [-s BYTES] HOST PORT
 *
 * Connects to an echo server (RFC 862), sets TCP_NODELAY, then repeats: send BYTES (default 1),
 * read until BYTES came back. The first 0.5 s warm up and are not counted. Prints one line:
 * rr=ROUND_TRIPS_PER_SECOND n=N secs=S avg_us=A p99_us=P max_us=M; exits 1 when the connection
 * fails or the echo is wrong. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUCKETS 100000 /* 1 us buckets up to 100 ms */

static unsigned hist[BUCKETS];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double secs = 10;
    size_t size = 1;
    const char *host = NULL, *port = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            size = strtoul(argv[++i], NULL, 10);
        else if (!host)
            host = argv[i];
        else if (!port)
            port = argv[i];
        else
            port = NULL, host = NULL, i = argc;
    }
    if (!host || !port || secs <= 0 || size < 1 || size > 65536) {
        fprintf(stderr, "usage: rr [-d SECONDS] [-s BYTES 1..65536] HOST PORT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "rr: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "rr: connect %s:%s: %s\n", host, port, strerror(errno));
        return 1;
    }
    static char out[65536], in[65536];
    for (size_t i = 0; i < size; i++)
        out[i] = (char)('a' + i % 26);
    double start = now(), t0 = start + 0.5, end = t0 + secs, tmax = 0;
    unsigned long n = 0;
    double sum = 0;
    for (;;) {
        double a = now();
        if (a >= end)
            break;
        if (send(fd, out, size, MSG_NOSIGNAL) != (ssize_t)size) {
            fprintf(stderr, "rr: send: %s\n", strerror(errno));
            return 1;
        }
        size_t got = 0;
        while (got < size) {
            ssize_t k = recv(fd, in + got, size - got, 0);
            if (k <= 0) {
                fprintf(stderr, "rr: recv: %s\n", k ? strerror(errno) : "connection closed");
                return 1;
            }
            got += (size_t)k;
        }
        if (memcmp(in, out, size)) {
            fprintf(stderr, "rr: the echo differs from what was sent\n");
            return 1;
        }
        double b = now();
        if (a >= t0) {
            double us = (b - a) * 1e6;
            n++;
            sum += us;
            if (us > tmax)
                tmax = us;
            hist[us < BUCKETS ? (unsigned)us : BUCKETS - 1]++;
        }
    }
    unsigned long want = (unsigned long)(0.99 * (double)n), seen = 0;
    unsigned p99 = 0;
    for (unsigned b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen > want) {
            p99 = b + 1;
            break;
        }
    }
    printf("rr=%.0f n=%lu secs=%.2f avg_us=%.1f p99_us=%u max_us=%.0f\n", (double)n / secs, n, secs,
           n ? sum / (double)n : 0, p99, tmax);
    close(fd);
    return 0;
}
