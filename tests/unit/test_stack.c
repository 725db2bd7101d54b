/* The conductor: configuration, Ethernet filtering, dispatch, the run loop, counters, names. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

START_TEST(test_two_stacks_resolve_each_other_and_ping_works)
{
    struct th_net n;
    th_net_init(&n, 1 * TS_MS);
    uint8_t data[56];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    ck_assert_int_eq(th_ping(&n, TH_A, TH_IP_B, 7, 1, data, sizeof data), 0);
    th_run(&n, 100 * TS_MS);
    ck_assert_uint_eq(C(n.b, TS_C_ICMP_ECHO_REPLIED), 1);
    ck_assert(ts_arp_lookup(n.a, TH_IP_B, NULL));
    ck_assert(ts_arp_lookup(n.b, TH_IP_A, NULL));
    ck_assert_uint_eq(C(n.a, TS_C_ICMP_RX), 1); /* the reply came back */
    th_net_free(&n);
}
END_TEST

START_TEST(test_raw_peer_echo_gets_reply_without_arp_round_trip)
{
    struct th_raw r;
    th_raw_init(&r);
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, NULL)); /* primed */
    th_raw_send_icmp_echo(&r, 0x1234, 9, "hello", 5);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.id, 0x1234);
    ck_assert_uint_eq(ic.seq, 9);
    ck_assert_uint_eq(ic.payload_len, 5);
    ck_assert_mem_eq(ic.payload, "hello", 5);
    ck_assert_uint_eq(ip.src, TH_IP_B);
    ck_assert_uint_eq(ip.dst, TH_IP_A);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

/* ---- configuration */

START_TEST(test_config_default_matches_the_documented_defaults)
{
    struct ts_config c;
    ts_config_default(&c);
    const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    ck_assert_mem_eq(c.mac, mac, 6);
    ck_assert_uint_eq(c.ip, th_ip(10, 0, 0, 2));
    ck_assert_uint_eq(c.prefix_len, 24);
    ck_assert_uint_eq(c.gateway, th_ip(10, 0, 0, 1));
    ck_assert_uint_eq(c.mtu, 1500);
    ck_assert_uint_eq(c.tcp_rcvbuf, 1024 * 1024);
    ck_assert_uint_eq(c.tcp_sndbuf, 1024 * 1024);
    ck_assert_uint_eq(c.tcp_msl, 30 * TS_SEC);
    ck_assert_uint_eq(c.tcp_max_conns, 4096);
    ck_assert(c.tcp_timestamps && c.tcp_sack && c.tcp_window_scaling && c.tcp_syncookies);
    ck_assert_uint_eq(c.ephemeral_lo, 32768);
    ck_assert_uint_eq(c.ephemeral_hi, 60999);
}
END_TEST

/* Does ts_stack_new accept cfg? */
static bool accepted(const struct ts_config *c)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    struct ts_stack *s = ts_stack_new(c, a, TH_T0);
    bool ok = s != NULL;
    ts_stack_free(s);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
    return ok;
}

START_TEST(test_stack_new_rejects_bad_configurations)
{
    struct ts_config c;
    ts_config_default(&c);
    ck_assert(accepted(&c));
#define REJECT(field, value)                                                                       \
    do {                                                                                           \
        ts_config_default(&c);                                                                     \
        c.field = value;                                                                           \
        ck_assert_msg(!accepted(&c), #field " = " #value " accepted");                             \
    } while (0)
    REJECT(prefix_len, 0);
    REJECT(prefix_len, 31);
    REJECT(mtu, 575);
    REJECT(mtu, 9001);
    REJECT(ip, 0);
    REJECT(ip, th_ip(10, 0, 0, 0));   /* the network address */
    REJECT(ip, th_ip(10, 0, 0, 255)); /* the subnet broadcast */
    REJECT(ip, th_ip(127, 0, 0, 1));
    REJECT(ip, th_ip(224, 0, 0, 1));
    REJECT(gateway, th_ip(10, 0, 1, 1)); /* not on the link */
    REJECT(gateway, th_ip(10, 0, 0, 2)); /* ourselves */
    REJECT(gateway, th_ip(10, 0, 0, 255));
    REJECT(mac[0], 0x01); /* multicast */
    REJECT(ephemeral_lo, 0);
    REJECT(ephemeral_lo, 61000); /* above ephemeral_hi (60999): an empty range */
#undef REJECT
    ts_config_default(&c);
    c.gateway = 0; /* no default route is fine */
    c.mtu = 576;
    c.prefix_len = 30;
    ck_assert(accepted(&c));
    c.mtu = 9000;
    c.prefix_len = 1;
    c.ephemeral_lo = c.ephemeral_hi = 40000; /* a range of one port */
    ck_assert(accepted(&c));
}
END_TEST

/* ---- Ethernet */

static size_t echo_frame(struct th_raw *r, uint8_t *f, size_t cap, const uint8_t dst[6],
                         const uint8_t src[6])
{
    uint8_t msg[16];
    size_t l = th_build_icmp_echo(msg, sizeof msg, 1, 1, "abcdefgh", 8);
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_ICMP, msg, l);
    return th_build_ipv4(f, cap, dst, src, &ip);
}

static void expect_eth_drop(struct th_raw *r, const uint8_t *f, size_t len, enum ts_counter why)
{
    uint64_t before = C(r->s, why), rx = C(r->s, TS_C_ETH_RX), ip = C(r->s, TS_C_IP_RX);
    th_raw_inject(r, f, len);
    ck_assert_uint_eq(C(r->s, why), before + 1);
    ck_assert_uint_eq(C(r->s, TS_C_ETH_RX), rx + 1);
    ck_assert_uint_eq(C(r->s, TS_C_IP_RX), ip); /* went no further */
    ck_assert_uint_eq(th_raw_recv(r, NULL, 0), 0);
}

START_TEST(test_frame_shorter_than_ethernet_header_is_dropped_truncated)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[64];
    echo_frame(&r, f, sizeof f, th_mac_b, th_mac_a);
    expect_eth_drop(&r, f, 13, TS_C_ETH_DROP_TRUNCATED);
    ts_stack_input(r.s, f, 0, r.now); /* a driver never delivers it, but the API allows it */
    ck_assert_uint_eq(C(r.s, TS_C_ETH_DROP_TRUNCATED), 2);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_frame_for_other_mac_or_multicast_is_dropped_not_for_us)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[64];
    const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x07}, mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    size_t l = echo_frame(&r, f, sizeof f, other, th_mac_a);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_NOT_FOR_US);
    l = echo_frame(&r, f, sizeof f, mcast, th_mac_a);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_NOT_FOR_US);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_frame_from_group_or_own_mac_is_dropped_bad_src)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[64];
    const uint8_t mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    size_t l = echo_frame(&r, f, sizeof f, th_mac_b, mcast);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_BAD_SRC);
    l = echo_frame(&r, f, sizeof f, th_mac_b, th_mac_bcast);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_BAD_SRC);
    l = echo_frame(&r, f, sizeof f, th_mac_b, th_mac_b);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_BAD_SRC);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_unknown_ethertype_is_dropped)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[64];
    size_t l = th_build_eth(f, sizeof f, th_mac_b, th_mac_a, 0x86dd /* IPv6 */, "0123456789", 10);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_UNKNOWN_TYPE);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_frame_larger_than_mtu_is_dropped_oversize)
{
    struct th_raw r;
    th_raw_init(&r);
    static uint8_t f[1600], payload[1501];
    size_t l = th_build_eth(f, sizeof f, th_mac_b, th_mac_a, ETH_TYPE_IPV4, payload, 1501);
    expect_eth_drop(&r, f, l, TS_C_ETH_DROP_OVERSIZE);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_broadcast_frame_is_accepted)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[64];
    size_t l = echo_frame(&r, f, sizeof f, th_mac_bcast, th_mac_a);
    th_raw_inject(&r, f, l);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic)); /* unicast IP inside a broadcast frame */
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_sent_frames_carry_our_mac_and_are_counted)
{
    struct th_raw r;
    th_raw_init(&r);
    uint64_t tx = C(r.s, TS_C_ETH_TX);
    th_raw_send_icmp_echo(&r, 1, 1, "x", 1);
    ck_assert(th_raw_recv(&r, NULL, 0) > 0);
    ck_assert_mem_eq(r.frame, th_mac_a, 6);
    ck_assert_mem_eq(r.frame + 6, th_mac_b, 6);
    ck_assert_uint_eq(C(r.s, TS_C_ETH_TX), tx + 1);
    th_raw_free(&r);
}
END_TEST

/* ---- run loop */

START_TEST(test_step_reports_the_arrival_of_a_delayed_frame_as_next_deadline)
{
    struct th_net n;
    th_net_init(&n, 5 * TS_MS);
    th_run(&n, 10 * TS_MS);                   /* the gratuitous ARPs arrive */
    th_ping(&n, TH_A, TH_IP_B, 1, 1, "x", 1); /* A sends an ARP request */
    ts_time_t next = ts_stack_step(n.b, n.now);
    ck_assert_uint_eq(next, n.now + 5 * TS_MS);
    ck_assert_uint_eq(C(n.b, TS_C_ARP_RX), 1); /* only the gratuitous ARP from A so far */
    ts_stack_step(n.b, n.now + 5 * TS_MS);
    ck_assert_uint_eq(C(n.b, TS_C_ARP_RX), 2);
    th_net_free(&n);
}
END_TEST

START_TEST(test_idle_stack_has_no_deadline)
{
    struct th_raw_opts o = {.manual_arp = true}; /* no ARP entry (entries expire: a deadline) */
    struct th_raw r;
    th_raw_init_ex(&r, &o);
    ck_assert_uint_eq(ts_stack_poll(r.s, r.now), TS_TIME_NEVER);
    ck_assert_uint_eq(ts_stack_step(r.s, r.now), TS_TIME_NEVER);
    th_raw_free(&r);
}
END_TEST

/* ---- counters, names, trace */

START_TEST(test_counters_format_lists_nonzero_counters_with_descriptions)
{
    struct th_raw r;
    th_raw_init(&r);
    th_raw_send_icmp_echo(&r, 1, 1, "x", 1);
    char buf[8192];
    size_t n = ts_stack_counters_format(r.s, buf, sizeof buf, false);
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_ptr_nonnull(strstr(buf, ts_counter_name(TS_C_ICMP_ECHO_REPLIED)));
    ck_assert_ptr_nonnull(strstr(buf, "echo requests answered"));
    ck_assert_ptr_null(strstr(buf, ts_counter_name(TS_C_TCP_RTO)));
    size_t all = ts_stack_counters_format(r.s, NULL, 0, true);
    ck_assert_uint_gt(all, n);
    /* like snprintf: the needed length, and a truncated but terminated buffer */
    char small[10];
    ck_assert_uint_eq(ts_stack_counters_format(r.s, small, sizeof small, false), n);
    ck_assert_uint_eq(strlen(small), 9);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_tcp_state_names_follow_netstat_and_rfc_9293)
{
    ck_assert_str_eq(ts_tcp_state_name(TS_TCP_SYN_RECV), "SYN_RECV");
    ck_assert_str_eq(ts_tcp_state_name(TS_TCP_CLOSE), "CLOSE");
    ck_assert_str_eq(ts_tcp_state_name(TS_TCP_FIN_WAIT2), "FIN_WAIT2");
    ck_assert_str_eq(ts_tcp_state_rfc_name(TS_TCP_SYN_RECV), "SYN-RECEIVED");
    ck_assert_str_eq(ts_tcp_state_rfc_name(TS_TCP_CLOSE), "CLOSED");
    ck_assert_str_eq(ts_tcp_state_rfc_name(TS_TCP_TIME_WAIT), "TIME-WAIT");
    ck_assert_str_eq(ts_tcp_state_name((enum ts_tcp_state)0), "UNKNOWN");
    ck_assert_str_eq(ts_tcp_state_name((enum ts_tcp_state)12), "UNKNOWN");
    for (int st = TS_TCP_ESTABLISHED; st <= TS_TCP_CLOSING; st++)
        ck_assert_uint_gt(strlen(ts_tcp_state_explain((enum ts_tcp_state)st)), 40);
    ck_assert_ptr_nonnull(strstr(ts_tcp_state_explain(TS_TCP_LISTEN), "client never"));
}
END_TEST

START_TEST(test_trace_format_prints_time_endpoints_states_and_cause)
{
    struct ts_trace_event ev = {.time = 12 * TS_SEC + 345678,
                                .laddr = th_ip(10, 0, 0, 1),
                                .raddr = th_ip(10, 0, 0, 2),
                                .lport = 5555,
                                .rport = 80,
                                .from = TS_TCP_SYN_RECV,
                                .to = TS_TCP_ESTABLISHED,
                                .cause = "rcvd ACK of SYN"};
    char buf[128];
    size_t n = ts_trace_format(&ev, buf, sizeof buf);
    ck_assert_str_eq(
        buf, "12.345678 10.0.0.1:5555 > 10.0.0.2:80 SYN_RECV -> ESTABLISHED (rcvd ACK of SYN)");
    ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

struct seen {
    int n;
    struct ts_trace_event last;
};
static void on_trace(void *arg, const struct ts_trace_event *ev)
{
    struct seen *s = arg;
    s->n++;
    s->last = *ev;
}

START_TEST(test_trace_events_reach_the_callback_that_is_set)
{
    struct th_raw r;
    th_raw_init(&r);
    struct seen seen = {0};
    struct ts_trace_event ev = {.from = TS_TCP_CLOSE, .to = TS_TCP_LISTEN, .cause = "app listen"};
    ts_stack_trace(r.s, &ev); /* no callback: nothing happens */
    ts_stack_set_trace(r.s, on_trace, &seen);
    ts_stack_trace(r.s, &ev);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_str_eq(seen.last.cause, "app listen");
    ts_stack_set_trace(r.s, NULL, NULL);
    ts_stack_trace(r.s, &ev);
    ck_assert_int_eq(seen.n, 1);
    th_raw_free(&r);
}
END_TEST

/* ---- the harness itself */

static bool b_replied(void *arg)
{
    return ts_stack_counter(arg, TS_C_ICMP_ECHO_REPLIED) > 0;
}

START_TEST(test_run_until_stops_at_the_event_that_makes_the_predicate_true)
{
    struct th_net n;
    th_net_init(&n, 10 * TS_MS);
    th_run(&n, 20 * TS_MS); /* the gratuitous ARPs arrive (they would resolve B for A) */
    ts_time_t t0 = n.now;
    th_ping(&n, TH_A, TH_IP_B, 1, 1, "x", 1);
    /* ARP request 10 ms, reply 10 ms, echo 10 ms: B replies at +30 ms */
    ck_assert(th_run_until(&n, b_replied, n.b, 1 * TS_SEC));
    ck_assert_uint_eq(n.now - t0, 30 * TS_MS);
    ck_assert(!th_run_until(&n, b_replied, n.a, 100 * TS_MS)); /* A never replies */
    ck_assert_uint_eq(n.now - t0, 130 * TS_MS);
    th_net_free(&n);
}
END_TEST

START_TEST(test_run_advances_exactly_by_the_duration)
{
    struct th_net n;
    th_net_init(&n, 0);
    ts_time_t t0 = n.now;
    th_run(&n, 1234567);
    ck_assert_uint_eq(n.now, t0 + 1234567);
    th_net_free(&n);
}
END_TEST

START_TEST(test_fault_wrapper_between_the_stacks_drops_what_it_is_told_to)
{
    struct ts_fault_config f = {.out = {.drop = 1.0}, .seed = 1};
    struct th_net_opts o = {.latency = 1 * TS_MS, .fault_a = &f};
    struct th_net n;
    th_net_init_ex(&n, &o);
    th_run(&n, 10 * TS_MS);
    th_ping(&n, TH_A, TH_IP_B, 1, 1, "x", 1);
    th_run(&n, 5 * TS_SEC);
    ck_assert_uint_eq(C(n.b, TS_C_ETH_RX), 0); /* nothing A sent ever arrived */
    ck_assert_uint_eq(n.sent[TH_A], 4);        /* though A sent: gratuitous ARP + 3 requests */
    ck_assert_uint_eq(C(n.a, TS_C_ARP_RESOLVE_FAILED), 1);
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(n.fault_a, &st), 0);
    ck_assert_uint_eq(st.dropped, n.sent[TH_A]);
    th_net_free(&n);
}
END_TEST

static Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_two_stacks_resolve_each_other_and_ping_works);
    tcase_add_test(tc, test_raw_peer_echo_gets_reply_without_arp_round_trip);
    tcase_add_test(tc, test_config_default_matches_the_documented_defaults);
    tcase_add_test(tc, test_stack_new_rejects_bad_configurations);
    tcase_add_test(tc, test_frame_shorter_than_ethernet_header_is_dropped_truncated);
    tcase_add_test(tc, test_frame_for_other_mac_or_multicast_is_dropped_not_for_us);
    tcase_add_test(tc, test_frame_from_group_or_own_mac_is_dropped_bad_src);
    tcase_add_test(tc, test_unknown_ethertype_is_dropped);
    tcase_add_test(tc, test_frame_larger_than_mtu_is_dropped_oversize);
    tcase_add_test(tc, test_broadcast_frame_is_accepted);
    tcase_add_test(tc, test_sent_frames_carry_our_mac_and_are_counted);
    tcase_add_test(tc, test_step_reports_the_arrival_of_a_delayed_frame_as_next_deadline);
    tcase_add_test(tc, test_idle_stack_has_no_deadline);
    tcase_add_test(tc, test_counters_format_lists_nonzero_counters_with_descriptions);
    tcase_add_test(tc, test_tcp_state_names_follow_netstat_and_rfc_9293);
    tcase_add_test(tc, test_trace_format_prints_time_endpoints_states_and_cause);
    tcase_add_test(tc, test_trace_events_reach_the_callback_that_is_set);
    suite_add_tcase(s, tc);
    TCase *h = tcase_create("harness");
    tcase_add_test(h, test_run_until_stops_at_the_event_that_makes_the_predicate_true);
    tcase_add_test(h, test_run_advances_exactly_by_the_duration);
    tcase_add_test(h, test_fault_wrapper_between_the_stacks_drops_what_it_is_told_to);
    suite_add_tcase(s, h);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stack_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
