/* Inside the core: the stack instance and the interfaces between its modules.
 *
 * Who calls whom. stack.c is the conductor. Inbound, it parses the Ethernet header and hands the
 * frame to arp.c or ipv4.c; ipv4.c validates and reassembles, then gives the whole datagram back
 * to the conductor (ts_stack_deliver), which hands it to icmp.c, udp.c or tcp_input.c. ICMP errors
 * go the same way (ts_stack_deliver_icmp_error). Outbound, a transport writes its packet into the
 * stack's transmit buffer (ts_ip_tx_buf) and calls ts_ip_send; ipv4.c adds its header, fragments
 * if needed, and arp.c resolves the next hop and hands the frame to the driver. No protocol module
 * calls another protocol module by name. */
#ifndef TS_INTERNAL_H
#define TS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/stack.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

struct ts_arp;
struct ts_reass;
struct ts_tcp_table;
struct ts_udp_table;

/* Room in front of a transport packet for the Ethernet and IPv4 headers. */
#define TS_TX_HEADROOM (ETH_HDR_LEN + IPV4_HDR_LEN)
#define TS_TX_BUF_SIZE (TS_TX_HEADROOM + IPV4_MAX_LEN)

struct ts_stack {
    struct ts_config cfg;
    struct ts_driver *drv;
    ts_time_t now; /* time of the call in progress */
    uint64_t counters[TS_C_COUNT];

    ts_trace_fn trace_fn;
    void *trace_arg;

    uint32_t netmask;
    uint16_t ip_id; /* next IPv4 identification */

    struct ts_arp *arp;
    struct ts_reass *reass;
    struct ts_tcp_table *tcp;
    struct ts_udp_table *udp;

    /* ICMP error rate limit (RFC 1122 3.2.2): a token bucket. */
    uint32_t icmp_tokens;
    ts_time_t icmp_refill;
    /* The frame being processed was sent to the Ethernet broadcast address: no ICMP error may
     * answer it (RFC 1122 3.2.2). Set by ts_stack_input for the duration of the call. */
    bool rx_link_broadcast;

    uint8_t tx[TS_TX_BUF_SIZE]; /* the transmit buffer; see ts_ip_tx_buf */
    uint8_t rx[TS_TX_BUF_SIZE]; /* ts_stack_step's receive buffer */
};

static inline void ts_count(struct ts_stack *s, enum ts_counter c)
{
    s->counters[c]++;
}

/* ---- stack.c: the conductor ---- */
/* A complete (reassembled) IPv4 datagram addressed to us. */
void ts_stack_deliver(struct ts_stack *s, const struct ipv4_hdr *ip);
/* An ICMP error about a datagram we sent: passed to the transport named in the quote. */
struct ts_icmp_error {
    uint8_t type, code;
    uint16_t mtu;      /* next-hop MTU for "fragmentation needed", else 0 */
    uint32_t src, dst; /* of the original datagram (src is us) */
    uint8_t proto;
    const uint8_t *l4; /* the quoted transport header (at least 8 bytes) */
    size_t l4_len;
};
void ts_stack_deliver_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e);
/* Emit a trace event (called by the TCP state door only). */
void ts_stack_trace(struct ts_stack *s, const struct ts_trace_event *ev);

/* ---- Transmit path for transports ---- */
/* Where to write a transport packet: returns a pointer with TS_TX_HEADROOM free bytes before it,
 * and in *cap the most that fits in one datagram (65515). Valid until the next ts_ip_send. */
uint8_t *ts_ip_tx_buf(struct ts_stack *s, size_t *cap);
/* Send the len bytes at ts_ip_tx_buf() as an IPv4 datagram (TTL 64). Fragments when larger than
 * the MTU unless df (then IP_DROP_DF_TOO_BIG). Returns 0 or -errno (ENETUNREACH, EMSGSIZE).
 * An unresolved next hop is not an error: the frame waits in the ARP queue. */
int ts_ip_send(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len, bool df,
               uint8_t tos);
/* Is addr one of ours (unicast), or a broadcast we accept? */
bool ts_ip_is_local(const struct ts_stack *s, uint32_t addr);
bool ts_ip_is_broadcast(const struct ts_stack *s, uint32_t addr);
/* The next hop for dst, or 0 if there is no route. */
uint32_t ts_ip_route(const struct ts_stack *s, uint32_t dst);
/* The MTU to use towards dst (the link MTU; lowered by RFC 1191 messages in the TCP layer). */
uint16_t ts_ip_mtu(const struct ts_stack *s, uint32_t dst);

/* ---- link (stack.c) ---- */
/* frame holds the Ethernet header space (14 bytes) followed by the payload; fills the header and
 * hands the frame to the driver. Returns 0 or -errno. */
int ts_link_send(struct ts_stack *s, const uint8_t dst_mac[6], uint16_t type, uint8_t *frame,
                 size_t len);

/* ---- arp.c ---- */
struct ts_arp *ts_arp_new(struct ts_stack *s);
void ts_arp_free(struct ts_arp *a);
void ts_arp_input(struct ts_stack *s, const struct eth_hdr *eth);
/* frame: 14 free bytes then an IPv4 datagram of len - 14 bytes, for next hop nexthop.
 * Sends at once when the address is known, else copies it into the pending queue and asks. */
int ts_arp_output(struct ts_stack *s, uint32_t nexthop, uint8_t *frame, size_t len);
ts_time_t ts_arp_poll(struct ts_stack *s, ts_time_t now);
void ts_arp_announce(struct ts_stack *s); /* gratuitous ARP */
/* For tests and tools: is ip in the cache (resolved)? Copies the MAC when mac != NULL. */
bool ts_arp_lookup(const struct ts_stack *s, uint32_t ip, uint8_t mac[6]);

/* ---- ipv4.c / ip_reass.c ---- */
void ts_ipv4_input(struct ts_stack *s, const uint8_t *pkt, size_t len);
struct ts_reass *ts_reass_new(void);
void ts_reass_free(struct ts_reass *r);
/* Takes a fragment; when it completes a datagram, returns true and fills *whole (whose payload
 * points into reassembly memory valid until the next call). */
bool ts_reass_input(struct ts_stack *s, const struct ipv4_hdr *frag, struct ipv4_hdr *whole);
ts_time_t ts_reass_poll(struct ts_stack *s, ts_time_t now);
size_t ts_reass_memory(const struct ts_stack *s); /* bytes held, for tests */

/* ---- icmp.c ---- */
void ts_icmp_input(struct ts_stack *s, const struct ipv4_hdr *ip);
/* Send an ICMP error about the datagram ip (RFC 1122 3.2.2: never about an ICMP error, a
 * broadcast/multicast, or a non-first fragment; rate-limited). */
void ts_icmp_send_error(struct ts_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
                        const struct ipv4_hdr *ip);

/* ---- udp.c ---- */
struct ts_udp_table *ts_udp_table_new(void);
void ts_udp_table_free(struct ts_udp_table *t);
void ts_udp_input(struct ts_stack *s, const struct ipv4_hdr *ip);
void ts_udp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e);

/* ---- tcp*.c ---- */
struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s);
void ts_tcp_table_free(struct ts_tcp_table *t);
void ts_tcp_input(struct ts_stack *s, const struct ipv4_hdr *ip);
void ts_tcp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e);
ts_time_t ts_tcp_poll(struct ts_stack *s, ts_time_t now);

#endif
