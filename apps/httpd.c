/* tapstack-httpd: an HTTP/1.1 server on tapstack's socket API.
 *
 *   GET  /            HTML page with the live TCP connection table and what
 * each state means GET  /stats       the stack's counters, text/plain
 * (/stats?all for the zero ones too) GET  /bytes/N     N bytes of the pattern
 * "byte i = i mod 251" (apps/common/pattern.h), streamed: any N, gigabytes
 * included, without holding it in memory POST /upload      a body of any size
 * (Content-Length or chunked): answers its length and SHA-256 HEAD works
 * wherever GET does. Keep-alive per RFC 9112 9.3; "Connection: close" honoured.
 * Bad requests get 400, unknown paths 404, a known path with the wrong method
 * 405, an unknown method 501, a head over 8 KiB 431, no length on an upload
 * 411.
 *
 * One thread per connection, at most MAX_CONNS (beyond: 503 and close). Every
 * wait is bounded: a keep-alive connection idle for IDLE_MS is closed, a
 * request head must arrive within HEAD_MS (slowloris), and a transfer that
 * makes no progress for IO_MS is abandoned, so no client can hold a thread for
 * ever. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/http.h"
#include "common/netio.h"
#include "common/opts.h"
#include "common/pattern.h"
#include "common/sha256.h"
#include "tapstack/tcp.h"

#define MAX_CONNS 512
#define IDLE_MS   30000
#define HEAD_MS   20000
#define IO_MS     60000
#define TABLE_MAX 1024 /* connections shown on the page */

struct httpd {
    const char *prog;
    unsigned port;
    struct ts_runtime *rt;
    struct ts_app *app;
    volatile sig_atomic_t *stop;
    struct nio_pool pool; /* connection threads */
};
static struct httpd H = {.port = 80, .pool = NIO_POOL_INIT(MAX_CONNS)};

struct conn {
    int fd;
    size_t have;                     /* bytes in in[] not yet consumed */
    char in[HTTP_MAX_HEADER + 8192]; /* the head being read, and bytes after it */
    uint8_t out[65536];
};

/* ---- a growing text buffer for generated bodies ---- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    for (;;) {
        if (b->oom)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* ---- responses ---- */

/* Send a complete response with a body held in memory (HEAD: the head only). */
static int respond(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                   bool keep, bool head_only, const char *extra)
{
    char head[1024];
    size_t hl = http_format_head(head, sizeof head, status, ctype, len, keep, extra);
    if (hl >= sizeof head)
        return -1;
    if (head_only || len == 0)
        return nio_send_all(c->fd, head, hl, IO_MS, H.stop);
    if (hl + len <= sizeof c->out) { /* one send: head and body in the same segment */
        memcpy(c->out, head, hl);
        memcpy(c->out + hl, body, len);
        return nio_send_all(c->fd, c->out, hl + len, IO_MS, H.stop);
    }
    if (nio_send_all(c->fd, head, hl, IO_MS, H.stop) < 0)
        return -1;
    return nio_send_all(c->fd, body, len, IO_MS, H.stop);
}

static int respond_text(struct conn *c, int status, bool keep, bool head_only, const char *extra,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int respond_text(struct conn *c, int status, bool keep, bool head_only, const char *extra,
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
    return respond(c, status, "text/plain; charset=utf-8", body, (size_t)n, keep, head_only, extra);
}

/* ---- GET / : the connection table ---- */

struct table_snap {
    struct ts_tcp_info *rows;
    size_t n;
    ts_time_t now;
    char ip[16];
};

static void snap_table(struct ts_stack *s, void *arg)
{
    struct table_snap *t = arg;
    t->now = ts_runtime_now();
    t->n = ts_tcp_table(s, t->rows, TABLE_MAX, t->now);
    ts_ip_format(ts_stack_config(s)->ip, t->ip);
}

static const char *fmt_ms(ts_time_t us, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.1f ms", (double)us / 1000.0);
    return buf;
}

static int page_index(struct conn *c, bool keep, bool head_only)
{
    struct table_snap t = {.rows = calloc(TABLE_MAX, sizeof(struct ts_tcp_info))};
    if (!t.rows)
        return respond_text(c, 503, keep, head_only, NULL, "out of memory\n");
    ts_runtime_with_stack(H.rt, snap_table, &t);
    size_t shown = t.n < TABLE_MAX ? t.n : TABLE_MAX;

    struct sbuf b = {0};
    sb_printf(&b,
              "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tapstack "
              "%s</title>\n"
              "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
              "collapse}"
              "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
              "td.n{text-align:right}</style></head><body>\n"
              "<h1>tapstack at %s</h1>\n"
              "<p>A user-space TCP/IP stack on a TAP device. This page lists every TCP "
              "connection and listener it has right now (%zu), the one that fetched "
              "this page "
              "included. See also <a href=\"/stats\">/stats</a> (counters) and "
              "<a href=\"/bytes/1048576\">/bytes/1048576</a> (1 MiB of the test "
              "pattern).</p>\n"
              "<table><tr><th>State</th><th>Local</th><th>Remote</th><th>Send-Q</th>"
              "<th>Recv-Q</th><th>Timer</th><th>SRTT</th><th>RTO</th><th>cwnd</th>"
              "<th>Bytes in</th><th>Bytes out</th><th>Retransmits</th></tr>\n",
              t.ip, t.ip, t.n);
    bool seen[16] = {false};
    for (size_t i = 0; i < shown; i++) {
        const struct ts_tcp_info *r = &t.rows[i];
        char la[16], ra[16], tm[32], srtt[32], rto[32];
        if ((unsigned)r->state < 16)
            seen[r->state] = true;
        if (r->timer && r->timer_name)
            snprintf(tm, sizeof tm, "%s %.0f ms", r->timer_name, (double)r->timer / 1000.0);
        else
            snprintf(tm, sizeof tm, "-");
        sb_printf(&b,
                  "<tr><td title=\"%s\">%s%s</td><td>%s:%u</td><td>%s:%u</td><td "
                  "class=n>%" PRIu32 "</td><td class=n>%" PRIu32
                  "</td><td>%s</td><td class=n>%s</td>"
                  "<td class=n>%s</td><td class=n>%" PRIu32 "</td><td class=n>%" PRIu64
                  "</td><td class=n>%" PRIu64 "</td><td class=n>%" PRIu64 "</td></tr>\n",
                  ts_tcp_state_explain(r->state), ts_tcp_state_name(r->state),
                  r->orphan ? " (orphan)" : "", ts_ip_format(r->laddr, la), r->lport,
                  ts_ip_format(r->raddr, ra), r->rport, r->send_queued, r->recv_queued, tm,
                  fmt_ms(r->srtt, srtt, sizeof srtt), fmt_ms(r->rto, rto, sizeof rto), r->cwnd,
                  r->bytes_received, r->bytes_sent, r->retransmits);
    }
    sb_printf(&b, "</table>\n");
    if (t.n > shown)
        sb_printf(&b, "<p>%zu more not shown.</p>\n", t.n - shown);
    sb_printf(&b, "<h2>What these states mean</h2>\n<dl>\n");
    for (int st = 1; st < 16; st++)
        if (seen[st])
            sb_printf(&b, "<dt>%s (RFC 9293: %s)</dt><dd>%s</dd>\n",
                      ts_tcp_state_name((enum ts_tcp_state)st),
                      ts_tcp_state_rfc_name((enum ts_tcp_state)st),
                      ts_tcp_state_explain((enum ts_tcp_state)st));
    sb_printf(&b, "</dl>\n<p><small>Orphan: closed by its application, finishing the close "
                  "on its own.</small></p>\n</body></html>\n");
    free(t.rows);
    int r;
    if (b.oom)
        r = respond_text(c, 503, keep, head_only, NULL, "out of memory\n");
    else
        r = respond(c, 200, "text/html; charset=utf-8", b.p, b.len, keep, head_only, NULL);
    free(b.p);
    return r;
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

static int page_stats(struct conn *c, const char *query, bool keep, bool head_only)
{
    struct stats_snap t = {.all = query && strcmp(query, "all") == 0};
    ts_runtime_with_stack(H.rt, snap_stats, &t);
    int r;
    if (t.b.oom)
        r = respond_text(c, 503, keep, head_only, NULL, "out of memory\n");
    else
        r = respond(c, 200, "text/plain; charset=utf-8", t.b.p, t.b.len, keep, head_only, NULL);
    free(t.b.p);
    return r;
}

/* ---- GET /bytes/N ---- */

static int page_bytes(struct conn *c, const char *num, bool keep, bool head_only)
{
    uint64_t n;
    if (http_parse_u64(num, strlen(num), &n) != 0)
        return respond_text(c, 400, keep, head_only, NULL,
                            "/bytes/N: N must be a decimal number of bytes\n");
    /* The head goes out in the same send as the first bytes of the body: one segment for a
     * small response instead of two. */
    size_t hl = http_format_head((char *)c->out, sizeof c->out, 200, "application/octet-stream", n,
                                 keep, "X-Pattern: byte i = i mod 251\r\n");
    if (hl >= sizeof c->out)
        return -1;
    if (head_only)
        return nio_send_all(c->fd, c->out, hl, IO_MS, H.stop);
    for (uint64_t off = 0; off < n || hl > 0;) {
        size_t room = sizeof c->out - hl;
        size_t k = n - off < room ? (size_t)(n - off) : room;
        pattern_fill(c->out + hl, k, off);
        if (nio_send_all(c->fd, c->out, hl + k, IO_MS, H.stop) < 0)
            return -1;
        off += k;
        hl = 0;
    }
    return 0;
}

/* ---- POST /upload ---- */

/* Take up to want bytes of body: first what is already buffered after the head,
 * then from the socket. Returns > 0 with *p pointing at them, 0 at end of
 * stream, -1 on error. */
static ssize_t body_bytes(struct conn *c, size_t want, const uint8_t **p)
{
    if (c->have) {
        size_t k = c->have < want ? c->have : want;
        memcpy(c->out, c->in, k);
        memmove(c->in, c->in + k, c->have - k);
        c->have -= k;
        *p = c->out;
        return (ssize_t)k;
    }
    if (want > sizeof c->out)
        want = sizeof c->out;
    *p = c->out;
    return nio_recv(c->fd, c->out, want, IO_MS, H.stop);
}

static int page_upload(struct conn *c, const struct http_request *req, bool *keep)
{
    if (!req->has_length && !req->chunked)
        return respond_text(c, 411, *keep, false, NULL,
                            "POST /upload needs Content-Length or chunked encoding\n");
    /* RFC 9110 10.1.1: the client waits for this before sending a body it
     * announced with Expect: 100-continue (curl does so for large uploads). */
    if (req->expect_continue && c->have == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (nio_send_all(c->fd, cont, sizeof cont - 1, IO_MS, H.stop) < 0)
            return -1;
    }
    struct sha256 h;
    sha256_init(&h);
    uint64_t total = 0;
    if (req->has_length) {
        while (total < req->content_length) {
            uint64_t left = req->content_length - total;
            const uint8_t *p;
            ssize_t n = body_bytes(c, left < SIZE_MAX ? (size_t)left : SIZE_MAX, &p);
            if (n <= 0)
                return -1; /* the client went away mid-body: nothing to answer */
            sha256_update(&h, p, (size_t)n);
            total += (uint64_t)n;
        }
    } else {
        struct http_chunked ch;
        http_chunked_init(&ch);
        for (;;) {
            /* Decode what is buffered; bytes after the last chunk stay for the next
             * request. */
            size_t off = 0;
            int r = HTTP_CHUNK_MORE;
            while (off < c->have && r == HTTP_CHUNK_MORE) {
                size_t used, doff, dlen;
                r = http_chunked_feed(&ch, (const uint8_t *)c->in + off, c->have - off, &used,
                                      &doff, &dlen);
                sha256_update(&h, c->in + off + doff, dlen);
                off += used;
            }
            memmove(c->in, c->in + off, c->have - off);
            c->have -= off;
            if (r == HTTP_CHUNK_ERROR) {
                *keep = false;
                return respond_text(c, 400, false, false, NULL, "malformed chunked body\n");
            }
            if (r == HTTP_CHUNK_DONE)
                break;
            ssize_t n = nio_recv(c->fd, c->in + c->have, sizeof c->in - c->have, IO_MS, H.stop);
            if (n <= 0)
                return -1;
            c->have += (size_t)n;
        }
        total = ch.total;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_final(&h, d);
    sha256_hex(d, hex);
    return respond_text(c, 200, *keep, false, NULL, "length: %" PRIu64 "\nsha256: %s\n", total,
                        hex);
}

/* ---- routing ---- */

static int route(struct conn *c, struct http_request *req, bool *keep)
{
    char *path = req->target;
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    bool get = req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
    bool head = req->method == HTTP_M_HEAD;
    bool has_body = req->chunked || (req->has_length && req->content_length > 0);
    bool upload = strcmp(path, "/upload") == 0;

    /* A body we will not read makes the connection unusable for another request:
     * answer and close (the lingering close drains it). */
    if (has_body && !(upload && req->method == HTTP_M_POST))
        *keep = false;

    if (req->method == HTTP_M_OTHER) /* RFC 9110 15.6.2: a method we do not recognise */
        return respond_text(c, 501, *keep, false, NULL, "method %s not implemented\n",
                            req->method_str);
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        if (get)
            return page_index(c, *keep, head);
    } else if (strcmp(path, "/stats") == 0) {
        if (get)
            return page_stats(c, query, *keep, head);
    } else if (strncmp(path, "/bytes/", 7) == 0) {
        if (get)
            return page_bytes(c, path + 7, *keep, head);
    } else if (upload) {
        if (req->method == HTTP_M_POST)
            return page_upload(c, req, keep);
        return respond_text(c, 405, *keep, head, "Allow: POST\r\n", "use POST for /upload\n");
    } else {
        return respond_text(c, 404, *keep, head, NULL,
                            "not found; try /, /stats, /bytes/N or POST /upload\n");
    }
    /* RFC 9110 15.5.6: 405 names the methods the resource supports. */
    return respond_text(c, 405, *keep, head, "Allow: GET, HEAD\r\n", "use GET or HEAD here\n");
}

static void serve(struct conn *c)
{
    for (;;) {
        struct http_request req;
        long hl;
        int64_t head_deadline = -1;
        for (;;) {
            hl = http_parse_request(c->in, c->have, 0, &req);
            if (hl != 0)
                break;
            int wait = IDLE_MS;
            if (c->have > 0) {
                /* A head trickling in byte by byte (slowloris) gets HEAD_MS in all. */
                if (head_deadline < 0)
                    head_deadline = nio_now_ms() + HEAD_MS;
                int64_t left = head_deadline - nio_now_ms();
                wait = left > 0 ? (int)left : 0;
            }
            ssize_t n = wait > 0
                            ? nio_recv(c->fd, c->in + c->have, sizeof c->in - c->have, wait, H.stop)
                            : (errno = ETIMEDOUT, -1);
            if (n == 0) { /* peer closed (half-close included): nothing more to answer */
                ts_close(c->fd);
                return;
            }
            if (n < 0) {
                if (errno == ETIMEDOUT && c->have > 0) {
                    respond_text(c, 408, false, false, NULL, "request head took too long\n");
                    nio_lingering_close(c->fd, 1000, H.stop);
                } else {
                    ts_close(c->fd);
                }
                return;
            }
            c->have += (size_t)n;
        }
        if (hl < 0) {
            int status = (int)-hl;
            respond_text(c, status, false, false, NULL, "%s\n", http_reason(status));
            nio_lingering_close(c->fd, 2000, H.stop);
            return;
        }
        memmove(c->in, c->in + hl, c->have - (size_t)hl);
        c->have -= (size_t)hl;
        bool keep = req.keep_alive;
        if (route(c, &req, &keep) < 0) { /* the connection broke under us */
            ts_close(c->fd);
            return;
        }
        if (!keep || *H.stop) {
            nio_lingering_close(c->fd, 2000, H.stop);
            return;
        }
    }
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    serve(c);
    free(c);
    nio_pool_done(&H.pool);
    return NULL;
}

static void refuse_busy(int fd)
{
    char head[256];
    static const char body[] = "too many connections; try again\n";
    size_t hl = http_format_head(head, sizeof head, 503, "text/plain", sizeof body - 1, false,
                                 "Retry-After: 1\r\n");
    /* Best effort and without waiting: the point is not to tie anything up. */
    ts_send(fd, head, hl, MSG_NOSIGNAL | MSG_DONTWAIT);
    ts_send(fd, body, sizeof body - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ts_close(fd);
}

static void accept_loop(int lfd)
{
    while (!*H.stop) {
        int r = nio_wait(lfd, POLLIN, -1, H.stop);
        if (r < 0)
            break;
        int fd = ts_accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                fprintf(stderr, "%s: accept: %s\n", H.prog, strerror(errno));
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c || nio_nonblock(fd) < 0) {
            free(c);
            ts_close(fd);
            continue;
        }
        /* Every response is written whole, so Nagle (RFC 1122 4.2.3.4) could only hold back the
         * tail of one until the client's delayed ACK: 40 ms per keep-alive request. */
        int one = 1;
        ts_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->have = 0;
        if (nio_pool_spawn(&H.pool, conn_main, c) < 0) {
            free(c);
            refuse_busy(fd);
        }
    }
}

static const char *set_port(const char *val, void *ctx)
{
    (void)ctx;
    return ts_app_parse_uint(val, 1, 65535, &H.port) ? NULL : "must be a port 1..65535";
}

static const struct ts_app_flag flags[] = {
    {"port", "N", "TCP port to serve HTTP on (default 80)", set_port},
    {0},
};

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-httpd",
        .summary = "HTTP/1.1 server on tapstack: / (connection table), /stats, "
                   "/bytes/N, "
                   "POST /upload.",
        .flags = flags,
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);
    H.prog = o.prog;

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    H.app = &app;
    H.stop = ts_app_stop_flag();
    H.rt = nio_runtime_start(&app);
    if (!H.rt) {
        ts_app_teardown(&app);
        return 1;
    }
    int lfd = nio_serve_socket(o.prog, SOCK_STREAM, o.cfg.ip, H.port, 128);
    if (lfd < 0 || nio_nonblock(lfd) < 0) {
        nio_runtime_stop(H.rt, &app);
        return 1;
    }
    char ip[16], port[8] = "";
    ts_ip_format(o.cfg.ip, ip);
    if (H.port != 80)
        snprintf(port, sizeof port, ":%u", H.port);
    fprintf(stderr, "%s: listening on %s:%u - try: curl http://%s%s/\n", o.prog, ip, H.port, ip,
            port);
    fflush(stderr);

    accept_loop(lfd);

    fprintf(stderr, "%s: stopping\n", o.prog);
    ts_close(lfd);
    if (!nio_pool_wait(&H.pool, 5000)) {
        /* A thread still inside a call: freeing the stack under it would be worse
         * than leaving the process to exit with it. */
        fprintf(stderr, "%s: %u connections did not finish; exiting without cleanup\n", o.prog,
                H.pool.live);
        fflush(stderr);
        _exit(0);
    }
    nio_runtime_stop(H.rt, &app);
    ts_app_teardown(&app);
    return 0;
}
