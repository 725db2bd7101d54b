/* ksrv: the kernel-side servers of `make bench`, on the Linux kernel's own TCP (run in the
 * server namespace of the veth pair). One thread, one epoll instance, nonblocking sockets: the
 * counterpart of an event-driven tapstack app, so the figures compare the stacks, not threading.
 *
 *   ksrv [--echo PORT] [--discard PORT] [--http PORT] [--bind ADDR]
 *
 *   --echo     RFC 862 echo: what arrives is sent back; closed at the peer's FIN or RST
 *              (the connect/close loop and the 1-byte request/response rows)
 *   --discard  RFC 863 discard: read and drop; closed at the peer's FIN (the bulk sink row)
 *   --http     the two requests the bench needs, HTTP/1.1 with keep-alive:
 *                GET /bytes/N   N bytes of tapstack-httpd's pattern (byte i = i mod 251)
 *                POST /upload   a Content-Length body into SHA-256, answering its length and
 *                               digest, as tapstack-httpd does (the same code, apps/common):
 *                               both servers do the same work per byte
 *              (bulk download and upload, and the idle connections of the memory row)
 *
 * Stops on SIGINT/SIGTERM. An idle connection costs one small struct (about 80 bytes) and
 * nothing else (the read buffer is shared, an http head buffer is allocated when bytes come), so
 * the memory row sees the kernel's cost, not this program's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../apps/common/sha256.h"

enum kind { LISTENER, ECHO, DISCARD, HTTP };

struct conn {
    int fd;
    enum kind kind, serves; /* serves: for a listener, the kind of its connections */
    char *pend;             /* bytes to send that did not fit (echo, http head) */
    size_t pend_len, pend_off;
    uint64_t body_left;   /* http: pattern bytes still to send */
    uint64_t body_off;    /* http: offset of the next pattern byte */
    uint64_t upload_left; /* http: request body bytes still to read */
    uint64_t upload_len;
    struct sha256 *upload_sha; /* while an upload's body arrives */
    char *head; /* http: request head being read (HEAD_MAX bytes, allocated when bytes come) */
    size_t head_len;
};

#define HEAD_MAX 2048

static volatile sig_atomic_t stop;
static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static char rbuf[256 * 1024];
static uint8_t pattern[251 * 1024]; /* pattern[i] = i mod 251: any offset can start a slice */
static int ep;

static void die(const char *what)
{
    fprintf(stderr, "ksrv: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->pend);
    free(c->head);
    free(c->upload_sha);
    free(c);
}

/* While an answer is pending, wait for room to send it and not for input (level-triggered
 * EPOLLIN would fire again and again for input held back). */
static void want_out(struct conn *c, int on)
{
    struct epoll_event ev = {.events = on ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is pending, then pattern bytes of an http body. 0: all sent, 1: blocked, -1: error. */
static int flush(struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        c->pend_off += (size_t)n;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    while (c->body_left > 0) {
        size_t at = (size_t)(c->body_off % 251);
        size_t k = sizeof pattern - at;
        if (k > c->body_left)
            k = (size_t)c->body_left;
        ssize_t n = send(c->fd, pattern + at, k, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        c->body_left -= (uint64_t)n;
        c->body_off += (uint64_t)n;
    }
    return 0;
}

static void queue(struct conn *c, const char *p, size_t n)
{
    char *b = realloc(c->pend, c->pend_len + n);
    if (!b)
        die("out of memory");
    memcpy(b + c->pend_len, p, n);
    c->pend = b;
    c->pend_len += n;
}

static void upload_done(struct conn *c)
{
    char out[256], body[160], hex[SHA256_HEX_LEN];
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(c->upload_sha, d);
    sha256_hex(d, hex);
    free(c->upload_sha);
    c->upload_sha = NULL;
    int bl = snprintf(body, sizeof body, "length: %llu\nsha256: %s\n",
                      (unsigned long long)c->upload_len, hex);
    int k = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", bl, body);
    queue(c, out, (size_t)k);
    c->upload_len = 0;
}

/* Parse one complete request head in c->head (ending at `end`); queue the answer. */
static int http_request(struct conn *c, size_t end)
{
    char *h = c->head;
    h[end - 1] = 0;
    unsigned long long n = 0;
    char out[256];
    if (sscanf(h, "GET /bytes/%llu", &n) == 1) {
        int k = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Content-Length: %llu\r\n\r\n",
                         n);
        queue(c, out, (size_t)k);
        c->body_left = n;
        c->body_off = 0;
    } else if (strncmp(h, "POST /upload", 12) == 0) {
        char *cl = strcasestr(h, "\r\ncontent-length:");
        if (!cl)
            return -1;
        c->upload_left = c->upload_len = strtoull(cl + 17, NULL, 10);
        if (!(c->upload_sha = malloc(sizeof *c->upload_sha)))
            die("out of memory");
        sha256_init(c->upload_sha);
        if (c->upload_len == 0)
            upload_done(c);
    } else {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        queue(c, nf, sizeof nf - 1);
    }
    memmove(c->head, c->head + end, c->head_len - end);
    c->head_len -= end;
    return 0;
}

/* Bytes arrived on an http connection (p may be empty: parse what is held). Body bytes of an
 * upload are dropped; a request head is parsed only when the previous answer is on its way. */
static int http_input(struct conn *c, const char *p, size_t n)
{
    if (!c->head && !(c->head = malloc(HEAD_MAX)))
        return -1;
    for (;;) {
        if (c->upload_left > 0) {
            uint64_t k = c->head_len < c->upload_left ? c->head_len : c->upload_left;
            sha256_update(c->upload_sha, c->head, (size_t)k);
            memmove(c->head, c->head + k, c->head_len - (size_t)k);
            c->head_len -= (size_t)k;
            c->upload_left -= k;
            k = n < c->upload_left ? n : c->upload_left;
            sha256_update(c->upload_sha, p, (size_t)k);
            p += k;
            n -= (size_t)k;
            c->upload_left -= k;
            if (c->upload_left > 0)
                return 0;
            upload_done(c);
        }
        if (c->body_left > 0) { /* one GET answer at a time: keep the rest for later */
            size_t room = HEAD_MAX - c->head_len;
            if (n > room)
                return -1;
            memcpy(c->head + c->head_len, p, n);
            c->head_len += n;
            return 0;
        }
        char *e = memmem(c->head, c->head_len, "\r\n\r\n", 4);
        if (e) {
            if (http_request(c, (size_t)(e - c->head) + 4) < 0)
                return -1;
            continue;
        }
        if (n == 0)
            return 0;
        size_t room = HEAD_MAX - c->head_len;
        if (room == 0)
            return -1; /* head too long */
        size_t k = n < room ? n : room;
        memcpy(c->head + c->head_len, p, k);
        c->head_len += k;
        p += k;
        n -= k;
    }
}

static void on_readable(struct conn *c)
{
    for (;;) {
        if (c->pend || c->body_left) /* answer first: stop reading until it is sent */
            break;
        ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(c);
            return;
        }
        if (n < 0)
            break;
        if (c->kind == ECHO) {
            ssize_t w = send(c->fd, rbuf, (size_t)n, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) {
                conn_close(c);
                return;
            }
            if (w < n)
                queue(c, rbuf + (w > 0 ? w : 0), (size_t)(n - (w > 0 ? w : 0)));
        } else if (c->kind == HTTP && http_input(c, rbuf, (size_t)n) < 0) {
            conn_close(c);
            return;
        }
        int r = flush(c);
        if (r < 0) {
            conn_close(c);
            return;
        }
        if (r > 0) {
            want_out(c, 1);
            return;
        }
    }
}

static void on_writable(struct conn *c)
{
    for (;;) {
        int r = flush(c);
        if (r < 0) {
            conn_close(c);
            return;
        }
        if (r > 0) {
            want_out(c, 1);
            return;
        }
        /* answered: a request held back meanwhile may be complete already */
        if (c->kind == HTTP && c->head_len && http_input(c, NULL, 0) < 0) {
            conn_close(c);
            return;
        }
        if (!c->pend && !c->body_left)
            break;
    }
    want_out(c, 0);
    on_readable(c);
}

static void accept_all(struct conn *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "ksrv: accept: %s\n", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->kind = l->serves;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void add_listener(const char *addr, const char *port, enum kind serves)
{
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535) {
        fprintf(stderr, "ksrv: '%s' is not a port 1..65535\n", port);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "ksrv: --bind '%s' is not an IPv4 address\n", addr);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(fd, 4096) < 0) /* SOMAXCONN; the namespace's somaxconn caps it */
        die("listen");
    struct conn *l = calloc(1, sizeof *l);
    l->fd = fd;
    l->kind = LISTENER;
    l->serves = serves;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
}

int main(int argc, char **argv)
{
    const char *addr = "0.0.0.0";
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i % 251);
    struct rlimit rl = {1 << 20, 1 << 20};
    setrlimit(RLIMIT_NOFILE, &rl); /* as root: room for the memory row's connections */
    int listeners = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "ksrv: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--bind"))
            addr = argv[++i];
        else if (!strcmp(argv[i], "--echo"))
            add_listener(addr, argv[++i], ECHO), listeners++;
        else if (!strcmp(argv[i], "--discard"))
            add_listener(addr, argv[++i], DISCARD), listeners++;
        else if (!strcmp(argv[i], "--http"))
            add_listener(addr, argv[++i], HTTP), listeners++;
        else {
            fprintf(stderr,
                    "usage: ksrv [--bind ADDR] [--echo PORT] [--discard PORT] [--http PORT]\n");
            return 2;
        }
    }
    if (!listeners) {
        fprintf(stderr, "ksrv: nothing to serve: give --echo, --discard or --http\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "ksrv: ready\n");
    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 500);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->kind == LISTENER)
                accept_all(c);
            else if (evs[i].events & EPOLLOUT)
                on_writable(c);
            else
                on_readable(c);
        }
    }
    return 0;
}
