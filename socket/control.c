/* The control socket, served by the runtime's loop thread: see include/tapstack/control.h for
 * what it does and its protocol.
 *
 * Everything here but ts_runtime_control_open runs in the loop thread, which owns struct ctl.
 * The stack's lock (rt->mu) is taken only in snap_*() and ctl_stage_locked (already held), to
 * copy records out; parsing, formatting and every read and write happen without it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"
#include "tapstack/control.h"
#include "tapstack/counters.h"

#define REQ_TIMEOUT     (5 * TS_SEC)  /* a request line must be complete this soon */
#define WRITE_TIMEOUT   (10 * TS_SEC) /* pending output must make progress this soon */
#define IDLE_TIMEOUT    (60 * TS_SEC) /* a client with nothing going on is closed */
#define OUT_MAX         (8u << 20)    /* a client's unsent answer */
#define FOLLOW_OUT_MAX  (1u << 20)    /* a follower's unsent lines */
#define OUT_BUDGET      (64u << 20)   /* every client's unsent output together */
#define ROWS_MAX        65536         /* TCP rows copied per request (max=) */
#define ROWS_DEFAULT    1000          /* ...when max= is not given */
#define TRACE_MAX       4096          /* events per trace request */
#define HISTORY_DEFAULT 20
#define STAGE_MAX       512 /* events handed to followers per turn of the loop */
#define ACCEPT_BATCH    32  /* clients accepted per turn, so the stack is not starved */

struct client {
    int fd; /* -1: a free slot */
    uint32_t gen;
    char in[TS_CONTROL_REQ_MAX];
    size_t inlen;
    struct ts_sbuf out;
    size_t outoff;
    ts_time_t req_deadline, write_deadline, idle_deadline; /* 0 = not running */
    bool eof;                                              /* the client shut its sending side */
    bool close_after;                                      /* close once the output is written */
    bool following, fjson, fexplain;
    uint64_t fseq; /* a follower has seen the events up to this number */
    uint32_t evmask;
};

struct ctl {
    int lfd;
    char path[TS_CONTROL_PATH_MAX];
    char name[32];
    dev_t dev;
    ino_t ino;
    ts_time_t accept_pause_until; /* out of descriptors: stop accepting for a moment */
    struct client cl[TS_CONTROL_MAX_CLIENTS];
    unsigned nfollowers;
    size_t out_total; /* unsent bytes of every client */
    /* Events copied out for the followers by ctl_stage_locked. */
    struct ts_stat_event stage[STAGE_MAX];
    size_t nstage;
    struct ts_stat_page stage_pg;
    bool stage_more;             /* more events are waiting than STAGE_MAX */
    ts_time_t next_due;          /* the earliest deadline of any client (ctl_deadline) */
    struct ts_control_stats st;  /* the loop's own */
    struct ts_control_stats pub; /* rt->mu: a copy for ts_runtime_control_stats */
};

static size_t pending(const struct client *c)
{
    return c->out.len - c->outoff;
}

/* ---------------------------------------------------------------- client lifetime */

static void client_close(struct ts_runtime *rt, struct ctl *ctl, struct client *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(rt->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    ctl->out_total -= pending(c);
    if (c->following)
        ctl->nfollowers--;
    ts_sbuf_free(&c->out);
    uint32_t gen = c->gen + 1;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->gen = gen;
    ctl->st.clients--;
}

/* Which events the client needs now: one request at a time, so no reading while an answer is
 * unsent; nothing to read after its EOF. A follower is read only to notice that it left. */
static void client_rearm(struct ts_runtime *rt, struct ctl *ctl, struct client *c)
{
    uint32_t want = 0;
    if (pending(c))
        want |= EPOLLOUT;
    if (!c->eof && (c->following || !pending(c)))
        want |= EPOLLIN;
    if (want == c->evmask)
        return;
    struct epoll_event ev = {.events = want,
                             .data.u64 = RT_EV(RT_EV_CTL_CLIENT, c->gen, c - ctl->cl)};
    epoll_ctl(rt->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->evmask = want;
}

/* Write what can be written now. Returns false when the client is gone. */
static bool client_flush(struct ts_runtime *rt, struct ctl *ctl, struct client *c)
{
    while (pending(c)) {
        ssize_t n = send(c->fd, c->out.p + c->outoff, pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->outoff += (size_t)n;
            ctl->out_total -= (size_t)n;
            c->write_deadline = shim_now() + WRITE_TIMEOUT;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        client_close(rt, ctl, c); /* EPIPE, ECONNRESET: it left */
        return false;
    }
    if (!pending(c)) {
        c->write_deadline = 0;
        /* Keep a small buffer for the next answer; give a big one back. */
        if (c->out.cap > 65536)
            ts_sbuf_free(&c->out);
        c->out.len = 0;
        c->outoff = 0;
        if (c->close_after) {
            client_close(rt, ctl, c);
            return false;
        }
    }
    return true;
}

/* Queue text for the client (the caller flushes). */
static void client_put(struct ctl *ctl, struct client *c, const char *p, size_t n)
{
    size_t before = c->out.len;
    ts_sbuf_append(&c->out, p, n);
    ctl->out_total += c->out.len - before;
}

/* One error line; fatal ones close the connection once it is written. */
static void client_error(struct ctl *ctl, struct client *c, bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void client_error(struct ctl *ctl, struct client *c, bool fatal, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    client_put(ctl, c, "error ", 6);
    client_put(ctl, c, line, (size_t)n);
    ctl->st.bad_requests++;
    if (fatal)
        c->close_after = true;
}

/* ---------------------------------------------------------------- snapshots (rt->mu) */

struct snap_sockets {
    struct ts_tcp_info *tcp;
    struct ts_udp_info *udp;
    struct ts_stat_sockets v;
};

/* Which TCP states a table with these flags (TS_STAT_*) shows, as a ts_tcp_query mask (0: every
 * state), and how many entries of the summary that is. */
static unsigned page_states(unsigned f, const struct ts_tcp_summary *sum, size_t *total)
{
    bool lis = f & TS_STAT_LISTEN, conns = (f & TS_STAT_CONNS) || !lis;
    size_t nl = sum->state[TS_TCP_LISTEN];
    *total = lis && conns ? sum->total : lis ? nl : sum->total - nl;
    if (lis && conns)
        return 0;
    return lis ? 1u << TS_TCP_LISTEN : ~(1u << TS_TCP_LISTEN);
}

/* One page of the table: the TCP entries the flags show from offset, at most max (the cost is
 * O(offset + max) under the lock, whatever the number of connections), and on the first page
 * every UDP endpoint. */
static bool snap_sockets(struct ts_runtime *rt, struct snap_sockets *sn, unsigned f, size_t offset,
                         size_t max)
{
    memset(sn, 0, sizeof *sn);
    bool want_tcp = (f & TS_STAT_TCP) || !(f & TS_STAT_UDP);
    bool want_udp = ((f & TS_STAT_UDP) || !(f & TS_STAT_TCP)) && offset == 0;
    sn->tcp = malloc((max ? max : 1) * sizeof *sn->tcp);
    pthread_mutex_lock(&rt->mu);
    ts_time_t now = shim_now();
    struct ts_tcp_summary sum;
    ts_tcp_summary(rt->s, &sum);
    size_t total = 0, ct = 0;
    struct ts_tcp_query q = {.offset = offset, .states = page_states(f, &sum, &total)};
    if (!want_tcp)
        total = 0;
    else if (sn->tcp)
        ct = ts_tcp_table_page(rt->s, &q, sn->tcp, max, now);
    size_t nu = want_udp ? ts_udp_table(rt->s, NULL, 0) : 0;
    size_t cu = nu < ROWS_MAX ? nu : ROWS_MAX;
    sn->udp = malloc((cu ? cu : 1) * sizeof *sn->udp);
    if (sn->udp && cu)
        ts_udp_table(rt->s, sn->udp, cu);
    pthread_mutex_unlock(&rt->mu);
    if (!sn->tcp || !sn->udp) {
        free(sn->tcp);
        free(sn->udp);
        return false;
    }
    sn->v = (struct ts_stat_sockets){.now = now,
                                     .tcp = sn->tcp,
                                     .ntcp = ct,
                                     .udp = sn->udp,
                                     .nudp = cu,
                                     .offset = offset,
                                     .total_tcp = total,
                                     .truncated = offset + ct < total || cu < nu};
    return true;
}

static void snap_counters(struct ts_runtime *rt, uint64_t *vals)
{
    pthread_mutex_lock(&rt->mu);
    for (int c = 0; c < TS_C_COUNT; c++)
        vals[c] = ts_stack_counter(rt->s, (enum ts_counter)c);
    pthread_mutex_unlock(&rt->mu);
}

/* ---------------------------------------------------------------- requests */

#define MAX_WORDS 12

struct req {
    const char *cmd;
    bool json, explain, all, tcp, udp, listen, info;
    bool has_since, has_max;
    uint64_t since, max, offset;
};

/* Split the line and check every word against what cmd accepts ("json explain ..."). Returns
 * NULL, or what is wrong (written into why). */
static const char *parse_req(char *line, struct req *r, const char *accepts, char *why, size_t cap)
{
    char *save = NULL;
    int nw = 0;
    for (char *w = strtok_r(line, " \t", &save); w; w = strtok_r(NULL, " \t", &save), nw++) {
        if (nw == 0) {
            r->cmd = w;
            continue;
        }
        if (nw >= MAX_WORDS) {
            snprintf(why, cap, "too many words");
            return why;
        }
        char *eq = strchr(w, '=');
        size_t klen = eq ? (size_t)(eq - w) : strlen(w);
        char key[16];
        if (klen >= sizeof key)
            klen = sizeof key - 1;
        memcpy(key, w, klen);
        key[klen] = 0;
        /* A word is accepted when it is in the command's list, matched whole. */
        const char *hit = strstr(accepts, key);
        bool ok = klen > 0 && hit && (hit == accepts || hit[-1] == ' ') &&
                  (hit[klen] == 0 || hit[klen] == ' ');
        bool wants_value = !strcmp(key, "since") || !strcmp(key, "max") || !strcmp(key, "offset");
        if (ok && wants_value != (eq != NULL))
            ok = false;
        if (!ok) {
            snprintf(why, cap, "'%.40s' is not an option of %s (it takes: %s)", w, r->cmd,
                     *accepts ? accepts : "nothing");
            return why;
        }
        if (eq) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(eq + 1, &end, 10);
            if (!eq[1] || *end || errno || eq[1] == '-') {
                snprintf(why, cap, "%.40s: the value must be a number", w);
                return why;
            }
            if (!strcmp(key, "since")) {
                r->has_since = true;
                r->since = v;
            } else if (!strcmp(key, "offset")) {
                r->offset = v;
            } else {
                r->has_max = true;
                r->max = v;
            }
            continue;
        }
        r->json |= !strcmp(key, "json");
        r->explain |= !strcmp(key, "explain");
        r->all |= !strcmp(key, "all");
        r->tcp |= !strcmp(key, "tcp");
        r->udp |= !strcmp(key, "udp");
        r->listen |= !strcmp(key, "listen");
        r->info |= !strcmp(key, "info");
    }
    return NULL;
}

static const char help_text[] =
    "tapstack control protocol 1: one request per line, answered \"ok LENGTH\\n\" + LENGTH "
    "bytes, or \"error TEXT\\n\".\n"
    "  hello [json]                                   who is serving\n"
    "  sockets [tcp] [udp] [listen] [all] [info] [offset=N] [max=M] [json]\n"
    "                                                 the socket table (netstat -tan), a page of\n"
    "                                                 it: M TCP rows (default 1000) from row N\n"
    "  summary [json]                                 TCP connections per state, their memory\n"
    "  counters [all] [json]                          the counters, drops with their reason\n"
    "  trace [since=N] [max=M] [explain] [json]       recorded state changes after N\n"
    "  follow [since=N] [explain] [json]              state changes as they happen (a stream)\n"
    "  history [since=N] [max=M] [json]               ended connections and their paths\n"
    "  help                                           this text\n";

static void do_hello(struct ts_runtime *rt, struct ctl *ctl, struct ts_sbuf *b, bool json)
{
    pthread_mutex_lock(&rt->mu);
    struct ts_config cfg = *ts_stack_config(rt->s);
    pthread_mutex_unlock(&rt->mu);
    char ip[16], mac[18];
    ts_ip_format(cfg.ip, ip);
    ts_mac_format(cfg.mac, mac);
    ts_time_t up = shim_now() - rt->started;
    const struct ts_control_stats *s = &ctl->st;
    if (json) {
        ts_sbuf_printf(b, "{\"kind\":\"hello\",\"protocol\":1,\"program\":");
        ts_sbuf_json_str(b, program_invocation_short_name);
        ts_sbuf_printf(b, ",\"pid\":%ld,\"uid\":%ld,\"name\":", (long)getpid(), (long)geteuid());
        ts_sbuf_json_str(b, ctl->name);
        ts_sbuf_printf(b, ",\"path\":");
        ts_sbuf_json_str(b, ctl->path);
        ts_sbuf_printf(
            b,
            ",\"ip\":\"%s\",\"prefix_len\":%u,\"mac\":\"%s\",\"uptime_us\":%" PRIu64
            ",\"control\":{\"clients\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64
            ",\"rejected_full\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"bad_requests\":%" PRIu64
            ",\"dropped_slow\":%" PRIu64 ",\"timeouts\":%" PRIu64 "}}",
            ip, cfg.prefix_len, mac, (uint64_t)up, s->clients, s->accepted, s->refused,
            s->rejected_full, s->requests, s->bad_requests, s->dropped_slow, s->timeouts);
        return;
    }
    ts_sbuf_printf(b,
                   "tapstack control 1\nprogram %s\npid %ld\nuid %ld\nname %s\npath %s\n"
                   "ip %s/%u\nmac %s\nuptime %" PRIu64 ".%03" PRIu64 " s\n"
                   "clients %" PRIu64 " (accepted %" PRIu64 ", refused %" PRIu64
                   ", rejected_full %" PRIu64 ", dropped_slow %" PRIu64 ", timeouts %" PRIu64
                   ")\nrequests %" PRIu64 " (bad %" PRIu64 ")\n",
                   program_invocation_short_name, (long)getpid(), (long)geteuid(), ctl->name,
                   ctl->path, ip, cfg.prefix_len, mac, (uint64_t)up / TS_SEC,
                   (uint64_t)(up % TS_SEC) / 1000, s->clients, s->accepted, s->refused,
                   s->rejected_full, s->dropped_slow, s->timeouts, s->requests, s->bad_requests);
}

static bool do_sockets(struct ts_runtime *rt, const struct req *r, struct ts_sbuf *b)
{
    unsigned f = (r->tcp ? TS_STAT_TCP : 0) | (r->udp ? TS_STAT_UDP : 0) |
                 (r->all ? TS_STAT_LISTEN | TS_STAT_CONNS : 0) | (r->listen ? TS_STAT_LISTEN : 0) |
                 (r->info ? TS_STAT_INFO : 0);
    size_t max = !r->has_max ? ROWS_DEFAULT : r->max < ROWS_MAX ? (size_t)r->max : ROWS_MAX;
    size_t off = r->offset < SIZE_MAX / 2 ? (size_t)r->offset : SIZE_MAX / 2;
    struct snap_sockets sn;
    if (!snap_sockets(rt, &sn, f, off, max))
        return false;
    if (r->json)
        ts_stat_fmt_sockets_json(b, &sn.v, f);
    else
        ts_stat_fmt_sockets(b, &sn.v, f);
    free(sn.tcp);
    free(sn.udp);
    return true;
}

static bool do_trace(struct ts_runtime *rt, const struct req *r, struct ts_sbuf *b)
{
    size_t max = r->has_max && r->max < TRACE_MAX ? (size_t)r->max : TRACE_MAX;
    struct ts_stat_event *ev = malloc((max ? max : 1) * sizeof *ev);
    if (!ev)
        return false;
    struct ts_stat_page pg;
    size_t n = ts_runtime_events_since(rt, r->since, ev, max, &pg);
    if (r->json) {
        ts_stat_fmt_events_json(b, ev, n, &pg, r->explain);
    } else {
        if (pg.lost)
            ts_sbuf_printf(b, "# lost %" PRIu64 " events (the ring keeps %u)\n", pg.lost,
                           TS_CONTROL_RING);
        for (size_t i = 0; i < n; i++)
            ts_stat_fmt_event(b, &ev[i].ev, r->explain);
    }
    free(ev);
    return true;
}

static bool do_history(struct ts_runtime *rt, const struct req *r, struct ts_sbuf *b)
{
    size_t max = r->has_max ? (size_t)(r->max < TS_CONTROL_HISTORY ? r->max : TS_CONTROL_HISTORY)
                            : HISTORY_DEFAULT;
    struct ts_stat_conn *h = malloc((max ? max : 1) * sizeof *h);
    if (!h)
        return false;
    struct ts_stat_page pg;
    size_t n = ts_runtime_history_since(rt, r->since, h, max, &pg);
    ts_time_t now = shim_now();
    if (r->json)
        ts_stat_fmt_history_json(b, h, n, &pg, now);
    else
        ts_stat_fmt_history(b, h, n, now);
    free(h);
    return true;
}

static void start_follow(struct ts_runtime *rt, struct ctl *ctl, struct client *c,
                         const struct req *r)
{
    pthread_mutex_lock(&rt->mu);
    uint64_t last = rt->rec.seq;
    pthread_mutex_unlock(&rt->mu);
    c->following = true;
    c->fjson = r->json;
    c->fexplain = r->explain;
    c->fseq = r->has_since && r->since < last ? r->since : last;
    c->idle_deadline = 0;
    ctl->nfollowers++;
    client_put(ctl, c, "ok stream\n", 10);
    ctl->st.requests++;
}

/* Answer one request line (already checked to be printable text). */
static void handle(struct ts_runtime *rt, struct ctl *ctl, struct client *c, char *line)
{
    static const struct {
        const char *cmd, *accepts;
    } cmds[] = {
        {"hello", "json"},
        {"sockets", "tcp udp listen all info offset max json"},
        {"summary", "json"},
        {"counters", "all json"},
        {"trace", "since max explain json"},
        {"follow", "since explain json"},
        {"history", "since max json"},
        {"help", ""},
    };
    struct req r = {0};
    char why[200];
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        client_error(ctl, c, false, "empty request: try help");
        return;
    }
    size_t clen = strcspn(p, " \t");
    const char *accepts = NULL;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strlen(cmds[i].cmd) == clen && !memcmp(cmds[i].cmd, p, clen))
            accepts = cmds[i].accepts;
    if (!accepts) {
        client_error(ctl, c, false, "unknown command '%.*s': try help",
                     (int)(clen > 40 ? 40 : clen), p);
        return;
    }
    if (parse_req(p, &r, accepts, why, sizeof why)) {
        client_error(ctl, c, false, "%s", why);
        return;
    }
    if (!strcmp(r.cmd, "follow")) {
        start_follow(rt, ctl, c, &r);
        return;
    }
    if (ctl->out_total > OUT_BUDGET) {
        client_error(ctl, c, false, "busy: other clients have too much output pending; try again");
        return;
    }
    struct ts_sbuf body = {0};
    bool ok = true;
    if (!strcmp(r.cmd, "hello"))
        do_hello(rt, ctl, &body, r.json);
    else if (!strcmp(r.cmd, "sockets"))
        ok = do_sockets(rt, &r, &body);
    else if (!strcmp(r.cmd, "summary")) {
        struct ts_tcp_summary sum;
        pthread_mutex_lock(&rt->mu);
        ts_tcp_summary(rt->s, &sum);
        pthread_mutex_unlock(&rt->mu);
        if (r.json)
            ts_stat_fmt_summary_json(&body, &sum);
        else
            ts_stat_fmt_summary(&body, &sum);
    } else if (!strcmp(r.cmd, "counters")) {
        uint64_t vals[TS_C_COUNT];
        snap_counters(rt, vals);
        if (r.json)
            ts_stat_fmt_counters_json(&body, vals);
        else
            ts_stat_fmt_counters(&body, vals, r.all);
    } else if (!strcmp(r.cmd, "trace"))
        ok = do_trace(rt, &r, &body);
    else if (!strcmp(r.cmd, "history"))
        ok = do_history(rt, &r, &body);
    else
        ts_sbuf_append(&body, help_text, sizeof help_text - 1);
    if (r.json && ok)
        ts_sbuf_append(&body, "\n", 1);
    if (!ok || body.oom || body.len > OUT_MAX) {
        client_error(ctl, c, false, "%s",
                     body.len > OUT_MAX ? "answer too large" : "out of memory");
    } else {
        char head[32];
        int n = snprintf(head, sizeof head, "ok %zu\n", body.len);
        client_put(ctl, c, head, (size_t)n);
        client_put(ctl, c, body.p ? body.p : "", body.len);
        ctl->st.requests++;
    }
    ts_sbuf_free(&body);
}

/* Take complete lines from the input, one at a time: the next only once the answer to the
 * last is written. Returns false when the client is gone. */
static bool client_process(struct ts_runtime *rt, struct ctl *ctl, struct client *c)
{
    while (!c->following && !c->close_after && !pending(c)) {
        char *nl = memchr(c->in, '\n', c->inlen);
        if (!nl) {
            if (c->inlen == sizeof c->in) {
                client_error(ctl, c, true, "request longer than %d bytes", TS_CONTROL_REQ_MAX);
            } else if (c->eof) {
                /* It left in the middle of a request (or after its last one). */
                client_close(rt, ctl, c);
                return false;
            } else if (c->inlen && !c->req_deadline) {
                c->req_deadline = shim_now() + REQ_TIMEOUT;
            }
            break;
        }
        size_t len = (size_t)(nl - c->in);
        *nl = 0;
        if (len && c->in[len - 1] == '\r')
            c->in[--len] = 0;
        bool text = true;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)c->in[i] < 0x20 ? c->in[i] != '\t' : (unsigned char)c->in[i] > 0x7e)
                text = false;
        if (text)
            handle(rt, ctl, c, c->in);
        else
            client_error(ctl, c, true, "the request is not a line of text: try help");
        size_t used = (size_t)(nl - c->in) + 1;
        memmove(c->in, c->in + used, c->inlen - used);
        c->inlen -= used;
        c->req_deadline = 0;
        if (pending(c) && !client_flush(rt, ctl, c))
            return false;
    }
    if (c->fd >= 0 && pending(c) && !c->write_deadline)
        c->write_deadline = shim_now() + WRITE_TIMEOUT;
    if (c->close_after && !pending(c)) {
        client_close(rt, ctl, c);
        return false;
    }
    if (c->fd >= 0 && !pending(c) && !c->inlen && !c->following)
        c->idle_deadline = shim_now() + IDLE_TIMEOUT;
    return true;
}

static void client_readable(struct ts_runtime *rt, struct ctl *ctl, struct client *c)
{
    if (c->following) {
        /* A follower has nothing more to say: what it sends is dropped. Its EOF may be a
         * half-close (echo follow | socat ...): it still reads, until it hangs up. */
        char sink[512];
        ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n == 0)
            c->eof = true;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            client_close(rt, ctl, c);
        if (c->fd >= 0)
            client_rearm(rt, ctl, c);
        return;
    }
    if (pending(c))
        return;
    ssize_t n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, MSG_DONTWAIT);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            client_close(rt, ctl, c);
        return;
    }
    if (n == 0)
        c->eof = true;
    c->inlen += (size_t)n;
    c->idle_deadline = 0;
    if (client_process(rt, ctl, c))
        client_rearm(rt, ctl, c);
}

/* ---------------------------------------------------------------- accepting */

/* Best effort: a client that is being turned away gets one line if its buffer has room. */
static void send_line(int fd, const char *line)
{
    ssize_t r = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)r;
}

static void refuse(int fd, const char *line)
{
    send_line(fd, line);
    close(fd);
}

static void accept_clients(struct ts_runtime *rt, struct ctl *ctl)
{
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        int fd = accept4(ctl->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listener stays readable: pause it rather than spin. */
                epoll_ctl(rt->epfd, EPOLL_CTL_DEL, ctl->lfd, NULL);
                ctl->accept_pause_until = shim_now() + 100 * TS_MS;
            }
            return;
        }
        struct ucred cr;
        socklen_t cl = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
            (cr.uid != geteuid() && cr.uid != 0)) {
            char line[160];
            snprintf(line, sizeof line,
                     "error permission denied: this stack belongs to uid %ld (and root)\n",
                     (long)geteuid());
            refuse(fd, line);
            ctl->st.refused++;
            continue;
        }
        struct client *c = NULL;
        for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS && !c; i++)
            if (ctl->cl[i].fd < 0)
                c = &ctl->cl[i];
        if (!c) {
            refuse(fd, "error too many control clients: try again later\n");
            ctl->st.rejected_full++;
            continue;
        }
        c->fd = fd;
        c->evmask = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = RT_EV(RT_EV_CTL_CLIENT, c->gen, c - ctl->cl)};
        if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            c->fd = -1;
            continue;
        }
        c->idle_deadline = shim_now() + IDLE_TIMEOUT;
        ctl->st.accepted++;
        ctl->st.clients++;
    }
}

/* ---------------------------------------------------------------- the loop's entry points */

void ctl_event(struct ts_runtime *rt, struct ctl *ctl, uint64_t tag, uint32_t events)
{
    if (RT_EV_KIND(tag) == RT_EV_CTL_LISTEN) {
        accept_clients(rt, ctl);
        return;
    }
    uint32_t i = RT_EV_IDX(tag);
    if (i >= TS_CONTROL_MAX_CLIENTS)
        return;
    struct client *c = &ctl->cl[i];
    if (c->fd < 0 || (c->gen & 0xffffffu) != RT_EV_GEN(tag))
        return; /* closed earlier in this batch (its slot may have a new client) */
    if (events & (EPOLLHUP | EPOLLERR)) {
        client_close(rt, ctl, c); /* gone for good: nothing can be written to it */
        return;
    }
    if (events & EPOLLOUT) {
        if (!client_flush(rt, ctl, c))
            return;
        if (!client_process(rt, ctl, c))
            return;
    }
    if (events & EPOLLIN) {
        client_readable(rt, ctl, c);
        return;
    }
    client_rearm(rt, ctl, c);
}

void ctl_stage_locked(struct ts_runtime *rt, struct ctl *ctl)
{
    ctl->pub = ctl->st;
    rt->followers = ctl->nfollowers;
    rt->follow_woken = false;
    ctl->nstage = 0;
    ctl->stage_more = false;
    if (!ctl->nfollowers)
        return;
    uint64_t from = UINT64_MAX;
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS; i++)
        if (ctl->cl[i].fd >= 0 && ctl->cl[i].following && ctl->cl[i].fseq < from)
            from = ctl->cl[i].fseq;
    if (from >= rt->rec.seq)
        return;
    ctl->nstage = rec_events_since(&rt->rec, from, ctl->stage, STAGE_MAX, &ctl->stage_pg);
    ctl->stage_more = ctl->stage_pg.next < ctl->stage_pg.last;
}

void ctl_flush_followers(struct ts_runtime *rt, struct ctl *ctl)
{
    if (!ctl->nstage)
        return;
    const struct ts_stat_page *pg = &ctl->stage_pg;
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS; i++) {
        struct client *c = &ctl->cl[i];
        if (c->fd < 0 || !c->following || c->fseq >= pg->next)
            continue;
        struct ts_sbuf b = {0};
        if (c->fseq + 1 < pg->first) {
            uint64_t lost = pg->first - 1 - c->fseq;
            if (c->fjson)
                ts_sbuf_printf(&b, "{\"lost\":%" PRIu64 "}\n", lost);
            else
                ts_sbuf_printf(&b, "# lost %" PRIu64 " events\n", lost);
        }
        for (size_t k = 0; k < ctl->nstage; k++) {
            if (ctl->stage[k].seq <= c->fseq)
                continue;
            if (c->fjson) {
                ts_stat_fmt_event_json(&b, &ctl->stage[k], c->fexplain);
                ts_sbuf_append(&b, "\n", 1);
            } else {
                ts_stat_fmt_event(&b, &ctl->stage[k].ev, c->fexplain);
            }
        }
        c->fseq = pg->next;
        if (pending(c) + b.len > FOLLOW_OUT_MAX || b.oom) {
            ts_sbuf_free(&b);
            ctl->st.dropped_slow++; /* it does not read what it asked for */
            client_close(rt, ctl, c);
            continue;
        }
        client_put(ctl, c, b.p, b.len);
        ts_sbuf_free(&b);
        if (!c->write_deadline)
            c->write_deadline = shim_now() + WRITE_TIMEOUT;
        if (client_flush(rt, ctl, c))
            client_rearm(rt, ctl, c);
    }
}

ts_time_t ctl_deadline(struct ctl *ctl)
{
    if (ctl->stage_more)
        return 0; /* more events to hand out: come straight back */
    ts_time_t d = ctl->accept_pause_until ? ctl->accept_pause_until : TS_TIME_NEVER;
    /* The loop comes here at every turn: with no client (the usual case) there is nothing to
     * look at. */
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS && ctl->st.clients; i++) {
        const struct client *c = &ctl->cl[i];
        if (c->fd < 0)
            continue;
        if (c->req_deadline)
            d = ts_time_min(d, c->req_deadline);
        if (c->write_deadline)
            d = ts_time_min(d, c->write_deadline);
        if (c->idle_deadline)
            d = ts_time_min(d, c->idle_deadline);
    }
    ctl->next_due = d;
    return d;
}

void ctl_expire(struct ts_runtime *rt, struct ctl *ctl, ts_time_t now)
{
    /* Deadlines set since ctl_deadline looked are seconds away: none is due in this turn. */
    if (now < ctl->next_due)
        return;
    if (ctl->accept_pause_until && now >= ctl->accept_pause_until) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = RT_EV(RT_EV_CTL_LISTEN, 0, 0)};
        epoll_ctl(rt->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev);
        ctl->accept_pause_until = 0;
    }
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS; i++) {
        struct client *c = &ctl->cl[i];
        if (c->fd < 0)
            continue;
        if (c->write_deadline && now >= c->write_deadline) {
            ctl->st.dropped_slow++; /* its answer has not moved for WRITE_TIMEOUT */
            client_close(rt, ctl, c);
        } else if (c->req_deadline && now >= c->req_deadline) {
            ctl->st.timeouts++;
            send_line(c->fd, "error the request line did not end within 5 s\n");
            client_close(rt, ctl, c);
        } else if (c->idle_deadline && now >= c->idle_deadline && !c->following) {
            ctl->st.timeouts++;
            client_close(rt, ctl, c);
        }
    }
}

/* ---------------------------------------------------------------- paths */

static int put_path(char *buf, size_t cap, const char *a, const char *b)
{
    int n = snprintf(buf, cap, "%s%s", a, b);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int ts_control_default_dir(char *buf, size_t cap)
{
    const char *env = getenv("TAPSTACK_RUN_DIR");
    if (env && *env)
        return put_path(buf, cap, env, "");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/')
        return put_path(buf, cap, xdg, "/tapstack");
    if (geteuid() == 0)
        return put_path(buf, cap, "/run/tapstack", "");
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/tapstack-%ld", (long)geteuid());
    return put_path(buf, cap, tmp, "");
}

int ts_control_default_path(const char *name, char *buf, size_t cap)
{
    if (!name || !*name || strchr(name, '/') || strlen(name) > 31)
        return -1;
    char dir[TS_CONTROL_PATH_MAX];
    if (ts_control_default_dir(dir, sizeof dir) < 0)
        return -1;
    int n = snprintf(buf, cap, "%s/%s.sock", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

size_t ts_control_search_dirs(char dirs[][TS_CONTROL_PATH_MAX], size_t max)
{
    size_t n = 0;
    const char *env = getenv("TAPSTACK_RUN_DIR");
    if (env && *env) {
        if (max > 0 && put_path(dirs[0], TS_CONTROL_PATH_MAX, env, "") == 0)
            n = 1;
        return n;
    }
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/' && n < max &&
        put_path(dirs[n], TS_CONTROL_PATH_MAX, xdg, "/tapstack") == 0)
        n++;
    if (n < max && put_path(dirs[n], TS_CONTROL_PATH_MAX, "/run/tapstack", "") == 0)
        n++;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/tapstack-%ld", (long)geteuid());
    if (n < max && put_path(dirs[n], TS_CONTROL_PATH_MAX, tmp, "") == 0)
        n++;
    return n;
}

/* The default directory: ours alone (0700, owned by us), made if missing. Someone else's
 * directory, or one others can enter, could let them swap our socket for theirs. */
static int private_dir(const char *dir, char *err, size_t cap)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, cap,
                 "cannot create %s for the control socket: %s (use --control PATH, or "
                 "--control none)",
                 dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        snprintf(err, cap,
                 "%s is not a private directory of uid %ld (it must be mode 0700 and "
                 "owned by it): remove it, or use --control PATH",
                 dir, (long)geteuid());
        return -1;
    }
    return 0;
}

static int fill_addr(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a->sun_path)
        return -1;
    memcpy(a->sun_path, path, strlen(path) + 1);
    return 0;
}

/* Something at path already: a live tapstack's socket (leave it), a stale one (replace it), or
 * something else (leave it). Returns 0 when path is free now. */
static int clear_stale(const char *path, char *err, size_t cap)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, cap, "%s exists and is not a socket: remove it or give --control PATH", path);
        return -1;
    }
    struct sockaddr_un a;
    fill_addr(&a, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    if (r == 0 || e == EAGAIN) {
        struct ucred cr = {0};
        socklen_t cl = sizeof cr;
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
        close(fd);
        snprintf(err, cap,
                 "%s is served by another running tapstack (pid %ld; another namespace with a "
                 "tap of the same name?): give this one --control PATH (or --control none)",
                 path, (long)cr.pid);
        return -1;
    }
    close(fd);
    if (e != ECONNREFUSED) {
        snprintf(err, cap, "%s: %s: give --control PATH (or --control none)", path, strerror(e));
        return -1;
    }
    /* Nobody listens: a program that died without removing it. */
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, cap, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int ts_runtime_control_open(struct ts_runtime *rt, const char *path, const char *name, char *err,
                            size_t errcap)
{
    char p[TS_CONTROL_PATH_MAX];
    if (path) {
        if (put_path(p, sizeof p, path, "") < 0) {
            snprintf(err, errcap, "--control %s: longer than %d bytes", path,
                     TS_CONTROL_PATH_MAX - 1);
            return -1;
        }
    } else {
        char dir[TS_CONTROL_PATH_MAX];
        if (ts_control_default_dir(dir, sizeof dir) < 0 ||
            ts_control_default_path(name, p, sizeof p) < 0) {
            snprintf(err, errcap, "no control socket path fits for '%s': give --control PATH",
                     name ? name : "");
            return -1;
        }
        if (private_dir(dir, err, errcap) < 0)
            return -1;
    }
    struct sockaddr_un a;
    if (fill_addr(&a, p) < 0) {
        snprintf(err, errcap, "%s: longer than %zu bytes", p, sizeof a.sun_path - 1);
        return -1;
    }
    if (clear_stale(p, err, errcap) < 0)
        return -1;
    struct ctl *ctl = calloc(1, sizeof *ctl);
    if (!ctl) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS; i++)
        ctl->cl[i].fd = -1;
    snprintf(ctl->path, sizeof ctl->path, "%s", p);
    snprintf(ctl->name, sizeof ctl->name, "%s", name ? name : "");
    ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct stat st;
    if (ctl->lfd < 0 || bind(ctl->lfd, (struct sockaddr *)&a, sizeof a) < 0) {
        snprintf(err, errcap, "cannot serve the control socket %s: %s (give --control PATH)", p,
                 strerror(errno));
        goto fail;
    }
    /* Only the owner may connect (root may anyway); SO_PEERCRED is checked as well, since the
     * mode of a socket in a directory we do not own is not the whole story. */
    if (chmod(p, 0600) < 0 || listen(ctl->lfd, 64) < 0 || stat(p, &st) < 0) {
        snprintf(err, errcap, "control socket %s: %s", p, strerror(errno));
        unlink(p);
        goto fail;
    }
    ctl->dev = st.st_dev;
    ctl->ino = st.st_ino;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = RT_EV(RT_EV_CTL_LISTEN, 0, 0)};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) < 0) {
        snprintf(err, errcap, "control socket %s: epoll: %s", p, strerror(errno));
        unlink(p);
        goto fail;
    }
    pthread_mutex_lock(&rt->mu);
    bool taken = rt->ctl != NULL;
    if (!taken)
        rt->ctl = ctl;
    pthread_mutex_unlock(&rt->mu);
    if (taken) {
        epoll_ctl(rt->epfd, EPOLL_CTL_DEL, ctl->lfd, NULL);
        snprintf(err, errcap, "this runtime already serves a control socket");
        unlink(p);
        goto fail;
    }
    rt_wake(rt);
    return 0;
fail:
    if (ctl->lfd >= 0)
        close(ctl->lfd);
    free(ctl);
    return -1;
}

const char *ts_runtime_control_path(struct ts_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    const char *p = rt->ctl ? rt->ctl->path : "";
    pthread_mutex_unlock(&rt->mu);
    return p;
}

void ts_runtime_control_stats(struct ts_runtime *rt, struct ts_control_stats *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&rt->mu);
    /* The copy the loop makes under the lock at every turn (it may be one turn behind). */
    if (rt->ctl)
        *st = rt->ctl->pub;
    pthread_mutex_unlock(&rt->mu);
}

void ctl_close(struct ts_runtime *rt, struct ctl *ctl)
{
    for (size_t i = 0; i < TS_CONTROL_MAX_CLIENTS; i++)
        client_close(rt, ctl, &ctl->cl[i]);
    epoll_ctl(rt->epfd, EPOLL_CTL_DEL, ctl->lfd, NULL);
    close(ctl->lfd);
    /* Remove the file only if it is still ours (not replaced by a later program). */
    struct stat st;
    if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
        unlink(ctl->path);
    free(ctl);
    rt->ctl = NULL;
}

void ctl_close_after_fork(struct ctl *ctl)
{
    if (ctl->lfd >= 0)
        close(ctl->lfd);
}
