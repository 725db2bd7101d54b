/* The command-line and bring-up layer shared by every tapstack app.
 *
 * Every app accepts the common stack flags (see ts_app_usage or any app's --help):
 *   --tap NAME  --ip ADDR/PREFIX  --gw ADDR  --mac MAC  --mtu N  --pcap FILE  --msl SECONDS
 *   --drop P  --dup P  --reorder P  --corrupt P  --delay MS  --seed N   (both directions)
 *   --drop-in P --drop-out P ... --delay-in MS --delay-out MS            (one direction)
 *   --trace  --stats  --no-offload  --control PATH|none  --help
 * and adds its own through a table of struct ts_app_flag. A bad value gets one line saying what
 * is wrong and how to fix it, and exit status 2.
 *
 * An app looks like this:
 *
 *     struct my { unsigned port; };
 *     static const char *set_port(const char *val, void *ctx)
 *     {
 *         struct my *m = ctx;
 *         return ts_app_parse_uint(val, 1, 65535, &m->port) ? NULL : "must be a port 1..65535";
 *     }
 *     static const struct ts_app_flag flags[] = {
 *         {"port", "N", "TCP and UDP port to serve (default 7)", set_port},
 *         {0},
 *     };
 *     int main(int argc, char **argv)
 *     {
 *         struct my m = {.port = 7};
 *         struct ts_app_spec spec = {.name = "tapstack-echo-server",
 *                                    .summary = "TCP and UDP echo (RFC 862)",
 *                                    .flags = flags, .ctx = &m};
 *         struct ts_app_opts o;
 *         ts_app_parse(&spec, argc, argv, &o);       // exits on --help or a bad flag
 *         struct ts_app app;
 *         if (ts_app_bringup(&o, &app) < 0)          // one line already printed
 *             return 1;
 *         struct ts_runtime *rt = nio_runtime_start(&app);  // netio.h: the socket runtime
 *         ... serve with ts_socket() & co until *ts_app_stop_flag() ...
 *         nio_runtime_stop(rt, &app);
 *         ts_app_teardown(&app);
 *     }
 *
 * Signals: ts_app_bringup installs SIGINT/SIGTERM handlers that set a flag and make
 * ts_app_stop_fd() readable (a self-pipe), so a loop in poll/epoll wakes at once. SIGPIPE is
 * ignored. Messages go to stderr (stdout stays free for an app's data), each flushed. */
#ifndef TAPSTACK_APPS_OPTS_H
#define TAPSTACK_APPS_OPTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tapstack/driver.h"
#include "tapstack/stack.h"

/* One app-specific flag, written --NAME VALUE or --NAME=VALUE (or just --NAME when arg is NULL).
 * handle() stores the value in ctx (the spec's ctx) and returns NULL, or a short text saying what
 * is wrong with it ("must be a port number between 1 and 65535"); the parser then prints
 * "PROG: --NAME VALUE: TEXT" and exits 2. For a flag without an argument val is NULL. */
struct ts_app_flag {
    const char *name; /* without the dashes: "port" */
    const char *arg;  /* what the value is called in --help ("N", "FILE"), NULL = no value */
    const char *help; /* one line for --help */
    const char *(*handle)(const char *val, void *ctx);
};

struct ts_app_spec {
    const char *name;    /* program name for messages: "tapstack-echo-server" */
    const char *summary; /* one line for --help */
    const char *args;    /* positional arguments for the usage line ("HOST PORT"), or NULL */
    const struct ts_app_flag *flags; /* app flags, ended by an entry with name NULL; may be NULL */
    /* Positional arguments in order (index 0, 1, ...); returns NULL or what is wrong, as above.
     * NULL means the app takes none. */
    const char *(*positional)(int index, const char *val, void *ctx);
    int min_positional, max_positional;
    void *ctx; /* passed to every handler */
    /* When not NULL, the options end at the first argument that is not one (or after "--"):
     * its index goes to *rest (argc when there is none) and the rest is left alone, for a
     * launcher's PROGRAM ARGS (tapstack-run). */
    int *rest;
};

/* Everything the common flags set. */
struct ts_app_opts {
    const char *prog;
    char tap[16];
    struct ts_config
        cfg;          /* ip, prefix, gateway, mac, mtu, tcp_msl; defaults from ts_config_default */
    const char *pcap; /* NULL = no capture */
    struct ts_fault_config fault;
    bool faults; /* any fault flag given: wrap the driver in the fault injector */
    bool trace;
    bool stats; /* --stats: print the non-zero counters on exit (ts_app_teardown) */
    /* --no-offload (or TAPSTACK_OFFLOAD=0 in the environment): the tap without IFF_VNET_HDR,
     * offloads switched off */
    bool no_offload;
    /* --control: the control socket's path; NULL = the default for the tap, "none" = none */
    const char *control;
    /* Set by the caller after ts_app_parse: ts_app_bringup leaves the signals alone (no
     * SIGINT/SIGTERM handlers, SIGPIPE not ignored), for a stack inside another program. */
    bool no_signals;
};

/* Parse argv. Exits 0 after printing --help, 2 after one line about a bad flag. */
void ts_app_parse(const struct ts_app_spec *spec, int argc, char **argv, struct ts_app_opts *o);
/* The --help text (common and app flags) to f. */
void ts_app_usage(const struct ts_app_spec *spec, FILE *f);

/* Value helpers for handlers: true on success. */
bool ts_app_parse_uint(const char *val, unsigned long min, unsigned long max, unsigned *out);
bool ts_app_parse_u64(const char *val, uint64_t *out);
bool ts_app_parse_double(const char *val, double min, double max, double *out);
/* The congestion control the programs start with: the host kernel's default, read from path
 * (TS_APP_HOST_CC: net.ipv4.tcp_congestion_control), when tapstack has it (reno, cubic, bbr);
 * else NewReno. So a program on tapstack sends as the host's own sockets would. */
#define TS_APP_HOST_CC "/proc/sys/net/ipv4/tcp_congestion_control"
enum ts_tcp_cc ts_app_host_cc(const char *path);

/* A running app: the stack on its driver chain tap -> [pcap] -> [fault]. */
struct ts_app {
    const struct ts_app_opts *opts;
    struct ts_stack *stack;
    struct ts_driver *drv;   /* the outermost driver: the one the stack sends through */
    struct ts_driver *fault; /* the fault wrapper (== drv) when faults are on, else NULL */
};

/* Fill the secret from getrandom, open the tap, wrap pcap and fault, create the stack at the
 * current CLOCK_MONOTONIC time, install the --trace printer and the signal handlers, and print
 * one line saying where the stack is up. Returns 0, or -1 after printing one line with the fix. */
int ts_app_bringup(const struct ts_app_opts *o, struct ts_app *app);
/* Free the stack, then the drivers (closing the pcap file); prints fault statistics if any, and
 * with --stats the non-zero counters.
 * Safe on a zeroed app. When a socket runtime took over the stack and driver (it frees them),
 * set app->stack and app->drv to NULL first. */
void ts_app_teardown(struct ts_app *app);
/* What teardown prints: the fault injector's statistics, and with --stats the non-zero
 * counters of s (may be NULL). nio_runtime_stop calls it under the runtime's lock. */
void ts_app_print_exit_stats(const struct ts_app *app, const struct ts_stack *s);

/* CLOCK_MONOTONIC in microseconds: the clock every app gives the stack. */
ts_time_t ts_app_now(void);

/* The stop flag set by SIGINT/SIGTERM, and an fd that becomes readable at the same moment. */
volatile sig_atomic_t *ts_app_stop_flag(void);
int ts_app_stop_fd(void);
/* Install the handlers (ts_app_bringup does it; idempotent). Returns 0 or -1. */
int ts_app_signals_install(void);
/* Stop as SIGTERM would (set the flag, wake the stop fd): for a reason found inside the app. */
void ts_app_request_stop(void);

/* Print the --trace line of an event to stderr (what ts_app_bringup installs with --trace, and
 * nio_runtime_start chains after the runtime's recorder): tapstack-stat --trace's format. */
void ts_app_trace_print(void *arg, const struct ts_trace_event *ev);

#endif
