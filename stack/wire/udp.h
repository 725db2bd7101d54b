/* UDP header (RFC 768): parse/emit only. */
#ifndef TS_WIRE_UDP_H
#define TS_WIRE_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define UDP_HDR_LEN 8

struct udp_hdr {
    uint16_t sport, dport;
    uint16_t len;  /* header + payload, from the wire (parse) */
    uint16_t csum; /* as received; 0 = sender computed none */
    const uint8_t *payload;
    size_t payload_len;
};

/* Validates the length field (>= 8, <= len; bytes past it ignored) and the checksum with the
 * pseudo-header (unless it is 0: RFC 768 "no checksum"). TS_C_OK, UDP_DROP_TRUNCATED,
 * UDP_DROP_BAD_LEN or UDP_DROP_BAD_CSUM. Addresses in host order. */
enum ts_counter udp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                          struct udp_hdr *out);
/* The same; with verify_csum false the checksum is not checked (the link vouched for it). */
enum ts_counter udp_parse_ex(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                             bool verify_csum, struct udp_hdr *out);
/* A UDP header quoted in an ICMP error: fills sport, dport, len and csum as written, with no
 * payload. Returns false when fewer than 8 bytes were quoted. */
bool udp_parse_quoted(const uint8_t *buf, size_t len, struct udp_hdr *out);
/* Header + payload (memmove unless already at buf + 8) + checksum (0 is sent as 0xffff).
 * Returns 8 + payload_len, or 0 if cap is too small or the datagram exceeds 65535. */
size_t udp_emit(const struct udp_hdr *h, uint32_t src, uint32_t dst, uint8_t *buf, size_t cap);

#endif
