/* Software segmentation: what the kernel does with a GSO frame, done in user space for the
 * drivers that must see wire frames (the fault injector: a fault hits one wire frame, not 44 at
 * once) and for tests that check what a super-segment stands for.
 *
 * A TCP/IPv4 super-segment (TS_GSO_TCPV4) is cut into pieces of gso_size data bytes, each with
 * the super-segment's headers and these fields of its own (as Linux's tcp_gso_segment and
 * inet_gso_segment): IPv4 total length, id (the first piece's plus its index) and header
 * checksum; TCP sequence number, PSH and FIN on the last piece only, CWR on the first only, and a
 * full TCP checksum. A UDP/IPv4 super-datagram (TS_GSO_UDPV4, Linux's UDP_SEGMENT) is cut into
 * datagrams of gso_size data bytes, each with its IPv4 fields as above and its UDP length and
 * checksum. A TS_CSUM_PARTIAL frame gets its checksum completed (RFC 1071 sum from csum_start to
 * the end, folded into the field at csum_start + csum_offset). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/driver.h"
#include "wire/be.h"
#include "wire/checksum.h"

#define ETH_LEN    14
#define ETH_T_IPV4 0x0800
#define PROTO_TCP  6
#define PROTO_UDP  17
#define TCP_FIN    0x01
#define TCP_PSH    0x08
#define TCP_CWR    0x80

int ts_frame_csum_complete(uint8_t *buf, size_t len, const struct ts_frame_meta *m)
{
    size_t start = m->csum_start, field = (size_t)m->csum_start + m->csum_offset;
    if (start >= len || field + 2 > len)
        return -EINVAL;
    uint16_t sum = csum_fold(csum_add(0, buf + start, len - start));
    /* RFC 768: a UDP checksum that comes out zero is sent as all ones (zero means "none"). */
    if (sum == 0 && len > ETH_LEN + 9 && buf[ETH_LEN + 9] == PROTO_UDP)
        sum = 0xffff;
    be16_put(buf + field, sum);
    return 0;
}

/* Where the headers of an IPv4 frame carrying proto (TCP or UDP) end; 0 when it is not one, or
 * they do not fit. */
static size_t l4_headers(const uint8_t *f, size_t len, uint8_t proto, size_t *ihl_out)
{
    if (len < ETH_LEN + 20 || be16_get(f + 12) != ETH_T_IPV4 || (f[ETH_LEN] >> 4) != 4)
        return 0;
    size_t ihl = (size_t)(f[ETH_LEN] & 0x0f) * 4;
    if (ihl < 20 || f[ETH_LEN + 9] != proto || len < ETH_LEN + ihl + 20)
        return 0;
    size_t l4 = proto == PROTO_UDP ? 8 : (size_t)(f[ETH_LEN + ihl + 12] >> 4) * 4;
    if (l4 < 8 || len < ETH_LEN + ihl + l4)
        return 0;
    *ihl_out = ihl;
    return ETH_LEN + ihl + l4;
}

/* A UDP piece's length and checksum (its IPv4 fields are done). */
static void fill_udp(uint8_t *ip, size_t ihl, size_t dlen)
{
    uint8_t *udp = ip + ihl;
    uint16_t ulen = (uint16_t)(8 + dlen);
    be16_put(udp + 4, ulen);
    be16_put(udp + 6, 0);
    uint32_t ps = csum_pseudo(be32_get(ip + 12), be32_get(ip + 16), PROTO_UDP, ulen);
    uint16_t sum = csum_fold(csum_add(ps, udp, ulen));
    be16_put(udp + 6, sum ? sum : 0xffff); /* RFC 768: zero means "none" */
}

/* Piece i of n: its data (n bytes from the super-segment's data at off) behind the headers. */
static void fill_piece(uint8_t *p, size_t hdr, size_t ihl, size_t dlen, uint32_t off, unsigned i,
                       bool last)
{
    uint8_t *ip = p + ETH_LEN, *tcp = ip + ihl;
    be16_put(ip + 2, (uint16_t)(hdr - ETH_LEN + dlen));
    be16_put(ip + 4, (uint16_t)(be16_get(ip + 4) + i));
    be16_put(ip + 10, 0);
    be16_put(ip + 10, csum(ip, ihl));
    if (ip[9] == PROTO_UDP) {
        fill_udp(ip, ihl, dlen);
        return;
    }
    be32_put(tcp + 4, be32_get(tcp + 4) + off);
    if (!last)
        tcp[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
    if (i > 0)
        tcp[13] &= (uint8_t)~TCP_CWR;
    size_t tlen = hdr - ETH_LEN - ihl + dlen;
    be16_put(tcp + 16, 0);
    uint32_t ps = csum_pseudo(be32_get(ip + 12), be32_get(ip + 16), PROTO_TCP, (uint16_t)tlen);
    be16_put(tcp + 16, csum_fold(csum_add(ps, tcp, tlen)));
}

int ts_frame_segment(const uint8_t *frame, size_t len, const struct ts_frame_meta *m,
                     void (*out)(void *arg, const uint8_t *frame, size_t len), void *arg)
{
    if (!m || (m->gso == TS_GSO_NONE && m->csum != TS_CSUM_PARTIAL)) {
        out(arg, frame, len);
        return 1;
    }
    if (m->gso == TS_GSO_NONE) {
        uint8_t *buf = malloc(len);
        if (!buf)
            return -ENOMEM;
        memcpy(buf, frame, len);
        int rc = ts_frame_csum_complete(buf, len, m);
        if (rc == 0)
            out(arg, buf, len);
        free(buf);
        return rc == 0 ? 1 : rc;
    }
    size_t ihl = 0, hdr = 0;
    if (m->gso == TS_GSO_TCPV4 || m->gso == TS_GSO_UDPV4)
        hdr = l4_headers(frame, len, m->gso == TS_GSO_TCPV4 ? PROTO_TCP : PROTO_UDP, &ihl);
    if (hdr == 0 || m->gso_size == 0 || len <= hdr)
        return -EINVAL;
    size_t data = len - hdr, seg = m->gso_size;
    uint8_t *p = malloc(hdr + (seg < data ? seg : data));
    if (!p)
        return -ENOMEM;
    unsigned i = 0;
    for (size_t off = 0; off < data; off += seg, i++) {
        size_t n = data - off < seg ? data - off : seg;
        memcpy(p, frame, hdr);
        memcpy(p + hdr, frame + hdr + off, n);
        fill_piece(p, hdr, ihl, n, (uint32_t)off, i, off + n == data);
        out(arg, p, hdr + n);
    }
    free(p);
    return (int)i;
}
