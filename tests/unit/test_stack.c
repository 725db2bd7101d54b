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

static Suite *stack_suite(void)
{
    Suite *s = suite_create("stack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_two_stacks_resolve_each_other_and_ping_works);
    tcase_add_test(tc, test_raw_peer_echo_gets_reply_without_arp_round_trip);
    suite_add_tcase(s, tc);
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
