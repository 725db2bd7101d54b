/* Ethernet II header: parse/emit only, no state. */
#ifndef TS_WIRE_ETH_H
#define TS_WIRE_ETH_H

#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define ETH_HDR_LEN   14
#define ETH_ADDR_LEN  6
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806

struct eth_hdr {
    uint8_t dst[ETH_ADDR_LEN];
    uint8_t src[ETH_ADDR_LEN];
    uint16_t type;
    const uint8_t *payload; /* points into the parsed buffer */
    size_t payload_len;
};

/* Returns TS_C_OK or the drop reason (ETH_DROP_TRUNCATED). Never reads past len. */
enum ts_counter eth_parse(const uint8_t *buf, size_t len, struct eth_hdr *out);
/* Writes the 14-byte header into buf; returns 14, or 0 if cap is too small. */
size_t eth_emit(const struct eth_hdr *h, uint8_t *buf, size_t cap);

static inline int eth_is_broadcast(const uint8_t a[6])
{
    return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}
static inline int eth_is_multicast(const uint8_t a[6])
{
    return a[0] & 1;
}

#endif
