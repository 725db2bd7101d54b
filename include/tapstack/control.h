/* A runtime's records and its control socket: how tapstack-stat (and anything else) looks into
 * a running stack.
 *
 * RECORDS. Every runtime (socket.h) records the stack's trace from its start: a ring of the last
 * TS_CONTROL_RING trace events, numbered 1, 2, ... (a reader pages with `since`), and the last
 * TS_CONTROL_HISTORY ended connections with their whole path of states, the time spent in each
 * and the causes. The runtime owns the stack's trace callback for this; an app that wants the
 * events too (--trace) sets its own with ts_runtime_set_trace, which the runtime calls after
 * recording, under the runtime's lock, in the thread that made the change.
 *
 * CONTROL SOCKET. ts_runtime_control_open() makes the runtime serve a Unix-domain stream socket,
 * by default DIR/NAME.sock where NAME is the tap's name and DIR is $TAPSTACK_RUN_DIR when set,
 * else $XDG_RUNTIME_DIR/tapstack, else /run/tapstack for root and /tmp/tapstack-UID for others
 * (a directory of mode 0700, created when missing, refused if anyone else owns it or can enter
 * it). The socket is mode 0600 and every client's SO_PEERCRED uid is checked: only the owning
 * user and root get an answer. A stale socket file (its program died) is replaced; one that a
 * live tapstack still serves is left alone and opening fails with a line that says so.
 *
 * No thread is added: the listening socket and the clients are descriptors in the loop thread's
 * epoll set, non-blocking. The loop takes the stack's lock only to copy what a request needs
 * (the connection table, the counters, a run of records), formats and writes with no lock held,
 * so a client cannot hold up the stack. Limits: TS_CONTROL_MAX_CLIENTS clients (more are
 * told so and closed); a request line at most TS_CONTROL_REQ_MAX bytes and complete within 5 s
 * of its first byte; one request at a time per client (the next line is read only once the
 * answer is written); an answer must make progress within 10 s and a client's unsent output
 * stays under 8 MiB (1 MiB for a follower), else the client is dropped and counted (dropped_slow);
 * an idle client is closed after 60 s (followers excepted).
 *
 * PROTOCOL (version 1). A request is one line of printable ASCII ending in "\n" ("\r\n" too):
 *     COMMAND [WORD | KEY=NUMBER]...
 * The answer is either
 *     "ok LENGTH\n" followed by exactly LENGTH bytes (text, or one JSON document with `json`),
 * or  "error TEXT\n", one line saying what is wrong. After an error the connection stays
 * usable, except after a request over TS_CONTROL_REQ_MAX bytes, one with bytes that are not
 * text, or one not finished in time: those are answered and closed.
 * Commands (words in any order; `json` makes the body one JSON document, see stat.h):
 *     hello                              protocol version, program, pid, uid, tap name, address,
 *                                        uptime and the control socket's own counters
 *     sockets [tcp] [udp] [listen] [all] [info] [offset=N] [max=M] [json]
 *                                        the socket table in netstat -tan's layout: TCP and UDP
 *                                        unless tcp/udp narrows it; connections only, listeners
 *                                        only (listen) or both (all); info adds internals. One
 *                                        page: M TCP rows (default 1000) from row N, ending with
 *                                        "# more: offset=N of TOTAL TCP rows" when more follow
 *     summary [json]                     TCP connections per state, the compact TIME_WAIT
 *                                        records, their memory and the running timers
 *     counters [all] [json]              non-zero counters (all: every one), with descriptions
 *     trace [since=N] [max=M] [explain] [json]
 *                                        the recorded events numbered after N (default 0: all
 *                                        kept), at most M (default and bound 4096)
 *     follow [since=N] [explain] [json]  "ok stream\n", then every event after N (default: from
 *                                        now) as it happens, one line each (JSON Lines with json;
 *                                        "# lost N events" / {"lost":N} if the client fell more
 *                                        than the ring behind), until the client closes
 *     history [since=N] [max=M] [json]   ended connections numbered after N (default 0), the
 *                                        newest M of them (default 20, bound TS_CONTROL_HISTORY)
 *     help                               this list
 * Text trace lines and their JSON: stat.h. Example with socat:
 *     echo 'sockets all' | socat - UNIX-CONNECT:/run/tapstack/tap0.sock */
#ifndef TAPSTACK_CONTROL_H
#define TAPSTACK_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/socket.h"
#include "tapstack/stat.h"

#define TS_CONTROL_RING        4096 /* trace events kept */
#define TS_CONTROL_HISTORY     256  /* ended connections kept */
#define TS_CONTROL_MAX_CLIENTS 128
#define TS_CONTROL_REQ_MAX     1024 /* bytes of a request line, "\n" included */
#define TS_CONTROL_PATH_MAX    108  /* sizeof(sun_path) */

/* ---- records (every runtime) ---- */

/* The app's own trace callback, called after the runtime recorded the event (NULL: none). */
void ts_runtime_set_trace(struct ts_runtime *rt, ts_trace_fn fn, void *arg);
/* Recorded events numbered after since, oldest first, at most max (see stat.h for the page). */
size_t ts_runtime_events_since(struct ts_runtime *rt, uint64_t since, struct ts_stat_event *out,
                               size_t max, struct ts_stat_page *pg);
/* Ended connections numbered after since; the newest max of them, oldest first. */
size_t ts_runtime_history_since(struct ts_runtime *rt, uint64_t since, struct ts_stat_conn *out,
                                size_t max, struct ts_stat_page *pg);
/* The path so far of a live connection (its ts_tcp_info.id); false if it has none. */
bool ts_runtime_live_path(struct ts_runtime *rt, uint64_t conn_id, struct ts_stat_conn *out);

/* How often each state change happened since the runtime started: counts[from][to], states
 * indexed by their number (enum ts_tcp_state; 0 unused). Counted always, whatever is kept. */
#define TS_CONTROL_NSTATES 12
void ts_runtime_transition_counts(struct ts_runtime *rt,
                                  uint64_t counts[TS_CONTROL_NSTATES][TS_CONTROL_NSTATES]);

/* ---- segment ladders (off until asked for) ----
 * With recording on, the runtime keeps for each of the last TS_SEGLOG_CONNS connections that
 * began (listeners excepted) its last TS_SEGLOG_ITEMS items: the segments it sent and received
 * and its state changes, in the order they happened, numbered 1, 2, ... per connection. A
 * connection that ended keeps its ladder until TS_SEGLOG_CONNS newer ones have begun. A state
 * change caused by a received segment names it (and the segment names the change), so a ladder
 * shows which segment moved the connection. Segments are matched to connections by their
 * 4-tuple; the runtime learns each connection's state from the trace. Recording a segment is
 * O(1) and allocates nothing (the memory is taken when recording is first turned on); with
 * recording off the stack's segment hook is unset and costs one test per segment. */
#define TS_SEGLOG_CONNS 256
#define TS_SEGLOG_ITEMS 128

enum { TS_SEGITEM_SENT = 1, TS_SEGITEM_RCVD = 2, TS_SEGITEM_STATE = 3 };
struct ts_seg_item {
    uint64_t n; /* 1, 2, ... in this connection's order */
    ts_time_t time;
    uint8_t kind;  /* TS_SEGITEM_* */
    uint8_t state; /* a segment: our state when it left or arrived; a change: the new state */
    union {
        struct { /* SENT, RCVD: the segment as on the wire (see struct ts_segment_event) */
            uint32_t seq, ack, len;
            int32_t mss;
            uint16_t wnd;
            uint8_t flags, nsack;
            int8_t wscale;
            bool sack_perm, ts;
            uint8_t ncaused;    /* state changes this segment caused (received segments) */
            uint64_t caused[2]; /* their item numbers */
        } seg;
        struct { /* STATE */
            uint8_t from;
            const char *cause;  /* the trace's static string */
            ts_time_t in_from;  /* time spent in `from` */
            uint64_t trace_seq; /* the event's number in the trace (ts_runtime_events_since) */
            uint64_t by;        /* the received segment's item number that caused it, 0: none */
        } st;
    } u;
};
/* A connection's ladder: who, where it stands, and the bases of relative sequence numbers. */
struct ts_seg_conn {
    uint64_t conn_id;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint8_t state; /* the latest known (TS_TCP_CLOSE once it ended) */
    bool ended;
    ts_time_t start, last; /* when its ladder began, and its latest item */
    uint64_t items;        /* the newest item's number (0: none yet) */
    /* Relative numbers count from our ISS and the peer's IRS, taken from the SYNs; a ladder that
     * began without a SYN (recording turned on mid-connection) counts from the first segment
     * seen that way, less one (iss_syn/irs_syn false). */
    uint32_t iss, irs;
    bool iss_known, irs_known, iss_syn, irs_syn;
    int8_t ws_ours, ws_peer; /* window scale options of our SYN and the peer's (-1: none) */
};
/* Turn recording on (connections alive then get a ladder from now on) or off (what was kept
 * stays readable). 0, or -1 with errno ENOMEM. */
int ts_runtime_record_segments(struct ts_runtime *rt, bool on);
bool ts_runtime_recording_segments(struct ts_runtime *rt);
/* conn_id's ladder: its items numbered after since, oldest first, at most max, into out (*n of
 * them), its header into *conn and the page (first, last, lost, next) into *pg. False when the
 * connection has no ladder (unknown id, begun before recording, or displaced by newer ones). */
bool ts_runtime_segments_since(struct ts_runtime *rt, uint64_t conn_id, uint64_t since,
                               struct ts_seg_item *out, size_t max, size_t *n,
                               struct ts_seg_conn *conn, struct ts_stat_page *pg);
/* The connections that have a ladder, the most recently begun first, at most max. */
size_t ts_runtime_seg_conns(struct ts_runtime *rt, struct ts_seg_conn *out, size_t max);

/* ---- the control socket ---- */

/* Serve the control socket at path, or at the default path for name when path is NULL. Returns
 * 0, or -1 with one line in err (what is wrong and the fix, e.g. another live tapstack holds the
 * path: use --control PATH). Call once; the socket is closed and removed by ts_runtime_stop. */
int ts_runtime_control_open(struct ts_runtime *rt, const char *path, const char *name, char *err,
                            size_t errcap);
/* The path served ("" if none). */
const char *ts_runtime_control_path(struct ts_runtime *rt);

struct ts_control_stats {
    uint64_t accepted;      /* clients let in */
    uint64_t refused;       /* clients of another user, turned away */
    uint64_t rejected_full; /* clients turned away because TS_CONTROL_MAX_CLIENTS were there */
    uint64_t requests;      /* requests answered "ok" */
    uint64_t bad_requests;  /* requests answered "error" */
    uint64_t dropped_slow;  /* clients dropped for not reading their answer */
    uint64_t timeouts;      /* clients closed for an unfinished request or idleness */
    uint64_t clients;       /* connected now */
};
void ts_runtime_control_stats(struct ts_runtime *rt, struct ts_control_stats *st);

/* The default directory and path (see above) into buf. 0, or -1 when they do not fit or name
 * is not a plain file name. */
int ts_control_default_dir(char *buf, size_t cap);
int ts_control_default_path(const char *name, char *buf, size_t cap);
/* Where clients look, in order: $TAPSTACK_RUN_DIR alone when set, else
 * $XDG_RUNTIME_DIR/tapstack (when set), /run/tapstack, /tmp/tapstack-UID. Returns how many. */
size_t ts_control_search_dirs(char dirs[][TS_CONTROL_PATH_MAX], size_t max);

#endif
