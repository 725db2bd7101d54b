/* The live TCP page's endpoints (apps/common/tcpviz.c) on real runtimes (two stacks on the pair
 * link): the shape of every answer (a strict JSON check, then its content), the asker marked as
 * a viewer, no connections, many connections (counts, per-state caps, paging), `since` paging of
 * transitions and ladders (a huge `since` included), unknown ids and endpoints, bad query strings
 * answered with one valid JSON error that quotes them safely; and the ladders themselves
 * (socket/seglog.c) fed by hand: the SYN that makes a listener's child, the segment that caused
 * each change, ICMP causes not linked, a TIME_WAIT ended by a new SYN, the ring and the eviction
 * of the oldest ladder; the instance every answer names (another server, another instance), the
 * program and title a server gives, and recording from start-up (tcpviz_record_now). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../../apps/common/tcpviz.h"
#include "../../socket/seglog.h"
#include "harness.h"
#include "json_check.h"
#include "rt_fixture.h"
#include "tapstack/control.h"
#include "tapstack/socket.h"

static struct ts_runtime *A, *B;
static struct tcpviz *V;

static void setup(void)
{
    rt_pair_up(&A, &B, NULL, NULL);
    V = tcpviz_new(B);
    ck_assert(V);
}

static void teardown(void)
{
    tcpviz_free(V);
    rt_pair_down(&A, &B);
}

/* GET path?query asked on fd: the status, and the body as a string (free it). */
static char *get(const char *path, const char *query, int fd, int *status)
{
    struct tcpviz_reply r;
    char q[512];
    if (query)
        snprintf(q, sizeof q, "%s", query);
    tcpviz_get(V, path, query ? q : NULL, fd, &r);
    char *s = malloc(r.len + 1);
    ck_assert(s);
    memcpy(s, r.body, r.len);
    s[r.len] = '\0';
    *status = r.status;
    if (strncmp(path, "/api/", 5) == 0) {
        ck_assert_msg(json_valid(s, r.len), "not one valid JSON document: %s", s);
        ck_assert_str_eq(r.ctype, "application/json");
    }
    tcpviz_reply_free(&r);
    return s;
}

static char *get_ok(const char *path, const char *query, int fd)
{
    int st;
    char *s = get(path, query, fd, &st);
    ck_assert_msg(st == 200, "%s?%s: %d %s", path, query ? query : "", st, s);
    return s;
}

/* The number after "key": in s (the first), or -1. */
static long long num(const char *s, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p || strncmp(p + strlen(k), "null", 4) == 0)
        return -1;
    return strtoll(p + strlen(k), NULL, 10);
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void expect_error(const char *path, const char *query, int want, const char *says)
{
    int st;
    char *s = get(path, query, -1, &st);
    ck_assert_msg(st == want, "%s?%s: status %d, want %d (%s)", path, query, st, want, s);
    ck_assert_msg(strncmp(s, "{\"error\":\"", 10) == 0 && strstr(s, says),
                  "%s?%s said %s, want it to say '%s'", path, query, s, says);
    free(s);
}

/* A listener on B's port, and n connections to it from A, accepted on B (srv[i]). */
static void connect_n(uint16_t port, int n, int *cli, int *srv)
{
    int l = ts_socket_on(B, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons(port)};
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&la, sizeof la), 0);
    ck_assert_int_eq(ts_listen(l, 1024), 0);
    struct sockaddr_in ra = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(TH_IP_B), .sin_port = htons(port)};
    for (int i = 0; i < n; i++) {
        cli[i] = ts_socket_on(A, AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(cli[i], 0);
        ck_assert_int_eq(ts_connect(cli[i], (struct sockaddr *)&ra, sizeof ra), 0);
        srv[i] = ts_accept(l, NULL, NULL);
        ck_assert_int_ge(srv[i], 0);
    }
    ts_close(l);
}

static void nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- the endpoints */

START_TEST(test_states_names_all_eleven_with_rfc_names_and_explanations)
{
    char *s = get_ok("/api/states", NULL, -1);
    ck_assert_ptr_nonnull(strstr(s, "\"kind\":\"states\""));
    ck_assert_ptr_nonnull(strstr(s, "\"address\":\"10.0.0.2\""));
    ck_assert_int_eq(count_of(s, "\"explain\":\""), 11);
    ck_assert_ptr_nonnull(strstr(s, "{\"n\":3,\"name\":\"SYN_RECV\",\"rfc\":\"SYN-RECEIVED\""));
    ck_assert_ptr_nonnull(strstr(s, "\"name\":\"CLOSE\",\"rfc\":\"CLOSED\""));
    ck_assert_ptr_nonnull(strstr(s, "a connecting client never passes through LISTEN"));
    free(s);
}
END_TEST

START_TEST(test_connections_with_none_counts_zero_and_lists_nothing)
{
    char *s = get_ok("/api/connections", NULL, -1);
    ck_assert_int_eq(num(s, "total"), 0);
    ck_assert_int_eq(num(s, "matched"), 0);
    ck_assert_int_eq(num(s, "self"), -1); /* null: no asker known */
    ck_assert_ptr_nonnull(strstr(s, "\"viewers\":[]"));
    ck_assert_ptr_nonnull(strstr(s, "\"ESTABLISHED\":0"));
    ck_assert_ptr_nonnull(strstr(s, "\"tcp\":[]"));
    free(s);
    /* The ladders endpoint with nothing recorded yet (recording began with the first request). */
    s = get_ok("/api/ladders", NULL, -1);
    ck_assert_ptr_nonnull(strstr(s, "\"recording\":true,\"ladders\":[]"));
    free(s);
}
END_TEST

START_TEST(test_connections_mark_the_asker_and_show_stat_internals)
{
    int cli, srv;
    rt_tcp_pair(A, B, 8080, &cli, &srv);
    char *s = get_ok("/api/connections", NULL, srv);
    /* B has the accepted connection (its listener was closed by rt_tcp_pair). */
    ck_assert_int_eq(num(s, "total"), 1);
    long long self = num(s, "self");
    ck_assert_int_gt(self, 0);
    char want[64];
    snprintf(want, sizeof want, "\"viewers\":[%lld]", self);
    ck_assert_msg(strstr(s, want), "viewers: %s", s);
    snprintf(want, sizeof want, "{\"id\":%lld,\"proto\":\"tcp\",\"state\":\"ESTABLISHED\"", self);
    ck_assert_msg(strstr(s, want), "row: %s", s);
    /* The internals of tapstack-stat -i, from the same formatter. */
    const char *keys[] = {"\"local\":\"10.0.0.2:8080\"",
                          "\"remote\":\"10.0.0.1:",
                          "\"state_age_us\":",
                          "\"cwnd\":",
                          "\"snd_una\":",
                          "\"rto_us\":",
                          "\"bytes_received\":"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(strstr(s, keys[i]), "no %s in %s", keys[i], s);
    ck_assert_int_eq(num(s, "ESTABLISHED"), 1);
    free(s);
    /* Asked from no known connection: the viewer stays listed, self is null. */
    s = get_ok("/api/connections", NULL, -1);
    ck_assert_int_eq(num(s, "self"), -1);
    snprintf(want, sizeof want, "\"viewers\":[%lld]", self);
    ck_assert_msg(strstr(s, want), "viewers after: %s", s);
    free(s);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_many_connections_are_counted_capped_per_state_and_paged)
{
    enum { N = 300 };
    static int cli[N], srv[N];
    connect_n(9000, N, cli, srv);
    char *s = get_ok("/api/connections", "per_state=5", -1);
    ck_assert_int_eq(num(s, "total"), N);
    ck_assert_int_eq(num(s, "ESTABLISHED"), N);
    ck_assert_int_eq(num(s, "matched"), 5);
    ck_assert_int_eq(num(s, "per_state"), 5);
    ck_assert_int_eq(count_of(s, "\"proto\":\"tcp\""), 5);
    free(s);
    /* Default: the first 200, newest first; paging by offset. */
    s = get_ok("/api/connections", NULL, -1);
    ck_assert_int_eq(num(s, "matched"), N);
    ck_assert_int_eq(num(s, "limit"), 200);
    ck_assert_int_eq(count_of(s, "\"proto\":\"tcp\""), 200);
    free(s);
    s = get_ok("/api/connections", "state=ESTABLISHED&offset=250&limit=100", -1);
    ck_assert_int_eq(num(s, "matched"), N);
    ck_assert_int_eq(num(s, "offset"), 250);
    ck_assert_int_eq(count_of(s, "\"proto\":\"tcp\""), 50);
    free(s);
    s = get_ok("/api/connections", "state=TIME-WAIT", -1); /* the RFC's name works too */
    ck_assert_int_eq(num(s, "matched"), 0);
    free(s);
    s = get_ok("/api/connections", "offset=100000", -1); /* past the end: nothing, no error */
    ck_assert_int_eq(count_of(s, "\"proto\":\"tcp\""), 0);
    ck_assert_int_eq(num(s, "offset"), N);
    free(s);
    expect_error("/api/connections", "limit=0", 400, "limit must be 1..1000");
    expect_error("/api/connections", "limit=1001", 400, "limit must be 1..1000");
    expect_error("/api/connections", "state=ESTABLISHEDX", 400, "a TCP state's name");
    for (int i = 0; i < N; i++) {
        ts_close(cli[i]);
        ts_close(srv[i]);
    }
}
END_TEST

START_TEST(test_transitions_page_with_since_and_count_moves_since_startup)
{
    int cli, srv;
    rt_tcp_pair(A, B, 8081, &cli, &srv);
    char *s = get_ok("/api/transitions", NULL, -1);
    /* B: its listener (CLOSE -> LISTEN, LISTEN -> CLOSE) and the child's two changes. */
    long long last = num(s, "last"), next = num(s, "next");
    ck_assert_int_ge(last, 4);
    ck_assert_int_eq(next, last);
    ck_assert_int_eq(num(s, "first"), 1);
    ck_assert_int_eq(num(s, "lost"), 0);
    ck_assert_int_eq(count_of(s, "\"seq\":"), last);
    ck_assert_ptr_nonnull(strstr(s, "{\"from\":\"LISTEN\",\"to\":\"SYN_RECV\",\"n\":1}"));
    ck_assert_ptr_nonnull(strstr(s, "{\"from\":\"SYN_RECV\",\"to\":\"ESTABLISHED\",\"n\":1}"));
    ck_assert_ptr_nonnull(strstr(s, "\"cause\":\"rcvd ACK of SYN\""));
    free(s);

    char q[64];
    snprintf(q, sizeof q, "since=%lld", next);
    s = get_ok("/api/transitions", q, -1); /* nothing new */
    ck_assert_msg(strstr(s, "\"events\":[]"), "%s", s);
    ck_assert_int_eq(num(s, "next"), next);
    free(s);

    ts_close(cli); /* A closes first: B goes to CLOSE_WAIT */
    for (int i = 0; i < 200; i++) {
        s = get_ok("/api/transitions", q, -1);
        bool seen = strstr(s, "\"to\":\"CLOSE_WAIT\"") != NULL;
        if (seen)
            break;
        free(s);
        s = NULL;
        nap();
    }
    ck_assert_msg(s, "B never reached CLOSE_WAIT");
    ck_assert_int_eq(count_of(s, "\"seq\":"), 1);
    ck_assert_int_eq(num(s, "seq"), next + 1);
    ck_assert_ptr_nonnull(strstr(s, "{\"from\":\"ESTABLISHED\",\"to\":\"CLOSE_WAIT\",\"n\":1}"));
    free(s);

    s = get_ok("/api/transitions", "since=18446744073709551615", -1); /* huge: start over */
    ck_assert_ptr_nonnull(strstr(s, "\"events\":[]"));
    ck_assert_int_eq(num(s, "next"), next + 1);
    free(s);
    s = get_ok("/api/transitions", "since=0&max=1", -1);
    ck_assert_int_eq(count_of(s, "\"seq\":"), 1);
    ck_assert_int_eq(num(s, "next"), 1);
    free(s);
    expect_error("/api/transitions", "max=0", 400, "max must be 1..4096");
    expect_error("/api/transitions", "since=-1", 400, "since must be a decimal number");
    expect_error("/api/transitions", "since=99999999999999999999", 400, "since must be");
    ts_close(srv);
}
END_TEST

START_TEST(test_segments_ladder_shows_the_handshake_with_what_each_segment_caused)
{
    /* The first request turns recording on: connections from then on get a ladder. */
    ck_assert(!ts_runtime_recording_segments(B));
    free(get_ok("/api/states", NULL, -1));
    ck_assert(ts_runtime_recording_segments(B));
    int cli, srv;
    rt_tcp_pair(A, B, 8082, &cli, &srv);
    ck_assert_int_eq(ts_send(cli, "hello", 5, 0), 5);
    char buf[8];
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), 5);
    char *s = get_ok("/api/connections", NULL, srv);
    long long id = num(s, "self");
    free(s);
    char q[96];
    snprintf(q, sizeof q, "conn=%lld", id);
    s = get_ok("/api/segments", q, -1);
    ck_assert_int_eq(num(s, "conn_id"), id);
    ck_assert_ptr_nonnull(strstr(s, "\"iss_syn\":true,\"irs_syn\":true"));
    /* 1: the SYN (B in LISTEN), which caused 2; 3: the SYN-ACK; 4: the ACK, which caused 5. */
    ck_assert_msg(strstr(s, "{\"n\":1,\"kind\":\"segment\",\"dir\":\"in\""), "%s", s);
    ck_assert_msg(strstr(s, "\"state\":\"LISTEN\",\"flags\":\"SYN\",\"seq\":0,"), "%s", s);
    ck_assert_msg(strstr(s, "\"caused\":[2]}"), "%s", s);
    ck_assert_msg(strstr(s, "{\"n\":2,\"kind\":\"state\""), "%s", s);
    ck_assert_msg(strstr(s, "\"from\":\"LISTEN\",\"to\":\"SYN_RECV\",\"cause\":\"rcvd SYN\""), "%s",
                  s);
    ck_assert_msg(strstr(s, "\"by\":1}"), "%s", s);
    ck_assert_msg(strstr(s, "{\"n\":3,\"kind\":\"segment\",\"dir\":\"out\""), "%s", s);
    ck_assert_msg(strstr(s, "\"state\":\"SYN_RECV\",\"flags\":\"SYN,ACK\",\"seq\":0,"), "%s", s);
    ck_assert_msg(strstr(s, "\"ack\":1,"), "%s", s);
    ck_assert_msg(strstr(s, "\"caused\":[5]}"), "%s", s);
    ck_assert_msg(strstr(s, "\"to\":\"ESTABLISHED\",\"cause\":\"rcvd ACK of SYN\""), "%s", s);
    /* The data: 5 bytes from sequence 1. */
    ck_assert_msg(strstr(s, "\"flags\":\"PSH,ACK\",\"seq\":1,"), "%s", s);
    ck_assert_msg(strstr(s, "\"len\":5,"), "%s", s);
    ck_assert_msg(strstr(s, "\"opts\":\"MSS="), "the SYN's options: %s", s);
    long long items = num(s, "items");
    ck_assert_int_ge(items, 6);
    free(s);

    /* since: what came after; a huge since: nothing, and next says where the ladder is. */
    snprintf(q, sizeof q, "conn=%lld&since=3", id);
    s = get_ok("/api/segments", q, -1);
    ck_assert_ptr_null(strstr(s, "{\"n\":3,"));
    ck_assert_ptr_nonnull(strstr(s, "\"list\":[{\"n\":4,"));
    free(s);
    snprintf(q, sizeof q, "conn=%lld&since=1000000&max=1", id);
    s = get_ok("/api/segments", q, -1);
    ck_assert_ptr_nonnull(strstr(s, "\"list\":[]"));
    ck_assert_int_eq(num(s, "next"), items);
    free(s);

    /* Closed, the ladder stays: A's FIN in (CLOSE_WAIT), B's close, its FIN out and the last
     * ACK in (LAST_ACK, CLOSE). */
    ts_close(cli);
    ck_assert_int_eq(ts_recv(srv, buf, sizeof buf, 0), 0); /* A's FIN arrived */
    ts_close(srv);
    snprintf(q, sizeof q, "conn=%lld", id);
    for (int i = 0; i < 300; i++) {
        s = get_ok("/api/segments", q, -1);
        if (strstr(s, "\"ended\":true"))
            break;
        free(s);
        s = NULL;
        nap();
    }
    ck_assert_msg(s, "the connection never ended");
    ck_assert_msg(strstr(s, "\"to\":\"CLOSE_WAIT\",\"cause\":\"rcvd FIN\""), "%s", s);
    ck_assert_msg(strstr(s, "\"to\":\"LAST_ACK\",\"cause\":\"app close\""), "%s", s);
    ck_assert_msg(strstr(s, "\"to\":\"CLOSE\",\"cause\":\"rcvd ACK of FIN\""), "%s", s);
    ck_assert_ptr_nonnull(strstr(s, "\"flags\":\"FIN,ACK\""));
    free(s);
    s = get_ok("/api/ladders", NULL, -1);
    snprintf(q, sizeof q, "\"conn_id\":%lld,", id);
    ck_assert_msg(strstr(s, q), "%s", s);
    free(s);
}
END_TEST

START_TEST(test_unknown_ids_endpoints_and_bad_queries_get_one_json_error)
{
    expect_error("/api/segments", "conn=424242", 404, "no ladder for connection 424242");
    expect_error("/api/segments", NULL, 400, "conn=ID is needed");
    expect_error("/api/segments", "conn=1&max=0", 400, "max must be 1..128");
    expect_error("/api/segments", "conn=abc", 400, "conn must be a decimal number");
    expect_error("/api/segments", "conn=", 400, "conn must be a decimal number");
    expect_error("/api/segments", "conn=1e3", 400, "conn must be a decimal number");
    expect_error("/api/transitions", "bogus", 400, "is not key=value");
    expect_error("/api/transitions", "until=3", 400, "unknown parameter 'until'");
    expect_error("/api/states", "x=1", 400, "this endpoint takes: none");
    expect_error("/api/nothing", NULL, 404, "no such endpoint");
    expect_error("/api/ladders", "max=100000", 400, "max must be 1..256");
    /* Quotes, backslashes and control bytes in a parameter's name come back escaped. */
    expect_error("/api/transitions", "a\"b\\c\x01\x7f\xff=1", 400,
                 "unknown parameter 'a\\\"b\\\\c");
    /* Empty pairs are skipped. */
    free(get_ok("/api/transitions", "&&since=0&", -1));
}
END_TEST

START_TEST(test_page_and_its_files_are_served_from_the_binary)
{
    int st;
    char *s = get("/tcp", NULL, -1, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_ptr_nonnull(strstr(s, "<!DOCTYPE html>"));
    ck_assert_ptr_nonnull(strstr(s, "/tcp/tcp.js"));
    ck_assert_ptr_null(strstr(s, "http://")); /* self-contained: nothing fetched from elsewhere */
    ck_assert_ptr_null(strstr(s, "https://"));
    free(s);
    struct tcpviz_reply r;
    tcpviz_get(V, "/tcp/tcp.js", NULL, -1, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/javascript; charset=utf-8");
    ck_assert_uint_gt(r.len, 1000);
    tcpviz_reply_free(&r);
    tcpviz_get(V, "/tcp/tcp.css", NULL, -1, &r);
    ck_assert_str_eq(r.ctype, "text/css; charset=utf-8");
    tcpviz_reply_free(&r);
    s = get("/tcp/../../etc/passwd", NULL, -1, &st);
    ck_assert_int_eq(st, 404);
    free(s);
    ck_assert(tcpviz_owns("/tcp") && tcpviz_owns("/tcp/x") && tcpviz_owns("/api/connections"));
    ck_assert(!tcpviz_owns("/tcpx") && !tcpviz_owns("/") && !tcpviz_owns("/api"));
}
END_TEST

/* ---------------------------------------------------------------- the ladders, by hand */

#define IP_US   0x0a000002u
#define IP_PEER 0x0a000001u

static struct ts_segment_event seg(bool sent, uint16_t rport, uint8_t flags, uint32_t seq,
                                   uint32_t ack, ts_time_t t)
{
    return (struct ts_segment_event){.time = t,
                                     .sent = sent,
                                     .laddr = IP_US,
                                     .raddr = IP_PEER,
                                     .lport = 80,
                                     .rport = rport,
                                     .seq = seq,
                                     .ack = ack,
                                     .flags = flags,
                                     .wnd = 1000,
                                     .mss = -1,
                                     .wscale = -1};
}

static struct ts_trace_event chg(uint64_t id, uint16_t rport, enum ts_tcp_state from,
                                 enum ts_tcp_state to, const char *cause, ts_time_t t)
{
    return (struct ts_trace_event){.time = t,
                                   .laddr = IP_US,
                                   .raddr = IP_PEER,
                                   .lport = 80,
                                   .rport = rport,
                                   .from = from,
                                   .to = to,
                                   .cause = cause,
                                   .conn_id = id};
}

static size_t items_of(struct seglog *sl, uint64_t id, uint64_t since, struct ts_seg_item *out,
                       struct ts_seg_conn *c, struct ts_stat_page *pg)
{
    size_t n;
    ck_assert(seglog_items_since(sl, id, since, out, 64, &n, c, pg));
    return n;
}

START_TEST(test_seglog_child_begins_with_the_syn_that_made_it)
{
    struct seglog *sl = seglog_new(4, 16);
    struct ts_seg_item it[64];
    struct ts_seg_conn c;
    struct ts_stat_page pg;
    /* A SYN for no ladder, then the child's first change at the same time. */
    struct ts_segment_event e = seg(false, 5000, TS_SEG_SYN, 1000, 0, 10);
    e.wscale = 7;
    seglog_segment(sl, &e);
    struct ts_trace_event t = chg(7, 5000, TS_TCP_LISTEN, TS_TCP_SYN_RECV, "rcvd SYN", 10);
    seglog_trace(sl, &t, 41);
    e = seg(true, 5000, TS_SEG_SYN | TS_SEG_ACK, 9000, 1001, 10);
    e.wscale = 2;
    seglog_segment(sl, &e);
    e = seg(false, 5000, TS_SEG_ACK, 1001, 9001, 20);
    seglog_segment(sl, &e);
    t = chg(7, 5000, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, "rcvd ACK of SYN", 20);
    seglog_trace(sl, &t, 42);
    /* An ICMP error is no segment: its change names none. */
    t = chg(7, 5000, TS_TCP_ESTABLISHED, TS_TCP_CLOSE, "rcvd ICMP unreachable", 20);
    seglog_trace(sl, &t, 43);

    size_t n = items_of(sl, 7, 0, it, &c, &pg);
    ck_assert_uint_eq(n, 6);
    ck_assert(it[0].kind == TS_SEGITEM_RCVD && it[0].u.seg.flags == TS_SEG_SYN);
    ck_assert_uint_eq(it[0].state, TS_TCP_LISTEN);
    ck_assert_uint_eq(it[0].u.seg.ncaused, 1);
    ck_assert_uint_eq(it[0].u.seg.caused[0], 2);
    ck_assert(it[1].kind == TS_SEGITEM_STATE && it[1].u.st.by == 1);
    ck_assert_uint_eq(it[1].u.st.trace_seq, 41);
    ck_assert(it[2].kind == TS_SEGITEM_SENT && it[2].state == TS_TCP_SYN_RECV);
    ck_assert_uint_eq(it[3].u.seg.caused[0], 5);
    ck_assert_uint_eq(it[4].u.st.by, 4);
    ck_assert_uint_eq(it[5].u.st.by, 0); /* ICMP */
    ck_assert(c.ended && c.state == TS_TCP_CLOSE);
    ck_assert(c.iss_syn && c.irs_syn && c.iss == 9000 && c.irs == 1000);
    ck_assert_int_eq(c.ws_ours, 2);
    ck_assert_int_eq(c.ws_peer, 7);
    seglog_free(sl);
}
END_TEST

START_TEST(test_seglog_new_syn_in_time_wait_starts_the_next_ladder)
{
    struct seglog *sl = seglog_new(4, 16);
    struct ts_seg_item it[64];
    struct ts_seg_conn c;
    struct ts_stat_page pg;
    struct ts_trace_event t = chg(1, 6000, TS_TCP_CLOSE, TS_TCP_SYN_SENT, "app connect", 1);
    seglog_trace(sl, &t, 1);
    t = chg(1, 6000, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT, "rcvd FIN", 2);
    seglog_trace(sl, &t, 2);
    struct ts_segment_event e = seg(false, 6000, TS_SEG_SYN, 5, 0, 3);
    seglog_segment(sl, &e);
    t = chg(1, 6000, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, "new SYN in TIME_WAIT (RFC 6191)", 3);
    seglog_trace(sl, &t, 3);
    t = chg(2, 6000, TS_TCP_LISTEN, TS_TCP_SYN_RECV, "rcvd SYN", 3);
    seglog_trace(sl, &t, 4);
    size_t n = items_of(sl, 1, 0, it, &c, &pg);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(it[3].u.st.by, 3); /* the SYN ended the TIME_WAIT */
    n = items_of(sl, 2, 0, it, &c, &pg);
    ck_assert_uint_eq(n, 2);
    ck_assert(it[0].kind == TS_SEGITEM_RCVD && it[0].u.seg.flags == TS_SEG_SYN);
    ck_assert_uint_eq(it[1].u.st.by, 1);
    /* Segments of the 4-tuple now go to the new connection. */
    e = seg(true, 6000, TS_SEG_SYN | TS_SEG_ACK, 77, 6, 3);
    seglog_segment(sl, &e);
    ck_assert_uint_eq(items_of(sl, 2, 0, it, &c, &pg), 3);
    ck_assert_uint_eq(items_of(sl, 1, 0, it, &c, &pg), 4);
    seglog_free(sl);
}
END_TEST

START_TEST(test_seglog_keeps_the_last_items_and_the_newest_ladders)
{
    struct seglog *sl = seglog_new(4, 8);
    struct ts_seg_item it[64];
    struct ts_seg_conn c;
    struct ts_stat_page pg;
    struct ts_trace_event t = chg(1, 7000, TS_TCP_CLOSE, TS_TCP_SYN_SENT, "app connect", 1);
    seglog_trace(sl, &t, 1);
    for (uint32_t i = 0; i < 20; i++) {
        struct ts_segment_event e = seg(i % 2, 7000, TS_SEG_ACK, i, i, 2 + i);
        seglog_segment(sl, &e);
    }
    /* 21 items, the last 8 kept: 14..21; 13 lost after since=0. */
    size_t n = items_of(sl, 1, 0, it, &c, &pg);
    ck_assert_uint_eq(n, 8);
    ck_assert_uint_eq(it[0].n, 14);
    ck_assert_uint_eq(pg.first, 14);
    ck_assert_uint_eq(pg.last, 21);
    ck_assert_uint_eq(pg.lost, 13);
    ck_assert_uint_eq(pg.next, 21);
    n = items_of(sl, 1, 19, it, &c, &pg);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(pg.lost, 0);
    n = items_of(sl, 1, 5000, it, &c, &pg);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(pg.next, 21);
    /* Four more connections: the first one's ladder makes room for them. */
    for (uint16_t k = 0; k < 4; k++) {
        t = chg(10 + k, 7100 + k, TS_TCP_CLOSE, TS_TCP_SYN_SENT, "app connect", 50);
        seglog_trace(sl, &t, 2 + k);
    }
    size_t m;
    ck_assert(!seglog_items_since(sl, 1, 0, it, 64, &m, &c, &pg));
    struct ts_seg_conn cs[8];
    ck_assert_uint_eq(seglog_conns(sl, cs, 8), 4);
    ck_assert_uint_eq(cs[0].conn_id, 13); /* newest first */
    ck_assert_uint_eq(cs[3].conn_id, 10);
    /* The evicted ladder's 4-tuple leads nowhere: its segments are not recorded. */
    struct ts_segment_event e = seg(false, 7000, TS_SEG_ACK, 1, 1, 60);
    seglog_segment(sl, &e);
    for (int k = 0; k < 4; k++) {
        ck_assert(seglog_items_since(sl, cs[k].conn_id, 0, it, 64, &m, &c, &pg));
        ck_assert_uint_eq(m, 1);
    }
    /* Listeners get no ladder. */
    t = (struct ts_trace_event){.laddr = IP_US,
                                .lport = 80,
                                .from = TS_TCP_CLOSE,
                                .to = TS_TCP_LISTEN,
                                .cause = "app listen",
                                .conn_id = 99};
    seglog_trace(sl, &t, 9);
    ck_assert(!seglog_items_since(sl, 99, 0, it, 64, &m, &c, &pg));
    seglog_free(sl);
}
END_TEST

/* The "instance" of an answer ("" if it has none). */
static void instance_of(const char *s, char out[64])
{
    out[0] = 0;
    const char *p = strstr(s, "\"instance\":\"");
    if (p)
        sscanf(p + 12, "%63[^\"]", out);
}

START_TEST(test_every_answer_names_the_instance_and_another_server_is_another)
{
    int cli, srv;
    rt_tcp_pair(A, B, 8085, &cli, &srv);
    char first[64], got[64], q[64];
    char *s = get_ok("/api/states", NULL, -1);
    instance_of(s, first);
    free(s);
    /* pid-milliseconds-random */
    unsigned long pid;
    unsigned long long ms;
    unsigned rnd;
    ck_assert_msg(sscanf(first, "%lu-%llu-%8x", &pid, &ms, &rnd) == 3, "instance '%s'", first);
    ck_assert_uint_eq(pid, (unsigned long)getpid());
    s = get_ok("/api/connections", NULL, srv);
    long long id = num(s, "self");
    instance_of(s, got);
    ck_assert_str_eq(got, first);
    free(s);
    snprintf(q, sizeof q, "conn=%lld", id);
    const char *paths[] = {"/api/transitions", "/api/ladders", "/api/segments"};
    for (int i = 0; i < 3; i++) {
        s = get_ok(paths[i], i == 2 ? q : NULL, -1);
        instance_of(s, got);
        ck_assert_msg(strcmp(got, first) == 0, "%s: instance '%s', want '%s'", paths[i], got,
                      first);
        free(s);
    }
    /* The page's state for another server (here: another tcpviz, at once) is another. */
    struct tcpviz *other = tcpviz_new(B);
    struct tcpviz_reply r;
    tcpviz_get(other, "/api/states", NULL, -1, &r);
    char *o = strndup(r.body, r.len);
    tcpviz_reply_free(&r);
    instance_of(o, got);
    ck_assert_msg(got[0] && strcmp(got, first) != 0, "two servers, one instance '%s'", got);
    free(o);
    tcpviz_free(other);
    /* An error answers with the error alone. */
    int st;
    s = get("/api/segments", "conn=999999", -1, &st);
    ck_assert_int_eq(st, 404);
    ck_assert_ptr_null(strstr(s, "instance"));
    free(s);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_describe_names_program_and_title_escaped)
{
    char *s = get_ok("/api/states", NULL, -1);
    ck_assert_msg(strstr(s, "\"program\":\"\",\"title\":\"\""), "undescribed: %s", s);
    ck_assert_int_gt(num(s, "started_ms"), 1600000000000LL); /* a wall-clock time, in ms */
    free(s);
    tcpviz_describe(V, "tapstack-sock", "tour step 2: \"the host\" connects\\\n\x01");
    s = get_ok("/api/states", NULL, -1); /* get() checked that it is valid JSON */
    ck_assert_msg(strstr(s,
                         "\"program\":\"tapstack-sock\",\"title\":\"tour step 2: \\\"the host\\\" "
                         "connects\\\\\\n\\u0001\""),
                  "%s", s);
    free(s);
    char longer[300];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    tcpviz_describe(V, NULL, longer);
    s = get_ok("/api/states", NULL, -1);
    char want[160] = "\"program\":\"\",\"title\":\"";
    memset(want + strlen(want), 'x', 127); /* at most 127 bytes kept */
    strcat(want, "\"");
    ck_assert_msg(strstr(s, want), "%s", s);
    free(s);
}
END_TEST

START_TEST(test_record_now_gives_ladders_to_connections_before_any_request)
{
    ck_assert(!ts_runtime_recording_segments(B));
    ck_assert_int_eq(tcpviz_record_now(V), 0);
    ck_assert(ts_runtime_recording_segments(B));
    int cli, srv;
    rt_tcp_pair(A, B, 8086, &cli, &srv);
    /* The page asks only now; the connection's ladder has its handshake from the SYN. */
    char *s = get_ok("/api/connections", NULL, srv);
    long long id = num(s, "self");
    ck_assert_ptr_nonnull(strstr(s, "\"recording\":true"));
    free(s);
    char q[64];
    snprintf(q, sizeof q, "conn=%lld", id);
    s = get_ok("/api/segments", q, -1);
    ck_assert_msg(strstr(s, "{\"n\":1,\"kind\":\"segment\",\"dir\":\"in\""), "%s", s);
    ck_assert_msg(strstr(s, "\"state\":\"LISTEN\",\"flags\":\"SYN\",\"seq\":0,"), "%s", s);
    free(s);
    ts_close(cli);
    ts_close(srv);
}
END_TEST

START_TEST(test_segment_causes_are_told_from_others)
{
    ck_assert(seglog_cause_is_segment("rcvd SYN"));
    ck_assert(seglog_cause_is_segment("rcvd FIN and ACK of FIN"));
    ck_assert(seglog_cause_is_segment("new SYN in TIME_WAIT (RFC 6191)"));
    ck_assert(!seglog_cause_is_segment("rcvd ICMP unreachable"));
    ck_assert(!seglog_cause_is_segment("app close"));
    ck_assert(!seglog_cause_is_segment("2MSL timer expired"));
    ck_assert(!seglog_cause_is_segment(NULL));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tcpviz");
    TCase *e = tcase_create("endpoints");
    tcase_add_checked_fixture(e, setup, teardown);
    tcase_set_timeout(e, 60);
    tcase_add_test(e, test_states_names_all_eleven_with_rfc_names_and_explanations);
    tcase_add_test(e, test_connections_with_none_counts_zero_and_lists_nothing);
    tcase_add_test(e, test_connections_mark_the_asker_and_show_stat_internals);
    tcase_add_test(e, test_many_connections_are_counted_capped_per_state_and_paged);
    tcase_add_test(e, test_transitions_page_with_since_and_count_moves_since_startup);
    tcase_add_test(e, test_segments_ladder_shows_the_handshake_with_what_each_segment_caused);
    tcase_add_test(e, test_unknown_ids_endpoints_and_bad_queries_get_one_json_error);
    tcase_add_test(e, test_page_and_its_files_are_served_from_the_binary);
    tcase_add_test(e, test_every_answer_names_the_instance_and_another_server_is_another);
    tcase_add_test(e, test_describe_names_program_and_title_escaped);
    tcase_add_test(e, test_record_now_gives_ladders_to_connections_before_any_request);
    suite_add_tcase(s, e);
    TCase *l = tcase_create("ladders");
    tcase_add_test(l, test_seglog_child_begins_with_the_syn_that_made_it);
    tcase_add_test(l, test_seglog_new_syn_in_time_wait_starts_the_next_ladder);
    tcase_add_test(l, test_seglog_keeps_the_last_items_and_the_newest_ladders);
    tcase_add_test(l, test_segment_causes_are_told_from_others);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
