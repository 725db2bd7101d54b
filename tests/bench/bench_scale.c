/* bench_scale: what many connections cost the stack. Two stacks in one process on the in-memory
 * pair link (0.1 ms one-way), a virtual clock; figures printed, never asserted.
 *
 *   bench_scale idle N     N idle established connections (A connects to B's four listening
 *                          ports; B's side has keep-alive on, so every one of its connections has
 *                          a timer running): resident memory per connection end, then the cost of
 *                          ts_stack_poll on B with nothing due and of a 1-byte request/response
 *                          on one more connection. Run it with N = 0 and N = 100000: the two
 *                          costs should not move. For instruction counts, run it under
 *                          valgrind --tool=callgrind --collect-atstart=no
 *                          --toggle-collect=bench_polls --toggle-collect=bench_rr.
 *   bench_scale tw SECONDS connect/close for SECONDS of virtual time, 32 clients at once, the
 *                          server closing first (HTTP/1.0): every 10 s, the TIME_WAIT entries,
 *                          their memory, resident memory and the CPU time per connection.
 *
 * Only calls every version of the API has are used, so the same file measures the stack before
 * and after the scaling work (the summary lines need ts_tcp_summary). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapstack/stack.h"
#include "tapstack/tcp.h"

#define NPORTS 4
#define PORT0  8000

static struct ts_stack *A, *B;
static struct ts_driver *DA, *DB;
static ts_time_t NOW = 1 * TS_SEC;
static struct ts_tcp_conn *L[NPORTS];

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void config(struct ts_config *c, int side)
{
    ts_config_default(c);
    c->mac[5] = (uint8_t)(side + 1);
    c->ip = 0x0a000001u + (uint32_t)side;
    c->gateway = 0;
    c->tcp_max_conns = (__typeof__(c->tcp_max_conns))-1; /* as many as the field holds */
    for (int i = 0; i < 16; i++)
        c->secret[i] = (uint8_t)(i * 7 + 1);
}

/* Run both stacks at NOW until nothing more happens now; returns the next event. */
static ts_time_t settle(void)
{
    for (;;) {
        ts_time_t na = ts_stack_step(A, NOW), nb = ts_stack_step(B, NOW);
        ts_time_t next = ts_time_min(na, nb);
        next = ts_time_min(next, ts_driver_next_deadline(DA, NOW));
        next = ts_time_min(next, ts_driver_next_deadline(DB, NOW));
        if (next > NOW)
            return next;
    }
}

/* Advance the virtual clock by dt, event by event. */
static void run_for(ts_time_t dt)
{
    ts_time_t end = NOW + dt;
    for (;;) {
        ts_time_t next = settle();
        if (next > end)
            break;
        NOW = next;
    }
    NOW = end;
    settle();
}

static void setup(void)
{
    ts_pair_create(&DA, &DB, 100);
    struct ts_config ca, cb;
    config(&ca, 0);
    config(&cb, 1);
    A = ts_stack_new(&ca, DA, NOW);
    B = ts_stack_new(&cb, DB, NOW);
    if (!A || !B) {
        fprintf(stderr, "bench_scale: cannot create stacks\n");
        exit(1);
    }
    for (int p = 0; p < NPORTS; p++) {
        int err = 0;
        L[p] = ts_tcp_listen(B, 0, (uint16_t)(PORT0 + p), 4096, NULL, &err, NOW);
        if (!L[p]) {
            fprintf(stderr, "bench_scale: listen: %s\n", strerror(err));
            exit(1);
        }
    }
    run_for(10 * TS_MS);
}

static void summary(const char *what, struct ts_stack *s, size_t n)
{
#ifdef TS_TCP_NSTATES
    struct ts_tcp_summary sum;
    ts_tcp_summary(s, &sum);
    printf("  %s: %zu entries (%zu ESTABLISHED, %zu TIME_WAIT of which %zu compact); blocks %zu B "
           "(%zu B each), TIME_WAIT records %zu B, buffers %zu B, hash %zu B, timers running "
           "%zu\n",
           what, sum.total, sum.state[TS_TCP_ESTABLISHED], sum.state[TS_TCP_TIME_WAIT],
           sum.time_wait_compact, sum.conn_bytes, n ? sum.conn_bytes / n : 0, sum.time_wait_bytes,
           sum.buffer_bytes, sum.hash_bytes, sum.timers_running);
#else
    (void)what;
    (void)s;
    (void)n;
#endif
}

/* n connections from A to B, established and accepted; B's side with keep-alive on. */
static size_t open_idle(size_t n, struct ts_tcp_conn **cl, struct ts_tcp_conn **sv)
{
    struct ts_tcp_opts ka;
    ts_tcp_opts_default(B, &ka);
    ka.keepalive = true;
    size_t opened = 0, accepted = 0;
    while (opened < n) {
        for (size_t k = 0; k < 800 && opened < n; k++, opened++) {
            int err = 0;
            uint16_t port = (uint16_t)(PORT0 + opened % NPORTS);
            cl[opened] = ts_tcp_connect(A, 0, 0, 0x0a000002u, port, NULL, &err, NOW);
            if (!cl[opened]) {
                fprintf(stderr, "bench_scale: connect %zu: %s\n", opened, strerror(err));
                exit(1);
            }
        }
        run_for(5 * TS_MS);
        for (int p = 0; p < NPORTS; p++) {
            struct ts_tcp_conn *c;
            while ((c = ts_tcp_accept(L[p]))) {
                ts_tcp_set_opts(c, &ka, NOW);
                sv[accepted++] = c;
            }
        }
    }
    run_for(TS_SEC);
    for (int p = 0; p < NPORTS; p++) {
        struct ts_tcp_conn *c;
        while ((c = ts_tcp_accept(L[p]))) {
            ts_tcp_set_opts(c, &ka, NOW);
            sv[accepted++] = c;
        }
    }
    return accepted;
}

/* rounds polls of B with nothing due. */
__attribute__((noinline)) void bench_polls(unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++)
        ts_stack_poll(B, NOW + i % 1000);
}

/* rounds 1-byte request/response exchanges on c (A) and s (B), as a run loop drives them. */
__attribute__((noinline)) int bench_rr(struct ts_tcp_conn *c, struct ts_tcp_conn *s,
                                       unsigned rounds)
{
    char x = 'x';
    for (unsigned i = 0; i < rounds; i++) {
        if (ts_tcp_send(c, &x, 1, NOW) != 1)
            return -1;
        for (int g = 0; ts_tcp_recv(s, &x, 1, NOW) != 1; g++) {
            if (g > 100)
                return -1;
            NOW = settle();
        }
        if (ts_tcp_send(s, &x, 1, NOW) != 1)
            return -1;
        for (int g = 0; ts_tcp_recv(c, &x, 1, NOW) != 1; g++) {
            if (g > 100)
                return -1;
            NOW = settle();
        }
    }
    return 0;
}

static int idle_mode(size_t n)
{
    setup();
    struct ts_tcp_conn **cl = calloc(n + 1, sizeof(*cl)), **sv = calloc(n + 1, sizeof(*sv));
    long rss0 = rss_kb();
    double t0 = wall();
    size_t got = open_idle(n, cl, sv);
    double topen = wall() - t0;
    long rss1 = rss_kb();
    printf("bench_scale idle: %zu connections opened and accepted in %.2f s of CPU\n", got, topen);
    if (n)
        printf("  resident memory: +%ld KiB for %zu connections = %.0f bytes per connection end "
               "(both ends are in this process)\n",
               rss1 - rss0, n, (double)(rss1 - rss0) * 1024 / (double)(2 * n));
    summary("B", B, got);
    /* One more connection for the request/response. */
    struct ts_tcp_conn *one[1], *srv[1];
    open_idle(1, one, srv);
    unsigned polls = 200000, rr = 20000;
    t0 = wall();
    bench_polls(polls);
    double tp = wall() - t0;
    t0 = wall();
    int bad = bench_rr(one[0], srv[0], rr);
    double tr = wall() - t0;
    printf("  ts_stack_poll with nothing due: %.0f ns per call; 1-byte request/response: %.2f us "
           "per round trip (both stacks)%s\n",
           tp / polls * 1e9, tr / rr * 1e6, bad ? " FAILED" : "");
    return bad ? 1 : 0;
}

static int tw_mode(unsigned seconds)
{
    enum { K = 32 };
    setup();
    struct ts_tcp_conn *cl[K] = {0};
    uint64_t done = 0, failed = 0, last_done = 0;
    ts_time_t start = NOW, end = NOW + (ts_time_t)seconds * TS_SEC, report = NOW + 10 * TS_SEC;
    double t0 = wall(), tlast = t0;
    long rss0 = rss_kb();
    printf("bench_scale tw: connect/close for %u s of virtual time, %d clients, server closes "
           "first; MSL %llu s\n",
           seconds, K, (unsigned long long)(ts_stack_config(B)->tcp_msl / TS_SEC));
    while (NOW < end) {
        for (int k = 0; k < K; k++) {
            if (!cl[k]) {
                int err = 0;
                cl[k] = ts_tcp_connect(A, 0, 0, 0x0a000002u,
                                       (uint16_t)(PORT0 + (done + k) % NPORTS), NULL, &err, NOW);
                continue;
            }
            enum ts_tcp_state st = ts_tcp_state(cl[k]);
            if (st == TS_TCP_CLOSE_WAIT || st == TS_TCP_CLOSE) {
                failed += st == TS_TCP_CLOSE;
                done += st == TS_TCP_CLOSE_WAIT;
                ts_tcp_close(cl[k], NOW); /* the client closes second: no TIME_WAIT on A */
                cl[k] = NULL;
            }
        }
        for (int p = 0; p < NPORTS; p++) {
            struct ts_tcp_conn *c;
            while ((c = ts_tcp_accept(L[p])))
                ts_tcp_close(c, NOW); /* the server closes first: TIME_WAIT on B */
        }
        ts_time_t next = settle();
        NOW = next == TS_TIME_NEVER || next > NOW + TS_MS ? NOW + 100 : next;
        if (NOW >= report) {
            double t = wall();
            printf("  t=%3llu s: %8llu connections (%llu failed)",
                   (unsigned long long)((NOW - start) / TS_SEC), (unsigned long long)done,
                   (unsigned long long)failed);
#ifdef TS_TCP_NSTATES
            struct ts_tcp_summary sum;
            ts_tcp_summary(B, &sum);
            printf(", TIME_WAIT %6zu (%zu compact, %zu KiB)", sum.state[TS_TCP_TIME_WAIT],
                   sum.time_wait_compact, sum.time_wait_bytes / 1024);
            printf(", reopened %llu, recycled %llu",
                   (unsigned long long)ts_stack_counter(B, TS_C_TCP_TIME_WAIT_REUSE),
                   (unsigned long long)ts_stack_counter(B, TS_C_TCP_TIME_WAIT_RECYCLED));
#else
            printf(", table %zu", ts_tcp_table(B, NULL, 0, NOW));
#endif
            printf(", RSS +%ld KiB, %.1f us CPU per connection\n", rss_kb() - rss0,
                   (t - tlast) * 1e6 / (double)(done - last_done ? done - last_done : 1));
            tlast = t;
            last_done = done;
            report += 10 * TS_SEC;
        }
    }
    printf("  total %.1f s of CPU, %.1f us per connection\n", wall() - t0,
           (wall() - t0) * 1e6 / (double)(done ? done : 1));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "idle")) {
        long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
        if (n < 0 || n > 112000) {
            fprintf(stderr, "bench_scale: N must be 0..112000 (4 ports x 28232 ephemeral)\n");
            return 2;
        }
        return idle_mode((size_t)n);
    }
    if (argc >= 2 && !strcmp(argv[1], "tw")) {
        long s = argc > 2 ? strtol(argv[2], NULL, 10) : 60;
        if (s < 1 || s > 3600) {
            fprintf(stderr, "bench_scale: SECONDS must be 1..3600\n");
            return 2;
        }
        return tw_mode((unsigned)s);
    }
    fprintf(stderr, "usage: bench_scale idle [N] | bench_scale tw [SECONDS]\n");
    return 2;
}
