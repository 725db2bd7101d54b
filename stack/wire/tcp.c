/* TCP header and options (RFC 9293 3.1, RFC 7323, RFC 2018): parse/emit only. */
#include "wire/tcp.h"

#include <string.h>

#include "wire/be.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

#define TCP_OPTLEN_MSS       4
#define TCP_OPTLEN_WS        3
#define TCP_OPTLEN_SACK_PERM 2
#define TCP_OPTLEN_TS        10
#define TCP_SACK_BLOCK_LEN   8

/* RFC 9293 3.1 "Options": EOL ends the list, NOP is one byte, every other option is kind,
 * length (counting both), data. A known option with a length other than its own is malformed;
 * unknown kinds are skipped by their length (RFC 9293 3.2, RFC 1122 4.2.2.5). */
static bool tcp_opts_parse(const uint8_t *o, size_t len, struct tcp_opts *out)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = o[i];
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (len - i < 2)
            return false;
        uint8_t olen = o[i + 1];
        if (olen < 2 || olen > len - i)
            return false;
        const uint8_t *d = o + i + 2;
        switch (kind) {
        case TCP_OPT_MSS:
            if (olen != TCP_OPTLEN_MSS)
                return false;
            out->mss_ok = true;
            out->mss = be16_get(d);
            break;
        case TCP_OPT_WSCALE:
            if (olen != TCP_OPTLEN_WS)
                return false;
            out->ws_ok = true;
            out->ws = d[0];
            break;
        case TCP_OPT_SACK_PERM:
            if (olen != TCP_OPTLEN_SACK_PERM)
                return false;
            out->sack_perm = true;
            break;
        case TCP_OPT_TS:
            if (olen != TCP_OPTLEN_TS)
                return false;
            out->ts_ok = true;
            out->tsval = be32_get(d);
            out->tsecr = be32_get(d + 4);
            break;
        case TCP_OPT_SACK: {
            /* RFC 2018 3: 2 + 8n bytes; 40 bytes of option space leave room for at most 4. */
            size_t n = (size_t)(olen - 2) / TCP_SACK_BLOCK_LEN;
            if ((olen - 2) % TCP_SACK_BLOCK_LEN != 0 || n < 1 || n > TCP_MAX_SACK)
                return false;
            out->nsack = (uint8_t)n;
            for (size_t b = 0; b < n; b++) {
                out->sack[b].left = be32_get(d + b * TCP_SACK_BLOCK_LEN);
                out->sack[b].right = be32_get(d + b * TCP_SACK_BLOCK_LEN + 4);
            }
            break;
        }
        default:
            break;
        }
        i += olen;
    }
    return true;
}

enum ts_counter tcp_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                          struct tcp_hdr *out)
{
    return tcp_parse_ex(buf, len, src, dst, true, out);
}

enum ts_counter tcp_parse_ex(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst,
                             bool verify_csum, struct tcp_hdr *out)
{
    if (buf == NULL || len < TCP_HDR_LEN)
        return TS_C_TCP_DROP_TRUNCATED;
    size_t hlen = (size_t)(buf[TCP_OFF_DOFF] >> 4) * 4;
    if (hlen < TCP_HDR_LEN || hlen > len)
        return TS_C_TCP_DROP_BAD_HDRLEN;
    /* The pseudo-header length is the TCP length (header + data) as the IP layer saw it. */
    if (len > 0xffff ||
        (verify_csum &&
         csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)len), buf, len)) != 0))
        return TS_C_TCP_DROP_BAD_CSUM;
    memset(&out->opts, 0, sizeof(out->opts));
    if (!tcp_opts_parse(buf + TCP_HDR_LEN, hlen - TCP_HDR_LEN, &out->opts))
        return TS_C_TCP_DROP_BAD_OPTIONS;
    out->sport = be16_get(buf + TCP_OFF_SPORT);
    out->dport = be16_get(buf + TCP_OFF_DPORT);
    out->seq = be32_get(buf + TCP_OFF_SEQ);
    out->ack = be32_get(buf + TCP_OFF_ACK);
    out->hdr_len = (uint8_t)hlen;
    out->flags = buf[TCP_OFF_FLAGS];
    out->wnd = be16_get(buf + TCP_OFF_WND);
    out->urp = be16_get(buf + TCP_OFF_URP);
    out->payload = buf + hlen;
    out->payload_len = len - hlen;
    return TS_C_OK;
}

bool tcp_parse_quoted(const uint8_t *buf, size_t len, struct tcp_hdr *out)
{
    if (buf == NULL || len < TCP_QUOTE_LEN)
        return false;
    memset(out, 0, sizeof *out);
    out->sport = be16_get(buf + TCP_OFF_SPORT);
    out->dport = be16_get(buf + TCP_OFF_DPORT);
    out->seq = be32_get(buf + TCP_OFF_SEQ);
    return true;
}

/* Option layout, shared by tcp_opts_len and tcp_emit so the two can never disagree. As Linux
 * lays them out (32-bit aligned, NOP padded):
 *   MSS              02 04 mm mm
 *   SACK-perm + TS   04 02 08 0a <tsval> <tsecr>     (TS alone: 01 01 08 0a ...)
 *   SACK-perm alone  01 01 04 02
 *   window scale     01 03 03 ws
 *   SACK blocks      01 01 05 len <left right>...    (as many as fit in 40 bytes)
 * Returns the length; writes into p when p is not NULL. */
static size_t tcp_opts_layout(const struct tcp_opts *o, uint8_t *p)
{
    size_t n = 0;
    if (o->mss_ok) {
        if (p) {
            p[0] = TCP_OPT_MSS;
            p[1] = TCP_OPTLEN_MSS;
            be16_put(p + 2, o->mss);
        }
        n += 4;
    }
    if (o->ts_ok) {
        if (p) {
            uint8_t *q = p + n;
            q[0] = o->sack_perm ? TCP_OPT_SACK_PERM : TCP_OPT_NOP;
            q[1] = o->sack_perm ? TCP_OPTLEN_SACK_PERM : TCP_OPT_NOP;
            q[2] = TCP_OPT_TS;
            q[3] = TCP_OPTLEN_TS;
            be32_put(q + 4, o->tsval);
            be32_put(q + 8, o->tsecr);
        }
        n += TCP_OPT_TS_SPACE;
    } else if (o->sack_perm) {
        if (p) {
            uint8_t *q = p + n;
            q[0] = TCP_OPT_NOP;
            q[1] = TCP_OPT_NOP;
            q[2] = TCP_OPT_SACK_PERM;
            q[3] = TCP_OPTLEN_SACK_PERM;
        }
        n += 4;
    }
    if (o->ws_ok) {
        if (p) {
            uint8_t *q = p + n;
            q[0] = TCP_OPT_NOP;
            q[1] = TCP_OPT_WSCALE;
            q[2] = TCP_OPTLEN_WS;
            q[3] = o->ws;
        }
        n += 4;
    }
    if (o->nsack > 0 && n + 4 + TCP_SACK_BLOCK_LEN <= TCP_MAX_OPT_LEN) {
        /* RFC 2018 3: the first block is the most recent one, so dropping from the end keeps
         * what matters most. */
        size_t fit = (TCP_MAX_OPT_LEN - n - 4) / TCP_SACK_BLOCK_LEN;
        size_t nb = o->nsack < fit ? o->nsack : fit;
        if (nb > TCP_MAX_SACK)
            nb = TCP_MAX_SACK;
        if (p) {
            uint8_t *q = p + n;
            q[0] = TCP_OPT_NOP;
            q[1] = TCP_OPT_NOP;
            q[2] = TCP_OPT_SACK;
            q[3] = (uint8_t)(2 + nb * TCP_SACK_BLOCK_LEN);
            for (size_t b = 0; b < nb; b++) {
                be32_put(q + 4 + b * TCP_SACK_BLOCK_LEN, o->sack[b].left);
                be32_put(q + 8 + b * TCP_SACK_BLOCK_LEN, o->sack[b].right);
            }
        }
        n += 4 + nb * TCP_SACK_BLOCK_LEN;
    }
    return n;
}

size_t tcp_opts_len(const struct tcp_opts *o)
{
    return tcp_opts_layout(o, NULL);
}

size_t tcp_emit(const struct tcp_hdr *h, uint32_t src, uint32_t dst, uint8_t *buf, size_t cap)
{
    return tcp_emit_ex(h, src, dst, false, buf, cap);
}

size_t tcp_emit_ex(const struct tcp_hdr *h, uint32_t src, uint32_t dst, bool csum_partial,
                   uint8_t *buf, size_t cap)
{
    size_t hlen = TCP_HDR_LEN + tcp_opts_len(&h->opts);
    if (buf == NULL || cap < hlen || h->payload_len > cap - hlen || h->payload_len > 0xffff - hlen)
        return 0;
    /* Move the payload first: it may sit where the header and options are about to go. */
    if (h->payload_len && h->payload != buf + hlen)
        memmove(buf + hlen, h->payload, h->payload_len);
    size_t n = hlen + h->payload_len;
    be16_put(buf + TCP_OFF_SPORT, h->sport);
    be16_put(buf + TCP_OFF_DPORT, h->dport);
    be32_put(buf + TCP_OFF_SEQ, h->seq);
    be32_put(buf + TCP_OFF_ACK, h->ack);
    buf[TCP_OFF_DOFF] = (uint8_t)((hlen / 4) << 4);
    buf[TCP_OFF_FLAGS] = h->flags;
    be16_put(buf + TCP_OFF_WND, h->wnd);
    be16_put(buf + TCP_OFF_CSUM, 0);
    be16_put(buf + TCP_OFF_URP, h->urp);
    tcp_opts_layout(&h->opts, buf + TCP_HDR_LEN);
    uint32_t pseudo = csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)n);
    /* Partial: the pseudo-header sum alone, folded and not complemented, for the link to add the
     * rest (the virtio-net convention, which the kernel follows for each GSO piece too). */
    be16_put(buf + TCP_OFF_CSUM,
             csum_partial ? (uint16_t)~csum_fold(pseudo) : csum_fold(csum_add(pseudo, buf, n)));
    return n;
}
