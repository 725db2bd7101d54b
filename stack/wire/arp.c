/* ARP for IPv4 over Ethernet (RFC 826): parse/emit only. */
#include "wire/arp.h"

#include <string.h>

#include "wire/be.h"

#define ARP_HTYPE_ETHER 1
#define ARP_PTYPE_IPV4  0x0800

enum ts_counter arp_parse(const uint8_t *buf, size_t len, struct arp_pkt *out)
{
    if (buf == NULL || len < ARP_PKT_LEN)
        return TS_C_ARP_DROP_TRUNCATED;
    /* RFC 826 "Packet Reception": we only speak Ethernet hardware and IPv4 protocol addresses,
     * and the address lengths must match what those types imply. */
    if (be16_get(buf) != ARP_HTYPE_ETHER || be16_get(buf + 2) != ARP_PTYPE_IPV4 || buf[4] != 6 ||
        buf[5] != 4)
        return TS_C_ARP_DROP_BAD_FORMAT;
    uint16_t op = be16_get(buf + 6);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
        return TS_C_ARP_DROP_BAD_OP;
    out->op = op;
    memcpy(out->sha, buf + 8, 6);
    out->spa = be32_get(buf + 14);
    memcpy(out->tha, buf + 18, 6);
    out->tpa = be32_get(buf + 24);
    return TS_C_OK;
}

size_t arp_emit(const struct arp_pkt *p, uint8_t *buf, size_t cap)
{
    if (buf == NULL || cap < ARP_PKT_LEN)
        return 0;
    be16_put(buf, ARP_HTYPE_ETHER);
    be16_put(buf + 2, ARP_PTYPE_IPV4);
    buf[4] = 6;
    buf[5] = 4;
    be16_put(buf + 6, p->op);
    memcpy(buf + 8, p->sha, 6);
    be32_put(buf + 14, p->spa);
    memcpy(buf + 18, p->tha, 6);
    be32_put(buf + 24, p->tpa);
    return ARP_PKT_LEN;
}
