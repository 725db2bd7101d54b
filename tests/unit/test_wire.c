/* Wire formats: parse/emit round trips, every reject path, known answers, TCP option layout.
 *
 * Every parser is handed buffers that end exactly at `len` (a malloc of that size), so the
 * ASan build turns any read past the end into a failure. Known answers come from outside this
 * code: RFC 1071's worked example, a textbook IPv4 header, and segments built by scapy. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/counters.h"
#include "tapstack/stack.h"
#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define IP_A 0x0a000001u /* 10.0.0.1 */
#define IP_B 0x0a000002u /* 10.0.0.2 */

/* ---- helpers ---- */

/* A heap copy of exactly len bytes: reading past it is an ASan error. */
static uint8_t *exact(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex, "%2x", &v), 1);
        ck_assert_uint_lt(n, cap);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* The checksum the slow, obvious way (RFC 1071 section 1), to check the fast one against. */
static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t start)
{
    uint64_t s = start;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ===================================================================== checksum */

START_TEST(test_rfc1071_example_bytes_checksum_to_220d)
{
    /* RFC 1071 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement), checksum 220d. */
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    ck_assert_uint_eq(csum(b, sizeof(b)), 0x220d);
    ck_assert_uint_eq(csum_fold(csum_add(0, b, sizeof(b))), 0x220d);
}
END_TEST

START_TEST(test_captured_ipv4_header_checksum_is_b861_and_verifies_to_zero)
{
    /* A classic captured header: 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, DF, checksum b861. */
    uint8_t h[20];
    unhex("450000730000400040110000c0a80001c0a800c7", h, sizeof(h));
    ck_assert_uint_eq(csum(h, 20), 0xb861);
    put16(h + 10, 0xb861);
    ck_assert_uint_eq(csum(h, 20), 0);
}
END_TEST

START_TEST(test_odd_length_pads_last_byte_as_high_byte)
{
    const uint8_t b[] = {0x12, 0x34, 0x56};
    /* 0x1234 + 0x5600 = 0x6834 -> ~ = 0x97cb */
    ck_assert_uint_eq(csum(b, 3), 0x97cb);
    ck_assert_uint_eq(csum(b, 1), (uint16_t)~0x1200);
    ck_assert_uint_eq(csum(b, 0), 0xffff);
}
END_TEST

START_TEST(test_fast_checksum_matches_reference_at_every_length_and_alignment)
{
    static uint8_t buf[1600];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= 300; len++)
            ck_assert_uint_eq(csum(buf + off, len), ref_csum(buf + off, len, 0));
    ck_assert_uint_eq(csum(buf, sizeof(buf)), ref_csum(buf, sizeof(buf), 0));
    /* All ones data: carries at every step. */
    uint8_t ff[1501];
    memset(ff, 0xff, sizeof(ff));
    for (size_t len = 0; len <= sizeof(ff); len += 7)
        ck_assert_uint_eq(csum(ff, len), ref_csum(ff, len, 0));
}
END_TEST

START_TEST(test_chained_even_pieces_equal_the_whole)
{
    uint8_t b[101];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 37 + 11);
    uint32_t s = csum_add(0, b, 40);
    s = csum_add(s, b + 40, 2);
    s = csum_add(s, b + 42, 59);
    ck_assert_uint_eq(csum_fold(s), csum(b, sizeof(b)));
    /* a large running sum (as from a pseudo-header) is carried correctly */
    ck_assert_uint_eq(csum_fold(csum_add(0xfffffff0u, b, sizeof(b))),
                      ref_csum(b, sizeof(b), 0xfffffff0u));
}
END_TEST

START_TEST(test_pseudo_header_sums_addresses_protocol_and_length)
{
    /* 10.0.0.1, 10.0.0.2, proto 6, len 40: 0a00 + 0001 + 0a00 + 0002 + 0006 + 0028 */
    ck_assert_uint_eq(csum_fold(csum_pseudo(IP_A, IP_B, 6, 40)),
                      (uint16_t) ~(0x0a00 + 1 + 0x0a00 + 2 + 6 + 40));
    uint8_t ph[12];
    unhex("c0a80001c0a800c70011ffff", ph, sizeof(ph));
    ck_assert_uint_eq(csum_fold(csum_pseudo(0xc0a80001u, 0xc0a800c7u, 17, 0xffff)),
                      ref_csum(ph, 12, 0));
}
END_TEST

static Suite *checksum_suite(void)
{
    Suite *s = suite_create("checksum");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rfc1071_example_bytes_checksum_to_220d);
    tcase_add_test(tc, test_captured_ipv4_header_checksum_is_b861_and_verifies_to_zero);
    tcase_add_test(tc, test_odd_length_pads_last_byte_as_high_byte);
    tcase_add_test(tc, test_fast_checksum_matches_reference_at_every_length_and_alignment);
    tcase_add_test(tc, test_chained_even_pieces_equal_the_whole);
    tcase_add_test(tc, test_pseudo_header_sums_addresses_protocol_and_length);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== eth */

START_TEST(test_eth_emit_then_parse_gives_same_header_and_payload)
{
    uint8_t f[64] = {0};
    struct eth_hdr h = {.dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                        .src = {0x02, 0, 0, 0, 0, 0x02},
                        .type = ETH_TYPE_ARP};
    ck_assert_uint_eq(eth_emit(&h, f, sizeof(f)), ETH_HDR_LEN);
    const uint8_t want[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                              0,    0,    0,    0,    0x02, 0x08, 0x06};
    ck_assert_mem_eq(f, want, 14);
    struct eth_hdr p;
    uint8_t *b = exact(f, 60);
    ck_assert_int_eq(eth_parse(b, 60, &p), TS_C_OK);
    ck_assert_mem_eq(p.dst, h.dst, 6);
    ck_assert_mem_eq(p.src, h.src, 6);
    ck_assert_uint_eq(p.type, ETH_TYPE_ARP);
    ck_assert_ptr_eq(p.payload, b + 14);
    ck_assert_uint_eq(p.payload_len, 46);
    free(b);
}
END_TEST

START_TEST(test_eth_frame_shorter_than_14_bytes_is_truncated_at_every_length)
{
    uint8_t f[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00};
    struct eth_hdr p;
    for (size_t len = 0; len < ETH_HDR_LEN; len++) {
        uint8_t *b = exact(f, len);
        ck_assert_int_eq(eth_parse(b, len, &p), TS_C_ETH_DROP_TRUNCATED);
        free(b);
    }
    uint8_t *b = exact(f, 14);
    ck_assert_int_eq(eth_parse(b, 14, &p), TS_C_OK);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_uint_eq(p.type, ETH_TYPE_IPV4);
    free(b);
}
END_TEST

START_TEST(test_eth_emit_refuses_a_buffer_smaller_than_the_header)
{
    uint8_t f[13];
    struct eth_hdr h = {.type = ETH_TYPE_IPV4};
    ck_assert_uint_eq(eth_emit(&h, f, sizeof(f)), 0);
}
END_TEST

static Suite *eth_suite(void)
{
    Suite *s = suite_create("eth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_eth_emit_then_parse_gives_same_header_and_payload);
    tcase_add_test(tc, test_eth_frame_shorter_than_14_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_eth_emit_refuses_a_buffer_smaller_than_the_header);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== arp */

/* who-has 10.0.0.2 tell 10.0.0.1, from 02:00:00:00:00:01 */
static const char *ARP_REQ_HEX = "0001080006040001020000000001"
                                 "0a000001000000000000"
                                 "0a000002";

START_TEST(test_arp_request_emits_rfc826_bytes_and_parses_back)
{
    struct arp_pkt a = {.op = ARP_OP_REQUEST,
                        .sha = {0x02, 0, 0, 0, 0, 0x01},
                        .spa = IP_A,
                        .tha = {0},
                        .tpa = IP_B};
    uint8_t want[28], got[28];
    ck_assert_uint_eq(unhex(ARP_REQ_HEX, want, sizeof(want)), 28);
    ck_assert_uint_eq(arp_emit(&a, got, sizeof(got)), ARP_PKT_LEN);
    ck_assert_mem_eq(got, want, 28);
    struct arp_pkt p;
    uint8_t *b = exact(got, 28);
    ck_assert_int_eq(arp_parse(b, 28, &p), TS_C_OK);
    ck_assert_uint_eq(p.op, ARP_OP_REQUEST);
    ck_assert_mem_eq(p.sha, a.sha, 6);
    ck_assert_mem_eq(p.tha, a.tha, 6);
    ck_assert_uint_eq(p.spa, IP_A);
    ck_assert_uint_eq(p.tpa, IP_B);
    free(b);
}
END_TEST

START_TEST(test_arp_reply_round_trips_and_ethernet_padding_is_ignored)
{
    struct arp_pkt a = {.op = ARP_OP_REPLY,
                        .sha = {0x02, 0, 0, 0, 0, 0x02},
                        .spa = IP_B,
                        .tha = {0x02, 0, 0, 0, 0, 0x01},
                        .tpa = IP_A};
    uint8_t f[46] = {0};
    ck_assert_uint_eq(arp_emit(&a, f, sizeof(f)), 28);
    struct arp_pkt p;
    uint8_t *b = exact(f, 46);
    ck_assert_int_eq(arp_parse(b, 46, &p), TS_C_OK);
    ck_assert_uint_eq(p.op, ARP_OP_REPLY);
    ck_assert_mem_eq(p.sha, a.sha, 6);
    ck_assert_mem_eq(p.tha, a.tha, 6);
    ck_assert_uint_eq(p.spa, IP_B);
    ck_assert_uint_eq(p.tpa, IP_A);
    free(b);
}
END_TEST

START_TEST(test_arp_shorter_than_28_bytes_is_truncated_at_every_length)
{
    uint8_t f[28];
    unhex(ARP_REQ_HEX, f, sizeof(f));
    struct arp_pkt p;
    for (size_t len = 0; len < ARP_PKT_LEN; len++) {
        uint8_t *b = exact(f, len);
        ck_assert_int_eq(arp_parse(b, len, &p), TS_C_ARP_DROP_TRUNCATED);
        free(b);
    }
}
END_TEST

START_TEST(test_arp_not_ethernet_ipv4_is_bad_format)
{
    /* byte offset, bad value: htype 6 (IEEE 802), ptype 0x86dd, hlen 8, plen 16 */
    const struct {
        size_t off;
        uint8_t v;
    } bad[] = {{1, 6}, {0, 1}, {2, 0x86}, {3, 0xdd}, {4, 8}, {4, 0}, {5, 16}, {5, 6}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t f[28];
        unhex(ARP_REQ_HEX, f, sizeof(f));
        f[bad[i].off] = bad[i].v;
        struct arp_pkt p;
        ck_assert_int_eq(arp_parse(f, 28, &p), TS_C_ARP_DROP_BAD_FORMAT);
    }
}
END_TEST

START_TEST(test_arp_opcode_other_than_request_or_reply_is_bad_op)
{
    const uint16_t ops[] = {0, 3, 4, 8, 0x0101, 0xffff};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        uint8_t f[28];
        unhex(ARP_REQ_HEX, f, sizeof(f));
        put16(f + 6, ops[i]);
        struct arp_pkt p;
        ck_assert_int_eq(arp_parse(f, 28, &p), TS_C_ARP_DROP_BAD_OP);
    }
}
END_TEST

START_TEST(test_arp_emit_refuses_a_buffer_smaller_than_28)
{
    struct arp_pkt a = {.op = ARP_OP_REQUEST};
    uint8_t f[27];
    ck_assert_uint_eq(arp_emit(&a, f, sizeof(f)), 0);
}
END_TEST

static Suite *arp_suite(void)
{
    Suite *s = suite_create("arp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_arp_request_emits_rfc826_bytes_and_parses_back);
    tcase_add_test(tc, test_arp_reply_round_trips_and_ethernet_padding_is_ignored);
    tcase_add_test(tc, test_arp_shorter_than_28_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_arp_not_ethernet_ipv4_is_bad_format);
    tcase_add_test(tc, test_arp_opcode_other_than_request_or_reply_is_bad_op);
    tcase_add_test(tc, test_arp_emit_refuses_a_buffer_smaller_than_28);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== ipv4 */

/* A header with options opts[olen] (olen a multiple of 4) and plen payload bytes, correct
 * checksum. Returns the datagram length. */
static size_t ip_build(uint8_t *b, const uint8_t *opts, size_t olen, size_t plen)
{
    size_t hl = 20 + olen;
    memset(b, 0, hl + plen);
    b[0] = (uint8_t)(0x40 | (hl / 4));
    put16(b + 2, (uint16_t)(hl + plen));
    put16(b + 4, 0x1234);
    b[8] = 64;
    b[9] = IP_PROTO_UDP;
    b[12] = 10, b[15] = 1, b[16] = 10, b[19] = 2;
    if (olen)
        memcpy(b + 20, opts, olen);
    for (size_t i = 0; i < plen; i++)
        b[hl + i] = (uint8_t)i;
    put16(b + 10, ref_csum(b, hl, 0));
    return hl + plen;
}

static void ip_fix_csum(uint8_t *b)
{
    size_t hl = (size_t)(b[0] & 15) * 4;
    put16(b + 10, 0);
    put16(b + 10, ref_csum(b, hl, 0));
}

START_TEST(test_ipv4_emit_reproduces_captured_header_byte_for_byte)
{
    uint8_t want[20], got[20];
    unhex("45000073000040004011b861c0a80001c0a800c7", want, sizeof(want));
    struct ipv4_hdr h = {.tos = 0,
                         .id = 0,
                         .df = true,
                         .ttl = 64,
                         .proto = IP_PROTO_UDP,
                         .src = 0xc0a80001u,
                         .dst = 0xc0a800c7u,
                         .payload_len = 0x73 - 20};
    ck_assert_uint_eq(ipv4_emit(&h, got, sizeof(got)), 20);
    ck_assert_mem_eq(got, want, 20);
}
END_TEST

START_TEST(test_ipv4_emit_then_parse_gives_same_fields)
{
    uint8_t d[200];
    struct ipv4_hdr h = {.tos = 0x10,
                         .id = 0xbeef,
                         .df = false,
                         .mf = true,
                         .frag_off = 1480,
                         .ttl = 1,
                         .proto = IP_PROTO_ICMP,
                         .src = IP_A,
                         .dst = IP_B,
                         .payload_len = 100};
    for (int i = 0; i < 100; i++)
        d[20 + i] = (uint8_t)(i ^ 0x5a);
    ck_assert_uint_eq(ipv4_emit(&h, d, sizeof(d)), 20);
    uint8_t *b = exact(d, 120);
    struct ipv4_hdr p;
    ck_assert_int_eq(ipv4_parse(b, 120, &p), TS_C_OK);
    ck_assert_uint_eq(p.hdr_len, 20);
    ck_assert_uint_eq(p.tos, 0x10);
    ck_assert_uint_eq(p.total_len, 120);
    ck_assert_uint_eq(p.id, 0xbeef);
    ck_assert(!p.df);
    ck_assert(p.mf);
    ck_assert_uint_eq(p.frag_off, 1480);
    ck_assert_uint_eq(p.ttl, 1);
    ck_assert_uint_eq(p.proto, IP_PROTO_ICMP);
    ck_assert_uint_eq(p.src, IP_A);
    ck_assert_uint_eq(p.dst, IP_B);
    ck_assert_ptr_null(p.options);
    ck_assert_ptr_eq(p.payload, b + 20);
    ck_assert_uint_eq(p.payload_len, 100);
    ck_assert_mem_eq(p.payload, d + 20, 100);
    free(b);

    /* DF alone, fragment offset 0 */
    h.df = true, h.mf = false, h.frag_off = 0;
    ck_assert_uint_eq(ipv4_emit(&h, d, sizeof(d)), 20);
    ck_assert_int_eq(ipv4_parse(d, 120, &p), TS_C_OK);
    ck_assert(p.df && !p.mf);
    ck_assert_uint_eq(p.frag_off, 0);
    /* the largest offset the 13-bit field holds */
    h.df = false, h.frag_off = 8191 * 8;
    ck_assert_uint_eq(ipv4_emit(&h, d, sizeof(d)), 20);
    ck_assert_int_eq(ipv4_parse(d, 120, &p), TS_C_OK);
    ck_assert_uint_eq(p.frag_off, 65528);
}
END_TEST

START_TEST(test_ipv4_emit_refuses_small_buffer_and_oversize_payload)
{
    uint8_t d[20];
    struct ipv4_hdr h = {.ttl = 64, .payload_len = 0};
    ck_assert_uint_eq(ipv4_emit(&h, d, 19), 0);
    ck_assert_uint_eq(ipv4_emit(&h, d, 20), 20);
    h.payload_len = 65515;
    ck_assert_uint_eq(ipv4_emit(&h, d, 20), 20);
    ck_assert_uint_eq(get16(d + 2), 65535);
    h.payload_len = 65516;
    ck_assert_uint_eq(ipv4_emit(&h, d, 20), 0);
}
END_TEST

START_TEST(test_ipv4_shorter_than_20_bytes_is_truncated_at_every_length)
{
    uint8_t d[64];
    ip_build(d, NULL, 0, 0);
    struct ipv4_hdr p;
    for (size_t len = 0; len < 20; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(ipv4_parse(b, len, &p), TS_C_IP_DROP_TRUNCATED);
        free(b);
    }
}
END_TEST

START_TEST(test_ipv4_options_header_cut_short_at_every_length_is_rejected)
{
    /* 24-byte header (NOP NOP NOP EOL) + 4 payload: cut anywhere inside the header the
     * datagram must be rejected, never read past the cut. */
    const uint8_t opts[4] = {1, 1, 1, 0};
    uint8_t d[64];
    size_t n = ip_build(d, opts, 4, 4);
    struct ipv4_hdr p;
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = exact(d, len);
        enum ts_counter r = ipv4_parse(b, len, &p);
        if (len < 20)
            ck_assert_int_eq(r, TS_C_IP_DROP_TRUNCATED);
        else if (len < 24)
            ck_assert_int_eq(r, TS_C_IP_DROP_BAD_HDRLEN);
        else
            ck_assert_int_eq(r, TS_C_IP_DROP_BAD_LEN);
        free(b);
    }
    ck_assert_int_eq(ipv4_parse(d, n, &p), TS_C_OK);
}
END_TEST

START_TEST(test_ipv4_version_other_than_4_is_bad_version)
{
    uint8_t d[64];
    for (unsigned v = 0; v < 16; v++) {
        if (v == 4)
            continue;
        ip_build(d, NULL, 0, 8);
        d[0] = (uint8_t)(v << 4 | 5);
        ip_fix_csum(d);
        struct ipv4_hdr p;
        ck_assert_int_eq(ipv4_parse(d, 28, &p), TS_C_IP_DROP_BAD_VERSION);
    }
}
END_TEST

START_TEST(test_ipv4_ihl_below_5_or_beyond_the_datagram_is_bad_hdrlen)
{
    uint8_t d[80];
    struct ipv4_hdr p;
    for (unsigned ihl = 0; ihl < 5; ihl++) {
        ip_build(d, NULL, 0, 8);
        d[0] = (uint8_t)(0x40 | ihl);
        ck_assert_int_eq(ipv4_parse(d, 28, &p), TS_C_IP_DROP_BAD_HDRLEN);
    }
    /* ihl 15 (60 bytes) in a 28-byte datagram */
    ip_build(d, NULL, 0, 8);
    d[0] = 0x4f;
    ck_assert_int_eq(ipv4_parse(d, 28, &p), TS_C_IP_DROP_BAD_HDRLEN);
}
END_TEST

START_TEST(test_ipv4_total_length_below_header_or_beyond_frame_is_bad_len)
{
    uint8_t d[80];
    struct ipv4_hdr p;
    const uint16_t totals[] = {0, 1, 19, 29, 0xffff};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        ip_build(d, NULL, 0, 8);
        put16(d + 2, totals[i]);
        ip_fix_csum(d);
        ck_assert_int_eq(ipv4_parse(d, 28, &p), TS_C_IP_DROP_BAD_LEN);
    }
    /* total below a 24-byte header with options */
    const uint8_t opts[4] = {1, 1, 1, 1};
    ip_build(d, opts, 4, 8);
    put16(d + 2, 22);
    ip_fix_csum(d);
    ck_assert_int_eq(ipv4_parse(d, 32, &p), TS_C_IP_DROP_BAD_LEN);
}
END_TEST

START_TEST(test_ipv4_ethernet_padding_after_total_length_is_not_payload)
{
    uint8_t d[46];
    memset(d, 0xee, sizeof(d));
    ip_build(d, NULL, 0, 8);
    d[28] = 0xee; /* ip_build zeroed only its own bytes; the rest is padding */
    uint8_t *b = exact(d, 46);
    struct ipv4_hdr p;
    ck_assert_int_eq(ipv4_parse(b, 46, &p), TS_C_OK);
    ck_assert_uint_eq(p.total_len, 28);
    ck_assert_uint_eq(p.payload_len, 8);
    ck_assert_ptr_eq(p.payload, b + 20);
    free(b);
}
END_TEST

START_TEST(test_ipv4_header_checksum_error_in_any_bit_is_bad_csum)
{
    uint8_t d[28];
    struct ipv4_hdr p;
    for (size_t bit = 0; bit < 160; bit++) {
        ip_build(d, NULL, 0, 8);
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        enum ts_counter r = ipv4_parse(d, 28, &p);
        /* flips in version/ihl/total length are caught by those checks first */
        ck_assert_int_ne(r, TS_C_OK);
        if (bit >= 32)
            ck_assert_int_eq(r, TS_C_IP_DROP_BAD_CSUM);
    }
    /* a flip in the payload is not the IP layer's business */
    ip_build(d, NULL, 0, 8);
    d[25] ^= 1;
    ck_assert_int_eq(ipv4_parse(d, 28, &p), TS_C_OK);
}
END_TEST

START_TEST(test_ipv4_well_formed_options_are_skipped_and_exposed)
{
    const uint8_t cases[][8] = {
        {1, 1, 1, 1, 1, 1, 1, 1},          /* all NOP */
        {0, 0xff, 0xff, 0xff, 0, 0, 0, 0}, /* EOL, then garbage that is never read as options */
        {7, 7, 4, 0, 0, 0, 0, 0},          /* record route, 7 bytes, + EOL */
        {0x94, 4, 0, 0, 1, 0, 0, 0},       /* router alert (RFC 2113) + NOP + EOL */
        {0x99, 8, 1, 2, 3, 4, 5, 6},       /* unknown option filling the area exactly */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t d[64];
        size_t n = ip_build(d, cases[i], 8, 4);
        uint8_t *b = exact(d, n);
        struct ipv4_hdr p;
        ck_assert_int_eq(ipv4_parse(b, n, &p), TS_C_OK);
        ck_assert_uint_eq(p.hdr_len, 28);
        ck_assert_ptr_eq(p.options, b + 20);
        ck_assert_ptr_eq(p.payload, b + 28);
        ck_assert_uint_eq(p.payload_len, 4);
        free(b);
    }
}
END_TEST

START_TEST(test_ipv4_option_length_0_1_or_overrunning_is_bad_options)
{
    const uint8_t cases[][8] = {
        {7, 0, 0, 0, 0, 0, 0, 0},       /* length 0 */
        {7, 1, 0, 0, 0, 0, 0, 0},       /* length 1 */
        {1, 1, 0x44, 9, 0, 0, 0, 0},    /* length 9 from offset 2: past the 8-byte area */
        {0x99, 9, 0, 0, 0, 0, 0, 0},    /* unknown option overrunning by one */
        {1, 1, 1, 1, 1, 1, 1, 0x83},    /* an option kind in the last byte, no room for length */
        {0x83, 3, 0, 0x83, 6, 1, 1, 1}, /* second option overruns by one */
    };
    /* Without payload the option area ends the buffer: the ASan build catches any read past
     * it, even one whose result would not change the verdict. */
    for (size_t plen = 0; plen <= 4; plen += 4)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            uint8_t d[64];
            size_t n = ip_build(d, cases[i], 8, plen);
            uint8_t *b = exact(d, n);
            struct ipv4_hdr p;
            ck_assert_msg(ipv4_parse(b, n, &p) == TS_C_IP_DROP_BAD_OPTIONS, "case %zu", i);
            free(b);
        }
}
END_TEST

/* An ICMP error quotes a datagram cut after 8 transport bytes (RFC 792): the quote parser must
 * take it though its total length and checksum no longer match, and refuse anything shorter. */
START_TEST(test_ipv4_quoted_datagram_cut_after_8_transport_bytes_parses_and_shorter_is_refused)
{
    uint8_t d[64];
    struct ipv4_hdr h = {
        .ttl = 64, .proto = IP_PROTO_TCP, .src = IP_B, .dst = IP_A, .frag_off = 0, .df = true};
    h.payload_len = 1000; /* as sent: the quote holds only 8 of these bytes */
    ck_assert_uint_eq(ipv4_emit(&h, d, sizeof(d)), 20);
    d[11] ^= 0xff; /* the quoted checksum is not verified: routers may rewrite TTL */
    for (int i = 0; i < 8; i++)
        d[20 + i] = (uint8_t)(0xa0 + i);
    struct ipv4_hdr q;
    ck_assert(ipv4_parse_quoted(d, 28, &q));
    ck_assert_uint_eq(q.hdr_len, 20);
    ck_assert_uint_eq(q.total_len, 1020);
    ck_assert(q.df);
    ck_assert_uint_eq(q.frag_off, 0);
    ck_assert_uint_eq(q.proto, IP_PROTO_TCP);
    ck_assert_uint_eq(q.src, IP_B);
    ck_assert_uint_eq(q.dst, IP_A);
    ck_assert_ptr_eq(q.payload, d + 20);
    ck_assert_uint_eq(q.payload_len, 8);
    ck_assert(!ipv4_parse_quoted(d, 27, &q)); /* fewer than 8 transport bytes */
    ck_assert(!ipv4_parse_quoted(NULL, 28, &q));
    d[0] = 0x44; /* header length 16: below the minimum */
    ck_assert(!ipv4_parse_quoted(d, 28, &q));
    d[0] = 0x46; /* 24-byte header (options): now 32 bytes are needed */
    ck_assert(!ipv4_parse_quoted(d, 31, &q));
    ck_assert(ipv4_parse_quoted(d, 32, &q));
    ck_assert_uint_eq(q.payload_len, 8);
    ck_assert_ptr_eq(q.options, d + 20);
    d[0] = 0x65; /* IPv6 */
    ck_assert(!ipv4_parse_quoted(d, 28, &q));
}
END_TEST

START_TEST(test_quoted_tcp_and_udp_headers_give_ports_and_sequence_from_8_bytes)
{
    const uint8_t b[8] = {0xb2, 0x6e, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78};
    struct tcp_hdr t;
    ck_assert(tcp_parse_quoted(b, 8, &t));
    ck_assert_uint_eq(t.sport, 45678);
    ck_assert_uint_eq(t.dport, 80);
    ck_assert_uint_eq(t.seq, 0x12345678u);
    ck_assert(!tcp_parse_quoted(b, 7, &t));
    struct udp_hdr u;
    ck_assert(udp_parse_quoted(b, 8, &u));
    ck_assert_uint_eq(u.sport, 45678);
    ck_assert_uint_eq(u.dport, 80);
    ck_assert_uint_eq(u.len, 0x1234);
    ck_assert_uint_eq(u.payload_len, 0);
    ck_assert(!udp_parse_quoted(b, 7, &u));
}
END_TEST

static Suite *ipv4_suite(void)
{
    Suite *s = suite_create("ipv4");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ipv4_emit_reproduces_captured_header_byte_for_byte);
    tcase_add_test(tc, test_ipv4_emit_then_parse_gives_same_fields);
    tcase_add_test(tc, test_ipv4_emit_refuses_small_buffer_and_oversize_payload);
    tcase_add_test(tc, test_ipv4_shorter_than_20_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_ipv4_options_header_cut_short_at_every_length_is_rejected);
    tcase_add_test(tc, test_ipv4_version_other_than_4_is_bad_version);
    tcase_add_test(tc, test_ipv4_ihl_below_5_or_beyond_the_datagram_is_bad_hdrlen);
    tcase_add_test(tc, test_ipv4_total_length_below_header_or_beyond_frame_is_bad_len);
    tcase_add_test(tc, test_ipv4_ethernet_padding_after_total_length_is_not_payload);
    tcase_add_test(tc, test_ipv4_header_checksum_error_in_any_bit_is_bad_csum);
    tcase_add_test(tc, test_ipv4_well_formed_options_are_skipped_and_exposed);
    tcase_add_test(tc, test_ipv4_option_length_0_1_or_overrunning_is_bad_options);
    tcase_add_test(
        tc, test_ipv4_quoted_datagram_cut_after_8_transport_bytes_parses_and_shorter_is_refused);
    tcase_add_test(tc, test_quoted_tcp_and_udp_headers_give_ports_and_sequence_from_8_bytes);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== icmp */

/* scapy: ICMP(type=8, id=0x1c2d, seq=3)/"0123456789abcdefg" (odd length) */
static const char *ICMP_ECHO_HEX = "080045981c2d00033031323334353637383961626364656667";

START_TEST(test_icmp_echo_emit_matches_scapy_bytes_and_parses_back)
{
    uint8_t want[64], got[64];
    size_t n = unhex(ICMP_ECHO_HEX, want, sizeof(want));
    const char *data = "0123456789abcdefg";
    struct icmp_hdr h = {.type = ICMP_ECHO_REQUEST,
                         .code = 0,
                         .id = 0x1c2d,
                         .seq = 3,
                         .rest = 0xdeadbeef, /* ignored for echo */
                         .payload = (const uint8_t *)data,
                         .payload_len = strlen(data)};
    ck_assert_uint_eq(icmp_emit(&h, got, sizeof(got)), n);
    ck_assert_mem_eq(got, want, n);
    uint8_t *b = exact(got, n);
    struct icmp_hdr p;
    ck_assert_int_eq(icmp_parse(b, n, &p), TS_C_OK);
    ck_assert_uint_eq(p.type, ICMP_ECHO_REQUEST);
    ck_assert_uint_eq(p.code, 0);
    ck_assert_uint_eq(p.id, 0x1c2d);
    ck_assert_uint_eq(p.seq, 3);
    ck_assert_uint_eq(p.rest, 0x1c2d0003u);
    ck_assert_ptr_eq(p.payload, b + 8);
    ck_assert_uint_eq(p.payload_len, 17);
    ck_assert_mem_eq(p.payload, data, 17);
    free(b);
}
END_TEST

START_TEST(test_icmp_needfrag_writes_rest_and_parses_next_hop_mtu)
{
    uint8_t quoted[28], got[64];
    ip_build(quoted, NULL, 0, 8);
    struct icmp_hdr h = {.type = ICMP_DEST_UNREACH,
                         .code = ICMP_UNREACH_NEEDFRAG,
                         .id = 0x1111, /* ignored when not echo */
                         .seq = 0x2222,
                         .rest = 1400,
                         .payload = quoted,
                         .payload_len = sizeof(quoted)};
    size_t n = icmp_emit(&h, got, sizeof(got));
    ck_assert_uint_eq(n, 36);
    ck_assert_uint_eq(got[4], 0);
    ck_assert_uint_eq(got[5], 0);
    ck_assert_uint_eq(get16(got + 6), 1400);
    ck_assert_uint_eq(ref_csum(got, n, 0), 0);
    struct icmp_hdr p;
    ck_assert_int_eq(icmp_parse(got, n, &p), TS_C_OK);
    ck_assert_uint_eq(p.type, ICMP_DEST_UNREACH);
    ck_assert_uint_eq(p.code, ICMP_UNREACH_NEEDFRAG);
    ck_assert_uint_eq(p.mtu, 1400);
    ck_assert_uint_eq(p.rest, 1400);
    ck_assert_mem_eq(p.payload, quoted, 28);
}
END_TEST

START_TEST(test_icmp_payload_already_in_place_or_overlapping_is_kept_intact)
{
    uint8_t buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)(i + 100);
    uint8_t copy[64];
    memcpy(copy, buf, 64);
    /* in place: bytes at buf+8 stay as they were */
    struct icmp_hdr h = {
        .type = ICMP_ECHO_REPLY, .id = 1, .seq = 2, .payload = buf + 8, .payload_len = 40};
    ck_assert_uint_eq(icmp_emit(&h, buf, sizeof(buf)), 48);
    ck_assert_mem_eq(buf + 8, copy + 8, 40);
    /* overlapping: payload starting at buf+2 moves forward to buf+8 */
    memcpy(buf, copy, 64);
    h.payload = buf + 2;
    ck_assert_uint_eq(icmp_emit(&h, buf, sizeof(buf)), 48);
    ck_assert_mem_eq(buf + 8, copy + 2, 40);
    ck_assert_uint_eq(ref_csum(buf, 48, 0), 0);
}
END_TEST

START_TEST(test_icmp_shorter_than_8_bytes_is_truncated_at_every_length)
{
    uint8_t d[64];
    size_t n = unhex(ICMP_ECHO_HEX, d, sizeof(d));
    (void)n;
    struct icmp_hdr p;
    for (size_t len = 0; len < ICMP_HDR_LEN; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(icmp_parse(b, len, &p), TS_C_ICMP_DROP_TRUNCATED);
        free(b);
    }
}
END_TEST

START_TEST(test_icmp_checksum_error_in_header_or_data_is_bad_csum)
{
    uint8_t d[64];
    size_t n = unhex(ICMP_ECHO_HEX, d, sizeof(d));
    struct icmp_hdr p;
    for (size_t i = 0; i < n; i++) {
        d[i] ^= 0x40;
        ck_assert_int_eq(icmp_parse(d, n, &p), TS_C_ICMP_DROP_BAD_CSUM);
        d[i] ^= 0x40;
    }
    /* the message cut short by a byte no longer sums right */
    ck_assert_int_eq(icmp_parse(d, n - 1, &p), TS_C_ICMP_DROP_BAD_CSUM);
    ck_assert_int_eq(icmp_parse(d, n, &p), TS_C_OK);
}
END_TEST

START_TEST(test_icmp_emit_refuses_a_buffer_too_small)
{
    uint8_t d[64];
    struct icmp_hdr h = {.type = ICMP_ECHO_REQUEST, .payload = d + 32, .payload_len = 10};
    ck_assert_uint_eq(icmp_emit(&h, d, 17), 0);
    ck_assert_uint_eq(icmp_emit(&h, d, 7), 0);
    ck_assert_uint_eq(icmp_emit(&h, d, 18), 18);
}
END_TEST

static Suite *icmp_suite(void)
{
    Suite *s = suite_create("icmp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_icmp_echo_emit_matches_scapy_bytes_and_parses_back);
    tcase_add_test(tc, test_icmp_needfrag_writes_rest_and_parses_next_hop_mtu);
    tcase_add_test(tc, test_icmp_payload_already_in_place_or_overlapping_is_kept_intact);
    tcase_add_test(tc, test_icmp_shorter_than_8_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_icmp_checksum_error_in_header_or_data_is_bad_csum);
    tcase_add_test(tc, test_icmp_emit_refuses_a_buffer_too_small);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== udp */

/* scapy: 10.0.0.1 -> 10.0.0.2 UDP(sport=5353, dport=7)/"hello, world!" */
static const char *UDP_HEX = "14e900070015758568656c6c6f2c20776f726c6421";

START_TEST(test_udp_emit_matches_scapy_bytes_and_parses_back)
{
    uint8_t want[64], got[64];
    size_t n = unhex(UDP_HEX, want, sizeof(want));
    const char *msg = "hello, world!";
    struct udp_hdr h = {
        .sport = 5353, .dport = 7, .payload = (const uint8_t *)msg, .payload_len = strlen(msg)};
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, got, sizeof(got)), n);
    ck_assert_mem_eq(got, want, n);
    uint8_t *b = exact(got, n);
    struct udp_hdr p;
    ck_assert_int_eq(udp_parse(b, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.sport, 5353);
    ck_assert_uint_eq(p.dport, 7);
    ck_assert_uint_eq(p.len, 21);
    ck_assert_uint_eq(p.csum, 0x7585);
    ck_assert_ptr_eq(p.payload, b + 8);
    ck_assert_uint_eq(p.payload_len, 13);
    ck_assert_mem_eq(p.payload, msg, 13);
    free(b);
}
END_TEST

START_TEST(test_udp_zero_checksum_means_none_and_is_accepted)
{
    uint8_t d[64];
    size_t n = unhex(UDP_HEX, d, sizeof(d));
    d[6] = d[7] = 0;
    d[10] ^= 0xff; /* the data could be anything: nobody checks */
    struct udp_hdr p;
    ck_assert_int_eq(udp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.csum, 0);
}
END_TEST

START_TEST(test_udp_computed_zero_checksum_is_sent_as_ffff_and_verifies)
{
    uint8_t pay[2] = {0, 0}, d[16];
    struct udp_hdr h = {.sport = 1000, .dport = 2000, .payload = pay, .payload_len = 2};
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, d, sizeof(d)), 10);
    /* Payload word equal to the checksum of the zero payload makes the sum all ones: the
     * computed checksum is then 0, which RFC 768 says to send as ffff. */
    uint16_t c = get16(d + 6);
    put16(pay, c);
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, d, sizeof(d)), 10);
    ck_assert_uint_eq(get16(d + 6), 0xffff);
    struct udp_hdr p;
    ck_assert_int_eq(udp_parse(d, 10, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.csum, 0xffff);
}
END_TEST

START_TEST(test_udp_checksum_covers_pseudo_header_and_data)
{
    uint8_t d[64];
    size_t n = unhex(UDP_HEX, d, sizeof(d));
    struct udp_hdr p;
    ck_assert_int_eq(udp_parse(d, n, IP_A, IP_B + 1, &p), TS_C_UDP_DROP_BAD_CSUM);
    ck_assert_int_eq(udp_parse(d, n, IP_B, IP_A, &p), TS_C_OK); /* sum is symmetric */
    for (size_t i = 0; i < n; i++) {
        if (i == 4 || i == 5)
            continue; /* length: its own check */
        d[i] ^= 0x08;
        ck_assert_int_eq(udp_parse(d, n, IP_A, IP_B, &p), TS_C_UDP_DROP_BAD_CSUM);
        d[i] ^= 0x08;
    }
}
END_TEST

START_TEST(test_udp_shorter_than_8_bytes_is_truncated_at_every_length)
{
    uint8_t d[64];
    unhex(UDP_HEX, d, sizeof(d));
    struct udp_hdr p;
    for (size_t len = 0; len < UDP_HDR_LEN; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(udp_parse(b, len, IP_A, IP_B, &p), TS_C_UDP_DROP_TRUNCATED);
        free(b);
    }
}
END_TEST

START_TEST(test_udp_length_field_below_8_or_beyond_datagram_is_bad_len)
{
    uint8_t d[64];
    size_t n = unhex(UDP_HEX, d, sizeof(d));
    const uint16_t lens[] = {0, 1, 7, 22, 0xffff};
    struct udp_hdr p;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        put16(d + 4, lens[i]);
        ck_assert_int_eq(udp_parse(d, n, IP_A, IP_B, &p), TS_C_UDP_DROP_BAD_LEN);
    }
    /* every cut of the datagram leaves a length field that points past the end */
    unhex(UDP_HEX, d, sizeof(d));
    for (size_t len = UDP_HDR_LEN; len < n; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(udp_parse(b, len, IP_A, IP_B, &p), TS_C_UDP_DROP_BAD_LEN);
        free(b);
    }
}
END_TEST

START_TEST(test_udp_bytes_after_length_field_are_not_payload)
{
    uint8_t d[64];
    memset(d, 0xaa, sizeof(d));
    size_t n = unhex(UDP_HEX, d, sizeof(d));
    uint8_t *b = exact(d, n + 5);
    struct udp_hdr p;
    ck_assert_int_eq(udp_parse(b, n + 5, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.payload_len, 13);
    free(b);
}
END_TEST

START_TEST(test_udp_emit_refuses_small_buffer_and_oversize_datagram)
{
    static uint8_t big[70000];
    struct udp_hdr h = {.sport = 1, .dport = 2, .payload = big + 8, .payload_len = 65527};
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, big, sizeof(big)), 65535);
    h.payload_len = 65528;
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, big, sizeof(big)), 0);
    h.payload_len = 10;
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, big, 17), 0);
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, big, 7), 0);
    ck_assert_uint_eq(udp_emit(&h, IP_A, IP_B, big, 18), 18);
}
END_TEST

static Suite *udp_suite(void)
{
    Suite *s = suite_create("udp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_udp_emit_matches_scapy_bytes_and_parses_back);
    tcase_add_test(tc, test_udp_zero_checksum_means_none_and_is_accepted);
    tcase_add_test(tc, test_udp_computed_zero_checksum_is_sent_as_ffff_and_verifies);
    tcase_add_test(tc, test_udp_checksum_covers_pseudo_header_and_data);
    tcase_add_test(tc, test_udp_shorter_than_8_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_udp_length_field_below_8_or_beyond_datagram_is_bad_len);
    tcase_add_test(tc, test_udp_bytes_after_length_field_are_not_payload);
    tcase_add_test(tc, test_udp_emit_refuses_small_buffer_and_oversize_datagram);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== tcp */

/* scapy: 10.0.0.1:45678 -> 10.0.0.2:80 SYN seq 0x12345678 win 64240,
 * options MSS 1460, SAckOK, Timestamp(123456, 0), NOP, WScale 7 (Linux's SYN layout) */
static const char *TCP_SYN_HEX = "b26e00501234567800000000a002faf03b600000"
                                 "020405b40402080a0001e2400000000001030307";
/* scapy: same ports, PSH|ACK ack 0x9abcdef0 win 502, NOP NOP Timestamp(123999, 777), data */
static const char *TCP_DATA_HEX = "b26e0050123456789abcdef0801801f6058800000101080a0001e45f000003"
                                  "09474554202f20485454502f312e310d0a0d0a";

/* A segment with option bytes opts[olen] (olen a multiple of 4), correct checksum. */
static size_t tcp_build(uint8_t *b, const uint8_t *opts, size_t olen, size_t plen)
{
    size_t hl = 20 + olen;
    memset(b, 0, hl + plen);
    put16(b, 1234);
    put16(b + 2, 80);
    b[7] = 1;
    b[12] = (uint8_t)((hl / 4) << 4);
    b[13] = TCP_ACK;
    put16(b + 14, 1000);
    if (olen)
        memcpy(b + 20, opts, olen);
    for (size_t i = 0; i < plen; i++)
        b[hl + i] = (uint8_t)(i * 3);
    uint32_t ps = csum_pseudo(IP_A, IP_B, IP_PROTO_TCP, (uint16_t)(hl + plen));
    put16(b + 16, ref_csum(b, hl + plen, ps));
    return hl + plen;
}

static void tcp_fix_csum(uint8_t *b, size_t len)
{
    put16(b + 16, 0);
    put16(b + 16, ref_csum(b, len, csum_pseudo(IP_A, IP_B, IP_PROTO_TCP, (uint16_t)len)));
}

START_TEST(test_tcp_syn_with_linux_options_matches_scapy_bytes)
{
    uint8_t want[64], got[64];
    size_t n = unhex(TCP_SYN_HEX, want, sizeof(want));
    struct tcp_hdr h = {.sport = 45678,
                        .dport = 80,
                        .seq = 0x12345678,
                        .flags = TCP_SYN,
                        .wnd = 64240,
                        .opts = {.mss_ok = true,
                                 .mss = 1460,
                                 .sack_perm = true,
                                 .ts_ok = true,
                                 .tsval = 123456,
                                 .ws_ok = true,
                                 .ws = 7}};
    ck_assert_uint_eq(tcp_opts_len(&h.opts), 20);
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, got, sizeof(got)), n);
    ck_assert_mem_eq(got, want, n);
}
END_TEST

START_TEST(test_tcp_data_segment_with_timestamps_matches_scapy_bytes_and_parses_back)
{
    uint8_t want[96], got[96];
    size_t n = unhex(TCP_DATA_HEX, want, sizeof(want));
    const char *req = "GET / HTTP/1.1\r\n\r\n";
    struct tcp_hdr h = {.sport = 45678,
                        .dport = 80,
                        .seq = 0x12345678,
                        .ack = 0x9abcdef0,
                        .flags = TCP_PSH | TCP_ACK,
                        .wnd = 502,
                        .opts = {.ts_ok = true, .tsval = 123999, .tsecr = 777},
                        .payload = (const uint8_t *)req,
                        .payload_len = strlen(req)};
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, got, sizeof(got)), n);
    ck_assert_mem_eq(got, want, n);
    uint8_t *b = exact(got, n);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(b, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.sport, 45678);
    ck_assert_uint_eq(p.dport, 80);
    ck_assert_uint_eq(p.seq, 0x12345678);
    ck_assert_uint_eq(p.ack, 0x9abcdef0);
    ck_assert_uint_eq(p.flags, TCP_PSH | TCP_ACK);
    ck_assert_uint_eq(p.wnd, 502);
    ck_assert_uint_eq(p.urp, 0);
    ck_assert_uint_eq(p.hdr_len, 32);
    ck_assert(p.opts.ts_ok);
    ck_assert_uint_eq(p.opts.tsval, 123999);
    ck_assert_uint_eq(p.opts.tsecr, 777);
    ck_assert(!p.opts.mss_ok && !p.opts.ws_ok && !p.opts.sack_perm);
    ck_assert_uint_eq(p.opts.nsack, 0);
    ck_assert_ptr_eq(p.payload, b + 32);
    ck_assert_uint_eq(p.payload_len, strlen(req));
    ck_assert_mem_eq(p.payload, req, strlen(req));
    free(b);
}
END_TEST

START_TEST(test_tcp_emit_then_parse_gives_same_header_with_every_option)
{
    uint8_t buf[200], data[50];
    for (int i = 0; i < 50; i++)
        data[i] = (uint8_t)(200 - i);
    struct tcp_hdr h = {.sport = 1,
                        .dport = 65535,
                        .seq = 0xfffffff0u,
                        .ack = 7,
                        .flags = 0xff, /* every flag bit survives the trip, CWR and ECE too */
                        .wnd = 0,
                        .urp = 0xabcd,
                        .opts = {.mss_ok = true,
                                 .mss = 65535,
                                 .sack_perm = true,
                                 .ts_ok = true,
                                 .tsval = 0xffffffffu,
                                 .tsecr = 1,
                                 .ws_ok = true,
                                 .ws = 14,
                                 .nsack = 2,
                                 .sack = {{100, 200}, {300, 400}}},
                        .payload = data,
                        .payload_len = sizeof(data)};
    size_t n = tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf));
    ck_assert_uint_eq(n, 20 + 40 + 50);
    uint8_t *b = exact(buf, n);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(b, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.sport, h.sport);
    ck_assert_uint_eq(p.dport, h.dport);
    ck_assert_uint_eq(p.seq, h.seq);
    ck_assert_uint_eq(p.ack, h.ack);
    ck_assert_uint_eq(p.flags, 0xff);
    ck_assert_uint_eq(p.wnd, 0);
    ck_assert_uint_eq(p.urp, 0xabcd);
    ck_assert_uint_eq(p.hdr_len, 60);
    ck_assert(p.opts.mss_ok);
    ck_assert_uint_eq(p.opts.mss, 65535);
    ck_assert(p.opts.sack_perm);
    ck_assert(p.opts.ts_ok);
    ck_assert_uint_eq(p.opts.tsval, 0xffffffffu);
    ck_assert_uint_eq(p.opts.tsecr, 1);
    ck_assert(p.opts.ws_ok);
    ck_assert_uint_eq(p.opts.ws, 14);
    ck_assert_uint_eq(p.opts.nsack, 2);
    ck_assert_uint_eq(p.opts.sack[0].left, 100);
    ck_assert_uint_eq(p.opts.sack[0].right, 200);
    ck_assert_uint_eq(p.opts.sack[1].left, 300);
    ck_assert_uint_eq(p.opts.sack[1].right, 400);
    ck_assert_ptr_eq(p.payload, b + 60);
    ck_assert_uint_eq(p.payload_len, 50);
    ck_assert_mem_eq(p.payload, data, 50);
    free(b);

    /* no options at all */
    struct tcp_hdr bare = {.sport = 9, .dport = 10, .seq = 11, .flags = TCP_RST};
    ck_assert_uint_eq(tcp_opts_len(&bare.opts), 0);
    n = tcp_emit(&bare, IP_A, IP_B, buf, sizeof(buf));
    ck_assert_uint_eq(n, 20);
    ck_assert_uint_eq(buf[12], 0x50);
    ck_assert_int_eq(tcp_parse(buf, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.flags, TCP_RST);
    ck_assert_uint_eq(p.payload_len, 0);
}
END_TEST

/* Emit h's options and compare the option bytes with want[wlen]. */
static void check_opts_layout(const struct tcp_opts *o, const uint8_t *want, size_t wlen)
{
    uint8_t buf[80];
    struct tcp_hdr h = {.flags = TCP_ACK, .opts = *o};
    ck_assert_uint_eq(tcp_opts_len(o), wlen);
    size_t n = tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf));
    ck_assert_uint_eq(n, 20 + wlen);
    ck_assert_uint_eq(buf[12] >> 4, (20 + wlen) / 4);
    ck_assert_mem_eq(buf + 20, want, wlen);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(buf, n, IP_A, IP_B, &p), TS_C_OK);
}

START_TEST(test_tcp_options_on_non_syn_with_timestamps_are_nop_nop_ts)
{
    const uint8_t want[] = {1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6};
    check_opts_layout(&(struct tcp_opts){.ts_ok = true, .tsval = 5, .tsecr = 6}, want,
                      sizeof(want));
}
END_TEST

START_TEST(test_tcp_options_sack_permitted_without_timestamps_is_nop_nop_sackperm)
{
    const uint8_t want[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
    check_opts_layout(
        &(struct tcp_opts){.mss_ok = true, .mss = 1460, .sack_perm = true, .ws_ok = true, .ws = 7},
        want, sizeof(want));
}
END_TEST

START_TEST(test_tcp_options_mss_alone_and_ws_alone)
{
    const uint8_t mss[] = {2, 4, 0x02, 0x18};
    check_opts_layout(&(struct tcp_opts){.mss_ok = true, .mss = 536}, mss, sizeof(mss));
    const uint8_t ws[] = {1, 3, 3, 0};
    check_opts_layout(&(struct tcp_opts){.ws_ok = true, .ws = 0}, ws, sizeof(ws));
}
END_TEST

START_TEST(test_tcp_options_sack_blocks_nop_nop_after_timestamps_at_most_three)
{
    const uint8_t want[] = {1, 1, 8, 10, 0, 0, 0, 1,  0, 0, 0, 2,               /* TS */
                            1, 1, 5, 26, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, /* 1st */
                            0, 0, 0, 40, 0, 0, 0, 50, 0, 0, 0, 60};             /* 2nd, 3rd */
    /* four blocks offered, RFC 2018 3: with timestamps only three fit; the last is left out */
    check_opts_layout(&(struct tcp_opts){.ts_ok = true,
                                         .tsval = 1,
                                         .tsecr = 2,
                                         .nsack = 4,
                                         .sack = {{10, 20}, {30, 40}, {50, 60}, {70, 80}}},
                      want, sizeof(want));
}
END_TEST

START_TEST(test_tcp_options_four_sack_blocks_fit_without_timestamps)
{
    uint8_t want[36] = {1, 1, 5, 34};
    struct tcp_opts o = {.nsack = 4};
    for (int i = 0; i < 4; i++) {
        o.sack[i].left = 0x01020304u * (uint32_t)(i + 1);
        o.sack[i].right = o.sack[i].left + 1000;
        for (int k = 0; k < 4; k++) {
            want[4 + i * 8 + k] = (uint8_t)(o.sack[i].left >> (24 - 8 * k));
            want[8 + i * 8 + k] = (uint8_t)(o.sack[i].right >> (24 - 8 * k));
        }
    }
    check_opts_layout(&o, want, sizeof(want));
}
END_TEST

START_TEST(test_tcp_options_sack_that_does_not_fit_is_left_out)
{
    /* MSS + SACK-perm/TS + WS = 20 bytes: 2 blocks fit (4 + 16) */
    struct tcp_opts o = {.mss_ok = true,
                         .mss = 1460,
                         .sack_perm = true,
                         .ts_ok = true,
                         .ws_ok = true,
                         .ws = 7,
                         .nsack = 4,
                         .sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}}};
    ck_assert_uint_eq(tcp_opts_len(&o), 40);
    uint8_t buf[80];
    struct tcp_hdr h = {.flags = TCP_ACK, .opts = o};
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf)), 60);
    const uint8_t sack[] = {1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    ck_assert_mem_eq(buf + 40, sack, sizeof(sack));
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(buf, 60, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.opts.nsack, 2);
    /* a count beyond TCP_MAX_SACK is clamped, never read past the array */
    struct tcp_opts many = {.nsack = 200};
    ck_assert_uint_eq(tcp_opts_len(&many), 36);
}
END_TEST

START_TEST(test_tcp_payload_in_place_or_overlapping_header_is_moved_correctly)
{
    uint8_t buf[128], copy[128];
    for (int i = 0; i < 128; i++)
        buf[i] = (uint8_t)(i * 5 + 1);
    memcpy(copy, buf, sizeof(buf));
    struct tcp_hdr h = {.sport = 1, .dport = 2, .flags = TCP_ACK, .opts = {.ts_ok = true}};
    /* already in place after a 32-byte header: untouched */
    h.payload = buf + 32;
    h.payload_len = 64;
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf)), 96);
    ck_assert_mem_eq(buf + 32, copy + 32, 64);
    /* placed after a 20-byte header, but options make it 32: moved forward */
    memcpy(buf, copy, sizeof(buf));
    h.payload = buf + 20;
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf)), 96);
    ck_assert_mem_eq(buf + 32, copy + 20, 64);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(buf, 96, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_mem_eq(p.payload, copy + 20, 64);
    /* from elsewhere */
    h.payload = copy;
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, sizeof(buf)), 96);
    ck_assert_mem_eq(buf + 32, copy, 64);
}
END_TEST

START_TEST(test_tcp_emit_refuses_a_buffer_too_small)
{
    uint8_t buf[64];
    struct tcp_hdr h = {.opts = {.mss_ok = true}, .payload = buf, .payload_len = 10};
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, 33), 0);
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, 23), 0);
    ck_assert_uint_eq(tcp_emit(&h, IP_A, IP_B, buf, 34), 34);
}
END_TEST

START_TEST(test_tcp_shorter_than_20_bytes_is_truncated_at_every_length)
{
    uint8_t d[64];
    tcp_build(d, NULL, 0, 0);
    struct tcp_hdr p;
    for (size_t len = 0; len < TCP_HDR_LEN; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(tcp_parse(b, len, IP_A, IP_B, &p), TS_C_TCP_DROP_TRUNCATED);
        free(b);
    }
}
END_TEST

START_TEST(test_tcp_data_offset_below_5_or_beyond_segment_is_bad_hdrlen)
{
    uint8_t d[80];
    struct tcp_hdr p;
    for (unsigned off = 0; off < 5; off++) {
        size_t n = tcp_build(d, NULL, 0, 8);
        d[12] = (uint8_t)(off << 4);
        tcp_fix_csum(d, n);
        ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_TCP_DROP_BAD_HDRLEN);
    }
    /* a 40-byte header (with options) cut at every length between 20 and 39 */
    const uint8_t opts[20] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
    size_t n = tcp_build(d, opts, 20, 0);
    for (size_t len = 20; len < n; len++) {
        uint8_t *b = exact(d, len);
        ck_assert_int_eq(tcp_parse(b, len, IP_A, IP_B, &p), TS_C_TCP_DROP_BAD_HDRLEN);
        free(b);
    }
    ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
}
END_TEST

START_TEST(test_tcp_checksum_error_or_wrong_pseudo_header_is_bad_csum)
{
    uint8_t d[64];
    size_t n = unhex(TCP_DATA_HEX, d, sizeof(d));
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_int_eq(tcp_parse(d, n, IP_A, 0x0a000003u, &p), TS_C_TCP_DROP_BAD_CSUM);
    ck_assert_int_eq(tcp_parse(d, n, 0x0b000001u, IP_B, &p), TS_C_TCP_DROP_BAD_CSUM);
    for (size_t i = 0; i < n; i++) {
        if (i == 12)
            continue; /* data offset: its own check may come first */
        d[i] ^= 0x02;
        ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_TCP_DROP_BAD_CSUM);
        d[i] ^= 0x02;
    }
    /* the pseudo-header length is the segment length: one byte of trailing garbage is caught */
    uint8_t *b = exact(d, n + 1);
    b[n] = 0x33;
    ck_assert_int_eq(tcp_parse(b, n + 1, IP_A, IP_B, &p), TS_C_TCP_DROP_BAD_CSUM);
    free(b);
}
END_TEST

START_TEST(test_tcp_option_length_0_1_or_overrunning_is_bad_options)
{
    const uint8_t cases[][8] = {
        {2, 0, 0, 0, 0, 0, 0, 0},           /* MSS, length 0 */
        {30, 1, 1, 1, 1, 1, 1, 1},          /* unknown, length 1 */
        {1, 1, 1, 1, 1, 30, 4, 0},          /* unknown, length 4 from offset 5: past the end */
        {30, 9, 0, 0, 0, 0, 0, 0},          /* unknown, length 9 in an 8-byte area */
        {1, 1, 1, 1, 1, 1, 1, 30},          /* kind in the last byte, no room for a length */
        {1, 1, 1, 1, 1, 1, 1, TCP_OPT_MSS}, /* same for a known kind */
    };
    /* Without payload the option area ends the buffer (see the IPv4 test above). */
    for (size_t plen = 0; plen <= 4; plen += 4)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            uint8_t d[64];
            size_t n = tcp_build(d, cases[i], 8, plen);
            uint8_t *b = exact(d, n);
            struct tcp_hdr p;
            ck_assert_msg(tcp_parse(b, n, IP_A, IP_B, &p) == TS_C_TCP_DROP_BAD_OPTIONS, "case %zu",
                          i);
            free(b);
        }
}
END_TEST

START_TEST(test_tcp_known_option_with_wrong_length_is_bad_options)
{
    const uint8_t cases[][12] = {
        {2, 3, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* MSS len 3 */
        {2, 5, 5, 0xb4, 0, 1, 1, 1, 1, 1, 1, 1}, /* MSS len 5 */
        {3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* WS len 2 */
        {3, 4, 7, 0, 1, 1, 1, 1, 1, 1, 1, 1},    /* WS len 4 */
        {4, 3, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* SACK-perm len 3 */
        {8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1},    /* TS len 9 */
        {8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},   /* TS len 11 */
        {5, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* SACK with no block */
        {5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1},    /* SACK len 9: not 2 + 8n */
        {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1},   /* SACK len 11 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t d[64];
        size_t n = tcp_build(d, cases[i], 12, 0);
        struct tcp_hdr p;
        ck_assert_msg(tcp_parse(d, n, IP_A, IP_B, &p) == TS_C_TCP_DROP_BAD_OPTIONS, "case %zu", i);
    }
}
END_TEST

START_TEST(test_tcp_sack_length_2_plus_8n_for_1_to_4_blocks_is_accepted)
{
    for (unsigned nb = 1; nb <= 4; nb++) {
        uint8_t opts[40];
        memset(opts, 1, sizeof(opts));
        opts[2] = 5;
        opts[3] = (uint8_t)(2 + 8 * nb);
        for (unsigned b = 0; b < nb; b++) {
            memset(opts + 4 + 8 * b, 0, 8);
            opts[4 + 8 * b + 3] = (uint8_t)(b * 2 + 1);
            opts[8 + 8 * b + 3] = (uint8_t)(b * 2 + 2);
        }
        size_t olen = (4 + 8 * nb + 3) / 4 * 4;
        uint8_t d[80];
        size_t n = tcp_build(d, opts, olen, 0);
        struct tcp_hdr p;
        ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
        ck_assert_uint_eq(p.opts.nsack, nb);
        for (unsigned b = 0; b < nb; b++) {
            ck_assert_uint_eq(p.opts.sack[b].left, b * 2 + 1);
            ck_assert_uint_eq(p.opts.sack[b].right, b * 2 + 2);
        }
    }
}
END_TEST

START_TEST(test_tcp_unknown_options_are_skipped_and_eol_ends_the_list)
{
    /* unknown kind 30 (4 bytes), MSS, EOL, then bytes that would be a broken option */
    const uint8_t opts[12] = {30, 4, 0xaa, 0xbb, 2, 4, 0x05, 0x78, 0, 2, 0, 9};
    uint8_t d[64];
    size_t n = tcp_build(d, opts, 12, 3);
    uint8_t *b = exact(d, n);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(b, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert(p.opts.mss_ok);
    ck_assert_uint_eq(p.opts.mss, 1400);
    ck_assert(!p.opts.ws_ok && !p.opts.ts_ok && !p.opts.sack_perm);
    ck_assert_uint_eq(p.hdr_len, 32);
    ck_assert_uint_eq(p.payload_len, 3);
    free(b);
}
END_TEST

START_TEST(test_tcp_syn_only_options_are_parsed_on_any_segment)
{
    /* RFC 7323 2.2 says WS outside a SYN is ignored: that is the protocol's call, so the
     * parser reports it and the flags as they are. */
    const uint8_t opts[8] = {3, 3, 9, 4, 2, 1, 1, 0};
    uint8_t d[64];
    size_t n = tcp_build(d, opts, 8, 0);
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert_uint_eq(p.flags, TCP_ACK);
    ck_assert(p.opts.ws_ok);
    ck_assert_uint_eq(p.opts.ws, 9);
    ck_assert(p.opts.sack_perm);
}
END_TEST

START_TEST(test_tcp_parse_clears_options_left_from_a_previous_segment)
{
    uint8_t d[96];
    size_t n = unhex(TCP_SYN_HEX, d, sizeof(d));
    struct tcp_hdr p;
    ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert(p.opts.mss_ok && p.opts.ws_ok && p.opts.ts_ok && p.opts.sack_perm);
    n = tcp_build(d, NULL, 0, 0);
    ck_assert_int_eq(tcp_parse(d, n, IP_A, IP_B, &p), TS_C_OK);
    ck_assert(!p.opts.mss_ok && !p.opts.ws_ok && !p.opts.ts_ok && !p.opts.sack_perm);
    ck_assert_uint_eq(p.opts.nsack, 0);
}
END_TEST

static Suite *tcp_suite(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = tcase_create("emit");
    tcase_add_test(tc, test_tcp_syn_with_linux_options_matches_scapy_bytes);
    tcase_add_test(tc, test_tcp_data_segment_with_timestamps_matches_scapy_bytes_and_parses_back);
    tcase_add_test(tc, test_tcp_emit_then_parse_gives_same_header_with_every_option);
    tcase_add_test(tc, test_tcp_options_on_non_syn_with_timestamps_are_nop_nop_ts);
    tcase_add_test(tc, test_tcp_options_sack_permitted_without_timestamps_is_nop_nop_sackperm);
    tcase_add_test(tc, test_tcp_options_mss_alone_and_ws_alone);
    tcase_add_test(tc, test_tcp_options_sack_blocks_nop_nop_after_timestamps_at_most_three);
    tcase_add_test(tc, test_tcp_options_four_sack_blocks_fit_without_timestamps);
    tcase_add_test(tc, test_tcp_options_sack_that_does_not_fit_is_left_out);
    tcase_add_test(tc, test_tcp_payload_in_place_or_overlapping_header_is_moved_correctly);
    tcase_add_test(tc, test_tcp_emit_refuses_a_buffer_too_small);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse");
    tcase_add_test(tc, test_tcp_shorter_than_20_bytes_is_truncated_at_every_length);
    tcase_add_test(tc, test_tcp_data_offset_below_5_or_beyond_segment_is_bad_hdrlen);
    tcase_add_test(tc, test_tcp_checksum_error_or_wrong_pseudo_header_is_bad_csum);
    tcase_add_test(tc, test_tcp_option_length_0_1_or_overrunning_is_bad_options);
    tcase_add_test(tc, test_tcp_known_option_with_wrong_length_is_bad_options);
    tcase_add_test(tc, test_tcp_sack_length_2_plus_8n_for_1_to_4_blocks_is_accepted);
    tcase_add_test(tc, test_tcp_unknown_options_are_skipped_and_eol_ends_the_list);
    tcase_add_test(tc, test_tcp_syn_only_options_are_parsed_on_any_segment);
    tcase_add_test(tc, test_tcp_parse_clears_options_left_from_a_previous_segment);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== counters */

START_TEST(test_counter_names_are_the_enum_names_in_lower_case)
{
    ck_assert_str_eq(ts_counter_name(TS_C_IP_DROP_BAD_CSUM), "ip_drop_bad_csum");
    ck_assert_str_eq(ts_counter_name(TS_C_ETH_RX), "eth_rx");
    ck_assert_str_eq(ts_counter_name(TS_C_TCP_DROP_ACCEPT_QUEUE_FULL),
                     "tcp_drop_accept_queue_full");
    static const char *const upper[] = {
#define UPPER(name, desc) #name,
        TS_COUNTERS(UPPER)
#undef UPPER
    };
    for (int c = 1; c < TS_C_COUNT; c++) {
        const char *n = ts_counter_name((enum ts_counter)c);
        const char *u = upper[c - 1];
        ck_assert_uint_eq(strlen(n), strlen(u));
        for (size_t i = 0; u[i]; i++)
            ck_assert_int_eq(n[i], (u[i] >= 'A' && u[i] <= 'Z') ? u[i] - 'A' + 'a' : u[i]);
    }
}
END_TEST

START_TEST(test_counter_names_are_unique_and_every_counter_is_described)
{
    for (int a = 1; a < TS_C_COUNT; a++) {
        ck_assert_uint_gt(strlen(ts_counter_desc((enum ts_counter)a)), 0);
        for (int b = a + 1; b < TS_C_COUNT; b++)
            ck_assert_str_ne(ts_counter_name((enum ts_counter)a),
                             ts_counter_name((enum ts_counter)b));
    }
    ck_assert_str_eq(ts_counter_desc(TS_C_IP_DROP_BAD_CSUM), "IPv4 header checksum wrong");
}
END_TEST

START_TEST(test_counter_out_of_range_gets_a_placeholder_not_a_crash)
{
    ck_assert_str_eq(ts_counter_name(TS_C_COUNT), "unknown");
    ck_assert_str_eq(ts_counter_name((enum ts_counter) - 1), "unknown");
    ck_assert_ptr_nonnull(ts_counter_desc(TS_C_COUNT));
    ck_assert_str_eq(ts_counter_name(TS_C_OK), "ok");
}
END_TEST

static Suite *counters_suite(void)
{
    Suite *s = suite_create("counters");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_counter_names_are_the_enum_names_in_lower_case);
    tcase_add_test(tc, test_counter_names_are_unique_and_every_counter_is_described);
    tcase_add_test(tc, test_counter_out_of_range_gets_a_placeholder_not_a_crash);
    suite_add_tcase(s, tc);
    return s;
}

/* ===================================================================== addr */

START_TEST(test_ip_parse_accepts_dotted_quads_in_host_order)
{
    uint32_t ip = 0;
    ck_assert_int_eq(ts_ip_parse("10.0.0.2", &ip), 0);
    ck_assert_uint_eq(ip, IP_B);
    ck_assert_int_eq(ts_ip_parse("255.255.255.255", &ip), 0);
    ck_assert_uint_eq(ip, 0xffffffffu);
    ck_assert_int_eq(ts_ip_parse("0.0.0.0", &ip), 0);
    ck_assert_uint_eq(ip, 0);
    ck_assert_int_eq(ts_ip_parse("192.168.100.7", &ip), 0);
    ck_assert_uint_eq(ip, 0xc0a86407u);
}
END_TEST

START_TEST(test_ip_parse_rejects_malformed_and_leaves_output_alone)
{
    const char *bad[] = {"",          "10.0.0",      "10.0.0.2.", "10.0.0.2.1", "256.0.0.1",
                         "10.0.0.-1", "10..0.2",     " 10.0.0.2", "10.0.0.2 ",  "1000.0.0.1",
                         "010.0.0.1", "10.0.0.2/24", "a.b.c.d",   "0x0a.0.0.1", "10.0.0.02"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t ip = 0x12345678;
        ck_assert_msg(ts_ip_parse(bad[i], &ip) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(ip, 0x12345678);
    }
    uint32_t ip;
    ck_assert_int_eq(ts_ip_parse(NULL, &ip), -1);
}
END_TEST

START_TEST(test_ip_format_round_trips_with_parse)
{
    char buf[16];
    ck_assert_str_eq(ts_ip_format(IP_B, buf), "10.0.0.2");
    ck_assert_str_eq(ts_ip_format(0xffffffffu, buf), "255.255.255.255");
    ck_assert_str_eq(ts_ip_format(0, buf), "0.0.0.0");
    const uint32_t v[] = {1, 0x7f000001u, 0xc0a800c7u, 0x80808080u};
    for (size_t i = 0; i < 4; i++) {
        uint32_t back;
        ck_assert_int_eq(ts_ip_parse(ts_ip_format(v[i], buf), &back), 0);
        ck_assert_uint_eq(back, v[i]);
    }
}
END_TEST

START_TEST(test_mac_parse_and_format_round_trip)
{
    uint8_t m[6];
    char buf[18];
    ck_assert_int_eq(ts_mac_parse("02:00:00:00:00:02", m), 0);
    const uint8_t want[6] = {2, 0, 0, 0, 0, 2};
    ck_assert_mem_eq(m, want, 6);
    ck_assert_int_eq(ts_mac_parse("DE:ad:BE:ef:00:Ff", m), 0);
    ck_assert_str_eq(ts_mac_format(m, buf), "de:ad:be:ef:00:ff");
    ck_assert_int_eq(ts_mac_parse("de-ad-be-ef-00-01", m), 0);
    ck_assert_uint_eq(m[5], 1);
}
END_TEST

START_TEST(test_mac_parse_rejects_malformed_and_leaves_output_alone)
{
    const char *bad[] = {"",
                         "02:00:00:00:00",
                         "02:00:00:00:00:02:03",
                         "02:00:00:00:00:0",
                         "2:0:0:0:0:2",
                         "02:00:00-00:00:02",
                         "02:00:00:00:00:0g",
                         "0200.0000.0002",
                         "02:00:00:00:00:02 ",
                         "020000000002"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t m[6] = {9, 9, 9, 9, 9, 9};
        ck_assert_msg(ts_mac_parse(bad[i], m) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(m[0], 9);
    }
}
END_TEST

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ip_parse_accepts_dotted_quads_in_host_order);
    tcase_add_test(tc, test_ip_parse_rejects_malformed_and_leaves_output_alone);
    tcase_add_test(tc, test_ip_format_round_trips_with_parse);
    tcase_add_test(tc, test_mac_parse_and_format_round_trip);
    tcase_add_test(tc, test_mac_parse_rejects_malformed_and_leaves_output_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(checksum_suite());
    srunner_add_suite(sr, eth_suite());
    srunner_add_suite(sr, arp_suite());
    srunner_add_suite(sr, ipv4_suite());
    srunner_add_suite(sr, icmp_suite());
    srunner_add_suite(sr, udp_suite());
    srunner_add_suite(sr, tcp_suite());
    srunner_add_suite(sr, counters_suite());
    srunner_add_suite(sr, addr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
