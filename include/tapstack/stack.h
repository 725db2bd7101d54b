/* tapstack: one network stack instance.
 *
 * Model: single-threaded, no global state, no clock, no I/O of its own.
 *   - Frames come in through ts_stack_input(); frames go out through the driver given at creation.
 *   - Time (monotonic microseconds) is passed to every call.
 *   - ts_stack_poll() runs the timers that are due and returns the next deadline, so a loop can
 *     sleep exactly until then (or until the driver's fd is readable).
 * Two instances in one process joined by the in-memory pair driver make a deterministic test. */
#ifndef TAPSTACK_STACK_H
#define TAPSTACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"
#include "tapstack/driver.h"
#include "tapstack/time.h"

struct ts_stack;

/* Addresses are IPv4 in host byte order throughout the API. */
struct ts_config {
    uint8_t mac[6];
    uint32_t ip;
    uint8_t prefix_len; /* on-link subnet */
    uint32_t gateway;   /* 0 = no default route */
    uint16_t mtu;       /* IP MTU of the link; default 1500 */
    uint8_t secret[16]; /* keys ISNs (RFC 6528) and SYN cookies: the caller fills it at random */

    /* TCP defaults for new connections (each socket may override). */
    /* Bytes; default 1 MiB each: the bandwidth-delay product of a tap with offloads (about 14
     * Gbit/s) at the 0.6 ms round trip a loaded two-core host shows (256 KiB capped a download
     * without offloads at half its speed: the sender waited for window). */
    uint32_t tcp_rcvbuf;
    uint32_t tcp_sndbuf;
    ts_time_t tcp_msl;       /* maximum segment lifetime; TIME_WAIT lasts 2*MSL. default 30 s */
    uint32_t tcp_max_conns;  /* bound on connection blocks (TIME_WAIT records apart); 262144 */
    bool tcp_timestamps;     /* RFC 7323 timestamps offered; default on */
    bool tcp_sack;           /* RFC 2018 SACK offered; default on */
    bool tcp_window_scaling; /* RFC 7323 window scale offered; default on */
    bool tcp_syncookies;     /* RFC 4987 SYN cookies when the SYN queue is full; default on */
    uint16_t ephemeral_lo;   /* ephemeral port range, default 32768..60999 as Linux */
    uint16_t ephemeral_hi;
    /* Congestion control: NewReno (RFC 5681, 6582; the default), CUBIC (RFC 9438) or BBR
     * (a window-limited BBR v1, stack/tcp/tcp_cc_bbr.c). */
    enum ts_tcp_cc { TS_CC_NEWRENO, TS_CC_CUBIC, TS_CC_BBR } tcp_cc;
    /* Bound on compact TIME_WAIT records (connections closed by their owner, waiting 2*MSL:
     * about 100 bytes each); at the bound the oldest ends early and tcp_time_wait_recycled
     * counts it. Default 131072 (Linux's tcp_max_tw_buckets on a machine with a few GB). */
    uint32_t tcp_max_tw;
    /* Per connection, at most one ACK in this interval answers segments outside the window or
     * failing PAWS (RFC 5961 10); 0: no limit. Default 500 ms (Linux's tcp_invalid_ratelimit). */
    ts_time_t tcp_invalid_ratelimit;
};

/* Fill cfg with the defaults: MAC 02:00:00:00:00:02, 10.0.0.2/24 via 10.0.0.1, MTU 1500. */
void ts_config_default(struct ts_config *cfg);

/* Create a stack on driver drv (not owned: the caller destroys it after ts_stack_free).
 * Sends a gratuitous ARP. Returns NULL on bad configuration or no memory. */
struct ts_stack *ts_stack_new(const struct ts_config *cfg, struct ts_driver *drv, ts_time_t now);
void ts_stack_free(struct ts_stack *s);

/* One received Ethernet frame. The stack does not keep the pointer. */
void ts_stack_input(struct ts_stack *s, const uint8_t *frame, size_t len, ts_time_t now);
/* The same with the driver's offload metadata (driver.h; NULL: a plain frame), which the stack
 * checks against the frame: a TCP super-segment is taken as one segment, a partial or
 * host-verified checksum is not checked again; a header that lies is dropped and counted. */
void ts_stack_input_meta(struct ts_stack *s, const uint8_t *frame, size_t len,
                         const struct ts_frame_meta *meta, ts_time_t now);

/* Run due timers, and feed the datagrams the stack sent to itself (to its own address or to
 * 127.0.0.0/8, which never reach the link) back in as received. Returns the next deadline
 * (absolute), or TS_TIME_NEVER; "now" while such datagrams still wait. */
ts_time_t ts_stack_poll(struct ts_stack *s, ts_time_t now);
/* Do datagrams sent to ourselves wait for the next ts_stack_poll? A run loop that skipped the
 * poll after a call (it looked at one connection's timers only) must then come back at once. */
bool ts_stack_has_loopback(const struct ts_stack *s);

/* Read every frame the driver has, feed them in, run timers: the body of any run loop.
 * Returns the next deadline as ts_stack_poll does (taking the driver's own deadline into account).
 */
ts_time_t ts_stack_step(struct ts_stack *s, ts_time_t now);

const struct ts_config *ts_stack_config(const struct ts_stack *s);
struct ts_driver *ts_stack_driver(const struct ts_stack *s);

/* Counters (see counters.h). */
uint64_t ts_stack_counter(const struct ts_stack *s, enum ts_counter c);
/* Write "name value  # description" lines of every non-zero counter (all if `all`) into buf.
 * Returns the length it needed (like snprintf). */
size_t ts_stack_counters_format(const struct ts_stack *s, char *buf, size_t cap, bool all);

/* ---- Trace: every TCP state change, with its cause ---- */

/* Linux numbers and netstat names (ESTABLISHED = 1 ... CLOSING = 11). */
enum ts_tcp_state {
    TS_TCP_ESTABLISHED = 1,
    TS_TCP_SYN_SENT = 2,
    TS_TCP_SYN_RECV = 3,
    TS_TCP_FIN_WAIT1 = 4,
    TS_TCP_FIN_WAIT2 = 5,
    TS_TCP_TIME_WAIT = 6,
    TS_TCP_CLOSE = 7,
    TS_TCP_CLOSE_WAIT = 8,
    TS_TCP_LAST_ACK = 9,
    TS_TCP_LISTEN = 10,
    TS_TCP_CLOSING = 11,
};
#define TS_TCP_NSTATES 12 /* arrays indexed by enum ts_tcp_state (index 0 unused) */
/* "ESTABLISHED", "SYN_RECV", ... as netstat prints them ("CLOSE" for CLOSED). */
const char *ts_tcp_state_name(enum ts_tcp_state st);
/* RFC 9293's own name: "SYN-RECEIVED", "CLOSED", ... */
const char *ts_tcp_state_rfc_name(enum ts_tcp_state st);
/* One sentence that says what the state means, for people studying the stack. */
const char *ts_tcp_state_explain(enum ts_tcp_state st);

struct ts_trace_event {
    ts_time_t time;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    enum ts_tcp_state from, to;
    const char *cause; /* static string: "rcvd SYN", "app close", "2MSL timer", "rcvd RST", ... */
    uint64_t conn_id;  /* the connection's id (ts_tcp_info.id), unique in this stack */
    ts_time_t in_from; /* how long the connection spent in `from` */
};
typedef void (*ts_trace_fn)(void *arg, const struct ts_trace_event *ev);
void ts_stack_set_trace(struct ts_stack *s, ts_trace_fn fn, void *arg);
/* Format an event as one line: "12.345678 10.0.0.1:5555 > 10.0.0.2:80 SYN_RECV -> ESTABLISHED (rcvd
 * ACK of SYN)". */
size_t ts_trace_format(const struct ts_trace_event *ev, char *buf, size_t cap);

/* ---- Segment hook: every TCP segment in and out, for tools that draw a connection's ladder ----
 * A trace event says that a state changed and why; the segments say what was on the wire around
 * it. The hook sees each segment the stack sends (at its one send point) and each one it takes
 * in (once its checksum, header and flags are found valid, before any connection sees it). It is
 * called from inside the stack, in the thread running it; it must only record. */
enum {
    TS_SEG_FIN = 0x01, /* the TCP header's flag bits, as on the wire */
    TS_SEG_SYN = 0x02,
    TS_SEG_RST = 0x04,
    TS_SEG_PSH = 0x08,
    TS_SEG_ACK = 0x10,
    TS_SEG_URG = 0x20,
    TS_SEG_ECE = 0x40,
    TS_SEG_CWR = 0x80,
};
struct ts_segment_event {
    ts_time_t time;
    bool sent;             /* true: we sent it; false: it arrived */
    uint32_t laddr, raddr; /* our address and the peer's, whichever way the segment went */
    uint16_t lport, rport;
    uint32_t seq, ack; /* as on the wire (absolute) */
    uint8_t flags;     /* TS_SEG_* */
    uint16_t wnd;      /* the window field as on the wire, unscaled */
    uint32_t len;      /* payload bytes (SYN and FIN not counted) */
    int32_t mss;       /* the MSS option, -1 when absent */
    int8_t wscale;     /* the window scale option, -1 when absent */
    bool sack_perm;    /* SACK-permitted option */
    bool ts;           /* timestamps option */
    uint8_t nsack;     /* SACK blocks carried */
};
typedef void (*ts_segment_fn)(void *arg, const struct ts_segment_event *ev);
/* NULL (the default) turns it off: then a segment costs one test of a pointer. */
void ts_stack_set_segment_hook(struct ts_stack *s, ts_segment_fn fn, void *arg);

/* Helpers for addresses in host byte order. */
int ts_ip_parse(const char *str, uint32_t *ip);      /* "10.0.0.2" -> 0 or -1 */
const char *ts_ip_format(uint32_t ip, char buf[16]); /* -> "10.0.0.2" */
int ts_mac_parse(const char *str, uint8_t mac[6]);   /* "02:00:00:00:00:02" -> 0 or -1 */
const char *ts_mac_format(const uint8_t mac[6], char buf[18]);

#endif
