/* What stat tools show of a running stack, and how it is written: the records a runtime keeps
 * (the last trace events, numbered, and the last ended connections with their whole path of
 * states) and the formatters shared by the control socket (include/tapstack/control.h),
 * tapstack-stat, the apps' --trace and anything that serves the same data (an HTTP page).
 *
 * Formatters are pure: they take a snapshot (copied out under the runtime's lock) and append
 * text or JSON to a growable buffer. They never touch a stack, so they are safe without a lock.
 *
 * Text layouts:
 *   sockets   netstat -tan's: "Proto Recv-Q Send-Q Local Address Foreign Address State", states
 *             as netstat spells them; a listener shows its accept queue as Recv-Q and its backlog
 *             as Send-Q (Linux's netstat/ss do the same). With TS_STAT_INFO each TCP row gets an
 *             indented line of internals in ss -i's key:value manner.
 *   trace     one line per state change (ts_stat_trace_line):
 *               "12.345678 10.0.0.2:80 > 10.0.0.1:41234 SYN_RECV -> ESTABLISHED (rcvd ACK of SYN)
 *                after 0.412 ms"   (one line)
 *             time = the stack's clock in seconds (CLOCK_MONOTONIC, as --pcap files), local >
 *             remote, old -> new, (cause), and how long the connection spent in the old state.
 *   history   per ended connection a header line and one line per state change.
 *
 * JSON: every document is one line, an object with "kind" ("sockets", "counters", "trace",
 * "history", "hello") and the keys listed at each formatter; times are integer microseconds
 * (keys ending in _us), addresses "a.b.c.d" and "a.b.c.d:port". Keys are only ever added. */
#ifndef TAPSTACK_STAT_H
#define TAPSTACK_STAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/stack.h"
#include "tapstack/tcp.h"
#include "tapstack/udp.h"

/* ---- a growable text buffer ---- */

struct ts_sbuf {
    char *p; /* NUL-terminated while len < cap */
    size_t len, cap;
    bool oom; /* an append failed: the text is incomplete */
};
void ts_sbuf_printf(struct ts_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ts_sbuf_append(struct ts_sbuf *b, const char *s, size_t n);
/* s as a JSON string, quotes included; control and non-ASCII bytes as \u00XX (always valid). */
void ts_sbuf_json_str(struct ts_sbuf *b, const char *s);
void ts_sbuf_free(struct ts_sbuf *b);

/* ---- records ---- */

/* One trace event as the runtime keeps it: numbered 1, 2, ... in order (seq). */
struct ts_stat_event {
    uint64_t seq;
    struct ts_trace_event ev; /* ev.cause is the stack's static string */
};

/* One step of a connection's path: from -> to at time, after in_from in `from`, because cause. */
struct ts_stat_step {
    ts_time_t time, in_from;
    const char *cause;
    uint8_t from, to; /* enum ts_tcp_state */
};

/* A connection's path of states. A path longer than TS_STAT_PATH_MAX keeps its first
 * TS_STAT_PATH_MAX - 1 steps and its latest one (truncated). */
#define TS_STAT_PATH_MAX 12
struct ts_stat_conn {
    uint64_t conn_id;
    uint64_t ended_seq; /* history: 1, 2, ... in the order connections ended */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    ts_time_t start, end; /* time of its first and last recorded step */
    uint8_t nsteps;
    bool truncated;
    struct ts_stat_step steps[TS_STAT_PATH_MAX];
};

/* ---- formatters ---- */

/* The trace line above, without a newline. Returns the length it needed (like snprintf). */
size_t ts_stat_trace_line(const struct ts_trace_event *ev, char *buf, size_t cap);
/* "12.345 ms": a duration as milliseconds with 3 decimals (what trace lines use). */
const char *ts_stat_ms(ts_time_t us, char buf[32]);
/* The trace line, a newline, and with explain an indented sentence about the new state. */
void ts_stat_fmt_event(struct ts_sbuf *b, const struct ts_trace_event *ev, bool explain);
/* One event as a JSON object (no newline): {"seq","time_us","conn_id","local","remote","laddr",
 * "lport","raddr","rport","from","to","in_from_us","cause"} and "explain" (the new state's
 * sentence) when asked. */
void ts_stat_fmt_event_json(struct ts_sbuf *b, const struct ts_stat_event *e, bool explain);

/* Paging through numbered records: what a "since" request found. */
struct ts_stat_page {
    uint64_t first, last; /* oldest and newest number still kept (0, 0: none yet) */
    uint64_t lost;        /* records after `since` that were overwritten before being read */
    uint64_t next;        /* pass as since to continue (the last number returned, or since) */
};
/* {"kind":"trace","first":N,"last":N,"lost":N,"next":N,"events":[event...]} */
void ts_stat_fmt_events_json(struct ts_sbuf *b, const struct ts_stat_event *ev, size_t n,
                             const struct ts_stat_page *pg, bool explain);

/* Which sockets a table shows. Neither LISTEN nor CONNS means CONNS (netstat's default). */
enum {
    TS_STAT_TCP = 1 << 0,    /* TCP sockets (neither TCP nor UDP: both) */
    TS_STAT_UDP = 1 << 1,    /* UDP endpoints */
    TS_STAT_LISTEN = 1 << 2, /* listeners (and unconnected UDP) */
    TS_STAT_CONNS = 1 << 3,  /* everything else */
    TS_STAT_INFO = 1 << 4,   /* internals of each TCP socket (text; JSON always has them) */
};
struct ts_stat_sockets {
    ts_time_t now;
    const struct ts_tcp_info *tcp;
    size_t ntcp;
    const struct ts_udp_info *udp;
    size_t nudp;
    bool truncated;   /* more existed than were copied */
    size_t offset;    /* a page: the first TCP row's place among those the filter shows */
    size_t total_tcp; /* how many TCP rows the filter shows in all (0: not known) */
};
/* Does the filter show this row? */
bool ts_stat_show_tcp(const struct ts_tcp_info *t, unsigned flags);
bool ts_stat_show_udp(const struct ts_udp_info *u, unsigned flags);
/* netstat's layout: a title line, the column header, listeners first, then the others. A page
 * after the first (offset > 0) has no title or header; a page with more after it ends with
 * "# more: offset=N of TOTAL TCP rows" (the offset to ask for next). */
void ts_stat_fmt_sockets(struct ts_sbuf *b, const struct ts_stat_sockets *s, unsigned flags);
/* {"kind":"sockets","now_us":N,"truncated":B,"offset":N,"total_tcp":N,"next_offset":N|null,
 * "tcp":[...],"udp":[...]}: each TCP object has
 * "id","proto":"tcp","state","state_rfc","local","remote","laddr","lport","raddr","rport",
 * "recv_q","send_q" (netstat's columns), "state_age_us","timer","timer_us","rto_us","srtt_us",
 * "rttvar_us","cwnd","ssthresh","mss_send","mss_recv", "cc" ("newreno","cubic","bbr"; not on
 * listeners and TIME_WAIT records), "bbr" ({"bw_bytes_per_s","min_rtt_us","mode"}, with BBR),
 * "snd_una","snd_nxt","snd_wnd","rcv_nxt",
 * "rcv_wnd" (sequence numbers relative to ISS/IRS),"snd_wscale","rcv_wscale","ts_ok","sack_ok",
 * "bytes_sent","bytes_acked","bytes_received","segs_in","segs_out","retransmits","orphan",
 * "send_queued","recv_queued","accept_queued","syn_queued","backlog"; each UDP object "proto":
 * "udp","state" ("ESTABLISHED" when connected, else ""),"local","remote","laddr","lport","raddr",
 * "rport","recv_q","send_q","datagrams". */
void ts_stat_fmt_sockets_json(struct ts_sbuf *b, const struct ts_stat_sockets *s, unsigned flags);

/* The TCP table's summary (tcp.h): entries per state, compact TIME_WAIT records, memory, timers.
 * Text: one "name value" line each; JSON: {"kind":"summary","total":N,"states":{"ESTABLISHED":N,
 * ...},"time_wait_compact":N,"conn_bytes":N,"time_wait_bytes":N,"buffer_bytes":N,
 * "buffer_cache_bytes":N,"hash_bytes":N,"timers_running":N,"timer_runs":N}. */
void ts_stat_fmt_summary(struct ts_sbuf *b, const struct ts_tcp_summary *s);
void ts_stat_fmt_summary_json(struct ts_sbuf *b, const struct ts_tcp_summary *s);

/* Counters: vals[TS_C_COUNT]. Text: "name value  # description", non-zero ones unless all.
 * JSON: {"kind":"counters","counters":{"name":value,...}} (every counter). */
void ts_stat_fmt_counters(struct ts_sbuf *b, const uint64_t *vals, bool all);
void ts_stat_fmt_counters_json(struct ts_sbuf *b, const uint64_t *vals);

/* Ended connections, oldest first. now: to say how long ago each ended. */
void ts_stat_fmt_history(struct ts_sbuf *b, const struct ts_stat_conn *c, size_t n, ts_time_t now);
/* {"kind":"history","first","last","lost","next","now_us","connections":[{"conn_id",
 * "ended_seq","local","remote","laddr","lport","raddr","rport","start_us","end_us","truncated",
 * "path":[{"time_us","from","to","in_from_us","cause"}]}]} */
void ts_stat_fmt_history_json(struct ts_sbuf *b, const struct ts_stat_conn *c, size_t n,
                              const struct ts_stat_page *pg, ts_time_t now);

#endif
