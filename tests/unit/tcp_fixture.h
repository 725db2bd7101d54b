/* Shared fixtures of the TCP test suites (tests/unit/test_tcp_*.c).
 *
 * Two kinds of fixture:
 *  - struct tf, a "raw peer": one stack (10.0.0.2) on one end of an in-memory pair link; the other
 *    end (10.0.0.1) is played by the test with hand-built segments. Every frame the stack sends is
 *    captured with the virtual time it left, ARP is answered automatically, and the fixture keeps
 *    the sequence numbers of one connection under test so that a test reads like the RFC:
 *        tf_establish(&f);
 *        tf_send(&f, TCP_RST, f.peer_nxt + 100, 0, NULL, 0);
 *        tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);      (RFC 5961 3.2 challenge ACK)
 *    (Why not th_raw from harness.h: the TCP tests need the send time of every segment, e.g. to
 *    assert an RTO backoff sequence exactly, plus the per-connection sequence bookkeeping and
 *    the state builders below; this layer is small and keeps its own capture queue.)
 *  - two stacks: the shared harness (struct th_net) is used directly.
 *
 * Nothing here reads a real clock; every test is deterministic. Names start with tf_ so they never
 * clash with the shared harness (th_). */
#ifndef TCP_FIXTURE_H
#define TCP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/counters.h"
#include "tapstack/driver.h"
#include "tapstack/stack.h"
#include "tapstack/tcp.h"
#include "wire/tcp.h"

#define TF_STACK_IP   0x0a000002u /* 10.0.0.2: the stack under test */
#define TF_PEER_IP    0x0a000001u /* 10.0.0.1: the raw peer */
#define TF_STACK_PORT 80
#define TF_PEER_PORT  40000
#define TF_PEER_ISS   20000u /* the raw peer's initial sequence number */
#define TF_MSS        1460
#define TF_T0         (1000 * TS_SEC) /* virtual time at start */

/* One segment the stack sent, as the raw peer saw it. */
struct tf_seg {
    ts_time_t t;       /* virtual time it was sent */
    uint32_t src, dst; /* IPv4 addresses */
    bool df;
    struct tcp_hdr h; /* h.payload points into frame[] */
    /* A super-segment (the link takes TSO, tf_init_offload): the data bytes of each piece the link
     * cuts it into; 0 for an ordinary segment. A partial checksum was completed on capture. */
    uint16_t gso_size;
    size_t len; /* bytes in frame[]: the TCP segment (the IPv4 payload) */
    uint8_t frame[];
};

struct tf_event {
    ts_time_t t;
    uint16_t lport, rport;
    enum ts_tcp_state from, to;
    const char *cause;
};

#define TF_MAX_EVENTS 512

struct tf {
    struct ts_stack *s;
    struct ts_driver *stack_drv, *peer_drv;
    struct ts_config cfg;
    ts_time_t now;

    /* Segments captured from the stack, oldest first; q_head is the next one tf_next returns.
     * Returned segments stay valid until tf_free. */
    struct tf_seg **q;
    size_t q_head, q_len, q_cap;
    uint64_t arp_answered, non_tcp_frames;

    struct tf_event ev[TF_MAX_EVENTS];
    size_t nev;

    /* Options tf_listen and tf_syn_sent open with (NULL: the stack's defaults). */
    const struct ts_tcp_opts *opts;

    struct ts_tcp_conn *listener; /* our listener (owned by the test) */
    struct ts_tcp_conn *conn;     /* the connection under test (owned by the test) */
    unsigned events;              /* callback events of conn, OR'ed since last cleared */
    unsigned listener_events;

    /* The connection under test as the peer sees it. */
    uint16_t lport, rport;          /* stack's port, peer's port */
    uint32_t peer_iss;              /* peer's ISS (default TF_PEER_ISS) */
    uint32_t peer_nxt;              /* next sequence number the peer sends */
    uint32_t stack_iss;             /* the stack's ISS, learnt from its SYN or SYN-ACK */
    uint32_t stack_nxt;             /* what the peer acknowledges: the stack's snd.nxt as seen */
    uint16_t peer_wnd;              /* window the peer advertises (default 65535) */
    struct tcp_opts peer_syn_opts;  /* options on the peer's SYN / SYN-ACK (default: MSS 1460) */
    struct tcp_opts stack_syn_opts; /* options the stack put on its SYN / SYN-ACK */
    /* RFC 7323 timestamps from the peer: when peer_ts is set, every segment the peer sends
     * (tf_hdr, the SYN fixtures) carries TSval = now in ms + peer_ts_offset and TSecr = the
     * last TSval the stack sent. */
    bool peer_ts;
    uint32_t peer_ts_offset;
    uint32_t stack_tsval; /* last TSval seen from the stack */
    unsigned offloads;    /* what the stack's end of the link takes (tf_init_offload) */
    uint16_t ip_id;
};

/* ---- set-up ---- */
/* The default configuration of the stack under test (fixed secret, 10.0.0.2/24). */
void tf_config(struct ts_config *cfg);
/* Start a stack with cfg (NULL = tf_config). The peer's MAC is made known to the stack. */
void tf_init_cfg(struct tf *f, const struct ts_config *cfg);
void tf_init(struct tf *f);
/* tf_init on a link that takes offloads (TS_OFFLOAD_*): the stack may send super-segments and
 * partial checksums, which the fixture checks (a piece size, a pseudo-header sum) and completes. */
void tf_init_offload(struct tf *f, unsigned offloads);
/* Closes what the test still holds (abort), frees the stack and every captured segment. */
void tf_free(struct tf *f);

/* ---- the peer sends ---- */
/* A header with the connection's ports and the peer's window. */
struct tcp_hdr tf_hdr(const struct tf *f, uint8_t flags, uint32_t seq, uint32_t ack);
/* Send a segment from the peer (ports and window from the fixture). */
void tf_send(struct tf *f, uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len);
/* Send a fully specified header (ports, window, options, payload). */
void tf_send_hdr(struct tf *f, const struct tcp_hdr *h);
/* Encode a header into raw TCP bytes (with a correct checksum); returns the length. */
size_t tf_build_tcp(const struct tcp_hdr *h, uint8_t *buf, size_t cap);
/* Recompute the checksum of raw TCP bytes from the peer to the stack (after a test mutated them).
 */
void tf_fix_csum(uint8_t *seg, size_t len);
/* Wrap raw TCP bytes in IPv4 + Ethernet, unchanged, and hand them to the stack. */
void tf_send_raw(struct tf *f, const uint8_t *seg, size_t len);
/* Any IPv4 payload of protocol proto from the peer to the stack. */
void tf_send_ip(struct tf *f, uint8_t proto, const uint8_t *payload, size_t len);
/* ICMP destination unreachable (code) about a segment of the connection under test whose
 * sequence number was quoted_seq. */
void tf_send_icmp_unreach(struct tf *f, uint8_t code, uint32_t quoted_seq);
/* The same with a next-hop MTU (code 4, "fragmentation needed", RFC 1191). */
void tf_send_icmp_unreach_mtu(struct tf *f, uint8_t code, uint16_t mtu, uint32_t quoted_seq);
/* Hand a whole Ethernet frame to the stack. */
void tf_input_frame(struct tf *f, const uint8_t *frame, size_t len);

/* Peer data in sequence (ACK|PSH, seq = peer_nxt, ack = stack_nxt); advances peer_nxt. */
void tf_send_data(struct tf *f, const void *data, size_t len);
/* Pure ACK of everything the stack sent so far (stack_nxt). */
void tf_send_ack(struct tf *f);
/* FIN|ACK at peer_nxt; advances peer_nxt. */
void tf_send_fin(struct tf *f);

/* ---- what the stack sent ---- */
/* The next captured segment, or NULL. */
struct tf_seg *tf_next(struct tf *f);
/* Number of captured segments not yet taken. */
size_t tf_pending(struct tf *f);
/* Discard every pending segment; returns how many. */
size_t tf_flush(struct tf *f);
/* Assert that the next segment has exactly these flags (PSH ignored), seq and ack (ack checked
 * only when TCP_ACK is in flags). Returns it. Updates nothing in the fixture. */
#define tf_expect(f, flags, seq, ack) tf_expect_at(__FILE__, __LINE__, f, flags, seq, ack)
struct tf_seg *tf_expect_at(const char *file, int line, struct tf *f, uint8_t flags, uint32_t seq,
                            uint32_t ack);
#define tf_expect_nothing(f) tf_expect_nothing_at(__FILE__, __LINE__, f)
void tf_expect_nothing_at(const char *file, int line, struct tf *f);
/* TCP flags as "SA" (SYN, ACK; "FSRPAUEC" order), or "." for none, into buf. */
const char *tf_flags_str(uint8_t flags, char buf[10]);
/* Run the clock until the stack sends a segment (returned) or max passes (NULL). */
struct tf_seg *tf_wait_seg(struct tf *f, ts_time_t max);

/* ---- time ---- */
/* Move the virtual clock forward by dt, running every timer at its due time. */
void tf_advance(struct tf *f, ts_time_t dt);

/* ---- connection fixtures (the connection under test) ---- */
/* Listener on TF_STACK_PORT with backlog 16 (f->listener). */
void tf_listen(struct tf *f);
/* tf_listen, then SYN from the peer; returns the SYN-ACK (stack_iss is learnt). SYN_RECV. */
struct tf_seg *tf_syn_received(struct tf *f);
/* Passive open completed and accepted: f->conn ESTABLISHED, nothing pending. */
void tf_establish(struct tf *f);
/* The same with the peer's ACK rtt after the SYN-ACK: the stack's first RTT sample (SRTT = rtt,
 * RTTVAR = rtt/2, RFC 6298 2.2). */
void tf_establish_rtt(struct tf *f, ts_time_t rtt);
/* ts_tcp_connect to the peer; returns the SYN (stack_iss learnt). SYN_SENT. */
struct tf_seg *tf_syn_sent(struct tf *f);
/* Active open completed: SYN, SYN-ACK, ACK. f->conn ESTABLISHED, nothing pending. */
void tf_establish_active(struct tf *f);
/* From ESTABLISHED: shutdown_write; the FIN is taken. FIN_WAIT1. */
void tf_fin_wait1(struct tf *f);
/* ... and the peer ACKs the FIN. FIN_WAIT2. */
void tf_fin_wait2(struct tf *f);
/* ... and the peer's FIN; the stack's ACK is taken. TIME_WAIT. */
void tf_time_wait(struct tf *f);
/* From ESTABLISHED: peer FIN, the ACK taken. CLOSE_WAIT. */
void tf_close_wait(struct tf *f);
/* ... then shutdown_write; the FIN taken. LAST_ACK. */
void tf_last_ack(struct tf *f);
/* From FIN_WAIT1: the peer's FIN crosses ours (no ACK of ours); the ACK taken. CLOSING. */
void tf_closing(struct tf *f);

enum ts_tcp_state tf_state(const struct tf *f);
/* The state of the fixture's 4-tuple (lport, rport) as RFC 9293 sees it: its connection block's
 * if one exists (the newest); else the state its last trace event entered (a block freed in
 * CLOSE); else LISTEN when a listener owns lport; else CLOSE (no TCB). */
enum ts_tcp_state tf_tuple_state(struct tf *f);

/* ---- invariants ---- */
/* Check every connection block of the stack as a whole, reading the TCB (tcp_internal.h):
 *  - SND.UNA <= SND.NXT <= SND.MAX; the send ring starts at SND.UNA (one past it while our SYN is
 *    unacknowledged, one before it once our FIN is), and nothing was sent beyond the ring's end
 *    and the FIN;
 *  - RCV.NXT counts the IRS, every byte delivered in order and the FIN; the unread bytes are at
 *    most those, and out-of-order ranges lie beyond RCV.NXT inside the ring, sorted and apart;
 *  - exactly the timers the state allows: none in CLOSE and LISTEN; the retransmission timer in
 *    SYN_SENT/SYN_RECV; in TIME_WAIT only the 2MSL timer, which runs nowhere else but for an
 *    orphan in FIN_WAIT2; a retransmission, loss-probe or reordering timer (and records in the
 *    retransmission queue) only with data in flight, and
 *    something watching any flight; persist only where data is sent, delayed ACK only where text
 *    is received, keep-alive exactly when it is on, in a synchronized state before TIME_WAIT;
 *  - a closed block is out of the lookup table; a listener's queue counts match its children.
 * tf_invariants_hold says whether they all hold, and if not, which one broke (into why);
 * tf_check_invariants fails the test, naming what was checked (a table row) or file:line. */
bool tf_invariants_hold(struct tf *f, char *why, size_t cap);
#define tf_check_invariants(f) tf_check_invariants_at(__FILE__, __LINE__, f, NULL)
void tf_check_invariants_at(const char *file, int line, struct tf *f, const char *what);

/* ---- trace ---- */
/* The states the connection (lport, rport) went through, as "LISTEN SYN_RECV ESTABLISHED"
 * (the first event's "from" is left out when it is CLOSE). Static buffer in f. */
const char *tf_path_of(struct tf *f, uint16_t lport, uint16_t rport);
const char *tf_path(struct tf *f); /* of the connection under test */
/* Cause of the last transition of the connection under test into state `to`, or NULL. */
const char *tf_cause_of(struct tf *f, enum ts_tcp_state to);
/* Virtual time of the last transition of the connection under test into `to` (fails if none). */
ts_time_t tf_time_of(struct tf *f, enum ts_tcp_state to);

uint64_t tf_count(const struct tf *f, enum ts_counter c);

/* ---- data helpers ---- */
/* Deterministic test bytes: byte i of stream `stream` (so both sides can check without copies). */
uint8_t tf_pattern(unsigned stream, uint64_t i);
void tf_fill(uint8_t *buf, size_t len, unsigned stream, uint64_t offset);
/* Read every byte the stack has for conn into buf (up to cap); returns the count. */
size_t tf_read_all(struct tf *f, struct ts_tcp_conn *c, uint8_t *buf, size_t cap);

/* Two stacks: use the shared harness (harness.h, struct th_net, th_net_init_ex with a fault
 * config). */

#endif
