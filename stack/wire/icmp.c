/* ICMP for IPv4 (RFC 792): parse/emit only. */
#include "wire/icmp.h"

#include <stdbool.h>
#include <string.h>

#include "wire/be.h"
#include "wire/checksum.h"

static bool icmp_is_echo(uint8_t type)
{
    return type == ICMP_ECHO_REQUEST || type == ICMP_ECHO_REPLY;
}

enum ts_counter icmp_parse(const uint8_t *buf, size_t len, struct icmp_hdr *out)
{
    if (buf == NULL || len < ICMP_HDR_LEN)
        return TS_C_ICMP_DROP_TRUNCATED;
    /* RFC 792: the checksum covers the whole ICMP message, header and data. */
    if (csum(buf, len) != 0)
        return TS_C_ICMP_DROP_BAD_CSUM;
    out->type = buf[0];
    out->code = buf[1];
    /* The 4 bytes after the checksum mean different things per type; decode every reading and
     * let the protocol pick the one its type uses. */
    out->id = be16_get(buf + 4);
    out->seq = be16_get(buf + 6);
    out->mtu = be16_get(buf + 6); /* RFC 1191 4: next-hop MTU in the low-order 16 bits */
    out->rest = be32_get(buf + 4);
    out->payload = buf + ICMP_HDR_LEN;
    out->payload_len = len - ICMP_HDR_LEN;
    return TS_C_OK;
}

size_t icmp_emit(const struct icmp_hdr *h, uint8_t *buf, size_t cap)
{
    if (buf == NULL || cap < ICMP_HDR_LEN || h->payload_len > cap - ICMP_HDR_LEN)
        return 0;
    /* Move the payload before writing the header: it may overlap the header bytes. */
    if (h->payload_len && h->payload != buf + ICMP_HDR_LEN)
        memmove(buf + ICMP_HDR_LEN, h->payload, h->payload_len);
    buf[0] = h->type;
    buf[1] = h->code;
    buf[2] = 0;
    buf[3] = 0;
    if (icmp_is_echo(h->type)) {
        be16_put(buf + 4, h->id);
        be16_put(buf + 6, h->seq);
    } else {
        be32_put(buf + 4, h->rest);
    }
    size_t n = ICMP_HDR_LEN + h->payload_len;
    be16_put(buf + 2, csum(buf, n));
    return n;
}
