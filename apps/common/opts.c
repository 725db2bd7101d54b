/* The shared app layer: common flags, bring-up of tap -> pcap -> fault -> stack, signals, and a
 * single-threaded run loop. See opts.h. */
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "tapstack/stat.h"

/* ---- value helpers ---- */

bool ts_app_parse_u64(const char *val, uint64_t *out)
{
    if (!val || !*val || *val == '-' || *val == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(val, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool ts_app_parse_uint(const char *val, unsigned long min, unsigned long max, unsigned *out)
{
    uint64_t v;
    if (!ts_app_parse_u64(val, &v) || v < min || v > max || v > UINT_MAX)
        return false;
    *out = (unsigned)v;
    return true;
}

bool ts_app_parse_double(const char *val, double min, double max, double *out)
{
    if (!val || !*val)
        return false;
    errno = 0;
    char *end;
    double v = strtod(val, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- the common flags ---- */

static const char *set_tap(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    if (!*val || strlen(val) >= IFNAMSIZ || strchr(val, '/') || strchr(val, ' '))
        return "must be an interface name of 1 to 15 characters";
    snprintf(o->tap, sizeof(o->tap), "%s", val);
    return NULL;
}

static bool gw_given;

static const char *set_ip(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    char addr[32];
    unsigned prefix = 24;
    const char *slash = strchr(val, '/');
    size_t alen = slash ? (size_t)(slash - val) : strlen(val);
    if (alen >= sizeof(addr))
        return "must be an IPv4 address with a prefix length, like 10.0.0.2/24";
    memcpy(addr, val, alen);
    addr[alen] = 0;
    uint32_t ip;
    if (ts_ip_parse(addr, &ip) < 0)
        return "must be an IPv4 address with a prefix length, like 10.0.0.2/24";
    if (slash && !ts_app_parse_uint(slash + 1, 1, 32, &prefix))
        return "the prefix length must be between 1 and 32, like 10.0.0.2/24";
    uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
    if (ip == 0 || (ip >> 28) >= 14 || (ip >> 24) == 127)
        return "must be a unicast address (not 0.0.0.0, loopback, multicast or reserved)";
    if (prefix <= 30 && ((ip & ~mask) == 0 || (ip & ~mask) == ~mask))
        return "is the network or broadcast address of its subnet: pick a host address";
    o->cfg.ip = ip;
    o->cfg.prefix_len = (uint8_t)prefix;
    return NULL;
}

static const char *set_gw(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    uint32_t gw;
    if (ts_ip_parse(val, &gw) < 0)
        return "must be an IPv4 address like 10.0.0.1 (0.0.0.0 for no default route)";
    o->cfg.gateway = gw;
    gw_given = true;
    return NULL;
}

static const char *set_mac(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    uint8_t mac[6];
    if (ts_mac_parse(val, mac) < 0)
        return "must be a MAC address like 02:00:00:00:00:02";
    if (mac[0] & 1)
        return "is a multicast address: the lowest bit of the first byte must be 0 (e.g. 02:...)";
    if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
        return "must not be all zeros";
    memcpy(o->cfg.mac, mac, 6);
    return NULL;
}

static const char *set_mtu(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    unsigned mtu;
    /* RFC 791: every host must take 576-byte datagrams; 9000 is the usual jumbo frame. */
    if (!ts_app_parse_uint(val, 576, 9000, &mtu))
        return "must be a number between 576 and 9000 (the tap's MTU is usually 1500)";
    o->cfg.mtu = (uint16_t)mtu;
    return NULL;
}

static const char *set_pcap(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    if (!*val)
        return "must be a file name";
    o->pcap = val;
    return NULL;
}

static const char *set_msl(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    double sec;
    if (!ts_app_parse_double(val, 0, 3600, &sec))
        return "must be a number of seconds between 0 and 3600 (TIME_WAIT lasts twice that)";
    o->cfg.tcp_msl = (ts_time_t)llround(sec * 1e6);
    return NULL;
}

enum ts_tcp_cc ts_app_host_cc(const char *path)
{
    char name[32] = {0};
    FILE *f = fopen(path, "r");
    if (!f)
        return TS_CC_NEWRENO;
    bool got = fgets(name, sizeof name, f) != NULL;
    fclose(f);
    name[strcspn(name, " \t\n")] = 0;
    enum ts_tcp_cc cc;
    return got && ts_tcp_cc_parse(name, &cc) ? cc : TS_CC_NEWRENO;
}

static const char *set_cc(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    return ts_tcp_cc_parse(val, &o->cfg.tcp_cc) ? NULL : "must be newreno (or reno), cubic or bbr";
}

static const char *set_trace(const char *val, void *ctx)
{
    (void)val;
    ((struct ts_app_opts *)ctx)->trace = true;
    return NULL;
}

static const char *set_control(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    if (!*val)
        return "must be a path for the control socket, or none";
    if (strlen(val) >= 108)
        return "is longer than a Unix socket path may be (107 bytes)";
    o->control = val;
    return NULL;
}

static const char *set_stats(const char *val, void *ctx)
{
    (void)val;
    ((struct ts_app_opts *)ctx)->stats = true;
    return NULL;
}

static const char *set_no_offload(const char *val, void *ctx)
{
    (void)val;
    ((struct ts_app_opts *)ctx)->no_offload = true;
    return NULL;
}

static const char *set_seed(const char *val, void *ctx)
{
    struct ts_app_opts *o = ctx;
    if (!ts_app_parse_u64(val, &o->fault.seed))
        return "must be a non-negative integer";
    return NULL;
}

#define PROB_ERR  "probability must be between 0 and 1"
#define DELAY_ERR "must be a number of milliseconds between 0 and 60000"

static const char *prob(const char *val, double *a, double *b)
{
    double p;
    if (!ts_app_parse_double(val, 0, 1, &p))
        return PROB_ERR;
    *a = p;
    if (b)
        *b = p;
    return NULL;
}

static const char *delay(const char *val, ts_time_t *a, ts_time_t *b)
{
    double ms;
    if (!ts_app_parse_double(val, 0, 60000, &ms))
        return DELAY_ERR;
    *a = (ts_time_t)llround(ms * 1000);
    if (b)
        *b = *a;
    return NULL;
}

#define FAULT_FLAGS(field)                                                                         \
    static const char *set_##field(const char *v, void *c)                                         \
    {                                                                                              \
        struct ts_fault_config *f = &((struct ts_app_opts *)c)->fault;                             \
        return prob(v, &f->in.field, &f->out.field);                                               \
    }                                                                                              \
    static const char *set_##field##_in(const char *v, void *c)                                    \
    {                                                                                              \
        return prob(v, &((struct ts_app_opts *)c)->fault.in.field, NULL);                          \
    }                                                                                              \
    static const char *set_##field##_out(const char *v, void *c)                                   \
    {                                                                                              \
        return prob(v, &((struct ts_app_opts *)c)->fault.out.field, NULL);                         \
    }
FAULT_FLAGS(drop)
FAULT_FLAGS(dup)
FAULT_FLAGS(reorder)
FAULT_FLAGS(corrupt)

static const char *set_delay(const char *v, void *c)
{
    struct ts_fault_config *f = &((struct ts_app_opts *)c)->fault;
    return delay(v, &f->in.delay, &f->out.delay);
}
static const char *set_delay_in(const char *v, void *c)
{
    return delay(v, &((struct ts_app_opts *)c)->fault.in.delay, NULL);
}
static const char *set_delay_out(const char *v, void *c)
{
    return delay(v, &((struct ts_app_opts *)c)->fault.out.delay, NULL);
}

static const char *want_help(const char *val, void *ctx)
{
    (void)val;
    (void)ctx;
    return NULL; /* handled by the parser */
}

static const struct ts_app_flag common_flags[] = {
    {"tap", "NAME", "tap interface to attach to (default tap0)", set_tap},
    {"ip", "ADDR/PREFIX", "the stack's address and subnet (default 10.0.0.2/24)", set_ip},
    {"gw", "ADDR", "default gateway (default: the subnet's .1; 0.0.0.0 = none)", set_gw},
    {"mac", "MAC", "the stack's MAC address (default 02:00:00:00:00:02)", set_mac},
    {"mtu", "N", "IP MTU of the link, 576..9000 (default 1500)", set_mtu},
    {"pcap", "FILE", "write every frame in and out to FILE (pcap; times = monotonic clock)",
     set_pcap},
    {"msl", "SECONDS", "TCP maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 30)", set_msl},
    {"cc", "NAME",
     "TCP congestion control: newreno, cubic (RFC 9438) or bbr (default: the host kernel's, if one "
     "of these, else newreno)",
     set_cc},
    {"trace", NULL, "print every TCP state change, its cause and time in the old state (stderr)",
     set_trace},
    {"stats", NULL, "print the non-zero counters (drops with their reasons) on exit", set_stats},
    {"no-offload", NULL,
     "no checksum/TSO offloads on the tap (switched off on it): one frame per MTU each way",
     set_no_offload},
    {"control", "PATH", "tapstack-stat's Unix socket (default DIR/TAP.sock, printed; none = off)",
     set_control},
    {"drop", "P", "drop frames with probability P, both directions", set_drop},
    {"dup", "P", "duplicate frames with probability P, both directions", set_dup},
    {"reorder", "P", "hold a frame back behind the next one with probability P", set_reorder},
    {"corrupt", "P", "flip one bit past the Ethernet header with probability P", set_corrupt},
    {"delay", "MS", "delay every frame by MS milliseconds, both directions", set_delay},
    {"drop-in", "P", "like --drop, received frames only", set_drop_in},
    {"drop-out", "P", "like --drop, sent frames only", set_drop_out},
    {"dup-in", "P", "like --dup, received frames only", set_dup_in},
    {"dup-out", "P", "like --dup, sent frames only", set_dup_out},
    {"reorder-in", "P", "like --reorder, received frames only", set_reorder_in},
    {"reorder-out", "P", "like --reorder, sent frames only", set_reorder_out},
    {"corrupt-in", "P", "like --corrupt, received frames only", set_corrupt_in},
    {"corrupt-out", "P", "like --corrupt, sent frames only", set_corrupt_out},
    {"delay-in", "MS", "like --delay, received frames only", set_delay_in},
    {"delay-out", "MS", "like --delay, sent frames only", set_delay_out},
    {"seed", "N", "seed of the fault injector's random numbers (default 1)", set_seed},
    {"help", NULL, "print this help and exit", want_help},
    {NULL, NULL, NULL, NULL},
};

static void print_flags(const struct ts_app_flag *t, FILE *f)
{
    for (; t && t->name; t++) {
        char left[48];
        snprintf(left, sizeof(left), "--%s%s%s", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
        fprintf(f, "  %-24s %s\n", left, t->help ? t->help : "");
    }
}

void ts_app_usage(const struct ts_app_spec *spec, FILE *f)
{
    fprintf(f, "usage: %s [options]%s%s\n", spec->name, spec->args ? " " : "",
            spec->args ? spec->args : "");
    if (spec->summary)
        fprintf(f, "%s\n", spec->summary);
    if (spec->flags && spec->flags->name) {
        fprintf(f, "\n%s options:\n", spec->name);
        print_flags(spec->flags, f);
    }
    fprintf(f, "\nstack options (every tapstack app):\n");
    print_flags(common_flags, f);
    fprintf(f, "\nThe tap must exist (sudo tools/tap-setup --user $USER), or run as root.\n");
}

static const struct ts_app_flag *find_flag(const struct ts_app_flag *t, const char *name,
                                           size_t len)
{
    for (; t && t->name; t++)
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            return t;
    return NULL;
}

static _Noreturn void usage_error(const struct ts_app_spec *spec, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", spec->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

void ts_app_parse(const struct ts_app_spec *spec, int argc, char **argv, struct ts_app_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->prog = spec->name;
    snprintf(o->tap, sizeof(o->tap), "tap0");
    ts_config_default(&o->cfg);
    o->cfg.tcp_cc = ts_app_host_cc(TS_APP_HOST_CC);
    o->fault.seed = 1;
    gw_given = false;
    /* TAPSTACK_OFFLOAD=0 makes --no-offload the default: how the tests run every app without
     * offloads (TAPSTACK_OFFLOAD=0 tests/run-integration.sh build). */
    const char *off = getenv("TAPSTACK_OFFLOAD");
    o->no_offload = off && strcmp(off, "0") == 0;

    int npos = 0;
    bool only_pos = false;
    if (spec->rest)
        *spec->rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (spec->rest && (only_pos || a[0] != '-' || a[1] == 0)) {
            *spec->rest = i;
            break;
        }
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (!spec->positional || npos >= spec->max_positional)
                usage_error(spec, "unexpected argument '%s': see %s --help", a, spec->name);
            const char *why = spec->positional(npos, a, spec->ctx);
            if (why)
                usage_error(spec, "%s: %s", a, why);
            npos++;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            ts_app_usage(spec, stdout);
            exit(0);
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        void *ctx = spec->ctx;
        const struct ts_app_flag *fl = find_flag(spec->flags, name, nlen);
        if (!fl) {
            fl = find_flag(common_flags, name, nlen);
            ctx = o;
        }
        if (!fl)
            usage_error(spec, "unknown option %.*s: see %s --help", (int)(nlen + (name - a)), a,
                        spec->name);
        const char *val = NULL;
        if (fl->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                usage_error(spec, "--%s needs a value: --%s %s", fl->name, fl->name, fl->arg);
        } else if (eq) {
            usage_error(spec, "--%s takes no value", fl->name);
        }
        const char *why = fl->handle(val, ctx);
        if (why) {
            if (val)
                usage_error(spec, "--%s %s: %s", fl->name, val, why);
            usage_error(spec, "--%s: %s", fl->name, why);
        }
    }
    if (npos < spec->min_positional)
        usage_error(spec, "missing argument%s: usage: %s [options] %s",
                    spec->min_positional - npos > 1 ? "s" : "", spec->name,
                    spec->args ? spec->args : "");

    uint32_t mask = o->cfg.prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> o->cfg.prefix_len);
    if (!gw_given) {
        /* The host side of a tap set up by tools/tap-setup is the subnet's .1. */
        uint32_t gw = (o->cfg.ip & mask) | 1;
        o->cfg.gateway = (o->cfg.prefix_len <= 30 && gw != o->cfg.ip) ? gw : 0;
    } else if (o->cfg.gateway != 0) {
        char a[16], b[16];
        if ((o->cfg.gateway & mask) != (o->cfg.ip & mask))
            usage_error(spec, "--gw %s: not inside %s/%u: the gateway must be on the local subnet",
                        ts_ip_format(o->cfg.gateway, a), ts_ip_format(o->cfg.ip, b),
                        o->cfg.prefix_len);
        if (o->cfg.gateway == o->cfg.ip)
            usage_error(spec, "--gw %s: that is the stack's own address",
                        ts_ip_format(o->cfg.gateway, a));
    }
    const struct ts_fault_dir *in = &o->fault.in, *out = &o->fault.out;
    o->faults = in->drop > 0 || in->dup > 0 || in->reorder > 0 || in->corrupt > 0 ||
                in->delay > 0 || out->drop > 0 || out->dup > 0 || out->reorder > 0 ||
                out->corrupt > 0 || out->delay > 0;
}

/* ---- time, signals ---- */

ts_time_t ts_app_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts_time_t)ts.tv_sec * TS_SEC + (ts_time_t)ts.tv_nsec / 1000;
}

static volatile sig_atomic_t stop_flag;
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    (void)sig;
    int saved = errno;
    stop_flag = 1;
    if (stop_pipe[1] >= 0) {
        char c = 1;
        ssize_t r = write(stop_pipe[1], &c, 1); /* full pipe: already readable, fine */
        (void)r;
    }
    errno = saved;
}

volatile sig_atomic_t *ts_app_stop_flag(void)
{
    return &stop_flag;
}
int ts_app_stop_fd(void)
{
    return stop_pipe[0];
}

int ts_app_signals_install(void)
{
    if (stop_pipe[0] >= 0)
        return 0;
    if (pipe2(stop_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -1;
    /* A peer that goes away must give EPIPE, not kill the app. */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

void ts_app_request_stop(void)
{
    on_stop_signal(0); /* as SIGTERM would: the flag, and the stop fd readable */
}

/* ---- bring-up ---- */

void ts_app_trace_print(void *arg, const struct ts_trace_event *ev)
{
    (void)arg;
    /* The line tapstack-stat --trace prints (stat.h): with the time spent in the old state. */
    char line[320];
    size_t n = ts_stat_trace_line(ev, line, sizeof(line));
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    fprintf(stderr, "%.*s\n", (int)n, line);
    fflush(stderr);
}

static void fault_desc(const struct ts_fault_dir *d, const char *dir, char *buf, size_t cap)
{
    size_t n = strlen(buf);
    if (n >= cap)
        return;
    snprintf(buf + n, cap - n, " %s(drop %g dup %g reorder %g corrupt %g delay %gms)", dir, d->drop,
             d->dup, d->reorder, d->corrupt, (double)d->delay / 1000);
}

int ts_app_bringup(const struct ts_app_opts *o, struct ts_app *app)
{
    memset(app, 0, sizeof(*app));
    app->opts = o;
    struct ts_config cfg = o->cfg;

    /* RFC 6528: the ISN hash key must be secret and unpredictable: fresh at every start. */
    size_t got = 0;
    while (got < sizeof(cfg.secret)) {
        ssize_t r = getrandom(cfg.secret + got, sizeof(cfg.secret) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "%s: getrandom failed: %s\n", o->prog, strerror(errno));
            return -1;
        }
        got += (size_t)r;
    }

    if (!o->no_signals && ts_app_signals_install() < 0) {
        fprintf(stderr, "%s: cannot install signal handlers: %s\n", o->prog, strerror(errno));
        return -1;
    }

    bool existed = if_nametoindex(o->tap) != 0;
    char err[256];
    struct ts_driver *d = ts_tap_open_ex(o->tap, !o->no_offload, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "%s: %s\n", o->prog, err);
        return -1;
    }
    if (o->pcap) {
        struct ts_driver *p = ts_pcap_wrap(d, o->pcap, err, sizeof(err));
        if (!p) {
            fprintf(stderr, "%s: %s\n", o->prog, err);
            ts_driver_destroy(d);
            return -1;
        }
        d = p;
    }
    if (o->faults) {
        struct ts_driver *f = ts_fault_wrap(d, &o->fault);
        if (!f) {
            fprintf(stderr, "%s: out of memory\n", o->prog);
            ts_driver_destroy(d);
            return -1;
        }
        d = f;
        app->fault = f;
    }
    app->drv = d;

    app->stack = ts_stack_new(&cfg, d, ts_app_now());
    if (!app->stack) {
        fprintf(stderr, "%s: cannot create the stack (bad configuration or out of memory)\n",
                o->prog);
        ts_driver_destroy(d);
        app->drv = NULL;
        return -1;
    }
    if (o->trace)
        ts_stack_set_trace(app->stack, ts_app_trace_print, NULL);

    char ip[16], gw[16], mac[18], faults[256] = "";
    if (o->faults) {
        fault_desc(&o->fault.in, "in", faults, sizeof(faults));
        fault_desc(&o->fault.out, "out", faults, sizeof(faults));
    }
    unsigned off = ts_driver_offloads(d);
    fprintf(stderr, "%s: up on %s as %s/%u, gateway %s, MAC %s, MTU %u, offloads %s%s%s%s%s\n",
            o->prog, o->tap, ts_ip_format(cfg.ip, ip), cfg.prefix_len,
            cfg.gateway ? ts_ip_format(cfg.gateway, gw) : "none", ts_mac_format(cfg.mac, mac),
            cfg.mtu,
            (off & TS_OFFLOAD_USO4)   ? "csum+tso4+uso4"
            : (off & TS_OFFLOAD_TSO4) ? "csum+tso4"
            : (off & TS_OFFLOAD_CSUM) ? "csum"
            : o->no_offload           ? "off"
                                      : "none (kernel or fault injector)",
            o->pcap ? ", capturing to " : "", o->pcap ? o->pcap : "", o->faults ? ", faults:" : "",
            faults);
    if (!existed)
        fprintf(stderr,
                "%s: note: %s did not exist, so it was created and disappears on exit; the host "
                "side has no address until: ip addr add %s/%u dev %s && ip link set %s up\n",
                o->prog, o->tap, cfg.gateway ? gw : "ADDR", cfg.prefix_len, o->tap, o->tap);
    fflush(stderr);
    return 0;
}

void ts_app_print_exit_stats(const struct ts_app *app, const struct ts_stack *s)
{
    struct ts_fault_stats st;
    if (app->fault && ts_fault_stats(app->fault, &st) == 0)
        fprintf(stderr,
                "%s: fault injector: %llu dropped, %llu duplicated, %llu reordered, %llu "
                "corrupted, %llu delayed\n",
                app->opts->prog, (unsigned long long)st.dropped, (unsigned long long)st.duplicated,
                (unsigned long long)st.reordered, (unsigned long long)st.corrupted,
                (unsigned long long)st.delayed);
    if (s && app->opts->stats) {
        size_t need = ts_stack_counters_format(s, NULL, 0, false);
        char *buf = malloc(need + 1);
        if (buf) {
            ts_stack_counters_format(s, buf, need + 1, false);
            fprintf(stderr, "%s: counters:\n%s", app->opts->prog, buf);
            free(buf);
        }
    }
    fflush(stderr);
}

void ts_app_teardown(struct ts_app *app)
{
    if (!app)
        return;
    /* Once a runtime took the stack and drivers over (both NULL here), it printed them. */
    if (app->opts && (app->stack || app->drv))
        ts_app_print_exit_stats(app, app->stack);
    if (app->stack)
        ts_stack_free(app->stack);
    if (app->drv)
        ts_driver_destroy(app->drv);
    app->stack = NULL;
    app->drv = NULL;
    app->fault = NULL;
}
