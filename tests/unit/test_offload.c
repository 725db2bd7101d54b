/* Offloads (issue 11): the frame metadata of a tap with IFF_VNET_HDR, on the in-memory link.
 * Software segmentation cuts a super-segment as the kernel would; the stack takes a super-segment
 * only when the driver says it is one, trusts a partial or host-verified checksum, and drops and
 * counts a header that lies; it sends super-segments only to a link that takes them; the fault
 * injector applies its faults to the wire frames of a super-segment. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "tapstack/udp.h"
#include "wire/be.h"
#include "wire/checksum.h"

#define MSS 1448

static uint8_t big[TS_FRAME_MAX];

/* A TCP/IPv4 super-segment from the raw peer to its stack: n data bytes (pattern i % 251), the
 * TCP checksum left partial (pseudo-header sum only) as the kernel hands it over. */
static size_t super_segment(const struct th_raw *r, uint32_t seq, size_t n, uint8_t flags,
                            struct ts_frame_meta *m)
{
    static uint8_t data[IPV4_MAX_LEN];
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i % 251);
    struct tcp_hdr h = {.sport = 5555,
                        .dport = 80,
                        .seq = seq,
                        .ack = 1,
                        .flags = flags,
                        .wnd = 1000,
                        .payload = data,
                        .payload_len = n};
    size_t len = th_build_tcp(r, &h, big, sizeof big);
    ck_assert_uint_gt(len, 0);
    size_t l4 = ETH_HDR_LEN + IPV4_HDR_LEN;
    uint16_t tlen = (uint16_t)(len - l4);
    be16_put(big + l4 + 16,
             (uint16_t)~csum_fold(csum_pseudo(r->peer_ip, r->ip, IP_PROTO_TCP, tlen)));
    *m = (struct ts_frame_meta){.gso = TS_GSO_TCPV4,
                                .csum = TS_CSUM_PARTIAL,
                                .gso_size = MSS,
                                .hdr_len = (uint16_t)(l4 + TCP_HDR_LEN),
                                .csum_start = (uint16_t)l4,
                                .csum_offset = 16};
    return len;
}

/* ---------------------------------------------------------------- software segmentation */

struct pieces {
    size_t n;
    uint8_t f[64][1600];
    size_t len[64];
};
static void collect(void *arg, const uint8_t *frame, size_t len)
{
    struct pieces *p = arg;
    ck_assert_uint_lt(p->n, 64);
    ck_assert_uint_le(len, sizeof p->f[0]);
    memcpy(p->f[p->n], frame, len);
    p->len[p->n++] = len;
}

START_TEST(test_segmentation_cuts_a_super_segment_into_mss_pieces_each_with_its_own_headers)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_frame_meta m;
    size_t n = 3 * MSS + 100;
    size_t len = super_segment(&r, 7000, n, TCP_ACK | TCP_PSH, &m);
    static struct pieces p;
    p.n = 0;
    ck_assert_int_eq(ts_frame_segment(big, len, &m, collect, &p), 4);
    uint16_t id0 = be16_get(big + ETH_HDR_LEN + 4);
    for (size_t i = 0; i < p.n; i++) {
        struct ipv4_hdr ip;
        struct tcp_hdr h;
        /* th_parse_* check the IPv4 and TCP checksums: each piece has full, correct ones. */
        ck_assert(th_parse_ipv4(p.f[i], p.len[i], &ip));
        ck_assert(th_parse_tcp(p.f[i], p.len[i], &h));
        ck_assert_uint_eq(ip.id, (uint16_t)(id0 + i));
        ck_assert_uint_eq(h.seq, 7000 + i * MSS);
        ck_assert_uint_eq(h.payload_len, i < 3 ? MSS : 100);
        ck_assert_uint_eq(h.payload[0], (uint8_t)((i * MSS) % 251));
        /* PSH goes with the last piece only, as the kernel's tcp_gso_segment does. */
        ck_assert_uint_eq(h.flags, i < 3 ? TCP_ACK : (TCP_ACK | TCP_PSH));
    }
    th_raw_free(&r);
}
END_TEST

START_TEST(test_segmentation_refuses_gso_metadata_that_does_not_fit_the_frame)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_frame_meta m;
    size_t len = super_segment(&r, 1, 4000, TCP_ACK, &m);
    static struct pieces p;
    p.n = 0;
    m.gso_size = 0;
    ck_assert_int_eq(ts_frame_segment(big, len, &m, collect, &p), -EINVAL);
    m.gso_size = MSS;
    big[ETH_HDR_LEN + 9] = IP_PROTO_UDP; /* says TCP GSO, carries UDP */
    ck_assert_int_eq(ts_frame_segment(big, len, &m, collect, &p), -EINVAL);
    ck_assert_uint_eq(p.n, 0);
    th_raw_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- the stack receiving */

START_TEST(test_super_segment_passes_link_and_ip_only_when_the_driver_says_it_is_one)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_frame_meta m;
    size_t len = super_segment(&r, 1, 20000, TCP_ACK, &m);
    /* With the checksum complete over the whole super-segment (TCP checks it itself). */
    ts_frame_csum_complete(big, len, &m);
    m.csum = TS_CSUM_NONE;
    th_raw_inject(&r, big, len); /* no metadata: a 20 KB frame on a 1500 MTU link */
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_ETH_DROP_OVERSIZE), 1);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_RX), 0);
    th_raw_inject_meta(&r, big, len, &m);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_ETH_DROP_OVERSIZE), 1);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_ETH_RX_GSO), 1);
    /* TCP took it as one segment (no listener on port 80: it answers with one RST). */
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_RX), 1);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_TCP_DROP_BAD_CSUM), 0);
    struct tcp_hdr h;
    ck_assert(th_raw_recv_tcp(&r, &h));
    ck_assert(h.flags & TCP_RST);
    ck_assert_uint_eq(h.seq, 1); /* the ACK field of the super-segment */
    th_raw_free(&r);
}
END_TEST

struct lie {
    const char *what;
    void (*spoil)(struct ts_frame_meta *m, uint8_t *frame);
    enum ts_counter counted;
};
static void gso_type_ipv6(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->gso = TS_GSO_OTHER;
}
static void gso_size_zero(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->gso_size = 0;
}
static void gso_on_a_fragment(struct ts_frame_meta *m, uint8_t *f)
{
    (void)m;
    uint8_t *ip = f + ETH_HDR_LEN;
    be16_put(ip + 6, 0x2000); /* MF */
    be16_put(ip + 10, 0);
    be16_put(ip + 10, csum(ip, IPV4_HDR_LEN));
}
static void gso_on_udp(struct ts_frame_meta *m, uint8_t *f)
{
    (void)m;
    uint8_t *ip = f + ETH_HDR_LEN;
    ip[9] = IP_PROTO_UDP;
    be16_put(ip + 10, 0);
    be16_put(ip + 10, csum(ip, IPV4_HDR_LEN));
}
static void udp_gso_on_tcp(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->gso = TS_GSO_UDPV4;
}
static void csum_start_at_ip(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->csum_start = ETH_HDR_LEN;
}
static void csum_offset_not_tcp(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->csum_offset = 6;
}
static void csum_past_the_end(struct ts_frame_meta *m, uint8_t *f)
{
    (void)f;
    m->gso = TS_GSO_NONE;
    m->csum_start = 60000;
}
static const struct lie lies[] = {
    {"GSO type we do not take", gso_type_ipv6, TS_C_ETH_DROP_OFFLOAD_TYPE},
    {"gso_size 0", gso_size_zero, TS_C_IP_DROP_OFFLOAD_GSO},
    {"GSO on a fragment", gso_on_a_fragment, TS_C_IP_DROP_OFFLOAD_GSO},
    {"TCP GSO on a UDP datagram", gso_on_udp, TS_C_IP_DROP_OFFLOAD_GSO},
    {"UDP GSO on a TCP segment", udp_gso_on_tcp, TS_C_IP_DROP_OFFLOAD_GSO},
    {"partial checksum starting at the IP header", csum_start_at_ip, TS_C_IP_DROP_OFFLOAD_CSUM},
    {"partial checksum field at UDP's offset", csum_offset_not_tcp, TS_C_IP_DROP_OFFLOAD_CSUM},
    {"partial checksum past the frame", csum_past_the_end, TS_C_IP_DROP_OFFLOAD_CSUM},
};

START_TEST(test_virtio_header_that_lies_is_dropped_and_counted_with_its_reason)
{
    const struct lie *l = &lies[_i];
    struct th_raw r;
    th_raw_init(&r);
    struct ts_frame_meta m;
    size_t len = super_segment(&r, 1, l->spoil == csum_past_the_end ? 1000 : 8000, TCP_ACK, &m);
    l->spoil(&m, big);
    th_raw_inject_meta(&r, big, len, &m);
    ck_assert_msg(ts_stack_counter(r.s, l->counted) == 1, "%s: not counted", l->what);
    ck_assert_msg(ts_stack_counter(r.s, TS_C_TCP_RX) == 0, "%s: reached TCP", l->what);
    ck_assert_msg(th_raw_pending(&r) == 0, "%s: answered", l->what);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_partial_udp_checksum_is_trusted_and_the_same_bytes_without_metadata_are_not)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r.s, 0, 9000, false, 65536, &err);
    ck_assert_ptr_nonnull(u);
    size_t len = th_build_udp(&r, 4000, 9000, "hello", 5, big, sizeof big);
    size_t l4 = ETH_HDR_LEN + IPV4_HDR_LEN;
    /* What the host hands over with TUN_F_CSUM: only the pseudo-header sum in the field. */
    be16_put(big + l4 + 6, (uint16_t)~csum_fold(csum_pseudo(r.peer_ip, r.ip, IP_PROTO_UDP, 13)));
    th_raw_inject(&r, big, len);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_UDP_DROP_BAD_CSUM), 1);
    struct ts_frame_meta m = {
        .csum = TS_CSUM_PARTIAL, .csum_start = (uint16_t)l4, .csum_offset = 6};
    th_raw_inject_meta(&r, big, len, &m);
    char buf[16];
    uint32_t from;
    uint16_t port;
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, &from, &port, NULL), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    /* DATA_VALID: the host checked it; a wrong sum is then not ours to find. */
    big[l4 + 8] = 'j';
    m = (struct ts_frame_meta){.csum = TS_CSUM_VALID};
    th_raw_inject_meta(&r, big, len, &m);
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, &from, &port, NULL), 5);
    ck_assert_mem_eq(buf, "jello", 5);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_UDP_DROP_BAD_CSUM), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_super_datagram_is_taken_as_the_datagrams_it_holds)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r.s, 0, 9000, false, 65536, &err);
    ck_assert_ptr_nonnull(u);
    char msg[250];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    size_t len = th_build_udp(&r, 4000, 9000, msg, sizeof msg, big, sizeof big);
    size_t l4 = ETH_HDR_LEN + IPV4_HDR_LEN;
    /* A host app's UDP_SEGMENT with 100-byte segments: 100 + 100 + 50, checksum left partial. */
    be16_put(big + l4 + 6,
             (uint16_t)~csum_fold(csum_pseudo(r.peer_ip, r.ip, IP_PROTO_UDP, 8 + sizeof msg)));
    struct ts_frame_meta m = {.gso = TS_GSO_UDPV4,
                              .csum = TS_CSUM_PARTIAL,
                              .gso_size = 100,
                              .hdr_len = (uint16_t)(l4 + 8),
                              .csum_start = (uint16_t)l4,
                              .csum_offset = 6};
    /* What the fault injector or any wire would carry: three datagrams of their own. */
    static struct pieces p;
    p.n = 0;
    ck_assert_int_eq(ts_frame_segment(big, len, &m, collect, &p), 3);
    for (size_t i = 0; i < 3; i++) {
        struct udp_hdr h;
        ck_assert(th_parse_udp(p.f[i], p.len[i], &h)); /* full, correct checksums */
        ck_assert_uint_eq(h.payload_len, i < 2 ? 100 : 50);
        ck_assert_mem_eq(h.payload, msg + 100 * i, h.payload_len);
    }
    th_raw_inject_meta(&r, big, len, &m);
    char buf[300];
    uint32_t from;
    uint16_t port;
    for (size_t i = 0; i < 3; i++) {
        ssize_t n = ts_udp_recvfrom(u, buf, sizeof buf, &from, &port, NULL);
        ck_assert_int_eq(n, i < 2 ? 100 : 50);
        ck_assert_mem_eq(buf, msg + 100 * i, (size_t)n);
        ck_assert_uint_eq(port, 4000);
    }
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, &from, &port, NULL), -EAGAIN);
    ck_assert_uint_eq(ts_stack_counter(r.s, TS_C_ETH_RX_GSO), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- the stack sending */

START_TEST(test_ip_sends_a_super_datagram_with_df_only_to_a_link_that_takes_tso)
{
    struct th_raw r;
    th_raw_init(&r);
    size_t cap;
    uint8_t *p = ts_ip_tx_buf(r.s, &cap);
    memset(p, 0x5a, 30000);
    struct ts_ip_offload o = {.gso_size = MSS, .l4_hdr_len = 20, .csum_offset = 16};
    /* The pair end says it takes no offloads (as the fault injector, or a tap without them). */
    ck_assert(!ts_ip_gso_ok(r.s, r.peer_ip));
    ck_assert_int_eq(ts_ip_send_offload(r.s, 0, r.peer_ip, IP_PROTO_TCP, 30000, 0, &o),
                     -EOPNOTSUPP);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    th_raw_free(&r);

    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    ts_pair_set_offloads(a, TS_OFFLOAD_CSUM | TS_OFFLOAD_TSO4);
    struct ts_config cfg;
    th_config(&cfg, TH_B);
    struct ts_stack *s = ts_stack_new(&cfg, a, TH_T0);
    ck_assert_ptr_nonnull(s);
    uint8_t *frame = malloc(TS_FRAME_MAX);
    struct ts_frame_meta m;
    while (ts_driver_recv_meta(b, frame, TS_FRAME_MAX, &m, TH_T0) > 0)
        ; /* the gratuitous ARP */
    ck_assert(ts_ip_gso_ok(s, TH_IP_A));
    p = ts_ip_tx_buf(s, &cap);
    memset(p, 0x5a, 30000);
    /* Broadcast needs no ARP: the frame goes out at once. */
    ck_assert_int_eq(ts_ip_send_offload(s, 0, 0x0a0000ffu, IP_PROTO_TCP, 30000, 0, &o), 0);
    int n = ts_driver_recv_meta(b, frame, TS_FRAME_MAX, &m, TH_T0);
    ck_assert_int_eq(n, ETH_HDR_LEN + IPV4_HDR_LEN + 30000);
    ck_assert_uint_eq(m.gso, TS_GSO_TCPV4);
    ck_assert_uint_eq(m.gso_size, MSS);
    ck_assert_uint_eq(m.hdr_len, ETH_HDR_LEN + IPV4_HDR_LEN + 20);
    ck_assert_uint_eq(m.csum, TS_CSUM_PARTIAL);
    ck_assert_uint_eq(m.csum_start, ETH_HDR_LEN + IPV4_HDR_LEN);
    ck_assert_uint_eq(m.csum_offset, 16);
    struct ipv4_hdr ip;
    ck_assert_int_eq(ipv4_parse(frame + ETH_HDR_LEN, (size_t)n - ETH_HDR_LEN, &ip), TS_C_OK);
    ck_assert(ip.df);
    ck_assert_uint_eq(ip.total_len, IPV4_HDR_LEN + 30000);
    ck_assert_uint_eq(ts_stack_counter(s, TS_C_ETH_TX_GSO), 1);
    ck_assert_uint_eq(ts_stack_counter(s, TS_C_IP_FRAG_TX), 0);
    free(frame);
    ts_stack_free(s);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

/* ---------------------------------------------------------------- wrappers */

START_TEST(test_fault_injector_hands_on_the_wire_frames_of_a_super_segment)
{
    struct th_raw r;
    th_raw_init(&r); /* only for its addresses and builders */
    struct ts_frame_meta m;
    size_t len = super_segment(&r, 100, 5 * MSS, TCP_ACK, &m);
    th_raw_free(&r);
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    struct ts_fault_config cfg = {.seed = 1};
    struct ts_driver *f = ts_fault_wrap(a, &cfg);
    ck_assert_uint_eq(ts_driver_offloads(f), 0);
    ck_assert_int_eq(ts_driver_send_meta(b, big, len, &m, 0), 0);
    uint8_t *frame = malloc(TS_FRAME_MAX);
    struct ts_frame_meta got;
    int n, count = 0;
    while ((n = ts_driver_recv_meta(f, frame, TS_FRAME_MAX, &got, 0)) > 0) {
        struct tcp_hdr h;
        ck_assert_uint_eq(got.gso, TS_GSO_NONE);
        ck_assert_uint_eq(got.csum, TS_CSUM_NONE);
        ck_assert(th_parse_tcp(frame, (size_t)n, &h)); /* complete checksums */
        ck_assert_uint_eq(h.seq, 100 + (uint32_t)count * MSS);
        ck_assert_uint_eq(h.payload_len, MSS);
        count++;
    }
    ck_assert_int_eq(count, 5);
    free(frame);
    ts_driver_destroy(f);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_pair_carries_the_metadata_with_the_frame)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    uint8_t f[60] = {0};
    struct ts_frame_meta m = {.csum = TS_CSUM_PARTIAL, .csum_start = 34, .csum_offset = 16};
    ck_assert_int_eq(ts_driver_send_meta(a, f, sizeof f, &m, 0), 0);
    ck_assert_int_eq(ts_driver_send(a, f, sizeof f, 0), 0);
    struct ts_frame_meta got;
    ck_assert_int_eq(ts_driver_recv_meta(b, f, sizeof f, &got, 0), 60);
    ck_assert_mem_eq(&got, &m, sizeof m);
    ck_assert_int_eq(ts_driver_recv_meta(b, f, sizeof f, &got, 0), 60);
    ck_assert_uint_eq(got.csum, TS_CSUM_NONE);
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

static Suite *offload_suite(void)
{
    Suite *s = suite_create("offload");
    TCase *tc = tcase_create("core");
    tcase_add_test(
        tc, test_segmentation_cuts_a_super_segment_into_mss_pieces_each_with_its_own_headers);
    tcase_add_test(tc, test_segmentation_refuses_gso_metadata_that_does_not_fit_the_frame);
    tcase_add_test(tc, test_super_segment_passes_link_and_ip_only_when_the_driver_says_it_is_one);
    tcase_add_loop_test(tc, test_virtio_header_that_lies_is_dropped_and_counted_with_its_reason, 0,
                        (int)(sizeof lies / sizeof lies[0]));
    tcase_add_test(
        tc, test_partial_udp_checksum_is_trusted_and_the_same_bytes_without_metadata_are_not);
    tcase_add_test(tc, test_udp_super_datagram_is_taken_as_the_datagrams_it_holds);
    tcase_add_test(tc, test_ip_sends_a_super_datagram_with_df_only_to_a_link_that_takes_tso);
    tcase_add_test(tc, test_fault_injector_hands_on_the_wire_frames_of_a_super_segment);
    tcase_add_test(tc, test_pair_carries_the_metadata_with_the_frame);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(offload_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
