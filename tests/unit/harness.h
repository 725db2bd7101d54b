/* The unit-test harness: stacks on the in-memory pair link, driven by a virtual clock.
 *
 * Everything is deterministic: no threads, no real time, no root. Two ways to use it:
 *
 * 1. Two stacks talking to each other (struct th_net):
 *        struct th_net n;
 *        th_net_init(&n, 1 * TS_MS);          // A = 10.0.0.1 (02:00:00:00:00:01), B = 10.0.0.2
 * (..:02)
 *        ... open sockets on n.a / n.b ...
 *        th_run(&n, 2 * TS_SEC);              // advance 2 s of virtual time, event by event
 *        ck_assert(th_run_until(&n, my_pred, &ctx, 10 * TS_SEC));
 *        th_net_free(&n);
 *    Each stack is given both a route to the other (same /24) and a gateway (the other one).
 *    Optional fault injection between them (drivers/fault.c) via th_net_init_ex().
 *
 * 2. One stack and a "raw peer" that the test drives by hand (struct th_raw):
 *        struct th_raw r;
 *        th_raw_init(&r);                     // stack = 10.0.0.2 (..:02), peer = 10.0.0.1 (..:01)
 *        th_raw_send_tcp(&r, &(struct tcp_hdr){.sport = 5555, .dport = 80, .seq = 1000,
 *                                              .flags = TCP_SYN, .wnd = 65535});
 *        struct tcp_hdr h;
 *        ck_assert(th_raw_recv_tcp(&r, &h));  // what the stack answered
 *        ck_assert_int_eq(h.flags, TCP_RST | TCP_ACK);
 *        ck_assert(!th_raw_recv(&r, NULL, 0)); // and nothing else
 *        th_raw_advance(&r, 1 * TS_SEC);       // let timers run (retransmissions queue up)
 *        th_raw_free(&r);
 *    By default the peer answers the stack's ARP requests for its own address by itself and the
 *    test never sees ARP frames; at start it also teaches the stack its MAC (it sends an ARP
 *    request for the stack's address, RFC 826 merge: the target adds the sender), so the first
 *    segment the stack sends is already the one the test expects.
 *
 * Virtual time starts at TH_T0 (1 s, not 0: no timer code gets to treat 0 as "unset").
 * Setup failures (no memory, bad config) fail the running libcheck test at once.
 * Frames returned by th_raw_recv*() stay valid (r->frame) until the next receive call; parsed
 * headers point into it. */
#ifndef TS_TEST_HARNESS_H
#define TS_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/driver.h"
#include "tapstack/stack.h"
#include "tapstack/time.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define TH_T0        (1 * TS_SEC)
#define TH_IP_A      0x0a000001u /* 10.0.0.1: stack A, and the raw peer */
#define TH_IP_B      0x0a000002u /* 10.0.0.2: stack B, and the stack under test with a raw peer */
#define TH_FRAME_MAX (ETH_HDR_LEN + IPV4_MAX_LEN)

extern const uint8_t th_mac_a[6]; /* 02:00:00:00:00:01 */
extern const uint8_t th_mac_b[6]; /* 02:00:00:00:00:02 */
extern const uint8_t th_mac_bcast[6];

enum th_side { TH_A = 0, TH_B = 1 };

/* A test configuration: ts_config_default() with side A's or B's address/MAC, /24, the other
 * side as gateway, and a fixed non-zero secret (deterministic ISNs). */
void th_config(struct ts_config *cfg, enum th_side side);

/* Called for every frame a stack of a th_net sends (before any fault is applied). */
typedef void (*th_frame_fn)(void *arg, enum th_side from, const uint8_t *frame, size_t len,
                            ts_time_t now);

/* ---------------------------------------------------------------- two stacks */

struct th_net_opts {
    ts_time_t latency;                     /* one-way, virtual */
    const struct ts_config *cfg_a, *cfg_b; /* NULL: th_config(.., TH_A / TH_B) */
    const struct ts_fault_config *fault_a; /* NULL: none. Wraps A's driver: "out" = what A sends, */
    const struct ts_fault_config *fault_b; /* "in" = what A receives; same for B. */
    unsigned offloads; /* TS_OFFLOAD_* both pair ends take (super-segments pass whole) */
};

struct th_net {
    struct ts_stack *a, *b;
    struct ts_driver *drv_a, *drv_b;     /* outermost driver each stack uses */
    struct ts_driver *pair_a, *pair_b;   /* the bare pair ends */
    struct ts_driver *fault_a, *fault_b; /* the fault wrappers (for ts_fault_stats) or NULL */
    ts_time_t now;
    th_frame_fn spy; /* optional: set it to see every frame sent */
    void *spy_arg;
    /* Optional: return true to lose a frame a stack sends (after spy saw it), meta included. */
    bool (*drop)(void *arg, enum th_side from, const uint8_t *frame, size_t len,
                 const struct ts_frame_meta *meta);
    uint64_t sent[2]; /* frames sent by A and by B */
};

void th_net_init(struct th_net *n, ts_time_t latency);
void th_net_init_ex(struct th_net *n, const struct th_net_opts *o);
void th_net_free(struct th_net *n);
static inline struct ts_stack *th_stack(struct th_net *n, enum th_side s)
{
    return s == TH_A ? n->a : n->b;
}

/* Deliver every frame that is due and run every timer that is due at n->now, until nothing more
 * happens at this instant. Returns the next event time (TS_TIME_NEVER if none). */
ts_time_t th_settle(struct th_net *n);
/* Advance virtual time by `duration`, event by event (stack timers, delayed frames), settling at
 * each event. n->now ends at exactly old now + duration. */
void th_run(struct th_net *n, ts_time_t duration);
/* Like th_run, stopping as soon as pred(arg) is true (checked after each event). Returns whether
 * it became true within `max`. */
bool th_run_until(struct th_net *n, bool (*pred)(void *arg), void *arg, ts_time_t max);
/* th_run_until, but also waking for frames one stack sent to the other during the same settle
 * (th_settle's deadline is computed before the second stack sends): for whole transfers. */
bool th_run_until_sent(struct th_net *n, bool (*pred)(void *arg), void *arg, ts_time_t max);

/* Send an ICMP echo request from stack `from` to `dst` through that stack's own IP layer (so it
 * is fragmented when larger than the MTU). Returns ts_ip_send's result. */
int th_ping(struct th_net *n, enum th_side from, uint32_t dst, uint16_t id, uint16_t seq,
            const void *data, size_t len);

/* ---------------------------------------------------------------- stack + raw peer */

struct th_raw_opts {
    ts_time_t latency;
    const struct ts_config *cfg; /* NULL: th_config(.., TH_B) */
    bool manual_arp;             /* true: no automatic ARP answers, no priming; ARP frames are
                                    returned to the test like any other */
};

#define TH_RAW_QUEUE 8192

struct th_raw {
    struct ts_stack *s;     /* the stack under test */
    struct ts_driver *drv;  /* its end of the pair */
    struct ts_driver *peer; /* the end the test drives */
    ts_time_t now;
    /* Stack and peer addresses. peer_ip may be changed to speak as another host of the subnet
     * (auto-ARP answers for the current peer_ip only; prime the stack with th_raw_send_arp). */
    uint32_t ip, peer_ip;
    uint8_t mac[6], peer_mac[6];
    bool auto_arp;
    uint32_t arp_answered;  /* ARP requests the peer answered automatically */
    uint32_t arp_swallowed; /* ARP frames not shown to the test (auto mode) */
    uint64_t lost;          /* frames dropped because the local queue was full */

    /* Frames the stack sent, not yet read by the test. */
    struct th_raw_frame *q[TH_RAW_QUEUE];
    size_t qhead, qcount;

    uint8_t frame[TH_FRAME_MAX]; /* the last frame received */
    size_t frame_len;
    uint8_t scratch[TH_FRAME_MAX]; /* for building frames to inject */
};

void th_raw_init(struct th_raw *r);
void th_raw_init_ex(struct th_raw *r, const struct th_raw_opts *o);
void th_raw_free(struct th_raw *r);

/* Give the stack a frame (at r->now) and let it process it and run anything due. */
void th_raw_inject(struct th_raw *r, const uint8_t *frame, size_t len);
/* The same with offload metadata, as a tap with IFF_VNET_HDR would hand it over. */
void th_raw_inject_meta(struct th_raw *r, const uint8_t *frame, size_t len,
                        const struct ts_frame_meta *meta);
/* Process everything due at r->now (frames, timers) without moving time. */
void th_raw_settle(struct th_raw *r);
/* Move time forward by dt, event by event; what the stack sends meanwhile queues up for
 * th_raw_recv (ARP answered on the way in auto mode). */
void th_raw_advance(struct th_raw *r, ts_time_t dt);
/* The next frame the stack sent (after settling at r->now), copied to r->frame and, if buf is
 * not NULL, to buf (truncated to cap). Returns its length, 0 when there is none. */
size_t th_raw_recv(struct th_raw *r, uint8_t *buf, size_t cap);
/* Frames waiting for the test (after settling). */
size_t th_raw_pending(struct th_raw *r);
/* Drop every frame waiting for the test. */
void th_raw_flush(struct th_raw *r);

/* Receive the next frame and parse it. Return false when there is none or it is not that kind
 * (the frame is consumed either way; r->frame holds it). The ip header may be NULL. */
bool th_raw_recv_ipv4(struct th_raw *r, struct ipv4_hdr *ip);
bool th_raw_recv_tcp(struct th_raw *r, struct tcp_hdr *h);
bool th_raw_recv_udp(struct th_raw *r, struct udp_hdr *h);
bool th_raw_recv_icmp(struct th_raw *r, struct ipv4_hdr *ip, struct icmp_hdr *h);
bool th_raw_recv_arp(struct th_raw *r, struct arp_pkt *a);

/* Build from the peer to the stack and inject. */
void th_raw_send_tcp(struct th_raw *r, const struct tcp_hdr *h);
void th_raw_send_udp(struct th_raw *r, uint16_t sport, uint16_t dport, const void *data,
                     size_t len);
void th_raw_send_icmp_echo(struct th_raw *r, uint16_t id, uint16_t seq, const void *data,
                           size_t len);
/* Any IPv4 datagram (header fields as given, payload from ip->payload/payload_len), from the
 * peer's MAC to the stack's MAC. */
void th_raw_send_ipv4(struct th_raw *r, const struct ipv4_hdr *ip);
void th_raw_send_arp(struct th_raw *r, const struct arp_pkt *a, const uint8_t dst_mac[6]);

/* ---------------------------------------------------------------- frame builders / parsers */

/* A plain header: version 4, TTL 64, no fragmentation, the given addresses and payload. */
struct ipv4_hdr th_ipv4_hdr(uint32_t src, uint32_t dst, uint8_t proto, const void *payload,
                            size_t len);
/* Ethernet header + payload. Return the frame length, 0 if it does not fit. */
size_t th_build_eth(uint8_t *buf, size_t cap, const uint8_t dst[6], const uint8_t src[6],
                    uint16_t type, const void *payload, size_t len);
/* Ethernet + IPv4 (ip->payload_len bytes of payload copied after the header). */
size_t th_build_ipv4(uint8_t *buf, size_t cap, const uint8_t dst_mac[6], const uint8_t src_mac[6],
                     const struct ipv4_hdr *ip);
/* Complete frames from r's peer to r's stack. */
size_t th_build_tcp(const struct th_raw *r, const struct tcp_hdr *h, uint8_t *buf, size_t cap);
size_t th_build_udp(const struct th_raw *r, uint16_t sport, uint16_t dport, const void *data,
                    size_t len, uint8_t *buf, size_t cap);
/* An ICMP echo request message only (8-byte header + data, checksummed): wrap it with
 * th_build_ipv4 or send it through a stack (th_ping). */
size_t th_build_icmp_echo(uint8_t *buf, size_t cap, uint16_t id, uint16_t seq, const void *data,
                          size_t len);

/* Parse a whole Ethernet frame; headers/payloads point into frame. False if it is not a valid
 * frame of that kind (bad checksums included). */
bool th_parse_ipv4(const uint8_t *frame, size_t len, struct ipv4_hdr *ip);
bool th_parse_tcp(const uint8_t *frame, size_t len, struct tcp_hdr *h);
bool th_parse_udp(const uint8_t *frame, size_t len, struct udp_hdr *h);
bool th_parse_icmp(const uint8_t *frame, size_t len, struct ipv4_hdr *ip, struct icmp_hdr *h);
bool th_parse_arp(const uint8_t *frame, size_t len, struct arp_pkt *a);

/* "10.0.0.1" in tests: th_ip(10, 0, 0, 1). */
static inline uint32_t th_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return ((uint32_t)a << 24) | ((uint32_t)b << 16) | ((uint32_t)c << 8) | d;
}

#endif
