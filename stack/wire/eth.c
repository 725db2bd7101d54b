/* Ethernet II header (IEEE 802.3 / RFC 894 framing): parse/emit only. */
#include "wire/eth.h"

#include <string.h>

#include "wire/be.h"

enum ts_counter eth_parse(const uint8_t *buf, size_t len, struct eth_hdr *out)
{
    if (buf == NULL || len < ETH_HDR_LEN)
        return TS_C_ETH_DROP_TRUNCATED;
    memcpy(out->dst, buf, ETH_ADDR_LEN);
    memcpy(out->src, buf + 6, ETH_ADDR_LEN);
    out->type = be16_get(buf + 12);
    out->payload = buf + ETH_HDR_LEN;
    out->payload_len = len - ETH_HDR_LEN;
    return TS_C_OK;
}

size_t eth_emit(const struct eth_hdr *h, uint8_t *buf, size_t cap)
{
    if (buf == NULL || cap < ETH_HDR_LEN)
        return 0;
    /* memmove: a caller may hand us addresses that already live in buf (a reply in place). */
    memmove(buf, h->dst, ETH_ADDR_LEN);
    memmove(buf + 6, h->src, ETH_ADDR_LEN);
    be16_put(buf + 12, h->type);
    return ETH_HDR_LEN;
}
