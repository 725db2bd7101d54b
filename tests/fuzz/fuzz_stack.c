/* Fuzz target: whole frames into a running stack (Ethernet, ARP, IPv4, reassembly, ICMP, UDP,
 * TCP behind them), with the clock moving so timers fire.
 *
 * One stack lives across many inputs, so state builds up as it would on a wire: ARP entries,
 * fragments waiting for reassembly, connections. Every input is fed twice: as it is, and with the
 * Ethernet addresses forced to ours, so mutations of the MAC bytes do not hide everything behind
 * them, and that again with offload metadata drawn from the input (a virtio-net header that may
 * lie: GSO type and size, checksum state and offsets), as a tap with IFF_VNET_HDR hands over.
 * Invariants checked after each input: reassembly memory stays within its bound, and every
 * frame the stack sends is well-formed (Ethernet header; IPv4 that our own parser accepts; ICMP
 * with a correct checksum). Nothing may crash, and LSan checks that nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tapstack/driver.h"
#include "tapstack/stack.h"
#include "tapstack/tcp.h"
#include "tapstack/udp.h"
#include "wire/icmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_stack: invariant broken at %s:%d: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A fresh stack now and then, so a state that absorbs everything cannot hide bugs forever. */
#define INPUTS_PER_STACK 5000
#define MAX_FRAME        4096
#define REASS_BOUND      (256 * 1024)

static struct {
    struct ts_stack *s;
    struct ts_driver *drv, *peer;
    struct ts_udp_sock *udp;
    struct ts_tcp_conn *listener, *client;
    struct ts_tcp_conn *accepted[8];
    ts_time_t now;
    unsigned inputs;
    uint8_t buf[MAX_FRAME];
    uint8_t out[ETH_HDR_LEN + IPV4_MAX_LEN];
} F;

static void close_tcp(void)
{
    for (int i = 0; i < 8; i++) {
        if (F.accepted[i])
            ts_tcp_abort(F.accepted[i], F.now);
        F.accepted[i] = NULL;
    }
    if (F.client)
        ts_tcp_abort(F.client, F.now);
    if (F.listener)
        ts_tcp_close(F.listener, F.now);
    F.client = F.listener = NULL;
}

static void teardown(void)
{
    if (F.s && getenv("TS_FUZZ_COUNTERS")) { /* to see how deep the inputs reach */
        static char text[16384];
        ts_stack_counters_format(F.s, text, sizeof text, false);
        fprintf(stderr, "---- after %u inputs\n%s", F.inputs, text);
    }
    if (F.udp)
        ts_udp_close(F.udp);
    close_tcp();
    ts_stack_free(F.s);
    ts_driver_destroy(F.drv);
    ts_driver_destroy(F.peer);
    F.udp = NULL;
    F.s = NULL;
    F.drv = F.peer = NULL;
}

static void setup(void)
{
    static int registered;
    if (!registered) {
        atexit(teardown);
        registered = 1;
    }
    struct ts_config cfg;
    ts_config_default(&cfg); /* 10.0.0.2, 02:00:00:00:00:02: what tests/fuzz/main.c targets */
    for (int i = 0; i < 16; i++)
        cfg.secret[i] = (uint8_t)i;
    /* Each fresh stack takes the next congestion control, so hostile ACKs meet all three (BBR's
     * rate arithmetic takes times a peer chooses). */
    static unsigned fresh;
    cfg.tcp_cc = (enum ts_tcp_cc)(fresh++ % 3);
    ts_pair_create(&F.drv, &F.peer, 0);
    CHECK(F.drv && F.peer);
    if (F.now == 0)
        F.now = 1 * TS_SEC;
    F.s = ts_stack_new(&cfg, F.drv, F.now);
    CHECK(F.s != NULL);
    int err;
    F.udp = ts_udp_open(F.s, 0, 7, false, 16384, &err); /* a port to deliver to */
    /* A listener on 80 and a connection from 45678 to 10.0.0.1:80: the ports main.c's TCP seeds
     * use, so mutated segments meet LISTEN, SYN_RECV, SYN_SENT and whatever follows. */
    F.listener = ts_tcp_listen(F.s, 0, 80, 8, NULL, &err, F.now);
    F.client = ts_tcp_connect(F.s, 0, 45678, 0x0a000001u, 80, NULL, &err, F.now);
    F.inputs = 0;
}

/* Everything the stack sent must be well-formed. */
static void drain_and_check(void)
{
    int n;
    while ((n = ts_driver_recv(F.peer, F.out, sizeof F.out, F.now)) > 0) {
        struct eth_hdr e;
        CHECK(eth_parse(F.out, (size_t)n, &e) == TS_C_OK);
        CHECK(!eth_is_multicast(e.src));
        if (e.type != ETH_TYPE_IPV4)
            continue;
        struct ipv4_hdr ip;
        CHECK(ipv4_parse(e.payload, e.payload_len, &ip) == TS_C_OK);
        CHECK(ip.total_len <= F.s->cfg.mtu);
        if (ip.proto == IP_PROTO_ICMP && !ip.mf && ip.frag_off == 0) {
            struct icmp_hdr ic;
            CHECK(icmp_parse(ip.payload, ip.payload_len, &ic) == TS_C_OK);
        }
    }
    CHECK(n == 0);
    /* take and read connections so the queues keep moving; keep a few open */
    struct ts_tcp_conn *c;
    while (F.listener && (c = ts_tcp_accept(F.listener)) != NULL) {
        int slot = (int)(F.inputs % 8);
        if (F.accepted[slot])
            ts_tcp_abort(F.accepted[slot], F.now);
        F.accepted[slot] = c;
    }
    for (int i = 0; i < 8; i++) {
        uint8_t b[256];
        if (F.accepted[i])
            while (ts_tcp_recv(F.accepted[i], b, sizeof b, F.now) > 0)
                ;
    }
    /* datagrams for the UDP port: take them so the queue keeps moving */
    uint8_t tmp[64];
    while (F.udp && ts_udp_recvfrom(F.udp, tmp, sizeof tmp, NULL, NULL, NULL) >= 0)
        ;
}

static void feed_meta(const uint8_t *frame, size_t len, const struct ts_frame_meta *meta)
{
    ts_stack_input_meta(F.s, frame, len, meta, F.now);
    ts_stack_poll(F.s, F.now);
    CHECK(ts_reass_memory(F.s) <= REASS_BOUND);
    drain_and_check();
}

static void feed(const uint8_t *frame, size_t len)
{
    feed_meta(frame, len, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!F.s || F.inputs >= INPUTS_PER_STACK) {
        teardown();
        setup();
    }
    F.inputs++;
    if (size > MAX_FRAME)
        size = MAX_FRAME;

    /* the frame in a heap block of exactly its size: reading past it is a sanitizer error */
    uint8_t *exact = malloc(size ? size : 1);
    CHECK(exact != NULL);
    memcpy(exact, data, size);
    feed(exact, size);
    free(exact);

    if (size >= ETH_HDR_LEN) {
        memcpy(F.buf, data, size);
        memcpy(F.buf, F.s->cfg.mac, 6);
        if (eth_is_multicast(F.buf + 6) || memcmp(F.buf + 6, F.s->cfg.mac, 6) == 0)
            F.buf[6] = 0x02;
        if (memcmp(F.buf + 6, F.s->cfg.mac, 6) == 0)
            F.buf[11] ^= 0x80;
        feed(F.buf, size);
        static const uint8_t gso[4] = {TS_GSO_NONE, TS_GSO_TCPV4, TS_GSO_UDPV4, TS_GSO_OTHER};
        struct ts_frame_meta m = {
            .gso = gso[data[0] & 3],
            .csum = (uint8_t)(data[1] % 3),
            .gso_size = (uint16_t)(data[2] << 8 | data[3]),
            .hdr_len = (uint16_t)data[4],
            .csum_start = (uint16_t)(14 + (data[5] & 0x3f)),
            .csum_offset = (uint16_t)(data[6] & 0x1f),
        };
        feed_meta(F.buf, size, &m);
    }

    /* Let time pass by an amount the input picks (up to ~4 s), and run the timers: ARP retries
     * and expiry, reassembly timeouts, TCP timers. */
    ts_time_t step = size ? (ts_time_t)data[size - 1] * 16 * TS_MS : TS_MS;
    F.now += step;
    ts_stack_step(F.s, F.now);
    CHECK(ts_reass_memory(F.s) <= REASS_BOUND);
    drain_and_check();
    return 0;
}
