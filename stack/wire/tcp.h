/* TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018): parse/emit only. */
#ifndef TS_WIRE_TCP_H
#define TS_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define TCP_HDR_LEN     20 /* without options */
#define TCP_MAX_OPT_LEN 40
#define TCP_WND_MAX     0xffff /* the largest value of the 16-bit window field */

/* Field offsets in the header (RFC 9293 3.1). */
#define TCP_OFF_SPORT 0
#define TCP_OFF_DPORT 2
#define TCP_OFF_SEQ   4
#define TCP_OFF_ACK   8
#define TCP_OFF_DOFF  12 /* data offset, in 32-bit words, in the high 4 bits */
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WND   14
#define TCP_OFF_CSUM  16
#define TCP_OFF_URP   18
/* The first 8 bytes, which an ICMP error quotes at least (RFC 792): ports and sequence number. */
#define TCP_QUOTE_LEN 8

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define TCP_OPT_EOL       0
#define TCP_OPT_NOP       1
#define TCP_OPT_MSS       2
#define TCP_OPT_WSCALE    3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK      5
#define TCP_OPT_TS        8

#define TCP_MAX_SACK 4
/* Timestamps as they are laid out on every segment that carries them: 10 bytes and two NOPs
 * (RFC 7323 appendix A), 12 bytes of the options space. */
#define TCP_OPT_TS_SPACE 12

struct tcp_sack_block {
    uint32_t left, right;
};

/* Options as the protocol sees them: each with a "present" flag. Unknown options are skipped. */
struct tcp_opts {
    bool mss_ok;
    uint16_t mss;
    bool ws_ok;
    uint8_t ws; /* as received; RFC 7323 2.3: the user clamps to 14 */
    bool sack_perm;
    bool ts_ok;
    uint32_t tsval, tsecr;
    uint8_t nsack;
    struct tcp_sack_block sack[TCP_MAX_SACK];
};

struct tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd; /* unscaled, as on the wire */
    uint16_t urp;
    uint8_t hdr_len; /* parse: data offset in bytes */
    struct tcp_opts opts;
    const uint8_t *payload;
    size_t payload_len;
};

/* Validates length, data offset (20..60, <= len), the checksum with the pseudo-header and the
 * option list (a known option with a wrong length -> TCP_DROP_BAD_OPTIONS). Returns TS_C_OK or
 * TCP_DROP_TRUNCATED / TCP_DROP_BAD_HDRLEN / TCP_DROP_BAD_CSUM / TCP_DROP_BAD_OPTIONS.
 * Flag sanity (SYN+FIN etc.) is protocol logic, not checked here. Addresses in host order. */
enum ts_counter tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                          struct tcp_hdr *out);
/* The same; with verify_csum false the checksum is not checked (the link vouched for it). */
enum ts_counter tcp_parse_ex(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                             bool verify_csum, struct tcp_hdr *out);
/* The first 8 bytes of a TCP header quoted in an ICMP error (RFC 792 guarantees no more):
 * fills sport, dport and seq only. Returns false when fewer than 8 bytes were quoted. */
bool tcp_parse_quoted(const uint8_t *buf, size_t len, struct tcp_hdr *out);
/* Bytes the options in o take on the wire, padded to a multiple of 4 (at most 40). Options are
 * emitted in a fixed order: MSS, SACK-permitted, timestamps, window scale, SACK blocks, with NOPs
 * for alignment as Linux does; SACK blocks that do not fit are left out. */
size_t tcp_opts_len(const struct tcp_opts *o);
/* Writes header + options + payload (memmove unless the payload already sits right after the
 * header) and the checksum. Returns the segment length, or 0 if cap is too small. */
size_t tcp_emit(const struct tcp_hdr *h, uint32_t src, uint32_t dst, uint8_t *buf, size_t cap);
/* The same; with csum_partial the checksum field gets only the pseudo-header sum (folded, not
 * complemented) for the link to complete (TS_CSUM_PARTIAL): no pass over the payload. */
size_t tcp_emit_ex(const struct tcp_hdr *h, uint32_t src, uint32_t dst, bool csum_partial,
                   uint8_t *buf, size_t cap);

#endif
