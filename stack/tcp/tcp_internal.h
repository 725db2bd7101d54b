/* Inside the TCP engine: the connection block and the functions the stack/tcp/ files share.
 *
 * A map, for a reader with RFC 9293 open: each event is in the file named for its section.
 *
 *   RFC 9293                       file            where
 *   3.3.1 sequence variables       tcp_internal.h  struct ts_tcp_conn (c->snd.una is SND.UNA)
 *   3.3.2 state changes            tcp.c           ts_tcp_set_state: the one door, with a cause
 *   3.4.1 initial sequence number  tcp.c           tcp_isn (RFC 6528)
 *   birth of a connection          tcp.c           tcp_conn_new, tcp_init_snd, tcp_init_rcv,
 *                                                  tcp_established (connect, SYN or SYN cookie)
 *   3.10.1 OPEN                    tcp_user.c      ts_tcp_listen, ts_tcp_connect
 *   3.10.2 SEND                    tcp_user.c      ts_tcp_send
 *   3.10.3 RECEIVE                 tcp_user.c      ts_tcp_recv
 *   3.10.4 CLOSE                   tcp_user.c      ts_tcp_close, ts_tcp_shutdown_write
 *   3.10.5 ABORT                   tcp_user.c      ts_tcp_abort (tcp_drop: RST, then CLOSED)
 *   3.10.6 STATUS                  tcp_user.c      ts_tcp_get_info, ts_tcp_table
 *   3.10.7 SEGMENT ARRIVES         tcp_input.c     ts_tcp_input, then by state:
 *     3.10.7.1 CLOSED                                tcp_closed_input
 *     3.10.7.2 LISTEN                                tcp_listen_input
 *     3.10.7.3 SYN-SENT                              tcp_syn_sent_input
 *     3.10.7.4 other states                          tcp_other_states_input: tcp_check_seq,
 *                                                    tcp_check_rst, (security), tcp_check_syn,
 *                                                    tcp_process_ack, tcp_process_urg,
 *                                                    tcp_process_text, tcp_process_fin
 *   3.10.8 timeouts                tcp_timer.c     ts_tcp_poll: retransmission, TIME_WAIT, ...;
 *                                                  the timer wheel (tcp_conn_done schedules)
 *   TIME-WAIT after the owner let go  tcp_timewait.c  compact records (RFC 6191 reopening in
 *                                                  tcp_input.c: tcp_tw_input)
 *   3.8 data communication         tcp_output.c    tcp_output (Nagle, SWS, delayed ACK, options)
 *   ICMP errors (RFC 1122 4.2.3.9, RFC 5927, RFC 1191)   tcp_icmp.c     ts_tcp_icmp_error
 *   SACK sender (RFC 2018, RFC 6675), per-segment queue  tcp_sack.c
 *   loss recovery: RACK-TLP (RFC 8985), PRR (RFC 6937),  tcp_recovery.c
 *     D-SACK undo (RFC 2883, RFC 3708)
 *   congestion control (RFC 5681, 6582; CUBIC RFC 9438)  tcp_cc.c, tcp_cc_cubic.c
 *     BBR's model, from delivery rate samples             tcp_cc_bbr.c, tcp_rate.c
 *   SYN cookies (RFC 4987 3.6)                           tcp_syncookie.c
 *   wrap-safe sequence comparisons (RFC 9293 3.4)        seq.h */
#ifndef TS_TCP_INTERNAL_H
#define TS_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "ringbuf.h"
#include "seq.h"
#include "tapstack/tcp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

/* ---- Constants (values chosen, with why) ---- */
#define TCP_RTO_INIT       (1 * TS_SEC) /* RFC 6298 2.1 */
#define TCP_RTO_MIN        (200 * TS_MS) /* Linux's floor; RFC 6298 2.4 says 1 s, too slow on a LAN */
#define TCP_RTO_MAX        (120 * TS_SEC) /* RFC 6298 2.5 allows any ceiling >= 60 s; Linux uses 120 s */
#define TCP_SYN_RETRIES    6              /* Linux tcp_syn_retries: ~127 s until connect() fails */
#define TCP_SYNACK_RETRIES 5              /* Linux tcp_synack_retries */
#define TCP_DATA_RETRIES   15             /* Linux tcp_retries2 (RFC 1122 4.2.3.5 R2 >= 100 s) */
#define TCP_PERSIST_MAX    (60 * TS_SEC) /* persist backoff ceiling */
#define TCP_DELACK         (40 * TS_MS)  /* see tcp_output.c: Linux's delayed ACK, < 200 ms cap */
#define TCP_TLP_DELACK     (50 * TS_MS)  /* RFC 8985 7.2 WCDelAckT: over a 40 ms delayed ACK */
#define TCP_FIN_TIMEOUT    (60 * TS_SEC) /* orphan in FIN_WAIT_2 (Linux tcp_fin_timeout) */
#define TCP_DEFAULT_MSS    536           /* RFC 9293 3.7.1 / RFC 1122 4.2.2.6 */
/* IPv4 and TCP headers without options: the MSS we offer is the MTU less these (RFC 6691). */
#define TCP_IP_HDR_LEN        (IPV4_HDR_LEN + TCP_HDR_LEN)
#define TCP_DEFAULT_PMTU      576 /* RFC 1122 3.3.3 / RFC 1191 5: every host takes 576 bytes */
#define TCP_MIN_PMTU          552 /* Linux min_pmtu: floor against forged tiny MTUs (RFC 5927 7.1) */
#define TCP_IW_SEGS           10  /* RFC 6928 */
#define TCP_WSCALE_MAX        14  /* RFC 7323 2.3 */
#define TCP_PAWS_IDLE         (24ull * 24 * 3600 * TS_SEC) /* RFC 7323 5.5: 24 days */
#define TCP_SYNQ_MAX          256                          /* half-open connections per listener */
#define TCP_OOO_MAX           32                           /* out-of-order ranges kept */
#define TCP_SACKSB_MAX        32     /* SACKed ranges remembered (RFC 6675 scoreboard) */
#define TCP_CHALLENGE_PER_SEC 1000   /* RFC 5961 7, Linux's default */
#define TCP_HASH_BITS         12     /* first size of the 4-tuple hash; it doubles as it fills */
#define TCP_MAX_CONNS_DEFAULT 262144 /* ts_config.tcp_max_conns 0 */
#define TCP_MAX_TW_DEFAULT    131072 /* ts_config.tcp_max_tw 0: Linux's tcp_max_tw_buckets here */
/* In a batch of frames taken at one wake-up, an ACK at least every this many bytes: what one
 * GRO-merged super-segment holds, which a receiver ACKs as one segment. */
#define TCP_BATCH_ACK_BYTES 65536
/* Send calls' ends remembered for PSH (older ones lose theirs). */
#define TCP_PUSH_MARKS 4
/* Quick-ACK mode: at most this many segments ACKed at once (Linux's TCP_MAX_QUICKACKS). */
#define TCP_QUICKACKS 16

struct ts_tcp_conn;

/* Congestion control (RFC 5681): the hooks that differ between algorithms. */
struct tcp_cc_ops {
    const char *name;
    void (*init)(struct ts_tcp_conn *c);
    /* New data acknowledged outside recovery: grow cwnd. */
    void (*cong_avoid)(struct ts_tcp_conn *c, uint32_t acked, ts_time_t now);
    /* Loss detected (3 dupacks or RTO): the new ssthresh. */
    uint32_t (*ssthresh)(struct ts_tcp_conn *c);
    /* Optional: every ACK, with its delivery rate sample (tcp_rate.c), in recovery too. */
    void (*on_sample)(struct ts_tcp_conn *c, ts_time_t now);
};
extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;
extern const struct tcp_cc_ops tcp_cc_bbr;

/* A delivery rate sample (draft-cheng-iccrg-delivery-rate-estimation 3.3), built over one ACK. */
struct tcp_rate_sample {
    uint64_t prior_delivered; /* C.delivered when the newest record delivered was sent */
    ts_time_t send_elapsed, ack_elapsed, interval;
    uint64_t delivered; /* delivered over the interval */
    ts_time_t rtt;      /* of the newest record delivered, 0 if it was retransmitted */
    uint32_t acked;     /* bytes newly ACKed or SACKed by this ACK */
    bool has_prior;     /* a record was delivered by this ACK */
    bool app_limited;   /* that record left while the application limited the flight */
    bool valid;         /* delivered / interval is a rate */
};

/* BBR's model of the path (tcp_cc_bbr.c). */
#define TCP_BBR_BW_ROUNDS 10 /* the bandwidth filter's window, in round trips */
enum tcp_bbr_mode { TCP_BBR_STARTUP, TCP_BBR_DRAIN, TCP_BBR_PROBE_BW, TCP_BBR_PROBE_RTT };
struct tcp_bbr {
    uint64_t bw[TCP_BBR_BW_ROUNDS];   /* the best delivery rate (bytes/s) of each recent round */
    ts_time_t min_rtt, min_rtt_stamp; /* RTprop and when it was measured */
    ts_time_t probe_rtt_done;         /* PROBE_RTT: when it may end (0: not yet timed) */
    uint64_t next_round_delivered;    /* a round trip ends when this much is delivered */
    uint64_t full_bw;                 /* STARTUP: the rate the last growth check saw */
    uint64_t ack_epoch_acked;         /* ACK aggregation: delivered since the epoch began */
    ts_time_t ack_epoch_start;
    uint32_t
        extra_acked[2]; /* the largest aggregation excess (bytes) of this and the last window */
    uint32_t round_count;
    uint32_t bw_round;   /* the round of the last sample the filter took */
    uint32_t prior_cwnd; /* cwnd before PROBE_RTT, restored after */
    uint8_t mode;        /* enum tcp_bbr_mode */
    uint8_t full_bw_cnt; /* rounds without 25% growth */
    uint8_t extra_acked_idx, extra_acked_rounds;
    bool round_start, filled_pipe;
};

struct tcp_range {
    uint32_t left, right; /* [left, right) in sequence space */
};

/* One segment of the retransmission queue (tcp_sack.c). */
struct tcp_txseg {
    uint32_t seq, end; /* [seq, end), a FIN counted */
    ts_time_t xmit;    /* its latest (re)transmission */
    uint32_t order;    /* of that transmission among the connection's (RACK's "sent after") */
    uint8_t flags;     /* TCP_TXS_* */
    /* The connection's delivery state when it left (tcp_rate.c): P.delivered, P.delivered_time,
     * P.first_sent_time of the rate estimation draft. */
    uint64_t delivered;
    ts_time_t delivered_time, first_sent;
};
#define TCP_TXS_SACKED  1u  /* covered by a SACK block */
#define TCP_TXS_LOST    2u  /* found lost (RFC 6675 IsLost, RACK) and not yet sent again */
#define TCP_TXS_RETRANS 4u  /* retransmitted and not yet found lost again: in the pipe */
#define TCP_TXS_EVER    8u  /* retransmitted at least once (RACK's ambiguity rule) */
#define TCP_TXS_APPLIM  16u /* sent while the application limited the flight (tcp_rate.c) */

/* An entry of a 4-tuple hash table (tcp_htab): connection blocks and compact TIME_WAIT records
 * each have their own table, with the same keyed hash of the 4-tuple. */
struct tcp_hnode {
    struct tcp_hnode *next;
    uint32_t hash; /* the full hash: the table grows without computing it again */
};
struct tcp_htab {
    struct tcp_hnode **b;
    uint32_t mask; /* buckets - 1 (a power of two) */
    size_t n;
};

/* The timer wheel (tcp_timer.c): each connection block with a running timer is in it once, at the
 * earliest of its deadlines (tcp_next_timer), so a poll touches only the connections that are due.
 * Lists are circular with a sentinel; a node in no list has next == NULL. */
struct tcp_tlink {
    struct tcp_tlink *next, *prev;
};
struct tcp_tnode {
    struct tcp_tlink link;
    ts_time_t when; /* the deadline it is scheduled for */
    uint64_t seq;   /* scheduling order: equal deadlines fire in the order they were set */
    uint8_t level, slot;
};
#define TCP_WHEEL_LEVELS                                                                           \
    6                      /* 64^6 ticks of 1.024 ms: 2.2 years; later deadlines wait at the top   \
                            */
#define TCP_WHEEL_BITS  6  /* 64 slots per level */
#define TCP_WHEEL_SHIFT 10 /* a tick is 2^10 us */
struct tcp_wheel {
    struct tcp_tlink slot[TCP_WHEEL_LEVELS][1u << TCP_WHEEL_BITS];
    uint64_t occupied[TCP_WHEEL_LEVELS]; /* bit i: slot i is not empty */
    uint64_t clk;                        /* the tick being processed (all before it are done) */
    uint64_t seq;
    size_t count;
    ts_time_t next; /* a lower bound of every deadline, when next_valid */
    bool next_valid;
};

/* A connection block (the TCB of RFC 9293 3.3.1), also used for listeners. The sequence
 * variables are grouped as the RFC names them: c->snd.una is SND.UNA, c->rcv.nxt is RCV.NXT. */
struct ts_tcp_conn {
    struct ts_stack *s;
    uint64_t id; /* unique in this stack (ts_tcp_info.id, trace events) */
    enum ts_tcp_state state;
    ts_time_t state_since; /* when it entered state */
    uint32_t laddr, raddr;
    uint16_t lport, rport;

    struct tcp_hnode hnode;          /* in the 4-tuple hash (when hashed) */
    struct ts_tcp_conn *next, *prev; /* every block, for the table */
    bool hashed;
    bool in_table;          /* a block of the table (not a temporary one on the C stack) */
    struct tcp_tnode tnode; /* in the timer wheel at tcp_next_timer(), when a timer runs */

    /* Listener side (is_listener). */
    bool is_listener;
    struct {
        int backlog;
        unsigned synq_len;    /* children in SYN_RECV */
        unsigned acceptq_len; /* children ESTABLISHED and waiting for accept() */
        struct ts_tcp_conn *aq_head, *aq_tail;
        ts_time_t cookie_time; /* last SYN cookie sent (cookies are checked only for a while) */
        bool cookie_sent;
        /* Children whose final ACK came while the accept queue was full (dropped): the oldest
         * gets its SYN-ACK again as soon as accept() makes room. Linked by aq_next. */
        struct ts_tcp_conn *held_head, *held_tail;
    } listener;
    /* Child side: the listener that owns us until accept(); NULL once accepted. */
    struct ts_tcp_conn *parent;
    /* In the accept queue, or in the listener's held list: doubly linked, so that a child leaving
     * from the middle (its ACK came at last, a RST) costs O(1) with 100 000 held. */
    struct ts_tcp_conn *aq_next, *aq_prev;
    bool in_acceptq;
    bool ack_held; /* in the listener's held list */

    /* Owner. */
    ts_tcp_event_fn cb;
    void *user;
    bool orphan; /* the owner let go (close/abort); the stack frees it in CLOSE */
    struct ts_tcp_opts opts;

    /* Send sequence space (RFC 9293 3.3.1). SND.UP is not kept: the urgent pointer is not used
     * (see tcp_process_urg). */
    struct {
        uint32_t iss; /* ISS */
        uint32_t una; /* SND.UNA */
        /* SND.NXT; it goes back to una on a retransmission timeout, so max is the highest nxt
         * ever reached. */
        uint32_t nxt, max;
        uint32_t wnd;      /* SND.WND, scaled */
        uint32_t wl1, wl2; /* SND.WL1, SND.WL2: seq and ack of the last window update */
        uint32_t max_wnd;  /* MAX.SND.WND (RFC 5961 5.2): the largest window offered */
        uint32_t sml;      /* the end of the last small segment of new data sent (Nagle) */
        uint8_t wscale;    /* Snd.Wind.Shift (RFC 7323 2.3): the peer's shift */
        uint32_t buf_seq;  /* sequence number of the first byte in sndbuf */
        /* The most data one segment of ours carries: the MSS less options, or a super-segment's
         * when the link cuts them (GSO); what slow start counts an ACK's worth in. */
        uint32_t seg_max;
        /* The send buffer fell under half free: the owner hears WRITABLE once it is over half
         * again, not at every ACK (each would wake a blocked writer for a few bytes; Linux's
         * SOCK_NOSPACE works the same way). */
        bool low_space;
        bool fin_queued; /* the app is done sending: FIN after sndbuf */
        /* Ends of the latest send calls' data not yet sent, oldest first: the segment holding
         * one carries PSH (tcp_output.c). */
        uint32_t push[TCP_PUSH_MARKS];
        uint8_t npush;
        /* End of the byte the latest zero-window probe carried: sent into a closed window, it is
         * discarded by design, so sending it again is not counted as a retransmission. */
        uint32_t zwp_end;
    } snd;
    /* Receive sequence space. RCV.WND is what lies between nxt and adv (tcp_rcv_wnd); RCV.UP is
     * not kept. */
    struct {
        uint32_t irs; /* IRS */
        uint32_t nxt; /* RCV.NXT */
        uint32_t adv; /* right edge of the window we advertised */
        /* The right edge the peer may have seen: a scaled window field is rounded up, so it can
         * lie up to 2^wscale - 1 past adv; data up to it is taken (the ring has that slack). */
        uint32_t adv_seen;
        uint8_t wscale;         /* Rcv.Wind.Shift: our shift, applied to windows we send */
        uint8_t wscale_max;     /* the shift we offer (wscale before negotiation) */
        uint32_t last_ack_sent; /* Last.ACK.sent (RFC 7323 4.3) */
        bool fin_rcvd;          /* peer's FIN consumed (nxt counts it) */
        bool ooo_fin;           /* a FIN seen beyond nxt, at ooo_fin_seq */
        uint32_t ooo_fin_seq;
        /* Out-of-order data, already written into rcvbuf at its offset: sorted disjoint
         * ranges. */
        struct tcp_range ooo[TCP_OOO_MAX];
        unsigned nooo;
        uint32_t ooo_last; /* seq of the most recent out-of-order segment (first SACK block) */
        /* Text of the peer's SYN, held at the front of rcvbuf (not yet committed) until the
         * handshake completes (RFC 9293 3.10.7.2): its length. */
        uint32_t syn_text;
        /* RFC 2883: a duplicate segment arrived; its range goes first in our next ACK's SACK
         * option (a D-SACK), once. */
        bool dsack;
        struct tcp_range dsack_range;
    } rcv;

    /* Options. */
    uint16_t peer_mss; /* from the peer's SYN (536 when absent) */
    uint16_t adv_mss;  /* what we advertised */
    uint16_t pmtu;     /* path MTU (RFC 1191) */
    uint16_t mss;      /* effective send MSS: payload bytes per segment, options excluded */
    uint16_t user_mss; /* TCP_MAXSEG (opts.maxseg) as it was when the endpoints were set */
    bool ws_ok, ts_ok, sack_ok;
    uint32_t ts_recent, ts_offset; /* TS.Recent (RFC 7323 4.3); our clock's offset (5.4) */
    ts_time_t ts_recent_age;

    /* RTT and RTO (RFC 6298). */
    struct {
        ts_time_t srtt, rttvar, rto;
        bool valid;
        bool timing; /* a segment is being timed (Karn: only a fresh one) */
        uint32_t seq;
        ts_time_t start;
        uint32_t rxt_tsval; /* TSval of our latest retransmission */
        bool karn_blocked;  /* a retransmission spoilt timing: take the next sample from TSecr */
    } rtt;
    unsigned retries;        /* consecutive retransmission timeouts */
    ts_time_t retx_start;    /* first retransmission of the current loss episode (user_timeout) */
    unsigned persist_shift;  /* persist backoff */
    unsigned probes_unacked; /* persist/keepalive probes with no answer */

    /* Congestion control. */
    struct {
        const struct tcp_cc_ops *ops;
        uint32_t cwnd, ssthresh, recover;
        uint32_t cwnd_acc; /* bytes acked in congestion avoidance since the last cwnd step */
        union {
            struct { /* CUBIC (RFC 9438 4), windows in segments */
                double w_max, w_last_max, k, w_est;
                ts_time_t epoch; /* start of the current congestion avoidance epoch, 0 = none */
            } cubic;
            struct tcp_bbr bbr; /* tcp_cc_bbr.c */
        };
        unsigned dupacks;
        bool in_recovery;
        /* RFC 7661 / Linux's tcp_is_cwnd_limited: the largest flight of the current round trip
         * (until snd.una passes peak_seq), and whether cwnd is what stopped sending in it. */
        uint32_t flight_peak, peak_seq;
        uint32_t usage_seq;
        bool cwnd_limited;
    } cc;
    /* Delivery rate estimation (tcp_rate.c): C.delivered, C.delivered_time, C.first_sent_time,
     * C.app_limited of the draft, and the sample the current ACK builds. */
    struct {
        uint64_t delivered, app_limited;
        ts_time_t delivered_time, first_sent;
        struct tcp_rate_sample rs;
    } rate;
    /* RFC 6675 scoreboard: what the peer SACKed above snd.una, sorted, disjoint. */
    struct tcp_range sacked[TCP_SACKSB_MAX];
    unsigned nsacked;
    uint32_t sacked_bytes;
    uint32_t high_rxt;      /* HighRxt: end of the highest hole retransmitted in this recovery */
    unsigned una_rxt_count; /* probes of a silent recovery since it last made progress */
    /* The retransmission queue seen per segment (tcp_sack.c): a record for each segment sent
     * and not yet cumulatively acknowledged, in sequence order, in a ring grown on demand. What
     * RFC 6675 IsLost/SetPipe/NextSeg and RACK (RFC 8985) read. */
    struct {
        struct tcp_txseg *v;
        uint32_t head, len, cap;
        uint32_t sacked_segs; /* records marked SACKed */
        uint32_t rxt_segs;    /* records retransmitted at least once */
        uint32_t order;       /* transmissions so far */
    } txq;
    /* RACK (RFC 8985 6): the latest-sent segment delivered, and the reordering window. */
    struct {
        ts_time_t xmit; /* RACK.xmit_ts */
        uint32_t order; /* its transmission's order: RACK.end_seq's role, exact on one clock tick */
        ts_time_t rtt;  /* RACK.rtt */
        ts_time_t min_rtt;
        uint32_t fack;   /* the highest sequence number delivered (ACKed or SACKed) */
        bool fack_valid; /* something was delivered: fack holds */
        bool reordering_seen;
        bool dsack_round_on; /* RACK.dsack_round is set */
        uint32_t dsack_round;
        unsigned reo_wnd_mult, reo_wnd_persist;
    } rack;
    /* PRR (RFC 6937): what recovery may send. */
    struct {
        uint32_t delivered, out, recover_fs;
    } prr;
    /* Undoing a congestion response found spurious by D-SACKs (RFC 3708, as Linux's undo). */
    struct {
        uint32_t prior_cwnd, prior_ssthresh;
        uint32_t marker; /* snd.una when the episode began; 0 with armed false: nothing to undo */
        int retrans;     /* retransmissions of the episode not yet reported duplicate */
        bool armed;
    } undo;

    /* Timers: absolute deadlines, TS_TIME_NEVER when off. */
    struct {
        ts_time_t rexmt, persist, delack, keep, wait;
        ts_time_t tlp; /* tail loss probe (RFC 8985 7), with SACK only */
        ts_time_t reo; /* RACK reordering timer (RFC 8985 6.3) */
    } timers;
    bool tlp_out;        /* a probe is out and not yet answered */
    uint32_t tlp_high;   /* snd.max when it was sent */
    ts_time_t tlp_sent;  /* when the latest probe of the flight left */
    uint32_t tlp_una;    /* snd.una then */
    unsigned tlp_probes; /* probes of this flight (more only while nothing at all is heard) */
    /* The PTO is doubled this many times: probes the receiver answered with a D-SACK (it had the
     * data; its ACK was late, not lost). Back to 0 at the next real loss (tcp_recovery.c). */
    uint8_t tlp_patience;
    uint32_t tlp_dsacked; /* tlp_high of the last probe counted so (once per probe) */
    /* F-RTO (RFC 5682 3.1) after a timeout: 1 = step 2 (waiting for the first ACK), 2 = step 3
     * (new data sent, waiting for the next ACK). Its RecoveryPoint is cc.recover (the timeout's
     * snd.max, tcp_cc_on_rto). */
    uint8_t frto;
    ts_time_t last_rx; /* for keepalive idle */

    /* ACK policy. */
    bool ack_now;
    bool ack_queued;                /* in the table's batch_acks list (ts_tcp_batch_end) */
    struct ts_tcp_conn *batch_next; /* that list */
    uint32_t unacked_bytes;         /* received and not yet ACKed: ACK at 2 full-sized segments */
    bool sws_override;              /* the persist timer lets one small segment out */
    ts_time_t oow_ack_time; /* last ACK to an out-of-window segment (tcp_invalid_ratelimit) */
    /* Quick-ACK mode (tcp_input.c, tcp_quickack_note): ACKs still to send at once, one per data
     * segment, and when data last arrived (an idle gap re-enters the mode). */
    uint8_t quickack;
    ts_time_t data_rx_time;
    /* Interactive ("pingpong", as Linux): we answered data within the delayed-ACK time of its
     * arrival, so quick-ACK mode is off and an ACK waits to ride on the answer; left when the
     * delayed-ACK timer fires (no answer came in time). */
    bool pingpong;

    /* Errors: err is reported (ECONNRESET, ETIMEDOUT, ...), soft_err replaces ETIMEDOUT. */
    int err, soft_err;
    bool rst_rcvd;

    struct ts_ring sndbuf, rcvbuf;

    /* Statistics. */
    uint64_t bytes_sent, bytes_received, bytes_acked;
    uint64_t segs_in, segs_out, retransmits;
};

/* A connection in TIME-WAIT whose owner has let go, kept as Linux keeps its timewait sockets:
 * only what TIME-WAIT needs (RFC 9293 3.10.7.4 and 3.6.1, RFC 6191, RFC 7323 timestamps) instead
 * of a block. A segment for it is handled by the rules of a block in TIME-WAIT (tcp_tw_expand). */
struct tcp_tw {
    struct tcp_hnode hnode;
    struct tcp_tw *next, *prev; /* the table's TIME_WAIT list, in deadline order */
    uint64_t id;                /* the connection's id */
    ts_time_t since;            /* when it entered TIME_WAIT */
    ts_time_t deadline;         /* 2*MSL after the last FIN (RFC 9293 3.10.7.4 restarts it) */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t snd_nxt; /* SND.NXT = SND.UNA: our FIN was acknowledged */
    uint32_t rcv_nxt; /* RCV.NXT, past the peer's FIN */
    uint32_t max_wnd; /* MAX.SND.WND (RFC 5961 5.2 ACK check) */
    uint32_t ts_recent, ts_offset;
    uint16_t wnd;   /* the window field our ACKs carry */
    uint8_t wscale; /* the shift it is scaled by (0 without window scaling) */
    bool ts_ok;
};

/* The per-stack table. */
struct ts_tcp_table {
    struct tcp_htab hash;             /* blocks by 4-tuple (listeners with raddr 0) */
    struct tcp_htab tw_hash;          /* compact TIME_WAIT records by 4-tuple */
    struct ts_tcp_conn *all;          /* every block, doubly linked via next/prev */
    size_t count;                     /* blocks */
    struct tcp_tw *tw_head, *tw_tail; /* compact TIME_WAIT records, earliest deadline first */
    size_t tw_count;
    size_t by_state[TS_TCP_NSTATES]; /* blocks and records per state (ts_tcp_summary) */
    struct tcp_wheel wheel;
    uint64_t timer_visits;         /* blocks whose timers a poll ran (for tests: cost per poll) */
    struct ts_ring_pool ring_pool; /* the rings' pages: what they hold, a few kept for reuse */
    uint16_t next_ephemeral;
    uint64_t next_id; /* the id the next connection block gets */
    /* RFC 5961 7: challenge ACK rate limit, a per-second budget. */
    ts_time_t challenge_window;
    unsigned challenge_count;
    unsigned challenge_budget; /* this second's: unpredictable, see tcp_send_challenge_ack */
    /* A batch of frames read at one wake-up is being taken (ts_tcp_batch_begin/end): the
     * connections owing an ACK for it, sent once at its end. */
    bool batch;
    struct ts_tcp_conn *batch_acks;
};

/* ---- tcp.c: table, lookup, ISN, the state door ---- */
/* The one door through which every state change passes: it records the cause (trace event with
 * the time spent in the old state) and does what entering CLOSE or TIME_WAIT entails. */
void ts_tcp_set_state(struct ts_stack *s, struct ts_tcp_conn *c, enum ts_tcp_state to,
                      const char *cause);
bool tcp_synchronized(enum ts_tcp_state st);
/* The connection ends, normally or not: every timer stops, CLOSE, and the owner hears of it
 * (err != 0: the error it will read, e.g. ECONNRESET). Nothing is sent. */
void tcp_enter_closed(struct ts_stack *s, struct ts_tcp_conn *c, int err, const char *cause);
/* An abortive end (RFC 9293 3.10.5 ABORT): a RST where the state calls for one (SYN-RECEIVED,
 * ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT), then tcp_enter_closed. */
void tcp_drop(struct ts_stack *s, struct ts_tcp_conn *c, int err, const char *cause);
/* The keyed hash of a 4-tuple (SipHash-2-4 under the stack's secret), for tcp_lookup_h. */
uint32_t tcp_tuple_hash(const struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport);
struct ts_tcp_conn *tcp_lookup(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                               uint16_t rport);
struct ts_tcp_conn *tcp_lookup_h(struct ts_stack *s, uint32_t h, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport);
struct ts_tcp_conn *tcp_lookup_listener(struct ts_stack *s, uint32_t laddr, uint16_t lport);
/* Is the 4-tuple taken, by a block or a TIME_WAIT record? */
bool tcp_tuple_in_use(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport);
void tcp_hash_insert(struct ts_stack *s, struct ts_tcp_conn *c);
/* The 4-tuple hash tables (tcp.c): insert (growing the table when it is as full as it is wide),
 * remove. */
void tcp_htab_insert(struct tcp_htab *t, struct tcp_hnode *n, uint32_t hash);
void tcp_htab_remove(struct tcp_htab *t, struct tcp_hnode *n);
/* Emit the trace event of a change of state (ts_tcp_set_state and tcp_tw_close). */
void tcp_trace_state(struct ts_stack *s, uint64_t id, uint32_t laddr, uint16_t lport,
                     uint32_t raddr, uint16_t rport, enum ts_tcp_state from, enum ts_tcp_state to,
                     ts_time_t since, const char *cause);
uint32_t tcp_isn(struct ts_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
                 ts_time_t now);
void tcp_opts_sanitize(struct ts_tcp_opts *o);
int tcp_bufs_alloc(struct ts_tcp_conn *c);
void tcp_notify(struct ts_tcp_conn *c, unsigned events);
/* Largest segment payload without options: the peer's MSS, within the path MTU less the IPv4
 * and TCP headers (RFC 6691, RFC 1191). */
uint32_t tcp_path_mss(const struct ts_tcp_conn *c);
/* Effective send MSS (c->mss): tcp_path_mss less the timestamps our data segments carry. */
void tcp_update_mss(struct ts_tcp_conn *c);

/* ---- tcp.c: birth, one path for connect(), a SYN and a SYN cookie ----
 * A block is created (tcp_conn_new; tcp_child_new for a listener's child), given its endpoints
 * (tcp_set_endpoints), its send sequence space (tcp_init_snd) and, from the peer's SYN, its
 * receive sequence space (tcp_init_rcv); it becomes ESTABLISHED through tcp_established. */
/* The fields of a new block, not in the table: options from o (or the stack's defaults), no
 * endpoints, CLOSE. A SYN cookie builds its SYN-ACK from such a block on the stack. */
void tcp_conn_init(struct ts_stack *s, struct ts_tcp_conn *c, const struct ts_tcp_opts *o);
/* A new block in the table (not hashed). NULL when memory or the table is exhausted. */
struct ts_tcp_conn *tcp_conn_new(struct ts_stack *s, const struct ts_tcp_opts *o);
/* The 4-tuple, and what follows from the route: the path MTU and the MSS we offer. */
void tcp_set_endpoints(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t laddr, uint16_t lport,
                       uint32_t raddr, uint16_t rport);
/* A child of listener l for the segment seg of datagram ip (a SYN, or the ACK of a SYN cookie):
 * its endpoints, counted in l's half-open queue. Not hashed; still LISTEN (a copy of l's). */
struct ts_tcp_conn *tcp_child_new(struct ts_stack *s, struct ts_tcp_conn *l,
                                  const struct ipv4_hdr *ip, const struct tcp_hdr *seg);
void tcp_child_unlink(struct ts_tcp_conn *c);
/* c's final ACK came while its listener's accept queue was full (and was dropped): remember it
 * in the listener's held list, oldest first. */
void tcp_child_hold(struct ts_tcp_conn *c);
/* accept() made room in l's accept queue: the oldest held child sends its SYN-ACK again, so that
 * its client's answer completes the handshake now rather than at our next retransmission. */
void tcp_listener_resume(struct ts_stack *s, struct ts_tcp_conn *l);
/* Free it (unhash, unlink, out of the timer wheel). */
void tcp_conn_free(struct ts_stack *s, struct ts_tcp_conn *c);
/* Free c if it reached CLOSE and nobody holds it any more. Returns true when freed. */
bool tcp_conn_reap(struct ts_stack *s, struct ts_tcp_conn *c);
/* The end of an entry point's work on c (segment arrival, a user call, its timers, an ICMP
 * error): free it if it is closed and nobody holds it, replace it by a compact record if it is
 * in TIME_WAIT and its owner let go, else put it in the timer wheel at its earliest deadline.
 * Every entry point calls it for each block it worked on, so that the wheel follows c->timers
 * without a hook on each timer: a new timer only has to be known to tcp_next_timer. Returns
 * false when c is gone. */
bool tcp_conn_done(struct ts_stack *s, struct ts_tcp_conn *c);
/* Count a block's move between states (the per-state counts of ts_tcp_summary). */
void tcp_count_state(struct ts_stack *s, struct ts_tcp_conn *c, enum ts_tcp_state from,
                     enum ts_tcp_state to);
/* RFC 9293 3.3.1/3.4.1: our side's sequence space from the ISS (the SYN takes one number), and
 * the timestamp clock's offset (RFC 7323 5.4). */
void tcp_init_snd(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t iss);
/* The peer's side from its SYN or SYN-ACK (RFC 9293 3.10.7.2/3.10.7.3: IRS = SEG.SEQ,
 * RCV.NXT = SEG.SEQ + 1), the options it offered, and the windows both SYNs carry. */
void tcp_init_rcv(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *syn);
/* SYN_SENT/SYN_RECV (or a SYN cookie's LISTEN) -> ESTABLISHED: congestion control starts, the
 * owner (or the listener's accept queue) hears of it, and a FIN queued meanwhile follows. */
void tcp_established(struct ts_stack *s, struct ts_tcp_conn *c, const char *cause);

/* ---- tcp_syncookie.c (RFC 4987 3.6) ---- */
/* Answer a SYN with a stateless SYN-ACK whose ISN is a cookie. */
void tcp_syncookie_send(struct ts_stack *s, struct ts_tcp_conn *l, const struct ipv4_hdr *ip,
                        const struct tcp_hdr *seg);
enum tcp_cookie {
    TCP_COOKIE_NOT_CHECKED, /* no cookie is expected of this segment */
    TCP_COOKIE_BAD,         /* forged or expired (counted): a RST answers it */
    TCP_COOKIE_NO_ROOM,     /* valid, but the accept queue is full or no memory (counted): dropped,
                               the peer sends again */
    TCP_COOKIE_OK,
};
/* An ACK to listener l: if it carries a valid cookie, the established connection (already in the
 * accept queue); NULL otherwise, *res says why. */
struct ts_tcp_conn *tcp_syncookie_check(struct ts_stack *s, struct ts_tcp_conn *l,
                                        const struct ipv4_hdr *ip, const struct tcp_hdr *seg,
                                        enum tcp_cookie *res);

/* ---- tcp_timewait.c: compact TIME_WAIT records ---- */
/* c (TIME_WAIT, orphaned) becomes a record and its block is freed. False when no memory (c
 * stays as it is). At tcp_max_tw records the oldest one ends early (counted). */
bool tcp_tw_from_conn(struct ts_stack *s, struct ts_tcp_conn *c);
struct tcp_tw *tcp_tw_lookup_h(struct ts_stack *s, uint32_t h, uint32_t laddr, uint16_t lport,
                               uint32_t raddr, uint16_t rport);
/* TIME_WAIT ends for the record (traced TIME_WAIT -> CLOSE with cause) and it is freed. */
void tcp_tw_close(struct ts_stack *s, struct tcp_tw *tw, const char *cause);
/* A temporary block *c in TIME-WAIT equal to the record, so that a segment meets the rules of a
 * block in TIME-WAIT; tcp_tw_absorb keeps what the segment changed (TS.Recent, the 2MSL timer). */
void tcp_tw_expand(struct ts_stack *s, const struct tcp_tw *tw, struct ts_tcp_conn *c);
void tcp_tw_absorb(struct ts_stack *s, struct tcp_tw *tw, const struct ts_tcp_conn *c);
/* End the records whose 2MSL ran out; returns the next deadline. */
ts_time_t tcp_tw_expire(struct ts_stack *s, ts_time_t now);
void tcp_tw_get_info(const struct tcp_tw *tw, struct ts_tcp_info *i, ts_time_t now);
void tcp_tw_free_all(struct ts_tcp_table *t);

/* ---- tcp_output.c ---- */
/* Send what the windows, Nagle and SWS allow, then an ACK if one is owed now. */
void tcp_output(struct ts_stack *s, struct ts_tcp_conn *c);
/* Emit h and send it (DF set) from laddr to raddr. False when it did not fit. */
bool tcp_xmit(struct ts_stack *s, uint32_t laddr, uint32_t raddr, const struct tcp_hdr *h);
/* The window our SYN or SYN-ACK offers (never scaled, RFC 7323 2.2). */
uint32_t tcp_syn_window(const struct ts_tcp_conn *c);
/* Our SYN, or with synack our SYN-ACK: the options offered or agreed (RFC 7323, RFC 2018). */
struct tcp_hdr tcp_syn_hdr(struct ts_stack *s, struct ts_tcp_conn *c, bool synack);
void tcp_send_syn(struct ts_stack *s, struct ts_tcp_conn *c); /* SYN or SYN-ACK, by state */
void tcp_send_ack(struct ts_stack *s, struct ts_tcp_conn *c);
/* Retransmit the first unacknowledged segment (fast retransmit, NewReno partial ACK). */
void tcp_retransmit_una(struct ts_stack *s, struct ts_tcp_conn *c);
/* RFC 5682 3.1 step 2b: up to segs segments of data never sent, within the peer's window but
 * not cwnd, in place of the retransmissions that would follow. Returns how many went. */
unsigned tcp_output_new_data(struct ts_stack *s, struct ts_tcp_conn *c, unsigned segs);
/* Retransmit at most maxlen bytes (one segment) from seq; returns the sequence space sent. */
uint32_t tcp_retransmit_range(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq,
                              uint32_t maxlen);
/* RST for connection c (seq = snd.nxt), with ACK of rcv.nxt when synchronized. */
void tcp_send_rst_conn(struct ts_stack *s, struct ts_tcp_conn *c);
/* RST built from an offending segment per RFC 9293 3.10.7.1. */
void tcp_send_rst_reply(struct ts_stack *s, uint32_t laddr, uint32_t raddr,
                        const struct tcp_hdr *seg);
/* Challenge ACK (RFC 5961), rate-limited per stack. */
void tcp_send_challenge_ack(struct ts_stack *s, struct ts_tcp_conn *c);
/* A keepalive / zero window probe: one old byte or none, seq = snd.una - 1 or a new byte. */
void tcp_send_probe(struct ts_stack *s, struct ts_tcp_conn *c, bool keepalive);
/* The app drained the receive buffer: send a window update if it opened enough. */
void tcp_window_update(struct ts_stack *s, struct ts_tcp_conn *c);
/* The receive window currently advertised (bytes). */
uint32_t tcp_rcv_wnd(const struct ts_tcp_conn *c);
/* The window field to put in a segment (scaled), updating rcv.adv; never shrinks the right
 * edge. */
uint16_t tcp_rcv_window(struct ts_tcp_conn *c);
/* The window segments are checked against (RFC 9293 3.10.7.4): up to the edge the peer saw. */
uint32_t tcp_rcv_wnd_seen(const struct ts_tcp_conn *c);
uint32_t tcp_ts_now(const struct ts_tcp_conn *c, ts_time_t now);

/* ---- tcp_timer.c (RFC 9293 3.10.8) ---- */
void tcp_timer_rexmt_arm(struct ts_tcp_conn *c, ts_time_t now); /* (re)start at now + rto */
void tcp_timer_rexmt_stop(struct ts_tcp_conn *c);
void tcp_timer_stop_all(struct ts_tcp_conn *c);
void tcp_rtt_sample(struct ts_tcp_conn *c, ts_time_t rtt);
void tcp_keepalive_reset(struct ts_tcp_conn *c, ts_time_t now);
/* Enter TIME_WAIT timing (2*MSL), restart it on a retransmitted FIN. */
void tcp_timer_time_wait(struct ts_tcp_conn *c, ts_time_t now);
/* Earliest running timer and its name (for get_info). The one function that knows every timer
 * of c->timers: the timer wheel keeps each block at this deadline (tcp_timer_sched). */
ts_time_t tcp_next_timer(const struct ts_tcp_conn *c, const char **name);
/* Put c in the wheel at tcp_next_timer(c), or take it out when no timer runs (O(1)). */
void tcp_timer_sched(struct ts_stack *s, struct ts_tcp_conn *c);
void tcp_timer_cancel(struct ts_stack *s, struct ts_tcp_conn *c);
void tcp_wheel_init(struct tcp_wheel *w, ts_time_t now);
void tcp_wheel_add(struct tcp_wheel *w, struct tcp_tnode *n, ts_time_t when);
void tcp_wheel_del(struct tcp_wheel *w, struct tcp_tnode *n);
static inline bool tcp_wheel_pending(const struct tcp_tnode *n)
{
    return n->link.next != NULL;
}
/* Move every node due at now into the list due (sentinel), earliest deadline first (equal ones
 * in the order they were scheduled). */
void tcp_wheel_advance(struct tcp_wheel *w, ts_time_t now, struct tcp_tlink *due);
/* A lower bound of every deadline in the wheel, or TS_TIME_NEVER when empty: exact for those
 * within the next 64 ms, except after a timer was cancelled (its deadline may still be given,
 * once: a poll then finds nothing due and the bound is computed again). */
ts_time_t tcp_wheel_next(struct tcp_wheel *w);
/* For tests: how many blocks are not in the wheel at their tcp_next_timer() (0 when the wheel
 * follows every timer). */
size_t tcp_timer_audit(const struct ts_stack *s);
/* Start the persist timer if the peer's window is closed and we have something to send. */
void tcp_persist_check(struct ts_tcp_conn *c, ts_time_t now);

/* ---- tcp_sack.c (RFC 2018 / RFC 6675 sender side: the per-segment retransmission queue) ---- */
void tcp_sack_clear(struct ts_tcp_conn *c);
/* snd.una moved: forget what lies below it. */
void tcp_sack_trim(struct ts_tcp_conn *c);
/* A segment [seq, seq + len) (len counts a FIN) left at now, new (appended in pieces of piece
 * bytes) or retransmitted (its records leave the lost state, enter the pipe). */
void tcp_txq_sent(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t seq, uint32_t len,
                  uint32_t piece);
/* The cumulative ACK reached snd.una (already moved): the records below it leave the queue, each
 * newly delivered one is told to RACK. */
void tcp_txq_acked(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg);
void tcp_txq_free(struct ts_tcp_conn *c);
/* Take the SACK blocks of an incoming ACK (only sane ones: inside (snd.una, snd.max]); a D-SACK
 * (RFC 2883 4) is told to tcp_rack_dsack. */
void tcp_sack_update(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_hdr *seg);
/* RFC 6675 SetPipe over the records: unSACKed and not lost, or retransmitted. */
uint32_t tcp_sack_pipe(const struct ts_tcp_conn *c);
/* RFC 6675 4 IsLost over the queue: mark each unSACKed record with DupThresh SACKed records or
 * more than (DupThresh - 1) * SMSS SACKed bytes above it. Returns how many were newly marked. */
unsigned tcp_sack_mark_lost(struct ts_tcp_conn *c);
/* Is some record marked lost and not retransmitted (RFC 6675 NextSeg rule 1 has work)? */
bool tcp_sack_lost(const struct ts_tcp_conn *c);
/* Every unSACKed record lost, none in the pipe (a retransmission timeout, RFC 6675 5.1). */
void tcp_sack_mark_all_lost(struct ts_tcp_conn *c);
/* No record lost or retransmitted any more (a recovery undone). */
void tcp_sack_unmark(struct ts_tcp_conn *c);
/* Retransmit lost records while cwnd - pipe allows a segment (RFC 6675 5 step C, NextSeg 1). */
void tcp_sack_recover(struct ts_stack *s, struct ts_tcp_conn *c);
/* If seq lies in a SACKed range, the range's end; else seq. *limit: the next SACKed left edge
 * above seq (or snd.max). */
uint32_t tcp_sack_skip(const struct ts_tcp_conn *c, uint32_t seq, uint32_t *limit);
/* A record by index from the oldest (no bounds check). */
static inline struct tcp_txseg *tcp_txq_at(const struct ts_tcp_conn *c, uint32_t i)
{
    return &c->txq.v[(c->txq.head + i) & (c->txq.cap - 1)];
}
/* Receiving: a duplicate segment [l, r) arrived; the next ACK reports it (RFC 2883 4). */
void tcp_dsack_note(struct ts_tcp_conn *c, uint32_t l, uint32_t r);

/* ---- tcp_recovery.c: RACK-TLP (RFC 8985), PRR (RFC 6937), undo (RFC 3708) ---- */
/* A record was delivered (ACKed or SACKed for the first time): RACK's latest delivered
 * segment and RTT (RFC 8985 6.2 steps 1-2), reordering seen (step 3). */
void tcp_rack_delivered(struct ts_stack *s, struct ts_tcp_conn *c, const struct tcp_txseg *r,
                        const struct tcp_hdr *seg);
/* A D-SACK arrived for [l, r): the reordering window grows (RFC 8985 6.2 step 4) and, when every
 * retransmission of the episode proves duplicate, the congestion response is undone. */
void tcp_rack_dsack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t l, uint32_t r);
/* RFC 8985 6.2 step 5: mark lost what was sent a reordering window and an RTT before the latest
 * delivered segment; arm the reordering timer for what may still arrive. Returns marked. */
unsigned tcp_rack_detect(struct ts_stack *s, struct ts_tcp_conn *c);
/* The reordering timer fired (RFC 8985 6.3). */
void tcp_rack_timeout(struct ts_stack *s, struct ts_tcp_conn *c);
/* After an ACK was processed: loss detection (RACK and RFC 6675 IsLost), entering SACK
 * recovery, PRR's send quota, and the retransmissions it allows. */
void tcp_recovery_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t delivered,
                         bool una_moved);
/* Recovery starts (RFC 6937 initialisation) / a congestion response begins (undo state saved). */
void tcp_prr_init(struct ts_tcp_conn *c);
void tcp_undo_arm(struct ts_tcp_conn *c);
/* F-RTO (RFC 5682 3.1) steps 2 and 3, for an ACK while c->frto is set. True: this ACK sends
 * nothing more (new data went in its place, or step 3 still waits). */
bool tcp_frto_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, bool una_moved, bool dup);
/* A retransmission left in the episode (undo counts them). */
void tcp_undo_count_retrans(struct ts_tcp_conn *c);
/* RFC 8985 7.2 TLP timer, and what it does when it fires. */
void tcp_tlp_arm(struct ts_tcp_conn *c, ts_time_t now);
void tcp_tlp_fire(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now);

/* ---- tcp_rate.c ---- */
/* Record r leaves now (sent or resent); idle: nothing else was in flight. */
void tcp_rate_on_send(struct ts_tcp_conn *c, struct tcp_txseg *r, ts_time_t now, bool idle);
/* Record r is delivered (ACKed or SACKed for the first time). */
void tcp_rate_delivered(struct ts_tcp_conn *c, const struct tcp_txseg *r, ts_time_t now);
/* The ACK's deliveries are all counted: complete c->rate.rs. True if it holds a rate. */
bool tcp_rate_sample(struct ts_tcp_conn *c, ts_time_t min_rtt);
/* Start the next ACK's sample. */
void tcp_rate_reset(struct ts_tcp_conn *c);
/* After sending: mark the flight application-limited if nothing more waits to go. */
void tcp_rate_check_app_limited(struct ts_tcp_conn *c);

/* ---- tcp_cc.c, tcp_cc_cubic.c, tcp_cc_bbr.c ---- */
void tcp_cc_init(struct ts_tcp_conn *c);
/* An ACK advanced snd.una by acked bytes (called after snd.una moved). */
void tcp_cc_on_ack(struct ts_stack *s, struct ts_tcp_conn *c, uint32_t acked, ts_time_t now);
/* A duplicate ACK (RFC 5681 2 definition). */
void tcp_cc_on_dupack(struct ts_stack *s, struct ts_tcp_conn *c, ts_time_t now);
/* Retransmission timeout: RFC 5681 3.1 equation 4 and cwnd = 1 MSS. */
void tcp_cc_on_rto(struct ts_tcp_conn *c);
/* Enter loss recovery (RFC 6675 5 step 4 / RFC 6937): ssthresh, RecoveryPoint, PRR. */
void tcp_cc_enter_recovery(struct ts_stack *s, struct ts_tcp_conn *c, bool sack);
/* After sending (RFC 7661, Linux's tcp_cwnd_validate): remember whether cwnd limited the flight. */
void tcp_cc_validate(struct ts_tcp_conn *c);
/* The algorithm's ops; switch a connection to another (TCP_CONGESTION): once it runs, its
 * cwnd and ssthresh are kept and the new algorithm's own state starts from them. */
const struct tcp_cc_ops *tcp_cc_ops_of(enum ts_tcp_cc cc);
void tcp_cc_select(struct ts_tcp_conn *c, enum ts_tcp_cc cc);
/* BBR's model as STATUS shows it: BtlBw (bytes/s), RTprop, the state's name. */
void tcp_bbr_get_model(const struct ts_tcp_conn *c, uint64_t *bw, ts_time_t *min_rtt,
                       const char **mode);
/* Every ACK, once its deliveries are counted: the rate sample, to the algorithm that wants it. */
void tcp_cc_on_sample(struct ts_tcp_conn *c, ts_time_t now);
/* NewReno's start and growth, which CUBIC shares (slow start). */
void tcp_reno_init(struct ts_tcp_conn *c);
void tcp_reno_cong_avoid(struct ts_tcp_conn *c, uint32_t acked, ts_time_t now);

/* Receive ring bytes beyond the advertised buffer (see tcp_bufs_alloc). */
static inline uint32_t tcp_rcv_slack(const struct ts_tcp_conn *c)
{
    return (uint32_t)1 << c->rcv.wscale_max;
}
/* Bytes in flight. */
static inline uint32_t tcp_flight(const struct ts_tcp_conn *c)
{
    return c->snd.nxt - c->snd.una;
}
/* The sequence number of our FIN: after the last queued byte (meaningful once snd.fin_queued). */
static inline uint32_t tcp_fin_seq(const struct ts_tcp_conn *c)
{
    return c->snd.buf_seq + c->sndbuf.len;
}

#endif
