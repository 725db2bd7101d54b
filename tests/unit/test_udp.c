/* UDP (RFC 768) in the core: delivery, checksums, port unreachable, bind rules, the receive
 * bound, the send path, and ICMP errors. One stack with a raw peer on a virtual clock. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "tapstack/udp.h"

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

struct events {
    unsigned readable, error;
};
static void on_event(void *user, struct ts_udp_sock *u, unsigned ev)
{
    (void)u;
    struct events *e = user;
    if (ev & TS_UDP_EV_READABLE)
        e->readable++;
    if (ev & TS_UDP_EV_ERROR)
        e->error++;
}

static struct ts_udp_sock *open_on(struct th_raw *r, uint16_t port, bool reuse, size_t rcvbuf)
{
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r->s, 0, port, reuse, rcvbuf, &err);
    ck_assert_msg(u != NULL, "ts_udp_open(%u) failed: %d", port, err);
    return u;
}

START_TEST(test_datagram_to_bound_port_is_delivered_with_its_source)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    struct events ev = {0};
    ts_udp_set_callback(u, on_event, &ev);
    th_raw_send_udp(&r, 5555, 7000, "hello", 5);
    ck_assert_uint_eq(ev.readable, 1);
    ck_assert_uint_eq(ts_udp_readable(u), 6);
    char buf[64];
    uint32_t ip = 0;
    uint16_t port = 0;
    size_t full = 0;
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, &ip, &port, &full), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert_uint_eq(ip, TH_IP_A);
    ck_assert_uint_eq(port, 5555);
    ck_assert_uint_eq(full, 5);
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, NULL, NULL, NULL), -EAGAIN);
    ck_assert_uint_eq(ts_udp_readable(u), 0);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_RX), 1);
    ck_assert_uint_eq(th_raw_pending(&r), 0); /* no ICMP, nothing */
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_table_lists_every_endpoint_with_its_queued_datagrams)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *a = open_on(&r, 7000, false, 65536);
    struct ts_udp_sock *b = open_on(&r, 7001, false, 65536);
    ck_assert_int_eq(ts_udp_connect(b, TH_IP_A, 9), 0);
    th_raw_send_udp(&r, 5555, 7000, "hello", 5);
    th_raw_send_udp(&r, 5555, 7000, "abc", 3);
    struct ts_udp_info info[4];
    ck_assert_uint_eq(ts_udp_table(r.s, NULL, 0), 2);
    ck_assert_uint_eq(ts_udp_table(r.s, info, 4), 2);
    const struct ts_udp_info *ia = info[0].lport == 7000 ? &info[0] : &info[1];
    const struct ts_udp_info *ib = ia == &info[0] ? &info[1] : &info[0];
    ck_assert_uint_eq(ia->lport, 7000);
    ck_assert_uint_eq(ia->recv_queued, 8);
    ck_assert_uint_eq(ia->recv_dgrams, 2);
    ck_assert_uint_eq(ia->raddr, 0);
    ck_assert_uint_eq(ib->lport, 7001);
    ck_assert_uint_eq(ib->raddr, TH_IP_A);
    ck_assert_uint_eq(ib->rport, 9);
    ck_assert_uint_eq(ib->recv_queued, 0);
    ts_udp_close(a);
    ts_udp_close(b);
    ck_assert_uint_eq(ts_udp_table(r.s, info, 4), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_empty_datagram_is_delivered_as_zero_length)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    th_raw_send_udp(&r, 5555, 7000, NULL, 0);
    ck_assert_uint_eq(ts_udp_readable(u), 1); /* a datagram of 0 bytes is there */
    char b;
    ck_assert_int_eq(ts_udp_recvfrom(u, &b, 1, NULL, NULL, NULL), 0);
    ck_assert_uint_eq(ts_udp_readable(u), 0);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_closed_port_gets_icmp_port_unreachable_quoting_the_datagram)
{
    struct th_raw r;
    th_raw_init(&r);
    th_raw_send_udp(&r, 5555, 9999, "x", 1);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.type, ICMP_DEST_UNREACH);
    ck_assert_uint_eq(ic.code, ICMP_UNREACH_PORT);
    ck_assert_uint_eq(ip.dst, TH_IP_A);
    /* RFC 792: the quote is the original IP header plus the first 8 bytes (the UDP header). */
    ck_assert_uint_ge(ic.payload_len, IPV4_HDR_LEN + UDP_HDR_LEN);
    const uint8_t *q = ic.payload + IPV4_HDR_LEN;
    ck_assert_uint_eq((q[0] << 8) | q[1], 5555);
    ck_assert_uint_eq((q[2] << 8) | q[3], 9999);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_NO_PORT), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_broadcast_to_closed_port_is_dropped_without_icmp)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t pkt[64];
    struct udp_hdr h = {
        .sport = 68, .dport = 67, .payload = (const uint8_t *)"d", .payload_len = 1};
    size_t l = udp_emit(&h, TH_IP_A, IPV4_BROADCAST, pkt, sizeof pkt);
    ck_assert_uint_gt(l, 0);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, IPV4_BROADCAST, IP_PROTO_UDP, pkt, l);
    size_t fl = th_build_ipv4(r.scratch, sizeof r.scratch, th_mac_bcast, r.peer_mac, &ip);
    th_raw_inject(&r, r.scratch, fl);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_NO_PORT), 1);
    ck_assert_uint_eq(th_raw_pending(&r), 0); /* RFC 1122 3.2.2: never an ICMP error */
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_input_returns_no_port_for_the_conductor_to_answer)
{
    struct th_raw r;
    th_raw_init(&r);
    r.s->now = r.now;
    uint8_t pkt[64];
    struct udp_hdr h = {
        .sport = 5555, .dport = 7000, .payload = (const uint8_t *)"abcd", .payload_len = 4};
    size_t l = udp_emit(&h, TH_IP_A, TH_IP_B, pkt, sizeof pkt);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_UDP, pkt, l);
    ck_assert_int_eq(ts_udp_input(r.s, &ip, false, 0), TS_UDP_RX_NO_PORT);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_NO_PORT), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0); /* udp.c sends no ICMP itself */
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    ck_assert_int_eq(ts_udp_input(r.s, &ip, false, 0), TS_UDP_RX_DONE);
    ck_assert_uint_eq(ts_udp_readable(u), 5);
    pkt[l - 1] ^= 1; /* a bad checksum is dropped here, counted: nothing for the caller to do */
    ck_assert_int_eq(ts_udp_input(r.s, &ip, false, 0), TS_UDP_RX_DONE);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_BAD_CSUM), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_broadcast_reaches_every_socket_on_the_port)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *a = open_on(&r, 67, true, 65536);
    struct ts_udp_sock *b = open_on(&r, 67, true, 65536);
    uint8_t pkt[64];
    struct udp_hdr h = {
        .sport = 68, .dport = 67, .payload = (const uint8_t *)"d", .payload_len = 1};
    size_t l = udp_emit(&h, TH_IP_A, th_ip(10, 0, 0, 255), pkt, sizeof pkt);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, th_ip(10, 0, 0, 255), IP_PROTO_UDP, pkt, l);
    size_t fl = th_build_ipv4(r.scratch, sizeof r.scratch, th_mac_bcast, r.peer_mac, &ip);
    th_raw_inject(&r, r.scratch, fl);
    ck_assert_uint_eq(ts_udp_readable(a), 2);
    ck_assert_uint_eq(ts_udp_readable(b), 2);
    ts_udp_close(a);
    ts_udp_close(b);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_bad_checksum_is_dropped_and_counted)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    size_t l = th_build_udp(&r, 5555, 7000, "abcd", 4, r.scratch, sizeof r.scratch);
    r.scratch[l - 1] ^= 0x40; /* payload byte: the UDP checksum no longer matches */
    th_raw_inject(&r, r.scratch, l);
    ck_assert_uint_eq(ts_udp_readable(u), 0);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_BAD_CSUM), 1);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_zero_checksum_means_none_and_is_accepted)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    size_t l = th_build_udp(&r, 5555, 7000, "abcd", 4, r.scratch, sizeof r.scratch);
    size_t off = ETH_HDR_LEN + IPV4_HDR_LEN;
    r.scratch[off + 6] = r.scratch[off + 7] = 0; /* RFC 768: no checksum computed */
    r.scratch[l - 1] ^= 0x40;                    /* so a changed byte goes unnoticed */
    th_raw_inject(&r, r.scratch, l);
    ck_assert_uint_eq(ts_udp_readable(u), 5);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_BAD_CSUM), 0);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_truncated_datagram_is_dropped_and_counted)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t pkt[4] = {0x15, 0xb3, 0x1b, 0x58};
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_UDP, pkt, sizeof pkt);
    size_t fl = th_build_ipv4(r.scratch, sizeof r.scratch, r.mac, r.peer_mac, &ip);
    th_raw_inject(&r, r.scratch, fl);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_TRUNCATED), 1);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_full_receive_queue_drops_and_counts)
{
    struct th_raw r;
    th_raw_init(&r);
    /* Room for two 100-byte datagrams with their overhead, not three. */
    struct ts_udp_sock *u = open_on(&r, 7000, false, 2 * (100 + 64) + 10);
    uint8_t data[100] = {0};
    for (int i = 0; i < 3; i++)
        th_raw_send_udp(&r, 5555, 7000, data, sizeof data);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_RCVBUF_FULL), 1);
    uint8_t buf[200];
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, NULL, NULL, NULL), 100);
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, NULL, NULL, NULL), 100);
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, NULL, NULL, NULL), -EAGAIN);
    ck_assert_uint_eq(ts_udp_queued(u), 0);
    /* Draining made room again. */
    th_raw_send_udp(&r, 5555, 7000, data, sizeof data);
    ck_assert_uint_eq(ts_udp_readable(u), 101);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_datagram_larger_than_rcvbuf_still_enters_an_empty_queue)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 100);
    uint8_t data[1000] = {0};
    th_raw_send_udp(&r, 5555, 7000, data, sizeof data);
    th_raw_send_udp(&r, 5555, 7000, data, sizeof data);
    ck_assert_uint_eq(ts_udp_readable(u), 1001);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_DROP_RCVBUF_FULL), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_short_read_truncates_and_reports_full_length)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    th_raw_send_udp(&r, 5555, 7000, "abcdefgh", 8);
    char buf[3];
    size_t full = 0;
    ck_assert_int_eq(ts_udp_peekfrom(u, buf, sizeof buf, NULL, NULL, &full), 3);
    ck_assert_uint_eq(full, 8);
    ck_assert_uint_eq(ts_udp_readable(u), 9); /* peek left it there */
    ck_assert_int_eq(ts_udp_recvfrom(u, buf, sizeof buf, NULL, NULL, &full), 3);
    ck_assert_mem_eq(buf, "abc", 3);
    ck_assert_uint_eq(full, 8);
    ck_assert_uint_eq(ts_udp_readable(u), 0); /* the rest of the datagram is gone */
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_bind_same_port_twice_is_eaddrinuse)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    int err = 0;
    ck_assert_ptr_null(ts_udp_open(r.s, 0, 7000, false, 65536, &err));
    ck_assert_int_eq(err, EADDRINUSE);
    err = 0;
    ck_assert_ptr_null(ts_udp_open(r.s, TH_IP_B, 7000, false, 65536, &err));
    ck_assert_int_eq(err, EADDRINUSE);
    /* SO_REUSEADDR on one side only is not enough (Linux). */
    err = 0;
    ck_assert_ptr_null(ts_udp_open(r.s, 0, 7000, true, 65536, &err));
    ck_assert_int_eq(err, EADDRINUSE);
    ts_udp_close(u);
    /* Closed: the port is free again. */
    u = open_on(&r, 7000, false, 65536);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_reuseaddr_on_both_sockets_shares_the_port)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *a = open_on(&r, 7000, true, 65536);
    struct ts_udp_sock *b = open_on(&r, 7000, true, 65536);
    th_raw_send_udp(&r, 5555, 7000, "u", 1);
    /* Unicast goes to exactly one of them. */
    ck_assert_uint_eq((ts_udp_readable(a) ? 1 : 0) + (ts_udp_readable(b) ? 1 : 0), 1);
    ts_udp_close(a);
    ts_udp_close(b);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_bind_to_foreign_address_is_eaddrnotavail)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    ck_assert_ptr_null(ts_udp_open(r.s, th_ip(192, 168, 1, 1), 7000, false, 65536, &err));
    ck_assert_int_eq(err, EADDRNOTAVAIL);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_ephemeral_ports_are_distinct_and_in_the_configured_range)
{
    struct ts_config cfg;
    th_config(&cfg, TH_B);
    cfg.ephemeral_lo = 40000;
    cfg.ephemeral_hi = 40003;
    struct th_raw r;
    th_raw_init_ex(&r, &(struct th_raw_opts){.cfg = &cfg});
    struct ts_udp_sock *u[4];
    bool seen[4] = {false};
    for (int i = 0; i < 4; i++) {
        u[i] = open_on(&r, 0, false, 65536);
        uint16_t p;
        ts_udp_endpoints(u[i], NULL, &p, NULL, NULL);
        ck_assert_uint_ge(p, 40000);
        ck_assert_uint_le(p, 40003);
        ck_assert(!seen[p - 40000]);
        seen[p - 40000] = true;
    }
    int err = 0;
    ck_assert_ptr_null(ts_udp_open(r.s, 0, 0, false, 65536, &err)); /* range exhausted */
    ck_assert_int_eq(err, EADDRINUSE);
    for (int i = 0; i < 4; i++)
        ts_udp_close(u[i]);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_sendto_emits_datagram_with_ports_payload_and_checksum)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    ck_assert_int_eq(ts_udp_sendto(u, "ping", 4, TH_IP_A, 5555, r.now), 4);
    struct udp_hdr h;
    ck_assert(th_raw_recv_udp(&r, &h)); /* th_parse_udp verifies the checksum */
    ck_assert_uint_eq(h.sport, 7000);
    ck_assert_uint_eq(h.dport, 5555);
    ck_assert_uint_ne(h.csum, 0);
    ck_assert_uint_eq(h.payload_len, 4);
    ck_assert_mem_eq(h.payload, "ping", 4);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_TX), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_large_datagram_is_fragmented_by_ip)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    static uint8_t data[4000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    ck_assert_int_eq(ts_udp_sendto(u, data, sizeof data, TH_IP_A, 5555, r.now), 4000);
    size_t frags = 0, bytes = 0;
    bool last_seen = false;
    struct ipv4_hdr ip;
    while (th_raw_recv_ipv4(&r, &ip)) {
        ck_assert_uint_eq(ip.proto, IP_PROTO_UDP);
        ck_assert(!ip.df);
        frags++;
        bytes += ip.payload_len;
        if (!ip.mf)
            last_seen = true;
    }
    ck_assert_uint_eq(frags, 3); /* 4008 bytes over a 1500-byte MTU */
    ck_assert_uint_eq(bytes, 4008);
    ck_assert(last_seen);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_sendto_broadcast_addresses_goes_to_the_broadcast_mac)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 68, false, 65536);
    uint32_t dsts[2] = {IPV4_BROADCAST, th_ip(10, 0, 0, 255)};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(ts_udp_sendto(u, "disc", 4, dsts[i], 67, r.now), 4);
        struct udp_hdr h;
        ck_assert(th_raw_recv_udp(&r, &h));
        ck_assert_mem_eq(r.frame, th_mac_bcast, 6); /* no ARP for a broadcast */
        ck_assert_uint_eq(h.dport, 67);
        struct ipv4_hdr ip;
        ck_assert(th_parse_ipv4(r.frame, r.frame_len, &ip));
        ck_assert_uint_eq(ip.dst, dsts[i]);
        ck_assert_uint_eq(ip.src, TH_IP_B);
    }
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_sendto_limits_emsgsize_and_edestaddrreq)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    static uint8_t big[65508];
    ck_assert_int_eq(ts_udp_sendto(u, big, sizeof big, TH_IP_A, 5555, r.now), -EMSGSIZE);
    ck_assert_int_eq(ts_udp_sendto(u, "x", 1, 0, 0, r.now), -EDESTADDRREQ);
    ck_assert_int_eq(ts_udp_sendto(u, big, 65507, TH_IP_A, 5555, r.now), 65507);
    ck_assert_uint_eq(C(r.s, TS_C_UDP_TX), 1);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_connected_socket_hears_only_its_peer)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    ck_assert_int_eq(ts_udp_connect(u, TH_IP_A, 5555), 0);
    uint32_t la;
    ts_udp_endpoints(u, &la, NULL, NULL, NULL);
    ck_assert_uint_eq(la, TH_IP_B); /* connect fixes the source address */
    th_raw_send_udp(&r, 6666, 7000, "no", 2);
    ck_assert_uint_eq(ts_udp_readable(u), 0);
    /* Nobody takes it, so the stranger hears port unreachable (as from Linux). */
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.code, ICMP_UNREACH_PORT);
    th_raw_send_udp(&r, 5555, 7000, "yes", 3);
    ck_assert_uint_eq(ts_udp_readable(u), 4);
    /* Sending without an address goes to the peer. */
    ck_assert_int_eq(ts_udp_sendto(u, "r", 1, 0, 0, r.now), 1);
    struct udp_hdr h;
    ck_assert(th_raw_recv_udp(&r, &h));
    ck_assert_uint_eq(h.dport, 5555);
    /* Disconnect: everyone is heard again. */
    ck_assert_int_eq(ts_udp_connect(u, 0, 0), 0);
    ts_udp_endpoints(u, &la, NULL, NULL, NULL);
    ck_assert_uint_eq(la, 0);
    th_raw_send_udp(&r, 6666, 7000, "no", 2);
    ck_assert_int_eq(ts_udp_recvfrom(u, NULL, 0, NULL, NULL, NULL), 0); /* "yes" (truncated) */
    ck_assert_uint_eq(ts_udp_readable(u), 3);                           /* "no" */
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

/* The peer answers the last datagram the stack sent with ICMP type/code, quoting it. */
static void peer_icmp_error_about_last(struct th_raw *r, uint8_t type, uint8_t code)
{
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(r, &ip));
    /* quote: the IP header as it was on the wire, plus 8 bytes */
    const uint8_t *raw = r->frame + ETH_HDR_LEN;
    uint8_t quote[IPV4_HDR_LEN + 8];
    memcpy(quote, raw, sizeof quote);
    uint8_t msg[ICMP_HDR_LEN + sizeof quote];
    struct icmp_hdr ic = {
        .type = type, .code = code, .payload = quote, .payload_len = sizeof quote};
    size_t l = icmp_emit(&ic, msg, sizeof msg);
    ck_assert_uint_gt(l, 0);
    struct ipv4_hdr out = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, l);
    th_raw_send_ipv4(r, &out);
}

START_TEST(test_port_unreachable_gives_connected_socket_econnrefused_once)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    struct events ev = {0};
    ts_udp_set_callback(u, on_event, &ev);
    ck_assert_int_eq(ts_udp_connect(u, TH_IP_A, 5555), 0);
    ck_assert_int_eq(ts_udp_sendto(u, "hi", 2, 0, 0, r.now), 2);
    peer_icmp_error_about_last(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT);
    ck_assert_uint_eq(ev.error, 1);
    ck_assert_int_eq(ts_udp_error(u, false), ECONNREFUSED);
    /* The next send reports it, and only once. */
    ck_assert_int_eq(ts_udp_sendto(u, "hi", 2, 0, 0, r.now), -ECONNREFUSED);
    ck_assert_int_eq(ts_udp_error(u, false), 0);
    ck_assert_int_eq(ts_udp_sendto(u, "hi", 2, 0, 0, r.now), 2);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_port_unreachable_is_not_reported_to_unconnected_socket)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    struct events ev = {0};
    ts_udp_set_callback(u, on_event, &ev);
    ck_assert_int_eq(ts_udp_sendto(u, "hi", 2, TH_IP_A, 5555, r.now), 2);
    peer_icmp_error_about_last(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT);
    ck_assert_uint_eq(ev.error, 0);
    ck_assert_int_eq(ts_udp_error(u, true), 0);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_host_unreachable_maps_to_ehostunreach)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_udp_sock *u = open_on(&r, 7000, false, 65536);
    ck_assert_int_eq(ts_udp_connect(u, TH_IP_A, 5555), 0);
    ck_assert_int_eq(ts_udp_sendto(u, "hi", 2, 0, 0, r.now), 2);
    peer_icmp_error_about_last(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_HOST);
    ck_assert_int_eq(ts_udp_error(u, true), EHOSTUNREACH);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_two_stacks_exchange_datagrams)
{
    struct th_net n;
    th_net_init(&n, 1 * TS_MS);
    int err;
    struct ts_udp_sock *srv = ts_udp_open(n.b, 0, 7, false, 65536, &err);
    struct ts_udp_sock *cli = ts_udp_open(n.a, 0, 0, false, 65536, &err);
    ck_assert_ptr_nonnull(srv);
    ck_assert_ptr_nonnull(cli);
    ck_assert_int_eq(ts_udp_sendto(cli, "echo me", 7, TH_IP_B, 7, n.now), 7);
    th_run(&n, 50 * TS_MS); /* ARP, then the datagram */
    char buf[32];
    uint32_t ip;
    uint16_t port;
    ck_assert_int_eq(ts_udp_recvfrom(srv, buf, sizeof buf, &ip, &port, NULL), 7);
    ck_assert_uint_eq(ip, TH_IP_A);
    ck_assert_int_eq(ts_udp_sendto(srv, buf, 7, ip, port, n.now), 7);
    th_run(&n, 50 * TS_MS);
    ck_assert_int_eq(ts_udp_recvfrom(cli, buf, sizeof buf, &ip, &port, NULL), 7);
    ck_assert_mem_eq(buf, "echo me", 7);
    ck_assert_uint_eq(ip, TH_IP_B);
    ck_assert_uint_eq(port, 7);
    ts_udp_close(srv);
    /* the table frees what is still open (cli) with the stack */
    th_net_free(&n);
}
END_TEST

static Suite *udp_suite(void)
{
    Suite *s = suite_create("udp");
    TCase *in = tcase_create("input");
    tcase_add_test(in, test_datagram_to_bound_port_is_delivered_with_its_source);
    tcase_add_test(in, test_udp_table_lists_every_endpoint_with_its_queued_datagrams);
    tcase_add_test(in, test_empty_datagram_is_delivered_as_zero_length);
    tcase_add_test(in, test_closed_port_gets_icmp_port_unreachable_quoting_the_datagram);
    tcase_add_test(in, test_broadcast_to_closed_port_is_dropped_without_icmp);
    tcase_add_test(in, test_udp_input_returns_no_port_for_the_conductor_to_answer);
    tcase_add_test(in, test_broadcast_reaches_every_socket_on_the_port);
    tcase_add_test(in, test_bad_checksum_is_dropped_and_counted);
    tcase_add_test(in, test_zero_checksum_means_none_and_is_accepted);
    tcase_add_test(in, test_truncated_datagram_is_dropped_and_counted);
    tcase_add_test(in, test_full_receive_queue_drops_and_counts);
    tcase_add_test(in, test_datagram_larger_than_rcvbuf_still_enters_an_empty_queue);
    tcase_add_test(in, test_short_read_truncates_and_reports_full_length);
    suite_add_tcase(s, in);
    TCase *b = tcase_create("bind");
    tcase_add_test(b, test_bind_same_port_twice_is_eaddrinuse);
    tcase_add_test(b, test_reuseaddr_on_both_sockets_shares_the_port);
    tcase_add_test(b, test_bind_to_foreign_address_is_eaddrnotavail);
    tcase_add_test(b, test_ephemeral_ports_are_distinct_and_in_the_configured_range);
    suite_add_tcase(s, b);
    TCase *out = tcase_create("output");
    tcase_add_test(out, test_sendto_emits_datagram_with_ports_payload_and_checksum);
    tcase_add_test(out, test_large_datagram_is_fragmented_by_ip);
    tcase_add_test(out, test_sendto_limits_emsgsize_and_edestaddrreq);
    tcase_add_test(out, test_sendto_broadcast_addresses_goes_to_the_broadcast_mac);
    tcase_add_test(out, test_connected_socket_hears_only_its_peer);
    tcase_add_test(out, test_two_stacks_exchange_datagrams);
    suite_add_tcase(s, out);
    TCase *ic = tcase_create("icmp");
    tcase_add_test(ic, test_port_unreachable_gives_connected_socket_econnrefused_once);
    tcase_add_test(ic, test_port_unreachable_is_not_reported_to_unconnected_socket);
    tcase_add_test(ic, test_host_unreachable_maps_to_ehostunreach);
    suite_add_tcase(s, ic);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(udp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
