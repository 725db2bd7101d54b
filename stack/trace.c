/* The trace of TCP state changes: the callback a user sets, the one-line text of an event, and
 * the names of the states with their explanations in plain words. It sits below TCP, whose state
 * door (ts_tcp_set_state) emits every event, and above the utilities only. */
#include <stdio.h>

#include "internal.h"
#include "wire/tcp.h"

void ts_stack_set_trace(struct ts_stack *s, ts_trace_fn fn, void *arg)
{
    s->trace_fn = fn;
    s->trace_arg = arg;
}

void ts_stack_trace(struct ts_stack *s, const struct ts_trace_event *ev)
{
    if (s->trace_fn)
        s->trace_fn(s->trace_arg, ev);
}

void ts_stack_set_segment_hook(struct ts_stack *s, ts_segment_fn fn, void *arg)
{
    s->seg_fn = fn;
    s->seg_arg = arg;
}

void ts_stack_segment_note(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                           const struct tcp_hdr *h, bool sent)
{
    if (!s->seg_fn)
        return;
    struct ts_segment_event ev = {
        .time = s->now,
        .sent = sent,
        .laddr = laddr,
        .raddr = raddr,
        .lport = sent ? h->sport : h->dport,
        .rport = sent ? h->dport : h->sport,
        .seq = h->seq,
        .ack = h->ack,
        .flags = h->flags,
        .wnd = h->wnd,
        .len = (uint32_t)h->payload_len,
        .mss = h->opts.mss_ok ? h->opts.mss : -1,
        .wscale = h->opts.ws_ok ? (int8_t)h->opts.ws : -1,
        .sack_perm = h->opts.sack_perm,
        .ts = h->opts.ts_ok,
        .nsack = h->opts.nsack,
    };
    s->seg_fn(s->seg_arg, &ev);
}

size_t ts_trace_format(const struct ts_trace_event *ev, char *buf, size_t cap)
{
    char la[16], ra[16];
    int n = snprintf(buf, cap, "%llu.%06llu %s:%u > %s:%u %s -> %s (%s)",
                     (unsigned long long)(ev->time / TS_SEC),
                     (unsigned long long)(ev->time % TS_SEC), ts_ip_format(ev->laddr, la),
                     ev->lport, ts_ip_format(ev->raddr, ra), ev->rport, ts_tcp_state_name(ev->from),
                     ts_tcp_state_name(ev->to), ev->cause ? ev->cause : "?");
    return n < 0 ? 0 : (size_t)n;
}

struct state_text {
    const char *name, *rfc, *explain;
};

/* RFC 9293 3.3.2, in our own words. Indexed by the Linux number. */
static const struct state_text state_texts[] = {
    [TS_TCP_ESTABLISHED] = {"ESTABLISHED", "ESTABLISHED",
                            "Both sides have seen each other's SYN acknowledged: the connection "
                            "is open and data flows both ways."},
    [TS_TCP_SYN_SENT] = {"SYN_SENT", "SYN-SENT",
                         "We opened actively: our SYN is out and we wait for the peer's SYN-ACK "
                         "(or a plain SYN, for a simultaneous open)."},
    [TS_TCP_SYN_RECV] = {"SYN_RECV", "SYN-RECEIVED",
                         "A SYN arrived and we answered with our own SYN-ACK; we wait for the "
                         "ACK that completes the three-way handshake."},
    [TS_TCP_FIN_WAIT1] = {"FIN_WAIT1", "FIN-WAIT-1",
                          "Our application closed first: our FIN is sent but not yet "
                          "acknowledged; we may still receive data."},
    [TS_TCP_FIN_WAIT2] = {"FIN_WAIT2", "FIN-WAIT-2",
                          "Our FIN is acknowledged; our direction is finished and we wait for "
                          "the peer to close its own."},
    [TS_TCP_TIME_WAIT] = {"TIME_WAIT", "TIME-WAIT",
                          "Both FINs are exchanged and we closed first: we linger for 2*MSL so "
                          "a lost final ACK can be repeated and old duplicates die out."},
    [TS_TCP_CLOSE] = {"CLOSE", "CLOSED",
                      "No connection: the fictional state before a connection exists and after "
                      "it is gone."},
    [TS_TCP_CLOSE_WAIT] = {"CLOSE_WAIT", "CLOSE-WAIT",
                           "The peer closed its direction (its FIN arrived) and we wait for our "
                           "own application to close; we may still send."},
    [TS_TCP_LAST_ACK] = {"LAST_ACK", "LAST-ACK",
                         "The peer closed first and now we have too: we wait for the ACK of our "
                         "FIN, then the connection is gone."},
    [TS_TCP_LISTEN] = {"LISTEN", "LISTEN",
                       "A server waits for connection requests on a port. Only a passive open "
                       "reaches it; a connecting client never passes through LISTEN."},
    [TS_TCP_CLOSING] = {"CLOSING", "CLOSING",
                        "Both sides closed at the same time: we got the peer's FIN before the "
                        "ACK of ours, and wait for that ACK."},
};

static const struct state_text *state_text(enum ts_tcp_state st)
{
    if ((int)st < TS_TCP_ESTABLISHED || (int)st > TS_TCP_CLOSING)
        return NULL;
    return &state_texts[st];
}

const char *ts_tcp_state_name(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->name : "UNKNOWN";
}

const char *ts_tcp_state_rfc_name(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->rfc : "UNKNOWN";
}

const char *ts_tcp_state_explain(enum ts_tcp_state st)
{
    const struct state_text *t = state_text(st);
    return t ? t->explain : "Not a TCP state.";
}
