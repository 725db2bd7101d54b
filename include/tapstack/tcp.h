/* The TCP connection API that the socket shim (and tests) build on.
 *
 * No threads, no blocking: every call returns at once. The owner of a connection learns that
 * something changed through its event callback, which the stack calls from inside
 * ts_stack_input/ts_stack_poll/these calls. A callback must not call back into the stack for the
 * same connection's destruction; it should only record and wake (the shim signals a condvar).
 *
 * Lifetime: a connection handle stays valid until its owner calls ts_tcp_close() or
 * ts_tcp_abort(); after that the stack finishes the connection on its own (FIN_WAIT..TIME_WAIT)
 * and frees it. Connections waiting in a listener's accept queue belong to the listener. */
#ifndef TAPSTACK_TCP_H
#define TAPSTACK_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tapstack/stack.h"

struct ts_tcp_conn;

/* Event bits passed to the callback. */
enum {
    TS_TCP_EV_READABLE = 1 << 0,  /* data or EOF (FIN) to read */
    TS_TCP_EV_WRITABLE = 1 << 1,  /* send buffer has room */
    TS_TCP_EV_CONNECTED = 1 << 2, /* an active open completed */
    TS_TCP_EV_ACCEPT = 1 << 3,    /* a listener has a connection to accept */
    TS_TCP_EV_ERROR = 1 << 4,     /* a pending error (reset, refused, timed out) */
    TS_TCP_EV_STATE = 1 << 5,     /* the state changed (any) */
};
typedef void (*ts_tcp_event_fn)(void *user, struct ts_tcp_conn *c, unsigned events);

/* Per-connection options; ts_tcp_opts_default() gives the stack's defaults. */
struct ts_tcp_opts {
    uint32_t rcvbuf, sndbuf; /* bytes */
    bool nodelay;            /* disable Nagle */
    bool keepalive;
    ts_time_t keepidle, keepintvl; /* defaults 2 h and 75 s (RFC 1122 4.2.3.6, Linux) */
    uint32_t keepcnt;              /* default 9 */
    ts_time_t user_timeout;        /* 0 = use the retransmission count limits */
    /* TCP_MAXSEG: 0, or a bound on the MSS we announce and on the segments we send, taken when
     * the connection gets its endpoints (before connect, or on a listener for its children);
     * later changes are kept and do nothing, as on Linux. */
    uint16_t maxseg;
    /* TCP_CONGESTION: the algorithm, when cc_set; otherwise the stack's (ts_config.tcp_cc), which
     * ts_tcp_opts_default puts in cc. May change at any time, as on Linux: an established
     * connection keeps its cwnd and ssthresh, the new algorithm starts its own state from them. */
    enum ts_tcp_cc cc;
    bool cc_set;
};
void ts_tcp_opts_default(const struct ts_stack *s, struct ts_tcp_opts *o);
/* Congestion control names as Linux's TCP_CONGESTION has them: "reno" (tapstack's NewReno),
 * "cubic", "bbr". ts_tcp_cc_parse also takes "newreno"; it returns false for another name. */
const char *ts_tcp_cc_name(enum ts_tcp_cc cc);
bool ts_tcp_cc_parse(const char *name, enum ts_tcp_cc *cc);

/* Passive open on laddr:lport (laddr 0 = the stack's address). backlog bounds the accept queue.
 * Returns NULL and sets *err (EADDRINUSE, ENOMEM, EINVAL). */
struct ts_tcp_conn *ts_tcp_listen(struct ts_stack *s, uint32_t laddr, uint16_t lport, int backlog,
                                  const struct ts_tcp_opts *o, int *err, ts_time_t now);
/* Active open. lport 0 picks an ephemeral port. Sends the SYN at once.
 * Returns NULL and sets *err (EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH, ENOMEM, EINVAL). */
struct ts_tcp_conn *ts_tcp_connect(struct ts_stack *s, uint32_t laddr, uint16_t lport,
                                   uint32_t raddr, uint16_t rport, const struct ts_tcp_opts *o,
                                   int *err, ts_time_t now);
/* Take the oldest established connection from a listener's queue, or NULL (nothing waiting).
 * The room it makes resumes the oldest handshake whose final ACK found the queue full: its
 * SYN-ACK goes out again now (at the time of the stack's last call; accept takes no time). */
struct ts_tcp_conn *ts_tcp_accept(struct ts_tcp_conn *listener);
/* Is a local port bound by any TCP connection or listener (for bind() and SO_REUSEADDR)?
 * With reuse, connections in TIME_WAIT (and those with no listener) do not count. */
bool ts_tcp_port_in_use(const struct ts_stack *s, uint32_t laddr, uint16_t lport, bool reuse);

void ts_tcp_set_callback(struct ts_tcp_conn *c, ts_tcp_event_fn fn, void *user);
void *ts_tcp_user(const struct ts_tcp_conn *c);

/* Queue up to len bytes for sending. Returns the number taken (may be less than len),
 * -EAGAIN when the buffer is full, -EPIPE after shutdown/close or a reset, -ENOTCONN before the
 * connection exists, or the pending error (-ECONNRESET, -ETIMEDOUT) */
ssize_t ts_tcp_send(struct ts_tcp_conn *c, const void *buf, size_t len, ts_time_t now);
/* Take received bytes. Returns >0 bytes, 0 at end of stream (peer's FIN), -EAGAIN when nothing
 * is there yet, -ENOTCONN, or a pending error. Opens the window as the buffer drains. */
ssize_t ts_tcp_recv(struct ts_tcp_conn *c, void *buf, size_t len, ts_time_t now);
/* Close our sending direction (FIN after queued data). */
int ts_tcp_shutdown_write(struct ts_tcp_conn *c, ts_time_t now);
/* Give the connection up. Unread received data -> RST (RFC 2525 2.17); otherwise FIN after the
 * queued data and the stack finishes the close on its own. The handle is invalid afterwards. */
void ts_tcp_close(struct ts_tcp_conn *c, ts_time_t now);
/* Abortive close: RST now (SO_LINGER 0). The handle is invalid afterwards. */
void ts_tcp_abort(struct ts_tcp_conn *c, ts_time_t now);

/* Readiness, for poll(). */
size_t ts_tcp_readable(const struct ts_tcp_conn *c);   /* bytes ready to read */
bool ts_tcp_read_eof(const struct ts_tcp_conn *c);     /* peer sent FIN, all data read */
size_t ts_tcp_writable(const struct ts_tcp_conn *c);   /* free send-buffer space */
bool ts_tcp_accept_ready(const struct ts_tcp_conn *c); /* listener has a connection */
/* The pending error as a positive errno (0 = none); take=true clears it (SO_ERROR). */
int ts_tcp_error(struct ts_tcp_conn *c, bool take);
/* The earliest deadline among c's running timers (TS_TIME_NEVER: none). After a call on one
 * connection its owner compares this with when its loop planned to wake, instead of running
 * ts_stack_poll (which looks at every connection). */
ts_time_t ts_tcp_next_deadline(const struct ts_tcp_conn *c);

enum ts_tcp_state ts_tcp_state(const struct ts_tcp_conn *c);
void ts_tcp_endpoints(const struct ts_tcp_conn *c, uint32_t *laddr, uint16_t *lport,
                      uint32_t *raddr, uint16_t *rport);

/* Change options on a live connection (buffer sizes only grow the buffers). */
int ts_tcp_set_opts(struct ts_tcp_conn *c, const struct ts_tcp_opts *o, ts_time_t now);
void ts_tcp_get_opts(const struct ts_tcp_conn *c, struct ts_tcp_opts *o);

/* A TCP_INFO-like read-out. */
struct ts_tcp_info {
    uint64_t id; /* unique in this stack, never reused: 1, 2, ... in order of creation */
    enum ts_tcp_state state;
    ts_time_t state_age; /* time since the connection entered its state */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd; /* sequence numbers relative to ISS/IRS */
    uint32_t mss_send, mss_recv;
    uint32_t cwnd, ssthresh; /* bytes */
    const char *cc;          /* congestion control: "newreno", "cubic", "bbr" (NULL: none) */
    /* BBR's model (cc "bbr"): the bottleneck bandwidth (bytes/s) and RTprop it has measured, and
     * its state ("STARTUP", "DRAIN", "PROBE_BW", "PROBE_RTT"); 0 and NULL otherwise. */
    uint64_t bbr_bw;
    ts_time_t bbr_min_rtt;
    const char *bbr_mode;
    ts_time_t srtt, rttvar, rto;
    uint32_t send_queued, recv_queued; /* bytes in the buffers */
    uint8_t snd_wscale, rcv_wscale;
    bool ts_ok, sack_ok;
    uint64_t bytes_sent, bytes_received, bytes_acked;
    uint64_t segs_in, segs_out, retransmits;
    ts_time_t timer;        /* time left on the running timer (0 = none) */
    const char *timer_name; /* "retransmit", "persist", "keepalive", "time-wait", "delack", "-" */
    bool orphan;            /* closed by its owner, finishing on its own */
    /* Listeners: connections waiting for accept(), half-open ones, and the accept queue's bound
     * (netstat shows the first and the last as Recv-Q and Send-Q). */
    uint32_t accept_queued, syn_queued, backlog;
};
void ts_tcp_get_info(const struct ts_tcp_conn *c, struct ts_tcp_info *info, ts_time_t now);

/* Every connection and listener the stack has (the connection table), for stat tools: the
 * connection blocks, newest first, then the TIME_WAIT connections whose owner let go (kept as
 * compact records: their info has the addresses, state, age and timer, no queues or counters),
 * the next to end first. Returns how many there are; fills up to max. */
size_t ts_tcp_table(const struct ts_stack *s, struct ts_tcp_info *out, size_t max, ts_time_t now);

/* The table at scale (100 000 connections): a summary without listing it, and a page of it. */
struct ts_tcp_summary {
    size_t total;                 /* entries ts_tcp_table lists */
    size_t state[TS_TCP_NSTATES]; /* of them, in each state (index: enum ts_tcp_state) */
    size_t time_wait_compact;     /* TIME_WAIT entries kept as compact records */
    /* Memory: connection blocks, compact TIME_WAIT records, the data in send and receive
     * buffers (pages held), free pages kept for reuse (at most about 1 MiB), the 4-tuple hash
     * tables. */
    size_t conn_bytes, time_wait_bytes, buffer_bytes, buffer_cache_bytes, hash_bytes;
    size_t timers_running; /* blocks with a timer running (in the timer wheel) */
    uint64_t timer_runs;   /* times a block's due timers were run, since the stack started */
};
/* O(1): counts are kept as connections change state. */
void ts_tcp_summary(const struct ts_stack *s, struct ts_tcp_summary *sum);

/* Which entries a page takes. */
struct ts_tcp_query {
    size_t offset;   /* skip this many of the entries the query takes */
    unsigned states; /* (1u << state) for each state to take; 0 = every state */
};
/* Fill out with up to max entries, in ts_tcp_table's order, from q->offset (q NULL: from the
 * first, every state). Returns how many it filled (0 past the end). Costs O(offset + max), not
 * O(table); skipping every connection block to reach the TIME_WAIT records costs O(1) when no
 * states filter is given. */
size_t ts_tcp_table_page(const struct ts_stack *s, const struct ts_tcp_query *q,
                         struct ts_tcp_info *out, size_t max, ts_time_t now);

#endif
