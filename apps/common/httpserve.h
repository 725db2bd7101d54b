/* httpserve: HTTP/1.1 connections served from an event loop (evloop.h), the part of a web server
 * that is not its pages. tapstack-httpd serves its pages with it, and tapstack-sock serves the
 * live TCP page (tcpviz.h) with it on --viz-port.
 *
 * The app gives a route function; the server accepts connections, reads request heads
 * (http_parse_request), calls route for each request, sends the response it queued, keeps the
 * connection alive (RFC 9112 9.3) or closes it politely, and bounds everything with timeouts and
 * a connection limit:
 *
 *     static int route(struct hs_conn *c, const struct http_request *req, const char *path,
 *                      const char *query, bool head)
 *     {
 *         if (strcmp(path, "/") == 0)
 *             return hs_respond_text(c, 200, head, NULL, "hello\n");
 *         return hs_respond_text(c, 404, head, NULL, "not found\n");
 *     }
 *     struct hs_server srv = {.prog = "my-app", .route = route, .limit = {.max = 100}};
 *     ev_init(&loop, stop_flag);
 *     hs_start(&srv, &loop, listening_fd);      // the listener must be non-blocking
 *     ev_run(&loop);
 *     hs_stop(&srv);                            // closes every connection and the listener
 *
 * A connection is in one of four phases:
 *   HEAD    reading a request head: HS_IDLE_MS for its first byte, then HS_HEAD_MS for all of it
 *           (slow-loris clients get 408)
 *   BODY    reading a request body the route asked for (hs_read_body)
 *   SEND    writing a response; then HEAD again (keep-alive) or LINGER
 *   LINGER  our FIN is out: read and discard until the client's FIN, HS_LINGER_MS at most, so
 *           that closing with unread data cannot reset the connection before the client has read
 *           the answer (RFC 9112 9.6)
 * BODY and SEND give up after HS_IO_MS without progress. Each phase has one step function that
 * does what it can without blocking. Sockets are edge-triggered, so a step goes on until EAGAIN.
 * At most limit.max connections at once; beyond that a new one is answered 503 and closed,
 * counted (limit.refused) and reported on stderr. Malformed heads get the status
 * http_parse_request names (400, 414, 431, 501, 505), an unknown method 501; those close. */
#ifndef TAPSTACK_APPS_HTTPSERVE_H
#define TAPSTACK_APPS_HTTPSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "evloop.h"
#include "http.h"
#include "netio.h"

#define HS_IDLE_MS   30000
#define HS_HEAD_MS   20000
#define HS_IO_MS     60000
#define HS_LINGER_MS 2000
#define HS_CHUNK     65536 /* bytes per send or recv */

/* What a route function (and the hs_respond* calls it ends with) returns. */
enum { HS_CLOSE = -1, HS_WAIT = 0, HS_MORE = 1 };

struct hs_conn;

/* A body sent from a source rather than memory (hs_respond_stream): bytes(arg, off, &n) returns
 * where the body's bytes from offset off are, and sets n to how many are there (at least 1; it
 * may lower n, never raise it). */
struct hs_source {
    const uint8_t *(*bytes)(void *arg, uint64_t off, size_t *n);
    void *arg;
};

/* Where a request body goes (hs_read_body): data() for each piece, then done() with the total
 * (it must queue the response, like a route); drop() when the connection ends before that. */
struct hs_sink {
    void (*data)(struct hs_conn *c, void *arg, const void *p, size_t n);
    int (*done)(struct hs_conn *c, void *arg, uint64_t total);
    void (*drop)(void *arg);
};

struct hs_server {
    /* Set by the app before hs_start. */
    const char *prog;
    /* Answer one request: end with one of the hs_respond* calls (or hs_read_body) and return
     * what it returned. path and query (NULL: none) are the target split at '?'. */
    int (*route)(struct hs_conn *c, const struct http_request *req, const char *path,
                 const char *query, bool head);
    void *ctx; /* for the app: hs_server_of(c)->ctx */
    struct nio_limit limit;
    /* Counted by the server. */
    uint64_t requests;
    /* The server's own. */
    struct ev_loop *loop;
    struct ev_io listener;
    struct ev_tlist idle, head, io, linger; /* timeouts, one list per duration */
    struct hs_conn *conns;
    uint8_t *scratch; /* HS_CHUNK bytes: one thread serves every connection */
};

/* Serve connections accepted on lfd (listening, non-blocking) from loop, which must be set up
 * (ev_init) and run by the caller. 0, or -1 with errno. */
int hs_start(struct hs_server *s, struct ev_loop *loop, int lfd);
/* Close every connection and the listener, free what the server holds. */
void hs_stop(struct hs_server *s);

struct hs_server *hs_server_of(const struct hs_conn *c);
/* The connection's tapstack descriptor. */
int hs_fd(const struct hs_conn *c);

/* Queue a response: the head, then len bytes of body (both left out for head_only: HEAD).
 * extra: NULL or "Name: value\r\n" lines to add to the head. */
int hs_respond(struct hs_conn *c, int status, const char *ctype, const void *body, size_t len,
               bool head_only, const char *extra);
/* A short text/plain response, printf-style (at most 511 bytes). */
int hs_respond_text(struct hs_conn *c, int status, bool head_only, const char *extra,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A response whose len bytes of body come from src, streamed without holding them in memory. */
int hs_respond_stream(struct hs_conn *c, int status, const char *ctype, uint64_t len,
                      const struct hs_source *src, bool head_only, const char *extra);
/* Read the request's body (Content-Length or chunked, as req says) into sink; answers 100
 * Continue first when the client asked for it (RFC 9110 10.1.1). A request with neither length
 * nor chunked encoding is the route's to refuse (411) before calling this. */
int hs_read_body(struct hs_conn *c, const struct http_request *req, const struct hs_sink *sink,
                 void *arg);
/* Close the connection after this response, whatever the request asked. */
void hs_close_after(struct hs_conn *c);

#endif
