/* Smoke tests of the TCP engine on the harness: handshake, 1 MB both ways, closes, RST. The
 * comprehensive matrix lives in the other test_tcp_*.c suites. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "siphash.h"
#include "tapstack/tcp.h"
#include "tcp_fixture.h"

#define MAXEV 64
struct trace_log {
    struct ts_trace_event ev[MAXEV];
    int n;
};

static void trace_cb(void *arg, const struct ts_trace_event *ev)
{
    struct trace_log *t = arg;
    if (t->n < MAXEV)
        t->ev[t->n++] = *ev;
}

/* The states conn (lport, rport) passed through, in order, as "FROM>TO" pairs. */
static int states_of(const struct trace_log *t, uint16_t lport, uint16_t rport,
                     enum ts_tcp_state *out, int max)
{
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        if (t->ev[i].lport != lport || t->ev[i].rport != rport)
            continue;
        if (k == 0 && k < max)
            out[k++] = t->ev[i].from;
        if (k < max)
            out[k++] = t->ev[i].to;
    }
    return k;
}

static void assert_states(const struct trace_log *t, uint16_t lport, uint16_t rport,
                          const enum ts_tcp_state *want, int nwant)
{
    enum ts_tcp_state got[MAXEV];
    int n = states_of(t, lport, rport, got, MAXEV);
    ck_assert_int_eq(n, nwant);
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "state %d: got %s want %s", i, ts_tcp_state_name(got[i]),
                      ts_tcp_state_name(want[i]));
}

struct fixture {
    struct th_net n;
    struct trace_log ta, tb;
    struct ts_tcp_conn *l, *ca, *cb; /* listener on B, client on A, accepted on B */
    uint16_t aport;
};

static bool both_established(void *arg)
{
    struct fixture *f = arg;
    if (!f->cb)
        f->cb = ts_tcp_accept(f->l);
    return f->cb && ts_tcp_state(f->ca) == TS_TCP_ESTABLISHED &&
           ts_tcp_state(f->cb) == TS_TCP_ESTABLISHED;
}

static void connect_pair_ex(struct fixture *f, const struct ts_fault_config *fault)
{
    memset(f, 0, sizeof(*f));
    struct th_net_opts o = {.latency = 1 * TS_MS, .fault_a = fault, .fault_b = fault};
    th_net_init_ex(&f->n, &o);
    ts_stack_set_trace(f->n.a, trace_cb, &f->ta);
    ts_stack_set_trace(f->n.b, trace_cb, &f->tb);
    int err = 0;
    f->l = ts_tcp_listen(f->n.b, 0, 80, 16, NULL, &err, f->n.now);
    ck_assert_ptr_nonnull(f->l);
    f->ca = ts_tcp_connect(f->n.a, 0, 0, TH_IP_B, 80, NULL, &err, f->n.now);
    ck_assert_ptr_nonnull(f->ca);
    ts_tcp_endpoints(f->ca, NULL, &f->aport, NULL, NULL);
    ck_assert(th_run_until_sent(&f->n, both_established, f, 60 * TS_SEC));
}

static void connect_pair(struct fixture *f)
{
    connect_pair_ex(f, NULL);
}

START_TEST(test_handshake_between_two_stacks_reaches_established_on_both)
{
    struct fixture f;
    connect_pair(&f);
    enum ts_tcp_state client[] = {TS_TCP_CLOSE, TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED};
    assert_states(&f.ta, f.aport, 80, client, 3);
    enum ts_tcp_state server[] = {TS_TCP_LISTEN, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED};
    assert_states(&f.tb, 80, f.aport, server, 3);
    struct ts_tcp_info i;
    ts_tcp_get_info(f.ca, &i, f.n.now);
    ck_assert(i.ts_ok && i.sack_ok);
    ck_assert_int_eq(i.snd_wscale, 7);
    ck_assert_int_eq(i.mss_send, 1460 - 12);
    ck_assert_int_eq(i.snd_una, 1);
    ck_assert_int_eq(i.rcv_nxt, 1);
    ck_assert_uint_eq(ts_stack_counter(f.n.a, TS_C_TCP_ACTIVE_OPEN), 1);
    ck_assert_uint_eq(ts_stack_counter(f.n.b, TS_C_TCP_PASSIVE_OPEN), 1);
    ts_tcp_abort(f.ca, f.n.now);
    ts_tcp_abort(f.cb, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_net_free(&f.n);
}
END_TEST

/* The trace says how long each state lasted and which connection it was; the info read-out
 * says how old the state is and, for a listener, its queues (netstat's Recv-Q/Send-Q). */
START_TEST(test_trace_events_carry_the_connection_id_and_time_spent_in_the_old_state)
{
    struct fixture f;
    connect_pair(&f); /* 1 ms one-way latency: SYN_SENT lasts a few ms */
    ck_assert_int_ge(f.ta.n, 2);
    const struct ts_trace_event *syn_sent = &f.ta.ev[0], *est = &f.ta.ev[1];
    ck_assert_int_eq(syn_sent->to, TS_TCP_SYN_SENT);
    ck_assert_int_eq(est->from, TS_TCP_SYN_SENT);
    ck_assert_uint_eq(est->conn_id, syn_sent->conn_id);
    ck_assert_uint_eq(est->in_from, est->time - syn_sent->time);
    ck_assert_uint_gt(est->in_from, 0);
    struct ts_tcp_info ci, li;
    th_run(&f.n, 5 * TS_SEC);
    ts_tcp_get_info(f.ca, &ci, f.n.now);
    ck_assert_uint_eq(ci.id, est->conn_id);
    ck_assert_uint_eq(ci.state_age, f.n.now - est->time);
    ts_tcp_get_info(f.l, &li, f.n.now);
    struct ts_tcp_info bi;
    ts_tcp_get_info(f.cb, &bi, f.n.now);
    ck_assert_uint_gt(bi.id, li.id); /* the child is younger than its listener, on stack B */
    ck_assert_uint_eq(li.backlog, 16);
    ck_assert_uint_eq(li.accept_queued, 0); /* f.cb was accepted */
    ts_tcp_abort(f.ca, f.n.now);
    ts_tcp_abort(f.cb, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_net_free(&f.n);
}
END_TEST

struct xfer {
    struct fixture *f;
    uint8_t *src_a, *src_b, *dst_a, *dst_b;
    size_t len, sent_a, sent_b, got_a, got_b;
};

static void pump_one(struct ts_tcp_conn *c, const uint8_t *src, size_t len, size_t *sent,
                     uint8_t *dst, size_t *got, ts_time_t now)
{
    while (*sent < len) {
        ssize_t r = ts_tcp_send(c, src + *sent, len - *sent, now);
        if (r <= 0)
            break;
        *sent += (size_t)r;
    }
    for (;;) {
        ssize_t r = ts_tcp_recv(c, dst + *got, len - *got, now);
        if (r <= 0)
            break;
        *got += (size_t)r;
    }
}

static bool pump(void *arg)
{
    struct xfer *x = arg;
    ts_time_t now = x->f->n.now;
    pump_one(x->f->ca, x->src_a, x->len, &x->sent_a, x->dst_a, &x->got_a, now);
    pump_one(x->f->cb, x->src_b, x->len, &x->sent_b, x->dst_b, &x->got_b, now);
    return x->got_a == x->len && x->got_b == x->len;
}

static void transfer(struct fixture *f, size_t len, ts_time_t max)
{
    struct xfer x = {.f = f, .len = len};
    x.src_a = malloc(x.len);
    x.src_b = malloc(x.len);
    x.dst_a = malloc(x.len);
    x.dst_b = malloc(x.len);
    uint32_t v = 12345;
    for (size_t i = 0; i < x.len; i++) {
        v = v * 1103515245u + 12345u;
        x.src_a[i] = (uint8_t)(v >> 16);
        x.src_b[i] = (uint8_t)(v >> 8);
    }
    bool ok = th_run_until_sent(&f->n, pump, &x, max);
    if (!ok && getenv("TCP_DEBUG")) {
        static char buf[65536];
        fprintf(stderr, "got_a %zu got_b %zu sent_a %zu sent_b %zu states %s %s now %llu\n",
                x.got_a, x.got_b, x.sent_a, x.sent_b, ts_tcp_state_name(ts_tcp_state(f->ca)),
                ts_tcp_state_name(ts_tcp_state(f->cb)), (unsigned long long)f->n.now);
        ts_stack_counters_format(f->n.a, buf, sizeof buf, false);
        fprintf(stderr, "A:\n%s", buf);
        ts_stack_counters_format(f->n.b, buf, sizeof buf, false);
        fprintf(stderr, "B:\n%s", buf);
        struct ts_tcp_info i;
        ts_tcp_get_info(f->ca, &i, f->n.now);
        fprintf(stderr,
                "A: srtt %llu var %llu una %u nxt %u wnd %u cwnd %u rto %llu timer %s %llu sq %u "
                "rq %u\n",
                (unsigned long long)i.srtt, (unsigned long long)i.rttvar, i.snd_una, i.snd_nxt,
                i.snd_wnd, i.cwnd, (unsigned long long)i.rto, i.timer_name,
                (unsigned long long)i.timer, i.send_queued, i.recv_queued);
        ts_tcp_get_info(f->cb, &i, f->n.now);
        fprintf(stderr,
                "B: srtt %llu var %llu una %u nxt %u wnd %u cwnd %u rto %llu timer %s %llu sq %u "
                "rq %u\n",
                (unsigned long long)i.srtt, (unsigned long long)i.rttvar, i.snd_una, i.snd_nxt,
                i.snd_wnd, i.cwnd, (unsigned long long)i.rto, i.timer_name,
                (unsigned long long)i.timer, i.send_queued, i.recv_queued);
    }
    ck_assert(ok);
    ck_assert(memcmp(x.src_a, x.dst_b, x.len) == 0);
    ck_assert(memcmp(x.src_b, x.dst_a, x.len) == 0);
    free(x.src_a);
    free(x.src_b);
    free(x.dst_a);
    free(x.dst_b);
}

START_TEST(test_one_megabyte_each_way_arrives_byte_identical)
{
    struct fixture f;
    connect_pair(&f);
    size_t len = 1 << 20;
    transfer(&f, len, 60 * TS_SEC);
    /* A clean link: nothing retransmitted, and not absurdly many segments. */
    ck_assert_uint_eq(ts_stack_counter(f.n.a, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_lt(ts_stack_counter(f.n.a, TS_C_TCP_TX), 3 * (len / 1448) + 100);
    ts_tcp_close(f.ca, f.n.now);
    ts_tcp_close(f.cb, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_run(&f.n, 200 * TS_SEC);
    th_net_free(&f.n);
}
END_TEST

START_TEST(test_two_megabytes_each_way_survive_loss_duplication_reordering_corruption)
{
    struct ts_fault_config fc = {
        .in = {.drop = 0.02, .dup = 0.01, .reorder = 0.02, .corrupt = 0.005},
        .out = {.drop = 0.01},
        .seed = 42,
    };
    struct fixture f;
    connect_pair_ex(&f, &fc);
    transfer(&f, 2 << 20, 600 * TS_SEC);
    ck_assert_uint_gt(ts_stack_counter(f.n.a, TS_C_TCP_RETRANSMIT), 0);
    ts_tcp_close(f.ca, f.n.now);
    ts_tcp_close(f.cb, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_run(&f.n, 300 * TS_SEC);
    ck_assert_uint_eq(ts_tcp_table(f.n.a, NULL, 0, f.n.now), 0);
    ck_assert_uint_eq(ts_tcp_table(f.n.b, NULL, 0, f.n.now), 0);
    th_net_free(&f.n);
}
END_TEST

static bool b_in_close_wait(void *arg)
{
    struct fixture *f = arg;
    return ts_tcp_state(f->cb) == TS_TCP_CLOSE_WAIT;
}

START_TEST(test_client_close_goes_fin_wait_to_time_wait_and_server_through_last_ack)
{
    struct fixture f;
    connect_pair(&f);
    ck_assert_int_eq(ts_tcp_send(f.ca, "hello", 5, f.n.now), 5);
    ts_tcp_close(f.ca, f.n.now);
    ck_assert(th_run_until_sent(&f.n, b_in_close_wait, &f, 5 * TS_SEC));
    char buf[16];
    ck_assert(!ts_tcp_read_eof(f.cb)); /* data first */
    ck_assert_int_eq(ts_tcp_recv(f.cb, buf, sizeof(buf), f.n.now), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert(ts_tcp_read_eof(f.cb));
    ck_assert_int_eq(ts_tcp_recv(f.cb, buf, sizeof(buf), f.n.now), 0);
    ts_tcp_close(f.cb, f.n.now);
    th_run(&f.n, 1 * TS_SEC);
    enum ts_tcp_state server[] = {TS_TCP_LISTEN,     TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED,
                                  TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, TS_TCP_CLOSE};
    assert_states(&f.tb, 80, f.aport, server, 6);
    /* The client waits 2*MSL (60 s) in TIME_WAIT, then is gone. */
    enum ts_tcp_state client_tw[] = {TS_TCP_CLOSE,     TS_TCP_SYN_SENT,  TS_TCP_ESTABLISHED,
                                     TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT};
    assert_states(&f.ta, f.aport, 80, client_tw, 6);
    th_run(&f.n, 59 * TS_SEC);
    assert_states(&f.ta, f.aport, 80, client_tw, 6);
    th_run(&f.n, 2 * TS_SEC);
    enum ts_tcp_state client[] = {TS_TCP_CLOSE,     TS_TCP_SYN_SENT,  TS_TCP_ESTABLISHED,
                                  TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT,
                                  TS_TCP_CLOSE};
    assert_states(&f.ta, f.aport, 80, client, 7);
    ck_assert_str_eq(f.ta.ev[f.ta.n - 1].cause, "2MSL timer expired");
    ck_assert_uint_eq(ts_tcp_table(f.n.a, NULL, 0, f.n.now), 0);
    ck_assert_uint_eq(ts_stack_counter(f.n.a, TS_C_TCP_RST_SENT), 0);
    ck_assert_uint_eq(ts_stack_counter(f.n.b, TS_C_TCP_RST_SENT), 0);
    ts_tcp_close(f.l, f.n.now);
    th_net_free(&f.n);
}
END_TEST

static bool a_sees_eof(void *arg)
{
    struct fixture *f = arg;
    return ts_tcp_read_eof(f->ca);
}

START_TEST(test_server_close_first_puts_server_in_time_wait)
{
    struct fixture f;
    connect_pair(&f);
    ts_tcp_close(f.cb, f.n.now);
    ck_assert(th_run_until_sent(&f.n, a_sees_eof, &f, 5 * TS_SEC));
    ck_assert_int_eq(ts_tcp_state(f.ca), TS_TCP_CLOSE_WAIT);
    /* The client's app takes its time: its delayed ACK of the FIN goes alone (FIN_WAIT2). */
    th_run(&f.n, 100 * TS_MS);
    ts_tcp_close(f.ca, f.n.now);
    th_run(&f.n, 1 * TS_SEC);
    enum ts_tcp_state server[] = {TS_TCP_LISTEN,    TS_TCP_SYN_RECV,  TS_TCP_ESTABLISHED,
                                  TS_TCP_FIN_WAIT1, TS_TCP_FIN_WAIT2, TS_TCP_TIME_WAIT};
    assert_states(&f.tb, 80, f.aport, server, 6);
    enum ts_tcp_state client[] = {TS_TCP_CLOSE,      TS_TCP_SYN_SENT, TS_TCP_ESTABLISHED,
                                  TS_TCP_CLOSE_WAIT, TS_TCP_LAST_ACK, TS_TCP_CLOSE};
    assert_states(&f.ta, f.aport, 80, client, 6);
    ts_tcp_close(f.l, f.n.now);
    th_run(&f.n, 61 * TS_SEC);
    ck_assert_uint_eq(ts_tcp_table(f.n.b, NULL, 0, f.n.now), 0);
    th_net_free(&f.n);
}
END_TEST

/* The client's app closes as soon as it reads the end: its FIN carries the ACK of the server's
 * FIN (held by the delayed-ACK timer, as Linux does), so the server goes from FIN_WAIT1 straight
 * to TIME_WAIT and the close takes three segments, not four. */
START_TEST(test_prompt_close_after_peer_fin_sends_one_fin_ack_not_two_segments)
{
    struct fixture f;
    connect_pair(&f);
    uint64_t tx0 = ts_stack_counter(f.n.a, TS_C_TCP_TX);
    ts_tcp_close(f.cb, f.n.now);
    ck_assert(th_run_until_sent(&f.n, a_sees_eof, &f, 5 * TS_SEC));
    ts_tcp_close(f.ca, f.n.now);
    th_run(&f.n, 1 * TS_SEC);
    ck_assert_uint_eq(ts_stack_counter(f.n.a, TS_C_TCP_TX) - tx0, 1); /* FIN|ACK, nothing else */
    enum ts_tcp_state server[] = {TS_TCP_LISTEN, TS_TCP_SYN_RECV, TS_TCP_ESTABLISHED,
                                  TS_TCP_FIN_WAIT1, TS_TCP_TIME_WAIT};
    assert_states(&f.tb, 80, f.aport, server, 5);
    th_net_free(&f.n);
}
END_TEST

START_TEST(test_syn_to_closed_port_gets_rst_with_ack_of_syn_plus_one)
{
    struct th_raw r;
    th_raw_init(&r);
    th_raw_send_tcp(
        &r,
        &(struct tcp_hdr){.sport = 5555, .dport = 81, .seq = 1000, .flags = TCP_SYN, .wnd = 65535});
    struct tcp_hdr h;
    ck_assert(th_raw_recv_tcp(&r, &h));
    ck_assert_int_eq(h.flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(h.seq, 0);
    ck_assert_uint_eq(h.ack, 1001);
    ck_assert_int_eq(h.sport, 81);
    ck_assert_int_eq(h.dport, 5555);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_DROP_NO_SOCKET), 1);
    /* and a RST is never answered */
    th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555, .dport = 81, .seq = 7, .flags = TCP_RST});
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_DROP_RST_NO_SOCKET), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_tail_loss_probe_resends_the_last_segment_before_the_rto)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_tcp_conn *l = ts_tcp_listen(r.s, 0, 80, 4, NULL, &err, r.now);
    ck_assert_ptr_nonnull(l);
    struct tcp_hdr syn = {.sport = 5555, .dport = 80, .seq = 1000, .flags = TCP_SYN, .wnd = 65535};
    syn.opts.mss_ok = true;
    syn.opts.mss = 1460;
    syn.opts.sack_perm = true;
    th_raw_send_tcp(&r, &syn);
    struct tcp_hdr h;
    ck_assert(th_raw_recv_tcp(&r, &h));
    ck_assert_int_eq(h.flags, TCP_SYN | TCP_ACK);
    ck_assert(h.opts.sack_perm);
    uint32_t iss = h.seq;
    th_raw_advance(&r, 1 * TS_MS);
    th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555,
                                          .dport = 80,
                                          .seq = 1001,
                                          .ack = iss + 1,
                                          .flags = TCP_ACK,
                                          .wnd = 65535});
    struct ts_tcp_conn *c = ts_tcp_accept(l);
    ck_assert_ptr_nonnull(c);
    static uint8_t data[3 * 1460];
    ck_assert_int_eq(ts_tcp_send(c, data, sizeof data, r.now), (ssize_t)sizeof data);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert(th_raw_recv_tcp(&r, &h));
        ck_assert_uint_eq(h.seq, iss + 1 + i * 1460);
        ck_assert_uint_eq(h.payload_len, 1460);
    }
    /* The first two are acknowledged, the last one (the tail) is lost. */
    th_raw_advance(&r, 1 * TS_MS);
    th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555,
                                          .dport = 80,
                                          .seq = 1001,
                                          .ack = iss + 1 + 2920,
                                          .flags = TCP_ACK,
                                          .wnd = 65535});
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    /* RFC 8985 7: the probe (the last segment again) comes well before the 200 ms RTO. */
    th_raw_advance(&r, 100 * TS_MS);
    ck_assert(th_raw_recv_tcp(&r, &h));
    ck_assert_uint_eq(h.seq, iss + 1 + 2920);
    ck_assert_uint_eq(h.payload_len, 1460);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_LOSS_PROBE), 1);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_RTO), 0);
    /* Its ACK ends the episode: no timeout follows. */
    th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555,
                                          .dport = 80,
                                          .seq = 1001,
                                          .ack = iss + 1 + 3 * 1460,
                                          .flags = TCP_ACK,
                                          .wnd = 65535});
    th_raw_advance(&r, 2 * TS_SEC);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_RTO), 0);
    ts_tcp_abort(c, r.now);
    ts_tcp_close(l, r.now);
    th_raw_free(&r);
}
END_TEST

/* tcp_max_conns bounds connection blocks; a TIME_WAIT connection whose owner let go is a compact
 * record bounded apart (tcp_max_tw), so it neither takes a block's place nor is ended early for
 * a new connection. */
START_TEST(test_time_wait_records_do_not_count_against_tcp_max_conns)
{
    struct fixture f;
    memset(&f, 0, sizeof(f));
    struct ts_config ca;
    th_config(&ca, TH_A);
    ca.tcp_max_conns = 2;
    struct th_net_opts o = {.latency = 1 * TS_MS, .cfg_a = &ca};
    th_net_init_ex(&f.n, &o);
    ts_stack_set_trace(f.n.b, trace_cb, &f.tb);
    int err = 0;
    f.l = ts_tcp_listen(f.n.b, 0, 80, 16, NULL, &err, f.n.now);
    f.ca = ts_tcp_connect(f.n.a, 0, 0, TH_IP_B, 80, NULL, &err, f.n.now);
    ck_assert_ptr_nonnull(f.ca);
    ck_assert(th_run_until_sent(&f.n, both_established, &f, 5 * TS_SEC));
    /* A closes first and ends in TIME_WAIT (an orphan: a compact record). */
    ts_tcp_close(f.ca, f.n.now);
    ck_assert(th_run_until_sent(&f.n, b_in_close_wait, &f, 5 * TS_SEC));
    ts_tcp_close(f.cb, f.n.now);
    th_run(&f.n, 1 * TS_SEC);
    struct ts_tcp_info info;
    ck_assert_uint_eq(ts_tcp_table(f.n.a, &info, 1, f.n.now), 1);
    ck_assert_int_eq(info.state, TS_TCP_TIME_WAIT);
    struct ts_tcp_summary sum;
    ts_tcp_summary(f.n.a, &sum);
    ck_assert_uint_eq(sum.time_wait_compact, 1);
    ck_assert_uint_eq(sum.conn_bytes, 0); /* no block left */
    struct ts_tcp_conn *c2 = ts_tcp_connect(f.n.a, 0, 0, TH_IP_B, 80, NULL, &err, f.n.now);
    struct ts_tcp_conn *c3 = ts_tcp_connect(f.n.a, 0, 0, TH_IP_B, 80, NULL, &err, f.n.now);
    ck_assert_ptr_nonnull(c2);
    ck_assert_ptr_nonnull(c3);
    ck_assert_uint_eq(ts_stack_counter(f.n.a, TS_C_TCP_TIME_WAIT_RECYCLED), 0);
    ck_assert_uint_eq(ts_tcp_table(f.n.a, NULL, 0, f.n.now), 3); /* TIME_WAIT kept */
    /* Two live blocks: the next one is refused. */
    err = 0;
    ck_assert_ptr_null(ts_tcp_connect(f.n.a, 0, 0, TH_IP_B, 80, NULL, &err, f.n.now));
    ck_assert_int_eq(err, ENOMEM);
    ts_tcp_abort(c2, f.n.now);
    ts_tcp_abort(c3, f.n.now);
    th_run(&f.n, 1 * TS_SEC);
    struct ts_tcp_conn *x;
    while ((x = ts_tcp_accept(f.l)))
        ts_tcp_abort(x, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_net_free(&f.n);
}
END_TEST

/* A raw peer that completes a handshake with the stack listening on port 80 (no options but
 * MSS 1460): returns the accepted connection and the stack's ISS. */
static struct ts_tcp_conn *raw_accept(struct th_raw *r, struct ts_tcp_conn **l, uint32_t *iss)
{
    int err = 0;
    *l = ts_tcp_listen(r->s, 0, 80, 4, NULL, &err, r->now);
    ck_assert_ptr_nonnull(*l);
    struct tcp_hdr syn = {.sport = 5555, .dport = 80, .seq = 1000, .flags = TCP_SYN, .wnd = 65535};
    syn.opts.mss_ok = true;
    syn.opts.mss = 1460;
    th_raw_send_tcp(r, &syn);
    struct tcp_hdr h;
    ck_assert(th_raw_recv_tcp(r, &h));
    ck_assert_int_eq(h.flags, TCP_SYN | TCP_ACK);
    *iss = h.seq;
    th_raw_advance(r, 1 * TS_MS);
    th_raw_send_tcp(r, &(struct tcp_hdr){.sport = 5555,
                                         .dport = 80,
                                         .seq = 1001,
                                         .ack = *iss + 1,
                                         .flags = TCP_ACK,
                                         .wnd = 65535});
    struct ts_tcp_conn *c = ts_tcp_accept(*l);
    ck_assert_ptr_nonnull(c);
    return c;
}

static uint32_t ssthresh_after_three_dupacks(bool cubic)
{
    struct th_raw r;
    struct ts_config cfg;
    th_config(&cfg, TH_B);
    cfg.tcp_cc = cubic ? TS_CC_CUBIC : TS_CC_NEWRENO;
    struct th_raw_opts o = {.cfg = &cfg};
    th_raw_init_ex(&r, &o);
    struct ts_tcp_conn *l;
    uint32_t iss;
    struct ts_tcp_conn *c = raw_accept(&r, &l, &iss);
    static uint8_t data[10 * 1460];
    ck_assert_int_eq(ts_tcp_send(c, data, sizeof data, r.now), (ssize_t)sizeof data);
    struct tcp_hdr h;
    for (int i = 0; i < 10; i++)
        ck_assert(th_raw_recv_tcp(&r, &h)); /* IW 10 (RFC 6928) */
    for (int i = 0; i < 3; i++)
        th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555,
                                              .dport = 80,
                                              .seq = 1001,
                                              .ack = iss + 1,
                                              .flags = TCP_ACK,
                                              .wnd = 65535});
    ck_assert(th_raw_recv_tcp(&r, &h)); /* the fast retransmit */
    ck_assert_uint_eq(h.seq, iss + 1);
    struct ts_tcp_info i;
    ts_tcp_get_info(c, &i, r.now);
    ts_tcp_abort(c, r.now);
    ts_tcp_close(l, r.now);
    th_raw_free(&r);
    return i.ssthresh;
}

START_TEST(test_cubic_reduces_ssthresh_to_seven_tenths_newreno_to_half)
{
    /* RFC 9438 4.6: beta_cubic 0.7; RFC 5681 3.1 eq. 4: FlightSize / 2. */
    ck_assert_uint_eq(ssthresh_after_three_dupacks(false), 10 * 1460 / 2);
    ck_assert_uint_eq(ssthresh_after_three_dupacks(true), 10 * 1460 * 7 / 10);
}
END_TEST

START_TEST(test_cubic_stacks_transfer_two_megabytes_over_a_lossy_link)
{
    struct ts_fault_config fc = {.in = {.drop = 0.02, .reorder = 0.01}, .seed = 9};
    struct ts_config ca, cb;
    th_config(&ca, TH_A);
    th_config(&cb, TH_B);
    ca.tcp_cc = cb.tcp_cc = TS_CC_CUBIC;
    struct fixture f;
    memset(&f, 0, sizeof(f));
    struct th_net_opts o = {
        .latency = 1 * TS_MS, .cfg_a = &ca, .cfg_b = &cb, .fault_a = &fc, .fault_b = &fc};
    th_net_init_ex(&f.n, &o);
    int err = 0;
    f.l = ts_tcp_listen(f.n.b, 0, 80, 16, NULL, &err, f.n.now);
    f.ca = ts_tcp_connect(f.n.a, 0, 0, TH_IP_B, 80, NULL, &err, f.n.now);
    ck_assert(th_run_until_sent(&f.n, both_established, &f, 60 * TS_SEC));
    transfer(&f, 2 << 20, 600 * TS_SEC);
    ck_assert_uint_gt(ts_stack_counter(f.n.a, TS_C_TCP_FAST_RETRANSMIT), 0);
    ts_tcp_abort(f.ca, f.n.now);
    ts_tcp_abort(f.cb, f.n.now);
    ts_tcp_close(f.l, f.n.now);
    th_net_free(&f.n);
}
END_TEST

START_TEST(test_siphash24_matches_the_reference_vectors)
{
    /* The ISN function (RFC 6528) rests on it: key 00..0f, message 00 01 02 ... (Aumasson and
     * Bernstein's test vectors for lengths 0, 8 and 15). */
    uint8_t k[16], m[16];
    for (int i = 0; i < 16; i++)
        k[i] = m[i] = (uint8_t)i;
    ck_assert_uint_eq(ts_siphash24(k, m, 0), 0x726fdb47dd0e0e31ull);
    ck_assert_uint_eq(ts_siphash24(k, m, 8), 0x93f5f5799a932462ull);
    ck_assert_uint_eq(ts_siphash24(k, m, 15), 0xa129ca6149be45e5ull);
}
END_TEST

/* RFC 1122 4.2.3.9: host unreachable is a soft error: not an error of the socket (SO_ERROR
 * stays 0), but the reason given when the connection finally times out. */
START_TEST(test_soft_icmp_error_is_reported_only_when_retransmissions_time_out)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "data", 4, f.now), 4);
    tf_flush(&f);
    tf_send_icmp_unreach(&f, 1 /* host */, f.stack_nxt);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);
    /* The peer never answers: 15 retransmissions (RTO doubling up to 120 s), then abort. */
    tf_advance(&f, 2000 * TS_SEC);
    ck_assert_int_eq(tf_state(&f), TS_TCP_CLOSE);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CONN_TIMEOUT), 1);
    ck_assert_int_eq(ts_tcp_error(f.conn, true), EHOSTUNREACH);
    tf_free(&f);
}
END_TEST

static Suite *tcp_basic_suite(void)
{
    Suite *s = suite_create("tcp_basic");
    TCase *tc = tcase_create("basic");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_between_two_stacks_reaches_established_on_both);
    tcase_add_test(tc, test_trace_events_carry_the_connection_id_and_time_spent_in_the_old_state);
    tcase_add_test(tc, test_one_megabyte_each_way_arrives_byte_identical);
    tcase_add_test(tc, test_two_megabytes_each_way_survive_loss_duplication_reordering_corruption);
    tcase_add_test(tc, test_client_close_goes_fin_wait_to_time_wait_and_server_through_last_ack);
    tcase_add_test(tc, test_server_close_first_puts_server_in_time_wait);
    tcase_add_test(tc, test_prompt_close_after_peer_fin_sends_one_fin_ack_not_two_segments);
    tcase_add_test(tc, test_syn_to_closed_port_gets_rst_with_ack_of_syn_plus_one);
    tcase_add_test(tc, test_tail_loss_probe_resends_the_last_segment_before_the_rto);
    tcase_add_test(tc, test_time_wait_records_do_not_count_against_tcp_max_conns);
    tcase_add_test(tc, test_cubic_reduces_ssthresh_to_seven_tenths_newreno_to_half);
    tcase_add_test(tc, test_cubic_stacks_transfer_two_megabytes_over_a_lossy_link);
    tcase_add_test(tc, test_siphash24_matches_the_reference_vectors);
    tcase_add_test(tc, test_soft_icmp_error_is_reported_only_when_retransmissions_time_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_basic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
