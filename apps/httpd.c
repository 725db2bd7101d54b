/* tapstack-httpd: an HTTP/1.1 server on tapstack's socket API, and the example of how to write a
 * server on it: one thread, one event loop (apps/common/evloop.h), one small state machine per
 * connection (apps/common/httpserve.h: keep-alive, timeouts, lingering close, --max-conns).
 *
 *   GET  /          HTML page: the stack's TCP connections counted per state, with what each
 *                   state means, and one page of them (/?page=N, or /?offset=N&limit=M)
 *   GET  /stats     the stack's counters, text/plain (/stats?all for the zero ones too)
 *   GET  /tcp       the live picture of TCP: state diagram, transitions, segment ladders, and
 *                   its JSON endpoints /api/... (apps/common/tcpviz.h)
 *   GET  /bytes/N   N bytes of the pattern "byte i = i mod 251" (apps/common/pattern.h),
 *                   streamed: any N, gigabytes included, without holding it in memory
 *   POST /upload    a body of any size (Content-Length or chunked): answers length and SHA-256
 * HEAD works wherever GET does. Keep-alive per RFC 9112 9.3; "Connection: close" honoured.
 * Errors: 400 malformed, 404 unknown path, 405 wrong method, 408 head too slow, 411 upload
 * without a length, 414 target over 2 KiB, 431 head over 8 KiB, 501 unknown method or transfer
 * coding, 505 HTTP version (apps/common/http.c parses). At most --max-conns connections at
 * once; beyond that a new connection is answered 503 and closed, counted (/stats) and reported
 * on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/evloop.h"
#include "common/http.h"
#include "common/httpserve.h"
#include "common/netio.h"
#include "common/opts.h"
#include "common/pattern.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/tcpviz.h"
#include "tapstack/tcp.h"

#define PAGE_ROWS 100  /* connections per page of / */
#define PAGE_MAX  1000 /* the most ?limit= may ask for */

static struct httpd {
    unsigned port;
    struct ts_runtime *rt;
    struct ts_app *app;
    struct ev_loop loop;
    struct hs_server srv;
    struct ts_tcp_info *rows; /* GET /: the connection table, grown as needed */
    size_t rows_cap;
    struct tcpviz *viz; /* GET /tcp and /api/ */
} H = {.port = 80, .srv = {.limit = {.max = 2048}}};

/* /bytes/N's body: bytes from offset o are at pattern + o % 251. */
static uint8_t pattern[HS_CHUNK + PATTERN_PERIOD];

static const uint8_t *pattern_at(void *arg, uint64_t off, size_t *n)
{
    (void)arg;
    if (*n > HS_CHUNK)
        *n = HS_CHUNK;
    return pattern + off % PATTERN_PERIOD;
}

static int respond_sbuf(struct hs_conn *c, const char *ctype, struct sbuf *b, bool head_only)
{
    int r = b->oom ? hs_respond_text(c, 503, head_only, NULL, "out of memory\n")
                   : hs_respond(c, 200, ctype, b->p, b->len, head_only, NULL);
    free(b->p);
    return r;
}

/* ---- GET / : connections counted per state, and one page of them ---- */

struct table_snap {
    size_t n;   /* entries in the table */
    size_t off; /* the page asked for: from this entry... */
    size_t lim; /* ...at most this many */
    size_t got; /* rows copied into H.rows */
    struct ts_tcp_summary sum;
    ts_time_t now;
    char ip[16];
};

/* Under the runtime's lock: the counts per state (O(1)) and one page of rows (O(offset +
 * limit)), so the page costs the same with 100 000 connections as with ten. */
static void snap_table(struct ts_stack *s, void *arg)
{
    struct table_snap *t = arg;
    t->now = ts_runtime_now();
    ts_ip_format(ts_stack_config(s)->ip, t->ip);
    ts_tcp_summary(s, &t->sum);
    t->n = t->sum.total;
    t->got = 0;
    if (H.rows_cap < t->lim) {
        struct ts_tcp_info *r = realloc(H.rows, t->lim * sizeof *r);
        if (!r)
            return; /* the counts without rows */
        H.rows = r;
        H.rows_cap = t->lim;
    }
    struct ts_tcp_query q = {.offset = t->off};
    t->got = ts_tcp_table_page(s, &q, H.rows, t->lim, t->now);
}

/* name=DIGITS in a query string "a=1&b=2". */
static bool query_u64(const char *q, const char *name, uint64_t *out)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=')
            return http_parse_u64(p + nl + 1, strcspn(p + nl + 1, "&"), out) == 0;
    }
    return false;
}

static void table_row(struct sbuf *b, const struct ts_tcp_info *r)
{
    char la[16], ra[16], tm[48];
    if (r->timer && r->timer_name)
        snprintf(tm, sizeof tm, "%s %.0f ms", r->timer_name, (double)r->timer / 1000.0);
    else
        snprintf(tm, sizeof tm, "-");
    sb_printf(b,
              "<tr><td title=\"%s\">%s%s</td><td>%s:%u</td><td>%s:%u</td><td class=n>%" PRIu32
              "</td><td class=n>%" PRIu32 "</td><td>%s</td><td class=n>%.1f ms</td>"
              "<td class=n>%.1f ms</td><td class=n>%" PRIu32 "</td><td class=n>%" PRIu64
              "</td><td class=n>%" PRIu64 "</td><td class=n>%" PRIu64 "</td></tr>\n",
              ts_tcp_state_explain(r->state), ts_tcp_state_name(r->state),
              r->orphan ? " (orphan)" : "", ts_ip_format(r->laddr, la), r->lport,
              ts_ip_format(r->raddr, ra), r->rport, r->send_queued, r->recv_queued, tm,
              (double)r->srtt / 1000.0, (double)r->rto / 1000.0, r->cwnd, r->bytes_received,
              r->bytes_sent, r->retransmits);
}

/* Every state present, counted, with what it means. */
static void state_summary(struct sbuf *b, const struct ts_tcp_summary *sum)
{
    const size_t *count = sum->state;
    sb_printf(b, "<h2>States</h2>\n<dl>\n");
    for (int st = 1; st < TS_TCP_NSTATES; st++)
        if (count[st])
            sb_printf(b, "<dt>%s (RFC 9293: %s): %zu</dt><dd>%s</dd>\n",
                      ts_tcp_state_name((enum ts_tcp_state)st),
                      ts_tcp_state_rfc_name((enum ts_tcp_state)st), count[st],
                      ts_tcp_state_explain((enum ts_tcp_state)st));
    sb_printf(b, "</dl>\n<p><small>Orphan: closed by its application, finishing the close on "
                 "its own.</small></p>\n");
}

static void page_links(struct sbuf *b, uint64_t off, uint64_t lim, size_t n)
{
    if (off > 0)
        sb_printf(b, "<a href=\"/?offset=%" PRIu64 "&amp;limit=%" PRIu64 "\">previous</a> ",
                  off > lim ? off - lim : 0, lim);
    if (off + lim < n)
        sb_printf(b, "<a href=\"/?offset=%" PRIu64 "&amp;limit=%" PRIu64 "\">next</a>", off + lim,
                  lim);
    sb_printf(b, "</p>\n");
}

static int page_index(struct hs_conn *c, const char *query, bool head_only)
{
    uint64_t lim = PAGE_ROWS, off = 0, page;
    if (query && query_u64(query, "limit", &lim) && (lim == 0 || lim > PAGE_MAX))
        return hs_respond_text(c, 400, head_only, NULL, "limit must be 1..%d\n", PAGE_MAX);
    if (query && query_u64(query, "page", &page) && page > 0)
        off = (page - 1) * lim;
    if (query)
        query_u64(query, "offset", &off);
    struct table_snap t = {.off = off > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)off,
                           .lim = (size_t)lim};
    ts_runtime_with_stack(H.rt, snap_table, &t);

    struct sbuf b = {0};
    sb_printf(&b,
              "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tapstack %s</title>\n"
              "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
              "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
              "td.n{text-align:right}</style></head><body>\n<h1>tapstack at %s</h1>\n"
              "<p>A user-space TCP/IP stack on a TAP device. It has %zu TCP connections and "
              "listeners right now, the one that fetched this page included. <b>Watch them "
              "live: <a href=\"/tcp\">/tcp</a></b> (the state diagram with every connection "
              "moving through it, and each connection's segments). See also "
              "<a href=\"/stats\">/stats</a> (counters) and <a href=\"/bytes/1048576\">"
              "/bytes/1048576</a> (1 MiB of the test pattern).</p>\n",
              t.ip, t.ip, t.n);
    state_summary(&b, &t.sum);
    size_t from = off < t.n ? (size_t)off : t.n;
    size_t to = from + t.got;
    sb_printf(&b, "<h2>Connections %zu to %zu of %zu, newest first</h2>\n<p>", to ? from + 1 : 0,
              to, t.n);
    page_links(&b, off, lim, t.n);
    sb_printf(&b, "<table><tr><th>State</th><th>Local</th><th>Remote</th><th>Send-Q</th>"
                  "<th>Recv-Q</th><th>Timer</th><th>SRTT</th><th>RTO</th><th>cwnd</th>"
                  "<th>Bytes in</th><th>Bytes out</th><th>Retransmits</th></tr>\n");
    for (size_t i = 0; i < t.got; i++)
        table_row(&b, &H.rows[i]);
    sb_printf(&b, "</table>\n</body></html>\n");
    return respond_sbuf(c, "text/html; charset=utf-8", &b, head_only);
}

/* ---- GET /stats ---- */

struct stats_snap {
    bool all;
    struct sbuf b;
};

static void snap_stats(struct ts_stack *s, void *arg)
{
    struct stats_snap *t = arg;
    char one[1];
    size_t need = ts_stack_counters_format(s, one, sizeof one, t->all);
    t->b.p = malloc(need + 1);
    if (!t->b.p) {
        t->b.oom = true;
        return;
    }
    t->b.cap = need + 1;
    t->b.len = ts_stack_counters_format(s, t->b.p, t->b.cap, t->all);
    if (t->b.len > need)
        t->b.len = need;
    struct ts_fault_stats fs;
    if (H.app->fault && ts_fault_stats(H.app->fault, &fs) == 0)
        sb_printf(&t->b,
                  "fault_dropped %llu\nfault_duplicated %llu\nfault_reordered %llu\n"
                  "fault_corrupted %llu\nfault_delayed %llu\n",
                  (unsigned long long)fs.dropped, (unsigned long long)fs.duplicated,
                  (unsigned long long)fs.reordered, (unsigned long long)fs.corrupted,
                  (unsigned long long)fs.delayed);
}

static int page_stats(struct hs_conn *c, const char *query, bool head_only)
{
    struct stats_snap t = {.all = query && strcmp(query, "all") == 0};
    ts_runtime_with_stack(H.rt, snap_stats, &t);
    sb_printf(&t.b,
              "httpd_connections_open %u\nhttpd_connections_refused %llu\n"
              "httpd_requests %llu\n",
              H.srv.limit.open, (unsigned long long)H.srv.limit.refused,
              (unsigned long long)H.srv.requests);
    return respond_sbuf(c, "text/plain; charset=utf-8", &t.b, head_only);
}

/* ---- GET /bytes/N: the head here, the body streamed by step_send ---- */

static int page_bytes(struct hs_conn *c, const char *num, bool head_only)
{
    uint64_t n;
    if (http_parse_u64(num, strlen(num), &n) != 0)
        return hs_respond_text(c, 400, head_only, NULL,
                               "/bytes/N: N must be a decimal number of bytes\n");
    static const struct hs_source src = {pattern_at, NULL};
    return hs_respond_stream(c, 200, "application/octet-stream", n, &src, head_only,
                             "X-Pattern: byte i = i mod 251\r\n");
}

/* ---- GET /tcp and /api/...: apps/common/tcpviz.c ---- */

static int page_tcpviz(struct hs_conn *c, const char *path, const char *query, bool head_only)
{
    struct tcpviz_reply r;
    tcpviz_get(H.viz, path, query, hs_fd(c), &r);
    int ret = hs_respond(c, r.status, r.ctype, r.body, r.len, head_only, r.extra);
    tcpviz_reply_free(&r);
    return ret;
}

/* ---- POST /upload: the body into SHA-256, then its length and digest ---- */

static void upload_data(struct hs_conn *c, void *arg, const void *p, size_t n)
{
    (void)c;
    sha256_update(arg, p, n);
}

static int upload_done(struct hs_conn *c, void *arg, uint64_t total)
{
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_final(arg, d);
    sha256_hex(d, hex);
    free(arg);
    return hs_respond_text(c, 200, false, NULL, "length: %" PRIu64 "\nsha256: %s\n", total, hex);
}

static int page_upload(struct hs_conn *c, const struct http_request *req)
{
    if (!req->has_length && !req->chunked)
        return hs_respond_text(c, 411, false, NULL,
                               "POST /upload needs Content-Length or chunked encoding\n");
    struct sha256 *h = malloc(sizeof *h);
    if (!h)
        return HS_CLOSE;
    sha256_init(h);
    static const struct hs_sink sink = {upload_data, upload_done, free};
    return hs_read_body(c, req, &sink, h);
}

/* ---- routing ---- */

static int route(struct hs_conn *c, const struct http_request *req, const char *path,
                 const char *query, bool head)
{
    bool get = req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        if (get)
            return page_index(c, query, head);
    } else if (strcmp(path, "/stats") == 0) {
        if (get)
            return page_stats(c, query, head);
    } else if (strncmp(path, "/bytes/", 7) == 0) {
        if (get)
            return page_bytes(c, path + 7, head);
    } else if (tcpviz_owns(path)) {
        if (get)
            return page_tcpviz(c, path, query, head);
    } else if (strcmp(path, "/upload") == 0) {
        if (req->method == HTTP_M_POST)
            return page_upload(c, req);
        return hs_respond_text(c, 405, head, "Allow: POST\r\n", "use POST for /upload\n");
    } else {
        return hs_respond_text(c, 404, head, NULL,
                               "not found; try /, /tcp, /stats, /bytes/N or POST /upload\n");
    }
    /* RFC 9110 15.5.6: 405 names the methods the resource supports. */
    return hs_respond_text(c, 405, head, "Allow: GET, HEAD\r\n", "use GET or HEAD here\n");
}

/* ---- main ---- */

static const char *set_port(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 65535, &H.port) ? NULL : "must be a port 1..65535";
}

static const char *set_max_conns(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 1000000, &H.srv.limit.max) ? NULL : "must be 1..1000000";
}

static const struct ts_app_flag flags[] = {
    {"port", "N", "TCP port to serve HTTP on (default 80)", set_port},
    {"max-conns", "N",
     "connections served at once (default 2048); beyond that a new one gets 503 and is closed",
     set_max_conns},
    {0},
};

/* The listening socket: Nagle off on it, so on every connection it accepts (as on Linux).
 * Every response is written whole, so Nagle (RFC 1122 4.2.3.4) could only hold back the tail of
 * one until the client's delayed ACK: 40 ms per keep-alive request. */
static int listen_http(const struct ts_app_opts *o)
{
    int lfd = nio_serve_socket(o->prog, SOCK_STREAM, o->cfg.ip, H.port, NIO_BACKLOG);
    int one = 1;
    if (lfd < 0)
        return -1;
    if (nio_nonblock(lfd) < 0 ||
        ts_setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        hs_start(&H.srv, &H.loop, lfd) < 0) {
        ts_close(lfd);
        return -1;
    }
    return lfd;
}

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-httpd",
        .summary = "HTTP/1.1 server on tapstack: / (connections), /tcp (TCP live), /stats, "
                   "/bytes/N, POST /upload.",
        .flags = flags,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    H.srv.prog = o.prog;
    H.srv.route = route;
    pattern_fill(pattern, sizeof pattern, 0);

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    H.app = &app;
    H.rt = nio_runtime_start(&app);
    if (!H.rt) {
        ts_app_teardown(&app);
        return 1;
    }
    H.viz = tcpviz_new(H.rt);
    if (!H.viz || ev_init(&H.loop, ts_app_stop_flag()) < 0 || listen_http(&o) < 0) {
        fprintf(stderr, "%s: cannot set up the event loop: %s\n", o.prog, strerror(errno));
        tcpviz_free(H.viz);
        nio_runtime_stop(H.rt, &app);
        return 1;
    }
    char ip[16], port[8] = "";
    ts_ip_format(o.cfg.ip, ip);
    if (H.port != 80)
        snprintf(port, sizeof port, ":%u", H.port);
    fprintf(stderr, "%s: listening on %s:%u - try: curl http://%s%s/\n", o.prog, ip, H.port, ip,
            port);
    fprintf(stderr, "%s: TCP live in a browser: http://%s%s/tcp\n", o.prog, ip, port);
    fflush(stderr);

    int rc = ev_run(&H.loop) < 0 ? 1 : 0;
    if (rc)
        fprintf(stderr, "%s: epoll: %s\n", o.prog, strerror(errno));
    fprintf(stderr, "%s: stopping\n", o.prog);
    hs_stop(&H.srv);
    ev_fini(&H.loop);
    free(H.rows);
    tcpviz_free(H.viz);
    nio_runtime_stop(H.rt, &app);
    ts_app_teardown(&app);
    return rc;
}
