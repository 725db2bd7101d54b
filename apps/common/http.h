/* HTTP/1.1 request parsing for tapstack-httpd (RFC 9110, RFC 9112). Pure functions: no I/O, no
 * allocation, every length checked, so they can be fed any bytes a client sends and unit-tested.
 *
 * Use: collect bytes until http_parse_request() says the header block is complete (> 0), then read
 * the body as the request says: content_length bytes, or through an http_chunked decoder. */
#ifndef TAPSTACK_APPS_HTTP_H
#define TAPSTACK_APPS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest header block we accept (request line + fields); beyond it: 431. */
#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_TARGET 2048 /* longer request-target: 414 */

enum http_method {
    HTTP_M_OTHER = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
};

struct http_request {
    enum http_method method;
    char method_str[16];
    char target[HTTP_MAX_TARGET + 1];
    int minor;       /* HTTP/1.<minor>: 0 or 1 */
    bool keep_alive; /* after Connection and the version's default (RFC 9112 9.3) */
    bool has_length; /* Content-Length given */
    uint64_t content_length;
    bool chunked;         /* Transfer-Encoding: chunked */
    bool expect_continue; /* Expect: 100-continue */
    bool has_host;
};

/* Parse the request head at the start of buf[0..len).
 *   > 0  the head is complete; that many bytes belong to it (the body starts there);
 *   0    incomplete, read more (never returned once len >= limit: then it is -431);
 *   < 0  minus the status code to answer with: -400 malformed, -414 target too long, -431 head
 *        larger than limit, -501 transfer coding we do not implement, -505 HTTP version.
 * Leading empty lines are skipped (RFC 9112 2.2). limit 0 means HTTP_MAX_HEADER. */
long http_parse_request(const char *buf, size_t len, size_t limit, struct http_request *req);

/* Chunked transfer coding decoder (RFC 9112 7.1), streaming over arbitrary splits of the input. */
struct http_chunked {
    int state;
    uint64_t left;   /* bytes left in the current chunk */
    unsigned digits; /* hex digits of the size line so far */
    size_t line;     /* length of the extension or trailer line so far */
    size_t trailers; /* bytes of trailer section so far */
    uint64_t total;  /* body bytes decoded so far */
};
enum { HTTP_CHUNK_MORE = 0, HTTP_CHUNK_DONE = 1, HTTP_CHUNK_ERROR = -1 };
void http_chunked_init(struct http_chunked *c);
/* Consume bytes from in[0..len): *used says how many. If the call found body data, it is
 * in[*data_off .. *data_off + *data_len) (one span per call; call again with the rest). Returns
 * HTTP_CHUNK_DONE once the last chunk and trailers are over (bytes after that are the next
 * request), HTTP_CHUNK_ERROR on malformed input, else HTTP_CHUNK_MORE. */
int http_chunked_feed(struct http_chunked *c, const uint8_t *in, size_t len, size_t *used,
                      size_t *data_off, size_t *data_len);

/* Strict decimal (digits only, no sign, no overflow past UINT64_MAX): 0 ok, -1 not a number. */
int http_parse_u64(const char *s, size_t len, uint64_t *out);

/* "OK", "Not Found", ... ("Unknown" for codes we never send). */
const char *http_reason(int status);

/* Write a response head into buf: status line, Date-less fixed fields, Content-Type (if not
 * NULL), Content-Length, Connection: keep-alive/close, extra (NULL or "Name: value\r\n" lines),
 * and the blank line. Returns the length (like snprintf; > cap means truncated). */
size_t http_format_head(char *buf, size_t cap, int status, const char *content_type,
                        uint64_t content_length, bool keep_alive, const char *extra);

#endif
