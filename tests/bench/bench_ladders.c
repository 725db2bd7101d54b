/* bench_ladders: what recording segment ladders (socket/seglog.c, the live TCP page's data)
 * costs a bulk transfer.
 *
 * Two stacks in one process on the in-memory pair link and a virtual clock, as bench_transfer:
 * one connection carries MEGABYTES from A to B, with nobody watching (no segment hook: the
 * default), and with both stacks' segments and state changes recorded into ladders as the
 * runtime does once /tcp has been opened. The runs alternate, ROUNDS of each; the table gives
 * the median CPU time of each and the difference per segment recorded. Then the recorder
 * alone: segments fed straight into ladders, for one connection (a bulk transfer) and spread
 * over 256 (many at once), in ns per segment. Printed, never asserted.
 *
 * usage: bench_ladders [MEGABYTES] [ROUNDS]   (default 256 3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../socket/seglog.h"
#include "tapstack/stack.h"
#include "tapstack/tcp.h"

/* This process's CPU time: the machine may be busy with others. */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

struct rec {
    struct seglog *sl;
    uint64_t segments, changes;
};

static void on_segment(void *arg, const struct ts_segment_event *ev)
{
    struct rec *r = arg;
    r->segments++;
    seglog_segment(r->sl, ev);
}

static void on_trace(void *arg, const struct ts_trace_event *ev)
{
    struct rec *r = arg;
    r->changes++;
    seglog_trace(r->sl, ev, r->changes);
}

struct result {
    double secs;
    uint64_t segments; /* segments both stacks sent (each is recorded twice: out and in) */
    uint64_t recorded;
};

/* One transfer; with ladders, both stacks record into their own seglog. */
static int run(size_t mb, bool ladders, struct result *res)
{
    const uint64_t total = (uint64_t)mb << 20;
    struct ts_driver *da, *db;
    ts_pair_create(&da, &db, 1 * TS_MS);
    struct ts_config ca, cb;
    config(&ca, 0);
    config(&cb, 1);
    ts_time_t now = 1 * TS_SEC;
    struct ts_stack *a = ts_stack_new(&ca, da, now);
    struct ts_stack *b = ts_stack_new(&cb, db, now);
    struct rec ra = {0}, rb = {0};
    if (!a || !b)
        return -1;
    if (ladders) {
        ra.sl = seglog_new(TS_SEGLOG_CONNS, TS_SEGLOG_ITEMS);
        rb.sl = seglog_new(TS_SEGLOG_CONNS, TS_SEGLOG_ITEMS);
        if (!ra.sl || !rb.sl)
            return -1;
        ts_stack_set_segment_hook(a, on_segment, &ra);
        ts_stack_set_segment_hook(b, on_segment, &rb);
        ts_stack_set_trace(a, on_trace, &ra);
        ts_stack_set_trace(b, on_trace, &rb);
    }
    int err = 0;
    struct ts_tcp_conn *l = ts_tcp_listen(b, 0, 5001, 16, NULL, &err, now);
    struct ts_tcp_conn *c = ts_tcp_connect(a, 0, 0, cb.ip, 5001, NULL, &err, now);
    if (!l || !c)
        return -1;
    static uint8_t src[64 * 1024], dst[64 * 1024];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i % 251);
    struct ts_tcp_conn *srv = NULL;
    uint64_t sent = 0, received = 0;
    double t0 = cpu();
    for (unsigned long iter = 0; received < total; iter++) {
        ts_time_t next = ts_time_min(ts_stack_step(a, now), ts_stack_step(b, now));
        if (!srv)
            srv = ts_tcp_accept(l);
        while (ts_tcp_state(c) == TS_TCP_ESTABLISHED && sent < total) {
            size_t off = (size_t)(sent % sizeof src), n = sizeof src - off;
            if (n > total - sent)
                n = (size_t)(total - sent);
            ssize_t k = ts_tcp_send(c, src + off, n, now);
            if (k <= 0)
                break;
            sent += (uint64_t)k;
        }
        for (ssize_t k; srv && (k = ts_tcp_recv(srv, dst, sizeof dst, now)) > 0;)
            received += (uint64_t)k;
        next = ts_time_min(
            next, ts_time_min(ts_driver_next_deadline(da, now), ts_driver_next_deadline(db, now)));
        if (next == TS_TIME_NEVER || iter > 50000000ul)
            return -1;
        if (next > now)
            now = next;
    }
    res->secs = cpu() - t0;
    res->segments = ts_stack_counter(a, TS_C_TCP_TX) + ts_stack_counter(b, TS_C_TCP_TX);
    res->recorded = ra.segments + rb.segments;
    ts_tcp_close(c, now);
    if (srv)
        ts_tcp_close(srv, now);
    ts_tcp_close(l, now);
    ts_stack_free(a);
    ts_stack_free(b);
    ts_driver_destroy(da);
    ts_driver_destroy(db);
    seglog_free(ra.sl);
    seglog_free(rb.sl);
    return 0;
}

/* The recorder alone: n segments into nconn ladders, in turn. ns per segment. */
static double recorder_ns(uint32_t nconn, uint64_t n)
{
    struct seglog *sl = seglog_new(TS_SEGLOG_CONNS, TS_SEGLOG_ITEMS);
    if (!sl)
        return -1;
    for (uint32_t k = 0; k < nconn; k++) {
        struct ts_trace_event t = {.laddr = 1,
                                   .raddr = 2,
                                   .lport = 80,
                                   .rport = (uint16_t)(1000 + k),
                                   .from = TS_TCP_LISTEN,
                                   .to = TS_TCP_SYN_RECV,
                                   .cause = "rcvd SYN",
                                   .conn_id = k + 1};
        seglog_trace(sl, &t, k + 1);
    }
    struct ts_segment_event e = {.laddr = 1,
                                 .raddr = 2,
                                 .lport = 80,
                                 .flags = TS_SEG_ACK,
                                 .wnd = 512,
                                 .len = 1448,
                                 .mss = -1,
                                 .wscale = -1};
    double t0 = cpu();
    for (uint64_t i = 0; i < n; i++) {
        e.rport = (uint16_t)(1000 + i % nconn);
        e.sent = i & 1;
        e.seq = (uint32_t)i * 1448;
        e.time = (ts_time_t)i;
        seglog_segment(sl, &e);
    }
    double ns = (cpu() - t0) * 1e9 / (double)n;
    seglog_free(sl);
    return ns;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (mb == 0 || mb > 65536 || rounds < 1 || rounds > 50) {
        fprintf(stderr,
                "bench_ladders: usage: bench_ladders [MEGABYTES 1..65536] [ROUNDS 1..50]\n");
        return 2;
    }
    double off[50], on[50];
    struct result r = {0}, ron = {0};
    for (int i = 0; i < rounds; i++) {
        if (run(mb, false, &r) < 0 || run(mb, true, &ron) < 0) {
            fprintf(stderr, "bench_ladders: the transfer failed\n");
            return 1;
        }
        off[i] = r.secs;
        on[i] = ron.secs;
    }
    qsort(off, (size_t)rounds, sizeof *off, cmp);
    qsort(on, (size_t)rounds, sizeof *on, cmp);
    double m_off = off[rounds / 2], m_on = on[rounds / 2];
    printf("bench_ladders: %zu MB A->B, median of %d runs each\n", mb, rounds);
    printf("  %-34s %8.3f s CPU  %8.1f MB/s\n", "no ladders (nobody watching)", m_off,
           (double)mb / m_off);
    printf("  %-34s %8.3f s CPU  %8.1f MB/s\n", "ladders recorded (page opened)", m_on,
           (double)mb / m_on);
    printf("  difference: %+.1f %% of the time; %+.1f ns per segment recorded (%llu recorded, "
           "%llu sent by both stacks)\n",
           (m_on - m_off) / m_off * 100, (m_on - m_off) * 1e9 / (double)ron.recorded,
           (unsigned long long)ron.recorded, (unsigned long long)ron.segments);
    printf("  the recorder alone: %.1f ns per segment on one connection, %.1f ns spread over %d\n",
           recorder_ns(1, 20000000), recorder_ns(TS_SEGLOG_CONNS, 20000000), TS_SEGLOG_CONNS);
    return 0;
}
