/* tapstack-two-stacks: two tapstack stacks in one process, joined by the in-memory pair link and
 * run on a virtual clock, open one connection to each other at the same instant and later close
 * it at the same instant: the two rare paths of the TCP state diagram, made to happen every time.
 *
 *   simultaneous open   CLOSE -> SYN_SENT -> SYN_RECV -> ESTABLISHED   on both stacks
 *   simultaneous close  ESTABLISHED -> FIN_WAIT1 -> CLOSING -> TIME_WAIT -> CLOSE   on both
 *
 * On a real network both SYNs (or both FINs) must be in flight at once, which is a matter of
 * luck; here the link takes --latency of virtual time each way and both sides act at the same
 * virtual instant, so the segments always cross. It prints every state change of both stacks
 * (the --trace line, prefixed A or B) and both connection tables at each moment of interest.
 *
 * It is also the smallest example of the core API with no socket shim and no threads: a driver,
 * ts_stack_new, ts_tcp_connect/ts_tcp_close, and a loop that calls ts_stack_step at each event
 * of the virtual clock (what the unit tests' harness does). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/opts.h"
#include "tapstack/stat.h"
#include "tapstack/tcp.h"

#define PORT_A 5000
#define PORT_B 6000
/* Where the timer column starts: after tapstack-stat's State column (68 + the longest state). */
#define TABLE_TIMER_COL 79

static struct {
    ts_time_t latency, msl;
    double pace; /* real seconds to pause between moments, so a reader can follow */
    struct ts_stack *st[2];
    struct ts_driver *drv[2];
    ts_time_t now;
} W = {.latency = 20 * TS_MS, .msl = 1 * TS_SEC};

static const char side_name[2] = {'A', 'B'};

/* The trace line, as tapstack-stat --trace and the apps' --trace print it (with the time spent in
 * the old state), prefixed by the stack's letter. */
static void on_trace(void *arg, const struct ts_trace_event *ev)
{
    char line[256];
    ts_stat_trace_line(ev, line, sizeof line);
    printf("  %c  %s\n", *(const char *)arg, line);
}

/* One side's connections in tapstack-stat's layout (its formatter), each row prefixed by the
 * stack's letter and followed by the running timer and its time left. */
static void print_table(int i)
{
    struct ts_tcp_info t[8];
    size_t n = ts_tcp_table(W.st[i], t, 8, W.now);
    if (n == 0) {
        printf("  %c  (no connections)\n", side_name[i]);
        return;
    }
    struct ts_stat_sockets ss = {.now = W.now, .tcp = t, .ntcp = n < 8 ? n : 8};
    struct ts_sbuf b = {0};
    ts_stat_fmt_sockets(&b, &ss, TS_STAT_TCP | TS_STAT_CONNS);
    size_t row = 0;
    for (char *line = b.p, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        if (strncmp(line, "tcp ", 4) != 0)
            continue; /* the title and the column header: printed once by moment() */
        if (row < ss.ntcp && t[row].timer) /* State is the last column: pad it, then the timer */
            printf("  %c  %-*.*s %s %.3fs\n", side_name[i], TABLE_TIMER_COL, len, line,
                   t[row].timer_name, (double)t[row].timer / TS_SEC);
        else
            printf("  %c  %.*s\n", side_name[i], len, line);
        row++;
    }
    ts_sbuf_free(&b);
}

static void moment(const char *what)
{
    fflush(stdout);
    if (W.pace > 0)
        nanosleep(&(struct timespec){.tv_sec = (time_t)W.pace,
                                     .tv_nsec = (long)((W.pace - floor(W.pace)) * 1e9)},
                  NULL);
    printf("\n-- t=%.3f s (virtual): %s\n", (double)W.now / TS_SEC, what);
    printf("     %-*s %s\n", TABLE_TIMER_COL,
           "Proto Recv-Q Send-Q Local Address           Foreign Address         State", "Timer");
    print_table(0);
    print_table(1);
    fflush(stdout);
}

/* Deliver every frame and run every timer due now, on both sides, until nothing more happens at
 * this instant. Returns the next event time. */
static ts_time_t settle(void)
{
    for (int round = 0; round < 1000; round++) {
        ts_time_t a = ts_stack_step(W.st[0], W.now);
        ts_time_t b = ts_stack_step(W.st[1], W.now);
        ts_time_t next = ts_time_min(a, b);
        /* B's step may have sent A a frame after A's step computed its deadline. */
        next = ts_time_min(next, ts_driver_next_deadline(W.drv[0], W.now));
        next = ts_time_min(next, ts_driver_next_deadline(W.drv[1], W.now));
        if (next > W.now)
            return next;
    }
    return W.now + 1;
}

/* Move the virtual clock event by event until both connections are in `want` (or, for
 * TS_TCP_CLOSE, gone from both tables), at most `max`. */
static bool run_until(enum ts_tcp_state want, ts_time_t max)
{
    ts_time_t end = W.now + max;
    for (;;) {
        ts_time_t next = settle();
        int done = 0;
        for (int i = 0; i < 2; i++) {
            struct ts_tcp_info t[8];
            size_t n = ts_tcp_table(W.st[i], t, 8, W.now);
            done += want == TS_TCP_CLOSE ? n == 0 : n == 1 && t[0].state == want;
        }
        if (done == 2)
            return true;
        if (next > end)
            return false;
        W.now = next;
    }
}

/* Let `d` of virtual time pass, handling whatever happens meanwhile. */
static void run_for(ts_time_t d)
{
    ts_time_t end = W.now + d;
    for (ts_time_t next = settle(); next <= end; next = settle())
        W.now = next;
    W.now = end;
    settle();
}

static bool setup(void)
{
    ts_pair_create(&W.drv[0], &W.drv[1], W.latency);
    for (int i = 0; i < 2; i++) {
        struct ts_config cfg;
        ts_config_default(&cfg);
        cfg.mac[5] = (uint8_t)(i + 1);
        cfg.ip = 0x0a000001u + (uint32_t)i; /* 10.0.0.1 and 10.0.0.2 */
        cfg.gateway = 0;
        cfg.tcp_msl = W.msl;
        /* A fixed secret: the same initial sequence numbers every run, so the output is too. */
        memset(cfg.secret, 0x5a + i, sizeof cfg.secret);
        W.st[i] = ts_stack_new(&cfg, W.drv[i], W.now);
        if (!W.st[i])
            return false;
        ts_stack_set_trace(W.st[i], on_trace, (void *)&side_name[i]);
    }
    return true;
}

static const char *set_latency(const char *val, void *ctx)
{
    (void)ctx;
    double ms;
    if (!ts_app_parse_double(val, 0.001, 10000, &ms))
        return "must be a number of milliseconds between 0.001 and 10000";
    W.latency = (ts_time_t)llround(ms * 1000);
    return NULL;
}
static const char *set_msl(const char *val, void *ctx)
{
    (void)ctx;
    double s;
    if (!ts_app_parse_double(val, 0.001, 3600, &s))
        return "must be a number of seconds between 0.001 and 3600";
    W.msl = (ts_time_t)llround(s * 1e6);
    return NULL;
}
static const char *set_pace(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_double(val, 0, 10, &W.pace) ? NULL : "must be 0..10 seconds";
}

static const struct ts_app_flag flags[] = {
    {"latency", "MS", "one-way delay of the virtual link (default 20)", set_latency},
    {"msl", "SECONDS", "maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 1)", set_msl},
    {"pace", "SECONDS", "real time to pause before each moment is shown (default 0)", set_pace},
    {0},
};

static int fail(const char *what)
{
    printf("\ntapstack-two-stacks: %s did not happen\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    /* Only its own flags: there is no tap, so the common stack flags do not apply. */
    for (int i = 1; i < argc; i++) {
        const struct ts_app_flag *f = NULL;
        const char *a = argv[i];
        for (const struct ts_app_flag *t = flags; t->name; t++)
            if (strncmp(a, "--", 2) == 0 && strcmp(a + 2, t->name) == 0)
                f = t;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: tapstack-two-stacks [--latency MS] [--msl SECONDS] [--pace SECONDS]\n"
                   "Two stacks in one process (10.0.0.1 = A, 10.0.0.2 = B) on a virtual clock:\n"
                   "a simultaneous open, then a simultaneous close, with both traces.\n");
            return 0;
        }
        if (!f || i + 1 >= argc) {
            fprintf(stderr, "tapstack-two-stacks: %s: %s (see --help)\n", a,
                    f ? "needs a value" : "unknown option");
            return 2;
        }
        const char *why = f->handle(argv[++i], NULL);
        if (why) {
            fprintf(stderr, "tapstack-two-stacks: %s %s: %s\n", a, argv[i], why);
            return 2;
        }
    }

    W.now = 1 * TS_SEC; /* the virtual clock starts at 1 s (0 reads as "unset" to nobody) */
    if (!setup()) {
        fprintf(stderr, "tapstack-two-stacks: cannot create the stacks (out of memory)\n");
        return 1;
    }
    settle(); /* the gratuitous ARPs */
    printf("A = 10.0.0.1, B = 10.0.0.2, joined by an in-memory link with %.3f ms one-way delay; "
           "a virtual clock; MSL %.3f s\n",
           (double)W.latency / TS_MS, (double)W.msl / TS_SEC);
    printf("\nA connects 10.0.0.1:%u -> 10.0.0.2:%u and B connects 10.0.0.2:%u -> 10.0.0.1:%u, "
           "at the same instant:\n",
           PORT_A, PORT_B, PORT_B, PORT_A);
    int err = 0, rc = 0;
    struct ts_tcp_conn *c[2];
    c[0] = ts_tcp_connect(W.st[0], 0, PORT_A, 0x0a000002u, PORT_B, NULL, &err, W.now);
    c[1] = c[0] ? ts_tcp_connect(W.st[1], 0, PORT_B, 0x0a000001u, PORT_A, NULL, &err, W.now) : NULL;
    if (!c[0] || !c[1]) {
        fprintf(stderr, "tapstack-two-stacks: connect failed: %s\n", strerror(err));
        rc = 1;
        goto out;
    }
    moment("both SYNs are on their way");
    if (!run_until(TS_TCP_SYN_RECV, 5 * TS_SEC)) {
        rc = fail("SYN_RECV on both sides");
        goto out;
    }
    moment("each got the other's SYN while waiting for a SYN-ACK: both answer SYN-ACK");
    if (!run_until(TS_TCP_ESTABLISHED, 5 * TS_SEC)) {
        rc = fail("ESTABLISHED on both sides");
        goto out;
    }
    moment("each got an ACK of its SYN: open");

    run_for(1 * TS_SEC);
    printf("\nOne second later (virtual), A and B close at the same instant:\n");
    ts_tcp_close(c[0], W.now);
    ts_tcp_close(c[1], W.now);
    moment("both FINs are on their way");
    if (!run_until(TS_TCP_CLOSING, 5 * TS_SEC)) {
        rc = fail("CLOSING on both sides");
        goto out;
    }
    moment("each got the other's FIN before the ACK of its own");
    if (!run_until(TS_TCP_TIME_WAIT, 5 * TS_SEC)) {
        rc = fail("TIME_WAIT on both sides");
        goto out;
    }
    moment("each got the ACK of its FIN; both closed first, so both wait 2*MSL");
    if (!run_until(TS_TCP_CLOSE, 2 * W.msl + 5 * TS_SEC)) {
        rc = fail("CLOSE on both sides");
        goto out;
    }
    moment("2*MSL later: both connections are gone");
out:
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        if (W.st[i])
            ts_stack_free(W.st[i]);
        ts_driver_destroy(W.drv[i]);
    }
    return rc;
}
