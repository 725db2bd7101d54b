/* Compact TIME-WAIT (RFC 9293 3.3.2, 3.10.7.4; RFC 6191). A connection that reached TIME-WAIT
 * after its owner let go needs for its 2*MSL only its 4-tuple, its sequence numbers, its
 * timestamp state, the window its ACKs carry and its deadline: so, as Linux turns such a socket
 * into a timewait socket, its block (over a kilobyte) becomes a record of about a hundred bytes.
 * A server that closes first (HTTP/1.0) keeps one per request for a minute; with records that is
 * a few megabytes at tens of thousands of requests a second.
 *
 * The records wait in a list of their own, in deadline order: every one waits the same 2*MSL, so
 * a new or restarted one goes at the end and the poll takes the due ones from the front. At
 * tcp_max_tw records the oldest ends early (counted), as Linux stops making timewait sockets past
 * tcp_max_tw_buckets. A block whose owner still holds it stays a block until the owner lets go.
 *
 * A segment for a record meets the same rules as a block in TIME-WAIT: the record is expanded
 * into a temporary block for the segment (tcp_tw_expand), which runs RFC 9293 3.10.7.4's steps
 * (re-ACK a retransmitted FIN and restart 2MSL, RFC 1337 ignore a RST, PAWS, challenge ACKs), and
 * what the segment changed is kept (tcp_tw_absorb). A SYN that may reopen the 4-tuple (RFC 6191)
 * is looked at first, by tcp_input.c. ICMP errors about a record are not delivered: nothing in
 * TIME-WAIT would act on them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_internal.h"

#define TW_OF_HNODE(n) ((struct tcp_tw *)(void *)((char *)(n)-offsetof(struct tcp_tw, hnode)))

static void tw_list_unlink(struct ts_tcp_table *t, struct tcp_tw *tw)
{
    if (tw->prev)
        tw->prev->next = tw->next;
    else
        t->tw_head = tw->next;
    if (tw->next)
        tw->next->prev = tw->prev;
    else
        t->tw_tail = tw->prev;
    tw->next = tw->prev = NULL;
}

/* In deadline order, from the end: a new record's 2MSL ends last, unless its block entered
 * TIME-WAIT a while before its owner let go. */
static void tw_list_insert(struct ts_tcp_table *t, struct tcp_tw *tw)
{
    struct tcp_tw *after = t->tw_tail;
    while (after && after->deadline > tw->deadline)
        after = after->prev;
    tw->prev = after;
    tw->next = after ? after->next : t->tw_head;
    if (tw->next)
        tw->next->prev = tw;
    else
        t->tw_tail = tw;
    if (after)
        after->next = tw;
    else
        t->tw_head = tw;
}

struct tcp_tw *tcp_tw_lookup_h(struct ts_stack *s, uint32_t h, uint32_t laddr, uint16_t lport,
                               uint32_t raddr, uint16_t rport)
{
    const struct tcp_htab *t = &s->tcp->tw_hash;
    for (struct tcp_hnode *n = t->b[h & t->mask]; n; n = n->next) {
        struct tcp_tw *tw = TW_OF_HNODE(n);
        if (n->hash == h && tw->laddr == laddr && tw->lport == lport && tw->raddr == raddr &&
            tw->rport == rport)
            return tw;
    }
    return NULL;
}

void tcp_tw_close(struct ts_stack *s, struct tcp_tw *tw, const char *cause)
{
    struct ts_tcp_table *t = s->tcp;
    /* The one change a record can make, TIME_WAIT -> CLOSE, traced as the state door traces a
     * block's (ts_tcp_set_state). */
    tcp_trace_state(s, tw->id, tw->laddr, tw->lport, tw->raddr, tw->rport, TS_TCP_TIME_WAIT,
                    TS_TCP_CLOSE, tw->since, cause);
    tcp_htab_remove(&t->tw_hash, &tw->hnode);
    tw_list_unlink(t, tw);
    t->tw_count--;
    t->by_state[TS_TCP_TIME_WAIT]--;
    free(tw);
}

bool tcp_tw_from_conn(struct ts_stack *s, struct ts_tcp_conn *c)
{
    struct ts_tcp_table *t = s->tcp;
    struct tcp_tw *tw = malloc(sizeof(*tw));
    if (!tw)
        return false; /* it stays a block: more memory, same behaviour */
    uint32_t max = s->cfg.tcp_max_tw ? s->cfg.tcp_max_tw : TCP_MAX_TW_DEFAULT;
    if (t->tw_count >= max && t->tw_head) {
        ts_count(s, TS_C_TCP_TIME_WAIT_RECYCLED);
        tcp_tw_close(s, t->tw_head, "TIME_WAIT recycled: tcp_max_tw reached");
    }
    *tw = (struct tcp_tw){
        .id = c->id,
        .since = c->state_since,
        .deadline = c->timers.wait,
        .laddr = c->laddr,
        .raddr = c->raddr,
        .lport = c->lport,
        .rport = c->rport,
        .snd_nxt = c->snd.max,
        .rcv_nxt = c->rcv.nxt,
        .max_wnd = c->snd.max_wnd,
        .ts_recent = c->ts_recent,
        .ts_offset = c->ts_offset,
        .wscale = c->ws_ok ? c->rcv.wscale : 0,
        .ts_ok = c->ts_ok,
    };
    /* The window field the block's ACKs carry (its rings are gone: the whole buffer), so that
     * the record's ACKs are the block's. */
    tw->wnd = tcp_rcv_window(c);
    tcp_conn_free(s, c);
    tcp_htab_insert(&t->tw_hash, &tw->hnode,
                    tcp_tuple_hash(s, tw->laddr, tw->lport, tw->raddr, tw->rport));
    tw_list_insert(t, tw);
    t->tw_count++;
    t->by_state[TS_TCP_TIME_WAIT]++;
    return true;
}

void tcp_tw_expand(struct ts_stack *s, const struct tcp_tw *tw, struct ts_tcp_conn *c)
{
    tcp_conn_init(s, c, NULL);
    c->id = tw->id;
    c->state = TS_TCP_TIME_WAIT;
    c->state_since = tw->since;
    c->orphan = true;
    c->laddr = tw->laddr;
    c->raddr = tw->raddr;
    c->lport = tw->lport;
    c->rport = tw->rport;
    /* Everything we sent, the FIN last, is acknowledged. */
    c->snd.una = c->snd.nxt = c->snd.max = tw->snd_nxt;
    c->snd.buf_seq = tw->snd_nxt - 1;
    c->snd.fin_queued = true;
    c->snd.max_wnd = tw->max_wnd;
    c->rcv.nxt = c->rcv.last_ack_sent = tw->rcv_nxt;
    c->rcv.fin_rcvd = true;
    /* A window of exactly what the record's ACKs advertise (tcp_rcv_window gives it back). */
    c->ws_ok = true;
    c->rcv.wscale = tw->wscale;
    c->opts.rcvbuf = (uint32_t)tw->wnd << tw->wscale;
    c->rcv.adv = c->rcv.adv_seen = tw->rcv_nxt + c->opts.rcvbuf;
    c->ts_ok = tw->ts_ok;
    c->ts_recent = tw->ts_recent;
    c->ts_recent_age = s->now; /* TS.Recent was set within this 2*MSL: never 24 days old */
    c->ts_offset = tw->ts_offset;
    c->timers.wait = tw->deadline;
}

void tcp_tw_absorb(struct ts_stack *s, struct tcp_tw *tw, const struct ts_tcp_conn *c)
{
    tw->ts_recent = c->ts_recent;
    if (c->timers.wait != tw->deadline && c->timers.wait != TS_TIME_NEVER) {
        /* A retransmitted FIN restarted 2MSL: to the end of the list. */
        tw_list_unlink(s->tcp, tw);
        tw->deadline = c->timers.wait;
        tw_list_insert(s->tcp, tw);
    }
}

ts_time_t tcp_tw_expire(struct ts_stack *s, ts_time_t now)
{
    struct ts_tcp_table *t = s->tcp;
    while (t->tw_head && t->tw_head->deadline <= now)
        tcp_tw_close(s, t->tw_head, "2MSL timer expired");
    return t->tw_head ? t->tw_head->deadline : TS_TIME_NEVER;
}

void tcp_tw_get_info(const struct tcp_tw *tw, struct ts_tcp_info *i, ts_time_t now)
{
    /* What a record knows: no queues, counters or RTT are kept for TIME_WAIT. */
    memset(i, 0, sizeof(*i));
    i->id = tw->id;
    i->state = TS_TCP_TIME_WAIT;
    i->state_age = now > tw->since ? now - tw->since : 0;
    i->laddr = tw->laddr;
    i->raddr = tw->raddr;
    i->lport = tw->lport;
    i->rport = tw->rport;
    i->rcv_wnd = (uint32_t)tw->wnd << tw->wscale;
    i->rcv_wscale = tw->wscale;
    i->ts_ok = tw->ts_ok;
    i->timer = tw->deadline > now ? tw->deadline - now : 0;
    i->timer_name = "time-wait";
    i->orphan = true;
}

void tcp_tw_free_all(struct ts_tcp_table *t)
{
    struct tcp_tw *tw = t->tw_head;
    while (tw) {
        struct tcp_tw *n = tw->next;
        free(tw);
        tw = n;
    }
    t->tw_head = t->tw_tail = NULL;
    t->tw_count = 0;
}
