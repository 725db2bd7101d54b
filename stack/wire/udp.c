/* UDP header (RFC 768): parse/emit only. */
#include "wire/udp.h"

#include <string.h>

#include "wire/be.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

enum ts_counter udp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                          struct udp_hdr *out)
{
    return udp_parse_ex(buf, len, src, dst, true, out);
}

enum ts_counter udp_parse_ex(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                             bool verify_csum, struct udp_hdr *out)
{
    if (buf == NULL || len < UDP_HDR_LEN)
        return TS_C_UDP_DROP_TRUNCATED;
    uint16_t ulen = be16_get(buf + 4);
    /* RFC 768: length counts header and data, so it is at least 8; bytes past it (should the
     * IP payload be longer) are not part of the datagram. */
    if (ulen < UDP_HDR_LEN || ulen > len)
        return TS_C_UDP_DROP_BAD_LEN;
    uint16_t sum = be16_get(buf + 6);
    /* RFC 768 / RFC 1122 4.1.3.4: a transmitted checksum of zero means "none computed". */
    if (verify_csum && sum != 0 &&
        csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_UDP, ulen), buf, ulen)) != 0)
        return TS_C_UDP_DROP_BAD_CSUM;
    out->sport = be16_get(buf);
    out->dport = be16_get(buf + 2);
    out->len = ulen;
    out->csum = sum;
    out->payload = buf + UDP_HDR_LEN;
    out->payload_len = ulen - UDP_HDR_LEN;
    return TS_C_OK;
}

bool udp_parse_quoted(const uint8_t *buf, size_t len, struct udp_hdr *out)
{
    if (buf == NULL || len < UDP_HDR_LEN)
        return false;
    out->sport = be16_get(buf);
    out->dport = be16_get(buf + 2);
    out->len = be16_get(buf + 4);
    out->csum = be16_get(buf + 6);
    out->payload = NULL;
    out->payload_len = 0;
    return true;
}

size_t udp_emit(const struct udp_hdr *h, uint32_t src, uint32_t dst, uint8_t *buf, size_t cap)
{
    if (buf == NULL || cap < UDP_HDR_LEN || h->payload_len > cap - UDP_HDR_LEN ||
        h->payload_len > 65535 - UDP_HDR_LEN)
        return 0;
    if (h->payload_len && h->payload != buf + UDP_HDR_LEN)
        memmove(buf + UDP_HDR_LEN, h->payload, h->payload_len);
    uint16_t n = (uint16_t)(UDP_HDR_LEN + h->payload_len);
    be16_put(buf, h->sport);
    be16_put(buf + 2, h->dport);
    be16_put(buf + 4, n);
    buf[6] = 0;
    buf[7] = 0;
    uint16_t sum = csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_UDP, n), buf, n));
    /* RFC 768: a computed zero is sent as all ones, since zero means "no checksum". */
    be16_put(buf + 6, sum == 0 ? 0xffff : sum);
    return n;
}
