/* IPv4 (RFC 791) as a host (RFC 1122 3.2, 3.3): input validation and address filtering,
 * handing fragments to reassembly (ip_reass.c), routing (on-link or via the one gateway) and the
 * transmit path with fragmentation. We never forward (RFC 1122 3.3.1). A datagram for us goes
 * back to the caller, the conductor, which picks the protocol. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* RFC 1122 3.2.1.7: a host sends with a TTL of at least 64 (the value Linux uses). */
#define IP_DEFAULT_TTL 64

/* The loopback queue's bounds. TCP's windows keep a conversation with ourselves far below them;
 * they stop a program that floods itself with UDP from taking all memory. */
#define LOOP_MAX_DGRAMS 4096
#define LOOP_MAX_BYTES  (8u << 20)

/* RFC 1122 3.2.1.3: sources that no host may have. */
static bool bad_source(const struct ts_stack *s, uint32_t src, uint32_t dst)
{
    if (src == 0)
        /* 0.0.0.0 is "this host" while a host learns its address (BOOTP/DHCP): only ever
         * towards a broadcast. */
        return !ts_ip_is_broadcast(s, dst);
    if (ts_ip_is_broadcast(s, src) || ipv4_is_multicast(src) || (src >> 28) == 0xf)
        return true;
    if ((src >> 24) == 127 || (src >> 24) == 0)
        return true; /* loopback never appears on a wire; 0/8 is "this network" */
    return src == s->cfg.ip;
}

/* Transport checksum fields: where a partial checksum must point (RFC 9293 3.1, RFC 768). */
#define TCP_CSUM_OFFSET 16
#define UDP_CSUM_OFFSET 6
#define TCP_MIN_HDR     20
#define UDP_HDR_LEN     8

/* The driver's offload claims, checked against the datagram before anyone believes them: a
 * super-segment must be one whole TCP segment (a super-datagram one whole UDP datagram), no
 * fragment, with a piece size, and a partial
 * checksum must start at the transport header and point at its checksum field. A header that
 * lies is dropped and counted. Sets what the transport may rely on. */
static bool offload_ok(struct ts_stack *s, const struct ts_link_rx *f, struct ts_ip_rx *rx)
{
    const struct ipv4_hdr *ip = &rx->ip;
    bool frag = ip->mf || ip->frag_off != 0;
    if (f->gso != TS_GSO_NONE) {
        bool tcp = f->gso == TS_GSO_TCPV4;
        if (ip->proto != (tcp ? IP_PROTO_TCP : IP_PROTO_UDP) || frag || f->gso_size == 0 ||
            ip->payload_len < (tcp ? TCP_MIN_HDR : UDP_HDR_LEN)) {
            ts_count(s, TS_C_IP_DROP_OFFLOAD_GSO);
            return false;
        }
        rx->gso_size = f->gso_size;
    }
    if (f->csum == TS_CSUM_PARTIAL) {
        size_t field = ip->proto == IP_PROTO_TCP   ? TCP_CSUM_OFFSET
                       : ip->proto == IP_PROTO_UDP ? UDP_CSUM_OFFSET
                                                   : 0;
        if (field == 0 || frag || f->csum_start != (int32_t)ip->hdr_len ||
            f->csum_offset != field || ip->payload_len < field + 2) {
            ts_count(s, TS_C_IP_DROP_OFFLOAD_CSUM);
            return false;
        }
    }
    rx->l4_csum_ok = !frag && (f->csum == TS_CSUM_PARTIAL || f->csum == TS_CSUM_VALID);
    return true;
}

bool ts_ipv4_input(struct ts_stack *s, const struct ts_link_rx *f, struct ts_ip_rx *out)
{
    struct ts_ip_rx rx = {.link_broadcast = f->broadcast};
    ts_count(s, TS_C_IP_RX);
    enum ts_counter why = ipv4_parse(f->payload, f->len, &rx.ip);
    if (why != TS_C_OK) {
        /* RFC 1122 3.2.1.2: a bad checksum is discarded silently; so is any malformed header. */
        ts_count(s, why);
        return false;
    }
    if ((f->gso != TS_GSO_NONE || f->csum != TS_CSUM_NONE) && !offload_ok(s, f, &rx))
        return false;
    if (bad_source(s, rx.ip.src, rx.ip.dst)) {
        ts_count(s, TS_C_IP_DROP_BAD_SRC);
        return false;
    }
    /* RFC 1122 3.2.1.3 (g): 127/8 never appears outside a host; ours come by the loopback queue,
     * never from a link. */
    if (ts_ip_is_loopback(rx.ip.dst)) {
        ts_count(s, TS_C_IP_DROP_LOOPBACK_DST);
        return false;
    }
    /* Our address or a broadcast we belong to; anything else would need forwarding. We join no
     * multicast group. */
    if (!ts_ip_is_local(s, rx.ip.dst) && !ts_ip_is_broadcast(s, rx.ip.dst)) {
        ts_count(s, TS_C_IP_DROP_NOT_FOR_US);
        return false;
    }
    /* A source route names the way back for the answers (RFC 1122 4.2.3.8), a way that
     * whoever wrote it chose: the classic address-spoofing tool. Refused, as RFC 7126 4.3 and
     * 4.4 advise and Linux does by default (accept_source_route = 0). */
    if (rx.ip.source_route) {
        ts_count(s, TS_C_IP_DROP_SOURCE_ROUTE);
        return false;
    }
    /* Other options were checked for structure by the parser and are otherwise ignored: RFC
     * 1122 3.2.1.8 only requires that unknown options be skipped. A host does not check the TTL
     * of what it receives (RFC 1122 3.2.1.7). */
    if (rx.ip.mf || rx.ip.frag_off != 0) {
        ts_count(s, TS_C_IP_FRAG_RX);
        return ts_reass_input(s, &rx, out);
    }
    *out = rx;
    return true;
}

uint32_t ts_ip_route(const struct ts_stack *s, uint32_t dst)
{
    if (dst == IPV4_BROADCAST)
        return dst;
    if (ts_ip_is_local(s, dst))
        return dst; /* ourselves: ts_ip_send queues it for the loopback path */
    if (dst == 0 || ipv4_is_multicast(dst))
        return 0; /* no multicast routing */
    if ((dst & s->netmask) == (s->cfg.ip & s->netmask))
        return dst;
    return s->cfg.gateway; /* 0 when there is no default route */
}

uint32_t ts_ip_source(const struct ts_stack *s, uint32_t dst)
{
    return ts_ip_is_loopback(dst) ? 0x7f000001u : s->cfg.ip;
}

uint16_t ts_ip_mtu(const struct ts_stack *s, uint32_t dst)
{
    (void)dst;
    return s->cfg.mtu;
}

uint8_t *ts_ip_tx_buf(struct ts_stack *s, size_t *cap)
{
    if (cap)
        *cap = IPV4_MAX_LEN - IPV4_HDR_LEN;
    return s->tx + TS_TX_HEADROOM;
}

unsigned ts_ip_offloads(const struct ts_stack *s, uint32_t dst)
{
    /* One link: every destination goes out through the same driver, but ourselves: the loopback
     * queue takes whole datagrams with their checksums (nothing would complete them). */
    return ts_ip_is_local(s, dst) ? 0 : s->offloads;
}

/* A datagram to ourselves: copied whole (a loopback has no MTU to fragment for) onto the queue
 * the conductor drains in ts_stack_poll, which feeds it back in as received. Queued, not handed
 * up from here: IPv4 never calls a layer above it. */
static int loopback_queue(struct ts_stack *s, const struct ipv4_hdr *h)
{
    size_t len = IPV4_HDR_LEN + h->payload_len;
    if (s->loop_count >= LOOP_MAX_DGRAMS || s->loop_bytes + len > LOOP_MAX_BYTES) {
        ts_count(s, TS_C_IP_DROP_LOOPBACK_FULL);
        return -ENOBUFS;
    }
    struct ts_loop_dgram *d = malloc(sizeof *d + len);
    if (!d) {
        ts_count(s, TS_C_IP_DROP_LOOPBACK_FULL);
        return -ENOBUFS;
    }
    ipv4_emit(h, d->data, IPV4_HDR_LEN);
    memcpy(d->data + IPV4_HDR_LEN, h->payload, h->payload_len);
    d->len = len;
    d->next = NULL;
    if (s->loop_tail)
        s->loop_tail->next = d;
    else
        s->loop_head = d;
    s->loop_tail = d;
    s->loop_count++;
    s->loop_bytes += len;
    ts_count(s, TS_C_IP_LOOPBACK);
    return 0;
}

struct ts_loop_dgram *ts_ip_loopback_pop(struct ts_stack *s)
{
    struct ts_loop_dgram *d = s->loop_head;
    if (!d)
        return NULL;
    s->loop_head = d->next;
    if (!s->loop_head)
        s->loop_tail = NULL;
    s->loop_count--;
    s->loop_bytes -= d->len;
    return d;
}

void ts_ip_loopback_flush(struct ts_stack *s)
{
    struct ts_loop_dgram *d;
    while ((d = ts_ip_loopback_pop(s)))
        free(d);
}

bool ts_ip_gso_ok(const struct ts_stack *s, uint32_t dst)
{
    const unsigned need = TS_OFFLOAD_TSO4 | TS_OFFLOAD_CSUM;
    return (ts_ip_offloads(s, dst) & need) == need;
}

/* One datagram (or fragment) whose IPv4 header goes at frame + 14: emit it and pass it on. */
static int output(struct ts_stack *s, uint32_t nexthop, uint8_t *frame, const struct ipv4_hdr *h,
                  const struct ts_frame_meta *meta)
{
    size_t hl = ipv4_emit(h, frame + ETH_HDR_LEN, IPV4_HDR_LEN + IPV4_MAX_OPT_LEN);
    return ts_arp_output(s, nexthop, frame, ETH_HDR_LEN + hl + h->payload_len, meta);
}

/* The driver metadata of a datagram sent with offloads o (len: transport bytes). */
static struct ts_frame_meta offload_meta(const struct ts_ip_offload *o, size_t len)
{
    struct ts_frame_meta m = {0};
    if (o->csum_partial || o->gso_size) {
        m.csum = TS_CSUM_PARTIAL;
        m.csum_start = ETH_HDR_LEN + IPV4_HDR_LEN;
        m.csum_offset = o->csum_offset;
    }
    /* A super-segment of one piece or less is an ordinary segment. */
    if (o->gso_size && len > (size_t)o->l4_hdr_len + o->gso_size) {
        m.gso = TS_GSO_TCPV4;
        m.gso_size = o->gso_size;
        m.hdr_len = (uint16_t)(ETH_HDR_LEN + IPV4_HDR_LEN + o->l4_hdr_len);
    }
    return m;
}

static int ip_send(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len,
                   bool df, uint8_t tos, const struct ts_ip_offload *o)
{
    if (len > IPV4_MAX_LEN - IPV4_HDR_LEN)
        return -EMSGSIZE;
    uint32_t nexthop = ts_ip_route(s, dst);
    if (nexthop == 0) {
        ts_count(s, TS_C_IP_DROP_NO_ROUTE);
        return -ENETUNREACH;
    }
    bool local = ts_ip_is_local(s, dst);
    size_t mtu = ts_ip_mtu(s, dst);
    struct ts_frame_meta meta = o ? offload_meta(o, len) : (struct ts_frame_meta){0};
    if (meta.gso != TS_GSO_NONE)
        mtu = IPV4_MAX_LEN; /* the link cuts it into pieces that fit (DF is set on each) */
    if (IPV4_HDR_LEN + len > mtu && df && !local) {
        /* RFC 791: DF forbids fragmenting; the sender (TCP, RFC 1191) must send less. */
        ts_count(s, TS_C_IP_DROP_DF_TOO_BIG);
        return -EMSGSIZE;
    }
    struct ipv4_hdr h = {
        .hdr_len = IPV4_HDR_LEN,
        .tos = tos,
        .id = s->ip_id++,
        .df = df,
        .ttl = IP_DEFAULT_TTL,
        .proto = proto,
        .src = src ? src : ts_ip_source(s, dst),
        .dst = dst,
    };
    ts_count(s, TS_C_IP_TX);
    if (local) {
        h.payload = s->tx + TS_TX_HEADROOM;
        h.payload_len = len;
        return loopback_queue(s, &h);
    }
    if (IPV4_HDR_LEN + len <= mtu) {
        h.payload = s->tx + TS_TX_HEADROOM;
        h.payload_len = len;
        return output(s, nexthop, s->tx, &h, o ? &meta : NULL);
    }
    /* RFC 791 "Fragmentation": every fragment but the last carries a multiple of 8 bytes. Each
     * fragment's headers are written just in front of its data, over the tail of the previous
     * fragment, which has already been handed on (the driver or the ARP queue copies it). */
    size_t chunk = (mtu - IPV4_HDR_LEN) & ~(size_t)7;
    int ret = 0;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        uint8_t *frame = s->tx + off;
        h.frag_off = (uint16_t)off;
        h.mf = off + n < len;
        h.payload = frame + TS_TX_HEADROOM;
        h.payload_len = n;
        ts_count(s, TS_C_IP_FRAG_TX);
        int rc = output(s, nexthop, frame, &h, NULL);
        if (rc < 0 && ret == 0)
            ret = rc;
    }
    return ret;
}

int ts_ip_send_opts(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t optlen,
                    size_t len, uint8_t tos)
{
    uint32_t nexthop = ts_ip_route(s, dst);
    if (optlen == 0 || optlen > IPV4_MAX_OPT_LEN || optlen % 4 || nexthop == 0 ||
        ts_ip_is_local(s, dst) || IPV4_HDR_LEN + optlen + len > ts_ip_mtu(s, dst))
        return -EMSGSIZE; /* the caller sends without the options */
    struct ipv4_hdr h = {
        .hdr_len = (uint8_t)(IPV4_HDR_LEN + optlen),
        .tos = tos,
        .id = s->ip_id++,
        .ttl = IP_DEFAULT_TTL,
        .proto = proto,
        .src = src ? src : ts_ip_source(s, dst),
        .dst = dst,
        .options = s->tx + TS_TX_HEADROOM, /* in place: right after the fixed header */
        .payload = s->tx + TS_TX_HEADROOM + optlen,
        .payload_len = len,
    };
    ts_count(s, TS_C_IP_TX);
    return output(s, nexthop, s->tx, &h, NULL);
}

int ts_ip_send(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len, bool df,
               uint8_t tos)
{
    return ip_send(s, src, dst, proto, len, df, tos, NULL);
}

int ts_ip_send_offload(struct ts_stack *s, uint32_t src, uint32_t dst, uint8_t proto, size_t len,
                       uint8_t tos, const struct ts_ip_offload *o)
{
    unsigned need = (o->gso_size ? TS_OFFLOAD_TSO4 | TS_OFFLOAD_CSUM : 0) |
                    (o->csum_partial ? TS_OFFLOAD_CSUM : 0);
    if ((s->offloads & need) != need)
        return -EOPNOTSUPP;
    return ip_send(s, src, dst, proto, len, true, tos, o);
}
