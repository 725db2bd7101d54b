/* HTTP/1.1 request head parser and chunked decoder; see http.h. Grammar from RFC 9112 (message
 * syntax) and RFC 9110 (semantics). Strict where leniency enables request smuggling (RFC 9112
 * 11.2), lenient only where the RFC says a recipient may be (bare LF, leading empty lines). */
#include "http.h"

#include <stdio.h>
#include <string.h>

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
 * / "`" / "|" / "~" / DIGIT / ALPHA */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

int http_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Calls fn on each element of a comma-separated list (RFC 9110 5.6.1), OWS trimmed; empty
 * elements are skipped as the RFC requires of recipients. Stops at the first non-zero result. */
static int each_element(const char *v, size_t len, int (*fn)(const char *e, size_t n, void *arg),
                        void *arg)
{
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (b > a) {
            int r = fn(v + a, b - a, arg);
            if (r)
                return r;
        }
        i = j + 1;
    }
    return 0;
}

struct parse_ctx {
    struct http_request *req;
    bool conn_close, conn_keepalive;
    bool te_seen, te_bad, te_unknown;
    unsigned te_chunked; /* how many "chunked" codings so far */
    bool te_after_chunked;
};

static int cl_element(const char *e, size_t n, void *arg)
{
    struct http_request *req = arg;
    uint64_t v;
    if (http_parse_u64(e, n, &v) != 0)
        return -400;
    /* RFC 9110 8.6: a list of identical values may be taken as one; anything else is invalid. */
    if (req->has_length && req->content_length != v)
        return -400;
    req->has_length = true;
    req->content_length = v;
    return 0;
}

static int te_element(const char *e, size_t n, void *arg)
{
    struct parse_ctx *p = arg;
    p->te_seen = true;
    if (p->te_chunked)
        p->te_after_chunked = true; /* RFC 9112 6.1: chunked must be the final coding, once */
    if (ieq(e, n, "chunked"))
        p->te_chunked++;
    else
        p->te_unknown = true;
    return 0;
}

static int conn_element(const char *e, size_t n, void *arg)
{
    struct parse_ctx *p = arg;
    if (ieq(e, n, "close"))
        p->conn_close = true;
    else if (ieq(e, n, "keep-alive"))
        p->conn_keepalive = true;
    return 0;
}

static const struct {
    const char *name;
    enum http_method m;
} methods[] = {
    {"GET", HTTP_M_GET}, {"HEAD", HTTP_M_HEAD},     {"POST", HTTP_M_POST},
    {"PUT", HTTP_M_PUT}, {"DELETE", HTTP_M_DELETE}, {"OPTIONS", HTTP_M_OPTIONS},
};

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version */
static int parse_request_line(const char *l, size_t n, struct http_request *req)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i >= sizeof req->method_str || i >= n || l[i] != ' ')
        return -400;
    memcpy(req->method_str, l, i);
    req->method_str[i] = '\0';
    req->method = HTTP_M_OTHER;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        if (strcmp(req->method_str, methods[k].name) == 0) /* methods are case-sensitive */
            req->method = methods[k].m;
    size_t t = ++i;
    while (i < n && (unsigned char)l[i] > 0x20 && (unsigned char)l[i] < 0x7f)
        i++;
    if (i == t || i >= n || l[i] != ' ')
        return i - t > HTTP_MAX_TARGET ? -414 : -400;
    if (i - t > HTTP_MAX_TARGET)
        return -414;
    memcpy(req->target, l + t, i - t);
    req->target[i - t] = '\0';
    i++;
    /* RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
    if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 || l[i + 5] < '0' || l[i + 5] > '9' ||
        l[i + 6] != '.' || l[i + 7] < '0' || l[i + 7] > '9')
        return -400;
    if (l[i + 5] != '1')
        return -505;
    /* RFC 9110 2.5: a higher minor version is answered as the highest we speak (1.1). */
    req->minor = l[i + 7] == '0' ? 0 : 1;
    return 0;
}

static int parse_field(const char *l, size_t n, struct parse_ctx *p)
{
    struct http_request *req = p->req;
    /* RFC 9112 5.2: obs-fold in a request may be rejected with 400. */
    if (l[0] == ' ' || l[0] == '\t')
        return -400;
    size_t c = 0;
    while (c < n && is_tchar((unsigned char)l[c]))
        c++;
    /* RFC 9112 5.1: no whitespace between field name and colon; reject with 400. */
    if (c == 0 || c >= n || l[c] != ':')
        return -400;
    size_t a = c + 1, b = n;
    for (size_t k = a; k < b; k++) {
        unsigned char ch = (unsigned char)l[k];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) /* RFC 9110 5.5: no CTLs in values */
            return -400;
    }
    while (a < b && (l[a] == ' ' || l[a] == '\t'))
        a++;
    while (b > a && (l[b - 1] == ' ' || l[b - 1] == '\t'))
        b--;
    const char *v = l + a;
    size_t vn = b - a;
    if (ieq(l, c, "content-length")) {
        if (vn == 0)
            return -400;
        return each_element(v, vn, cl_element, req);
    }
    if (ieq(l, c, "transfer-encoding")) {
        if (vn == 0)
            p->te_bad = true;
        return each_element(v, vn, te_element, p);
    }
    if (ieq(l, c, "connection"))
        return each_element(v, vn, conn_element, p);
    if (ieq(l, c, "host")) {
        if (req->has_host) /* RFC 9112 3.2: more than one Host is a 400 */
            return -400;
        req->has_host = true;
        return 0;
    }
    if (ieq(l, c, "expect") && ieq(v, vn, "100-continue"))
        req->expect_continue = true;
    return 0;
}

long http_parse_request(const char *buf, size_t len, size_t limit, struct http_request *req)
{
    if (limit == 0)
        limit = HTTP_MAX_HEADER;
    memset(req, 0, sizeof *req);
    struct parse_ctx p = {.req = req};

    size_t pos = 0;
    /* RFC 9112 2.2: ignore at least one empty line before the request-line. */
    while (pos < len && (buf[pos] == '\r' || buf[pos] == '\n')) {
        if (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] != '\n')
            return -400;
        pos++;
    }
    bool first = true;
    for (;;) {
        if (pos > limit)
            return -431;
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) {
            /* No complete line yet. Say 400 at once for bytes no request line may hold, so a
             * client sending binary garbage is told early instead of after 8 KiB. */
            for (size_t k = pos; k < len; k++) {
                unsigned char ch = (unsigned char)buf[k];
                if (ch == 0 || (ch == '\r' && k + 1 < len))
                    return -400;
                if (first && (ch < 0x20 || ch == 0x7f) && ch != '\r')
                    return -400;
            }
            return len >= limit ? -431 : 0;
        }
        size_t end = (size_t)(nl - buf); /* index of LF */
        size_t next = end + 1;
        size_t n = end - pos;
        /* RFC 9112 2.2: a bare CR outside a CRLF is invalid; a bare LF is tolerated. */
        if (n > 0 && buf[end - 1] == '\r')
            n--;
        if (memchr(buf + pos, '\r', n) || memchr(buf + pos, '\0', n))
            return -400;
        if (next > limit)
            return -431;
        if (first) {
            int r = parse_request_line(buf + pos, n, req);
            if (r)
                return r;
            first = false;
        } else if (n == 0) {
            pos = next;
            break; /* the empty line that ends the head */
        } else {
            int r = parse_field(buf + pos, n, &p);
            if (r)
                return r;
        }
        pos = next;
    }

    if (p.te_seen || p.te_bad) {
        /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; with Content-Length
         * it is a smuggling attempt (RFC 9112 6.3, 11.2), so both are refused. */
        if (p.te_bad || req->minor == 0 || req->has_length || p.te_after_chunked)
            return -400;
        if (p.te_unknown || p.te_chunked != 1)
            return -501; /* RFC 9112 6.1: a coding we do not understand */
        req->chunked = true;
    }
    if (req->minor == 1 && !req->has_host)
        return -400; /* RFC 9112 3.2 */
    /* RFC 9112 9.3: 1.1 is persistent unless "close"; 1.0 only with "keep-alive". */
    req->keep_alive = !p.conn_close && (req->minor == 1 || p.conn_keepalive);
    return (long)pos;
}

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

enum {
    CH_SIZE,
    CH_EXT,
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_CR,
    CH_DATA_LF,
    CH_TRAILER_START,
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
    CH_ERROR,
};

#define CH_MAX_LINE     4096 /* chunk extensions we skip */
#define CH_MAX_TRAILERS 8192 /* trailer section we skip */

void http_chunked_init(struct http_chunked *c)
{
    memset(c, 0, sizeof *c);
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void size_line_done(struct http_chunked *c)
{
    c->state = c->left ? CH_DATA : CH_TRAILER_START;
    c->line = 0;
}

int http_chunked_feed(struct http_chunked *c, const uint8_t *in, size_t len, size_t *used,
                      size_t *data_off, size_t *data_len)
{
    size_t i = 0;
    *data_off = 0;
    *data_len = 0;
    while (i < len && c->state != CH_DONE && c->state != CH_ERROR) {
        unsigned char ch = in[i];
        switch (c->state) {
        case CH_SIZE: {
            int h = hexval(ch);
            if (h >= 0) {
                if (c->left > (UINT64_MAX >> 4)) {
                    c->state = CH_ERROR;
                    break;
                }
                c->left = (c->left << 4) | (uint64_t)h;
                c->digits++;
            } else if (c->digits == 0) {
                c->state = CH_ERROR;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = CH_EXT; /* RFC 9112 7.1.1: BWS ";" chunk-ext, skipped */
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else if (ch == '\n') {
                size_line_done(c);
            } else {
                c->state = CH_ERROR;
            }
            i++;
            break;
        }
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (ch == '\n')
                size_line_done(c);
            else if ((ch < 0x20 && ch != '\t') || ++c->line > CH_MAX_LINE)
                c->state = CH_ERROR;
            i++;
            break;
        case CH_SIZE_LF:
            if (ch == '\n')
                size_line_done(c);
            else
                c->state = CH_ERROR;
            i++;
            break;
        case CH_DATA: {
            size_t n = len - i;
            if ((uint64_t)n > c->left)
                n = (size_t)c->left;
            *data_off = i;
            *data_len = n;
            c->left -= n;
            c->total += n;
            i += n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            *used = i;
            return HTTP_CHUNK_MORE; /* one span per call */
        }
        case CH_DATA_CR:
            if (ch == '\r')
                c->state = CH_DATA_LF;
            else if (ch == '\n')
                c->state = CH_SIZE;
            else
                c->state = CH_ERROR;
            c->digits = 0;
            i++;
            break;
        case CH_DATA_LF:
            c->state = ch == '\n' ? CH_SIZE : CH_ERROR;
            i++;
            break;
        case CH_TRAILER_START:
            if (ch == '\r')
                c->state = CH_END_LF;
            else if (ch == '\n')
                c->state = CH_DONE;
            else if (ch < 0x20 && ch != '\t')
                c->state = CH_ERROR;
            else
                c->state = CH_TRAILER_LINE;
            i++;
            c->trailers++;
            break;
        case CH_TRAILER_LINE:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (ch == '\n')
                c->state = CH_TRAILER_START;
            else if (ch < 0x20 && ch != '\t')
                c->state = CH_ERROR;
            if (++c->trailers > CH_MAX_TRAILERS)
                c->state = CH_ERROR;
            i++;
            break;
        case CH_TRAILER_LF:
            c->state = ch == '\n' ? CH_TRAILER_START : CH_ERROR;
            i++;
            break;
        case CH_END_LF:
            c->state = ch == '\n' ? CH_DONE : CH_ERROR;
            i++;
            break;
        }
    }
    *used = i;
    if (c->state == CH_ERROR)
        return HTTP_CHUNK_ERROR;
    return c->state == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
}

/* ---- responses ---- */

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

size_t http_format_head(char *buf, size_t cap, int status, const char *content_type,
                        uint64_t content_length, bool keep_alive, const char *extra)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Server: tapstack-httpd\r\n"
                     "%s%s%s"
                     "Content-Length: %llu\r\n"
                     "Connection: %s\r\n"
                     "%s\r\n",
                     status, http_reason(status), content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "",
                     (unsigned long long)content_length, keep_alive ? "keep-alive" : "close",
                     extra ? extra : "");
    return n < 0 ? 0 : (size_t)n;
}
