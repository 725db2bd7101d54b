/* What stat tools print (include/tapstack/stat.h) and what the runtime records for them
 * (socket/record.h): netstat's layout and filters, the internals line, the trace line with its
 * duration, JSON that is valid and escaped, the event ring's `since` paging, and the history of
 * ended connections with their paths. No stack: rows and events are made by hand. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../socket/record.h"
#include "json_check.h"
#include "tapstack/counters.h"
#include "tapstack/stat.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define US(s)          ((ts_time_t)((s)*1e6))

static struct ts_tcp_info tcp_row(enum ts_tcp_state st, uint16_t lport, uint32_t raddr,
                                  uint16_t rport)
{
    struct ts_tcp_info t = {.id = lport + rport,
                            .state = st,
                            .laddr = IP(10, 0, 0, 2),
                            .lport = lport,
                            .raddr = raddr,
                            .rport = rport,
                            .timer_name = "-",
                            .ssthresh = UINT32_MAX / 2};
    return t;
}

/* The rows of a small stack: a listener with 2 waiting of 128, an established connection with
 * queued bytes, one in TIME_WAIT counting down, an unconnected and a connected UDP socket. */
static struct ts_tcp_info tcp[3];
static struct ts_udp_info udp[2];
static struct ts_stat_sockets sample(void)
{
    tcp[0] = tcp_row(TS_TCP_ESTABLISHED, 80, IP(10, 0, 0, 1), 40000);
    tcp[0].recv_queued = 17;
    tcp[0].send_queued = 4096;
    tcp[0].rto = 204000;
    tcp[0].srtt = 1234;
    tcp[0].cwnd = 14480;
    tcp[0].timer_name = "retransmit";
    tcp[0].timer = 150000;
    tcp[1] = tcp_row(TS_TCP_LISTEN, 80, 0, 0);
    tcp[1].accept_queued = 2;
    tcp[1].backlog = 128;
    tcp[1].syn_queued = 1;
    tcp[2] = tcp_row(TS_TCP_TIME_WAIT, 80, IP(10, 0, 0, 1), 40001);
    tcp[2].timer_name = "time-wait";
    tcp[2].timer = US(59.5);
    tcp[2].state_age = US(0.5);
    udp[0] = (struct ts_udp_info){.laddr = 0, .lport = 7, .recv_queued = 5, .recv_dgrams = 1};
    udp[1] = (struct ts_udp_info){
        .laddr = IP(10, 0, 0, 2), .lport = 5000, .raddr = IP(10, 0, 0, 1), .rport = 53};
    return (struct ts_stat_sockets){.now = US(100), .tcp = tcp, .ntcp = 3, .udp = udp, .nudp = 2};
}

static char *fmt(unsigned flags)
{
    struct ts_stat_sockets s = sample();
    struct ts_sbuf b = {0};
    ts_stat_fmt_sockets(&b, &s, flags);
    ck_assert(!b.oom);
    return b.p;
}

START_TEST(test_sockets_netstat_layout_all)
{
    char *t = fmt(TS_STAT_LISTEN | TS_STAT_CONNS);
    const char *want =
        "Active Internet connections (servers and established)\n"
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
        "tcp        2    128 10.0.0.2:80             0.0.0.0:*               LISTEN\n"
        "tcp       17   4096 10.0.0.2:80             10.0.0.1:40000          ESTABLISHED\n"
        "tcp        0      0 10.0.0.2:80             10.0.0.1:40001          TIME_WAIT\n"
        "udp        5      0 0.0.0.0:7               0.0.0.0:*\n"
        "udp        0      0 10.0.0.2:5000           10.0.0.1:53             ESTABLISHED\n";
    ck_assert_str_eq(t, want);
    free(t);
}
END_TEST

START_TEST(test_sockets_default_hides_listeners_like_netstat)
{
    char *t = fmt(0);
    ck_assert_ptr_nonnull(strstr(t, "(w/o servers)"));
    ck_assert_ptr_null(strstr(t, "LISTEN"));
    ck_assert_ptr_null(strstr(t, ":7 ")); /* unconnected UDP counts as a server */
    ck_assert_ptr_nonnull(strstr(t, "ESTABLISHED"));
    ck_assert_ptr_nonnull(strstr(t, "TIME_WAIT"));
    free(t);
}
END_TEST

START_TEST(test_sockets_listen_only_and_protocol_filters)
{
    char *t = fmt(TS_STAT_LISTEN | TS_STAT_TCP);
    ck_assert_ptr_nonnull(strstr(t, "(only servers)"));
    ck_assert_ptr_nonnull(strstr(t, "LISTEN"));
    ck_assert_ptr_null(strstr(t, "ESTABLISHED"));
    ck_assert_ptr_null(strstr(t, "udp"));
    free(t);
    t = fmt(TS_STAT_UDP | TS_STAT_LISTEN | TS_STAT_CONNS);
    ck_assert_ptr_null(strstr(t, "tcp "));
    ck_assert_ptr_nonnull(strstr(t, "udp        5"));
    ck_assert_ptr_nonnull(strstr(t, "10.0.0.1:53"));
    free(t);
}
END_TEST

START_TEST(test_sockets_info_shows_timer_countdown_and_internals)
{
    char *t = fmt(TS_STAT_LISTEN | TS_STAT_CONNS | TS_STAT_INFO);
    ck_assert_ptr_nonnull(strstr(t, "accept_queue:2/128 syn_queue:1"));
    ck_assert_ptr_nonnull(strstr(t, "timer:(time-wait,59.500s)"));
    ck_assert_ptr_nonnull(strstr(t, "timer:(retransmit,0.150s)"));
    ck_assert_ptr_nonnull(strstr(t, "rto:204.000ms srtt:1.234ms"));
    ck_assert_ptr_nonnull(strstr(t, "cwnd:14480 ssthresh:-"));
    ck_assert_ptr_nonnull(strstr(t, "age:0.500s"));
    ck_assert_ptr_nonnull(strstr(t, "snd.una:0 snd.nxt:0"));
    free(t);
}
END_TEST

/* Like ss -i: the congestion control's name, and BBR's model (bandwidth, min RTT, state). */
START_TEST(test_info_and_json_show_the_congestion_control_and_bbrs_model)
{
    struct ts_stat_sockets s = sample();
    tcp[0].cc = "bbr";
    tcp[0].bbr_bw = 400000000; /* bytes/s: 3.2 Gbit/s */
    tcp[0].bbr_min_rtt = 13;
    tcp[0].bbr_mode = "PROBE_BW";
    struct ts_sbuf b = {0};
    ts_stat_fmt_sockets(&b, &s, TS_STAT_CONNS | TS_STAT_INFO);
    ck_assert_ptr_nonnull(strstr(b.p, "mss:0 bbr bbr:(bw:3.2Gbit/s,mrtt:0.013ms,PROBE_BW)\n"));
    ts_sbuf_free(&b);
    ts_stat_fmt_sockets_json(&b, &s, TS_STAT_CONNS);
    ck_assert_msg(json_valid(b.p, b.len), "invalid JSON: %s", b.p);
    ck_assert_ptr_nonnull(strstr(b.p, "\"cc\":\"bbr\",\"bbr\":{\"bw_bytes_per_s\":400000000,"
                                      "\"min_rtt_us\":13,\"mode\":\"PROBE_BW\"}"));
    ts_sbuf_free(&b);
    /* A row without a congestion control (a TIME_WAIT record) names none. */
    tcp[0].cc = tcp[0].bbr_mode = NULL;
    ts_stat_fmt_sockets(&b, &s, TS_STAT_CONNS | TS_STAT_INFO);
    ck_assert_ptr_null(strstr(b.p, "bbr"));
    ts_sbuf_free(&b);
}
END_TEST

START_TEST(test_sockets_json_is_valid_with_stable_keys)
{
    struct ts_stat_sockets s = sample();
    struct ts_sbuf b = {0};
    ts_stat_fmt_sockets_json(&b, &s, TS_STAT_LISTEN | TS_STAT_CONNS);
    ck_assert_msg(json_valid(b.p, b.len), "invalid JSON: %s", b.p);
    ck_assert_ptr_nonnull(strstr(b.p, "{\"kind\":\"sockets\",\"now_us\":100000000,"));
    ck_assert_ptr_nonnull(strstr(b.p, "\"state\":\"TIME_WAIT\",\"state_rfc\":\"TIME-WAIT\""));
    ck_assert_ptr_nonnull(strstr(b.p, "\"timer\":\"time-wait\",\"timer_us\":59500000"));
    ck_assert_ptr_nonnull(strstr(b.p, "\"recv_q\":2,\"send_q\":128")); /* the listener */
    ck_assert_ptr_nonnull(strstr(b.p, "\"remote\":\"0.0.0.0:*\""));
    ck_assert_ptr_nonnull(strstr(b.p, "\"proto\":\"udp\",\"state\":\"\""));
    const char *keys[] = {
        "id",         "state_age_us",   "rto_us",      "srtt_us",       "rttvar_us", "cwnd",
        "ssthresh",   "snd_una",        "snd_nxt",     "snd_wnd",       "rcv_nxt",   "rcv_wnd",
        "bytes_sent", "bytes_received", "retransmits", "accept_queued", "backlog",   "datagrams"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char k[40];
        snprintf(k, sizeof k, "\"%s\":", keys[i]);
        ck_assert_msg(strstr(b.p, k), "no key %s", keys[i]);
    }
    ts_sbuf_free(&b);

    /* No sockets at all: still one valid document. */
    struct ts_stat_sockets none = {.now = 1};
    ts_stat_fmt_sockets_json(&b, &none, 0);
    ck_assert_str_eq(b.p, "{\"kind\":\"sockets\",\"now_us\":1,\"truncated\":false,\"offset\":0,"
                          "\"total_tcp\":0,\"next_offset\":null,\"tcp\":[],\"udp\":[]}");
    ts_sbuf_free(&b);
}
END_TEST

START_TEST(test_json_strings_are_escaped)
{
    struct ts_sbuf b = {0};
    ts_sbuf_json_str(&b, "a\"b\\c\nd\x01\x7f\xff/");
    ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\nd\\u0001\\u007f\\u00ff/\"");
    ck_assert(json_valid(b.p, b.len));
    ts_sbuf_free(&b);
    ts_sbuf_json_str(&b, NULL);
    ck_assert_str_eq(b.p, "\"\"");
    ts_sbuf_free(&b);
}
END_TEST

START_TEST(test_json_checker_rejects_bad_documents)
{
    /* The validator the other tests lean on must be able to say no. */
    const char *bad[] = {"{", "{\"a\":}", "[1,]", "\"a\nb\"", "{\"a\":1}x", "01", "{'a':1}", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!json_valid(bad[i], strlen(bad[i])), "accepted: %s", bad[i]);
    const char *good = "{\"a\":[1,-2.5e3,true,null,\"\\u00ff\"],\"b\":{}}";
    ck_assert(json_valid(good, strlen(good)));
}
END_TEST

static struct ts_trace_event ev_of(uint64_t id, enum ts_tcp_state from, enum ts_tcp_state to,
                                   ts_time_t t, ts_time_t in_from, const char *cause)
{
    return (struct ts_trace_event){.time = t,
                                   .laddr = IP(10, 0, 0, 2),
                                   .raddr = IP(10, 0, 0, 1),
                                   .lport = 80,
                                   .rport = (uint16_t)(40000 + id),
                                   .from = from,
                                   .to = to,
                                   .cause = cause,
                                   .conn_id = id,
                                   .in_from = in_from};
}

START_TEST(test_trace_line_has_tuple_states_cause_and_time_in_old_state)
{
    struct ts_trace_event ev =
        ev_of(1, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, 12345678, 412, "rcvd ACK of SYN");
    char line[200];
    size_t n = ts_stat_trace_line(&ev, line, sizeof line);
    ck_assert_str_eq(line, "12.345678 10.0.0.2:80 > 10.0.0.1:40001 SYN_RECV -> ESTABLISHED "
                           "(rcvd ACK of SYN) after 0.412 ms");
    ck_assert_uint_eq(n, strlen(line));
    /* Truncation reports the length needed, like snprintf. */
    char small[10];
    ck_assert_uint_eq(ts_stat_trace_line(&ev, small, sizeof small), n);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);

    struct ts_sbuf b = {0};
    ev = ev_of(1, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, US(72.5), US(60), "2MSL timer expired");
    ts_stat_fmt_event(&b, &ev, true);
    ck_assert_ptr_nonnull(
        strstr(b.p, "TIME_WAIT -> CLOSE (2MSL timer expired) after 60000.000 ms\n"));
    ck_assert_ptr_nonnull(strstr(b.p, "\n    CLOSE: No connection"));
    ts_sbuf_free(&b);

    struct ts_stat_event se = {.seq = 7, .ev = ev};
    se.ev.cause = "odd \"cause\"";
    ts_stat_fmt_event_json(&b, &se, true);
    ck_assert(json_valid(b.p, b.len));
    ck_assert_ptr_nonnull(strstr(b.p, "\"seq\":7,\"time_us\":72500000,\"conn_id\":1,"));
    ck_assert_ptr_nonnull(
        strstr(b.p, "\"from\":\"TIME_WAIT\",\"to\":\"CLOSE\",\"in_from_us\":60000000"));
    ck_assert_ptr_nonnull(strstr(b.p, "\"cause\":\"odd \\\"cause\\\"\""));
    ck_assert_ptr_nonnull(strstr(b.p, "\"explain\":\"No connection"));
    ts_sbuf_free(&b);
}
END_TEST

START_TEST(test_counters_text_and_json)
{
    uint64_t v[TS_C_COUNT] = {0};
    v[TS_C_TCP_RX] = 42;
    struct ts_sbuf b = {0};
    ts_stat_fmt_counters(&b, v, false);
    ck_assert_ptr_nonnull(strstr(b.p, "tcp_rx"));
    ck_assert_ptr_null(strstr(b.p, "eth_rx")); /* zero: left out */
    ts_sbuf_free(&b);
    ts_stat_fmt_counters(&b, v, true);
    ck_assert_ptr_nonnull(strstr(b.p, "eth_rx"));
    ts_sbuf_free(&b);
    ts_stat_fmt_counters_json(&b, v);
    ck_assert(json_valid(b.p, b.len));
    ck_assert_ptr_nonnull(strstr(b.p, "\"tcp_rx\":42"));
    for (int c = 0; c < TS_C_COUNT; c++) {
        char k[64];
        snprintf(k, sizeof k, "\"%s\":", ts_counter_name((enum ts_counter)c));
        ck_assert_msg(strstr(b.p, k), "counter %s missing", k);
    }
    ts_sbuf_free(&b);
}
END_TEST

/* ---- the recorder ---- */

static void add(struct rec *r, uint64_t id, enum ts_tcp_state from, enum ts_tcp_state to,
                ts_time_t t, const char *cause)
{
    struct ts_trace_event ev = ev_of(id, from, to, t, 0, cause);
    rec_event(r, &ev);
}

START_TEST(test_ring_since_pages_in_order_and_counts_lost)
{
    struct rec r;
    ck_assert_int_eq(rec_init(&r, 8, 4, 16), 0);
    struct ts_stat_event out[16];
    struct ts_stat_page pg;
    ck_assert_uint_eq(rec_events_since(&r, 0, out, 16, &pg), 0);
    ck_assert_uint_eq(pg.last, 0);
    ck_assert_uint_eq(pg.next, 0);
    for (int i = 1; i <= 5; i++)
        add(&r, (uint64_t)i, TS_TCP_CLOSE, TS_TCP_SYN_SENT, i, "app connect");
    ck_assert_uint_eq(rec_events_since(&r, 0, out, 16, &pg), 5);
    ck_assert_uint_eq(out[0].seq, 1);
    ck_assert_uint_eq(out[4].seq, 5);
    ck_assert_uint_eq(pg.next, 5);
    ck_assert_uint_eq(pg.lost, 0);
    /* since=3: 4 and 5; max=1: one page at a time. */
    ck_assert_uint_eq(rec_events_since(&r, 3, out, 16, &pg), 2);
    ck_assert_uint_eq(out[0].seq, 4);
    ck_assert_uint_eq(rec_events_since(&r, 3, out, 1, &pg), 1);
    ck_assert_uint_eq(pg.next, 4);
    ck_assert_uint_eq(rec_events_since(&r, pg.next, out, 1, &pg), 1);
    ck_assert_uint_eq(out[0].seq, 5);
    ck_assert_uint_eq(rec_events_since(&r, pg.next, out, 1, &pg), 0);
    ck_assert_uint_eq(pg.next, 5);
    /* 20 events in a ring of 8: the oldest 12 are gone and a reader at 0 is told so. */
    for (int i = 6; i <= 20; i++)
        add(&r, (uint64_t)i, TS_TCP_CLOSE, TS_TCP_SYN_SENT, i, "app connect");
    ck_assert_uint_eq(rec_events_since(&r, 0, out, 16, &pg), 8);
    ck_assert_uint_eq(pg.first, 13);
    ck_assert_uint_eq(pg.last, 20);
    ck_assert_uint_eq(pg.lost, 12);
    ck_assert_uint_eq(out[0].seq, 13);
    ck_assert_uint_eq(out[0].ev.conn_id, 13);
    ck_assert_uint_eq(out[7].seq, 20);
    /* A number from the future (a reader of an earlier run): nothing, and where "now" is. */
    ck_assert_uint_eq(rec_events_since(&r, 1000000, out, 16, &pg), 0);
    ck_assert_uint_eq(pg.next, 20);
    rec_free(&r);
}
END_TEST

START_TEST(test_history_keeps_whole_path_with_durations_and_causes)
{
    struct rec r;
    ck_assert_int_eq(rec_init(&r, 64, 4, 16), 0);
    /* Two connections interleaved: an active close (1) and a passive one (2). */
    add(&r, 1, TS_TCP_CLOSE, TS_TCP_SYN_SENT, US(1.0), "app connect");
    add(&r, 2, TS_TCP_LISTEN, TS_TCP_SYN_RECV, US(1.1), "rcvd SYN");
    add(&r, 1, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED, US(1.2), "rcvd SYN-ACK");
    add(&r, 2, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED, US(1.3), "rcvd ACK of SYN");
    add(&r, 1, TS_TCP_ESTABLISHED, TS_TCP_FIN_WAIT1, US(2.0), "app close");
    add(&r, 1, TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, US(2.1), "rcvd ACK of FIN");
    add(&r, 1, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT, US(2.2), "rcvd FIN");
    struct ts_stat_conn live;
    ck_assert(rec_live_path(&r, 1, &live));
    ck_assert_uint_eq(live.nsteps, 5);
    ck_assert(!rec_live_path(&r, 99, &live));
    add(&r, 1, TS_TCP_TIME_WAIT, TS_TCP_CLOSE, US(62.2), "2MSL timer expired");

    struct ts_stat_conn h[4];
    struct ts_stat_page pg;
    ck_assert_uint_eq(rec_history_since(&r, 0, h, 4, &pg), 1);
    ck_assert(!rec_live_path(&r, 1, &live)); /* ended: no longer live */
    ck_assert_uint_eq(h[0].conn_id, 1);
    ck_assert_uint_eq(h[0].ended_seq, 1);
    ck_assert_uint_eq(h[0].nsteps, 6);
    ck_assert_int_eq(h[0].steps[0].from, TS_TCP_CLOSE);
    ck_assert_int_eq(h[0].steps[5].to, TS_TCP_CLOSE);
    ck_assert_str_eq(h[0].steps[5].cause, "2MSL timer expired");
    ck_assert_int_eq(h[0].start, US(1.0));
    ck_assert_int_eq(h[0].end, US(62.2));

    struct ts_sbuf b = {0};
    ts_stat_fmt_history(&b, h, 1, US(63.2));
    ck_assert_ptr_nonnull(strstr(b.p, "conn 1  10.0.0.2:80 > 10.0.0.1:40001  lived 61.200s, ended "
                                      "1.000s ago\n"));
    ck_assert_ptr_nonnull(strstr(b.p, "    2.200000 FIN_WAIT2 -> TIME_WAIT (rcvd FIN)"));
    ts_sbuf_free(&b);
    ts_stat_fmt_history_json(&b, h, 1, &pg, US(63.2));
    ck_assert_msg(json_valid(b.p, b.len), "invalid: %s", b.p);
    ck_assert_ptr_nonnull(strstr(b.p, "\"kind\":\"history\",\"first\":1,\"last\":1,\"lost\":0"));
    ck_assert_ptr_nonnull(strstr(b.p,
                                 "{\"time_us\":62200000,\"from\":\"TIME_WAIT\",\"to\":"
                                 "\"CLOSE\",\"in_from_us\":0,\"cause\":\"2MSL timer expired\"}"));
    ts_sbuf_free(&b);

    /* The second ends; then three more: a history of 4 keeps the newest 4. */
    add(&r, 2, TS_TCP_ESTABLISHED, TS_TCP_CLOSE, US(70), "rcvd RST");
    for (uint64_t id = 3; id <= 5; id++) {
        add(&r, id, TS_TCP_CLOSE, TS_TCP_SYN_SENT, US(80), "app connect");
        add(&r, id, TS_TCP_SYN_SENT, TS_TCP_CLOSE, US(81), "rcvd RST");
    }
    ck_assert_uint_eq(rec_history_since(&r, 0, h, 4, &pg), 4);
    ck_assert_uint_eq(h[0].conn_id, 2);
    ck_assert_uint_eq(h[0].nsteps, 3);
    ck_assert_uint_eq(h[3].conn_id, 5);
    ck_assert_uint_eq(pg.lost, 1);
    /* The newest 2 when asked for 2; since pages past what was seen. */
    ck_assert_uint_eq(rec_history_since(&r, 0, h, 2, &pg), 2);
    ck_assert_uint_eq(h[0].conn_id, 4);
    ck_assert_uint_eq(rec_history_since(&r, 4, h, 4, &pg), 1);
    ck_assert_uint_eq(h[0].conn_id, 5);
    rec_free(&r);
}
END_TEST

START_TEST(test_history_long_path_keeps_start_and_end)
{
    struct rec r;
    ck_assert_int_eq(rec_init(&r, 64, 4, 4), 0);
    add(&r, 1, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 1, "app connect");
    for (int i = 0; i < 20; i++) /* more steps than a path keeps */
        add(&r, 1, i % 2 ? TS_TCP_SYN_RECV : TS_TCP_SYN_SENT,
            i % 2 ? TS_TCP_SYN_SENT : TS_TCP_SYN_RECV, 2 + i, "flip");
    add(&r, 1, TS_TCP_SYN_SENT, TS_TCP_CLOSE, 100, "retransmission limit");
    struct ts_stat_conn h;
    struct ts_stat_page pg;
    ck_assert_uint_eq(rec_history_since(&r, 0, &h, 1, &pg), 1);
    ck_assert(h.truncated);
    ck_assert_uint_eq(h.nsteps, TS_STAT_PATH_MAX);
    ck_assert_str_eq(h.steps[0].cause, "app connect");
    ck_assert_str_eq(h.steps[TS_STAT_PATH_MAX - 1].cause, "retransmission limit");
    rec_free(&r);
}
END_TEST

START_TEST(test_many_live_connections_close_in_any_order)
{
    /* 1000 live paths in a pool of 1000, closed in a scrambled order: every lookup still finds
     * its own path (the index's deletions keep probe runs whole), and slots are reused. */
    enum { N = 1000 };
    struct rec r;
    ck_assert_int_eq(rec_init(&r, 16, 8, N), 0);
    for (uint64_t id = 1; id <= N; id++)
        add(&r, id, TS_TCP_CLOSE, TS_TCP_SYN_SENT, (ts_time_t)id, "app connect");
    ck_assert_uint_eq(r.untracked, 0);
    /* The pool is full: one more is counted, not recorded. */
    add(&r, N + 1, TS_TCP_CLOSE, TS_TCP_SYN_SENT, 1, "app connect");
    ck_assert_uint_eq(r.untracked, 1);
    for (uint64_t k = 0; k < N; k++) {
        uint64_t id = (k * 7919) % N + 1; /* 7919 is prime: a permutation of 1..N */
        add(&r, id, TS_TCP_SYN_SENT, TS_TCP_CLOSE, (ts_time_t)(N + k), "rcvd RST");
        struct ts_stat_conn c;
        ck_assert(!rec_live_path(&r, id, &c));
        uint64_t other = (id % N) + 1; /* some other id: found exactly while still live */
        bool live = false;
        for (uint64_t j = k + 1; j < N; j++)
            if ((j * 7919) % N + 1 == other)
                live = true;
        ck_assert_int_eq(rec_live_path(&r, other, &c), live);
        if (live)
            ck_assert_uint_eq(c.conn_id, other);
    }
    ck_assert_uint_eq(r.nfree, N);
    ck_assert_uint_eq(r.ended, N);
    /* Reused slots start clean. */
    add(&r, 5000, TS_TCP_CLOSE, TS_TCP_LISTEN, 1, "app listen");
    struct ts_stat_conn c;
    ck_assert(rec_live_path(&r, 5000, &c));
    ck_assert_uint_eq(c.nsteps, 1);
    ck_assert(!c.truncated);
    rec_free(&r);
}
END_TEST

START_TEST(test_crowded_index_finds_every_live_path)
{
    /* A pool of 6 (an index of 16 buckets) under 20000 random opens and closes with ids that
     * collide often: after every step each live id is found, and no ended one. */
    enum { POOL = 6, IDS = 64 };
    struct rec r;
    ck_assert_int_eq(rec_init(&r, 16, 8, POOL), 0);
    bool live[IDS + 1] = {false};
    unsigned nlive = 0;
    uint64_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t id = (x >> 33) % IDS + 1;
        if (live[id]) {
            add(&r, id, TS_TCP_ESTABLISHED, TS_TCP_CLOSE, step, "rcvd RST");
            live[id] = false;
            nlive--;
        } else if (nlive < POOL) {
            add(&r, id, TS_TCP_CLOSE, TS_TCP_ESTABLISHED, step, "app connect");
            live[id] = true;
            nlive++;
        }
        for (uint64_t k = 1; k <= IDS; k++) {
            struct ts_stat_conn c;
            bool found = rec_live_path(&r, k, &c);
            ck_assert_msg(found == live[k], "step %d: id %llu found %d, live %d", step,
                          (unsigned long long)k, found, live[k]);
            if (found)
                ck_assert_uint_eq(c.conn_id, k);
        }
    }
    ck_assert_uint_eq(r.untracked, 0);
    rec_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stat");
    TCase *f = tcase_create("format");
    tcase_add_test(f, test_sockets_netstat_layout_all);
    tcase_add_test(f, test_sockets_default_hides_listeners_like_netstat);
    tcase_add_test(f, test_sockets_listen_only_and_protocol_filters);
    tcase_add_test(f, test_sockets_info_shows_timer_countdown_and_internals);
    tcase_add_test(f, test_info_and_json_show_the_congestion_control_and_bbrs_model);
    tcase_add_test(f, test_sockets_json_is_valid_with_stable_keys);
    tcase_add_test(f, test_json_strings_are_escaped);
    tcase_add_test(f, test_json_checker_rejects_bad_documents);
    tcase_add_test(f, test_trace_line_has_tuple_states_cause_and_time_in_old_state);
    tcase_add_test(f, test_counters_text_and_json);
    suite_add_tcase(s, f);
    TCase *r = tcase_create("record");
    tcase_add_test(r, test_ring_since_pages_in_order_and_counts_lost);
    tcase_add_test(r, test_history_keeps_whole_path_with_durations_and_causes);
    tcase_add_test(r, test_history_long_path_keeps_start_and_end);
    tcase_add_test(r, test_many_live_connections_close_in_any_order);
    tcase_add_test(r, test_crowded_index_finds_every_live_path);
    suite_add_tcase(s, r);
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
