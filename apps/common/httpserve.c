/* HTTP/1.1 connections on the event loop; see httpserve.h. */
#include "httpserve.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/tcp.h"

#define IN_CAP (HTTP_MAX_HEADER + 8192) /* a request head, and what came after it */

enum phase { P_HEAD, P_BODY, P_SEND, P_LINGER };

struct hs_body {
    bool chunked;
    uint64_t length, left; /* Content-Length, and the bytes of it still to come */
    struct http_chunked ch;
    struct hs_sink sink;
    void *arg;
};

struct hs_conn {
    struct ev_io io;
    struct ev_timer tmr;
    struct hs_server *srv;
    struct hs_conn *prev, *next; /* every connection, to close them on exit */
    enum phase phase;
    bool keep; /* keep-alive after the response being sent */
    char *in;  /* received, not used yet (IN_CAP bytes; freed while idle) */
    size_t have;
    char *out; /* the response's head, and its body when that is in memory */
    size_t out_len, out_off;
    struct hs_source src;      /* hs_respond_stream: body bytes to send after out */
    uint64_t src_off, src_end; /* from the source: sent so far, and its length */
    struct hs_body *body;      /* a request body being read */
    bool body_next;            /* out is "100 Continue": read the body once it is sent */
};

static size_t min_sz(size_t a, uint64_t b)
{
    return b < a ? (size_t)b : a;
}

struct hs_server *hs_server_of(const struct hs_conn *c)
{
    return c->srv;
}

int hs_fd(const struct hs_conn *c)
{
    return c->io.fd;
}

void hs_close_after(struct hs_conn *c)
{
    c->keep = false;
}

/* ---- responses: queued in the connection, sent by step_send ---- */

static int queue(struct hs_conn *c, int status, const char *ctype, const void *body, size_t len,
                 uint64_t stream_len, bool head_only, const char *extra)
{
    char head[1024];
    size_t hl = http_format_head(head, sizeof head, status, ctype, stream_len ? stream_len : len,
                                 c->keep, extra);
    if (hl >= sizeof head)
        return HS_CLOSE;
    size_t blen = head_only ? 0 : len;
    c->out = malloc(hl + blen);
    if (!c->out)
        return HS_CLOSE;
    memcpy(c->out, head, hl);
    if (blen)
        memcpy(c->out + hl, body, blen);
    c->out_len = hl + blen;
    c->out_off = 0;
    c->src_off = 0;
    c->src_end = head_only ? 0 : stream_len;
    c->phase = P_SEND;
    ev_timer_arm(&c->srv->io, &c->tmr);
    return HS_MORE;
}

int hs_respond(struct hs_conn *c, int status, const char *ctype, const void *body, size_t len,
               bool head_only, const char *extra)
{
    return queue(c, status, ctype, body, len, 0, head_only, extra);
}

int hs_respond_stream(struct hs_conn *c, int status, const char *ctype, uint64_t len,
                      const struct hs_source *src, bool head_only, const char *extra)
{
    c->src = *src;
    return queue(c, status, ctype, NULL, 0, len, head_only, extra);
}

int hs_respond_text(struct hs_conn *c, int status, bool head_only, const char *extra,
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
    return queue(c, status, "text/plain; charset=utf-8", body, (size_t)n, 0, head_only, extra);
}

/* ---- request bodies ---- */

int hs_read_body(struct hs_conn *c, const struct http_request *req, const struct hs_sink *sink,
                 void *arg)
{
    struct hs_body *b = calloc(1, sizeof *b);
    if (!b) {
        sink->drop(arg);
        return HS_CLOSE;
    }
    b->chunked = req->chunked;
    b->length = b->left = req->content_length;
    http_chunked_init(&b->ch);
    b->sink = *sink;
    b->arg = arg;
    c->body = b;
    c->keep = req->keep_alive; /* the body is read, so the connection can serve another */
    c->phase = P_BODY;
    ev_timer_arm(&c->srv->io, &c->tmr);
    /* RFC 9110 10.1.1: the client waits for this before sending a body it announced with
     * Expect: 100-continue (curl does so for large uploads). */
    if (req->expect_continue && c->have == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->out = malloc(sizeof cont - 1);
        if (!c->out)
            return HS_CLOSE;
        memcpy(c->out, cont, sizeof cont - 1);
        c->out_len = sizeof cont - 1;
        c->out_off = 0;
        c->body_next = true;
        c->phase = P_SEND;
    }
    return HS_MORE;
}

/* The body is read: the sink answers. */
static int body_done(struct hs_conn *c, uint64_t total)
{
    struct hs_body *b = c->body;
    c->body = NULL;
    int r = b->sink.done(c, b->arg, total);
    free(b);
    return r;
}

/* Content-Length: what came with the head first, then straight from the socket. */
static int body_length(struct hs_conn *c)
{
    struct hs_body *b = c->body;
    uint8_t *scratch = c->srv->scratch;
    while (b->left > 0) {
        if (c->have > 0) {
            size_t k = min_sz(c->have, b->left);
            b->sink.data(c, b->arg, c->in, k);
            memmove(c->in, c->in + k, c->have - k);
            c->have -= k;
            b->left -= k;
            continue;
        }
        ssize_t n = ts_recv(c->io.fd, scratch, min_sz(HS_CHUNK, b->left), 0);
        if (n <= 0) /* 0: the client went away mid-body, nothing to answer */
            return n < 0 && errno == EAGAIN ? HS_WAIT : HS_CLOSE;
        b->sink.data(c, b->arg, scratch, (size_t)n);
        b->left -= (uint64_t)n;
        ev_timer_arm(&c->srv->io, &c->tmr);
    }
    return body_done(c, b->length);
}

/* Chunked: decode in place; what follows the last chunk stays for the next request. */
static int body_chunked(struct hs_conn *c)
{
    struct hs_body *b = c->body;
    for (;;) {
        size_t off = 0;
        int r = HTTP_CHUNK_MORE;
        while (off < c->have && r == HTTP_CHUNK_MORE) {
            size_t used, doff, dlen;
            r = http_chunked_feed(&b->ch, (const uint8_t *)c->in + off, c->have - off, &used, &doff,
                                  &dlen);
            if (dlen)
                b->sink.data(c, b->arg, c->in + off + doff, dlen);
            off += used;
        }
        memmove(c->in, c->in + off, c->have - off);
        c->have -= off;
        if (r == HTTP_CHUNK_ERROR) {
            c->body = NULL;
            b->sink.drop(b->arg);
            free(b);
            c->keep = false;
            return hs_respond_text(c, 400, false, NULL, "malformed chunked body\n");
        }
        if (r == HTTP_CHUNK_DONE)
            return body_done(c, b->ch.total);
        ssize_t n = ts_recv(c->io.fd, c->in + c->have, IN_CAP - c->have, 0);
        if (n <= 0)
            return n < 0 && errno == EAGAIN ? HS_WAIT : HS_CLOSE;
        c->have += (size_t)n;
        ev_timer_arm(&c->srv->io, &c->tmr);
    }
}

/* ---- a request: split its target and hand it to the app ---- */

static int dispatch(struct hs_conn *c, struct http_request *req)
{
    struct hs_server *s = c->srv;
    char *path = req->target;
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    s->requests++;
    /* A body nobody reads makes the connection unusable for another request: answer and close
     * (the lingering close drains it). hs_read_body keeps it alive again. */
    if (req->chunked || (req->has_length && req->content_length > 0))
        c->keep = false;
    if (req->method == HTTP_M_OTHER) /* RFC 9110 15.6.2: a method we do not recognise */
        return hs_respond_text(c, 501, false, NULL, "method %s not implemented\n", req->method_str);
    return s->route(c, req, path, query, req->method == HTTP_M_HEAD);
}

/* ---- the phases ---- */

static int step_head(struct hs_conn *c)
{
    if (!c->in && !(c->in = malloc(IN_CAP)))
        return HS_CLOSE;
    struct http_request req;
    long hl = http_parse_request(c->in, c->have, 0, &req);
    if (hl < 0) {
        int status = (int)-hl;
        c->keep = false;
        return hs_respond_text(c, status, false, NULL, "%s\n", http_reason(status));
    }
    if (hl > 0) {
        memmove(c->in, c->in + hl, c->have - (size_t)hl);
        c->have -= (size_t)hl;
        c->keep = req.keep_alive;
        return dispatch(c, &req);
    }
    ssize_t n = ts_recv(c->io.fd, c->in + c->have, IN_CAP - c->have, 0);
    if (n > 0) {
        if (c->have == 0) /* the head's clock starts with its first byte */
            ev_timer_arm(&c->srv->head, &c->tmr);
        c->have += (size_t)n;
        return HS_MORE;
    }
    if (n < 0 && errno == EAGAIN) {
        if (c->have == 0) { /* idle between requests: hold no buffer */
            free(c->in);
            c->in = NULL;
        }
        return HS_WAIT;
    }
    return HS_CLOSE; /* the client closed (half-close included) or failed: nothing to answer */
}

static int step_body(struct hs_conn *c)
{
    return c->body->chunked ? body_chunked(c) : body_length(c);
}

/* The response is out: the next request, or the end. */
static int response_sent(struct hs_conn *c)
{
    struct hs_server *s = c->srv;
    if (c->keep && !*s->loop->stop) {
        c->phase = P_HEAD;
        ev_timer_arm(c->have ? &s->head : &s->idle, &c->tmr);
        return HS_MORE;
    }
    ts_shutdown(c->io.fd, SHUT_WR);
    c->phase = P_LINGER;
    ev_timer_arm(&s->linger, &c->tmr);
    return HS_MORE;
}

static int step_send(struct hs_conn *c)
{
    uint8_t *scratch = c->srv->scratch;
    while (c->out_off < c->out_len || c->src_off < c->src_end) {
        size_t out_left = c->out_len - c->out_off;
        uint64_t src_left = c->src_end - c->src_off;
        const uint8_t *p = NULL;
        size_t k = 0;
        if (src_left > 0) {
            k = min_sz(HS_CHUNK, src_left);
            p = c->src.bytes(c->src.arg, c->src_off, &k);
        }
        if (out_left > 0 && src_left > 0) {
            /* The head and the first bytes of the body in one send: one segment for a small
             * response instead of two. */
            size_t pk = k < HS_CHUNK - out_left ? k : HS_CHUNK - out_left;
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
            return errno == EAGAIN ? HS_WAIT : HS_CLOSE;
        size_t from_out = min_sz(out_left, (uint64_t)n);
        c->out_off += from_out;
        c->src_off += (uint64_t)n - from_out;
        ev_timer_arm(&c->srv->io, &c->tmr);
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->body_next) {
        c->body_next = false;
        c->phase = P_BODY;
        return HS_MORE;
    }
    return response_sent(c);
}

static int step_linger(struct hs_conn *c)
{
    for (;;) {
        ssize_t n = ts_recv(c->io.fd, c->srv->scratch, HS_CHUNK, 0);
        if (n <= 0) /* 0: the client's FIN, the end we waited for */
            return n < 0 && errno == EAGAIN ? HS_WAIT : HS_CLOSE;
    }
}

/* ---- connections ---- */

static void conn_close(struct hs_conn *c)
{
    struct hs_server *s = c->srv;
    ev_timer_stop(&c->tmr);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ts_close(c->io.fd);
    if (c->body) {
        c->body->sink.drop(c->body->arg);
        free(c->body);
    }
    free(c->in);
    free(c->out);
    free(c);
    nio_limit_put(&s->limit);
}

/* Step c along from r until it has to wait for the network, or is closed. */
static void conn_run(struct hs_conn *c, int r)
{
    while (r == HS_MORE) {
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
    if (r == HS_CLOSE)
        conn_close(c);
}

static void on_conn(struct ev_io *io, uint32_t events)
{
    (void)events; /* whatever happened, the phase's step finds out by trying */
    conn_run(EV_CONTAINER(io, struct hs_conn, io), HS_MORE);
}

static void on_timeout(struct ev_timer *t)
{
    struct hs_conn *c = EV_CONTAINER(t, struct hs_conn, tmr);
    if (c->phase == P_HEAD && c->have > 0) { /* a head trickling in (slow-loris) */
        c->keep = false;
        conn_run(c, hs_respond_text(c, 408, false, NULL, "request head took too long\n"));
        return;
    }
    conn_close(c); /* idle, no progress, or lingered long enough */
}

/* Beyond the limit: say so and close, without waiting for anything. */
static void refuse_busy(struct hs_server *s, int fd)
{
    char head[256];
    static const char body[] = "too many connections; try again\n";
    size_t hl = http_format_head(head, sizeof head, 503, "text/plain", sizeof body - 1, false,
                                 "Retry-After: 1\r\n");
    /* A request already here is read, so that the close is a FIN, not a reset that could make
     * the client lose the answer. */
    while (ts_recv(fd, s->scratch, HS_CHUNK, MSG_DONTWAIT) > 0)
        ;
    memcpy(s->scratch, head, hl);
    memcpy(s->scratch + hl, body, sizeof body - 1);
    ts_send(fd, s->scratch, hl + sizeof body - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ts_close(fd);
}

static void on_listener(struct ev_io *io, uint32_t events)
{
    (void)events;
    struct hs_server *s = EV_CONTAINER(io, struct hs_server, listener);
    for (;;) {
        int fd = ts_accept4(io->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            if (errno != EAGAIN)
                fprintf(stderr, "%s: accept: %s\n", s->prog, strerror(errno));
            return;
        }
        if (!nio_limit_take(&s->limit, s->prog, "answered 503")) {
            refuse_busy(s, fd);
            continue;
        }
        struct hs_conn *c = calloc(1, sizeof *c);
        if (!c ||
            ev_add(s->loop, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_conn) < 0) {
            free(c);
            ts_close(fd);
            nio_limit_put(&s->limit);
            continue;
        }
        c->srv = s;
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        c->phase = P_HEAD;
        ev_timer_init(&c->tmr, on_timeout);
        ev_timer_arm(&s->idle, &c->tmr); /* the socket's first event starts the work */
    }
}

int hs_start(struct hs_server *s, struct ev_loop *loop, int lfd)
{
    s->loop = loop;
    s->conns = NULL;
    s->scratch = malloc(HS_CHUNK);
    if (!s->scratch) {
        errno = ENOMEM;
        return -1;
    }
    ev_tlist_init(loop, &s->idle, HS_IDLE_MS);
    ev_tlist_init(loop, &s->head, HS_HEAD_MS);
    ev_tlist_init(loop, &s->io, HS_IO_MS);
    ev_tlist_init(loop, &s->linger, HS_LINGER_MS);
    s->listener.fd = -1;
    if (ev_add(loop, &s->listener, lfd, EPOLLIN, on_listener) < 0) {
        int e = errno;
        free(s->scratch);
        s->scratch = NULL;
        s->listener.fd = -1; /* still the caller's */
        errno = e;
        return -1;
    }
    return 0;
}

void hs_stop(struct hs_server *s)
{
    while (s->conns)
        conn_close(s->conns);
    if (s->listener.fd >= 0)
        ts_close(s->listener.fd);
    s->listener.fd = -1;
    free(s->scratch);
    s->scratch = NULL;
}
