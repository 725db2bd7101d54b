/* The loopback path: datagrams to the stack's own address or to 127.0.0.0/8 are queued by IPv4
 * and fed back in by the conductor (ts_stack_poll), never sent on the link. One stack with a raw
 * peer on a virtual clock (the peer sees what reaches the wire), and one socket runtime on real
 * threads for the run loop's part. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "rt_fixture.h"
#include "tapstack/socket.h"
#include "tapstack/tcp.h"
#include "tapstack/udp.h"

#define LO 0x7f000001u /* 127.0.0.1 */

static uint64_t C(struct ts_stack *s, enum ts_counter c)
{
    return ts_stack_counter(s, c);
}

static struct ts_tcp_conn *listen_on(struct th_raw *r, uint32_t addr, uint16_t port)
{
    struct ts_tcp_opts o;
    ts_tcp_opts_default(r->s, &o);
    int err = 0;
    struct ts_tcp_conn *l = ts_tcp_listen(r->s, addr, port, 16, &o, &err, r->now);
    ck_assert_msg(l != NULL, "listen failed: %d", err);
    return l;
}

static struct ts_tcp_conn *connect_to(struct th_raw *r, uint32_t addr, uint16_t port)
{
    struct ts_tcp_opts o;
    ts_tcp_opts_default(r->s, &o);
    int err = 0;
    struct ts_tcp_conn *c = ts_tcp_connect(r->s, 0, 0, addr, port, &o, &err, r->now);
    ck_assert_msg(c != NULL, "connect failed: %d", err);
    return c;
}

/* A connection from the stack to itself: established, data both ways, nothing on the wire. */
static void talk_to_self(uint32_t dst, uint32_t want_local)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_tcp_conn *l = listen_on(&r, 0, 80);
    struct ts_tcp_conn *c = connect_to(&r, dst, 80);
    ck_assert(ts_stack_has_loopback(r.s)); /* the SYN waits for the next poll */
    th_raw_settle(&r);
    ck_assert_int_eq(ts_tcp_state(c), TS_TCP_ESTABLISHED);
    struct ts_tcp_conn *a = ts_tcp_accept(l);
    ck_assert_ptr_nonnull(a);
    uint32_t la, ra, cla;
    uint16_t lp, rp;
    ts_tcp_endpoints(a, &la, &lp, &ra, &rp);
    ts_tcp_endpoints(c, &cla, NULL, NULL, NULL);
    ck_assert_uint_eq(la, dst);         /* the child is the address that was asked for */
    ck_assert_uint_eq(cla, want_local); /* the source Linux would pick */
    ck_assert_uint_eq(ra, want_local);

    static uint8_t big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i % 251);
    size_t sent = 0, got = 0;
    static uint8_t in[sizeof big];
    while (got < sizeof big) {
        if (sent < sizeof big) {
            ssize_t n = ts_tcp_send(c, big + sent, sizeof big - sent, r.now);
            if (n > 0)
                sent += (size_t)n;
        }
        th_raw_advance(&r, 1 * TS_MS);
        ssize_t n = ts_tcp_recv(a, in + got, sizeof in - got, r.now);
        if (n > 0)
            got += (size_t)n;
        ck_assert_uint_lt(r.now, 60 * TS_SEC);
    }
    ck_assert_mem_eq(in, big, sizeof big);
    ck_assert_int_eq(ts_tcp_send(a, "back", 4, r.now), 4);
    th_raw_settle(&r);
    char b4[8];
    ck_assert_int_eq(ts_tcp_recv(c, b4, sizeof b4, r.now), 4);
    ck_assert_mem_eq(b4, "back", 4);

    ck_assert_uint_gt(C(r.s, TS_C_IP_LOOPBACK), 100);
    ck_assert_uint_eq(C(r.s, TS_C_IP_FRAG_TX), 0);
    ck_assert_uint_eq(C(r.s, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_eq(th_raw_pending(&r), 0); /* not one frame reached the link */
    ts_tcp_close(c, r.now);
    ts_tcp_close(a, r.now);
    ts_tcp_close(l, r.now);
    th_raw_advance(&r, 2 * TS_SEC);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    th_raw_free(&r);
}

START_TEST(test_tcp_to_own_address_stays_inside_the_stack)
{
    talk_to_self(TH_IP_B, TH_IP_B);
}
END_TEST

START_TEST(test_tcp_to_127_0_0_1_comes_from_127_0_0_1_and_stays_inside)
{
    talk_to_self(LO, LO);
}
END_TEST

START_TEST(test_tcp_to_other_127_address_reaches_a_wildcard_listener)
{
    talk_to_self(0x7f000005u, LO); /* 127.0.0.5, from 127.0.0.1 as Linux */
}
END_TEST

START_TEST(test_listener_on_own_address_refuses_127_0_0_1)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_tcp_conn *l = listen_on(&r, TH_IP_B, 80);
    struct ts_tcp_conn *c = connect_to(&r, LO, 80);
    th_raw_settle(&r);
    /* As Linux: a listener bound to one address does not take the others; the RST comes back
     * through the loopback queue too. */
    ck_assert_int_eq(ts_tcp_state(c), TS_TCP_CLOSE);
    ck_assert_int_eq(ts_tcp_error(c, true), ECONNREFUSED);
    ck_assert_ptr_null(ts_tcp_accept(l));
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ts_tcp_close(c, r.now);
    ts_tcp_close(l, r.now);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_listener_on_127_0_0_1_is_not_reached_from_the_link)
{
    struct th_raw r;
    th_raw_init(&r);
    struct ts_tcp_conn *l = listen_on(&r, LO, 80);
    /* A SYN to our link address for that port: nobody listens there. */
    th_raw_send_tcp(
        &r,
        &(struct tcp_hdr){.sport = 5555, .dport = 80, .seq = 1000, .flags = TCP_SYN, .wnd = 65535});
    struct tcp_hdr h;
    ck_assert(th_raw_recv_tcp(&r, &h));
    ck_assert(h.flags & TCP_RST);
    ck_assert_ptr_null(ts_tcp_accept(l));
    ts_tcp_close(l, r.now);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_to_127_0_0_1_is_delivered_with_source_127_0_0_1)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *srv = ts_udp_open(r.s, 0, 7000, false, 1 << 20, &err);
    struct ts_udp_sock *cli = ts_udp_open(r.s, 0, 0, false, 1 << 20, &err);
    ck_assert_ptr_nonnull(srv);
    ck_assert_ptr_nonnull(cli);
    static uint8_t big[60000]; /* more than the MTU: a loopback datagram is never fragmented */
    memset(big, 0xab, sizeof big);
    ck_assert_int_eq(ts_udp_sendto(cli, "hello", 5, LO, 7000, r.now), 5);
    ck_assert_int_eq(ts_udp_sendto(cli, big, sizeof big, TH_IP_B, 7000, r.now), sizeof big);
    th_raw_settle(&r);
    char buf[64];
    static uint8_t bigin[sizeof big];
    uint32_t ip = 0;
    uint16_t port = 0, cport = 0;
    ts_udp_endpoints(cli, NULL, &cport, NULL, NULL);
    ck_assert_int_eq(ts_udp_recvfrom(srv, buf, sizeof buf, &ip, &port, NULL), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert_uint_eq(ip, LO);
    ck_assert_uint_eq(port, cport);
    ck_assert_int_eq(ts_udp_recvfrom(srv, bigin, sizeof bigin, &ip, NULL, NULL), sizeof big);
    ck_assert_mem_eq(bigin, big, sizeof big);
    ck_assert_uint_eq(ip, TH_IP_B);
    ck_assert_uint_eq(C(r.s, TS_C_IP_FRAG_TX), 0);
    ck_assert_uint_eq(C(r.s, TS_C_IP_LOOPBACK), 2);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ts_udp_close(srv);
    ts_udp_close(cli);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_udp_to_closed_loopback_port_refused_through_icmp)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *cli = ts_udp_open(r.s, 0, 0, false, 65536, &err);
    ck_assert_int_eq(ts_udp_connect(cli, LO, 9999), 0);
    uint32_t la = 0;
    ts_udp_endpoints(cli, &la, NULL, NULL, NULL);
    ck_assert_uint_eq(la, LO);
    ck_assert_int_eq(ts_udp_sendto(cli, "x", 1, 0, 0, r.now), 1);
    th_raw_settle(&r);
    /* RFC 1122 4.1.3.1 port unreachable, carried back by the loopback path like anything else */
    ck_assert_int_eq(ts_udp_error(cli, true), ECONNREFUSED);
    ck_assert_uint_eq(th_raw_pending(&r), 0);
    ts_udp_close(cli);
    th_raw_free(&r);
}
END_TEST

START_TEST(test_loopback_queue_is_bounded_and_freed_with_the_stack)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *cli = ts_udp_open(r.s, 0, 0, false, 65536, &err);
    static uint8_t kb[1000];
    int refused = 0, ok = 0;
    /* Nothing runs the stack meanwhile, so everything waits in the queue. */
    for (int i = 0; i < 5000; i++) {
        ssize_t n = ts_udp_sendto(cli, kb, sizeof kb, LO, 7000, r.now);
        if (n == -ENOBUFS)
            refused++;
        else if (n == (ssize_t)sizeof kb)
            ok++;
    }
    ck_assert_int_eq(ok, 4096);
    ck_assert_int_eq(refused, 5000 - 4096);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_LOOPBACK_FULL), 5000 - 4096);
    /* ts_stack_poll feeds a bounded batch back and asks to be called again at once. */
    ck_assert(ts_stack_has_loopback(r.s));
    ck_assert_uint_eq(ts_stack_poll(r.s, r.now), r.now);
    ck_assert(ts_stack_has_loopback(r.s));
    ts_udp_close(cli);
    th_raw_free(&r); /* what still waits is freed (the sanitizer build checks for leaks) */
}
END_TEST

START_TEST(test_datagrams_from_the_link_to_127_are_dropped)
{
    struct th_raw r;
    th_raw_init(&r);
    int err = 0;
    struct ts_udp_sock *u = ts_udp_open(r.s, 0, 7000, false, 65536, &err);
    struct ipv4_hdr ip = th_ipv4_hdr(TH_IP_A, LO, IP_PROTO_UDP, "12345678", 8);
    th_raw_send_ipv4(&r, &ip);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_LOOPBACK_DST), 1);
    ip = th_ipv4_hdr(LO, TH_IP_B, IP_PROTO_UDP, "12345678", 8);
    th_raw_send_ipv4(&r, &ip);
    ck_assert_uint_eq(C(r.s, TS_C_IP_DROP_BAD_SRC), 1); /* RFC 1122 3.2.1.3 (g), as before */
    ck_assert_uint_eq(ts_udp_readable(u), 0);
    ck_assert_uint_eq(C(r.s, TS_C_IP_LOOPBACK), 0);
    ts_udp_close(u);
    th_raw_free(&r);
}
END_TEST

/* Through the socket API and its loop thread: a call that only looked at its own connection
 * (send) still gets the loop to feed the loopback queue back in. */
START_TEST(test_socket_connect_to_127_0_0_1_and_echo_through_the_runtime)
{
    struct ts_runtime *a = NULL, *b = NULL;
    rt_pair_up(&a, &b, NULL, NULL);
    int l = ts_socket_on(b, AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8080)};
    sa.sin_addr.s_addr = htonl(LO);
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(ts_listen(l, 4), 0);
    int c = ts_socket_on(b, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    int s = ts_accept(l, (struct sockaddr *)&peer, &plen);
    ck_assert_int_ge(s, 0);
    ck_assert_uint_eq(ntohl(peer.sin_addr.s_addr), LO);
    struct timeval tv = {.tv_sec = 5};
    ts_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ts_setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int i = 0; i < 200; i++) {
        char msg[32], got[32];
        int n = snprintf(msg, sizeof msg, "ping %d", i);
        ck_assert_int_eq(ts_send(c, msg, (size_t)n, 0), n);
        ck_assert_int_eq(ts_recv(s, got, sizeof got, 0), n);
        ck_assert_int_eq(ts_send(s, got, (size_t)n, 0), n);
        ck_assert_int_eq(ts_recv(c, got, sizeof got, 0), n);
        ck_assert_mem_eq(got, msg, (size_t)n);
    }
    ts_close(c);
    ts_close(s);
    ts_close(l);
    rt_pair_down(&a, &b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loopback");
    TCase *t = tcase_create("loopback");
    tcase_add_test(t, test_tcp_to_own_address_stays_inside_the_stack);
    tcase_add_test(t, test_tcp_to_127_0_0_1_comes_from_127_0_0_1_and_stays_inside);
    tcase_add_test(t, test_tcp_to_other_127_address_reaches_a_wildcard_listener);
    tcase_add_test(t, test_listener_on_own_address_refuses_127_0_0_1);
    tcase_add_test(t, test_listener_on_127_0_0_1_is_not_reached_from_the_link);
    tcase_add_test(t, test_udp_to_127_0_0_1_is_delivered_with_source_127_0_0_1);
    tcase_add_test(t, test_udp_to_closed_loopback_port_refused_through_icmp);
    tcase_add_test(t, test_loopback_queue_is_bounded_and_freed_with_the_stack);
    tcase_add_test(t, test_datagrams_from_the_link_to_127_are_dropped);
    tcase_add_test(t, test_socket_connect_to_127_0_0_1_and_echo_through_the_runtime);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
