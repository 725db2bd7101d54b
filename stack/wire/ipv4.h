/* IPv4 header (RFC 791): parse/emit only. */
#ifndef TS_WIRE_IPV4_H
#define TS_WIRE_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define IPV4_HDR_LEN   20 /* without options */
#define IPV4_MAX_LEN   65535
#define IP_PROTO_ICMP  1
#define IP_PROTO_TCP   6
#define IP_PROTO_UDP   17
#define IPV4_BROADCAST 0xffffffffu

struct ipv4_hdr {
    uint8_t hdr_len; /* bytes, 20..60 */
    uint8_t tos;
    uint16_t total_len; /* header + payload */
    uint16_t id;
    bool df, mf;
    uint16_t frag_off; /* in bytes (field value * 8) */
    uint8_t ttl;
    uint8_t proto;
    uint32_t src, dst;      /* host order */
    const uint8_t *options; /* hdr_len - 20 bytes, NULL when none */
    bool source_route;      /* the options hold a loose or strict source route */
    const uint8_t *payload; /* total_len - hdr_len bytes (Ethernet padding excluded) */
    size_t payload_len;
};

/* Validates version, header length (>= 20, <= len), total length (>= header, <= len; bytes
 * past it are Ethernet padding and ignored), the header checksum, and the option list's TLV
 * structure (options are otherwise skipped). Returns TS_C_OK or the drop reason
 * (IP_DROP_TRUNCATED, IP_DROP_BAD_VERSION, IP_DROP_BAD_HDRLEN, IP_DROP_BAD_LEN, IP_DROP_BAD_CSUM,
 * IP_DROP_BAD_OPTIONS). */
enum ts_counter ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_hdr *out);
/* The datagram quoted in an ICMP error (RFC 792): usually truncated, so only version, header
 * length and the 8 transport bytes that RFC 792 guarantees are checked; no checksum, and
 * total_len is as written in the quote. payload/payload_len are the quoted transport bytes
 * (at least 8). Returns false when the quote is unusable. */
bool ipv4_parse_quoted(const uint8_t *buf, size_t len, struct ipv4_hdr *out);
#define IPV4_OPT_RR      7  /* RFC 791 Record Route */
#define IPV4_MAX_OPT_LEN 40 /* a header holds at most 40 bytes of options */
/* Writes the header with total_len = hdr_len + h->payload_len and a correct checksum: 20 bytes,
 * or with h->options set and h->hdr_len > 20, hdr_len (a multiple of 4, at most 60) with the
 * options copied after the first 20 (they may already be in place). Does not copy the payload.
 * Returns the header length, or 0 if cap is too small. */
size_t ipv4_emit(const struct ipv4_hdr *h, uint8_t *buf, size_t cap);

static inline bool ipv4_is_multicast(uint32_t a)
{
    return (a >> 28) == 0xe;
}

#endif
