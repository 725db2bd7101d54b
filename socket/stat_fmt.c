/* Text and JSON for stat tools: see include/tapstack/stat.h. */
#include "tapstack/stat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/counters.h"

/* ---------------------------------------------------------------- buffer */

static bool sb_reserve(struct ts_sbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void ts_sbuf_append(struct ts_sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void ts_sbuf_printf(struct ts_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        ts_sbuf_append(b, small, (size_t)n);
        return;
    }
    if (!sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ts_sbuf_json_str(struct ts_sbuf *b, const char *s)
{
    ts_sbuf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            ts_sbuf_append(b, e, 2);
        } else if (*p == '\n') {
            ts_sbuf_append(b, "\\n", 2);
        } else if (*p < 0x20 || *p >= 0x7f) {
            /* Bytes >= 0x80 as their Latin-1 code point: the document stays valid JSON whatever
             * the input was (the stack's strings are ASCII). */
            ts_sbuf_printf(b, "\\u%04x", *p);
        } else {
            ts_sbuf_append(b, (const char *)p, 1);
        }
    }
    ts_sbuf_append(b, "\"", 1);
}

void ts_sbuf_free(struct ts_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- small pieces */

static const char *ep(uint32_t ip, uint16_t port, char buf[24])
{
    char a[16];
    ts_ip_format(ip, a);
    if (port)
        snprintf(buf, 24, "%s:%u", a, port);
    else
        snprintf(buf, 24, "%s:*", a);
    return buf;
}

const char *ts_stat_ms(ts_time_t us, char buf[32])
{
    snprintf(buf, 32, "%" PRIu64 ".%03" PRIu64 " ms", (uint64_t)us / 1000, (uint64_t)us % 1000);
    return buf;
}

/* "12.345s", "0.204s": seconds with 3 decimals, for ages and timers. */
static const char *secs(ts_time_t us, char buf[32])
{
    uint64_t ms = ((uint64_t)us + 500) / 1000;
    snprintf(buf, 32, "%" PRIu64 ".%03" PRIu64 "s", ms / 1000, ms % 1000);
    return buf;
}

/* "1.234ms": an RTT-like value. */
static const char *msecs(ts_time_t us, char buf[32])
{
    snprintf(buf, 32, "%" PRIu64 ".%03" PRIu64 "ms", (uint64_t)us / 1000, (uint64_t)us % 1000);
    return buf;
}

/* "3.2Gbit/s": a rate given in bytes per second, as ss prints BBR's bandwidth. */
static const char *bits(uint64_t bytes_per_s, char buf[32])
{
    double v = (double)bytes_per_s * 8;
    const char *unit = "bit/s";
    if (v >= 1e9)
        v /= 1e9, unit = "Gbit/s";
    else if (v >= 1e6)
        v /= 1e6, unit = "Mbit/s";
    else if (v >= 1e3)
        v /= 1e3, unit = "kbit/s";
    snprintf(buf, 32, "%.1f%s", v, unit);
    return buf;
}

static const char *state_name(unsigned st)
{
    return ts_tcp_state_name((enum ts_tcp_state)st);
}

static void json_key_str(struct ts_sbuf *b, const char *key, const char *val)
{
    ts_sbuf_printf(b, "\"%s\":", key);
    ts_sbuf_json_str(b, val);
}

/* "local":"ip:port","remote":..,"laddr":..,"lport":..,"raddr":..,"rport":.. */
static void json_tuple(struct ts_sbuf *b, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp)
{
    char l[24], r[24], a1[16], a2[16];
    ts_sbuf_printf(b,
                   "\"local\":\"%s\",\"remote\":\"%s\",\"laddr\":\"%s\",\"lport\":%u,"
                   "\"raddr\":\"%s\",\"rport\":%u",
                   ep(la, lp, l), ep(ra, rp, r), ts_ip_format(la, a1), lp, ts_ip_format(ra, a2),
                   rp);
}

/* ---------------------------------------------------------------- trace */

size_t ts_stat_trace_line(const struct ts_trace_event *ev, char *buf, size_t cap)
{
    char l[24], r[24], d[32];
    int n = snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64 " %s > %s %s -> %s (%s) after %s",
                     (uint64_t)ev->time / TS_SEC, (uint64_t)ev->time % TS_SEC,
                     ep(ev->laddr, ev->lport, l), ep(ev->raddr, ev->rport, r),
                     ts_tcp_state_name(ev->from), ts_tcp_state_name(ev->to),
                     ev->cause ? ev->cause : "?", ts_stat_ms(ev->in_from, d));
    return n < 0 ? 0 : (size_t)n;
}

void ts_stat_fmt_event(struct ts_sbuf *b, const struct ts_trace_event *ev, bool explain)
{
    char line[320];
    size_t n = ts_stat_trace_line(ev, line, sizeof line);
    ts_sbuf_append(b, line, n < sizeof line ? n : sizeof line - 1);
    ts_sbuf_append(b, "\n", 1);
    if (explain)
        ts_sbuf_printf(b, "    %s: %s\n", ts_tcp_state_name(ev->to), ts_tcp_state_explain(ev->to));
}

void ts_stat_fmt_event_json(struct ts_sbuf *b, const struct ts_stat_event *e, bool explain)
{
    const struct ts_trace_event *ev = &e->ev;
    ts_sbuf_printf(b, "{\"seq\":%" PRIu64 ",\"time_us\":%" PRIu64 ",\"conn_id\":%" PRIu64 ",",
                   e->seq, (uint64_t)ev->time, ev->conn_id);
    json_tuple(b, ev->laddr, ev->lport, ev->raddr, ev->rport);
    ts_sbuf_printf(b, ",\"from\":\"%s\",\"to\":\"%s\",\"in_from_us\":%" PRIu64 ",",
                   ts_tcp_state_name(ev->from), ts_tcp_state_name(ev->to), (uint64_t)ev->in_from);
    json_key_str(b, "cause", ev->cause ? ev->cause : "?");
    if (explain) {
        ts_sbuf_append(b, ",", 1);
        json_key_str(b, "explain", ts_tcp_state_explain(ev->to));
    }
    ts_sbuf_append(b, "}", 1);
}

static void json_page(struct ts_sbuf *b, const struct ts_stat_page *pg)
{
    ts_sbuf_printf(
        b, "\"first\":%" PRIu64 ",\"last\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"next\":%" PRIu64,
        pg->first, pg->last, pg->lost, pg->next);
}

void ts_stat_fmt_events_json(struct ts_sbuf *b, const struct ts_stat_event *ev, size_t n,
                             const struct ts_stat_page *pg, bool explain)
{
    ts_sbuf_append(b, "{\"kind\":\"trace\",", 16);
    json_page(b, pg);
    ts_sbuf_append(b, ",\"events\":[", 11);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ts_sbuf_append(b, ",", 1);
        ts_stat_fmt_event_json(b, &ev[i], explain);
    }
    ts_sbuf_append(b, "]}", 2);
}

/* ---------------------------------------------------------------- sockets */

static unsigned norm(unsigned flags)
{
    if (!(flags & (TS_STAT_TCP | TS_STAT_UDP)))
        flags |= TS_STAT_TCP | TS_STAT_UDP;
    if (!(flags & (TS_STAT_LISTEN | TS_STAT_CONNS)))
        flags |= TS_STAT_CONNS;
    return flags;
}

bool ts_stat_show_tcp(const struct ts_tcp_info *t, unsigned flags)
{
    flags = norm(flags);
    if (!(flags & TS_STAT_TCP))
        return false;
    return (t->state == TS_TCP_LISTEN) ? (flags & TS_STAT_LISTEN) : (flags & TS_STAT_CONNS);
}

bool ts_stat_show_udp(const struct ts_udp_info *u, unsigned flags)
{
    flags = norm(flags);
    if (!(flags & TS_STAT_UDP))
        return false;
    /* netstat counts an unconnected UDP socket as a server: shown with -l/-a only. */
    return u->raddr == 0 ? (flags & TS_STAT_LISTEN) : (flags & TS_STAT_CONNS);
}

/* netstat's row: "%-4s  %6lu %6lu %-23s %-23s %-11s" (net-tools' layout), trailing blanks cut. */
static void row(struct ts_sbuf *b, const char *proto, uint64_t rq, uint64_t sq, const char *l,
                const char *r, const char *state)
{
    char line[160];
    int n = snprintf(line, sizeof line, "%-4s  %6" PRIu64 " %6" PRIu64 " %-23s %-23s %s", proto, rq,
                     sq, l, r, state);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    while (len > 0 && line[len - 1] == ' ')
        len--;
    ts_sbuf_append(b, line, len);
    ts_sbuf_append(b, "\n", 1);
}

static void tcp_internals(struct ts_sbuf *b, const struct ts_tcp_info *t)
{
    char age[32], tm[32], rto[32], srtt[32], var[32];
    ts_sbuf_printf(b, "        id:%" PRIu64 " age:%s", t->id, secs(t->state_age, age));
    if (t->timer && t->timer_name && strcmp(t->timer_name, "-") != 0)
        ts_sbuf_printf(b, " timer:(%s,%s)", t->timer_name, secs(t->timer, tm));
    else
        ts_sbuf_printf(b, " timer:-");
    if (t->orphan)
        ts_sbuf_printf(b, " orphan");
    if (t->state == TS_TCP_LISTEN) {
        ts_sbuf_printf(b, " accept_queue:%" PRIu32 "/%" PRIu32 " syn_queue:%" PRIu32 "\n",
                       t->accept_queued, t->backlog, t->syn_queued);
        return;
    }
    char ss[24];
    if (t->ssthresh >= UINT32_MAX / 2)
        snprintf(ss, sizeof ss, "-");
    else
        snprintf(ss, sizeof ss, "%" PRIu32, t->ssthresh);
    ts_sbuf_printf(b, " rto:%s srtt:%s rttvar:%s cwnd:%" PRIu32 " ssthresh:%s mss:%" PRIu32,
                   msecs(t->rto, rto), msecs(t->srtt, srtt), msecs(t->rttvar, var), t->cwnd, ss,
                   t->mss_send);
    if (t->cc)
        ts_sbuf_printf(b, " %s", t->cc);
    if (t->bbr_mode) {
        char bw[32], mrtt[32];
        ts_sbuf_printf(b, " bbr:(bw:%s,mrtt:%s,%s)", bits(t->bbr_bw, bw),
                       msecs(t->bbr_min_rtt, mrtt), t->bbr_mode);
    }
    ts_sbuf_printf(b, "\n");
    ts_sbuf_printf(b,
                   "        snd.una:%" PRIu32 " snd.nxt:%" PRIu32 " snd.wnd:%" PRIu32
                   " rcv.nxt:%" PRIu32 " rcv.wnd:%" PRIu32 " bytes_sent:%" PRIu64
                   " bytes_acked:%" PRIu64 " bytes_received:%" PRIu64 " segs_in:%" PRIu64
                   " segs_out:%" PRIu64 " retrans:%" PRIu64 "\n",
                   t->snd_una, t->snd_nxt, t->snd_wnd, t->rcv_nxt, t->rcv_wnd, t->bytes_sent,
                   t->bytes_acked, t->bytes_received, t->segs_in, t->segs_out, t->retransmits);
}

static void tcp_row(struct ts_sbuf *b, const struct ts_tcp_info *t, unsigned flags)
{
    char l[24], r[24];
    bool lis = t->state == TS_TCP_LISTEN;
    /* Linux: a listener's Recv-Q is its accept queue and Send-Q its backlog. */
    uint64_t rq = lis ? t->accept_queued : t->recv_queued;
    uint64_t sq = lis ? t->backlog : t->send_queued;
    row(b, "tcp", rq, sq, ep(t->laddr, t->lport, l), ep(t->raddr, t->rport, r),
        ts_tcp_state_name(t->state));
    if (flags & TS_STAT_INFO)
        tcp_internals(b, t);
}

void ts_stat_fmt_sockets(struct ts_sbuf *b, const struct ts_stat_sockets *s, unsigned flags)
{
    flags = norm(flags);
    const char *what = !(flags & TS_STAT_LISTEN)  ? "w/o servers"
                       : !(flags & TS_STAT_CONNS) ? "only servers"
                                                  : "servers and established";
    if (s->offset == 0) {
        ts_sbuf_printf(b, "Active Internet connections (%s)\n", what);
        ts_sbuf_printf(
            b, "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n");
    }
    /* Listeners first, as netstat and ss list them. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s->ntcp; i++) {
            const struct ts_tcp_info *t = &s->tcp[i];
            if ((t->state == TS_TCP_LISTEN) == (pass == 0) && ts_stat_show_tcp(t, flags))
                tcp_row(b, t, flags);
        }
    for (size_t i = 0; i < s->nudp; i++) {
        const struct ts_udp_info *u = &s->udp[i];
        if (!ts_stat_show_udp(u, flags))
            continue;
        char l[24], r[24];
        row(b, "udp", u->recv_queued, 0, ep(u->laddr, u->lport, l), ep(u->raddr, u->rport, r),
            u->raddr ? "ESTABLISHED" : "");
    }
    if (s->truncated && s->total_tcp)
        ts_sbuf_printf(b, "# more: offset=%zu of %zu TCP rows\n", s->offset + s->ntcp,
                       s->total_tcp);
    else if (s->truncated)
        ts_sbuf_printf(b, "(more sockets exist than were copied)\n");
}

void ts_stat_fmt_summary(struct ts_sbuf *b, const struct ts_tcp_summary *s)
{
    ts_sbuf_printf(b, "tcp entries %zu\n", s->total);
    for (int st = 1; st < TS_TCP_NSTATES; st++)
        if (s->state[st])
            ts_sbuf_printf(b, "  %-12s %zu\n", ts_tcp_state_name((enum ts_tcp_state)st),
                           s->state[st]);
    ts_sbuf_printf(b,
                   "time_wait_compact %zu\nconn_bytes %zu\ntime_wait_bytes %zu\nbuffer_bytes %zu\n"
                   "buffer_cache_bytes %zu\nhash_bytes %zu\ntimers_running %zu\ntimer_runs %" PRIu64
                   "\n",
                   s->time_wait_compact, s->conn_bytes, s->time_wait_bytes, s->buffer_bytes,
                   s->buffer_cache_bytes, s->hash_bytes, s->timers_running, s->timer_runs);
}

void ts_stat_fmt_summary_json(struct ts_sbuf *b, const struct ts_tcp_summary *s)
{
    ts_sbuf_printf(b, "{\"kind\":\"summary\",\"total\":%zu,\"states\":{", s->total);
    bool first = true;
    for (int st = 1; st < TS_TCP_NSTATES; st++) {
        ts_sbuf_printf(b, "%s\"%s\":%zu", first ? "" : ",",
                       ts_tcp_state_name((enum ts_tcp_state)st), s->state[st]);
        first = false;
    }
    ts_sbuf_printf(b,
                   "},\"time_wait_compact\":%zu,\"conn_bytes\":%zu,\"time_wait_bytes\":%zu,"
                   "\"buffer_bytes\":%zu,\"buffer_cache_bytes\":%zu,\"hash_bytes\":%zu,"
                   "\"timers_running\":%zu,\"timer_runs\":%" PRIu64 "}",
                   s->time_wait_compact, s->conn_bytes, s->time_wait_bytes, s->buffer_bytes,
                   s->buffer_cache_bytes, s->hash_bytes, s->timers_running, s->timer_runs);
}

static void tcp_json(struct ts_sbuf *b, const struct ts_tcp_info *t)
{
    bool lis = t->state == TS_TCP_LISTEN;
    ts_sbuf_printf(b,
                   "{\"id\":%" PRIu64 ",\"proto\":\"tcp\",\"state\":\"%s\",\"state_rfc\":\"%s\",",
                   t->id, ts_tcp_state_name(t->state), ts_tcp_state_rfc_name(t->state));
    json_tuple(b, t->laddr, t->lport, t->raddr, t->rport);
    ts_sbuf_printf(b,
                   ",\"recv_q\":%" PRIu32 ",\"send_q\":%" PRIu32 ",\"state_age_us\":%" PRIu64 ",",
                   lis ? t->accept_queued : t->recv_queued, lis ? t->backlog : t->send_queued,
                   (uint64_t)t->state_age);
    json_key_str(b, "timer", t->timer_name ? t->timer_name : "-");
    ts_sbuf_printf(b,
                   ",\"timer_us\":%" PRIu64 ",\"rto_us\":%" PRIu64 ",\"srtt_us\":%" PRIu64
                   ",\"rttvar_us\":%" PRIu64 ",\"cwnd\":%" PRIu32 ",\"ssthresh\":%" PRIu32
                   ",\"mss_send\":%" PRIu32 ",\"mss_recv\":%" PRIu32,
                   (uint64_t)t->timer, (uint64_t)t->rto, (uint64_t)t->srtt, (uint64_t)t->rttvar,
                   t->cwnd, t->ssthresh, t->mss_send, t->mss_recv);
    if (t->cc) {
        ts_sbuf_printf(b, ",");
        json_key_str(b, "cc", t->cc);
    }
    if (t->bbr_mode) {
        ts_sbuf_printf(b, ",\"bbr\":{\"bw_bytes_per_s\":%" PRIu64 ",\"min_rtt_us\":%" PRIu64 ",",
                       t->bbr_bw, (uint64_t)t->bbr_min_rtt);
        json_key_str(b, "mode", t->bbr_mode);
        ts_sbuf_printf(b, "}");
    }
    ts_sbuf_printf(b,
                   ",\"snd_una\":%" PRIu32 ",\"snd_nxt\":%" PRIu32 ",\"snd_wnd\":%" PRIu32
                   ",\"rcv_nxt\":%" PRIu32 ",\"rcv_wnd\":%" PRIu32
                   ",\"snd_wscale\":%u,\"rcv_wscale\":%u,\"ts_ok\":%s,\"sack_ok\":%s",
                   t->snd_una, t->snd_nxt, t->snd_wnd, t->rcv_nxt, t->rcv_wnd, t->snd_wscale,
                   t->rcv_wscale, t->ts_ok ? "true" : "false", t->sack_ok ? "true" : "false");
    ts_sbuf_printf(b,
                   ",\"bytes_sent\":%" PRIu64 ",\"bytes_acked\":%" PRIu64
                   ",\"bytes_received\":%" PRIu64 ",\"segs_in\":%" PRIu64 ",\"segs_out\":%" PRIu64
                   ",\"retransmits\":%" PRIu64 ",\"orphan\":%s",
                   t->bytes_sent, t->bytes_acked, t->bytes_received, t->segs_in, t->segs_out,
                   t->retransmits, t->orphan ? "true" : "false");
    ts_sbuf_printf(b,
                   ",\"send_queued\":%" PRIu32 ",\"recv_queued\":%" PRIu32
                   ",\"accept_queued\":%" PRIu32 ",\"syn_queued\":%" PRIu32 ",\"backlog\":%" PRIu32
                   "}",
                   t->send_queued, t->recv_queued, t->accept_queued, t->syn_queued, t->backlog);
}

static void udp_json(struct ts_sbuf *b, const struct ts_udp_info *u)
{
    ts_sbuf_printf(b, "{\"proto\":\"udp\",\"state\":\"%s\",", u->raddr ? "ESTABLISHED" : "");
    json_tuple(b, u->laddr, u->lport, u->raddr, u->rport);
    ts_sbuf_printf(b, ",\"recv_q\":%zu,\"send_q\":0,\"datagrams\":%zu}", u->recv_queued,
                   u->recv_dgrams);
}

void ts_stat_fmt_sockets_json(struct ts_sbuf *b, const struct ts_stat_sockets *s, unsigned flags)
{
    ts_sbuf_printf(b, "{\"kind\":\"sockets\",\"now_us\":%" PRIu64 ",\"truncated\":%s,",
                   (uint64_t)s->now, s->truncated ? "true" : "false");
    if (s->truncated && s->total_tcp)
        ts_sbuf_printf(b, "\"offset\":%zu,\"total_tcp\":%zu,\"next_offset\":%zu,\"tcp\":[",
                       s->offset, s->total_tcp, s->offset + s->ntcp);
    else
        ts_sbuf_printf(b, "\"offset\":%zu,\"total_tcp\":%zu,\"next_offset\":null,\"tcp\":[",
                       s->offset, s->total_tcp);
    bool first = true;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < s->ntcp; i++) {
            const struct ts_tcp_info *t = &s->tcp[i];
            if ((t->state == TS_TCP_LISTEN) != (pass == 0) || !ts_stat_show_tcp(t, flags))
                continue;
            if (!first)
                ts_sbuf_append(b, ",", 1);
            first = false;
            tcp_json(b, t);
        }
    ts_sbuf_append(b, "],\"udp\":[", 9);
    first = true;
    for (size_t i = 0; i < s->nudp; i++) {
        if (!ts_stat_show_udp(&s->udp[i], flags))
            continue;
        if (!first)
            ts_sbuf_append(b, ",", 1);
        first = false;
        udp_json(b, &s->udp[i]);
    }
    ts_sbuf_append(b, "]}", 2);
}

/* ---------------------------------------------------------------- counters */

void ts_stat_fmt_counters(struct ts_sbuf *b, const uint64_t *vals, bool all)
{
    for (int c = 0; c < TS_C_COUNT; c++) {
        if (!all && vals[c] == 0)
            continue;
        ts_sbuf_printf(b, "%-30s %12" PRIu64 "  # %s\n", ts_counter_name((enum ts_counter)c),
                       vals[c], ts_counter_desc((enum ts_counter)c));
    }
}

void ts_stat_fmt_counters_json(struct ts_sbuf *b, const uint64_t *vals)
{
    ts_sbuf_append(b, "{\"kind\":\"counters\",\"counters\":{", 31);
    for (int c = 0; c < TS_C_COUNT; c++) {
        if (c)
            ts_sbuf_append(b, ",", 1);
        ts_sbuf_json_str(b, ts_counter_name((enum ts_counter)c));
        ts_sbuf_printf(b, ":%" PRIu64, vals[c]);
    }
    ts_sbuf_append(b, "}}", 2);
}

/* ---------------------------------------------------------------- history */

void ts_stat_fmt_history(struct ts_sbuf *b, const struct ts_stat_conn *c, size_t n, ts_time_t now)
{
    if (n == 0) {
        ts_sbuf_printf(b, "No connection has ended yet.\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ts_stat_conn *h = &c[i];
        char l[24], r[24], life[32], ago[32];
        ts_sbuf_printf(b, "conn %" PRIu64 "  %s > %s  lived %s, ended %s ago\n", h->conn_id,
                       ep(h->laddr, h->lport, l), ep(h->raddr, h->rport, r),
                       secs(h->end - h->start, life), secs(now > h->end ? now - h->end : 0, ago));
        for (unsigned k = 0; k < h->nsteps; k++) {
            const struct ts_stat_step *st = &h->steps[k];
            char d[32];
            if (h->truncated && k == h->nsteps - 1u)
                ts_sbuf_printf(b, "    ... (steps left out)\n");
            ts_sbuf_printf(b, "    %" PRIu64 ".%06" PRIu64 " %s -> %s (%s) after %s\n",
                           (uint64_t)st->time / TS_SEC, (uint64_t)st->time % TS_SEC,
                           state_name(st->from), state_name(st->to), st->cause ? st->cause : "?",
                           ts_stat_ms(st->in_from, d));
        }
    }
}

void ts_stat_fmt_history_json(struct ts_sbuf *b, const struct ts_stat_conn *c, size_t n,
                              const struct ts_stat_page *pg, ts_time_t now)
{
    ts_sbuf_append(b, "{\"kind\":\"history\",", 18);
    json_page(b, pg);
    ts_sbuf_printf(b, ",\"now_us\":%" PRIu64 ",\"connections\":[", (uint64_t)now);
    for (size_t i = 0; i < n; i++) {
        const struct ts_stat_conn *h = &c[i];
        if (i)
            ts_sbuf_append(b, ",", 1);
        ts_sbuf_printf(b, "{\"conn_id\":%" PRIu64 ",\"ended_seq\":%" PRIu64 ",", h->conn_id,
                       h->ended_seq);
        json_tuple(b, h->laddr, h->lport, h->raddr, h->rport);
        ts_sbuf_printf(
            b, ",\"start_us\":%" PRIu64 ",\"end_us\":%" PRIu64 ",\"truncated\":%s,\"path\":[",
            (uint64_t)h->start, (uint64_t)h->end, h->truncated ? "true" : "false");
        for (unsigned k = 0; k < h->nsteps; k++) {
            const struct ts_stat_step *st = &h->steps[k];
            ts_sbuf_printf(b,
                           "%s{\"time_us\":%" PRIu64
                           ",\"from\":\"%s\",\"to\":\"%s\",\"in_from_us\":%" PRIu64 ",",
                           k ? "," : "", (uint64_t)st->time, state_name(st->from),
                           state_name(st->to), (uint64_t)st->in_from);
            json_key_str(b, "cause", st->cause ? st->cause : "?");
            ts_sbuf_append(b, "}", 1);
        }
        ts_sbuf_append(b, "]}", 2);
    }
    ts_sbuf_append(b, "]}", 2);
}
