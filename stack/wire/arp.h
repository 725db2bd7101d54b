/* ARP for IPv4 over Ethernet (RFC 826): parse/emit only. */
#ifndef TS_WIRE_ARP_H
#define TS_WIRE_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"

#define ARP_PKT_LEN    28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

struct arp_pkt {
    uint16_t op;
    uint8_t sha[6]; /* sender hardware address */
    uint32_t spa;   /* sender protocol address, host order */
    uint8_t tha[6];
    uint32_t tpa;
};

/* Accepts only htype 1 / ptype 0x0800 / hlen 6 / plen 4 and op 1 or 2.
 * Returns TS_C_OK, ARP_DROP_TRUNCATED, ARP_DROP_BAD_FORMAT or ARP_DROP_BAD_OP. */
enum ts_counter arp_parse(const uint8_t *buf, size_t len, struct arp_pkt *out);
/* Writes 28 bytes; returns 28, or 0 if cap is too small. */
size_t arp_emit(const struct arp_pkt *p, uint8_t *buf, size_t cap);

#endif
