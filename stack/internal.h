/* Inside the core: the stack instance and the interfaces between its layers.
 *
 * Who calls whom. The files of stack/ form layers, and a layer calls only the layers below it
 * (`make deps-check` proves it from the object files; tools/layers-check.sh lists the layers):
 *
 *   stack.c                 the conductor: frame in, results dispatched up, timers polled
 *   tcp*.c                  TCP (its files call each other: output arms timers, timers send)
 *   udp.c                   UDP
 *   icmp.c                  ICMP: echo, parsing errors, sending errors
 *   ipv4.c ip_reass.c       IPv4: validation, reassembly, routing, send and fragmentation
 *   arp.c                   ARP: the cache, the queue of datagrams waiting for an address
 *   link.c                  Ethernet: MAC filter in, header and driver out
 *   trace.c                 trace events, TCP state names and their explanations
 *   addr.c ringbuf.c siphash.c counters.c   utilities
 *   wire/                   wire formats: parse and emit, no state
 *
 * Inbound, each layer returns what it found and the conductor decides what comes next: link.c
 * returns the accepted frame (struct ts_link_rx), ipv4.c the validated, reassembled datagram
 * (struct ts_ip_rx), icmp.c a parsed error for the conductor to route to TCP or UDP (struct
 * ts_icmp_error), udp.c "nobody on this port" for the conductor to answer. The timers work the
 * same way: ts_arp_poll returns a next hop that never answered with its waiting datagrams, and
 * ts_reass_poll a datagram whose reassembly timed out. Outbound goes straight down: a transport
 * writes its packet into the stack's transmit buffer (ts_ip_tx_buf) and calls ts_ip_send; ipv4.c
 * adds its header and fragments, arp.c resolves the next hop, link.c adds the Ethernet header and
 * hands the frame to the driver. */
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
struct ts_loop_dgram;
struct ts_tcp_table;
struct ts_udp_table;

/* Room in front of a transport packet for the Ethernet and IPv4 headers. */
#define TS_TX_HEADROOM (ETH_HDR_LEN + IPV4_HDR_LEN)
#define TS_TX_BUF_SIZE (TS_TX_HEADROOM + IPV4_MAX_LEN)
/* The receive buffer: any frame a driver hands over, a super-segment included. */
#define TS_RX_BUF_SIZE TS_FRAME_MAX

struct ts_stack {
    struct ts_config cfg;
    struct ts_driver *drv;
    ts_time_t now; /* time of the call in progress */
    uint64_t counters[TS_C_COUNT];

    ts_trace_fn trace_fn;
    void *trace_arg;
    ts_segment_fn seg_fn; /* ts_stack_set_segment_hook */
    void *seg_arg;

    uint32_t netmask;
    uint16_t ip_id;    /* next IPv4 identification */
    unsigned offloads; /* TS_OFFLOAD_* the driver takes (asked once, at creation) */

    struct ts_arp *arp;
    struct ts_reass *reass;
    struct ts_tcp_table *tcp;
    struct ts_udp_table *udp;

    /* Datagrams sent to ourselves, waiting to be fed back in (ipv4.c queues, stack.c drains). */
    struct ts_loop_dgram *loop_head, *loop_tail;
    size_t loop_count, loop_bytes;

    /* ICMP error rate limit (RFC 1122 3.2.2): a token bucket. */
    uint32_t icmp_tokens;
    ts_time_t icmp_refill;

    uint8_t tx[TS_TX_BUF_SIZE]; /* the transmit buffer; see ts_ip_tx_buf */
    uint8_t rx[TS_RX_BUF_SIZE]; /* ts_stack_step's receive buffer */
};

static inline void ts_count(struct ts_stack *s, enum ts_counter c)
{
    s->counters[c]++;
}

/* ---- The stack's own addresses (configuration facts every layer from ARP up asks about) ---- */
/* Is addr in 127.0.0.0/8, the host's loopback network (RFC 1122 3.2.1.3 (g))? */
static inline bool ts_ip_is_loopback(uint32_t addr)
{
    return (addr >> 24) == 127;
}
/* Is addr one of ours: our (unicast) address, or any address of 127/8? Datagrams to these never
 * reach the link: IPv4 queues them for the conductor to feed back in (ts_ip_loopback_pop). */
static inline bool ts_ip_is_local(const struct ts_stack *s, uint32_t addr)
{
    return addr == s->cfg.ip || ts_ip_is_loopback(addr);
}
/* Is addr a broadcast we belong to: the limited broadcast or our subnet's (RFC 1122 3.3.6)? */
static inline bool ts_ip_is_broadcast(const struct ts_stack *s, uint32_t addr)
{
    return addr == IPV4_BROADCAST || addr == ((s->cfg.ip & s->netmask) | ~s->netmask);
}

/* ---- trace.c ---- */
/* Emit a trace event (called by the TCP state door only). */
void ts_stack_trace(struct ts_stack *s, const struct ts_trace_event *ev);
struct tcp_hdr;
/* Hand one TCP segment to the segment hook, if one is set (TCP's send point and its input, once
 * the segment parsed). laddr/raddr: ours and the peer's. */
void ts_stack_segment_note(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                           const struct tcp_hdr *h, bool sent);

/* ---- link.c: Ethernet ---- */
/* A frame the link layer accepted (addressed to our MAC or to broadcast, from a plausible
 * source), as it goes up to ARP or IPv4. */
struct ts_link_rx {
    uint16_t type; /* ETH_TYPE_ARP, ETH_TYPE_IPV4, or another the caller drops */
    /* Sent to the Ethernet broadcast address: no ICMP error may answer what it carries
     * (RFC 1122 3.2.2). */
    bool broadcast;
    const uint8_t *payload; /* points into the frame */
    size_t len;
    /* The driver's offload metadata, offsets made relative to the payload (the IPv4 header):
     * checked by IPv4 against the datagram before anyone believes it. */
    uint8_t gso;          /* TS_GSO_NONE, _TCPV4 or _UDPV4 (other types were dropped here) */
    uint8_t csum;         /* enum ts_csum */
    uint16_t gso_size;    /* data bytes per piece of a super-segment */
    int32_t csum_start;   /* PARTIAL: where the transport sum begins, from the IPv4 header */
    uint16_t csum_offset; /* PARTIAL: where its field is, from csum_start */
};
/* Parses and filters one received frame with its driver metadata (NULL: a plain frame); false
 * when it was dropped (and counted). Only a super-segment may exceed the MTU. */
bool ts_link_input(struct ts_stack *s, const uint8_t *frame, size_t len,
                   const struct ts_frame_meta *meta, struct ts_link_rx *out);
/* frame holds the Ethernet header space (14 bytes) followed by the payload; fills the header and
 * hands the frame to the driver with its offload metadata (NULL: a plain frame). Returns 0 or
 * -errno. */
int ts_link_send(struct ts_stack *s, const uint8_t dst_mac[6], uint16_t type, uint8_t *frame,
                 size_t len, const struct ts_frame_meta *meta);

/* ---- arp.c ---- */
struct ts_arp *ts_arp_new(void);
void ts_arp_free(struct ts_arp *a);
void ts_arp_input(struct ts_stack *s, const struct ts_link_rx *f);
/* frame: 14 free bytes then an IPv4 datagram of len - 14 bytes, for next hop nexthop, with its
 * offload metadata (NULL: none). Sends at once when the address is known, else copies it (and
 * the metadata) into the pending queue and asks. */
int ts_arp_output(struct ts_stack *s, uint32_t nexthop, uint8_t *frame, size_t len,
                  const struct ts_frame_meta *meta);
void ts_arp_announce(struct ts_stack *s); /* gratuitous ARP */
/* A frame that waited in ARP's queue: 14 bytes of room for Ethernet, then an IPv4 datagram. */
struct ts_arp_frame {
    struct ts_arp_frame *next;
    struct ts_frame_meta meta;
    size_t len;
    uint8_t data[];
};
/* A next hop that never answered (RFC 1122 2.3.2.1), and the frames that waited for it (the
 * caller owns them: ts_arp_frames_free). */
struct ts_arp_failure {
    uint32_t ip;
    struct ts_arp_frame *frames;
};
/* ARP's timers: repeats due requests, forgets stale entries. Stops at the first next hop whose
 * resolution failed and returns true with it in *failed (its slot is already free, so the caller
 * may send to it again while it reports the failure); call again until it returns false, which
 * sets *next to the next deadline. */
bool ts_arp_poll(struct ts_stack *s, ts_time_t now, ts_time_t *next, struct ts_arp_failure *failed);
void ts_arp_frames_free(struct ts_arp_frame *f);
/* For tests and tools: is ip in the cache (resolved)? Copies the MAC when mac != NULL. */
bool ts_arp_lookup(const struct ts_stack *s, uint32_t ip, uint8_t mac[6]);

/* ---- ipv4.c / ip_reass.c ---- */
/* A datagram addressed to us, as it goes up to ICMP, UDP or TCP. */
struct ts_ip_rx {
    struct ipv4_hdr ip; /* a reassembled datagram's payload lives in reassembly memory, valid
                         * until the next call into ip_reass.c */
    /* It came in a frame sent to the Ethernet broadcast address (for a reassembled datagram:
     * one of its fragments did): no ICMP error may answer it (RFC 1122 3.2.2). */
    bool link_broadcast;
    /* It came through the loopback queue (sent by this stack to itself), not from a link: a
     * source in 127/8 is right then. */
    bool loopback;
    /* The transport checksum needs no check: the host verified it (DATA_VALID) or left it
     * partial for us as its NIC (the datagram never crossed a wire). */
    bool l4_csum_ok;
    /* A TCP super-segment: the data bytes of each wire segment it stands for (the sender's MSS);
     * a UDP super-datagram: the data bytes of each datagram it holds. 0 for an ordinary one. */
    uint16_t gso_size;
};
/* Validates one datagram from the link (RFC 1122 3.2.1) and reassembles fragments. Returns true
 * with a complete datagram for us in *out; false when it was dropped (counted) or is a fragment
 * of a datagram not yet complete. */
bool ts_ipv4_input(struct ts_stack *s, const struct ts_link_rx *f, struct ts_ip_rx *out);
struct ts_reass *ts_reass_new(void);
void ts_reass_free(struct ts_reass *r);
/* Takes a fragment; when it completes a datagram, returns true and fills *whole (whose payload
 * points into reassembly memory valid until the next call). */
bool ts_reass_input(struct ts_stack *s, const struct ts_ip_rx *frag, struct ts_ip_rx *whole);
/* A datagram whose reassembly timed out (RFC 1122 3.3.2). */
struct ts_reass_expired {
    /* Fragment zero came: first describes it (payload valid until the next call into
     * ip_reass.c), for the caller to quote in "time exceeded". Else there is nothing to quote. */
    bool has_first;
    struct ts_ip_rx first;
};
/* Reassembly's timer: stops at the first datagram that timed out and returns true with it in
 * *expired (already freed but for the first fragment's data); call again until it returns
 * false, which sets *next to the next deadline. */
bool ts_reass_poll(struct ts_stack *s, ts_time_t now, ts_time_t *next,
                   struct ts_reass_expired *expired);
size_t ts_reass_memory(const struct ts_stack *s); /* bytes held, for tests */

/* Transmit path for transports. */
/* Where to write a transport packet: returns a pointer with TS_TX_HEADROOM free bytes before it,
 * and in *cap the most that fits in one datagram (65515). Valid until the next ts_ip_send. */
uint8_t *ts_ip_tx_buf(struct ts_stack *s, size_t *cap);
/* Send the len bytes at ts_ip_tx_buf() as an IPv4 datagram (TTL 64). Fragments when larger than
 * the MTU unless df (then IP_DROP_DF_TOO_BIG). Returns 0 or -errno (ENETUNREACH, EMSGSIZE,
 * ENOBUFS when the loopback queue is full). An unresolved next hop is not an error: the frame
 * waits in the ARP queue. A datagram to one of our own addresses (ts_ip_is_local) is not sent
 * but queued whole, unfragmented, for the conductor to feed back in. */
int ts_ip_send(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len, bool df,
               uint8_t tos);
/* ts_ip_send of a datagram with IP options: at ts_ip_tx_buf() optlen bytes of options (a multiple
 * of 4, at most 40), then len bytes of transport. Never fragmented, never to ourselves: then
 * -EMSGSIZE and nothing sent (the caller may send without the options). */
int ts_ip_send_opts(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t optlen,
                    size_t len, uint8_t tos);
/* What a transport asks of the link when it sends (ts_ip_send_offload). */
struct ts_ip_offload {
    /* > 0: the datagram is a TCP super-segment of up to 64 KiB, which the link cuts into pieces of
     * gso_size data bytes (needs TS_OFFLOAD_TSO4, ts_ip_gso_ok; DF is set, the MTU not applied
     * to the whole). l4_hdr_len is then the TCP header's length, options included. */
    uint16_t gso_size;
    uint16_t l4_hdr_len;
    /* The transport wrote only the pseudo-header sum (tcp/udp_csum_partial) into its checksum
     * field, csum_offset bytes into its header: the link completes it (needs TS_OFFLOAD_CSUM;
     * always so for a super-segment). */
    bool csum_partial;
    uint16_t csum_offset;
};
/* ts_ip_send with DF and offloads: -EOPNOTSUPP when the link lacks what o asks for. */
int ts_ip_send_offload(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len,
                       uint8_t tos, const struct ts_ip_offload *o);
/* May a transport send super-segments (and partial checksums) towards dst? The driver takes
 * them (TS_OFFLOAD_TSO4 | TS_OFFLOAD_CSUM). */
bool ts_ip_gso_ok(const struct ts_stack *s, uint32_t dst);
/* The TS_OFFLOAD_* the link towards dst takes. */
unsigned ts_ip_offloads(const struct ts_stack *s, uint32_t dst);
/* The next hop for dst, or 0 if there is no route (dst itself for our own addresses). */
uint32_t ts_ip_route(const struct ts_stack *s, uint32_t dst);
/* The source address for a datagram to dst when the sender has none: 127.0.0.1 towards 127/8
 * (as Linux picks from lo), else our address. */
uint32_t ts_ip_source(const struct ts_stack *s, uint32_t dst);
/* A datagram ts_ip_send addressed to ourselves: the whole IPv4 datagram, header included. */
struct ts_loop_dgram {
    struct ts_loop_dgram *next;
    size_t len;
    uint8_t data[];
};
/* The oldest datagram waiting in the loopback queue (the caller frees it), or NULL. */
struct ts_loop_dgram *ts_ip_loopback_pop(struct ts_stack *s);
/* Free whatever waits in the loopback queue (ts_stack_free). */
void ts_ip_loopback_flush(struct ts_stack *s);
/* The MTU to use towards dst (the link MTU; lowered by RFC 1191 messages in the TCP layer). */
uint16_t ts_ip_mtu(const struct ts_stack *s, uint32_t dst);

/* ---- icmp.c ---- */
/* An ICMP error about a datagram we sent, as the conductor hands it to the transport named in
 * the quote. ARP failures are reported in the same form (host unreachable). */
struct ts_icmp_error {
    uint8_t type, code;
    uint16_t mtu;      /* next-hop MTU for "fragmentation needed", else 0 */
    uint32_t src, dst; /* of the original datagram (src is us) */
    uint8_t proto;
    const uint8_t *l4; /* the quoted transport header (at least 8 bytes) */
    size_t l4_len;
};
/* Answers echo requests; returns true with *err filled when the message is an error about a
 * datagram of ours (the caller passes it to the transport), false otherwise. */
bool ts_icmp_input(struct ts_stack *s, const struct ipv4_hdr *ip, struct ts_icmp_error *err);
/* Send an ICMP error about the datagram rx (RFC 1122 3.2.2: never about an ICMP error, a
 * broadcast at the link or IP layer, a multicast, or a non-first fragment; rate-limited). */
void ts_icmp_send_error(struct ts_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
                        const struct ts_ip_rx *rx);

/* ---- udp.c ---- */
struct ts_udp_table *ts_udp_table_new(void);
void ts_udp_table_free(struct ts_udp_table *t);
/* What became of a datagram: delivered or dropped (counted), or nobody listens on its port, which
 * the caller may answer with "port unreachable" (RFC 1122 4.1.3.1). */
enum ts_udp_rx { TS_UDP_RX_DONE, TS_UDP_RX_NO_PORT };
/* csum_ok: the checksum needs no check (struct ts_ip_rx.l4_csum_ok); gso_size > 0: a
 * super-datagram, delivered as datagrams of gso_size bytes (struct ts_ip_rx.gso_size). */
enum ts_udp_rx ts_udp_input(struct ts_stack *s, const struct ipv4_hdr *ip, bool csum_ok,
                            uint16_t gso_size);
void ts_udp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e);

/* ---- tcp*.c ---- */
struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s);
void ts_tcp_table_free(struct ts_tcp_table *t);
/* csum_ok: the checksum needs no check (struct ts_ip_rx.l4_csum_ok). */
void ts_tcp_input(struct ts_stack *s, const struct ipv4_hdr *ip, bool csum_ok);
/* Around the frames of one wake-up (ts_stack_step): ACKs for in-order data are owed per batch, as
 * for one super-segment, and sent at its end. */
void ts_tcp_batch_begin(struct ts_stack *s);
void ts_tcp_batch_end(struct ts_stack *s);
void ts_tcp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e);
ts_time_t ts_tcp_poll(struct ts_stack *s, ts_time_t now);

#endif
