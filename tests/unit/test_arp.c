/* ARP (RFC 826, RFC 1122 2.3.2): replies, the merge rule, resolution with retries, queueing,
 * giving up, expiry and the cache bound, all on the virtual clock. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "tapstack/udp.h"

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

static const uint8_t mac_x[6] = {0x02, 0xaa, 0, 0, 0, 0x09};

/* A stack with a raw peer that does not answer ARP by itself; the gratuitous ARP is consumed. */
static void init_manual(struct th_raw *r)
{
    struct th_raw_opts o = {.manual_arp = true};
    th_raw_init_ex(r, &o);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(r, &a)); /* the gratuitous ARP */
    ck_assert_uint_eq(th_raw_pending(r), 0);
}

/* Have the stack send a small UDP-looking datagram of len bytes to dst through its IP layer. */
static int stack_send(struct th_raw *r, uint32_t dst, size_t len)
{
    size_t cap;
    uint8_t *p = ts_ip_tx_buf(r->s, &cap);
    memset(p, 0, len);
    p[0] = 0x12; /* source port 0x1234 */
    p[1] = 0x34;
    p[3] = 7;
    r->s->now = r->now;
    return ts_ip_send(r->s, 0, dst, IP_PROTO_UDP, len, false, 0);
}

static void peer_arp(struct th_raw *r, uint16_t op, const uint8_t sha[6], uint32_t spa,
                     uint32_t tpa, const uint8_t *eth_dst)
{
    struct arp_pkt a = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(a.sha, sha, 6);
    if (op == ARP_OP_REPLY)
        memcpy(a.tha, r->mac, 6);
    th_raw_send_arp(r, &a, eth_dst);
}

START_TEST(test_gratuitous_arp_is_sent_at_start)
{
    struct th_raw_opts o = {.manual_arp = true};
    struct th_raw r;
    th_raw_init_ex(&r, &o);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_mem_eq(r.frame, th_mac_bcast, 6);
    ck_assert_uint_eq(a.op, ARP_OP_REQUEST);
    ck_assert_uint_eq(a.spa, TH_IP_B);
    ck_assert_uint_eq(a.tpa, TH_IP_B);
    ck_assert_mem_eq(a.sha, th_mac_b, 6);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_request_for_our_ip_gets_unicast_reply_and_sender_is_learned)
{
    struct th_raw r;
    init_manual(&r);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_A, TH_IP_B, th_mac_bcast);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_mem_eq(r.frame, th_mac_a, 6); /* Ethernet destination: the requester */
    ck_assert_uint_eq(a.op, ARP_OP_REPLY);
    ck_assert_mem_eq(a.sha, th_mac_b, 6);
    ck_assert_uint_eq(a.spa, TH_IP_B);
    ck_assert_mem_eq(a.tha, th_mac_a, 6);
    ck_assert_uint_eq(a.tpa, TH_IP_A);
    uint8_t mac[6];
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, mac)); /* RFC 826: the target adds the sender */
    ck_assert_mem_eq(mac, th_mac_a, 6);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_REPLY_SENT), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_request_for_other_ip_is_not_answered_nor_learned)
{
    struct th_raw r;
    init_manual(&r);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_A, th_ip(10, 0, 0, 77), th_mac_bcast);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert(!ts_arp_lookup(r.s, TH_IP_A, NULL));
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_NOT_FOR_US), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_known_sender_is_updated_even_when_not_for_us)
{
    struct th_raw r;
    init_manual(&r);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_A, TH_IP_B, th_mac_bcast);
    th_raw_flush(&r);
    /* The peer moves to another MAC and announces it (gratuitous ARP, target itself). */
    peer_arp(&r, ARP_OP_REQUEST, mac_x, TH_IP_A, TH_IP_A, th_mac_bcast);
    uint8_t mac[6];
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, mac));
    ck_assert_mem_eq(mac, mac_x, 6);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_NOT_FOR_US), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_invalid_senders_are_dropped_and_counted)
{
    struct th_raw r;
    init_manual(&r);
    const uint8_t mcast[6] = {0x01, 0, 0x5e, 0, 0, 1};
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, 0xffffffffu, TH_IP_B, th_mac_bcast);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, th_ip(10, 0, 0, 255), TH_IP_B, th_mac_bcast);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, th_ip(224, 0, 0, 1), TH_IP_B, th_mac_bcast);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_B, TH_IP_B, th_mac_bcast); /* our own IP */
    peer_arp(&r, ARP_OP_REQUEST, mcast, TH_IP_A, TH_IP_B, th_mac_bcast);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_BAD_SENDER), 5);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert(!ts_arp_lookup(r.s, TH_IP_A, NULL));
    th_raw_free(&r);
}
END_TEST

START_TEST(test_malformed_arp_is_counted_by_reason)
{
    struct th_raw r;
    init_manual(&r);
    uint8_t pkt[ARP_PKT_LEN];
    struct arp_pkt a = {.op = ARP_OP_REQUEST, .spa = TH_IP_A, .tpa = TH_IP_B};
    memcpy(a.sha, th_mac_a, 6);
    arp_emit(&a, pkt, sizeof pkt);
    uint8_t f[64];
    size_t l = th_build_eth(f, sizeof f, th_mac_bcast, th_mac_a, ETH_TYPE_ARP, pkt, 20);
    th_raw_inject(&r, f, l);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_TRUNCATED), 1);
    pkt[1] = 6; /* hardware type 6 (IEEE 802) */
    l = th_build_eth(f, sizeof f, th_mac_bcast, th_mac_a, ETH_TYPE_ARP, pkt, sizeof pkt);
    th_raw_inject(&r, f, l);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_BAD_FORMAT), 1);
    pkt[1] = 1;
    pkt[7] = 3; /* RARP request */
    l = th_build_eth(f, sizeof f, th_mac_bcast, th_mac_a, ETH_TYPE_ARP, pkt, sizeof pkt);
    th_raw_inject(&r, f, l);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_BAD_OP), 1);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_RX), 3);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_unresolved_datagram_waits_for_reply_then_goes_to_the_answered_mac)
{
    struct th_raw r;
    init_manual(&r);
    uint32_t x = th_ip(10, 0, 0, 9);
    ck_assert_int_eq(stack_send(&r, x, 20), 0);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_mem_eq(r.frame, th_mac_bcast, 6);
    ck_assert_uint_eq(a.op, ARP_OP_REQUEST);
    ck_assert_uint_eq(a.tpa, x);
    ck_assert_uint_eq(a.spa, TH_IP_B);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0); /* the datagram waits */
    peer_arp(&r, ARP_OP_REPLY, mac_x, x, TH_IP_B, th_mac_b);
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_mem_eq(r.frame, mac_x, 6);
    ck_assert_uint_eq(ip.dst, x);
    ck_assert_uint_eq(ip.payload_len, 20);
    /* and the next one goes at once */
    ck_assert_int_eq(stack_send(&r, x, 20), 0);
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_uint_eq(C(r.s, TS_C_ARP_REQUEST_SENT), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_off_link_destination_resolves_the_gateway)
{
    struct th_raw r;
    init_manual(&r);
    ck_assert_int_eq(stack_send(&r, th_ip(192, 168, 7, 7), 20), 0);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_uint_eq(a.tpa, TH_IP_A); /* the gateway */
    peer_arp(&r, ARP_OP_REPLY, th_mac_a, TH_IP_A, TH_IP_B, th_mac_b);
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_mem_eq(r.frame, th_mac_a, 6);
    ck_assert_uint_eq(ip.dst, th_ip(192, 168, 7, 7));
    th_raw_free(&r);
}
END_TEST

START_TEST(test_requests_are_retried_once_per_second_then_resolution_gives_up)
{
    struct th_raw r;
    init_manual(&r);
    uint32_t x = th_ip(10, 0, 0, 9);
    stack_send(&r, x, 20);
    stack_send(&r, x, 20); /* a second datagram does not cause a second request */
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_advance(&r, 999 * TS_MS);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_advance(&r, 1 * TS_MS);
    ck_assert(th_raw_recv_arp(&r, &a)); /* try 2 at +1 s */
    ck_assert_uint_eq(a.tpa, x);
    th_raw_advance(&r, 1 * TS_SEC);
    ck_assert(th_raw_recv_arp(&r, &a)); /* try 3 at +2 s */
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_RESOLVE_FAILED), 0);
    th_raw_advance(&r, 1 * TS_SEC);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_REQUEST_SENT), 3);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_RESOLVE_FAILED), 1);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_UNRESOLVED), 2);
    /* both queued datagrams were reported to the transport as host unreachable */
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 2);
    th_raw_advance(&r, 10 * TS_SEC);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0); /* no more requests */
    ck_assert_uint_eq(ts_stack_poll(r.s, r.now), TS_TIME_NEVER);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_arp_poll_returns_each_next_hop_that_failed_with_the_datagrams_that_waited)
{
    struct th_raw r;
    init_manual(&r);
    uint32_t x = th_ip(10, 0, 0, 9), y = th_ip(10, 0, 0, 10);
    ck_assert_int_eq(stack_send(&r, x, 20), 0);
    ck_assert_int_eq(stack_send(&r, x, 24), 0);
    ck_assert_int_eq(stack_send(&r, y, 28), 0);
    ts_time_t next;
    struct ts_arp_failure failed;
    for (int s = 1; s <= 2; s++) { /* the second and third requests */
        r.s->now = r.now + s * TS_SEC;
        ck_assert(!ts_arp_poll(r.s, r.s->now, &next, &failed));
        ck_assert_uint_eq(next, r.s->now + 1 * TS_SEC);
    }
    r.s->now = r.now + 3 * TS_SEC;
    ck_assert(ts_arp_poll(r.s, r.s->now, &next, &failed));
    ck_assert_uint_eq(failed.ip, x);
    size_t lens[2], n = 0;
    for (const struct ts_arp_frame *f = failed.frames; f; f = f->next) {
        struct ipv4_hdr ip;
        ck_assert_int_eq(ipv4_parse(f->data + ETH_HDR_LEN, f->len - ETH_HDR_LEN, &ip), TS_C_OK);
        ck_assert_uint_eq(ip.dst, x);
        ck_assert_uint_lt(n, 2);
        lens[n++] = ip.payload_len;
    }
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(lens[0], 20); /* in the order they were queued */
    ck_assert_uint_eq(lens[1], 24);
    ts_arp_frames_free(failed.frames);
    ck_assert(!ts_arp_lookup(r.s, x, NULL));
    ck_assert(ts_arp_poll(r.s, r.s->now, &next, &failed));
    ck_assert_uint_eq(failed.ip, y);
    ck_assert_ptr_nonnull(failed.frames);
    ck_assert_ptr_null(failed.frames->next);
    ts_arp_frames_free(failed.frames);
    ck_assert(!ts_arp_poll(r.s, r.s->now, &next, &failed));
    ck_assert_uint_eq(next, TS_TIME_NEVER);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_RESOLVE_FAILED), 2);
    /* ARP tells no transport itself: that is the conductor's part */
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_UNRESOLVED), 0);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_socket_sees_ehostunreach_when_arp_fails)
{
    struct th_raw r;
    init_manual(&r);
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r.s, 0, 4000, false, 65536, &err);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(ts_udp_connect(u, th_ip(10, 0, 0, 9), 7), 0);
    ck_assert_int_eq(ts_udp_sendto(u, "x", 1, 0, 0, r.now), 1);
    th_raw_advance(&r, 3 * TS_SEC);
    ck_assert_int_eq(ts_udp_error(u, true), EHOSTUNREACH);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_pending_queue_is_bounded_per_destination)
{
    struct th_raw r;
    init_manual(&r);
    uint32_t x = th_ip(10, 0, 0, 9);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(stack_send(&r, x, 20), 0);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_QUEUE_FULL), 4);
    th_raw_flush(&r);
    peer_arp(&r, ARP_OP_REPLY, mac_x, x, TH_IP_B, th_mac_b);
    ck_assert_uint_eq(th_raw_pending(&r), 16);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_pending_queue_is_bounded_globally)
{
    struct th_raw r;
    init_manual(&r);
    for (int d = 0; d < 20; d++)
        for (int i = 0; i < 16; i++)
            stack_send(&r, th_ip(10, 0, 0, (uint8_t)(100 + d)), 20);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_DROP_QUEUE_FULL), 20 * 16 - 256);
    th_raw_free(&r); /* frees the queues: LSan checks */
}
END_TEST

START_TEST(test_cache_is_bounded_and_evicts_least_recently_used)
{
    struct th_raw r;
    init_manual(&r);
    for (int i = 0; i < 70; i++) {
        uint8_t mac[6] = {0x02, 0xbb, 0, 0, 0, (uint8_t)i};
        peer_arp(&r, ARP_OP_REQUEST, mac, th_ip(10, 0, 0, (uint8_t)(100 + i)), TH_IP_B,
                 th_mac_bcast);
        th_raw_advance(&r, 1 * TS_MS);
    }
    ck_assert_uint_eq(C(r.s, TS_C_ARP_CACHE_EVICT), 6);
    ck_assert(!ts_arp_lookup(r.s, th_ip(10, 0, 0, 100), NULL)); /* the oldest went */
    ck_assert(!ts_arp_lookup(r.s, th_ip(10, 0, 0, 105), NULL));
    ck_assert(ts_arp_lookup(r.s, th_ip(10, 0, 0, 106), NULL));
    ck_assert(ts_arp_lookup(r.s, th_ip(10, 0, 0, 169), NULL));
    th_raw_free(&r);
}
END_TEST

START_TEST(test_entry_expires_after_60_s_and_is_resolved_again)
{
    struct th_raw r;
    init_manual(&r);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_A, TH_IP_B, th_mac_bcast);
    th_raw_flush(&r);
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, NULL));
    th_raw_advance(&r, 59 * TS_SEC);
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, NULL));
    th_raw_advance(&r, 1 * TS_SEC);
    ck_assert(!ts_arp_lookup(r.s, TH_IP_A, NULL));
    stack_send(&r, TH_IP_A, 20);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_uint_eq(a.op, ARP_OP_REQUEST);
    ck_assert_uint_eq(a.tpa, TH_IP_A);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_entry_in_use_is_confirmed_by_unicast_poll_before_it_expires)
{
    struct th_raw r;
    init_manual(&r);
    peer_arp(&r, ARP_OP_REQUEST, th_mac_a, TH_IP_A, TH_IP_B, th_mac_bcast);
    th_raw_flush(&r);
    th_raw_advance(&r, 50 * TS_SEC);
    stack_send(&r, TH_IP_A, 20); /* not yet in the last 5 s: just sent */
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_advance(&r, 6 * TS_SEC);
    stack_send(&r, TH_IP_A, 20);
    stack_send(&r, TH_IP_A, 20);
    /* RFC 1122 2.3.2.1: one request, straight to the known MAC, and the data goes at once */
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    ck_assert_mem_eq(r.frame, th_mac_a, 6);
    ck_assert_uint_eq(a.tpa, TH_IP_A);
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    peer_arp(&r, ARP_OP_REPLY, th_mac_a, TH_IP_A, TH_IP_B, th_mac_b);
    th_raw_advance(&r, 10 * TS_SEC); /* past the old expiry */
    ck_assert(ts_arp_lookup(r.s, TH_IP_A, NULL));
    stack_send(&r, TH_IP_A, 20);
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    th_raw_free(&r);
}
END_TEST

START_TEST(test_broadcast_destination_needs_no_arp)
{
    struct th_raw r;
    init_manual(&r);
    ck_assert_int_eq(stack_send(&r, th_ip(10, 0, 0, 255), 20), 0);
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_mem_eq(r.frame, th_mac_bcast, 6);
    ck_assert_uint_eq(C(r.s, TS_C_ARP_REQUEST_SENT), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_two_stacks_learn_each_other_with_one_request)
{
    struct th_net n;
    th_net_init(&n, 1 * TS_MS);
    th_ping(&n, TH_A, TH_IP_B, 1, 1, "x", 1);
    th_run(&n, 50 * TS_MS);
    ck_assert_uint_eq(C(n.a, TS_C_ARP_REQUEST_SENT), 1);
    ck_assert_uint_eq(C(n.b, TS_C_ARP_REQUEST_SENT), 0); /* B learned A from A's request */
    ck_assert_uint_eq(C(n.b, TS_C_ICMP_ECHO_REPLIED), 1);
    th_net_free(&n);
}
END_TEST

static Suite *arp_suite(void)
{
    Suite *s = suite_create("arp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_gratuitous_arp_is_sent_at_start);
    tcase_add_test(tc, test_request_for_our_ip_gets_unicast_reply_and_sender_is_learned);
    tcase_add_test(tc, test_request_for_other_ip_is_not_answered_nor_learned);
    tcase_add_test(tc, test_known_sender_is_updated_even_when_not_for_us);
    tcase_add_test(tc, test_invalid_senders_are_dropped_and_counted);
    tcase_add_test(tc, test_malformed_arp_is_counted_by_reason);
    tcase_add_test(tc, test_unresolved_datagram_waits_for_reply_then_goes_to_the_answered_mac);
    tcase_add_test(tc, test_off_link_destination_resolves_the_gateway);
    tcase_add_test(tc, test_requests_are_retried_once_per_second_then_resolution_gives_up);
    tcase_add_test(tc,
                   test_arp_poll_returns_each_next_hop_that_failed_with_the_datagrams_that_waited);
    tcase_add_test(tc, test_udp_socket_sees_ehostunreach_when_arp_fails);
    tcase_add_test(tc, test_pending_queue_is_bounded_per_destination);
    tcase_add_test(tc, test_pending_queue_is_bounded_globally);
    tcase_add_test(tc, test_cache_is_bounded_and_evicts_least_recently_used);
    tcase_add_test(tc, test_entry_expires_after_60_s_and_is_resolved_again);
    tcase_add_test(tc, test_entry_in_use_is_confirmed_by_unicast_poll_before_it_expires);
    tcase_add_test(tc, test_broadcast_destination_needs_no_arp);
    tcase_add_test(tc, test_two_stacks_learn_each_other_with_one_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(arp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
