/* tapstack-httpd: an HTTP/1.1 server on tapstack's socket API, and the example of how to write a
 * server on it: one thread, one event loop (apps/common/evloop.h), one small state machine per
 * connection.
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
 * coding, 505 HTTP version (apps/common/http.c parses).
 *
 * A connection is in one of four phases:
 *   HEAD    reading a request head: IDLE_MS for its first byte, then HEAD_MS for all of it
 *           (slow-loris clients)
 *   BODY    reading an upload's body
 *   SEND    writing a response; then HEAD again (keep-alive) or LINGER
 *   LINGER  our FIN is out: read and discard until the client's FIN, LINGER_MS at most, so that
 *           closing with unread data cannot reset the connection before the client has read the
 *           answer (RFC 9112 9.6)
 * BODY and SEND give up after IO_MS without progress. Each phase has one step function that
 * does what it can without blocking and returns STEP_MORE (go on, maybe in another phase),
 * STEP_WAIT (nothing until the next event) or STEP_CLOSE. Sockets are edge-triggered, so a step
 * goes on until EAGAIN. At most --max-conns connections at once; beyond that a new connection
 * is answered 503 and closed, counted (/stats) and reported on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/evloop.h"
#include "common/http.h"
#include "common/netio.h"
#include "common/opts.h"
#include "common/pattern.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/tcpviz.h"
#include "tapstack/tcp.h"

#define IDLE_MS   30000
#define HEAD_MS   20000
#define IO_MS     60000
#define LINGER_MS 2000
#define IN_CAP    (HTTP_MAX_HEADER + 8192) /* a request head, and what came after it */
#define CHUNK     65536                    /* bytes per send or recv */
#define PAGE_ROWS 100                      /* connections per page of / */
#define PAGE_MAX  1000                     /* the most ?limit= may ask for */

enum phase { P_HEAD, P_BODY, P_SEND, P_LINGER };
enum { STEP_CLOSE = -1, STEP_WAIT = 0, STEP_MORE = 1 };

struct upload {
    struct sha256 h;
    bool chunked;
    uint64_t length, left; /* Content-Length, and the bytes of it still to come */
    struct http_chunked ch;
};

struct conn {
    struct ev_io io;
    struct ev_timer tmr;
    struct conn *prev, *next; /* every connection, to close them on exit */
    enum phase phase;
    bool keep; /* keep-alive after the response being sent */
    char *in;  /* received, not used yet (IN_CAP bytes; freed while idle) */
    size_t have;
    char *out; /* the response's head, and its body when that is in memory */
    size_t out_len, out_off;
    uint64_t pat_off, pat_end; /* /bytes/N: pattern bytes to send after out */
    struct upload *up;         /* POST /upload in progress */
    bool body_next;            /* out is "100 Continue": read the body once it is sent */
};

static struct httpd {
    const char *prog;
    unsigned port;
    struct ts_runtime *rt;
    struct ts_app *app;
    struct ev_loop loop;
    struct ev_io listener;
    struct ev_tlist idle, head, io, linger; /* timeouts, one list per duration */
    struct conn *conns;
    struct nio_limit limit;
    uint64_t requests;
    struct ts_tcp_info *rows; /* GET /: the connection table, grown as needed */
    size_t rows_cap;
    struct tcpviz *viz; /* GET /tcp and /api/ */
} H = {.port = 80, .limit = {.max = 2048}};

/* One thread serves everything, so these are shared by every connection. */
static uint8_t scratch[CHUNK];
static uint8_t pattern[CHUNK + PATTERN_PERIOD]; /* bytes from offset o at pattern + o % 251 */

static size_t min_sz(size_t a, uint64_t b)
{
    return b < a ? (size_t)b : a;
}

/* ---- responses: queued in the connection, sent by step_send ---- */

/* Queue a response: head, then the body (len bytes, or pat_len bytes of the pattern), both left
 * out for HEAD. */
static int respond(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                   uint64_t pat_len, bool head_only, const char *extra)
{
    char head[1024];
    size_t hl =
        http_format_head(head, sizeof head, status, ctype, pat_len ? pat_len : len, c->keep, extra);
    if (hl >= sizeof head)
        return STEP_CLOSE;
    size_t blen = head_only ? 0 : len;
    c->out = malloc(hl + blen);
    if (!c->out)
        return STEP_CLOSE;
    memcpy(c->out, head, hl);
    if (blen)
        memcpy(c->out + hl, body, blen);
    c->out_len = hl + blen;
    c->out_off = 0;
    c->pat_off = 0;
    c->pat_end = head_only ? 0 : pat_len;
    c->phase = P_SEND;
    ev_timer_arm(&H.io, &c->tmr);
    return STEP_MORE;
}

static int respond_text(struct conn *c, int status, bool head_only, const char *extra,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int respond_text(struct conn *c, int status, bool head_only, const char *extra,
                        const char *fmt, ...)
{
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof body)
        n = sizeof body - 1;
    return respond(c, status, "text/plain; charset=utf-8", body, (size_t)n, 0, head_only, extra);
}

static int respond_sbuf(struct conn *c, const char *ctype, struct sbuf *b, bool head_only)
{
    int r = b->oom ? respond_text(c, 503, head_only, NULL, "out of memory\n")
                   : respond(c, 200, ctype, b->p, b->len, 0, head_only, NULL);
    free(b->p);
    return r;
}

/* ---- GET / : connections counted per state, and one page of them ---- */

struct table_snap {
    size_t n;
    ts_time_t now;
    char ip[16];
};

/* Under the runtime's lock: every row, growing H.rows until they fit. */
static void snap_table(struct ts_stack *s, void *arg)
{
    struct table_snap *t = arg;
    t->now = ts_runtime_now();
    ts_ip_format(ts_stack_config(s)->ip, t->ip);
    for (;;) {
        t->n = ts_tcp_table(s, H.rows, H.rows_cap, t->now);
        if (t->n <= H.rows_cap)
            return;
        size_t cap = t->n + t->n / 4;
        struct ts_tcp_info *r = realloc(H.rows, cap * sizeof *r);
        if (!r) {
            t->n = H.rows_cap; /* show what fits */
            return;
        }
        H.rows = r;
        H.rows_cap = cap;
    }
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
static void state_summary(struct sbuf *b, size_t n)
{
    size_t count[16] = {0};
    for (size_t i = 0; i < n; i++)
        if ((unsigned)H.rows[i].state < 16)
            count[H.rows[i].state]++;
    sb_printf(b, "<h2>States</h2>\n<dl>\n");
    for (int st = 1; st < 16; st++)
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

static int page_index(struct conn *c, const char *query, bool head_only)
{
    uint64_t lim = PAGE_ROWS, off = 0, page;
    if (query && query_u64(query, "limit", &lim) && (lim == 0 || lim > PAGE_MAX))
        return respond_text(c, 400, head_only, NULL, "limit must be 1..%d\n", PAGE_MAX);
    if (query && query_u64(query, "page", &page) && page > 0)
        off = (page - 1) * lim;
    if (query)
        query_u64(query, "offset", &off);
    struct table_snap t;
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
    state_summary(&b, t.n);
    size_t from = off < t.n ? (size_t)off : t.n;
    size_t to = from + min_sz(t.n - from, lim);
    sb_printf(&b, "<h2>Connections %zu to %zu of %zu, newest first</h2>\n<p>", to ? from + 1 : 0,
              to, t.n);
    page_links(&b, off, lim, t.n);
    sb_printf(&b, "<table><tr><th>State</th><th>Local</th><th>Remote</th><th>Send-Q</th>"
                  "<th>Recv-Q</th><th>Timer</th><th>SRTT</th><th>RTO</th><th>cwnd</th>"
                  "<th>Bytes in</th><th>Bytes out</th><th>Retransmits</th></tr>\n");
    for (size_t i = from; i < to; i++)
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

static int page_stats(struct conn *c, const char *query, bool head_only)
{
    struct stats_snap t = {.all = query && strcmp(query, "all") == 0};
    ts_runtime_with_stack(H.rt, snap_stats, &t);
    sb_printf(&t.b,
              "httpd_connections_open %u\nhttpd_connections_refused %llu\n"
              "httpd_requests %llu\n",
              H.limit.open, (unsigned long long)H.limit.refused, (unsigned long long)H.requests);
    return respond_sbuf(c, "text/plain; charset=utf-8", &t.b, head_only);
}

/* ---- GET /bytes/N: the head here, the body streamed by step_send ---- */

static int page_bytes(struct conn *c, const char *num, bool head_only)
{
    uint64_t n;
    if (http_parse_u64(num, strlen(num), &n) != 0)
        return respond_text(c, 400, head_only, NULL,
                            "/bytes/N: N must be a decimal number of bytes\n");
    return respond(c, 200, "application/octet-stream", NULL, 0, n, head_only,
                   "X-Pattern: byte i = i mod 251\r\n");
}

/* ---- GET /tcp and /api/...: apps/common/tcpviz.c ---- */

static int page_tcpviz(struct conn *c, const char *path, const char *query, bool head_only)
{
    struct tcpviz_reply r;
    tcpviz_get(H.viz, path, query, c->io.fd, &r);
    int ret = respond(c, r.status, r.ctype, r.body, r.len, 0, head_only, r.extra);
    tcpviz_reply_free(&r);
    return ret;
}

/* ---- POST /upload: set up here, read by step_body ---- */

static int page_upload(struct conn *c, const struct http_request *req)
{
    if (!req->has_length && !req->chunked)
        return respond_text(c, 411, false, NULL,
                            "POST /upload needs Content-Length or chunked encoding\n");
    c->up = calloc(1, sizeof *c->up);
    if (!c->up)
        return STEP_CLOSE;
    sha256_init(&c->up->h);
    c->up->chunked = req->chunked;
    c->up->length = c->up->left = req->content_length;
    http_chunked_init(&c->up->ch);
    c->phase = P_BODY;
    ev_timer_arm(&H.io, &c->tmr);
    /* RFC 9110 10.1.1: the client waits for this before sending a body it announced with
     * Expect: 100-continue (curl does so for large uploads). */
    if (req->expect_continue && c->have == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->out = malloc(sizeof cont - 1);
        if (!c->out)
            return STEP_CLOSE;
        memcpy(c->out, cont, sizeof cont - 1);
        c->out_len = sizeof cont - 1;
        c->out_off = 0;
        c->body_next = true;
        c->phase = P_SEND;
    }
    return STEP_MORE;
}

static int upload_done(struct conn *c, uint64_t total)
{
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_final(&c->up->h, d);
    sha256_hex(d, hex);
    free(c->up);
    c->up = NULL;
    return respond_text(c, 200, false, NULL, "length: %" PRIu64 "\nsha256: %s\n", total, hex);
}

/* Content-Length: what came with the head first, then straight from the socket. */
static int body_length(struct conn *c)
{
    struct upload *u = c->up;
    while (u->left > 0) {
        if (c->have > 0) {
            size_t k = min_sz(c->have, u->left);
            sha256_update(&u->h, c->in, k);
            memmove(c->in, c->in + k, c->have - k);
            c->have -= k;
            u->left -= k;
            continue;
        }
        ssize_t n = ts_recv(c->io.fd, scratch, min_sz(sizeof scratch, u->left), 0);
        if (n <= 0) /* 0: the client went away mid-body, nothing to answer */
            return n < 0 && errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        sha256_update(&u->h, scratch, (size_t)n);
        u->left -= (uint64_t)n;
        ev_timer_arm(&H.io, &c->tmr);
    }
    return upload_done(c, u->length);
}

/* Chunked: decode in place; what follows the last chunk stays for the next request. */
static int body_chunked(struct conn *c)
{
    struct upload *u = c->up;
    for (;;) {
        size_t off = 0;
        int r = HTTP_CHUNK_MORE;
        while (off < c->have && r == HTTP_CHUNK_MORE) {
            size_t used, doff, dlen;
            r = http_chunked_feed(&u->ch, (const uint8_t *)c->in + off, c->have - off, &used, &doff,
                                  &dlen);
            sha256_update(&u->h, c->in + off + doff, dlen);
            off += used;
        }
        memmove(c->in, c->in + off, c->have - off);
        c->have -= off;
        if (r == HTTP_CHUNK_ERROR) {
            free(c->up);
            c->up = NULL;
            c->keep = false;
            return respond_text(c, 400, false, NULL, "malformed chunked body\n");
        }
        if (r == HTTP_CHUNK_DONE)
            return upload_done(c, u->ch.total);
        ssize_t n = ts_recv(c->io.fd, c->in + c->have, IN_CAP - c->have, 0);
        if (n <= 0)
            return n < 0 && errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        c->have += (size_t)n;
        ev_timer_arm(&H.io, &c->tmr);
    }
}

/* ---- routing ---- */

static int route(struct conn *c, struct http_request *req)
{
    char *path = req->target;
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    bool get = req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
    bool head = req->method == HTTP_M_HEAD;
    bool has_body = req->chunked || (req->has_length && req->content_length > 0);
    bool upload = strcmp(path, "/upload") == 0;
    H.requests++;

    /* A body we will not read makes the connection unusable for another request: answer and
     * close (the lingering close drains it). */
    if (has_body && !(upload && req->method == HTTP_M_POST))
        c->keep = false;

    if (req->method == HTTP_M_OTHER) /* RFC 9110 15.6.2: a method we do not recognise */
        return respond_text(c, 501, false, NULL, "method %s not implemented\n", req->method_str);
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
    } else if (upload) {
        if (req->method == HTTP_M_POST)
            return page_upload(c, req);
        return respond_text(c, 405, head, "Allow: POST\r\n", "use POST for /upload\n");
    } else {
        return respond_text(c, 404, head, NULL,
                            "not found; try /, /tcp, /stats, /bytes/N or POST /upload\n");
    }
    /* RFC 9110 15.5.6: 405 names the methods the resource supports. */
    return respond_text(c, 405, head, "Allow: GET, HEAD\r\n", "use GET or HEAD here\n");
}

/* ---- the phases ---- */

static int step_head(struct conn *c)
{
    if (!c->in && !(c->in = malloc(IN_CAP)))
        return STEP_CLOSE;
    struct http_request req;
    long hl = http_parse_request(c->in, c->have, 0, &req);
    if (hl < 0) {
        int status = (int)-hl;
        c->keep = false;
        return respond_text(c, status, false, NULL, "%s\n", http_reason(status));
    }
    if (hl > 0) {
        memmove(c->in, c->in + hl, c->have - (size_t)hl);
        c->have -= (size_t)hl;
        c->keep = req.keep_alive;
        return route(c, &req);
    }
    ssize_t n = ts_recv(c->io.fd, c->in + c->have, IN_CAP - c->have, 0);
    if (n > 0) {
        if (c->have == 0) /* the head's clock starts with its first byte */
            ev_timer_arm(&H.head, &c->tmr);
        c->have += (size_t)n;
        return STEP_MORE;
    }
    if (n < 0 && errno == EAGAIN) {
        if (c->have == 0) { /* idle between requests: hold no buffer */
            free(c->in);
            c->in = NULL;
        }
        return STEP_WAIT;
    }
    return STEP_CLOSE; /* the client closed (half-close included) or failed: nothing to answer */
}

static int step_body(struct conn *c)
{
    return c->up->chunked ? body_chunked(c) : body_length(c);
}

/* The response is out: the next request, or the end. */
static int response_sent(struct conn *c)
{
    if (c->keep && !*H.loop.stop) {
        c->phase = P_HEAD;
        ev_timer_arm(c->have ? &H.head : &H.idle, &c->tmr);
        return STEP_MORE;
    }
    ts_shutdown(c->io.fd, SHUT_WR);
    c->phase = P_LINGER;
    ev_timer_arm(&H.linger, &c->tmr);
    return STEP_MORE;
}

static int step_send(struct conn *c)
{
    while (c->out_off < c->out_len || c->pat_off < c->pat_end) {
        size_t out_left = c->out_len - c->out_off;
        uint64_t pat_left = c->pat_end - c->pat_off;
        const uint8_t *p = pattern + c->pat_off % PATTERN_PERIOD;
        size_t k = min_sz(CHUNK, pat_left);
        if (out_left > 0 && pat_left > 0) {
            /* The head and the first bytes of the body in one send: one segment for a small
             * response instead of two. */
            size_t pk = min_sz(CHUNK - out_left, pat_left);
            memcpy(scratch, c->out + c->out_off, out_left);
            memcpy(scratch + out_left, p, pk);
            p = scratch;
            k = out_left + pk;
        } else if (out_left > 0) {
            p = (const uint8_t *)c->out + c->out_off;
            k = out_left;
        }
        ssize_t n = ts_send(c->io.fd, p, k, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
        size_t from_out = min_sz(out_left, (uint64_t)n);
        c->out_off += from_out;
        c->pat_off += (uint64_t)n - from_out;
        ev_timer_arm(&H.io, &c->tmr);
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->body_next) {
        c->body_next = false;
        c->phase = P_BODY;
        return STEP_MORE;
    }
    return response_sent(c);
}

static int step_linger(struct conn *c)
{
    for (;;) {
        ssize_t n = ts_recv(c->io.fd, scratch, sizeof scratch, 0);
        if (n <= 0) /* 0: the client's FIN, the end we waited for */
            return n < 0 && errno == EAGAIN ? STEP_WAIT : STEP_CLOSE;
    }
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
    ev_timer_stop(&c->tmr);
    if (c->prev)
        c->prev->next = c->next;
    else
        H.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ts_close(c->io.fd);
    free(c->in);
    free(c->out);
    free(c->up);
    free(c);
    nio_limit_put(&H.limit);
}

/* Step c along from r until it has to wait for the network, or is closed. */
static void conn_run(struct conn *c, int r)
{
    while (r == STEP_MORE) {
        switch (c->phase) {
        case P_HEAD:
            r = step_head(c);
            break;
        case P_BODY:
            r = step_body(c);
            break;
        case P_SEND:
            r = step_send(c);
            break;
        case P_LINGER:
            r = step_linger(c);
            break;
        }
    }
    if (r == STEP_CLOSE)
        conn_close(c);
}

static void on_conn(struct ev_io *io, uint32_t events)
{
    (void)events; /* whatever happened, the phase's step finds out by trying */
    conn_run(EV_CONTAINER(io, struct conn, io), STEP_MORE);
}

static void on_timeout(struct ev_timer *t)
{
    struct conn *c = EV_CONTAINER(t, struct conn, tmr);
    if (c->phase == P_HEAD && c->have > 0) { /* a head trickling in (slow-loris) */
        c->keep = false;
        conn_run(c, respond_text(c, 408, false, NULL, "request head took too long\n"));
        return;
    }
    conn_close(c); /* idle, no progress, or lingered long enough */
}

/* Beyond --max-conns: say so and close, without waiting for anything. */
static void refuse_busy(int fd)
{
    char head[256];
    static const char body[] = "too many connections; try again\n";
    size_t hl = http_format_head(head, sizeof head, 503, "text/plain", sizeof body - 1, false,
                                 "Retry-After: 1\r\n");
    /* A request already here is read, so that the close is a FIN, not a reset that could make
     * the client lose the answer. */
    while (ts_recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0)
        ;
    memcpy(scratch, head, hl);
    memcpy(scratch + hl, body, sizeof body - 1);
    ts_send(fd, scratch, hl + sizeof body - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ts_close(fd);
}

static void on_listener(struct ev_io *io, uint32_t events)
{
    (void)events;
    for (;;) {
        int fd = ts_accept4(io->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            if (errno != EAGAIN)
                fprintf(stderr, "%s: accept: %s\n", H.prog, strerror(errno));
            return;
        }
        if (!nio_limit_take(&H.limit, H.prog, "answered 503")) {
            refuse_busy(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c ||
            ev_add(&H.loop, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_conn) < 0) {
            free(c);
            ts_close(fd);
            nio_limit_put(&H.limit);
            continue;
        }
        c->next = H.conns;
        if (H.conns)
            H.conns->prev = c;
        H.conns = c;
        c->phase = P_HEAD;
        ev_timer_init(&c->tmr, on_timeout);
        ev_timer_arm(&H.idle, &c->tmr); /* the socket's first event starts the work */
    }
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
    return ts_app_parse_uint(val, 1, 1000000, &H.limit.max) ? NULL : "must be 1..1000000";
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
    if (lfd < 0 || nio_nonblock(lfd) < 0 ||
        ts_setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        ev_add(&H.loop, &H.listener, lfd, EPOLLIN, on_listener) < 0)
        return -1;
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
    H.prog = o.prog;
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
    int lfd = -1;
    H.viz = tcpviz_new(H.rt);
    if (!H.viz || ev_init(&H.loop, ts_app_stop_flag()) < 0 || (lfd = listen_http(&o)) < 0) {
        fprintf(stderr, "%s: cannot set up the event loop: %s\n", o.prog, strerror(errno));
        tcpviz_free(H.viz);
        nio_runtime_stop(H.rt, &app);
        return 1;
    }
    ev_tlist_init(&H.loop, &H.idle, IDLE_MS);
    ev_tlist_init(&H.loop, &H.head, HEAD_MS);
    ev_tlist_init(&H.loop, &H.io, IO_MS);
    ev_tlist_init(&H.loop, &H.linger, LINGER_MS);
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
    while (H.conns)
        conn_close(H.conns);
    ts_close(lfd);
    ev_fini(&H.loop);
    free(H.rows);
    tcpviz_free(H.viz);
    nio_runtime_stop(H.rt, &app);
    ts_app_teardown(&app);
    return rc;
}
