/* IPv4 header (RFC 791 3.1): parse/emit only. */
#include "wire/ipv4.h"

#include <string.h>

#include "wire/be.h"
#include "wire/checksum.h"

#define IPV4_OPT_EOL  0
#define IPV4_OPT_NOP  1
#define IPV4_OPT_LSRR 0x83 /* loose source and record route */
#define IPV4_OPT_SSRR 0x89 /* strict source and record route */

/* RFC 791 3.1 "Options": EOL ends the list, NOP is a single byte, every other option is
 * type, length (counting both), data. RFC 1122 3.2.1.8: unknown options are skipped, so only
 * the structure is checked, and whether a source route is among them noted. */
static bool ipv4_opts_valid(const uint8_t *o, size_t len, bool *source_route)
{
    size_t i = 0;
    while (i < len) {
        uint8_t type = o[i];
        if (type == IPV4_OPT_EOL)
            return true;
        if (type == IPV4_OPT_LSRR || type == IPV4_OPT_SSRR)
            *source_route = true;
        if (type == IPV4_OPT_NOP) {
            i++;
            continue;
        }
        if (len - i < 2)
            return false;
        uint8_t olen = o[i + 1];
        if (olen < 2 || olen > len - i)
            return false;
        i += olen;
    }
    return true;
}

/* The fields of a header whose version and length were checked (both parsers). */
static void header_fields(const uint8_t *buf, size_t hlen, struct ipv4_hdr *out)
{
    uint16_t frag = be16_get(buf + 6);
    out->hdr_len = (uint8_t)hlen;
    out->tos = buf[1];
    out->total_len = be16_get(buf + 2);
    out->id = be16_get(buf + 4);
    out->df = (frag & 0x4000) != 0;
    out->mf = (frag & 0x2000) != 0;
    out->frag_off = (uint16_t)((frag & 0x1fff) * 8);
    out->ttl = buf[8];
    out->proto = buf[9];
    out->src = be32_get(buf + 12);
    out->dst = be32_get(buf + 16);
    out->options = hlen > IPV4_HDR_LEN ? buf + IPV4_HDR_LEN : NULL;
    out->source_route = false; /* (set by ipv4_parse, which reads the options) */
    out->payload = buf + hlen;
}

enum ts_counter ipv4_parse(const uint8_t *buf, size_t len, struct ipv4_hdr *out)
{
    if (buf == NULL || len < IPV4_HDR_LEN)
        return TS_C_IP_DROP_TRUNCATED;
    if ((buf[0] >> 4) != 4)
        return TS_C_IP_DROP_BAD_VERSION;
    size_t hlen = (size_t)(buf[0] & 0x0f) * 4;
    /* A header length field pointing past the datagram is a bad field, not a short frame: the
     * fixed 20 bytes were all there. */
    if (hlen < IPV4_HDR_LEN || hlen > len)
        return TS_C_IP_DROP_BAD_HDRLEN;
    size_t total = be16_get(buf + 2);
    /* Bytes beyond total_len are link padding (Ethernet pads to 60 bytes); fewer is a lie. */
    if (total < hlen || total > len)
        return TS_C_IP_DROP_BAD_LEN;
    /* RFC 1122 3.2.1.2: a datagram with a bad header checksum is silently discarded. */
    if (csum(buf, hlen) != 0)
        return TS_C_IP_DROP_BAD_CSUM;
    bool source_route = false;
    if (hlen > IPV4_HDR_LEN &&
        !ipv4_opts_valid(buf + IPV4_HDR_LEN, hlen - IPV4_HDR_LEN, &source_route))
        return TS_C_IP_DROP_BAD_OPTIONS;

    header_fields(buf, hlen, out);
    out->source_route = source_route;
    out->payload_len = total - hlen;
    return TS_C_OK;
}

bool ipv4_parse_quoted(const uint8_t *buf, size_t len, struct ipv4_hdr *out)
{
    if (buf == NULL || len < IPV4_HDR_LEN || (buf[0] >> 4) != 4)
        return false;
    size_t hlen = (size_t)(buf[0] & 0x0f) * 4;
    /* RFC 792: the quote holds the header and at least the first 8 bytes of the payload. */
    if (hlen < IPV4_HDR_LEN || len < hlen + 8)
        return false;
    header_fields(buf, hlen, out);
    out->payload_len = len - hlen;
    return true;
}

size_t ipv4_emit(const struct ipv4_hdr *h, uint8_t *buf, size_t cap)
{
    size_t hl = IPV4_HDR_LEN;
    if (h->options && h->hdr_len > IPV4_HDR_LEN && h->hdr_len <= 60 && h->hdr_len % 4 == 0)
        hl = h->hdr_len;
    if (buf == NULL || cap < hl || h->payload_len > IPV4_MAX_LEN - hl)
        return 0;
    if (hl > IPV4_HDR_LEN)
        memmove(buf + IPV4_HDR_LEN, h->options, hl - IPV4_HDR_LEN);
    uint16_t frag = (uint16_t)((h->frag_off / 8) & 0x1fff);
    if (h->df)
        frag |= 0x4000;
    if (h->mf)
        frag |= 0x2000;
    buf[0] = (uint8_t)(0x40 | (hl / 4)); /* version 4, header length in words */
    buf[1] = h->tos;
    be16_put(buf + 2, (uint16_t)(hl + h->payload_len));
    be16_put(buf + 4, h->id);
    be16_put(buf + 6, frag);
    buf[8] = h->ttl;
    buf[9] = h->proto;
    buf[10] = 0;
    buf[11] = 0;
    be32_put(buf + 12, h->src);
    be32_put(buf + 16, h->dst);
    be16_put(buf + 10, csum(buf, hl));
    return hl;
}
