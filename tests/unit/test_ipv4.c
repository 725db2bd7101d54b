/* IPv4 (RFC 791, RFC 1122 3.2/3.3): every reject path is counted and silent; addresses we
 * accept; the transmit path (TTL, id, DF, routing, fragmentation). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "wire/checksum.h"

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

#define IPOFF ETH_HDR_LEN

/* A valid echo request frame from the peer into f; returns its length. */
static size_t echo_frame(struct th_raw *r, uint8_t *f, size_t cap, uint32_t src, uint32_t dst)
{
    uint8_t msg[64];
    size_t l = th_build_icmp_echo(msg, sizeof msg, 1, 1, "abcdefgh", 8);
    struct ipv4_hdr ip = th_ipv4_hdr(src, dst, IP_PROTO_ICMP, msg, l);
    return th_build_ipv4(f, cap, r->mac, r->peer_mac, &ip);
}

static void fix_csum(uint8_t *iph, size_t hl)
{
    iph[10] = iph[11] = 0;
    uint16_t c = csum(iph, hl);
    iph[10] = (uint8_t)(c >> 8);
    iph[11] = (uint8_t)c;
}

/* Inject f and check that exactly counter `why` moved, and that nothing was sent back. */
static void expect_drop(struct th_raw *r, const uint8_t *f, size_t len, enum ts_counter why)
{
    uint64_t before = C(r->s, why), replied = C(r->s, TS_C_ICMP_ECHO_REPLIED);
    th_raw_inject(r, f, len);
    ck_assert_uint_eq(C(r->s, why), before + 1);
    ck_assert_uint_eq(C(r->s, TS_C_ICMP_ECHO_REPLIED), replied);
    ck_assert_uint_eq(th_raw_recv(r, NULL, 0), 0);
}

/* An echo request whose IPv4 header carries n (a multiple of 4) bytes of options, into f; its
 * length. */
static size_t echo_with_options(struct th_raw *r, uint8_t *f, size_t cap, const uint8_t *opts,
                                size_t n)
{
    uint8_t msg[16];
    size_t ml = th_build_icmp_echo(msg, sizeof msg, 1, 1, "abcdefgh", 8);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, ml);
    size_t l = th_build_ipv4(f, cap - n, r->mac, r->peer_mac, &ip);
    memmove(f + IPOFF + 20 + n, f + IPOFF + 20, l - IPOFF - 20);
    memcpy(f + IPOFF + 20, opts, n);
    f[IPOFF] = (uint8_t)(0x40 | (20 + n) / 4);
    f[IPOFF + 3] = (uint8_t)(f[IPOFF + 3] + n);
    fix_csum(f + IPOFF, 20 + n);
    return l + n;
}

/* A plain echo request is answered with an echo reply. */
static void expect_echo_answered(struct th_raw *r)
{
    uint8_t f[128];
    size_t l = echo_frame(r, f, sizeof f, TH_IP_A, TH_IP_B);
    th_raw_inject(r, f, l);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
}

START_TEST(test_valid_echo_frame_is_answered)
{
    struct th_raw r;
    th_raw_init(&r);
    expect_echo_answered(&r);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_datagram_shorter_than_header_is_dropped_truncated)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    expect_drop(&r, f, IPOFF + 19, TS_C_IP_DROP_TRUNCATED);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_version_6_is_dropped_bad_version)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF] = 0x65;
    fix_csum(f + IPOFF, 20);
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_VERSION);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_header_length_below_20_or_past_the_data_is_dropped_bad_hdrlen)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF] = 0x44; /* 16 bytes */
    fix_csum(f + IPOFF, 20);
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_HDRLEN);
    l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF] = 0x4f; /* 60 bytes, but the datagram is 36 long */
    expect_drop(&r, f, IPOFF + 36, TS_C_IP_DROP_BAD_HDRLEN);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_total_length_beyond_frame_or_below_header_is_dropped_bad_len)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF + 2] = 0;
    f[IPOFF + 3] = 200; /* claims 200 bytes, frame holds 36 */
    fix_csum(f + IPOFF, 20);
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_LEN);
    l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF + 3] = 10;
    fix_csum(f + IPOFF, 20);
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_LEN);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_bad_header_checksum_is_dropped_silently)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    f[IPOFF + 10] ^= 0x01;
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_CSUM);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_malformed_options_are_dropped_bad_options)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    const uint8_t opts[4] = {7, 40, 4, 0}; /* record route claiming 40 bytes of a 4-byte space */
    size_t l = echo_with_options(&r, f, sizeof f, opts, sizeof opts);
    expect_drop(&r, f, l, TS_C_IP_DROP_BAD_OPTIONS);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_valid_options_are_skipped_and_datagram_delivered)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    const uint8_t opts[4] = {1, 1, 1, 0}; /* NOP NOP NOP EOL */
    size_t l = echo_with_options(&r, f, sizeof f, opts, sizeof opts);
    th_raw_inject(&r, f, l);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_mem_eq(ic.payload, "abcdefgh", 8);
    th_raw_free(&r);
}
END_TEST

/* RFC 7126 4.3, 4.4 (and Linux's accept_source_route = 0): a datagram with a loose or strict
 * source route is refused, counted, unanswered. An echo request with a well-formed LSRR (type
 * 0x83, 7 bytes, pointer 4: one address to go) and one with SSRR (0x89), each after a NOP; then
 * the same echo without the route is answered. */
START_TEST(test_source_routed_datagrams_are_refused)
{
    struct th_raw r;
    th_raw_init(&r);
    const uint8_t types[2] = {0x83, 0x89};
    for (int i = 0; i < 2; i++) {
        uint8_t f[128];
        const uint8_t opts[8] = {1, types[i], 7, 4, 10, 9, 9, 9};
        size_t l = echo_with_options(&r, f, sizeof f, opts, sizeof opts);
        expect_drop(&r, f, l, TS_C_IP_DROP_SOURCE_ROUTE);
    }
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_SOURCE_ROUTE), 2);
    expect_echo_answered(&r);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_ethernet_padding_after_total_length_is_ignored)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, TH_IP_B);
    ck_assert_uint_lt(l, 64);
    memset(f + l, 0xee, 64 - l); /* short frames are padded to the Ethernet minimum */
    th_raw_inject(&r, f, 64);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.payload_len, 8);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_datagram_for_another_host_is_not_forwarded)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, th_ip(10, 0, 0, 77));
    expect_drop(&r, f, l, TS_C_IP_DROP_NOT_FOR_US);
    l = echo_frame(&r, f, sizeof f, TH_IP_A, th_ip(8, 8, 8, 8));
    expect_drop(&r, f, l, TS_C_IP_DROP_NOT_FOR_US);
    l = echo_frame(&r, f, sizeof f, TH_IP_A, th_ip(224, 0, 0, 1));
    expect_drop(&r, f, l, TS_C_IP_DROP_NOT_FOR_US);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_impossible_sources_are_dropped_bad_src)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    const uint32_t bad[] = {IPV4_BROADCAST,
                            th_ip(10, 0, 0, 255),
                            th_ip(224, 0, 0, 5),
                            TH_IP_B /* ours */,
                            th_ip(127, 0, 0, 1),
                            th_ip(240, 0, 0, 1),
                            0 /* to unicast */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t l = echo_frame(&r, f, sizeof f, bad[i], TH_IP_B);
        expect_drop(&r, f, l, TS_C_IP_DROP_BAD_SRC);
    }
    th_raw_free(&r);
}
END_TEST

START_TEST(test_broadcast_destinations_are_accepted)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t f[128];
    /* ICMP refuses to answer them, which shows IP handed them up. */
    size_t l = echo_frame(&r, f, sizeof f, TH_IP_A, IPV4_BROADCAST);
    th_raw_inject(&r, f, l);
    l = echo_frame(&r, f, sizeof f, TH_IP_A, th_ip(10, 0, 0, 255));
    th_raw_inject(&r, f, l);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_BROADCAST), 2);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_NOT_FOR_US), 0);
    th_raw_free(&r);
}
END_TEST

/* ---- transmit */

static int send_from(struct th_raw *r, uint32_t dst, size_t len, bool df)
{
    size_t cap;
    uint8_t *p = ts_ip_tx_buf(r->s, &cap);
    ck_assert_uint_eq(cap, 65515);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    r->s->now = r->now;
    return ts_ip_send(r->s, 0, dst, 253 /* experimental */, len, df, 0x10);
}

START_TEST(test_sent_datagram_has_ttl_64_our_source_and_increasing_ids)
{
    struct th_raw r;
    th_raw_init(&r);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 100, true), 0);
    struct ipv4_hdr a, b;
    ck_assert(th_raw_recv_ipv4(&r, &a));
    ck_assert_uint_eq(a.ttl, 64);
    ck_assert_uint_eq(a.src, TH_IP_B);
    ck_assert_uint_eq(a.dst, TH_IP_A);
    ck_assert_uint_eq(a.proto, 253);
    ck_assert_uint_eq(a.tos, 0x10);
    ck_assert(a.df);
    ck_assert(!a.mf);
    ck_assert_uint_eq(a.payload_len, 100);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 100, false), 0);
    ck_assert(th_raw_recv_ipv4(&r, &b));
    ck_assert(!b.df);
    ck_assert_uint_eq((uint16_t)(a.id + 1), b.id);
    ck_assert_uint_eq(C(r.s, TS_C_IP_TX), 2);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_no_route_without_gateway_returns_enetunreach)
{
    struct ts_config c;
    th_config(&c, TH_B);
    c.gateway = 0;
    struct th_raw_opts o = {.cfg = &c};
    struct th_raw r;
    th_raw_init_ex(&r, &o);
    ck_assert_int_eq(send_from(&r, th_ip(192, 168, 1, 1), 10, false), -ENETUNREACH);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_NO_ROUTE), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_eq(ts_ip_route(r.s, th_ip(10, 0, 0, 50)), th_ip(10, 0, 0, 50));
    th_raw_free(&r);
}
END_TEST

START_TEST(test_route_prefers_on_link_then_gateway)
{
    struct th_raw r;
    th_raw_init(&r);
    ck_assert_uint_eq(ts_ip_route(r.s, th_ip(10, 0, 0, 50)), th_ip(10, 0, 0, 50));
    ck_assert_uint_eq(ts_ip_route(r.s, th_ip(10, 0, 1, 50)), TH_IP_A);
    /* our own addresses route to themselves: the loopback queue (test_loopback) */
    ck_assert_uint_eq(ts_ip_route(r.s, th_ip(127, 0, 0, 1)), th_ip(127, 0, 0, 1));
    ck_assert_uint_eq(ts_ip_route(r.s, TH_IP_B), TH_IP_B);
    ck_assert_uint_eq(ts_ip_route(r.s, th_ip(224, 0, 0, 1)), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_df_datagram_larger_than_mtu_is_refused_emsgsize)
{
    struct th_raw r;
    th_raw_init(&r);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 1481, true), -EMSGSIZE);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_DF_TOO_BIG), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 1480, true), 0); /* exactly the MTU fits */
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_uint_eq(ip.total_len, 1500);
    th_raw_free(&r);
}
END_TEST

/* Collect the fragments of one datagram from the raw peer and check them against send_from's
 * pattern. Returns the number of fragments. */
static int check_fragments(struct th_raw *r, size_t len, size_t mtu)
{
    size_t chunk = (mtu - 20) & ~(size_t)7, seen = 0;
    int n = 0;
    uint16_t id = 0;
    struct ipv4_hdr ip;
    while (seen < len) {
        ck_assert(th_raw_recv_ipv4(r, &ip));
        if (n == 0)
            id = ip.id;
        ck_assert_uint_eq(ip.id, id);
        ck_assert_uint_eq(ip.frag_off, seen);
        ck_assert_uint_eq(ip.frag_off % 8, 0);
        ck_assert_uint_le(ip.total_len, mtu);
        size_t expect = len - seen < chunk ? len - seen : chunk;
        ck_assert_uint_eq(ip.payload_len, expect);
        ck_assert(ip.mf == (seen + expect < len));
        for (size_t i = 0; i < ip.payload_len; i++)
            ck_assert_uint_eq(ip.payload[i], (uint8_t)((seen + i) * 7 + 3));
        seen += ip.payload_len;
        n++;
    }
    ck_assert_uint_eq(th_raw_recv(r, NULL, 0), 0);
    return n;
}

START_TEST(test_large_datagram_is_fragmented_on_8_byte_boundaries)
{
    struct th_raw r;
    th_raw_init(&r);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 3000, false), 0);
    ck_assert_int_eq(check_fragments(&r, 3000, 1500), 3);
    ck_assert_uint_eq(C(r.s, TS_C_IP_FRAG_TX), 3);
    ck_assert_uint_eq(C(r.s, TS_C_IP_TX), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_fragmentation_respects_a_small_mtu_and_the_largest_datagram)
{
    struct ts_config c;
    th_config(&c, TH_B);
    c.mtu = 576;
    struct th_raw_opts o = {.cfg = &c};
    struct th_raw r;
    th_raw_init_ex(&r, &o);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 65515, false), 0);
    ck_assert_int_eq(check_fragments(&r, 65515, 576), (65515 + 551) / 552);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 65516, false), -EMSGSIZE);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_fragmented_datagram_waits_for_arp_as_a_whole)
{
    struct th_raw_opts o = {.manual_arp = true};
    struct th_raw r;
    th_raw_init_ex(&r, &o);
    th_raw_flush(&r);
    ck_assert_int_eq(send_from(&r, TH_IP_A, 3000, false), 0);
    struct arp_pkt a;
    ck_assert(th_raw_recv_arp(&r, &a));
    struct arp_pkt rep = {.op = ARP_OP_REPLY, .spa = TH_IP_A, .tpa = TH_IP_B};
    memcpy(rep.sha, th_mac_a, 6);
    memcpy(rep.tha, th_mac_b, 6);
    th_raw_send_arp(&r, &rep, th_mac_b);
    ck_assert_int_eq(check_fragments(&r, 3000, 1500), 3);
    th_raw_free(&r);
}
END_TEST

/* ---- what ts_ipv4_input returns to the conductor */

/* The link layer's view of an IPv4 frame built by th_build_ipv4. */
static struct ts_link_rx link_rx(const uint8_t *f, size_t l, bool broadcast)
{
    return (struct ts_link_rx){.type = ETH_TYPE_IPV4,
                               .broadcast = broadcast,
                               .payload = f + ETH_HDR_LEN,
                               .len = l - ETH_HDR_LEN};
}

START_TEST(test_ipv4_input_returns_a_datagram_for_us_with_how_it_came)
{
    struct th_raw r;
    th_raw_init(&r);
    r.s->now = r.now;
    uint8_t data[40], f[128];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i + 1);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_UDP, data, sizeof data);
    size_t l = th_build_ipv4(f, sizeof f, th_mac_b, th_mac_a, &ip);
    struct ts_link_rx in = link_rx(f, l, false);
    struct ts_ip_rx out;
    ck_assert(ts_ipv4_input(r.s, &in, &out));
    ck_assert_uint_eq(out.ip.src, TH_IP_A);
    ck_assert_uint_eq(out.ip.dst, TH_IP_B);
    ck_assert_uint_eq(out.ip.proto, IP_PROTO_UDP);
    ck_assert_uint_eq(out.ip.payload_len, sizeof data);
    ck_assert_mem_eq(out.ip.payload, data, sizeof data);
    ck_assert(!out.link_broadcast);
    /* the link layer's "sent to broadcast" travels with the datagram */
    in.broadcast = true;
    ck_assert(ts_ipv4_input(r.s, &in, &out));
    ck_assert(out.link_broadcast);
    /* one for another host is dropped and counted, and nothing is returned */
    ip.dst = th_ip(10, 0, 0, 77);
    l = th_build_ipv4(f, sizeof f, th_mac_b, th_mac_a, &ip);
    in = link_rx(f, l, false);
    ck_assert(!ts_ipv4_input(r.s, &in, &out));
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_NOT_FOR_US), 1);
    /* ipv4 hands nothing on by itself: no protocol saw any of the three */
    ck_assert_uint_eq(C(r.s, TS_C_UDP_RX), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_ipv4_input_returns_the_reassembled_datagram_when_its_last_fragment_comes)
{
    struct th_raw r;
    th_raw_init(&r);
    r.s->now = r.now;
    static uint8_t data[1800], f[3][1024];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    const size_t off[3] = {0, 800, 1600}, len[3] = {800, 800, 200};
    struct ts_link_rx in[3];
    for (int k = 0; k < 3; k++) {
        struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, 99, data + off[k], len[k]);
        ip.id = 0x1234;
        ip.frag_off = (uint16_t)off[k];
        ip.mf = k < 2;
        in[k] = link_rx(f[k], th_build_ipv4(f[k], sizeof f[k], th_mac_b, th_mac_a, &ip), false);
    }
    struct ts_ip_rx out;
    ck_assert(!ts_ipv4_input(r.s, &in[2], &out)); /* out of order: the last first */
    ck_assert(!ts_ipv4_input(r.s, &in[0], &out));
    memset(f[0], 0, sizeof f[0]); /* reassembly keeps its own copy */
    ck_assert(ts_ipv4_input(r.s, &in[1], &out));
    ck_assert_uint_eq(out.ip.proto, 99);
    ck_assert_uint_eq(out.ip.id, 0x1234);
    ck_assert_uint_eq(out.ip.frag_off, 0);
    ck_assert(!out.ip.mf);
    ck_assert_uint_eq(out.ip.payload_len, sizeof data);
    ck_assert_mem_eq(out.ip.payload, data, sizeof data);
    ck_assert_uint_eq(C(r.s, TS_C_IP_REASS_OK), 1);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_UNKNOWN_PROTO), 0); /* the caller dispatches, not ipv4 */
    th_raw_free(&r);
}
END_TEST

static Suite *ipv4_suite(void)
{
    Suite *s = suite_create("ipv4");
    TCase *in = tcase_create("input");
    tcase_add_test(in, test_valid_echo_frame_is_answered);
    tcase_add_test(in, test_datagram_shorter_than_header_is_dropped_truncated);
    tcase_add_test(in, test_version_6_is_dropped_bad_version);
    tcase_add_test(in, test_header_length_below_20_or_past_the_data_is_dropped_bad_hdrlen);
    tcase_add_test(in, test_total_length_beyond_frame_or_below_header_is_dropped_bad_len);
    tcase_add_test(in, test_bad_header_checksum_is_dropped_silently);
    tcase_add_test(in, test_malformed_options_are_dropped_bad_options);
    tcase_add_test(in, test_valid_options_are_skipped_and_datagram_delivered);
    tcase_add_test(in, test_source_routed_datagrams_are_refused);
    tcase_add_test(in, test_ethernet_padding_after_total_length_is_ignored);
    tcase_add_test(in, test_datagram_for_another_host_is_not_forwarded);
    tcase_add_test(in, test_impossible_sources_are_dropped_bad_src);
    tcase_add_test(in, test_broadcast_destinations_are_accepted);
    tcase_add_test(in, test_ipv4_input_returns_a_datagram_for_us_with_how_it_came);
    tcase_add_test(in,
                   test_ipv4_input_returns_the_reassembled_datagram_when_its_last_fragment_comes);
    suite_add_tcase(s, in);
    TCase *out = tcase_create("output");
    tcase_add_test(out, test_sent_datagram_has_ttl_64_our_source_and_increasing_ids);
    tcase_add_test(out, test_no_route_without_gateway_returns_enetunreach);
    tcase_add_test(out, test_route_prefers_on_link_then_gateway);
    tcase_add_test(out, test_df_datagram_larger_than_mtu_is_refused_emsgsize);
    tcase_add_test(out, test_large_datagram_is_fragmented_on_8_byte_boundaries);
    tcase_add_test(out, test_fragmentation_respects_a_small_mtu_and_the_largest_datagram);
    tcase_add_test(out, test_fragmented_datagram_waits_for_arp_as_a_whole);
    suite_add_tcase(s, out);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ipv4_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
