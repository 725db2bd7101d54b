/* Fuzz target: every wire-format parser, on every prefix of the input.
 *
 * For each parser and each length l (all of 0..size for inputs up to 160 bytes, a sample of them
 * for longer ones) the first l bytes are placed at the very end of a heap block, so a read past
 * l is a sanitizer error. Whatever a parser accepts must satisfy its invariants (payload inside
 * the buffer, lengths consistent with the header fields, checksum really correct), and must
 * survive an emit/parse round trip with the same fields.
 *
 * The input is also taken as an Ethernet frame and followed down (Ethernet -> ARP | IPv4 ->
 * ICMP | UDP | TCP), once as it is and once with each checksum recomputed, so option parsing and
 * the other code behind checksum verification is reached by mutated inputs too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wire: invariant broken at %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define IP_A               0x0a000001u
#define IP_B               0x0a000002u
#define ALL_PREFIXES_UP_TO 160

/* Emit buffer for the round trips: the largest segment plus options. */
static uint8_t out[65536 + 64];

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint8_t *dup_exact(const uint8_t *b, size_t l)
{
    uint8_t *p = malloc(l ? l : 1);
    CHECK(p != NULL);
    if (l)
        memcpy(p, b, l);
    return p;
}

/* ---- one parser, with its invariants and round trip ---- */

static void check_eth(const uint8_t *b, size_t l)
{
    struct eth_hdr h;
    enum ts_counter r = eth_parse(b, l, &h);
    CHECK((r == TS_C_OK) == (l >= ETH_HDR_LEN));
    if (r != TS_C_OK) {
        CHECK(r == TS_C_ETH_DROP_TRUNCATED);
        return;
    }
    CHECK(h.payload == b + ETH_HDR_LEN);
    CHECK(h.payload_len == l - ETH_HDR_LEN);
    CHECK(eth_emit(&h, out, sizeof(out)) == ETH_HDR_LEN);
    CHECK(memcmp(out, b, ETH_HDR_LEN) == 0);
}

static void check_arp(const uint8_t *b, size_t l)
{
    struct arp_pkt a;
    enum ts_counter r = arp_parse(b, l, &a);
    if (r != TS_C_OK) {
        CHECK(r == TS_C_ARP_DROP_TRUNCATED || r == TS_C_ARP_DROP_BAD_FORMAT ||
              r == TS_C_ARP_DROP_BAD_OP);
        CHECK(r != TS_C_ARP_DROP_TRUNCATED || l < ARP_PKT_LEN);
        return;
    }
    CHECK(l >= ARP_PKT_LEN);
    CHECK(a.op == ARP_OP_REQUEST || a.op == ARP_OP_REPLY);
    CHECK(arp_emit(&a, out, sizeof(out)) == ARP_PKT_LEN);
    CHECK(memcmp(out, b, ARP_PKT_LEN) == 0);
}

static bool check_ipv4(const uint8_t *b, size_t l, struct ipv4_hdr *hp)
{
    struct ipv4_hdr h;
    enum ts_counter r = ipv4_parse(b, l, &h);
    if (r != TS_C_OK) {
        CHECK(r == TS_C_IP_DROP_TRUNCATED || r == TS_C_IP_DROP_BAD_VERSION ||
              r == TS_C_IP_DROP_BAD_HDRLEN || r == TS_C_IP_DROP_BAD_LEN ||
              r == TS_C_IP_DROP_BAD_CSUM || r == TS_C_IP_DROP_BAD_OPTIONS);
        CHECK(r != TS_C_IP_DROP_TRUNCATED || l < IPV4_HDR_LEN);
        return false;
    }
    CHECK(l >= IPV4_HDR_LEN);
    CHECK(h.hdr_len >= IPV4_HDR_LEN && h.hdr_len <= 60 && h.hdr_len % 4 == 0);
    CHECK(h.total_len >= h.hdr_len && h.total_len <= l);
    CHECK(h.payload == b + h.hdr_len);
    CHECK(h.payload_len == (size_t)h.total_len - h.hdr_len);
    CHECK((h.options == NULL) == (h.hdr_len == IPV4_HDR_LEN));
    CHECK(h.options == NULL || h.options == b + IPV4_HDR_LEN);
    CHECK(h.frag_off % 8 == 0);
    CHECK(csum(b, h.hdr_len) == 0);

    /* round trip: the emitter writes the options too, and everything must come back */
    size_t hl = ipv4_emit(&h, out, sizeof(out));
    CHECK(hl == h.hdr_len);
    memcpy(out + hl, h.payload, h.payload_len);
    struct ipv4_hdr g;
    CHECK(ipv4_parse(out, hl + h.payload_len, &g) == TS_C_OK);
    CHECK(g.hdr_len == h.hdr_len && g.total_len == hl + h.payload_len);
    CHECK(hl == IPV4_HDR_LEN || memcmp(g.options, h.options, hl - IPV4_HDR_LEN) == 0);
    CHECK(g.tos == h.tos && g.id == h.id && g.df == h.df && g.mf == h.mf);
    CHECK(g.frag_off == h.frag_off && g.ttl == h.ttl && g.proto == h.proto);
    CHECK(g.src == h.src && g.dst == h.dst && g.payload_len == h.payload_len);
    if (hp)
        *hp = h;
    return true;
}

static void check_icmp(const uint8_t *b, size_t l)
{
    struct icmp_hdr h;
    enum ts_counter r = icmp_parse(b, l, &h);
    if (r != TS_C_OK) {
        CHECK(r == TS_C_ICMP_DROP_TRUNCATED || r == TS_C_ICMP_DROP_BAD_CSUM);
        CHECK((r == TS_C_ICMP_DROP_TRUNCATED) == (l < ICMP_HDR_LEN));
        return;
    }
    CHECK(l >= ICMP_HDR_LEN);
    CHECK(h.payload == b + ICMP_HDR_LEN && h.payload_len == l - ICMP_HDR_LEN);
    CHECK(h.rest == ((uint32_t)h.id << 16 | h.seq) && h.mtu == h.seq);
    size_t n = icmp_emit(&h, out, sizeof(out));
    CHECK(n == l);
    /* Same bytes apart from the checksum, which may be either form of zero. */
    CHECK(memcmp(out, b, 2) == 0 && memcmp(out + 4, b + 4, l - 4) == 0);
    struct icmp_hdr g;
    CHECK(icmp_parse(out, n, &g) == TS_C_OK);
}

static void check_udp(const uint8_t *b, size_t l, uint32_t src, uint32_t dst)
{
    struct udp_hdr h;
    enum ts_counter r = udp_parse(b, l, src, dst, &h);
    if (r != TS_C_OK) {
        CHECK(r == TS_C_UDP_DROP_TRUNCATED || r == TS_C_UDP_DROP_BAD_LEN ||
              r == TS_C_UDP_DROP_BAD_CSUM);
        CHECK((r == TS_C_UDP_DROP_TRUNCATED) == (l < UDP_HDR_LEN));
        return;
    }
    CHECK(l >= UDP_HDR_LEN && h.len >= UDP_HDR_LEN && h.len <= l);
    CHECK(h.payload == b + UDP_HDR_LEN && h.payload_len == (size_t)h.len - UDP_HDR_LEN);
    CHECK(h.csum == get16(b + 6));
    size_t n = udp_emit(&h, src, dst, out, sizeof(out));
    CHECK(n == h.len);
    CHECK(memcmp(out, b, 6) == 0 && memcmp(out + 8, b + 8, n - 8) == 0);
    CHECK(get16(out + 6) != 0);
    struct udp_hdr g;
    CHECK(udp_parse(out, n, src, dst, &g) == TS_C_OK);
    CHECK(g.sport == h.sport && g.dport == h.dport && g.len == h.len);
}

static void check_tcp(const uint8_t *b, size_t l, uint32_t src, uint32_t dst)
{
    struct tcp_hdr h;
    enum ts_counter r = tcp_parse(b, l, src, dst, &h);
    if (r != TS_C_OK) {
        CHECK(r == TS_C_TCP_DROP_TRUNCATED || r == TS_C_TCP_DROP_BAD_HDRLEN ||
              r == TS_C_TCP_DROP_BAD_CSUM || r == TS_C_TCP_DROP_BAD_OPTIONS);
        CHECK((r == TS_C_TCP_DROP_TRUNCATED) == (l < TCP_HDR_LEN));
        return;
    }
    CHECK(l >= TCP_HDR_LEN && h.hdr_len >= TCP_HDR_LEN && h.hdr_len <= 60);
    CHECK(h.hdr_len % 4 == 0 && h.hdr_len <= l);
    CHECK(h.payload == b + h.hdr_len && h.payload_len == l - h.hdr_len);
    CHECK(h.opts.nsack <= TCP_MAX_SACK);

    /* round trip through our own option layout */
    size_t ol = tcp_opts_len(&h.opts);
    CHECK(ol <= TCP_MAX_OPT_LEN && ol % 4 == 0);
    size_t n = tcp_emit(&h, src, dst, out, sizeof(out));
    if (TCP_HDR_LEN + ol + h.payload_len > 0xffff) {
        CHECK(n == 0); /* our options are longer than the sender's and do not fit */
        return;
    }
    CHECK(n == TCP_HDR_LEN + ol + h.payload_len);
    struct tcp_hdr g;
    CHECK(tcp_parse(out, n, src, dst, &g) == TS_C_OK);
    CHECK(g.sport == h.sport && g.dport == h.dport && g.seq == h.seq && g.ack == h.ack);
    CHECK(g.flags == h.flags && g.wnd == h.wnd && g.urp == h.urp);
    CHECK(g.opts.mss_ok == h.opts.mss_ok && (!g.opts.mss_ok || g.opts.mss == h.opts.mss));
    CHECK(g.opts.ws_ok == h.opts.ws_ok && (!g.opts.ws_ok || g.opts.ws == h.opts.ws));
    CHECK(g.opts.sack_perm == h.opts.sack_perm && g.opts.ts_ok == h.opts.ts_ok);
    CHECK(!g.opts.ts_ok || (g.opts.tsval == h.opts.tsval && g.opts.tsecr == h.opts.tsecr));
    /* SACK blocks that do not fit our layout are left out from the end, never reordered */
    CHECK(g.opts.nsack <= h.opts.nsack);
    for (size_t i = 0; i < g.opts.nsack; i++)
        CHECK(g.opts.sack[i].left == h.opts.sack[i].left &&
              g.opts.sack[i].right == h.opts.sack[i].right);
    CHECK(g.payload_len == h.payload_len && memcmp(g.payload, h.payload, h.payload_len) == 0);
}

/* ---- the same with the checksum made right, to get behind verification ---- */

static void check_ipv4_fixed(const uint8_t *b, size_t l, uint32_t *src, uint32_t *dst,
                             bool (*then)(const struct ipv4_hdr *))
{
    if (l < IPV4_HDR_LEN)
        return;
    size_t hl = (size_t)(b[0] & 15) * 4;
    if ((b[0] >> 4) != 4 || hl < IPV4_HDR_LEN || hl > l)
        return;
    uint8_t *c = dup_exact(b, l);
    put16(c + 10, 0);
    put16(c + 10, csum(c, hl));
    struct ipv4_hdr h;
    enum ts_counter r = ipv4_parse(c, l, &h);
    CHECK(r == TS_C_OK || r == TS_C_IP_DROP_BAD_LEN || r == TS_C_IP_DROP_BAD_OPTIONS);
    if (check_ipv4(c, l, &h)) {
        *src = h.src;
        *dst = h.dst;
        if (then)
            then(&h);
    }
    free(c);
}

static void check_tcp_fixed(const uint8_t *b, size_t l, uint32_t src, uint32_t dst)
{
    if (l < TCP_HDR_LEN || l > 0xffff)
        return;
    uint8_t *c = dup_exact(b, l);
    put16(c + 16, 0);
    put16(c + 16, csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)l), c, l)));
    struct tcp_hdr h;
    enum ts_counter r = tcp_parse(c, l, src, dst, &h);
    CHECK(r == TS_C_OK || r == TS_C_TCP_DROP_BAD_HDRLEN || r == TS_C_TCP_DROP_BAD_OPTIONS);
    check_tcp(c, l, src, dst);
    free(c);
}

static void check_udp_fixed(const uint8_t *b, size_t l, uint32_t src, uint32_t dst)
{
    if (l < UDP_HDR_LEN)
        return;
    size_t ul = get16(b + 4);
    if (ul < UDP_HDR_LEN || ul > l)
        return;
    uint8_t *c = dup_exact(b, l);
    put16(c + 6, 0);
    uint16_t s = csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_UDP, (uint16_t)ul), c, ul));
    put16(c + 6, s ? s : 0xffff);
    struct udp_hdr h;
    CHECK(udp_parse(c, l, src, dst, &h) == TS_C_OK);
    check_udp(c, l, src, dst);
    free(c);
}

static void check_icmp_fixed(const uint8_t *b, size_t l)
{
    if (l < ICMP_HDR_LEN)
        return;
    uint8_t *c = dup_exact(b, l);
    put16(c + 2, 0);
    put16(c + 2, csum(c, l));
    struct icmp_hdr h;
    CHECK(icmp_parse(c, l, &h) == TS_C_OK);
    check_icmp(c, l);
    free(c);
}

/* ---- following a frame down the layers ---- */

static bool transport(const struct ipv4_hdr *ip)
{
    const uint8_t *p = ip->payload;
    size_t l = ip->payload_len;
    switch (ip->proto) {
    case IP_PROTO_ICMP:
        check_icmp(p, l);
        check_icmp_fixed(p, l);
        /* an ICMP error quotes an IPv4 header: the ICMP layer will parse that too */
        if (l > ICMP_HDR_LEN) {
            check_ipv4(p + ICMP_HDR_LEN, l - ICMP_HDR_LEN, NULL);
            uint32_t s, d;
            check_ipv4_fixed(p + ICMP_HDR_LEN, l - ICMP_HDR_LEN, &s, &d, NULL);
        }
        break;
    case IP_PROTO_UDP:
        check_udp(p, l, ip->src, ip->dst);
        check_udp_fixed(p, l, ip->src, ip->dst);
        break;
    case IP_PROTO_TCP:
        check_tcp(p, l, ip->src, ip->dst);
        check_tcp_fixed(p, l, ip->src, ip->dst);
        break;
    default:
        break;
    }
    return true;
}

static void follow_frame(const uint8_t *f, size_t l)
{
    struct eth_hdr e;
    if (eth_parse(f, l, &e) != TS_C_OK)
        return;
    if (e.type == ETH_TYPE_ARP) {
        check_arp(e.payload, e.payload_len);
    } else if (e.type == ETH_TYPE_IPV4) {
        struct ipv4_hdr ip;
        if (check_ipv4(e.payload, e.payload_len, &ip))
            transport(&ip);
        uint32_t s, d;
        check_ipv4_fixed(e.payload, e.payload_len, &s, &d, transport);
    }
}

/* Every parser on the first l bytes, placed at the end of the block tail[0..size). */
static void all_parsers_on_prefix(const uint8_t *data, uint8_t *tail, size_t size, size_t l)
{
    uint8_t *b = tail + (size - l);
    if (l)
        memcpy(b, data, l);
    check_eth(b, l);
    check_arp(b, l);
    check_ipv4(b, l, NULL);
    check_icmp(b, l);
    check_udp(b, l, IP_A, IP_B);
    check_tcp(b, l, IP_A, IP_B);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *tail = malloc(size ? size : 1);
    CHECK(tail != NULL);
    if (size <= ALL_PREFIXES_UP_TO) {
        for (size_t l = 0; l <= size; l++)
            all_parsers_on_prefix(data, tail, size, l);
    } else {
        /* Every short prefix (where the header checks live), then a stride, then the end. */
        for (size_t l = 0; l <= 64; l++)
            all_parsers_on_prefix(data, tail, size, l);
        for (size_t l = 65; l + 8 < size; l += 61)
            all_parsers_on_prefix(data, tail, size, l);
        for (size_t l = size - 8; l <= size; l++)
            all_parsers_on_prefix(data, tail, size, l);
    }
    free(tail);

    /* The whole input with checksums made right, and as a frame followed down. */
    uint32_t s, d;
    check_ipv4_fixed(data, size, &s, &d, NULL);
    check_tcp_fixed(data, size, IP_A, IP_B);
    check_udp_fixed(data, size, IP_A, IP_B);
    check_icmp_fixed(data, size);
    follow_frame(data, size);
    return 0;
}
