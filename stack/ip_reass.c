/* IPv4 reassembly (RFC 791 3.2, RFC 815), bounded so that fragments can never exhaust memory.
 *
 * A datagram in progress is identified by (src, dst, id, proto) (RFC 791). Its fragments are
 * kept in a list sorted by offset; it is complete when the last fragment has fixed the length
 * and the fragments cover [0, length) without a hole. Then they are copied into one buffer.
 *
 * Hostile input: a fragment that overlaps another with different data makes the whole datagram
 * suspect (it is how filters are evaded, cf. RFC 5722 for IPv6), so the datagram is dropped.
 * Exact or contained duplicates are counted and ignored. Memory and slots are bounded; when a
 * bound is hit the oldest datagram in progress is evicted. A datagram whose time runs out goes
 * back to the caller of ts_reass_poll (the conductor), which decides whether "time exceeded" is
 * sent. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* RFC 1122 3.3.2 suggests 60 to 120 s. Linux uses 30 s (ipfrag_time): fragments of one datagram
 * arrive within milliseconds on real links, and every second an incomplete datagram is kept is
 * memory an attacker holds. We follow Linux. */
#define REASS_TIMEOUT    (30 * TS_SEC)
#define REASS_MAX_DGRAMS 64
#define REASS_MAX_MEMORY (256 * 1024)

struct frag {
    struct frag *next;
    uint16_t off, len;
    uint8_t data[];
};

struct dgram {
    bool used;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t tos, ttl; /* from the first fragment */
    uint32_t total;   /* payload length, known once the last fragment came; else 0 */
    bool have_last;
    /* Some fragment came in a frame sent to the Ethernet broadcast address: the datagram was,
     * in part, a link-layer broadcast, and no ICMP error may answer it (RFC 1122 3.2.2). */
    bool link_broadcast;
    ts_time_t created, expires;
    struct frag *frags; /* sorted by offset */
    size_t mem;
};

struct ts_reass {
    struct dgram d[REASS_MAX_DGRAMS];
    size_t mem;
    uint8_t *done;        /* the last reassembled payload, valid until the next call */
    struct frag *expired; /* fragment zero of the last expired datagram, valid as long */
};

#define FRAG_COST(len) (sizeof(struct frag) + (len))

struct ts_reass *ts_reass_new(void)
{
    return calloc(1, sizeof(struct ts_reass));
}

static void dgram_free(struct ts_reass *r, struct dgram *d)
{
    struct frag *f = d->frags;
    while (f) {
        struct frag *n = f->next;
        free(f);
        f = n;
    }
    r->mem -= d->mem;
    memset(d, 0, sizeof *d);
}

/* Free what the previous call handed back to its caller (valid until this call). */
static void release_returned(struct ts_reass *r)
{
    free(r->done);
    r->done = NULL;
    free(r->expired);
    r->expired = NULL;
}

void ts_reass_free(struct ts_reass *r)
{
    if (!r)
        return;
    for (int i = 0; i < REASS_MAX_DGRAMS; i++)
        if (r->d[i].used)
            dgram_free(r, &r->d[i]);
    release_returned(r);
    free(r);
}

size_t ts_reass_memory(const struct ts_stack *s)
{
    return s->reass->mem;
}

static struct dgram *oldest(struct ts_reass *r, const struct dgram *except)
{
    struct dgram *o = NULL;
    for (int i = 0; i < REASS_MAX_DGRAMS; i++) {
        struct dgram *d = &r->d[i];
        if (d->used && d != except && (!o || d->created < o->created))
            o = d;
    }
    return o;
}

static struct dgram *lookup(struct ts_stack *s, const struct ipv4_hdr *ip)
{
    struct ts_reass *r = s->reass;
    struct dgram *free_slot = NULL;
    for (int i = 0; i < REASS_MAX_DGRAMS; i++) {
        struct dgram *d = &r->d[i];
        if (!d->used) {
            if (!free_slot)
                free_slot = d;
            continue;
        }
        if (d->src == ip->src && d->dst == ip->dst && d->id == ip->id && d->proto == ip->proto)
            return d;
    }
    if (!free_slot) {
        free_slot = oldest(r, NULL);
        ts_count(s, TS_C_IP_REASS_DROP_NO_MEMORY);
        dgram_free(r, free_slot);
    }
    struct dgram *d = free_slot;
    d->used = true;
    d->src = ip->src;
    d->dst = ip->dst;
    d->id = ip->id;
    d->proto = ip->proto;
    d->created = s->now;
    d->expires = s->now + REASS_TIMEOUT;
    return d;
}

enum add_result { ADD_OK, ADD_DUPLICATE, ADD_OVERLAP };

/* Insert [off, off + len) keeping the list sorted; compare with every fragment it meets. */
static enum add_result check_overlaps(const struct dgram *d, uint32_t off, uint32_t len,
                                      const uint8_t *data)
{
    for (const struct frag *f = d->frags; f; f = f->next) {
        uint32_t fs = f->off, fe = (uint32_t)f->off + f->len;
        if (fe <= off || fs >= off + len)
            continue;
        uint32_t lo = off > fs ? off : fs;
        uint32_t hi = off + len < fe ? off + len : fe;
        if (memcmp(data + (lo - off), f->data + (lo - fs), hi - lo) != 0)
            return ADD_OVERLAP;
        if (fs <= off && fe >= off + len)
            return ADD_DUPLICATE; /* nothing new in it */
    }
    return ADD_OK;
}

static void insert(struct dgram *d, struct frag *nf)
{
    struct frag **pp = &d->frags;
    while (*pp && (*pp)->off <= nf->off)
        pp = &(*pp)->next;
    nf->next = *pp;
    *pp = nf;
}

static bool complete(const struct dgram *d)
{
    if (!d->have_last)
        return false;
    uint32_t covered = 0;
    for (const struct frag *f = d->frags; f; f = f->next) {
        if (f->off > covered)
            return false;
        uint32_t end = (uint32_t)f->off + f->len;
        if (end > covered)
            covered = end;
    }
    return covered >= d->total;
}

/* Drop a datagram for a reason found in one of its fragments. */
static bool reject(struct ts_stack *s, struct dgram *d, enum ts_counter why)
{
    ts_count(s, why);
    if (d)
        dgram_free(s->reass, d);
    return false;
}

/* The checks a fragment must pass against the datagram it belongs to (RFC 791 3.2: offsets in
 * units of 8 bytes, the last fragment fixes the length). TS_C_OK or the drop reason. */
static enum ts_counter check_fragment(const struct dgram *d, const struct ipv4_hdr *frag)
{
    uint32_t off = frag->frag_off, len = (uint32_t)frag->payload_len;
    if (frag->hdr_len + off + len > IPV4_MAX_LEN)
        return TS_C_IP_REASS_DROP_TOO_BIG;
    if (!frag->mf) {
        /* The last fragment fixes the length: it must agree with what we have. */
        if (d->have_last && d->total != off + len)
            return TS_C_IP_REASS_DROP_BAD_FRAG;
        for (const struct frag *f = d->frags; f; f = f->next)
            if ((uint32_t)f->off + f->len > off + len)
                return TS_C_IP_REASS_DROP_BAD_FRAG;
    } else if (d->have_last && off + len > d->total) {
        return TS_C_IP_REASS_DROP_BAD_FRAG;
    }
    return TS_C_OK;
}

/* Copy a complete datagram's fragments into one buffer and describe it in *whole. */
static bool assemble(struct ts_stack *s, struct dgram *d, struct ts_ip_rx *whole)
{
    uint8_t *buf = malloc(d->total);
    if (!buf)
        return reject(s, d, TS_C_IP_REASS_DROP_NO_MEMORY);
    for (const struct frag *f = d->frags; f; f = f->next)
        memcpy(buf + f->off, f->data, f->len); /* overlaps carry identical bytes */
    whole->ip = (struct ipv4_hdr){
        .hdr_len = IPV4_HDR_LEN,
        .tos = d->tos,
        .total_len = (uint16_t)(IPV4_HDR_LEN + d->total),
        .id = d->id,
        .ttl = d->ttl,
        .proto = d->proto,
        .src = d->src,
        .dst = d->dst,
        .payload = buf,
        .payload_len = d->total,
    };
    s->reass->done = buf;
    ts_count(s, TS_C_IP_REASS_OK);
    dgram_free(s->reass, d);
    return true;
}

/* Make room for a fragment of len bytes: evict the oldest other datagrams; if d alone would be
 * too big, drop it (false). */
static bool make_room(struct ts_stack *s, struct dgram *d, uint32_t len)
{
    struct ts_reass *r = s->reass;
    while (r->mem + FRAG_COST(len) > REASS_MAX_MEMORY) {
        struct dgram *o = oldest(r, d);
        ts_count(s, TS_C_IP_REASS_DROP_NO_MEMORY);
        if (!o) {
            dgram_free(r, d);
            return false;
        }
        dgram_free(r, o);
    }
    return true;
}

/* Keep a copy of the fragment in d, in offset order, with what it tells about the datagram: the
 * first fragment its TOS and TTL, the last its length (RFC 791 3.2). */
static bool store_fragment(struct ts_stack *s, struct dgram *d, const struct ts_ip_rx *rx)
{
    const struct ipv4_hdr *frag = &rx->ip;
    uint32_t off = frag->frag_off, len = (uint32_t)frag->payload_len;
    struct frag *nf = malloc(FRAG_COST(len));
    if (!nf)
        return reject(s, d, TS_C_IP_REASS_DROP_NO_MEMORY);
    nf->off = (uint16_t)off;
    nf->len = (uint16_t)len;
    memcpy(nf->data, frag->payload, len);
    insert(d, nf);
    d->mem += FRAG_COST(len);
    s->reass->mem += FRAG_COST(len);
    d->link_broadcast |= rx->link_broadcast;
    if (off == 0) {
        d->tos = frag->tos;
        d->ttl = frag->ttl;
    }
    if (!frag->mf) {
        d->have_last = true;
        d->total = off + len;
    }
    return true;
}

/* A fragment arrives: checked alone, then against its datagram (reject: dropped with it), then
 * kept; when it completes the datagram, the whole is described in *whole (true). */
bool ts_reass_input(struct ts_stack *s, const struct ts_ip_rx *rx, struct ts_ip_rx *whole)
{
    release_returned(s->reass);
    const struct ipv4_hdr *frag = &rx->ip;
    uint32_t off = frag->frag_off, len = (uint32_t)frag->payload_len;

    /* RFC 791: all fragments but the last carry a multiple of 8 bytes; an empty one is no use. */
    if (len == 0 || (frag->mf && len % 8 != 0))
        return reject(s, NULL, TS_C_IP_REASS_DROP_BAD_FRAG);
    struct dgram *d = lookup(s, frag);
    enum ts_counter why = check_fragment(d, frag);
    if (why != TS_C_OK)
        return reject(s, d, why);
    switch (check_overlaps(d, off, len, frag->payload)) {
    case ADD_OVERLAP:
        return reject(s, d, TS_C_IP_REASS_DROP_OVERLAP);
    case ADD_DUPLICATE:
        ts_count(s, TS_C_IP_REASS_DUPLICATE);
        return false;
    case ADD_OK:
        break;
    }
    if (!make_room(s, d, len) || !store_fragment(s, d, rx) || !complete(d))
        return false;
    *whole = (struct ts_ip_rx){.link_broadcast = d->link_broadcast};
    return assemble(s, d, whole);
}

/* Describe an expired datagram for the caller, keeping fragment zero (if it came) until the next
 * call, and free the rest. */
static void expire(struct ts_reass *r, struct dgram *d, struct ts_reass_expired *x)
{
    *x = (struct ts_reass_expired){.has_first = d->frags && d->frags->off == 0,
                                   .first.link_broadcast = d->link_broadcast};
    if (x->has_first) {
        struct frag *first = d->frags;
        d->frags = first->next;
        r->expired = first;
        x->first.ip = (struct ipv4_hdr){
            .hdr_len = IPV4_HDR_LEN,
            .tos = d->tos,
            .total_len = (uint16_t)(IPV4_HDR_LEN + first->len),
            .id = d->id,
            .mf = true,
            .ttl = d->ttl,
            .proto = d->proto,
            .src = d->src,
            .dst = d->dst,
            .payload = first->data,
            .payload_len = first->len,
        };
    }
    dgram_free(r, d);
}

bool ts_reass_poll(struct ts_stack *s, ts_time_t now, ts_time_t *next,
                   struct ts_reass_expired *expired)
{
    struct ts_reass *r = s->reass;
    release_returned(r);
    *next = TS_TIME_NEVER;
    for (int i = 0; i < REASS_MAX_DGRAMS; i++) {
        struct dgram *d = &r->d[i];
        if (!d->used)
            continue;
        if (d->expires > now) {
            *next = ts_time_min(*next, d->expires);
            continue;
        }
        ts_count(s, TS_C_IP_REASS_DROP_TIMEOUT);
        expire(r, d, expired);
        return true;
    }
    return false;
}
