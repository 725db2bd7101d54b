/* ICMP for IPv4 (RFC 792): parse/emit only. */
#ifndef TS_WIRE_ICMP_H
#define TS_WIRE_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define ICMP_HDR_LEN       8
#define ICMP_ECHO_REPLY    0
#define ICMP_DEST_UNREACH  3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT      5
#define ICMP_ECHO_REQUEST  8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
/* The other queries of RFC 792 and RFC 950: timestamp (13, 14), information (15, 16) and
 * address mask (17, 18) request and reply. We answer none of them. */
#define ICMP_QUERY_FIRST 13
#define ICMP_QUERY_LAST  18

/* Destination-unreachable codes */
#define ICMP_UNREACH_NET      0
#define ICMP_UNREACH_HOST     1
#define ICMP_UNREACH_PROTO    2
#define ICMP_UNREACH_PORT     3
#define ICMP_UNREACH_NEEDFRAG 4
#define ICMP_UNREACH_SRCFAIL  5

/* Time-exceeded codes */
#define ICMP_EXC_TTL      0
#define ICMP_EXC_FRAGTIME 1 /* fragment reassembly time exceeded */

struct icmp_hdr {
    uint8_t type, code;
    /* The 4 bytes after the checksum, decoded by type:
     * echo: id and seq; dest-unreach/needfrag: mtu (next-hop MTU, RFC 1191); param problem:
     * pointer in the high byte of rest. Emit writes `rest` as is unless type is echo. */
    uint16_t id, seq;
    uint16_t mtu;
    uint32_t rest;
    const uint8_t *payload; /* after the 8-byte header */
    size_t payload_len;
};

/* Verifies length and checksum. TS_C_OK, ICMP_DROP_TRUNCATED or ICMP_DROP_BAD_CSUM. */
enum ts_counter icmp_parse(const uint8_t *buf, size_t len, struct icmp_hdr *out);
/* Writes the header followed by the payload (copied with memmove unless it already sits at
 * buf + 8) and the checksum over both. Returns 8 + payload_len, or 0 if cap is too small. */
size_t icmp_emit(const struct icmp_hdr *h, uint8_t *buf, size_t cap);

#endif
