/* ICMP (RFC 792) with the host rules of RFC 1122 3.2.2: echo replies, errors parsed for the
 * conductor to pass to the transports, and errors we send (rate-limited, never about errors or
 * broadcasts) when the conductor finds a datagram nobody takes. */
#include <string.h>

#include "internal.h"
#include "wire/icmp.h"

/* Token bucket for the errors we send (RFC 1122 3.2.2 asks for a limit; RFC 1812 4.3.2.8 names
 * the token bucket). Like Linux's icmp_msgs_per_sec/burst: 1000 per second, bursts of 50. */
#define ICMP_BURST          50
#define ICMP_TOKEN_INTERVAL (1 * TS_MS)
/* RFC 1812 4.3.2.3: quote as much of the offending datagram as keeps the error within 576
 * bytes (RFC 792 requires only the header and 8 bytes). */
#define ICMP_ERR_MAX_QUOTE (576 - IPV4_HDR_LEN - ICMP_HDR_LEN)

/* An error about a datagram of ours: parse the quote for the conductor to route it. */
static bool error_input(struct ts_stack *s, const struct icmp_hdr *ic, struct ts_icmp_error *e)
{
    struct ipv4_hdr q;
    /* The quote must be a datagram we sent (from one of our addresses), and a first fragment,
     * or there is no transport header to hand on. */
    if (!ipv4_parse_quoted(ic->payload, ic->payload_len, &q) || !ts_ip_is_local(s, q.src) ||
        q.frag_off != 0) {
        ts_count(s, TS_C_ICMP_DROP_BAD_ERROR);
        return false;
    }
    *e = (struct ts_icmp_error){
        .type = ic->type,
        .code = ic->code,
        .mtu = (ic->type == ICMP_DEST_UNREACH && ic->code == ICMP_UNREACH_NEEDFRAG) ? ic->mtu : 0,
        .src = q.src,
        .dst = q.dst,
        .proto = q.proto,
        .l4 = q.payload,
        .l4_len = q.payload_len,
    };
    return true;
}

/* RFC 1122 3.2.2.6: a Record Route option of an echo request SHOULD come back in the reply,
 * updated to include this host. Writes into out the request's RR option with our address added
 * (when it has room; a full one comes back as it was), padded to a multiple of 4; returns its
 * length, 0 when the request has none. The other options are not returned (a Timestamp option
 * too could be, by the same SHOULD; it is not). Linux records its address twice, on arrival and
 * on departure; here once, as the RFC words it. */
static size_t echo_options(const struct ts_stack *s, const struct ipv4_hdr *ip, uint8_t *out)
{
    size_t n = ip->options ? (size_t)ip->hdr_len - IPV4_HDR_LEN : 0;
    for (size_t i = 0; i < n;) {
        uint8_t t = ip->options[i];
        if (t == 0) /* end of the list */
            break;
        if (t == 1) { /* no-operation */
            i++;
            continue;
        }
        uint8_t l = i + 1 < n ? ip->options[i + 1] : 0;
        if (l < 2 || i + l > n)
            break; /* ipv4_parse checked the list; be safe anyway */
        if (t == IPV4_OPT_RR && l >= 3) {
            memcpy(out, ip->options + i, l);
            uint8_t ptr = out[2];
            if (ptr >= 4 && (size_t)ptr + 3 <= l) { /* room for one more address */
                out[ptr - 1] = (uint8_t)(s->cfg.ip >> 24);
                out[ptr] = (uint8_t)(s->cfg.ip >> 16);
                out[ptr + 1] = (uint8_t)(s->cfg.ip >> 8);
                out[ptr + 2] = (uint8_t)s->cfg.ip;
                out[2] = (uint8_t)(ptr + 4);
            }
            size_t padded = (l + 3u) & ~3u;
            memset(out + l, 0, padded - l); /* end of option list */
            return padded;
        }
        i += l;
    }
    return 0;
}

static void echo_reply(struct ts_stack *s, const struct ipv4_hdr *ip, const struct icmp_hdr *req)
{
    size_t cap;
    uint8_t *buf = ts_ip_tx_buf(s, &cap);
    struct icmp_hdr rep = {
        .type = ICMP_ECHO_REPLY,
        .code = 0,
        .id = req->id,
        .seq = req->seq,
        .payload = req->payload,
        .payload_len = req->payload_len,
    };
    uint8_t opts[IPV4_MAX_OPT_LEN];
    size_t optlen = echo_options(s, ip, opts);
    size_t len = icmp_emit(&rep, buf + optlen, cap - optlen);
    if (len == 0)
        return;
    /* RFC 1122 3.2.2.6: the reply goes back to the requester with the request's data; the
     * IP layer fragments it when the request was bigger than our MTU (then without options). */
    int rc = -EMSGSIZE;
    if (optlen) {
        memcpy(buf, opts, optlen);
        rc = ts_ip_send_opts(s, s->cfg.ip, ip->src, IP_PROTO_ICMP, optlen, len, ip->tos);
        if (rc == -EMSGSIZE)
            memmove(buf, buf + optlen, len);
    }
    if (rc == -EMSGSIZE)
        rc = ts_ip_send(s, s->cfg.ip, ip->src, IP_PROTO_ICMP, len, false, ip->tos);
    if (rc == 0) {
        ts_count(s, TS_C_ICMP_TX);
        ts_count(s, TS_C_ICMP_ECHO_REPLIED);
    }
}

bool ts_icmp_input(struct ts_stack *s, const struct ipv4_hdr *ip, struct ts_icmp_error *err)
{
    struct icmp_hdr ic;
    ts_count(s, TS_C_ICMP_RX);
    enum ts_counter why = icmp_parse(ip->payload, ip->payload_len, &ic);
    if (why != TS_C_OK) {
        ts_count(s, why);
        return false;
    }
    switch (ic.type) {
    case ICMP_ECHO_REQUEST:
        /* RFC 1122 3.2.2.6 lets a host ignore echoes to a broadcast address; we do, so the
         * stack cannot be used to amplify ("smurf") traffic. */
        if (ts_ip_is_broadcast(s, ip->dst)) {
            ts_count(s, TS_C_ICMP_DROP_BROADCAST);
            return false;
        }
        echo_reply(s, ip, &ic);
        return false;
    case ICMP_DEST_UNREACH:
    case ICMP_TIME_EXCEEDED:
    case ICMP_PARAM_PROBLEM:
        /* RFC 1122 3.2.2: errors are passed to the transport that sent the datagram. */
        return error_input(s, &ic, err);
    default:
        /* Source quench is deprecated (RFC 6633: ignore it); redirects do not apply to a host
         * with a single gateway; echo replies: we send no echo requests of our own. */
        ts_count(s, TS_C_ICMP_DROP_UNKNOWN_TYPE);
        return false;
    }
}

/* RFC 1122 3.2.2: the datagrams that must never cause an ICMP error. */
static bool may_send_error(const struct ts_stack *s, const struct ts_ip_rx *rx)
{
    const struct ipv4_hdr *ip = &rx->ip;
    if (ip->frag_off != 0)
        return false; /* not the first fragment */
    if (ts_ip_is_broadcast(s, ip->dst) || ipv4_is_multicast(ip->dst) || rx->link_broadcast)
        return false; /* a broadcast, at the IP or at the link layer */
    /* The source must name a single host. */
    if (ip->src == 0 || ts_ip_is_broadcast(s, ip->src) || ipv4_is_multicast(ip->src) ||
        (ts_ip_is_loopback(ip->src) && !rx->loopback))
        return false;
    /* Never about an ICMP error (or anything that might be one: unknown types). */
    if (ip->proto == IP_PROTO_ICMP) {
        if (ip->payload_len < 1)
            return false;
        uint8_t t = ip->payload[0];
        bool query = t == ICMP_ECHO_REQUEST || t == ICMP_ECHO_REPLY ||
                     (t >= ICMP_QUERY_FIRST && t <= ICMP_QUERY_LAST);
        if (!query)
            return false;
    }
    return true;
}

static bool take_token(struct ts_stack *s)
{
    ts_time_t now = s->now;
    if (s->icmp_tokens > ICMP_BURST) /* a new stack starts with a full bucket */
        s->icmp_tokens = ICMP_BURST;
    if (now > s->icmp_refill) {
        ts_time_t add = (now - s->icmp_refill) / ICMP_TOKEN_INTERVAL;
        if (add >= ICMP_BURST || s->icmp_tokens + add >= ICMP_BURST)
            s->icmp_tokens = ICMP_BURST;
        else
            s->icmp_tokens += (uint32_t)add;
        s->icmp_refill += add * ICMP_TOKEN_INTERVAL;
    }
    if (s->icmp_tokens == 0)
        return false;
    s->icmp_tokens--;
    return true;
}

void ts_icmp_send_error(struct ts_stack *s, uint8_t type, uint8_t code, uint16_t mtu,
                        const struct ts_ip_rx *rx)
{
    if (!may_send_error(s, rx))
        return;
    const struct ipv4_hdr *ip = &rx->ip;
    if (!take_token(s)) {
        ts_count(s, TS_C_ICMP_RATE_LIMITED);
        return;
    }
    size_t cap;
    uint8_t *buf = ts_ip_tx_buf(s, &cap);
    /* The quote: the offending header (re-emitted without options) and the start of its data. */
    uint8_t *quote = buf + ICMP_HDR_LEN;
    size_t data = ip->payload_len;
    if (data > ICMP_ERR_MAX_QUOTE - IPV4_HDR_LEN)
        data = ICMP_ERR_MAX_QUOTE - IPV4_HDR_LEN;
    struct ipv4_hdr orig = *ip;
    orig.hdr_len = IPV4_HDR_LEN;
    orig.payload_len = ip->payload_len; /* total length as it was */
    ipv4_emit(&orig, quote, IPV4_HDR_LEN);
    memcpy(quote + IPV4_HDR_LEN, ip->payload, data);
    struct icmp_hdr h = {
        .type = type,
        .code = code,
        .mtu = mtu,
        .rest = mtu, /* RFC 1191: next-hop MTU in the low 16 bits; 0 (unused) otherwise */
        .payload = quote,
        .payload_len = IPV4_HDR_LEN + data,
    };
    size_t len = icmp_emit(&h, buf, cap);
    if (len == 0)
        return;
    if (ts_ip_send(s, s->cfg.ip, ip->src, IP_PROTO_ICMP, len, false, 0) == 0) {
        ts_count(s, TS_C_ICMP_TX);
        if (type == ICMP_DEST_UNREACH)
            ts_count(s, TS_C_ICMP_UNREACH_SENT);
    }
}
