/* UDP (RFC 768): the bind table, demultiplexing, receive queues, and the send path.
 *
 * Endpoints live in a small hash table keyed by local port. Each endpoint keeps a FIFO of whole
 * datagrams bounded by bytes; what does not fit is dropped and counted. Nothing here blocks: the
 * owner (the socket shim) learns about new datagrams and errors through its callback. A datagram
 * nobody listens for is reported to the caller (the conductor), which answers it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tapstack/udp.h"
#include "wire/icmp.h"
#include "wire/udp.h"

#define UDP_BUCKETS 256
/* The largest payload one IPv4 datagram can carry: 65535 - 20 (IP) - 8 (UDP). */
#define UDP_MAX_PAYLOAD 65507
/* What a queued datagram costs against the receive buffer besides its payload, so that a flood
 * of empty datagrams is bounded too (as Linux charges the buffer's true size). */
#define UDP_DGRAM_OVERHEAD 64

struct udp_dgram {
    struct udp_dgram *next;
    uint32_t src;
    uint16_t sport;
    size_t len;
    uint8_t data[];
};

struct ts_udp_sock {
    struct ts_stack *s;
    struct ts_udp_sock *next; /* in its hash bucket */
    uint32_t laddr;           /* 0 = any local address */
    uint16_t lport;
    bool laddr_auto; /* laddr was filled in by connect(), not by bind() */
    uint32_t raddr;  /* 0 = not connected */
    uint16_t rport;
    bool reuse;
    size_t rcvbuf, queued; /* bound and current charge of the receive queue */
    struct udp_dgram *head, *tail;
    int err; /* pending error (positive errno), reported once */
    ts_udp_event_fn fn;
    void *user;
};

struct ts_udp_table {
    struct ts_udp_sock *bucket[UDP_BUCKETS];
    uint32_t port_hint; /* where the next ephemeral search starts */
    bool hint_set;
};

static unsigned bucket_of(uint16_t port)
{
    return port % UDP_BUCKETS;
}

struct ts_udp_table *ts_udp_table_new(void)
{
    return calloc(1, sizeof(struct ts_udp_table));
}

static void queue_free(struct ts_udp_sock *u)
{
    struct udp_dgram *d = u->head;
    while (d) {
        struct udp_dgram *n = d->next;
        free(d);
        d = n;
    }
    u->head = u->tail = NULL;
    u->queued = 0;
}

void ts_udp_table_free(struct ts_udp_table *t)
{
    if (!t)
        return;
    /* Endpoints still open belong to an owner that is going away with the stack. */
    for (unsigned i = 0; i < UDP_BUCKETS; i++) {
        struct ts_udp_sock *u = t->bucket[i];
        while (u) {
            struct ts_udp_sock *n = u->next;
            queue_free(u);
            free(u);
            u = n;
        }
    }
    free(t);
}

static bool addr_overlap(uint32_t a, uint32_t b)
{
    return a == 0 || b == 0 || a == b;
}

/* Would binding laddr:lport clash with an existing endpoint? Sharing needs SO_REUSEADDR on both
 * sides (Linux semantics for UDP). */
static bool port_conflict(const struct ts_udp_table *t, uint32_t laddr, uint16_t lport, bool reuse)
{
    for (const struct ts_udp_sock *u = t->bucket[bucket_of(lport)]; u; u = u->next) {
        if (u->lport != lport || !addr_overlap(u->laddr, laddr))
            continue;
        if (!(reuse && u->reuse))
            return true;
    }
    return false;
}

static bool port_used(const struct ts_udp_table *t, uint16_t lport)
{
    for (const struct ts_udp_sock *u = t->bucket[bucket_of(lport)]; u; u = u->next)
        if (u->lport == lport)
            return true;
    return false;
}

/* An ephemeral port no endpoint uses. The search starts at a point derived from the stack's
 * secret and moves on after each pick, so consecutive sockets do not get neighbouring ports in a
 * predictable order from start-up (RFC 6056 3.3.1 in spirit, without a global random source).
 * (The range is sound: ts_stack_new refuses a configuration without one.) */
static uint16_t ephemeral_port(struct ts_stack *s)
{
    struct ts_udp_table *t = s->udp;
    uint32_t lo = s->cfg.ephemeral_lo, hi = s->cfg.ephemeral_hi;
    uint32_t n = hi - lo + 1;
    if (!t->hint_set) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < sizeof s->cfg.secret; i++)
            h = (h ^ s->cfg.secret[i]) * 16777619u;
        t->port_hint = h ^ 0x5544u;
        t->hint_set = true;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = lo + (t->port_hint + i) % n;
        if (!port_used(t, (uint16_t)p)) {
            t->port_hint += i + 1;
            return (uint16_t)p;
        }
    }
    return 0;
}

struct ts_udp_sock *ts_udp_open(struct ts_stack *s, uint32_t laddr, uint16_t lport, bool reuse,
                                size_t rcvbuf, int *err)
{
    int e = 0;
    if (!s->udp) {
        e = ENOMEM;
        goto fail;
    }
    if (laddr != 0 && !ts_ip_is_local(s, laddr) && !ts_ip_is_broadcast(s, laddr)) {
        e = EADDRNOTAVAIL;
        goto fail;
    }
    if (lport == 0) {
        lport = ephemeral_port(s);
        if (lport == 0) {
            e = EADDRINUSE; /* range exhausted; Linux's bind() says the same */
            goto fail;
        }
    } else if (port_conflict(s->udp, laddr, lport, reuse)) {
        e = EADDRINUSE;
        goto fail;
    }
    struct ts_udp_sock *u = calloc(1, sizeof *u);
    if (!u) {
        e = ENOMEM;
        goto fail;
    }
    u->s = s;
    u->laddr = laddr;
    u->lport = lport;
    u->reuse = reuse;
    u->rcvbuf = rcvbuf;
    unsigned b = bucket_of(lport);
    u->next = s->udp->bucket[b];
    s->udp->bucket[b] = u;
    return u;
fail:
    if (err)
        *err = e;
    return NULL;
}

void ts_udp_close(struct ts_udp_sock *u)
{
    if (!u)
        return;
    struct ts_udp_sock **pp = &u->s->udp->bucket[bucket_of(u->lport)];
    while (*pp && *pp != u)
        pp = &(*pp)->next;
    if (*pp)
        *pp = u->next;
    queue_free(u);
    free(u);
}

void ts_udp_set_callback(struct ts_udp_sock *u, ts_udp_event_fn fn, void *user)
{
    u->fn = fn;
    u->user = user;
}

static void notify(struct ts_udp_sock *u, unsigned ev)
{
    if (u->fn)
        u->fn(u->user, u, ev);
}

int ts_udp_connect(struct ts_udp_sock *u, uint32_t raddr, uint16_t rport)
{
    if (raddr == 0) {
        /* Dissolve the association; an address that only connect() chose is forgotten too. */
        u->raddr = 0;
        u->rport = 0;
        if (u->laddr_auto) {
            u->laddr = 0;
            u->laddr_auto = false;
        }
        return 0;
    }
    if (ts_ip_route(u->s, raddr) == 0 && !ts_ip_is_broadcast(u->s, raddr))
        return -ENETUNREACH;
    u->raddr = raddr;
    u->rport = rport;
    u->err = 0;
    if (u->laddr == 0) {
        /* A connected socket has a definite source address (what getsockname reports). */
        u->laddr = ts_ip_source(u->s, raddr);
        u->laddr_auto = true;
    }
    return 0;
}

ssize_t ts_udp_sendto(struct ts_udp_sock *u, const void *buf, size_t len, uint32_t raddr,
                      uint16_t rport, ts_time_t now)
{
    struct ts_stack *s = u->s;
    s->now = now;
    if (len > UDP_MAX_PAYLOAD)
        return -EMSGSIZE;
    if (raddr == 0) {
        if (u->raddr == 0)
            return -EDESTADDRREQ;
        raddr = u->raddr;
        rport = u->rport;
    }
    if (rport == 0)
        return -EINVAL; /* port 0 is reserved and cannot be sent to (as Linux) */
    if (u->err) {
        /* An ICMP error reported earlier surfaces on the next call (as Linux does). */
        int e = u->err;
        u->err = 0;
        return -e;
    }
    size_t cap = 0;
    uint8_t *pkt = ts_ip_tx_buf(s, &cap);
    if (UDP_HDR_LEN + len > cap)
        return -EMSGSIZE;
    if (len)
        memcpy(pkt + UDP_HDR_LEN, buf, len);
    uint32_t src = u->laddr;
    if (src == 0 || ts_ip_is_broadcast(s, src))
        src = ts_ip_source(s, raddr);
    struct udp_hdr h = {
        .sport = u->lport,
        .dport = rport,
        .payload = pkt + UDP_HDR_LEN,
        .payload_len = len,
    };
    size_t n = udp_emit(&h, src, raddr, pkt, cap);
    if (n == 0)
        return -EMSGSIZE;
    /* RFC 1122 4.1.3.4 leaves DF to the application; datagrams larger than the MTU are
     * fragmented by IP, so DF stays clear. */
    int r = ts_ip_send(s, src, raddr, IP_PROTO_UDP, n, false, 0);
    if (r < 0)
        return r;
    ts_count(s, TS_C_UDP_TX);
    return (ssize_t)len;
}

static ssize_t take(struct ts_udp_sock *u, void *buf, size_t len, uint32_t *raddr, uint16_t *rport,
                    size_t *full_len, bool remove)
{
    struct udp_dgram *d = u->head;
    if (!d)
        return -EAGAIN;
    size_t n = d->len < len ? d->len : len;
    if (n)
        memcpy(buf, d->data, n);
    if (raddr)
        *raddr = d->src;
    if (rport)
        *rport = d->sport;
    if (full_len)
        *full_len = d->len;
    if (remove) {
        u->head = d->next;
        if (!u->head)
            u->tail = NULL;
        u->queued -= d->len + UDP_DGRAM_OVERHEAD;
        free(d);
    }
    return (ssize_t)n;
}

ssize_t ts_udp_recvfrom(struct ts_udp_sock *u, void *buf, size_t len, uint32_t *raddr,
                        uint16_t *rport, size_t *full_len)
{
    return take(u, buf, len, raddr, rport, full_len, true);
}

ssize_t ts_udp_peekfrom(struct ts_udp_sock *u, void *buf, size_t len, uint32_t *raddr,
                        uint16_t *rport, size_t *full_len)
{
    return take(u, buf, len, raddr, rport, full_len, false);
}

size_t ts_udp_readable(const struct ts_udp_sock *u)
{
    return u->head ? u->head->len + 1 : 0;
}

int ts_udp_error(struct ts_udp_sock *u, bool take_it)
{
    int e = u->err;
    if (take_it)
        u->err = 0;
    return e;
}

size_t ts_udp_table(const struct ts_stack *s, struct ts_udp_info *out, size_t max)
{
    size_t n = 0;
    for (unsigned b = 0; b < UDP_BUCKETS; b++) {
        for (const struct ts_udp_sock *u = s->udp->bucket[b]; u; u = u->next, n++) {
            if (!out || n >= max)
                continue;
            struct ts_udp_info *i = &out[n];
            *i = (struct ts_udp_info){
                .laddr = u->laddr, .raddr = u->raddr, .lport = u->lport, .rport = u->rport};
            for (const struct udp_dgram *d = u->head; d; d = d->next) {
                i->recv_queued += d->len;
                i->recv_dgrams++;
            }
        }
    }
    return n;
}

void ts_udp_endpoints(const struct ts_udp_sock *u, uint32_t *laddr, uint16_t *lport,
                      uint32_t *raddr, uint16_t *rport)
{
    if (laddr)
        *laddr = u->laddr;
    if (lport)
        *lport = u->lport;
    if (raddr)
        *raddr = u->raddr;
    if (rport)
        *rport = u->rport;
}

size_t ts_udp_queued(const struct ts_udp_sock *u)
{
    return u->queued;
}

void ts_udp_set_rcvbuf(struct ts_udp_sock *u, size_t rcvbuf)
{
    u->rcvbuf = rcvbuf;
}

/* Does endpoint u accept a datagram src:sport -> dst:dport? Returns a score (higher = more
 * specific), or -1. A connected endpoint only hears its peer. */
static int match(const struct ts_udp_sock *u, uint32_t src, uint16_t sport, uint32_t dst,
                 uint16_t dport, bool bcast)
{
    if (u->lport != dport)
        return -1;
    int score = 0;
    if (u->laddr != 0) {
        /* A socket bound to our unicast address does not hear broadcasts (as Linux), one bound
         * to the broadcast address hears only them. */
        if (u->laddr != dst)
            return -1;
        score += 2;
    }
    if (u->raddr != 0) {
        if (u->raddr != src || u->rport != sport)
            return -1;
        score += 4;
    }
    (void)bcast;
    return score;
}

static void enqueue(struct ts_stack *s, struct ts_udp_sock *u, uint32_t src, uint16_t sport,
                    const uint8_t *data, size_t len)
{
    size_t charge = len + UDP_DGRAM_OVERHEAD;
    /* The buffer bounds what waits for the owner; one datagram is always let into an empty
     * queue so that a small SO_RCVBUF cannot make the socket deaf to large datagrams. */
    if (u->head && u->queued + charge > u->rcvbuf) {
        ts_count(s, TS_C_UDP_DROP_RCVBUF_FULL);
        return;
    }
    struct udp_dgram *d = malloc(sizeof *d + len);
    if (!d) {
        ts_count(s, TS_C_UDP_DROP_RCVBUF_FULL);
        return;
    }
    d->next = NULL;
    d->src = src;
    d->sport = sport;
    d->len = len;
    if (len)
        memcpy(d->data, data, len);
    if (u->tail)
        u->tail->next = d;
    else
        u->head = d;
    u->tail = d;
    u->queued += charge;
    notify(u, TS_UDP_EV_READABLE);
}

/* The datagram's data to u; a super-datagram (USO) as the datagrams of gso bytes it holds. */
static void enqueue_all(struct ts_stack *s, struct ts_udp_sock *u, uint32_t src,
                        const struct udp_hdr *h, uint16_t gso)
{
    if (gso == 0 || h->payload_len <= gso) {
        enqueue(s, u, src, h->sport, h->payload, h->payload_len);
        return;
    }
    for (size_t off = 0; off < h->payload_len; off += gso) {
        size_t n = h->payload_len - off < gso ? h->payload_len - off : gso;
        enqueue(s, u, src, h->sport, h->payload + off, n);
    }
}

enum ts_udp_rx ts_udp_input(struct ts_stack *s, const struct ipv4_hdr *ip, bool csum_ok,
                            uint16_t gso_size)
{
    ts_count(s, TS_C_UDP_RX);
    struct udp_hdr h;
    enum ts_counter r = udp_parse_ex(ip->payload, ip->payload_len, ip->src, ip->dst, !csum_ok, &h);
    if (r != TS_C_OK) {
        ts_count(s, r);
        return TS_UDP_RX_DONE;
    }
    bool bcast = ts_ip_is_broadcast(s, ip->dst) || ipv4_is_multicast(ip->dst);
    struct ts_udp_table *t = s->udp;
    if (!t) {
        ts_count(s, TS_C_UDP_DROP_NO_PORT);
        return TS_UDP_RX_DONE;
    }
    if (bcast) {
        /* Every endpoint on the port hears a broadcast (RFC 1122 4.1.3.5 leaves it to the
         * host; Linux delivers to all). */
        bool any = false;
        for (struct ts_udp_sock *u = t->bucket[bucket_of(h.dport)]; u; u = u->next) {
            if (match(u, ip->src, h.sport, ip->dst, h.dport, true) < 0)
                continue;
            any = true;
            enqueue_all(s, u, ip->src, &h, gso_size);
        }
        if (any)
            return TS_UDP_RX_DONE;
        /* The caller's ICMP layer sends no error about a broadcast (RFC 1122 3.2.2). */
        ts_count(s, TS_C_UDP_DROP_NO_PORT);
        return TS_UDP_RX_NO_PORT;
    }
    struct ts_udp_sock *best = NULL;
    int best_score = -1;
    for (struct ts_udp_sock *u = t->bucket[bucket_of(h.dport)]; u; u = u->next) {
        int sc = match(u, ip->src, h.sport, ip->dst, h.dport, false);
        /* Ties go to the most recently bound endpoint (it sits first in the bucket). */
        if (sc > best_score) {
            best = u;
            best_score = sc;
        }
    }
    if (!best) {
        ts_count(s, TS_C_UDP_DROP_NO_PORT);
        return TS_UDP_RX_NO_PORT;
    }
    enqueue_all(s, best, ip->src, &h, gso_size);
    return TS_UDP_RX_DONE;
}

/* The errno an ICMP error stands for (RFC 1122 4.1.3.3 says to pass them up; the mapping is
 * the one BSD and Linux use). 0 = not worth reporting. */
static int icmp_errno(uint8_t type, uint8_t code)
{
    if (type == ICMP_DEST_UNREACH) {
        switch (code) {
        case ICMP_UNREACH_NET:
            return ENETUNREACH;
        case ICMP_UNREACH_HOST:
            return EHOSTUNREACH;
        case ICMP_UNREACH_PROTO:
            return ENOPROTOOPT;
        case ICMP_UNREACH_PORT:
            return ECONNREFUSED;
        case ICMP_UNREACH_NEEDFRAG:
            return EMSGSIZE;
        case ICMP_UNREACH_SRCFAIL:
            return EOPNOTSUPP;
        default:
            return EHOSTUNREACH;
        }
    }
    if (type == ICMP_TIME_EXCEEDED)
        return EHOSTUNREACH;
    if (type == ICMP_PARAM_PROBLEM)
        return EPROTO;
    return 0;
}

void ts_udp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    struct udp_hdr q;
    if (!s->udp || !udp_parse_quoted(e->l4, e->l4_len, &q))
        return;
    uint16_t sport = q.sport, dport = q.dport;
    int err = icmp_errno(e->type, e->code);
    if (err == 0)
        return;
    /* Only connected endpoints are told (as BSD and Linux without IP_RECVERR): an unconnected
     * one cannot tell which of its datagrams failed, and a spoofed error must name the exact
     * association to have any effect. */
    for (struct ts_udp_sock *u = s->udp->bucket[bucket_of(sport)]; u; u = u->next) {
        if (u->lport != sport || u->raddr != e->dst || u->rport != dport)
            continue;
        if (u->laddr != 0 && u->laddr != e->src)
            continue;
        u->err = err;
        notify(u, TS_UDP_EV_ERROR);
    }
}
