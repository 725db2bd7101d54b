/* apps/common/httpserve.c on real runtimes (two stacks on the pair link): the server runs on B
 * from its own thread and event loop, as tapstack-httpd and tapstack-sock --viz-port run it, and a
 * client on A speaks HTTP to it. Keep-alive serves several requests on one connection and
 * "Connection: close" ends it; HEAD gets the head alone; a streamed body comes from its source;
 * request bodies (Content-Length and chunked) reach the route's sink and keep the connection
 * usable, while a body nobody reads closes it after the answer; an unknown method gets 501, a
 * malformed head 400; beyond the limit a connection gets 503; a client gone mid-body drops the
 * sink; hs_stop closes every connection. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../../apps/common/httpserve.h"
#include "harness.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"

#define PORT 80

static struct ts_runtime *A, *B;
static struct ev_loop L;
static struct hs_server SRV;
static volatile sig_atomic_t stop_loop;
static pthread_t loop_thread;
static bool loop_running;
/* What the sink saw (written in the loop's thread, read by the test after an answer came). */
static uint64_t sink_bytes, sink_total;
static volatile int sink_drops;

/* ---- the app: a route, a source, a sink */

static const uint8_t *src_bytes(void *arg, uint64_t off, size_t *n)
{
    static uint8_t block[251 * 8];
    (void)arg;
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (uint8_t)(i % 251);
    size_t at = (size_t)(off % 251);
    if (*n > sizeof block - at)
        *n = sizeof block - at;
    return block + at;
}

static void sink_data(struct hs_conn *c, void *arg, const void *p, size_t n)
{
    (void)c;
    (void)arg;
    (void)p;
    sink_bytes += n;
}

static int sink_done(struct hs_conn *c, void *arg, uint64_t total)
{
    (void)arg;
    sink_total = total;
    return hs_respond_text(c, 200, false, NULL, "got %llu\n", (unsigned long long)total);
}

static void sink_drop(void *arg)
{
    (void)arg;
    sink_drops++;
}

static int route(struct hs_conn *c, const struct http_request *req, const char *path,
                 const char *query, bool head)
{
    static const struct hs_sink sink = {sink_data, sink_done, sink_drop};
    if (strcmp(path, "/hello") == 0)
        return hs_respond_text(c, 200, head, NULL, "hello%s%s\n", query ? " " : "",
                               query ? query : "");
    if (strcmp(path, "/stream") == 0) {
        static const struct hs_source src = {src_bytes, NULL};
        return hs_respond_stream(c, 200, "application/octet-stream", 300000, &src, head, NULL);
    }
    if (strcmp(path, "/upload") == 0 && req->method == HTTP_M_POST)
        return hs_read_body(c, req, &sink, NULL);
    return hs_respond_text(c, 404, head, NULL, "no %s\n", path);
}

static void *loop_main(void *arg)
{
    (void)arg;
    ev_run(&L);
    return NULL;
}

static void start_server(unsigned max_conns)
{
    int one = 1;
    int l = ts_socket_on(B, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    ck_assert_int_eq(ts_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&la, sizeof la), 0);
    ck_assert_int_eq(ts_listen(l, 64), 0);
    ck_assert_int_eq(nio_nonblock(l), 0);
    memset(&SRV, 0, sizeof SRV);
    SRV.prog = "test_httpserve";
    SRV.route = route;
    SRV.limit.max = max_conns;
    stop_loop = 0;
    ck_assert_int_eq(ev_init(&L, &stop_loop), 0);
    ck_assert_int_eq(hs_start(&SRV, &L, l), 0);
    ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
    loop_running = true;
}

static void stop_server(void)
{
    if (!loop_running)
        return;
    stop_loop = 1;
    pthread_join(loop_thread, NULL);
    hs_stop(&SRV);
    ev_fini(&L);
    loop_running = false;
}

static void setup(void)
{
    rt_pair_up(&A, &B, NULL, NULL);
    sink_bytes = sink_total = 0;
    sink_drops = 0;
    start_server(16);
}

static void teardown(void)
{
    stop_server();
    rt_pair_down(&A, &B);
}

/* ---- the client */

static int client(void)
{
    int fd = ts_socket_on(A, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = 5};
    ck_assert_int_eq(ts_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in ra = {
        .sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = htonl(TH_IP_B)};
    ck_assert_int_eq(ts_connect(fd, (struct sockaddr *)&ra, sizeof ra), 0);
    return fd;
}

static void put(int fd, const char *s)
{
    ck_assert_int_eq(ts_send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

struct resp {
    char head[2048];
    int status;
    long long length; /* Content-Length */
    bool close;       /* Connection: close */
    uint8_t *body;
    size_t body_len;
};

static char pending[4096];
static size_t npending;

/* One response: the head, then Content-Length bytes of body (none when head_only). */
static void get_resp(int fd, bool head_only, struct resp *r)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(pending, npending, "\r\n\r\n", 4))) {
        ck_assert_int_lt(npending, sizeof pending);
        ssize_t n = ts_recv(fd, pending + npending, sizeof pending - npending, 0);
        ck_assert_msg(n > 0, "the connection ended before a whole head: %zd", n);
        npending += (size_t)n;
    }
    size_t hl = (size_t)(end - pending) + 4;
    memcpy(r->head, pending, hl < sizeof r->head ? hl : sizeof r->head - 1);
    ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = strstr(r->head, "Content-Length: ");
    ck_assert_ptr_nonnull(cl);
    r->length = atoll(cl + 16);
    r->close = strstr(r->head, "Connection: close") != NULL;
    memmove(pending, pending + hl, npending - hl);
    npending -= hl;
    size_t want = head_only ? 0 : (size_t)r->length;
    r->body = malloc(want + 1);
    ck_assert_ptr_nonnull(r->body);
    while (r->body_len < want) {
        if (npending) {
            size_t k = npending < want - r->body_len ? npending : want - r->body_len;
            memcpy(r->body + r->body_len, pending, k);
            memmove(pending, pending + k, npending - k);
            npending -= k;
            r->body_len += k;
            continue;
        }
        ssize_t n = ts_recv(fd, r->body + r->body_len, want - r->body_len, 0);
        ck_assert_msg(n > 0, "the body ended at %zu of %zu", r->body_len, want);
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = 0;
}

/* The server closed its side: the next read is the end of the stream. */
static void expect_end(int fd)
{
    char c;
    ck_assert_int_eq(npending, 0);
    ck_assert_int_eq(ts_recv(fd, &c, 1, 0), 0);
}

static void start_client(void)
{
    npending = 0;
}

/* ---- the tests */

START_TEST(test_keep_alive_serves_requests_on_one_connection_until_connection_close)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "GET /hello?one HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq((char *)r.body, "hello one\n");
    ck_assert(!r.close);
    free(r.body);
    /* Two at once (pipelined), the second asking to close. */
    put(fd, "GET /hello?two HTTP/1.1\r\nHost: b\r\n\r\nGET /nope HTTP/1.1\r\nHost: b\r\n"
            "Connection: close\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_str_eq((char *)r.body, "hello two\n");
    free(r.body);
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert(r.close);
    free(r.body);
    expect_end(fd);
    ts_close(fd);
    ck_assert_uint_eq(SRV.requests, 3);
}
END_TEST

START_TEST(test_head_gets_the_head_alone_and_a_stream_comes_from_its_source)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "HEAD /stream HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, true, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.length, 300000);
    free(r.body);
    put(fd, "GET /stream HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_uint_eq(r.body_len, 300000);
    for (size_t i = 0; i < r.body_len; i++)
        ck_assert_msg(r.body[i] == i % 251, "byte %zu is %u", i, r.body[i]);
    free(r.body);
    /* Nothing came after the HEAD's head: the next answer was the GET's. */
    put(fd, "GET /hello HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_str_eq((char *)r.body, "hello\n");
    free(r.body);
    ts_close(fd);
}
END_TEST

START_TEST(test_bodies_reach_the_sink_and_keep_the_connection)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "POST /upload HTTP/1.1\r\nHost: b\r\nContent-Length: 11\r\n\r\nhello world");
    get_resp(fd, false, &r);
    ck_assert_str_eq((char *)r.body, "got 11\n");
    ck_assert(!r.close);
    free(r.body);
    put(fd, "POST /upload HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_str_eq((char *)r.body, "got 8\n");
    free(r.body);
    ck_assert_uint_eq(sink_bytes, 19);
    /* Expect: 100-continue is answered before the body is sent. */
    put(fd,
        "POST /upload HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    char cont[64] = "";
    size_t got = 0;
    while (!strstr(cont, "\r\n\r\n")) {
        ssize_t n = ts_recv(fd, cont + got, sizeof cont - 1 - got, 0);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
        cont[got] = 0;
    }
    ck_assert_str_eq(cont, "HTTP/1.1 100 Continue\r\n\r\n");
    put(fd, "xyz");
    get_resp(fd, false, &r);
    ck_assert_str_eq((char *)r.body, "got 3\n");
    free(r.body);
    put(fd, "GET /hello HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 200);
    free(r.body);
    ck_assert_int_eq(sink_drops, 0);
    ts_close(fd);
}
END_TEST

START_TEST(test_a_body_nobody_reads_closes_the_connection_after_the_answer)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "POST /hello HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n\r\nbody");
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.close);
    free(r.body);
    expect_end(fd);
    ts_close(fd);
}
END_TEST

START_TEST(test_unknown_method_gets_501_and_a_malformed_head_400)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "BREW /pot HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 501);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "BREW"));
    free(r.body);
    put(fd, "GET /hello HTTP/1.1\r\nbad header line\r\n\r\n");
    get_resp(fd, false, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert(r.close);
    free(r.body);
    expect_end(fd);
    ts_close(fd);
}
END_TEST

START_TEST(test_beyond_the_limit_a_connection_gets_503)
{
    stop_server();
    start_server(1);
    start_client();
    int first = client();
    struct resp r;
    put(first, "GET /hello HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(first, false, &r); /* served: it holds the one place */
    free(r.body);
    int second = client();
    get_resp(second, false, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert(r.close);
    free(r.body);
    ck_assert_uint_eq(SRV.limit.refused, 1);
    ts_close(second);
    ts_close(first);
}
END_TEST

START_TEST(test_a_client_gone_mid_body_drops_the_sink)
{
    start_client();
    int fd = client();
    put(fd, "POST /upload HTTP/1.1\r\nHost: b\r\nContent-Length: 100\r\n\r\nonly part");
    ts_close(fd);
    for (int i = 0; i < 300 && !sink_drops; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    ck_assert_int_eq(sink_drops, 1);
    ck_assert_uint_eq(sink_total, 0);
}
END_TEST

START_TEST(test_stop_closes_every_connection)
{
    start_client();
    int fd = client();
    struct resp r;
    put(fd, "GET /hello HTTP/1.1\r\nHost: b\r\n\r\n");
    get_resp(fd, false, &r);
    free(r.body);
    stop_server(); /* the connection is idle, kept alive: hs_stop closes it */
    expect_end(fd);
    ts_close(fd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("httpserve");
    TCase *t = tcase_create("server");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_keep_alive_serves_requests_on_one_connection_until_connection_close);
    tcase_add_test(t, test_head_gets_the_head_alone_and_a_stream_comes_from_its_source);
    tcase_add_test(t, test_bodies_reach_the_sink_and_keep_the_connection);
    tcase_add_test(t, test_a_body_nobody_reads_closes_the_connection_after_the_answer);
    tcase_add_test(t, test_unknown_method_gets_501_and_a_malformed_head_400);
    tcase_add_test(t, test_beyond_the_limit_a_connection_gets_503);
    tcase_add_test(t, test_a_client_gone_mid_body_drops_the_sink);
    tcase_add_test(t, test_stop_closes_every_connection);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
