/* tapstack-stat: netstat for a running tapstack. It asks a stack's control socket
 * (include/tapstack/control.h has the protocol) and prints the answer: the socket table in
 * netstat -tan's layout, the internals of each connection, the counters, the state changes as
 * they happen (in the manner of bcc's tcpstates, with their causes) and the connections that
 * ended lately with their whole path of states.
 *
 * Which stack: --control PATH, or --tap NAME (NAME.sock in the directories of
 * ts_control_search_dirs), or with neither the one stack whose socket is there; none or several
 * are said in one line (several are listed). Exit status: 0, 1 when no stack could be asked or it
 * answered an error, 2 for a bad flag. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tapstack/control.h"

#define PROG         "tapstack-stat"
#define TIMEOUT_MS   10000
#define MAX_STACKS   32
#define START_ADVICE "start one, e.g. sudo make run, or build/bin/tapstack-httpd"

struct opts {
    bool all, listen, tcp, udp, info, stats, cont, json, trace, explain, history, full, summary;
    unsigned history_n;
    const char *tap, *control;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, ": see " PROG " --help\n");
    exit(2);
}

static void usage(void)
{
    printf(
        "usage: " PROG " [-altuni] [-s] [-c] [--json] [--trace [--explain]] [--history[=N]]\n"
        "                     [--full | --summary] [--tap NAME | --control PATH]\n"
        "Show the sockets of a running tapstack the way netstat -tan shows the kernel's.\n"
        "\n"
        "  -a, --all          listeners too (default, as netstat: connections only)\n"
        "  -l, --listening    listeners only\n"
        "  -t, --tcp          TCP only\n"
        "  -u, --udp          UDP only\n"
        "  -n, --numeric      accepted (addresses are always numeric)\n"
        "  -i, --info         each connection's internals: id, time in its state, running\n"
        "                     timer and time left, rto, srtt, rttvar, cwnd, ssthresh,\n"
        "                     congestion control (BBR: its bandwidth, min RTT, state),\n"
        "                     snd.una/nxt/wnd, rcv.nxt/wnd, bytes, segments, retransmits\n"
        "  -s, --statistics   the counters, every drop with its reason (-a: zero ones too)\n"
        "  -c, -w, --continuous  refresh every second (Ctrl-C stops)\n"
        "      --full         every TCP row (by default the first 1000, and a last line\n"
        "                     '# more: offset=N of TOTAL TCP rows' when there are more)\n"
        "      --summary      TCP connections counted per state, with their memory (quick\n"
        "                     with 100 000 connections)\n"
        "      --json         one JSON document (keys: include/tapstack/stat.h)\n"
        "      --trace        follow TCP state changes live, one line each: time, local >\n"
        "                     remote, old -> new, (cause), time spent in the old state\n"
        "      --explain      with --trace: a sentence on what each new state means\n"
        "      --history[=N]  the last N (default 20) connections that ended, each with\n"
        "                     its path of states, the time in each and the causes\n"
        "      --tap NAME     the stack on tap NAME\n"
        "      --control PATH the stack serving that control socket\n"
        "  -h, --help         this text\n"
        "\n"
        "With one tapstack running no flag is needed. Its control socket is in\n"
        "$TAPSTACK_RUN_DIR, or $XDG_RUNTIME_DIR/tapstack, /run/tapstack or /tmp/tapstack-UID.\n");
}

static bool short_flag(char f, struct opts *o)
{
    switch (f) {
    case 'a':
        o->all = true;
        break;
    case 'l':
        o->listen = true;
        break;
    case 't':
        o->tcp = true;
        break;
    case 'u':
        o->udp = true;
        break;
    case 'n':
        break;
    case 'i':
        o->info = true;
        break;
    case 's':
        o->stats = true;
        break;
    case 'c':
    case 'w':
        o->cont = true;
        break;
    default:
        return false;
    }
    return true;
}

static const char *long_flag(const char *a, struct opts *o, int *i, int argc, char **argv)
{
    static const struct {
        const char *name;
        char f;
    } alias[] = {{"all", 'a'},     {"listening", 'l'}, {"tcp", 't'},        {"udp", 'u'},
                 {"numeric", 'n'}, {"info", 'i'},      {"statistics", 's'}, {"continuous", 'c'}};
    for (size_t k = 0; k < sizeof alias / sizeof alias[0]; k++)
        if (!strcmp(a, alias[k].name))
            return short_flag(alias[k].f, o) ? NULL : a;
    if (!strcmp(a, "json"))
        o->json = true;
    else if (!strcmp(a, "trace"))
        o->trace = true;
    else if (!strcmp(a, "explain"))
        o->explain = true;
    else if (!strcmp(a, "history"))
        o->history = true;
    else if (!strcmp(a, "full"))
        o->full = true;
    else if (!strcmp(a, "summary"))
        o->summary = true;
    else if (!strncmp(a, "history=", 8)) {
        char *end;
        long v = strtol(a + 8, &end, 10);
        if (!a[8] || *end || v < 1 || v > TS_CONTROL_HISTORY) {
            fprintf(stderr, PROG ": --%s: N must be a number of connections, 1..%d\n", a,
                    TS_CONTROL_HISTORY);
            exit(2);
        }
        o->history = true;
        o->history_n = (unsigned)v;
    } else if (!strcmp(a, "tap") || !strcmp(a, "control") || !strncmp(a, "tap=", 4) ||
               !strncmp(a, "control=", 8)) {
        const char *eq = strchr(a, '=');
        const char *val = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
        if (!val || !*val) {
            fprintf(stderr, PROG ": --%.*s needs a value\n", (int)(eq ? eq - a : (long)strlen(a)),
                    a);
            exit(2);
        }
        if (a[0] == 't') {
            if (strchr(val, '/') || strlen(val) > 15) {
                fprintf(stderr,
                        PROG ": --tap %s: must be an interface name of 1 to 15 characters\n", val);
                exit(2);
            }
            o->tap = val;
        } else {
            if (strlen(val) >= TS_CONTROL_PATH_MAX) {
                fprintf(stderr, PROG ": --control %s: longer than a Unix socket path may be\n",
                        val);
                exit(2);
            }
            o->control = val;
        }
    } else if (!strcmp(a, "help")) {
        usage();
        exit(0);
    } else {
        return a;
    }
    return NULL;
}

static void parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->history_n = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            const char *bad = long_flag(a + 2, o, &i, argc, argv);
            if (bad)
                usage_error("unknown option --%s", bad);
        } else if (a[0] == '-' && a[1]) {
            if (!strcmp(a, "-h")) {
                usage();
                exit(0);
            }
            for (const char *f = a + 1; *f; f++)
                if (!short_flag(*f, o)) {
                    char s[3] = {'-', *f, 0};
                    usage_error("unknown option %s", s);
                }
        } else {
            usage_error("unexpected argument '%s'", a);
        }
    }
    int modes = o->trace + o->history + o->stats + o->summary;
    if (modes > 1 || (o->full && (modes || o->cont))) {
        fprintf(stderr, PROG ": pick one of --trace, --history, --summary, --full and -s (-c "
                             "goes without --full)\n");
        exit(2);
    }
    if (o->explain && !o->trace) {
        fprintf(stderr, PROG ": --explain goes with --trace\n");
        exit(2);
    }
    if (o->tap && o->control) {
        fprintf(stderr, PROG ": give --tap or --control, not both\n");
        exit(2);
    }
    if (o->cont && (o->trace || o->history)) {
        fprintf(stderr, PROG ": -c refreshes the table or the counters; --trace follows on its "
                             "own\n");
        exit(2);
    }
}

/* ---------------------------------------------------------------- talking to a stack */

struct conn {
    int fd;
    char buf[65536];
    size_t len, off;
};

/* Connect; on failure *err says why (errno). */
static int dial(const char *path, int *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

/* Read more into c->buf. 1, 0 at EOF, -1 on error/timeout/stop (errno). */
static int fill(struct conn *c, int timeout_ms)
{
    if (c->off == c->len)
        c->off = c->len = 0;
    if (c->len == sizeof c->buf) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    for (;;) {
        if (stop) {
            errno = EINTR;
            return -1;
        }
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (r < 0)
            return -1;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        c->len += (size_t)n;
        return n > 0;
    }
}

/* One line (without "\n") into out. 0, or -1 (EOF: errno = EPIPE). */
static int read_line(struct conn *c, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
        if (nl) {
            size_t n = (size_t)(nl - (c->buf + c->off));
            snprintf(out, cap, "%.*s", (int)n, c->buf + c->off);
            c->off += n + 1;
            return 0;
        }
        int r = fill(c, TIMEOUT_MS);
        if (r == 0)
            errno = EPIPE;
        if (r <= 0)
            return -1;
    }
}

static int send_req(struct conn *c, const char *req)
{
    size_t n = strlen(req);
    while (n) {
        ssize_t w = send(c->fd, req, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        req += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send a request and take its "ok LENGTH" answer: the body goes to out (if given) or stdout.
 * Returns 0, 1 after printing the error, -1 when the connection failed (errno). */
static int request(struct conn *c, const char *req, FILE *out, const char *path)
{
    char line[512];
    /* A stack that turns us away says why before it closes: read even if sending failed. */
    int sent = send_req(c, req), serr = errno;
    if (read_line(c, line, sizeof line) < 0) {
        if (sent < 0)
            errno = serr;
        return -1;
    }
    if (!strncmp(line, "error ", 6)) {
        fprintf(stderr, PROG ": %s answered: %s\n", path, line + 6);
        return 1;
    }
    char *end;
    unsigned long long len = strncmp(line, "ok ", 3) ? 0 : strtoull(line + 3, &end, 10);
    if (strncmp(line, "ok ", 3) || *end) {
        fprintf(stderr,
                PROG ": %s answered something else than tapstack's control protocol: %.80s\n", path,
                line);
        return 1;
    }
    while (len > 0) {
        if (c->off == c->len) {
            int r = fill(c, TIMEOUT_MS);
            if (r == 0)
                errno = EPIPE;
            if (r <= 0)
                return -1;
        }
        size_t n = c->len - c->off < len ? c->len - c->off : (size_t)len;
        fwrite(c->buf + c->off, 1, n, out ? out : stdout);
        c->off += n;
        len -= n;
    }
    return 0;
}

/* ---------------------------------------------------------------- finding the stack */

struct found {
    char path[TS_CONTROL_PATH_MAX];
    bool dir; /* a search directory we may not read (root's), not a socket */
};

/* Live control sockets in the search directories (stale ones, nobody listening, skipped). */
static size_t scan(struct found *f, size_t max, char dirs[][TS_CONTROL_PATH_MAX], size_t *ndirs)
{
    *ndirs = ts_control_search_dirs(dirs, 4);
    size_t n = 0;
    for (size_t d = 0; d < *ndirs; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) {
            if (errno == EACCES && n < max) { /* root's directory: said if nothing else is found */
                if (snprintf(f[n].path, sizeof f[n].path, "%s", dirs[d]) < (int)sizeof f[n].path)
                    f[n++].dir = true;
            }
            continue;
        }
        struct dirent *e;
        while ((e = readdir(dp)) && n < max) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
                continue;
            char p[TS_CONTROL_PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dirs[d], e->d_name) >= (int)sizeof p)
                continue;
            int err = 0, fd = dial(p, &err);
            if (fd >= 0)
                close(fd);
            if (err == ECONNREFUSED || err == ENOENT)
                continue;
            snprintf(f[n].path, sizeof f[n].path, "%s", p);
            f[n++].dir = false;
        }
        closedir(dp);
    }
    return n;
}

static void join_dirs(char dirs[][TS_CONTROL_PATH_MAX], size_t n, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? ", " : "", dirs[i]);
    }
}

static void describe(const char *path)
{
    int err = 0, fd = dial(path, &err);
    if (fd < 0) {
        fprintf(stderr, "  %s  (%s)\n", path, strerror(err));
        return;
    }
    struct conn c = {.fd = fd};
    char line[256], prog[64] = "?", pid[32] = "?", name[40] = "?";
    if (send_req(&c, "hello\n") == 0 && read_line(&c, line, sizeof line) == 0 &&
        !strncmp(line, "ok ", 3)) {
        for (int k = 0; k < 12 && read_line(&c, line, sizeof line) == 0; k++) {
            sscanf(line, "program %63s", prog);
            sscanf(line, "pid %31s", pid);
            sscanf(line, "name %39s", name);
            if (!strncmp(line, "requests", 8))
                break;
        }
    }
    close(fd);
    fprintf(stderr, "  %s  (%s, pid %s, tap %s)\n", path, prog, pid, name);
}

/* The control socket to ask, into path; or exit 1 after one line saying why there is none. */
static void resolve(const struct opts *o, char *path, size_t cap)
{
    char dirs[4][TS_CONTROL_PATH_MAX], list[512];
    if (o->control) {
        snprintf(path, cap, "%s", o->control);
        return;
    }
    if (o->tap) {
        /* The first that answers; else one we may not use (to say so), else a stale one. */
        size_t nd = ts_control_search_dirs(dirs, 4);
        char denied[TS_CONTROL_PATH_MAX] = "", stale[TS_CONTROL_PATH_MAX] = "";
        for (size_t d = 0; d < nd; d++) {
            if (snprintf(path, cap, "%s/%s.sock", dirs[d], o->tap) >= (int)cap)
                continue;
            int err = 0, fd = dial(path, &err);
            if (fd >= 0) {
                close(fd);
                return;
            }
            if (err == EACCES && !*denied)
                snprintf(denied, sizeof denied, "%s", path);
            else if (err != ENOENT && !*stale)
                snprintf(stale, sizeof stale, "%s", path);
        }
        if (*denied || *stale) {
            snprintf(path, cap, "%s", *denied ? denied : stale);
            return;
        }
        join_dirs(dirs, nd, list, sizeof list);
        fprintf(stderr,
                PROG ": no tapstack serves tap %s (no %s.sock in %s): " START_ADVICE " --tap %s\n",
                o->tap, o->tap, list, o->tap);
        exit(1);
    }
    struct found f[MAX_STACKS];
    size_t nd, n = scan(f, MAX_STACKS, dirs, &nd);
    join_dirs(dirs, nd, list, sizeof list);
    size_t socks = 0, last = 0;
    const char *denied = NULL;
    for (size_t i = 0; i < n; i++) {
        if (f[i].dir)
            denied = f[i].path;
        else
            socks++, last = i;
    }
    if (socks == 0 && denied) {
        char mine[512] = "";
        for (size_t d = 0; d < nd; d++) {
            size_t l = strlen(mine);
            if (strcmp(dirs[d], denied) != 0)
                snprintf(mine + l, sizeof mine - l, "%s%s", l ? ", " : "", dirs[d]);
        }
        fprintf(stderr,
                PROG ": no tapstack of yours is running (%s%s) and %s is another user's: for a "
                     "stack started with sudo, run sudo " PROG "\n",
                *mine ? "no control socket in " : "nothing else to look in", mine, denied);
        exit(1);
    }
    if (socks == 0) {
        fprintf(stderr,
                PROG ": no tapstack is running (no control socket in %s): " START_ADVICE "\n",
                list);
        exit(1);
    }
    if (socks == 1) {
        snprintf(path, cap, "%s", f[last].path);
        return;
    }
    fprintf(stderr,
            PROG ": %zu tapstacks are running; pick one with --tap NAME or --control PATH:\n",
            socks);
    for (size_t i = 0; i < n; i++)
        if (!f[i].dir)
            describe(f[i].path);
    exit(1);
}

static int connect_or_say(const char *path)
{
    int err = 0, fd = dial(path, &err);
    if (fd >= 0)
        return fd;
    struct stat st;
    if (err == ENOENT)
        fprintf(stderr, PROG ": %s does not exist: no tapstack serves it; " START_ADVICE "\n",
                path);
    else if (err == ECONNREFUSED)
        fprintf(stderr, PROG ": %s: nobody answers (its program ended): " START_ADVICE "\n", path);
    else if (err == EACCES && stat(path, &st) == 0)
        fprintf(stderr,
                PROG ": %s: permission denied: that stack belongs to uid %ld; run " PROG
                     " as that user or root\n",
                path, (long)st.st_uid);
    else if (err == EACCES)
        fprintf(stderr,
                PROG ": %s: permission denied (a directory of another user); run " PROG
                     " as its owner or root (sudo)\n",
                path);
    else
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(err));
    exit(1);
}

/* ---------------------------------------------------------------- modes */

static void build_request(const struct opts *o, char *req, size_t cap)
{
    const char *j = o->json ? " json" : "";
    if (o->stats)
        snprintf(req, cap, "counters%s%s\n", o->all ? " all" : "", j);
    else if (o->summary)
        snprintf(req, cap, "summary%s\n", j);
    else if (o->history)
        snprintf(req, cap, "history max=%u%s\n", o->history_n, j);
    else if (o->trace)
        snprintf(req, cap, "follow%s%s\n", o->explain ? " explain" : "", j);
    else
        snprintf(req, cap, "sockets%s%s%s%s%s%s\n", o->tcp ? " tcp" : "", o->udp ? " udp" : "",
                 o->all ? " all" : "", o->listen && !o->all ? " listen" : "",
                 o->info ? " info" : "", j);
}

static int gone(const char *path)
{
    if (stop)
        return 0;
    fprintf(stderr, PROG ": lost the connection to %s: %s (did the stack stop?)\n", path,
            errno == EPIPE ? "it closed" : strerror(errno));
    return 1;
}

static int follow(struct conn *c, const char *req, const char *path)
{
    char line[256];
    int sent = send_req(c, req), serr = errno;
    if (read_line(c, line, sizeof line) < 0) {
        if (sent < 0)
            errno = serr;
        return gone(path);
    }
    if (!strncmp(line, "error ", 6)) {
        fprintf(stderr, PROG ": %s answered: %s\n", path, line + 6);
        return 1;
    }
    if (strcmp(line, "ok stream")) {
        fprintf(stderr, PROG ": %s answered: %s\n", path, line);
        return 1;
    }
    fprintf(stderr, PROG ": following the TCP state changes of %s (Ctrl-C stops)\n", path);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        if (c->off < c->len) {
            fwrite(c->buf + c->off, 1, c->len - c->off, stdout);
            fflush(stdout);
            c->off = c->len;
        }
        int r = fill(c, -1);
        if (r <= 0) {
            if (r == 0)
                errno = EPIPE;
            return gone(path);
        }
    }
}

/* --full: the table page by page (65 536 rows each), printed as one; JSON: one document per
 * page, one per line. A page says where the next starts: its last line "# more: offset=N of
 * ..." (text, not printed) or "next_offset":N (JSON). */
static int full_table(struct conn *c, const char *req, bool json, const char *path)
{
    size_t off = 0;
    for (;;) {
        char r2[160];
        snprintf(r2, sizeof r2, "%.*s offset=%zu max=65536\n", (int)strcspn(req, "\n"), req, off);
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m)
            return 1;
        int r = request(c, r2, m, path);
        fclose(m);
        if (r != 0) {
            free(text);
            return r < 0 ? gone(path) : r;
        }
        const char *more =
            json ? strstr(text, "\"next_offset\":") : strstr(text, "# more: offset=");
        size_t keep = len;
        unsigned long long next = 0;
        if (more && !json) {
            keep = (size_t)(more - text);
            next = strtoull(more + 15, NULL, 10);
        } else if (more) {
            next = strtoull(more + 14, NULL, 10); /* 0 for null: the last page */
        }
        fwrite(text, 1, keep, stdout);
        if (json)
            fputc('\n', stdout);
        free(text);
        if (!more || next <= off)
            return 0;
        off = (size_t)next;
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char path[TS_CONTROL_PATH_MAX], req[128];
    resolve(&o, path, sizeof path);
    static struct conn c;
    c.fd = connect_or_say(path);
    build_request(&o, req, sizeof req);
    if (o.trace)
        return follow(&c, req, path);
    if (o.full)
        return full_table(&c, req, o.json, path);
    if (!o.cont) {
        int r = request(&c, req, NULL, path);
        return r < 0 ? gone(path) : r;
    }
    /* -c: the whole screen again every second. */
    while (!stop) {
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m)
            return 1;
        int r = request(&c, req, m, path);
        fclose(m);
        if (r == 0) {
            if (!o.json)
                fputs("\033[H\033[2J", stdout);
            fwrite(text, 1, len, stdout);
            fflush(stdout);
        }
        free(text);
        if (r != 0)
            return r < 0 ? gone(path) : r;
        struct timespec ts = {.tv_sec = 1};
        nanosleep(&ts, NULL);
    }
    return 0;
}
