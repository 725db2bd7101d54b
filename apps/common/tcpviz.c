/* tcpviz: the page and JSON endpoints of the live TCP picture (see tcpviz.h). */
#include "tcpviz.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "tapstack/control.h"
#include "tapstack/stat.h"
#include "tapstack/tcp.h"

#define VIEWERS        64  /* connections remembered as the page's own */
#define LIMIT_DEFAULT  200 /* /api/connections rows */
#define LIMIT_MAX      1000
#define EVENTS_DEFAULT 500 /* /api/transitions events */
#define LADDERS_MAX    TS_SEGLOG_CONNS

struct viewer {
    uint32_t raddr;
    uint16_t lport, rport;
};

struct tcpviz {
    struct ts_runtime *rt;
    bool recording;      /* segment recording turned on */
    char instance[48];   /* "PID-STARTMS-RANDOM": which process, started when */
    uint64_t started_ms; /* wall-clock time of tcpviz_new, ms since 1970 */
    char program[128], title[128];
    struct viewer viewers[VIEWERS];
    unsigned nviewers, next_viewer;
    struct ts_tcp_info *rows; /* the connection table, grown as needed */
    size_t rows_cap;
    /* Room for one answer's records (one thread serves every request). */
    uint64_t moves[TS_CONTROL_NSTATES][TS_CONTROL_NSTATES];
    struct ts_seg_item items[TS_SEGLOG_ITEMS];
    struct ts_seg_conn ladders[LADDERS_MAX];
};

struct tcpviz *tcpviz_new(struct ts_runtime *rt)
{
    struct tcpviz *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->rt = rt;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v->started_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    /* The pid alone could come back, and two pages could start in the same millisecond (the
     * unit tests make several in one process): pid, time and a random number name one run. */
    uint32_t r = (uint32_t)(uintptr_t)v;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r ^= (uint32_t)ts.tv_nsec;
    snprintf(v->instance, sizeof v->instance, "%ld-%" PRIu64 "-%08" PRIx32, (long)getpid(),
             v->started_ms, r);
    return v;
}

void tcpviz_describe(struct tcpviz *v, const char *program, const char *title)
{
    snprintf(v->program, sizeof v->program, "%s", program ? program : "");
    snprintf(v->title, sizeof v->title, "%s", title ? title : "");
}

int tcpviz_record_now(struct tcpviz *v)
{
    if (!v->recording && ts_runtime_record_segments(v->rt, true) == 0)
        v->recording = true;
    return v->recording ? 0 : -1;
}

void tcpviz_free(struct tcpviz *v)
{
    if (!v)
        return;
    free(v->rows);
    free(v);
}

bool tcpviz_owns(const char *path)
{
    return strcmp(path, "/tcp") == 0 || strncmp(path, "/tcp/", 5) == 0 ||
           strncmp(path, "/api/", 5) == 0;
}

void tcpviz_reply_free(struct tcpviz_reply *r)
{
    free(r->owned);
    r->owned = NULL;
}

/* ---------------------------------------------------------------- replies */

static const char json_type[] = "application/json";
static const char no_store[] = "Cache-Control: no-store\r\n";

static void reply_sbuf(struct tcpviz_reply *r, int status, struct ts_sbuf *b)
{
    if (b->oom) {
        ts_sbuf_free(b);
        static const char oom[] = "{\"error\":\"out of memory\"}";
        *r = (struct tcpviz_reply){503, json_type, no_store, oom, sizeof oom - 1, NULL};
        return;
    }
    *r = (struct tcpviz_reply){status, json_type, no_store, b->p ? b->p : "", b->len, b->p};
}

static void reply_error(struct tcpviz_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(struct tcpviz_reply *r, int status, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct ts_sbuf b = {0};
    ts_sbuf_append(&b, "{\"error\":", 9);
    ts_sbuf_json_str(&b, msg);
    ts_sbuf_append(&b, "}", 1);
    reply_sbuf(r, status, &b);
}

/* ---------------------------------------------------------------- query strings */

/* The parameters of a request: each endpoint names the ones it takes. A number is decimal; a
 * parameter not taken, a value that is not a number (or, for state, not a state's name) and a
 * query that is not key=value pairs are errors, so a mistyped URL says what is wrong. */
struct param {
    const char *name;
    bool is_state; /* a state's name rather than a number */
    bool given;
    uint64_t val;
};

static int state_by_name(const char *s, size_t n)
{
    for (int st = TS_TCP_ESTABLISHED; st <= TS_TCP_CLOSING; st++) {
        const char *a = ts_tcp_state_name((enum ts_tcp_state)st);
        const char *b = ts_tcp_state_rfc_name((enum ts_tcp_state)st);
        if ((strlen(a) == n && strncmp(a, s, n) == 0) || (strlen(b) == n && strncmp(b, s, n) == 0))
            return st;
    }
    return 0;
}

static bool parse_query(const char *q, struct param *ps, size_t np, struct tcpviz_reply *r)
{
    char names[160] = "";
    for (size_t i = 0; i < np; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 ps[i].name);
    for (const char *p = q; p && *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (len == 0) {
            p++;
            continue;
        }
        if (!eq) {
            reply_error(r, 400, "bad query: '%.*s' is not key=value", (int)(len > 40 ? 40 : len),
                        p);
            return false;
        }
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        struct param *hit = NULL;
        for (size_t i = 0; i < np; i++)
            if (strlen(ps[i].name) == kl && strncmp(ps[i].name, p, kl) == 0)
                hit = &ps[i];
        if (!hit) {
            reply_error(r, 400, "unknown parameter '%.*s'; this endpoint takes: %s",
                        (int)(kl > 40 ? 40 : kl), p, np ? names : "none");
            return false;
        }
        if (hit->is_state) {
            int st = state_by_name(eq + 1, vl);
            if (!st) {
                reply_error(r, 400, "%s must be a TCP state's name, e.g. ESTABLISHED", hit->name);
                return false;
            }
            hit->val = (uint64_t)st;
        } else if (http_parse_u64(eq + 1, vl, &hit->val) != 0) {
            reply_error(r, 400, "%s must be a decimal number", hit->name);
            return false;
        }
        hit->given = true;
        p += len;
    }
    return true;
}

/* ---------------------------------------------------------------- the connection table */

struct snap {
    struct tcpviz *v;
    size_t n;
    ts_time_t now;
    uint32_t ip;
};

/* Under the runtime's lock: every row, growing v->rows until they fit. */
static void snap_table(struct ts_stack *s, void *arg)
{
    struct snap *t = arg;
    struct tcpviz *v = t->v;
    t->now = ts_runtime_now();
    t->ip = ts_stack_config(s)->ip;
    for (;;) {
        t->n = ts_tcp_table(s, v->rows, v->rows_cap, t->now);
        if (t->n <= v->rows_cap)
            return;
        size_t cap = t->n + t->n / 4 + 16;
        struct ts_tcp_info *rows = realloc(v->rows, cap * sizeof *rows);
        if (!rows) {
            t->n = v->rows_cap; /* show what fits */
            return;
        }
        v->rows = rows;
        v->rows_cap = cap;
    }
}

/* The client on fd: its 4-tuple seen from the stack. */
static bool client_of(int fd, struct viewer *out)
{
    struct sockaddr_in peer, me;
    socklen_t pl = sizeof peer, ml = sizeof me;
    if (fd < 0 || ts_getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
        ts_getsockname(fd, (struct sockaddr *)&me, &ml) < 0)
        return false;
    out->raddr = ntohl(peer.sin_addr.s_addr);
    out->rport = ntohs(peer.sin_port);
    out->lport = ntohs(me.sin_port);
    return true;
}

static bool same_viewer(const struct viewer *w, const struct ts_tcp_info *t)
{
    return w->raddr == t->raddr && w->rport == t->rport && w->lport == t->lport;
}

/* Remember the client as a viewer (the page's own connections). */
static void note_viewer(struct tcpviz *v, const struct viewer *w)
{
    for (unsigned i = 0; i < v->nviewers; i++)
        if (v->viewers[i].raddr == w->raddr && v->viewers[i].rport == w->rport &&
            v->viewers[i].lport == w->lport)
            return;
    v->viewers[v->next_viewer] = *w;
    v->next_viewer = (v->next_viewer + 1) % VIEWERS;
    if (v->nviewers < VIEWERS)
        v->nviewers++;
}

static bool is_viewer(const struct tcpviz *v, const struct ts_tcp_info *t)
{
    for (unsigned i = 0; i < v->nviewers; i++)
        if (same_viewer(&v->viewers[i], t))
            return true;
    return false;
}

/* "self":ID|null,"viewers":[ids of live viewer connections] (from the snapshot in v->rows). */
static void json_viewers(struct ts_sbuf *b, const struct tcpviz *v, size_t n,
                         const struct viewer *me, bool have_me)
{
    uint64_t self = 0;
    ts_sbuf_append(b, "\"viewers\":[", 11);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct ts_tcp_info *t = &v->rows[i];
        if (t->state == TS_TCP_LISTEN || !is_viewer(v, t))
            continue;
        if (have_me && same_viewer(me, t))
            self = t->id;
        ts_sbuf_printf(b, "%s%" PRIu64, first ? "" : ",", t->id);
        first = false;
    }
    ts_sbuf_append(b, "],", 2);
    if (self)
        ts_sbuf_printf(b, "\"self\":%" PRIu64, self);
    else
        ts_sbuf_append(b, "\"self\":null", 11);
}

static void api_connections(struct tcpviz *v, const char *query, const struct viewer *me,
                            bool have_me, struct tcpviz_reply *r)
{
    struct param ps[] = {{.name = "per_state"},
                         {.name = "state", .is_state = true},
                         {.name = "offset"},
                         {.name = "limit"}};
    if (!parse_query(query, ps, 4, r))
        return;
    uint64_t limit = ps[3].given ? ps[3].val : LIMIT_DEFAULT;
    if (limit == 0 || limit > LIMIT_MAX)
        return reply_error(r, 400, "limit must be 1..%d", LIMIT_MAX);
    struct snap t = {.v = v};
    ts_runtime_with_stack(v->rt, snap_table, &t);

    /* The rows shown, kept in place at the front of v->rows (the table lists the newest first):
     * those of the state asked for, at most per_state of each state, the asker's always. */
    uint64_t counts[TS_CONTROL_NSTATES] = {0}, taken[TS_CONTROL_NSTATES] = {0};
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned)v->rows[i].state < TS_CONTROL_NSTATES)
            counts[v->rows[i].state]++;
    struct ts_sbuf b = {0};
    ts_sbuf_printf(
        &b, "{\"kind\":\"connections\",\"instance\":\"%s\",\"now_us\":%" PRIu64 ",\"total\":%zu,",
        v->instance, (uint64_t)t.now, t.n);
    json_viewers(&b, v, t.n, me, have_me);
    ts_sbuf_append(&b, ",\"counts\":{", 11);
    for (int st = TS_TCP_ESTABLISHED; st <= TS_TCP_CLOSING; st++)
        ts_sbuf_printf(&b, "%s\"%s\":%" PRIu64, st > 1 ? "," : "",
                       ts_tcp_state_name((enum ts_tcp_state)st), counts[st]);
    size_t m = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct ts_tcp_info *row = &v->rows[i];
        unsigned st = (unsigned)row->state < TS_CONTROL_NSTATES ? (unsigned)row->state : 0;
        bool mine = have_me && same_viewer(me, row);
        if (ps[1].given && st != ps[1].val && !mine)
            continue;
        if (ps[0].given && taken[st] >= ps[0].val && !mine)
            continue;
        taken[st]++;
        v->rows[m++] = *row;
    }
    uint64_t off = ps[2].given ? ps[2].val : 0;
    size_t from = off < m ? (size_t)off : m;
    size_t cnt = m - from < limit ? m - from : (size_t)limit;
    ts_sbuf_printf(&b, "},\"matched\":%zu,\"offset\":%zu,\"limit\":%" PRIu64 ",", m, from, limit);
    if (ps[0].given)
        ts_sbuf_printf(&b, "\"per_state\":%" PRIu64 ",", ps[0].val);
    else
        ts_sbuf_append(&b, "\"per_state\":null,", 17);
    ts_sbuf_printf(&b, "\"recording\":%s,\"sockets\":", v->recording ? "true" : "false");
    struct ts_stat_sockets ss = {.now = t.now, .tcp = v->rows + from, .ntcp = cnt};
    ts_stat_fmt_sockets_json(&b, &ss, TS_STAT_TCP | TS_STAT_LISTEN | TS_STAT_CONNS);
    ts_sbuf_append(&b, "}", 1);
    reply_sbuf(r, 200, &b);
}

/* ---------------------------------------------------------------- transitions */

static void api_transitions(struct tcpviz *v, const char *query, const struct viewer *me,
                            bool have_me, struct tcpviz_reply *r)
{
    struct param ps[] = {{.name = "since"}, {.name = "max"}};
    if (!parse_query(query, ps, 2, r))
        return;
    uint64_t max = ps[1].given ? ps[1].val : EVENTS_DEFAULT;
    if (max == 0 || max > TS_CONTROL_RING)
        return reply_error(r, 400, "max must be 1..%d", TS_CONTROL_RING);
    struct ts_stat_event *ev = malloc((size_t)max * sizeof *ev);
    if (!ev)
        return reply_error(r, 503, "out of memory");
    struct ts_stat_page pg;
    size_t n = ts_runtime_events_since(v->rt, ps[0].val, ev, (size_t)max, &pg);
    uint64_t(*moves)[TS_CONTROL_NSTATES] = v->moves;
    ts_runtime_transition_counts(v->rt, v->moves);
    struct snap t = {.v = v};
    ts_runtime_with_stack(v->rt, snap_table, &t);

    struct ts_sbuf b = {0};
    ts_sbuf_printf(&b,
                   "{\"kind\":\"transitions\",\"instance\":\"%s\",\"now_us\":%" PRIu64
                   ",\"first\":%" PRIu64 ",\"last\":%" PRIu64 ",\"lost\":%" PRIu64
                   ",\"next\":%" PRIu64 ",",
                   v->instance, (uint64_t)t.now, pg.first, pg.last, pg.lost, pg.next);
    json_viewers(&b, v, t.n, me, have_me);
    ts_sbuf_append(&b, ",\"moves\":[", 10);
    bool first = true;
    for (int i = 1; i < TS_CONTROL_NSTATES; i++)
        for (int j = 1; j < TS_CONTROL_NSTATES; j++) {
            if (!moves[i][j])
                continue;
            ts_sbuf_printf(&b, "%s{\"from\":\"%s\",\"to\":\"%s\",\"n\":%" PRIu64 "}",
                           first ? "" : ",", ts_tcp_state_name((enum ts_tcp_state)i),
                           ts_tcp_state_name((enum ts_tcp_state)j), moves[i][j]);
            first = false;
        }
    ts_sbuf_append(&b, "],\"events\":[", 12);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ts_sbuf_append(&b, ",", 1);
        ts_stat_fmt_event_json(&b, &ev[i], false);
    }
    ts_sbuf_append(&b, "]}", 2);
    free(ev);
    reply_sbuf(r, 200, &b);
}

/* ---------------------------------------------------------------- segments */

static void json_endpoints(struct ts_sbuf *b, const struct ts_seg_conn *c)
{
    char la[16], ra[16];
    ts_sbuf_printf(b, "\"local\":\"%s:%u\",\"remote\":\"%s:%u\"", ts_ip_format(c->laddr, la),
                   c->lport, ts_ip_format(c->raddr, ra), c->rport);
}

/* Wireshark's order and spelling: "SYN,ACK", "FIN,ACK", "PSH,ACK". */
static void json_flags(struct ts_sbuf *b, uint8_t f)
{
    static const char *names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    ts_sbuf_append(b, "\"flags\":\"", 9);
    bool first = true;
    for (int i = 0; i < 8; i++)
        if (f & (1u << i)) {
            ts_sbuf_printf(b, "%s%s", first ? "" : ",", names[i]);
            first = false;
        }
    ts_sbuf_append(b, "\"", 1);
}

static void json_segment(struct ts_sbuf *b, const struct ts_seg_conn *c,
                         const struct ts_seg_item *it)
{
    bool out = it->kind == TS_SEGITEM_SENT;
    uint8_t f = it->u.seg.flags;
    /* Relative numbers: our side counts from ISS, the peer's from IRS. */
    bool sb = out ? c->iss_known : c->irs_known, ab = out ? c->irs_known : c->iss_known;
    uint32_t sbase = out ? c->iss : c->irs, abase = out ? c->irs : c->iss;
    /* RFC 7323 2.2: a SYN's window is never scaled; the others by the sender's shift once both
     * SYNs offered scaling. */
    int shift = 0;
    if (!(f & TS_SEG_SYN) && c->ws_ours >= 0 && c->ws_peer >= 0)
        shift = out ? c->ws_ours : c->ws_peer;
    if (shift > 14)
        shift = 14;
    ts_sbuf_printf(b,
                   "{\"n\":%" PRIu64 ",\"kind\":\"segment\",\"dir\":\"%s\",\"time_us\":%" PRIu64
                   ",\"state\":\"%s\",",
                   it->n, out ? "out" : "in", (uint64_t)it->time,
                   ts_tcp_state_name((enum ts_tcp_state)it->state));
    json_flags(b, f);
    ts_sbuf_printf(b, ",\"seq\":%" PRIu32 ",\"seq_abs\":%" PRIu32 ",",
                   sb ? it->u.seg.seq - sbase : it->u.seg.seq, it->u.seg.seq);
    if ((f & TS_SEG_ACK) && ab)
        ts_sbuf_printf(b, "\"ack\":%" PRIu32 ",", it->u.seg.ack - abase);
    else
        ts_sbuf_append(b, "\"ack\":null,", 11);
    ts_sbuf_printf(b,
                   "\"ack_abs\":%" PRIu32 ",\"len\":%" PRIu32 ",\"win\":%" PRIu32
                   ",\"wnd_raw\":%u,\"opts\":\"",
                   it->u.seg.ack, it->u.seg.len, (uint32_t)it->u.seg.wnd << shift,
                   (unsigned)it->u.seg.wnd);
    const char *sp = "";
    if (it->u.seg.mss >= 0) {
        ts_sbuf_printf(b, "MSS=%" PRId32, it->u.seg.mss);
        sp = " ";
    }
    if (it->u.seg.wscale >= 0) {
        ts_sbuf_printf(b, "%sWS=%d", sp, 1 << (it->u.seg.wscale > 14 ? 14 : it->u.seg.wscale));
        sp = " ";
    }
    if (it->u.seg.sack_perm) {
        ts_sbuf_printf(b, "%sSACK_PERM", sp);
        sp = " ";
    }
    if (it->u.seg.ts) {
        ts_sbuf_printf(b, "%sTS", sp);
        sp = " ";
    }
    if (it->u.seg.nsack)
        ts_sbuf_printf(b, "%sSACK(%u)", sp, it->u.seg.nsack);
    ts_sbuf_append(b, "\",\"caused\":[", 12);
    for (unsigned i = 0; i < it->u.seg.ncaused && i < 2; i++)
        ts_sbuf_printf(b, "%s%" PRIu64, i ? "," : "", it->u.seg.caused[i]);
    ts_sbuf_append(b, "]}", 2);
}

static void json_state_item(struct ts_sbuf *b, const struct ts_seg_item *it)
{
    ts_sbuf_printf(b,
                   "{\"n\":%" PRIu64 ",\"kind\":\"state\",\"time_us\":%" PRIu64
                   ",\"from\":\"%s\",\"to\":\"%s\",\"cause\":",
                   it->n, (uint64_t)it->time, ts_tcp_state_name((enum ts_tcp_state)it->u.st.from),
                   ts_tcp_state_name((enum ts_tcp_state)it->state));
    ts_sbuf_json_str(b, it->u.st.cause ? it->u.st.cause : "?");
    ts_sbuf_printf(b, ",\"in_from_us\":%" PRIu64 ",\"trace_seq\":%" PRIu64 ",",
                   (uint64_t)it->u.st.in_from, it->u.st.trace_seq);
    if (it->u.st.by)
        ts_sbuf_printf(b, "\"by\":%" PRIu64 "}", it->u.st.by);
    else
        ts_sbuf_append(b, "\"by\":null}", 10);
}

static void json_ladder_head(struct ts_sbuf *b, const struct ts_seg_conn *c)
{
    ts_sbuf_printf(b, "\"conn_id\":%" PRIu64 ",", c->conn_id);
    json_endpoints(b, c);
    ts_sbuf_printf(b,
                   ",\"state\":\"%s\",\"ended\":%s,\"start_us\":%" PRIu64 ",\"last_us\":%" PRIu64
                   ",\"items\":%" PRIu64,
                   ts_tcp_state_name((enum ts_tcp_state)c->state), c->ended ? "true" : "false",
                   (uint64_t)c->start, (uint64_t)c->last, c->items);
}

static void api_segments(struct tcpviz *v, const char *query, struct tcpviz_reply *r)
{
    struct param ps[] = {{.name = "conn"}, {.name = "since"}, {.name = "max"}};
    if (!parse_query(query, ps, 3, r))
        return;
    if (!ps[0].given)
        return reply_error(r, 400, "conn=ID is needed: a connection's id (/api/connections)");
    uint64_t max = ps[2].given ? ps[2].val : TS_SEGLOG_ITEMS;
    if (max == 0 || max > TS_SEGLOG_ITEMS)
        return reply_error(r, 400, "max must be 1..%d", TS_SEGLOG_ITEMS);
    struct ts_seg_item *items = v->items;
    struct ts_seg_conn c;
    struct ts_stat_page pg;
    size_t n;
    if (!ts_runtime_segments_since(v->rt, ps[0].val, ps[1].val, items, (size_t)max, &n, &c, &pg))
        return reply_error(r, 404,
                           "no ladder for connection %" PRIu64
                           ": unknown, begun before the page was first opened, or one of more "
                           "than %d newer connections displaced it",
                           ps[0].val, TS_SEGLOG_CONNS);
    struct ts_sbuf b = {0};
    ts_sbuf_printf(&b, "{\"kind\":\"segments\",\"instance\":\"%s\",", v->instance);
    json_ladder_head(&b, &c);
    ts_sbuf_printf(&b,
                   ",\"iss_syn\":%s,\"irs_syn\":%s,\"ws_ours\":%d,\"ws_peer\":%d,\"first\":%" PRIu64
                   ",\"last\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"next\":%" PRIu64 ",\"list\":[",
                   c.iss_syn ? "true" : "false", c.irs_syn ? "true" : "false", c.ws_ours, c.ws_peer,
                   pg.first, pg.last, pg.lost, pg.next);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ts_sbuf_append(&b, ",", 1);
        if (items[i].kind == TS_SEGITEM_STATE)
            json_state_item(&b, &items[i]);
        else
            json_segment(&b, &c, &items[i]);
    }
    ts_sbuf_append(&b, "]}", 2);
    reply_sbuf(r, 200, &b);
}

static void api_ladders(struct tcpviz *v, const char *query, struct tcpviz_reply *r)
{
    struct param ps[] = {{.name = "max"}};
    if (!parse_query(query, ps, 1, r))
        return;
    uint64_t max = ps[0].given ? ps[0].val : LADDERS_MAX;
    if (max == 0 || max > LADDERS_MAX)
        return reply_error(r, 400, "max must be 1..%d", LADDERS_MAX);
    struct ts_seg_conn *cs = v->ladders;
    size_t n = ts_runtime_seg_conns(v->rt, cs, (size_t)max);
    struct ts_sbuf b = {0};
    ts_sbuf_printf(&b,
                   "{\"kind\":\"ladders\",\"instance\":\"%s\",\"now_us\":%" PRIu64
                   ",\"recording\":%s,\"ladders\":[",
                   v->instance, (uint64_t)ts_runtime_now(), v->recording ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        ts_sbuf_append(&b, i ? ",{" : "{", i ? 2 : 1);
        json_ladder_head(&b, &cs[i]);
        ts_sbuf_append(&b, "}", 1);
    }
    ts_sbuf_append(&b, "]}", 2);
    reply_sbuf(r, 200, &b);
}

static void api_states(struct tcpviz *v, const char *query, struct tcpviz_reply *r)
{
    if (!parse_query(query, NULL, 0, r))
        return;
    struct snap t = {.v = v};
    ts_runtime_with_stack(v->rt, snap_table, &t);
    char ip[16];
    struct ts_sbuf b = {0};
    ts_sbuf_printf(&b, "{\"kind\":\"states\",\"instance\":\"%s\",\"started_ms\":%" PRIu64 ",",
                   v->instance, v->started_ms);
    ts_sbuf_append(&b, "\"program\":", 10);
    ts_sbuf_json_str(&b, v->program);
    ts_sbuf_append(&b, ",\"title\":", 9);
    ts_sbuf_json_str(&b, v->title);
    ts_sbuf_printf(&b,
                   ",\"address\":\"%s\",\"segment_ladders\":%d,"
                   "\"ladder_items\":%d,\"states\":[",
                   ts_ip_format(t.ip, ip), TS_SEGLOG_CONNS, TS_SEGLOG_ITEMS);
    for (int st = TS_TCP_ESTABLISHED; st <= TS_TCP_CLOSING; st++) {
        ts_sbuf_printf(
            &b, "%s{\"n\":%d,\"name\":\"%s\",\"rfc\":\"%s\",\"explain\":", st > 1 ? "," : "", st,
            ts_tcp_state_name((enum ts_tcp_state)st), ts_tcp_state_rfc_name((enum ts_tcp_state)st));
        ts_sbuf_json_str(&b, ts_tcp_state_explain((enum ts_tcp_state)st));
        ts_sbuf_append(&b, "}", 1);
    }
    ts_sbuf_append(&b, "]}", 2);
    reply_sbuf(r, 200, &b);
}

/* ---------------------------------------------------------------- the page's files */

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

static void page_file(const char *path, struct tcpviz_reply *r)
{
    const char *name =
        strcmp(path, "/tcp") == 0 || strcmp(path, "/tcp/") == 0 ? "tcp.html" : path + 5;
    for (const struct web_asset *a = web_assets; a->name; a++)
        if (strcmp(a->name, name) == 0) {
            /* no-cache: a rebuilt binary serves its own page at once. */
            *r = (struct tcpviz_reply){
                200,    type_of(name), "Cache-Control: no-cache\r\n", (const char *)a->data,
                a->len, NULL};
            return;
        }
    static const char msg[] = "not found; the page is /tcp\n";
    *r = (struct tcpviz_reply){404, "text/plain; charset=utf-8", NULL, msg, sizeof msg - 1, NULL};
}

/* ---------------------------------------------------------------- routing */

void tcpviz_get(struct tcpviz *v, const char *path, const char *query, int fd,
                struct tcpviz_reply *r)
{
    *r = (struct tcpviz_reply){0};
    struct viewer me;
    bool have_me = client_of(fd, &me);
    if (have_me)
        note_viewer(v, &me);
    tcpviz_record_now(v); /* the page is being looked at: ladders from now on */
    if (strncmp(path, "/api/", 5) != 0)
        return page_file(path, r);
    const char *ep = path + 5;
    if (strcmp(ep, "connections") == 0)
        api_connections(v, query, &me, have_me, r);
    else if (strcmp(ep, "transitions") == 0)
        api_transitions(v, query, &me, have_me, r);
    else if (strcmp(ep, "segments") == 0)
        api_segments(v, query, r);
    else if (strcmp(ep, "ladders") == 0)
        api_ladders(v, query, r);
    else if (strcmp(ep, "states") == 0)
        api_states(v, query, r);
    else
        reply_error(r, 404,
                    "no such endpoint; try /api/connections, /api/transitions, "
                    "/api/segments?conn=ID, /api/ladders or /api/states");
}
