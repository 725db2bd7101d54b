/* The Ethernet layer (IEEE 802.3, RFC 894 for IPv4 over Ethernet): the MAC filter for frames
 * coming in, and the header for frames going out through the driver, the only place where the
 * core hands anything to the outside. Frames carry the driver's offload metadata both ways
 * (include/tapstack/driver.h): here a GSO type we do not take is refused, and a super-segment is
 * let past the MTU check for IPv4 to verify. */
#include <errno.h>
#include <string.h>

#include "internal.h"

bool ts_link_input(struct ts_stack *s, const uint8_t *frame, size_t len,
                   const struct ts_frame_meta *meta, struct ts_link_rx *out)
{
    static const struct ts_frame_meta plain;
    if (!meta)
        meta = &plain;
    ts_count(s, TS_C_ETH_RX);
    struct eth_hdr eth;
    enum ts_counter why = eth_parse(frame, len, &eth);
    if (why != TS_C_OK) {
        ts_count(s, why);
        return false;
    }
    if (meta->gso != TS_GSO_NONE && meta->gso != TS_GSO_TCPV4 && meta->gso != TS_GSO_UDPV4) {
        ts_count(s, TS_C_ETH_DROP_OFFLOAD_TYPE);
        return false;
    }
    /* Only a super-segment (or super-datagram) the driver vouches for may exceed the MTU (IPv4
     * checks that it is one); anything else that long is a frame no wire of ours could carry. */
    if (eth.payload_len > s->cfg.mtu && meta->gso == TS_GSO_NONE) {
        ts_count(s, TS_C_ETH_DROP_OVERSIZE);
        return false;
    }
    /* We listen to our own address and broadcast only; we join no multicast group. */
    if (memcmp(eth.dst, s->cfg.mac, 6) != 0 && !eth_is_broadcast(eth.dst)) {
        ts_count(s, TS_C_ETH_DROP_NOT_FOR_US);
        return false;
    }
    /* A group address is never a valid source (IEEE 802.3), and our own address coming back
     * means a loop or an impostor. */
    if (eth_is_multicast(eth.src) || memcmp(eth.src, s->cfg.mac, 6) == 0) {
        ts_count(s, TS_C_ETH_DROP_BAD_SRC);
        return false;
    }
    *out = (struct ts_link_rx){
        .type = eth.type,
        .broadcast = eth_is_broadcast(eth.dst),
        .payload = eth.payload,
        .len = eth.payload_len,
        .gso = meta->gso,
        .csum = meta->csum,
        .gso_size = meta->gso_size,
        .csum_start = (int32_t)meta->csum_start - ETH_HDR_LEN,
        .csum_offset = meta->csum_offset,
    };
    if (meta->gso != TS_GSO_NONE)
        ts_count(s, TS_C_ETH_RX_GSO);
    return true;
}

int ts_link_send(struct ts_stack *s, const uint8_t dst_mac[6], uint16_t type, uint8_t *frame,
                 size_t len, const struct ts_frame_meta *meta)
{
    struct eth_hdr eth = {.type = type};
    memcpy(eth.dst, dst_mac, 6);
    memcpy(eth.src, s->cfg.mac, 6);
    if (eth_emit(&eth, frame, len) != ETH_HDR_LEN) {
        ts_count(s, TS_C_ETH_TX_ERROR);
        return -EINVAL;
    }
    int rc = ts_driver_send_meta(s->drv, frame, len, meta, s->now);
    if (rc < 0) {
        ts_count(s, TS_C_ETH_TX_ERROR);
        return rc;
    }
    ts_count(s, TS_C_ETH_TX);
    if (meta && meta->gso != TS_GSO_NONE)
        ts_count(s, TS_C_ETH_TX_GSO);
    return 0;
}
