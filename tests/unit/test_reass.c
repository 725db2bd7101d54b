/* IPv4 reassembly (RFC 791, RFC 815): order, duplicates, overlaps, timeout, size and memory
 * bounds, and an 8000-byte echo fragmented both ways. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

/* An echo request of `data` bytes (pattern i*13+1) in msg; returns the ICMP message length. */
static size_t echo_msg(uint8_t *msg, size_t cap, size_t data, uint16_t seq)
{
    uint8_t *d = malloc(data ? data : 1);
    for (size_t i = 0; i < data; i++)
        d[i] = (uint8_t)(i * 13 + 1);
    size_t l = th_build_icmp_echo(msg, cap, 0x4242, seq, d, data);
    free(d);
    return l;
}

/* Send bytes [off, off + len) of msg as a fragment of datagram `id`. */
static void frag(struct th_raw *r, uint16_t id, const uint8_t *msg, size_t off, size_t len, bool mf)
{
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_ICMP, msg + off, len);
    ip.id = id;
    ip.frag_off = (uint16_t)off;
    ip.mf = mf;
    th_raw_send_ipv4(r, &ip);
}

/* Receive a (possibly fragmented) echo reply and check it carries `data` bytes of the pattern. */
static void expect_echo_reply(struct th_raw *r, size_t data)
{
    size_t total = ICMP_HDR_LEN + data, got = 0;
    uint8_t *buf = calloc(1, total);
    struct ipv4_hdr ip;
    bool last = false;
    while (!last || got < total) {
        ck_assert_msg(th_raw_recv_ipv4(r, &ip), "reply incomplete: %zu of %zu bytes", got, total);
        ck_assert_uint_eq(ip.proto, IP_PROTO_ICMP);
        ck_assert_uint_le(ip.frag_off + ip.payload_len, total);
        memcpy(buf + ip.frag_off, ip.payload, ip.payload_len);
        got += ip.payload_len;
        if (!ip.mf)
            last = true;
    }
    struct icmp_hdr ic;
    ck_assert_int_eq(icmp_parse(buf, total, &ic), TS_C_OK);
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.id, 0x4242);
    ck_assert_uint_eq(ic.payload_len, data);
    for (size_t i = 0; i < data; i++)
        ck_assert_uint_eq(ic.payload[i], (uint8_t)(i * 13 + 1));
    free(buf);
}

START_TEST(test_fragments_in_order_are_reassembled)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    size_t l = echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 800, true);
    frag(&r, 7, msg, 800, 800, true);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_gt(ts_reass_memory(r.s), 1600);
    frag(&r, 7, msg, 1600, l - 1600, false);
    expect_echo_reply(&r, 2000);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_OK), 1);
    ck_assert_uint_eq(C(r.s, TS_C_IP_FRAG_RX), 3);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_fragments_out_of_order_are_reassembled)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    size_t l = echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 1600, l - 1600, false);
    frag(&r, 7, msg, 0, 800, true);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    frag(&r, 7, msg, 800, 800, true);
    expect_echo_reply(&r, 2000);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_interleaved_datagrams_are_kept_apart_by_id)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t m1[1008], m2[1008];
    size_t l = echo_msg(m1, sizeof m1, 1000, 1);
    echo_msg(m2, sizeof m2, 1000, 2);
    frag(&r, 1, m1, 0, 504, true);
    frag(&r, 2, m2, 0, 504, true);
    frag(&r, 2, m2, 504, l - 504, false);
    frag(&r, 1, m1, 504, l - 504, false);
    expect_echo_reply(&r, 1000);
    expect_echo_reply(&r, 1000);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_OK), 2);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_duplicate_fragment_is_counted_and_ignored)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    size_t l = echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 800, true);
    size_t mem = ts_reass_memory(r.s);
    frag(&r, 7, msg, 0, 800, true);
    frag(&r, 7, msg, 8, 400, true); /* inside one we have, same bytes */
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DUPLICATE), 2);
    ck_assert_uint_eq(ts_reass_memory(r.s), mem);
    frag(&r, 7, msg, 800, l - 800, false);
    expect_echo_reply(&r, 2000);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_overlap_with_same_bytes_still_reassembles)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    size_t l = echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 808, true);
    frag(&r, 7, msg, 800, 808, true); /* 8 bytes overlap, identical */
    frag(&r, 7, msg, 1600, l - 1600, false);
    expect_echo_reply(&r, 2000);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_OVERLAP), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_overlap_with_different_bytes_drops_the_whole_datagram)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008], evil[2008];
    size_t l = echo_msg(msg, sizeof msg, 2000, 1);
    memcpy(evil, msg, sizeof msg);
    evil[803] ^= 0xff;
    frag(&r, 7, msg, 0, 808, true);
    frag(&r, 7, evil, 800, 808, true);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_OVERLAP), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    /* the rest arrives but the datagram is gone: no reply */
    frag(&r, 7, msg, 1600, l - 1600, false);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_OK), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_incomplete_datagram_times_out_after_30_s_with_time_exceeded)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 800, true);
    th_raw_advance(&r, 30 * TS_SEC - 1);
    ck_assert_uint_gt(ts_reass_memory(r.s), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_advance(&r, 1);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_TIMEOUT), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    /* RFC 792: time exceeded, code 1 (fragment reassembly), quoting the first fragment */
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_TIME_EXCEEDED);
    ck_assert_uint_eq(ic.code, 1);
    ck_assert_uint_ge(ic.payload_len, 28);
    ck_assert_uint_eq(ic.payload[9], IP_PROTO_ICMP);
    ck_assert_mem_eq(ic.payload + 20, msg, 8);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_timeout_without_first_fragment_sends_nothing)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 800, 800, true);
    th_raw_advance(&r, 31 * TS_SEC);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_TIMEOUT), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_reass_poll_returns_each_expired_datagram_with_its_first_fragment_if_it_came)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 800, true);   /* datagram 7: fragment zero came */
    frag(&r, 8, msg, 800, 800, true); /* datagram 8: only a middle one */
    ts_time_t t = r.now + 30 * TS_SEC, next;
    r.s->now = t;
    struct ts_reass_expired x;
    ck_assert(!ts_reass_poll(r.s, t - 1, &next, &x)); /* not yet */
    ck_assert_uint_eq(next, t);
    ck_assert(ts_reass_poll(r.s, t, &next, &x));
    ck_assert(x.has_first);
    ck_assert_uint_eq(x.first.ip.id, 7);
    ck_assert_uint_eq(x.first.ip.src, TH_IP_A);
    ck_assert_uint_eq(x.first.ip.proto, IP_PROTO_ICMP);
    ck_assert_uint_eq(x.first.ip.frag_off, 0);
    ck_assert_uint_eq(x.first.ip.payload_len, 800);
    ck_assert_mem_eq(x.first.ip.payload, msg, 800);
    ck_assert(ts_reass_poll(r.s, t, &next, &x));
    ck_assert(!x.has_first); /* nothing to quote for datagram 8 */
    ck_assert(!ts_reass_poll(r.s, t, &next, &x));
    ck_assert_uint_eq(next, TS_TIME_NEVER);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_TIMEOUT), 2);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    /* reassembly sends nothing itself: "time exceeded" is the conductor's to send */
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_TX), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

/* Send a fragment of a protocol-99 datagram, in a frame to our MAC or to the broadcast MAC. */
static void frag99(struct th_raw *r, uint16_t id, const uint8_t *data, size_t off, size_t len,
                   bool mf, bool link_broadcast)
{
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, 99, data + off, len);
    ip.id = id;
    ip.frag_off = (uint16_t)off;
    ip.mf = mf;
    size_t l = th_build_ipv4(r->scratch, sizeof r->scratch, link_broadcast ? th_mac_bcast : r->mac,
                             r->peer_mac, &ip);
    th_raw_inject(r, r->scratch, l);
}

START_TEST(test_no_error_about_a_datagram_one_of_whose_fragments_was_a_link_broadcast)
{
    struct th_raw r;
    th_raw_init(&r);
    static uint8_t data[1600];
    /* all fragments to our MAC: the reassembled datagram gets protocol unreachable */
    frag99(&r, 1, data, 0, 800, true, false);
    frag99(&r, 1, data, 800, 800, false, false);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.code, ICMP_UNREACH_PROTO);
    /* fragment zero sent to the broadcast MAC, the completing one to ours: RFC 1122 3.2.2 */
    frag99(&r, 2, data, 0, 800, true, true);
    frag99(&r, 2, data, 800, 800, false, false);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_OK), 2);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_UNKNOWN_PROTO), 2);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    /* nor "time exceeded" when such a datagram expires */
    frag99(&r, 3, data, 0, 800, true, true);
    th_raw_advance(&r, 31 * TS_SEC);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_TIMEOUT), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_fragment_reaching_past_65535_drops_the_datagram)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 800, true);
    struct ipv4_hdr ip = th_ipv4_hdr(r.peer_ip, r.ip, IP_PROTO_ICMP, msg, 16);
    ip.id = 7;
    ip.frag_off = 65520; /* 20 + 65520 + 16 > 65535 */
    th_raw_send_ipv4(&r, &ip);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_TOO_BIG), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_non_final_fragment_not_multiple_of_8_is_dropped)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 0, 801, true);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_BAD_FRAG), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_conflicting_last_fragments_drop_the_datagram)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[2008];
    echo_msg(msg, sizeof msg, 2000, 1);
    frag(&r, 7, msg, 800, 800, false);  /* ends at 1600 */
    frag(&r, 7, msg, 1600, 400, false); /* ends at 2000: which is it? */
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_BAD_FRAG), 1);
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_flood_of_never_completing_fragments_stays_within_memory_bound)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[1480];
    memset(msg, 0x5a, sizeof msg);
    size_t peak = 0;
    for (int i = 0; i < 2000; i++) {
        frag(&r, (uint16_t)i, msg, 0, 1480, true);
        size_t m = ts_reass_memory(r.s);
        if (m > peak)
            peak = m;
    }
    ck_assert_uint_le(peak, 256 * 1024);
    ck_assert_uint_gt(C(r.s, TS_C_IP_REASS_DROP_NO_MEMORY), 1000);
    /* and a real datagram still gets through */
    uint8_t m2[1008];
    size_t l = echo_msg(m2, sizeof m2, 1000, 1);
    frag(&r, 60000, m2, 0, 504, true);
    frag(&r, 60000, m2, 504, l - 504, false);
    expect_echo_reply(&r, 1000);
    th_raw_advance(&r, 31 * TS_SEC); /* what is left times out: memory returns to 0 */
    ck_assert_uint_eq(ts_reass_memory(r.s), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_many_small_datagrams_in_progress_are_bounded_by_slots)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[8] = {0};
    for (int i = 0; i < 100; i++)
        frag(&r, (uint16_t)i, msg, 0, 8, true);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_DROP_NO_MEMORY), 100 - 64);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_8000_byte_echo_from_raw_peer_is_answered_fragmented)
{
    struct th_raw r;
    th_raw_init(&r);
    static uint8_t msg[8008];
    size_t l = echo_msg(msg, sizeof msg, 8000, 3);
    /* as Linux sends it: 1480-byte fragments */
    for (size_t off = 0; off < l; off += 1480)
        frag(&r, 99, msg, off, l - off < 1480 ? l - off : 1480, off + 1480 < l);
    expect_echo_reply(&r, 8000);
    ck_assert_uint_eq(C(r.s, TS_C_IP_FRAG_TX), 6); /* 8008 bytes in 1480-byte pieces */
    th_raw_free(&r);
}
END_TEST

struct capture {
    uint8_t buf[8008];
    size_t got;
    int frags;
};

static void spy(void *arg, enum th_side from, const uint8_t *frame, size_t len, ts_time_t now)
{
    (void)now;
    struct capture *c = arg;
    struct ipv4_hdr ip;
    if (from != TH_B || !th_parse_ipv4(frame, len, &ip) || ip.proto != IP_PROTO_ICMP)
        return;
    ck_assert_uint_le(ip.frag_off + ip.payload_len, sizeof c->buf);
    memcpy(c->buf + ip.frag_off, ip.payload, ip.payload_len);
    c->got += ip.payload_len;
    c->frags++;
}

START_TEST(test_8000_byte_echo_between_two_stacks)
{
    struct th_net n;
    th_net_init(&n, 1 * TS_MS);
    static struct capture cap;
    memset(&cap, 0, sizeof cap);
    n.spy = spy;
    n.spy_arg = &cap;
    static uint8_t data[8000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 31 + 7);
    ck_assert_int_eq(th_ping(&n, TH_A, TH_IP_B, 5, 1, data, sizeof data), 0);
    th_run(&n, 100 * TS_MS);
    ck_assert_uint_eq(C(n.a, TS_C_IP_FRAG_TX), 6);
    ck_assert_uint_eq(C(n.b, TS_C_IP_REASS_OK), 1);
    ck_assert_uint_eq(C(n.b, TS_C_ICMP_ECHO_REPLIED), 1);
    ck_assert_uint_eq(C(n.a, TS_C_IP_REASS_OK), 1); /* the reply, reassembled by A */
    ck_assert_int_eq(cap.frags, 6);
    ck_assert_uint_eq(cap.got, 8008);
    struct icmp_hdr ic;
    ck_assert_int_eq(icmp_parse(cap.buf, 8008, &ic), TS_C_OK);
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.id, 5);
    ck_assert_uint_eq(ic.seq, 1);
    ck_assert_mem_eq(ic.payload, data, sizeof data);
    ck_assert_uint_eq(ts_reass_memory(n.a), 0);
    ck_assert_uint_eq(ts_reass_memory(n.b), 0);
    th_net_free(&n);
}
END_TEST

static Suite *reass_suite(void)
{
    Suite *s = suite_create("reass");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fragments_in_order_are_reassembled);
    tcase_add_test(tc, test_fragments_out_of_order_are_reassembled);
    tcase_add_test(tc, test_interleaved_datagrams_are_kept_apart_by_id);
    tcase_add_test(tc, test_duplicate_fragment_is_counted_and_ignored);
    tcase_add_test(tc, test_overlap_with_same_bytes_still_reassembles);
    tcase_add_test(tc, test_overlap_with_different_bytes_drops_the_whole_datagram);
    tcase_add_test(tc, test_incomplete_datagram_times_out_after_30_s_with_time_exceeded);
    tcase_add_test(tc, test_timeout_without_first_fragment_sends_nothing);
    tcase_add_test(tc, test_no_error_about_a_datagram_one_of_whose_fragments_was_a_link_broadcast);
    tcase_add_test(
        tc, test_reass_poll_returns_each_expired_datagram_with_its_first_fragment_if_it_came);
    tcase_add_test(tc, test_fragment_reaching_past_65535_drops_the_datagram);
    tcase_add_test(tc, test_non_final_fragment_not_multiple_of_8_is_dropped);
    tcase_add_test(tc, test_conflicting_last_fragments_drop_the_datagram);
    tcase_add_test(tc, test_flood_of_never_completing_fragments_stays_within_memory_bound);
    tcase_add_test(tc, test_many_small_datagrams_in_progress_are_bounded_by_slots);
    tcase_add_test(tc, test_8000_byte_echo_from_raw_peer_is_answered_fragmented);
    tcase_add_test(tc, test_8000_byte_echo_between_two_stacks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reass_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
