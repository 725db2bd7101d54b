/* ARP (RFC 826) with the host rules of RFC 1122 2.3.2: a bounded cache whose entries expire,
 * requests retried at most once per second, a bounded queue of datagrams waiting for an answer,
 * and a clean failure when nobody answers: ts_arp_poll hands the waiting datagrams back to the
 * conductor, which tells their transports (ICMP host-unreachable semantics). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire/arp.h"

#define ARP_CACHE_SIZE 64
/* RFC 1122 2.3.2.1 leaves the timeout to us; Linux keeps an unconfirmed entry usable for about a
 * minute too. After that the next datagram resolves the address again. */
#define ARP_ENTRY_TTL (60 * TS_SEC)
/* RFC 1122 2.3.2.1: at most one request per second per destination. */
#define ARP_RETRY_INTERVAL (1 * TS_SEC)
#define ARP_MAX_TRIES      3
/* RFC 1122 2.3.2.1 "unicast poll": an entry in use is confirmed with a request sent straight to
 * the MAC we know during its last seconds, so a busy flow never stalls on re-resolution. */
#define ARP_REFRESH_BEFORE (5 * TS_SEC)
/* RFC 1122 2.3.2.2: SHOULD keep at least one datagram per unresolved destination. We keep a few
 * (a TCP initial window) per destination, with a global bound against many destinations. */
#define ARP_QUEUE_PER_ENTRY 16
#define ARP_QUEUE_TOTAL     256

struct arp_entry {
    uint32_t ip; /* 0: free slot */
    uint8_t mac[6];
    bool resolved;
    ts_time_t expires;   /* resolved: when the mapping goes stale */
    ts_time_t last_used; /* for LRU eviction */
    ts_time_t next_try;  /* pending: when the next request is due */
    uint8_t tries;       /* pending: requests sent so far */
    struct ts_arp_frame *qhead, *qtail;
    uint16_t qlen;
};

struct ts_arp {
    struct arp_entry e[ARP_CACHE_SIZE];
    size_t queued; /* frames in all pending queues */
};

struct ts_arp *ts_arp_new(void)
{
    return calloc(1, sizeof(struct ts_arp));
}

void ts_arp_frames_free(struct ts_arp_frame *q)
{
    while (q) {
        struct ts_arp_frame *n = q->next;
        free(q);
        q = n;
    }
}

void ts_arp_free(struct ts_arp *a)
{
    if (!a)
        return;
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        ts_arp_frames_free(a->e[i].qhead);
    free(a);
}

/* Take the pending queue off an entry (the caller frees or sends it). */
static struct ts_arp_frame *detach_queue(struct ts_arp *a, struct arp_entry *e)
{
    struct ts_arp_frame *q = e->qhead;
    a->queued -= e->qlen;
    e->qhead = e->qtail = NULL;
    e->qlen = 0;
    return q;
}

static struct arp_entry *find(struct ts_arp *a, uint32_t ip)
{
    for (int i = 0; i < ARP_CACHE_SIZE; i++)
        if (a->e[i].ip == ip)
            return &a->e[i];
    return NULL;
}

static int send_arp(struct ts_stack *s, uint16_t op, const uint8_t eth_dst[6], const uint8_t tha[6],
                    uint32_t tpa)
{
    uint8_t frame[ETH_HDR_LEN + ARP_PKT_LEN];
    struct arp_pkt p = {.op = op, .spa = s->cfg.ip, .tpa = tpa};
    memcpy(p.sha, s->cfg.mac, 6);
    memcpy(p.tha, tha, 6);
    arp_emit(&p, frame + ETH_HDR_LEN, ARP_PKT_LEN);
    int rc = ts_link_send(s, eth_dst, ETH_TYPE_ARP, frame, sizeof frame, NULL);
    if (rc == 0)
        ts_count(s, TS_C_ARP_TX);
    return rc;
}

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6];

static void send_request(struct ts_stack *s, struct arp_entry *e)
{
    if (send_arp(s, ARP_OP_REQUEST, bcast_mac, zero_mac, e->ip) == 0)
        ts_count(s, TS_C_ARP_REQUEST_SENT);
    e->tries++;
    e->next_try = s->now + ARP_RETRY_INTERVAL;
}

void ts_arp_announce(struct ts_stack *s)
{
    /* Gratuitous ARP: a request for our own address, so neighbours that already know us update
     * their caches (RFC 5227 3 calls it an announcement). */
    send_arp(s, ARP_OP_REQUEST, bcast_mac, zero_mac, s->cfg.ip);
}

/* Send every datagram that waited for this entry. */
static void flush_queue(struct ts_stack *s, struct arp_entry *e)
{
    uint8_t mac[6];
    memcpy(mac, e->mac, 6);
    struct ts_arp_frame *q = detach_queue(s->arp, e);
    while (q) {
        struct ts_arp_frame *n = q->next;
        ts_link_send(s, mac, ETH_TYPE_IPV4, q->data, q->len, &q->meta);
        free(q);
        q = n;
    }
}

/* A slot for a new entry: a free one, else the least recently used (resolved entries first:
 * evicting a pending one loses its queued datagrams). */
static struct arp_entry *alloc_entry(struct ts_stack *s)
{
    struct ts_arp *a = s->arp;
    struct arp_entry *victim = NULL;
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &a->e[i];
        if (e->ip == 0)
            return e;
        if (!victim || (e->resolved && !victim->resolved) ||
            (e->resolved == victim->resolved && e->last_used < victim->last_used))
            victim = e;
    }
    ts_count(s, TS_C_ARP_CACHE_EVICT);
    struct ts_arp_frame *q = detach_queue(a, victim);
    for (struct ts_arp_frame *f = q; f; f = f->next)
        ts_count(s, TS_C_ARP_DROP_QUEUE_FULL);
    ts_arp_frames_free(q);
    memset(victim, 0, sizeof *victim);
    return victim;
}

/* Record ip -> mac as fresh and send whatever waited for it. */
static void set_resolved(struct ts_stack *s, struct arp_entry *e, const uint8_t mac[6])
{
    memcpy(e->mac, mac, 6);
    e->resolved = true;
    e->expires = s->now + ARP_ENTRY_TTL;
    e->tries = 0;
    if (e->qhead)
        flush_queue(s, e);
}

static bool valid_sender(const struct ts_stack *s, const struct arp_pkt *p)
{
    if (eth_is_multicast(p->sha) || memcmp(p->sha, zero_mac, 6) == 0)
        return false;
    /* A broadcast or multicast protocol address is nobody's, and our own address claimed by
     * another MAC is a conflict we must not learn from. */
    if (ts_ip_is_broadcast(s, p->spa) || ipv4_is_multicast(p->spa) || p->spa == s->cfg.ip)
        return false;
    return true;
}

void ts_arp_input(struct ts_stack *s, const struct ts_link_rx *f)
{
    struct arp_pkt p;
    ts_count(s, TS_C_ARP_RX);
    enum ts_counter why = arp_parse(f->payload, f->len, &p);
    if (why != TS_C_OK) {
        ts_count(s, why);
        return;
    }
    bool for_us = p.tpa == s->cfg.ip;
    /* RFC 5227 2.1.1: a probe has sender address 0; it teaches nothing but is answered. */
    bool probe = p.spa == 0;
    if (!probe && !valid_sender(s, &p)) {
        ts_count(s, TS_C_ARP_DROP_BAD_SENDER);
        return;
    }
    bool merged = false;
    if (!probe) {
        /* RFC 826 "Packet reception": update the sender if we have it ... */
        struct arp_entry *e = find(s->arp, p.spa);
        if (e) {
            set_resolved(s, e, p.sha);
            merged = true;
        } else if (for_us) {
            /* ... and add it when we are the target (it is about to talk to us). */
            e = alloc_entry(s);
            e->ip = p.spa;
            e->last_used = s->now;
            set_resolved(s, e, p.sha);
            merged = true;
        }
    }
    if (!for_us) {
        if (!merged)
            ts_count(s, TS_C_ARP_DROP_NOT_FOR_US);
        return;
    }
    if (p.op == ARP_OP_REQUEST) {
        if (send_arp(s, ARP_OP_REPLY, p.sha, p.sha, p.spa) == 0)
            ts_count(s, TS_C_ARP_REPLY_SENT);
    }
}

int ts_arp_output(struct ts_stack *s, uint32_t nexthop, uint8_t *frame, size_t len,
                  const struct ts_frame_meta *meta)
{
    struct ts_arp *a = s->arp;
    if (ts_ip_is_broadcast(s, nexthop))
        return ts_link_send(s, bcast_mac, ETH_TYPE_IPV4, frame, len, meta);
    struct arp_entry *e = find(a, nexthop);
    if (e && e->resolved && e->expires > s->now) {
        e->last_used = s->now;
        if (e->expires - s->now <= ARP_REFRESH_BEFORE && e->next_try <= s->now) {
            if (send_arp(s, ARP_OP_REQUEST, e->mac, zero_mac, e->ip) == 0)
                ts_count(s, TS_C_ARP_REQUEST_SENT);
            e->next_try = s->now + ARP_RETRY_INTERVAL;
        }
        return ts_link_send(s, e->mac, ETH_TYPE_IPV4, frame, len, meta);
    }
    bool is_new = false;
    if (!e) {
        e = alloc_entry(s);
        e->ip = nexthop;
        is_new = true;
    } else if (e->resolved) {
        /* stale: resolve again from scratch */
        e->resolved = false;
        e->tries = 0;
        is_new = true;
    }
    e->last_used = s->now;
    if (e->qlen >= ARP_QUEUE_PER_ENTRY || a->queued >= ARP_QUEUE_TOTAL) {
        ts_count(s, TS_C_ARP_DROP_QUEUE_FULL);
    } else {
        struct ts_arp_frame *q = malloc(sizeof *q + len);
        if (!q) {
            ts_count(s, TS_C_ARP_DROP_QUEUE_FULL);
        } else {
            memcpy(q->data, frame, len);
            q->len = len;
            q->meta = meta ? *meta : (struct ts_frame_meta){0};
            q->next = NULL;
            if (e->qtail)
                e->qtail->next = q;
            else
                e->qhead = q;
            e->qtail = q;
            e->qlen++;
            a->queued++;
        }
    }
    if (is_new)
        send_request(s, e);
    return 0; /* RFC 1122 2.3.2.2: waiting for resolution is not an error */
}

/* Resolution failed (RFC 1122 2.3.2.1: we stop asking after ARP_MAX_TRIES): the entry's slot is
 * freed and its queue handed to the caller, who reports each datagram to its transport. */
static void fail(struct ts_stack *s, struct arp_entry *e, struct ts_arp_failure *failed)
{
    ts_count(s, TS_C_ARP_RESOLVE_FAILED);
    failed->ip = e->ip;
    failed->frames = detach_queue(s->arp, e);
    memset(e, 0, sizeof *e);
}

bool ts_arp_poll(struct ts_stack *s, ts_time_t now, ts_time_t *next, struct ts_arp_failure *failed)
{
    struct ts_arp *a = s->arp;
    *next = TS_TIME_NEVER;
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        struct arp_entry *e = &a->e[i];
        if (e->ip == 0)
            continue;
        if (e->resolved) {
            if (e->expires <= now) {
                memset(e, 0, sizeof *e); /* resolved entries hold no queue */
                continue;
            }
            *next = ts_time_min(*next, e->expires);
            continue;
        }
        if (e->next_try > now) {
            *next = ts_time_min(*next, e->next_try);
            continue;
        }
        if (e->tries < ARP_MAX_TRIES) {
            send_request(s, e);
            *next = ts_time_min(*next, e->next_try);
            continue;
        }
        /* Entries before this one are done for now (a request sent moved next_try on), so the
         * next call picks up where this one stopped. */
        fail(s, e, failed);
        return true;
    }
    return false;
}

bool ts_arp_lookup(const struct ts_stack *s, uint32_t ip, uint8_t mac[6])
{
    for (int i = 0; i < ARP_CACHE_SIZE; i++) {
        const struct arp_entry *e = &s->arp->e[i];
        if (e->ip == ip && e->resolved && e->expires > s->now) {
            if (mac)
                memcpy(mac, e->mac, 6);
            return true;
        }
    }
    return false;
}
