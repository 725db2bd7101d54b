/* ICMP (RFC 792, RFC 1122 3.2.2): echo, errors passed to the transports, errors we send and the
 * rules that keep them from being sent. */
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

/* Send an ICMP message (type/code/rest + payload) from the peer to the stack. */
static void send_icmp(struct th_raw *r, uint8_t type, uint8_t code, uint32_t rest,
                      const void *payload, size_t len)
{
    static uint8_t msg[2048];
    struct icmp_hdr h = {
        .type = type, .code = code, .rest = rest, .payload = payload, .payload_len = len};
    size_t l = icmp_emit(&h, msg, sizeof msg);
    ck_assert_uint_gt(l, 0);
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_ICMP, msg, l);
    th_raw_send_ipv4(r, &ip);
}

START_TEST(test_echo_reply_carries_request_id_seq_and_data)
{
    struct th_raw r;
    th_raw_init(&r);
    const char data[] = "an odd-length payload of 33 byte";
    th_raw_send_icmp_echo(&r, 0xbeef, 0x0102, data, 33);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.code, 0);
    ck_assert_uint_eq(ic.id, 0xbeef);
    ck_assert_uint_eq(ic.seq, 0x0102);
    ck_assert_uint_eq(ic.payload_len, 33);
    ck_assert_mem_eq(ic.payload, data, 33);
    ck_assert_uint_eq(ip.dst, TH_IP_A);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ECHO_REPLIED), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

/* An echo request carrying a Record Route option (RR, room for 9 addresses) whose first slot
 * holds the peer's address (as ping -R sends it after the sender recorded itself). */
static void send_echo_with_rr(struct th_raw *r, uint8_t rr_len, uint8_t ptr)
{
    uint8_t msg[64];
    size_t l = th_build_icmp_echo(msg, sizeof msg, 7, 9, "rr", 2);
    ck_assert_uint_gt(l, 0);
    uint8_t opt[40] = {IPV4_OPT_RR, rr_len, ptr};
    for (unsigned i = 3; i + 1u < ptr && i + 4u <= rr_len; i += 4)
        opt[i] = 10, opt[i + 1] = 0, opt[i + 2] = 0, opt[i + 3] = 1; /* recorded so far */
    size_t olen = (rr_len + 3u) & ~3u;
    struct ipv4_hdr ip = th_ipv4_hdr(r->peer_ip, r->ip, IP_PROTO_ICMP, msg, l);
    ip.hdr_len = (uint8_t)(IPV4_HDR_LEN + olen);
    ip.options = opt;
    static uint8_t frame[256];
    th_build_eth(frame, sizeof frame, r->mac, r->peer_mac, ETH_TYPE_IPV4, NULL, 0);
    ck_assert_uint_eq(ipv4_emit(&ip, frame + ETH_HDR_LEN, sizeof frame - ETH_HDR_LEN),
                      IPV4_HDR_LEN + olen);
    memcpy(frame + ETH_HDR_LEN + IPV4_HDR_LEN + olen, msg, l);
    th_raw_inject(r, frame, ETH_HDR_LEN + IPV4_HDR_LEN + olen + l);
}

/* RFC 1122 3.2.2.6: the Record Route option of an echo request comes back in the reply with our
 * address recorded after what was there; a full one comes back unchanged. */
START_TEST(test_echo_reply_carries_record_route_with_our_address)
{
    struct th_raw r;
    th_raw_init(&r);
    send_echo_with_rr(&r, 39, 8);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.id, 7);
    ck_assert_uint_eq(ic.payload_len, 2);
    ck_assert_uint_eq(ip.hdr_len, IPV4_HDR_LEN + 40);
    ck_assert_ptr_nonnull(ip.options);
    const uint8_t *o = ip.options;
    ck_assert_uint_eq(o[0], IPV4_OPT_RR);
    ck_assert_uint_eq(o[1], 39);
    ck_assert_uint_eq(o[2], 12); /* one more address recorded */
    const uint8_t peer[4] = {10, 0, 0, 1};
    ck_assert_mem_eq(o + 3, peer, 4);
    const uint8_t ours[4] = {(uint8_t)(r.ip >> 24), (uint8_t)(r.ip >> 16), (uint8_t)(r.ip >> 8),
                             (uint8_t)r.ip};
    ck_assert_mem_eq(o + 7, ours, 4);
    ck_assert_uint_eq(o[11], 0); /* the rest of the slots still empty */
    ck_assert_uint_eq(o[39], 0); /* padding: end of options */
    /* full: 2 slots, both used (pointer past the end): returned as it was */
    send_echo_with_rr(&r, 11, 12);
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ip.hdr_len, IPV4_HDR_LEN + 12);
    ck_assert_uint_eq(ip.options[1], 11);
    ck_assert_uint_eq(ip.options[2], 12);
    ck_assert_mem_eq(ip.options + 3, peer, 4);
    ck_assert_mem_eq(ip.options + 7, peer, 4);
    /* a plain echo still gets a plain reply */
    th_raw_send_icmp_echo(&r, 1, 1, "x", 1);
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ip.hdr_len, IPV4_HDR_LEN);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ECHO_REPLIED), 3);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_echo_with_empty_data_is_answered)
{
    struct th_raw r;
    th_raw_init(&r);
    th_raw_send_icmp_echo(&r, 1, 2, NULL, 0);
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    ck_assert_uint_eq(ic.payload_len, 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_echo_to_broadcast_is_not_answered)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[16];
    size_t l = th_build_icmp_echo(msg, sizeof msg, 1, 1, "12345678", 8);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, th_ip(10, 0, 0, 255), IP_PROTO_ICMP, msg, l);
    uint8_t f[128];
    size_t fl = th_build_ipv4(f, sizeof f, th_mac_bcast, th_mac_a, &ip);
    th_raw_inject(&r, f, fl);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_BROADCAST), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_truncated_and_bad_checksum_icmp_are_dropped)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t msg[16];
    size_t l = th_build_icmp_echo(msg, sizeof msg, 1, 1, "12345678", 8);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, 7);
    th_raw_send_ipv4(&r, &ip);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_TRUNCATED), 1);
    msg[12] ^= 0x40;
    ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, l);
    th_raw_send_ipv4(&r, &ip);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_BAD_CSUM), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_port_unreachable_reaches_the_connected_udp_socket)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r.s, 0, 4000, false, 65536, &err);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(ts_udp_connect(u, TH_IP_A, 9999), 0);
    ck_assert_int_eq(ts_udp_sendto(u, "ping", 4, 0, 0, r.now), 4);
    struct ipv4_hdr ip;
    ck_assert(th_raw_recv_ipv4(&r, &ip));
    ck_assert_uint_eq(ip.proto, IP_PROTO_UDP);
    /* The peer answers with port unreachable quoting our header and 8 bytes (RFC 792). */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, r.frame + ETH_HDR_LEN, 20 + 8);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 1);
    ck_assert_int_eq(ts_udp_error(u, true), ECONNREFUSED);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0); /* no error about an error */
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

/* A quote of a UDP datagram from us (10.0.0.2:4000 -> 10.0.0.1:9999). */
static size_t udp_quote(uint8_t *q, uint32_t src)
{
    struct ipv4_hdr ip = th_ipv4_hdr(src, TH_IP_A, IP_PROTO_UDP, NULL, 12);
    ipv4_emit(&ip, q, 20);
    const uint8_t udp[8] = {0x0f, 0xa0, 0x27, 0x0f, 0, 12, 0, 0};
    memcpy(q + 20, udp, 8);
    return 28;
}

START_TEST(test_icmp_input_returns_an_error_about_our_datagram_parsed_for_the_conductor)
{
    struct th_raw r;
    th_raw_init(&r);
    r.s->now = r.now;
    uint8_t q[28], msg[64];
    udp_quote(q, TH_IP_B);
    struct icmp_hdr h = {.type = ICMP_DEST_UNREACH,
                         .code = ICMP_UNREACH_NEEDFRAG,
                         .rest = 1200,
                         .payload = q,
                         .payload_len = sizeof q};
    size_t l = icmp_emit(&h, msg, sizeof msg);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, l);
    struct ts_icmp_error e;
    ck_assert(ts_icmp_input(r.s, &ip, &e));
    ck_assert_uint_eq(e.type, ICMP_DEST_UNREACH);
    ck_assert_uint_eq(e.code, ICMP_UNREACH_NEEDFRAG);
    ck_assert_uint_eq(e.mtu, 1200);
    ck_assert_uint_eq(e.src, TH_IP_B);
    ck_assert_uint_eq(e.dst, TH_IP_A);
    ck_assert_uint_eq(e.proto, IP_PROTO_UDP);
    ck_assert_uint_eq(e.l4_len, 8);
    ck_assert_ptr_eq(e.l4, msg + ICMP_HDR_LEN + 20); /* points into the message: not copied */
    /* icmp.c only parses: the transport hears of it from the conductor, not from here */
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 0);
    /* an echo request is answered here and returns nothing */
    l = th_build_icmp_echo(msg, sizeof msg, 1, 2, "x", 1);
    ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, l);
    ck_assert(!ts_icmp_input(r.s, &ip, &e));
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_ECHO_REPLY);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_time_exceeded_and_parameter_problem_are_passed_on)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t q[28];
    udp_quote(q, TH_IP_B);
    send_icmp(&r, ICMP_TIME_EXCEEDED, 0, 0, q, sizeof q);
    send_icmp(&r, ICMP_PARAM_PROBLEM, 0, 0x0c000000u, q, sizeof q);
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_NEEDFRAG, 1280, q, sizeof q);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 3);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    q[9] = IP_PROTO_ICMP; /* about an ICMP message of ours: no transport to tell, counted */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 0, q, sizeof q);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 3);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_NO_TRANSPORT), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_error_with_malformed_quote_is_dropped_bad_error)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t q[28];
    udp_quote(q, TH_IP_B);
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, q, 27); /* < header + 8 */
    udp_quote(q, TH_IP_A);                                         /* not sent by us */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, q, sizeof q);
    udp_quote(q, TH_IP_B);
    q[0] = 0x43; /* header length 12 */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, q, sizeof q);
    udp_quote(q, TH_IP_B);
    q[0] = 0x47; /* header length 28: no room left for 8 bytes of transport */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, q, sizeof q);
    udp_quote(q, TH_IP_B);
    q[7] = 1; /* a non-first fragment carries no transport header */
    send_icmp(&r, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 0, q, sizeof q);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_BAD_ERROR), 5);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_source_quench_redirect_and_echo_reply_are_ignored)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t q[28];
    udp_quote(q, TH_IP_B);
    send_icmp(&r, ICMP_SOURCE_QUENCH, 0, 0, q, sizeof q);
    send_icmp(&r, ICMP_REDIRECT, 1, th_ip(10, 0, 0, 3), q, sizeof q);
    send_icmp(&r, ICMP_ECHO_REPLY, 0, 0x00010001u, "x", 1);
    send_icmp(&r, 42, 0, 0, NULL, 0);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_DROP_UNKNOWN_TYPE), 4);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ERR_RX), 0);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

static void send_proto(struct th_raw *r, uint8_t proto, uint32_t dst, size_t len)
{
    static uint8_t data[1500];
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i + 1);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, dst, proto, data, len);
    ip.id = 0x7777;
    th_raw_send_ipv4(r, &ip);
}

START_TEST(test_unknown_protocol_gets_protocol_unreachable_quoting_the_datagram)
{
    struct th_raw r;
    th_raw_init(&r);
    send_proto(&r, 99, TH_IP_B, 40);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_UNKNOWN_PROTO), 1);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ip.dst, TH_IP_A);
    ck_assert_uint_eq(ic.type, ICMP_DEST_UNREACH);
    ck_assert_uint_eq(ic.code, ICMP_UNREACH_PROTO);
    ck_assert_uint_eq(ic.payload_len, 20 + 40);
    struct ipv4_hdr q;
    ck_assert_int_eq(ipv4_parse(ic.payload, ic.payload_len, &q), TS_C_OK);
    ck_assert_uint_eq(q.proto, 99);
    ck_assert_uint_eq(q.src, TH_IP_A);
    ck_assert_uint_eq(q.dst, TH_IP_B);
    ck_assert_uint_eq(q.id, 0x7777);
    ck_assert_uint_eq(q.payload[0], 1);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_UNREACH_SENT), 1);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_error_quote_is_limited_to_576_bytes)
{
    struct th_raw r;
    th_raw_init(&r);
    send_proto(&r, 99, TH_IP_B, 1400);
    struct ipv4_hdr ip;
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, &ip, &ic));
    ck_assert_uint_eq(ip.total_len, 576);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_no_protocol_unreachable_for_a_broadcast)
{
    struct th_raw r;
    th_raw_init(&r);
    send_proto(&r, 99, th_ip(10, 0, 0, 255), 40);
    send_proto(&r, 99, IPV4_BROADCAST, 40);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_UNKNOWN_PROTO), 2);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_no_protocol_unreachable_for_a_link_layer_broadcast)
{
    struct th_raw r;
    th_raw_init(&r);
    uint8_t data[8] = {0}, f[64];
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, 99, data, sizeof data);
    size_t l = th_build_ipv4(f, sizeof f, th_mac_bcast, th_mac_a, &ip);
    th_raw_inject(&r, f, l);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_UNKNOWN_PROTO), 1);
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_no_error_about_an_icmp_error_or_a_later_fragment)
{
    struct th_raw r;
    th_raw_init(&r);
    r.s->now = r.now;
    /* an ICMP error datagram: never the subject of another error (RFC 1122 3.2.2) */
    uint8_t msg[36] = {ICMP_DEST_UNREACH, ICMP_UNREACH_PORT};
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, sizeof msg);
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    /* an unknown ICMP type might be an error too */
    msg[0] = 44;
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    /* a fragment other than the first */
    ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, 99, msg, sizeof msg);
    ip.frag_off = 8;
    ts_icmp_send_error(r.s, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, 0, &(struct ts_ip_rx){.ip = ip});
    /* a source that is not one host */
    ip = th_ipv4_hdr(th_ip(224, 0, 0, 1), TH_IP_B, 99, msg, sizeof msg);
    ts_icmp_send_error(r.s, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, 0, &(struct ts_ip_rx){.ip = ip});
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_TX), 0);
    /* while an echo request may get one */
    msg[0] = ICMP_ECHO_REQUEST;
    ip = th_ipv4_hdr(TH_IP_A, TH_IP_B, IP_PROTO_ICMP, msg, sizeof msg);
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    struct icmp_hdr ic;
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    ck_assert_uint_eq(ic.type, ICMP_PARAM_PROBLEM);
    /* and so may the other queries (RFC 792 timestamp .. RFC 950 address mask reply), but not
     * the next, unassigned, type */
    msg[0] = 13;
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    msg[0] = 18;
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    ck_assert(th_raw_recv_icmp(&r, NULL, &ic));
    msg[0] = 19;
    ts_icmp_send_error(r.s, ICMP_PARAM_PROBLEM, 0, 0, &(struct ts_ip_rx){.ip = ip});
    ck_assert_uint_eq(th_raw_recv(&r, NULL, 0), 0);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_errors_are_rate_limited_by_a_token_bucket)
{
    struct th_raw r;
    th_raw_init(&r);
    for (int i = 0; i < 60; i++)
        send_proto(&r, 99, TH_IP_B, 8);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_UNREACH_SENT), 50);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_RATE_LIMITED), 10);
    th_raw_advance(&r, 10 * TS_MS); /* one token per millisecond */
    for (int i = 0; i < 20; i++)
        send_proto(&r, 99, TH_IP_B, 8);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_UNREACH_SENT), 60);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_RATE_LIMITED), 20);
    /* echo replies are not errors and are not limited */
    th_raw_flush(&r);
    for (int i = 0; i < 5; i++)
        th_raw_send_icmp_echo(&r, 1, (uint16_t)i, "x", 1);
    ck_assert_uint_eq(C(r.s, TS_C_ICMP_ECHO_REPLIED), 5);
    th_raw_free(&r);
}
END_TEST

static Suite *icmp_suite(void)
{
    Suite *s = suite_create("icmp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_echo_reply_carries_request_id_seq_and_data);
    tcase_add_test(tc, test_echo_reply_carries_record_route_with_our_address);
    tcase_add_test(tc, test_echo_with_empty_data_is_answered);
    tcase_add_test(tc, test_echo_to_broadcast_is_not_answered);
    tcase_add_test(tc, test_truncated_and_bad_checksum_icmp_are_dropped);
    tcase_add_test(tc, test_port_unreachable_reaches_the_connected_udp_socket);
    tcase_add_test(tc,
                   test_icmp_input_returns_an_error_about_our_datagram_parsed_for_the_conductor);
    tcase_add_test(tc, test_time_exceeded_and_parameter_problem_are_passed_on);
    tcase_add_test(tc, test_error_with_malformed_quote_is_dropped_bad_error);
    tcase_add_test(tc, test_source_quench_redirect_and_echo_reply_are_ignored);
    tcase_add_test(tc, test_unknown_protocol_gets_protocol_unreachable_quoting_the_datagram);
    tcase_add_test(tc, test_error_quote_is_limited_to_576_bytes);
    tcase_add_test(tc, test_no_protocol_unreachable_for_a_broadcast);
    tcase_add_test(tc, test_no_protocol_unreachable_for_a_link_layer_broadcast);
    tcase_add_test(tc, test_no_error_about_an_icmp_error_or_a_later_fragment);
    tcase_add_test(tc, test_errors_are_rate_limited_by_a_token_bucket);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(icmp_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
