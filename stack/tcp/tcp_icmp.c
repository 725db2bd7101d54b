/* ICMP errors about segments we sent (RFC 1122 4.2.3.9, RFC 5927, RFC 1191 path MTU discovery):
 * the conductor hands them over parsed, with the quoted TCP header. */
#include <errno.h>

#include "tcp_internal.h"
#include "wire/icmp.h"

static int tcp_unreach_errno(uint8_t code)
{
    switch (code) {
    case ICMP_UNREACH_NET:
        return ENETUNREACH;
    case ICMP_UNREACH_PROTO:
    case ICMP_UNREACH_PORT:
        return ECONNREFUSED;
    default:
        return EHOSTUNREACH;
    }
}

/* RFC 1191: lower the path MTU and resend at the new size. A message without an MTU (pre-RFC 1191
 * router) drops us to 576. RFC 5927 7.1: a forged tiny MTU would make every segment a few bytes
 * long, so like Linux (min_pmtu) we never go below 552 bytes. (Linux also clears DF then; we keep
 * it: no real path is that small.) */
static void tcp_icmp_frag_needed(struct ts_stack *s, struct ts_tcp_conn *c, uint16_t mtu)
{
    if (mtu == 0)
        mtu = TCP_DEFAULT_PMTU;
    if (mtu < TCP_MIN_PMTU)
        mtu = TCP_MIN_PMTU;
    if (mtu >= c->pmtu)
        return;
    c->pmtu = mtu;
    tcp_update_mss(c);
    if (tcp_synchronized(c->state) && seq_gt(c->snd.max, c->snd.una)) {
        c->snd.nxt = c->snd.una;
        c->rtt.timing = false;
        tcp_output(s, c);
    }
}

/* The connection an error is about, if it is believable: RFC 5927 4.1, only errors quoting a
 * sequence number we have in flight. */
static struct ts_tcp_conn *tcp_icmp_conn(struct ts_stack *s, const struct ts_icmp_error *e)
{
    struct tcp_hdr q;
    if (!tcp_parse_quoted(e->l4, e->l4_len, &q))
        return NULL;
    struct ts_tcp_conn *c = tcp_lookup(s, e->src, q.sport, e->dst, q.dport);
    if (!c || c->is_listener)
        return NULL;
    if (!seq_in(q.seq, c->snd.una, c->snd.max) &&
        !(c->snd.una == c->snd.max && q.seq == c->snd.una))
        return NULL;
    return c;
}

/* What error e does to c. */
static void tcp_icmp_apply(struct ts_stack *s, struct ts_tcp_conn *c, const struct ts_icmp_error *e)
{
    int err = 0;
    if (e->type == ICMP_DEST_UNREACH) {
        if (e->code == ICMP_UNREACH_NEEDFRAG) {
            tcp_icmp_frag_needed(s, c, e->mtu);
            return;
        }
        err = tcp_unreach_errno(e->code);
    } else if (e->type == ICMP_TIME_EXCEEDED) {
        err = EHOSTUNREACH;
    } else if (e->type == ICMP_PARAM_PROBLEM) {
        err = EPROTO;
    } else {
        return; /* source quench etc.: ignored (RFC 6633) */
    }
    if (c->state == TS_TCP_SYN_SENT && e->type == ICMP_DEST_UNREACH) {
        /* A connect in progress fails with the matching error, as on Linux. */
        tcp_enter_closed(s, c, err, "rcvd ICMP unreachable");
    } else {
        /* RFC 5927 7.2 (as Linux, FreeBSD): in SYN_RECV and the synchronized states (the only
         * others a connection found here can be in) hard errors are soft too. A blind attacker who
         * hits the window of a bulk transfer would otherwise reset it with one forged datagram, and
         * the peer's own stack says "no such port" with a RST. */
        c->soft_err = err; /* RFC 1122 4.2.3.9: soft; reported if we time out */
    }
}

void ts_tcp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    struct ts_tcp_conn *c = tcp_icmp_conn(s, e);
    if (!c) {
        ts_count(s, TS_C_TCP_ICMP_DROP_NO_CONN);
        return;
    }
    ts_count(s, TS_C_TCP_ICMP_ERR);
    tcp_icmp_apply(s, c, e);
    tcp_conn_done(s, c);
}
