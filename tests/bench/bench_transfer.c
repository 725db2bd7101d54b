/* bench_transfer: how much CPU the stack needs per byte.
 *
 * Two stacks in one process on the in-memory pair link, a virtual clock (1 ms one-way latency),
 * one TCP connection carrying SIZE megabytes from A to B. The wall-clock time of the run is
 * spent entirely in tapstack's own code (parsing, state, copying, checksums), so MB/s here is
 * the ceiling the stack can reach before any tap or kernel cost. Also reports segments sent
 * and the time the transfer took on the virtual clock (how well the window and congestion
 * control keep a 2 ms RTT path full).
 *
 * usage: bench_transfer [MEGABYTES] (default 256) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapstack/stack.h"
#include "tapstack/tcp.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void config(struct ts_config *c, int side)
{
    ts_config_default(c);
    c->mac[5] = (uint8_t)(side + 1);
    c->ip = 0x0a000001u + (uint32_t)side;
    c->gateway = 0;
    for (int i = 0; i < 16; i++)
        c->secret[i] = (uint8_t)(i * 7 + 1);
}

static ts_time_t step_all(struct ts_stack *a, struct ts_stack *b, ts_time_t now)
{
    ts_time_t da = ts_stack_step(a, now);
    ts_time_t db = ts_stack_step(b, now);
    return ts_time_min(da, db);
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    if (mb == 0 || mb > 1u << 20) {
        fprintf(stderr, "bench_transfer: MEGABYTES must be 1..1048576\n");
        return 2;
    }
    const uint64_t total = (uint64_t)mb << 20;

    struct ts_driver *da, *db;
    ts_pair_create(&da, &db, 1 * TS_MS);
    struct ts_config ca, cb;
    config(&ca, 0);
    config(&cb, 1);
    ts_time_t now = 1 * TS_SEC;
    struct ts_stack *a = ts_stack_new(&ca, da, now);
    struct ts_stack *b = ts_stack_new(&cb, db, now);
    if (!a || !b) {
        fprintf(stderr, "bench_transfer: cannot create stacks\n");
        return 1;
    }
    int err = 0;
    struct ts_tcp_conn *l = ts_tcp_listen(b, 0, 5001, 16, NULL, &err, now);
    struct ts_tcp_conn *c = ts_tcp_connect(a, 0, 0, cb.ip, 5001, NULL, &err, now);
    if (!l || !c) {
        fprintf(stderr, "bench_transfer: listen/connect failed: %s\n", strerror(err));
        return 1;
    }

    static uint8_t src[64 * 1024], dst[64 * 1024];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i % 251);

    struct ts_tcp_conn *srv = NULL;
    uint64_t sent = 0, received = 0, mismatches = 0;
    double t0 = wall();
    ts_time_t vt0 = now;
    for (unsigned long iter = 0; received < total; iter++) {
        ts_time_t next = step_all(a, b, now);
        if (!srv)
            srv = ts_tcp_accept(l);
        if (ts_tcp_state(c) == TS_TCP_ESTABLISHED) {
            while (sent < total) {
                size_t off = (size_t)(sent % sizeof src);
                size_t n = sizeof src - off;
                if (n > total - sent)
                    n = (size_t)(total - sent);
                ssize_t k = ts_tcp_send(c, src + off, n, now);
                if (k <= 0)
                    break;
                sent += (uint64_t)k;
            }
        }
        if (srv) {
            for (;;) {
                ssize_t k = ts_tcp_recv(srv, dst, sizeof dst, now);
                if (k <= 0)
                    break;
                for (ssize_t i = 0; i < k; i += 4096)
                    mismatches +=
                        dst[i] != (uint8_t)(((received + (uint64_t)i) % sizeof src) % 251);
                received += (uint64_t)k;
            }
        }
        next = ts_time_min(
            next, ts_time_min(ts_driver_next_deadline(da, now), ts_driver_next_deadline(db, now)));
        if (next == TS_TIME_NEVER) {
            fprintf(stderr, "bench_transfer: stalled after %llu bytes\n",
                    (unsigned long long)received);
            return 1;
        }
        if (next > now)
            now = next;
        if (iter > 50000000ul) {
            fprintf(stderr, "bench_transfer: no progress\n");
            return 1;
        }
    }
    double secs = wall() - t0;
    double vsecs = (double)(now - vt0) / 1e6;
    printf("bench_transfer: %zu MB A->B in %.3f s of CPU: %.1f MB/s (%.2f Gbit/s); "
           "virtual time %.3f s (%.1f MB/s on a 2 ms RTT link); segments out A %llu, B %llu; "
           "retransmits %llu; data check %s\n",
           mb, secs, (double)mb / secs, (double)total * 8 / secs / 1e9, vsecs, (double)mb / vsecs,
           (unsigned long long)ts_stack_counter(a, TS_C_TCP_TX),
           (unsigned long long)ts_stack_counter(b, TS_C_TCP_TX),
           (unsigned long long)ts_stack_counter(a, TS_C_TCP_RETRANSMIT),
           mismatches ? "FAILED" : "ok");
    ts_tcp_close(c, now);
    if (srv)
        ts_tcp_close(srv, now);
    ts_tcp_close(l, now);
    ts_stack_free(a);
    ts_stack_free(b);
    ts_driver_destroy(da);
    ts_driver_destroy(db);
    return mismatches ? 1 : 0;
}
