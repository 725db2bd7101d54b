/* A link driver: how frames leave and enter a stack.
 *
 * The core never does I/O. It hands every outgoing frame to driver->ops->send, and whoever runs
 * the loop reads frames with ops->recv and passes them to ts_stack_input(). Drivers stack:
 * a wrapper (pcap, fault injection) holds an inner driver and changes part of what passes
 * through, so "tap -> pcap -> fault" is built by wrapping, and the stack only ever sees the
 * outermost one.
 *
 * Writing a wrapper: set `inner` and leave NULL every op the wrapper does not change. The calls
 * below pass such an op through to the inner driver (the first one down that has it), and
 * ts_driver_destroy destroys the inner driver after the wrapper's own destroy, which frees only
 * the wrapper's own state. So a wrapper writes only what it changes. */
#ifndef TAPSTACK_DRIVER_H
#define TAPSTACK_DRIVER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/time.h"

struct ts_driver;

/* ---- Offloads: what a frame carries besides its bytes ----
 *
 * A tap opened with IFF_VNET_HDR puts a virtio-net header in front of every frame; the tap driver
 * turns it into this struct, and a frame the stack sends carries one the other way. A plain frame
 * (every checksum in it, no longer than the MTU) has all fields zero; a NULL meta means the same.
 * The core checks a received meta against the frame before it believes it (link.c), so a driver
 * passes on what it was told, and a header that lies is dropped and counted by the stack. */
enum ts_gso {
    TS_GSO_NONE = 0,
    /* One TCP/IPv4 super-segment: one IPv4 and one TCP header in front of up to 64 KiB of data,
     * which stands for the segments of gso_size data bytes that the link cuts it into (the
     * kernel's TSO/GSO): every piece gets the header with its own seq, the options repeated. */
    TS_GSO_TCPV4 = 1,
    /* One UDP/IPv4 super-datagram (USO, a host app's UDP_SEGMENT): one UDP header in front of
     * the data of several datagrams of gso_size bytes each (the last may be shorter), which the
     * receiver takes as that many datagrams. */
    TS_GSO_UDPV4 = 2,
    TS_GSO_OTHER = 255, /* a type we do not take (IPv6, ...): the stack drops the frame */
};
enum ts_csum {
    TS_CSUM_NONE = 0, /* the checksums are in the frame: the receiver verifies them */
    /* The transport checksum field holds only the pseudo-header sum (not complemented): the sum
     * of the bytes from csum_start to the end is still to be added. On send the kernel does it
     * (for a GSO frame, for each piece); on receive the frame came from the host's own stack,
     * which left the sum to its "NIC", us: nothing crossed a wire, so nothing is checked. */
    TS_CSUM_PARTIAL = 1,
    TS_CSUM_VALID = 2, /* received only: the host already verified the checksums */
};
struct ts_frame_meta {
    uint8_t gso;          /* enum ts_gso */
    uint8_t csum;         /* enum ts_csum */
    uint16_t gso_size;    /* GSO: data bytes of each piece (the MSS) */
    uint16_t hdr_len;     /* GSO: Ethernet + IPv4 + TCP header bytes (what every piece repeats) */
    uint16_t csum_start;  /* PARTIAL: offset in the frame where the summed bytes begin (L4) */
    uint16_t csum_offset; /* PARTIAL: offset of the checksum field from csum_start */
};

/* What a link can take in frames sent to it (ts_driver_offloads). */
#define TS_OFFLOAD_CSUM 0x1u /* TS_CSUM_PARTIAL frames */
#define TS_OFFLOAD_TSO4 0x2u /* TS_GSO_TCPV4 super-segments up to 64 KiB */
#define TS_OFFLOAD_USO4 0x4u /* TS_GSO_UDPV4 super-datagrams (the tap takes them; we send none) */

/* The largest frame a driver hands over: an IPv4 datagram of 65535 bytes and its Ethernet
 * header (a super-segment or a jumbo frame never exceeds it). */
#define TS_FRAME_MAX (65535 + 14)

struct ts_driver_ops {
    /* Send one Ethernet frame (no FCS) with its offload metadata (NULL: a plain frame). Returns 0,
     * or -errno; a full queue may drop (-EAGAIN). */
    int (*send)(struct ts_driver *d, const uint8_t *frame, size_t len,
                const struct ts_frame_meta *meta, ts_time_t now);
    /* Receive one frame into buf and its metadata into *meta (zeroed for a plain frame; never
     * NULL): returns its length, 0 when nothing is waiting, -errno on error. */
    int (*recv)(struct ts_driver *d, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                ts_time_t now);
    /* A file descriptor that becomes readable when recv may return a frame, or -1. */
    int (*fd)(struct ts_driver *d);
    /* The earliest time recv will have a frame without the fd becoming readable (a delayed frame
     * in a fault wrapper, a frame queued on an in-memory link), or TS_TIME_NEVER. */
    ts_time_t (*next_deadline)(struct ts_driver *d, ts_time_t now);
    /* TS_OFFLOAD_* the link takes in sent frames; NULL passes through, the default is none. */
    unsigned (*offloads)(struct ts_driver *d);
    /* Free the driver's own state (not its inner driver: see ts_driver_destroy). */
    void (*destroy)(struct ts_driver *d);
    /* Batching (may be NULL): between hold(d, true) and hold(d, false) send may keep frames
     * instead of handing each to the link at once; hold(d, false) hands every kept frame over,
     * in order, before it returns. Holds nest (only the outermost release hands them over). A
     * frame the link refuses at the release is lost like a dropped one (its send returned 0).
     * The one who holds must release before it sleeps or lets another thread send. */
    void (*hold)(struct ts_driver *d, bool on);
};

struct ts_driver {
    const struct ts_driver_ops *ops;
    const char *name; /* "tap", "pair", "pcap", "fault": for messages */
    void *priv;
    struct ts_driver *inner; /* a wrapper's inner driver, which it owns; NULL for a real link */
};

/* Each call goes to the first driver, from d inwards, that has the op (see "Writing a wrapper"
 * above); when none has it, the call's default. */
static inline int ts_driver_send_meta(struct ts_driver *d, const uint8_t *f, size_t n,
                                      const struct ts_frame_meta *meta, ts_time_t now)
{
    while (!d->ops->send && d->inner)
        d = d->inner;
    return d->ops->send ? d->ops->send(d, f, n, meta, now) : -ENOSYS;
}
static inline int ts_driver_recv_meta(struct ts_driver *d, uint8_t *buf, size_t cap,
                                      struct ts_frame_meta *meta, ts_time_t now)
{
    while (!d->ops->recv && d->inner)
        d = d->inner;
    *meta = (struct ts_frame_meta){0};
    return d->ops->recv ? d->ops->recv(d, buf, cap, meta, now) : 0;
}
/* A plain frame. */
static inline int ts_driver_send(struct ts_driver *d, const uint8_t *f, size_t n, ts_time_t now)
{
    return ts_driver_send_meta(d, f, n, NULL, now);
}
/* For tests and tools that know their link carries plain frames only: the metadata is dropped. */
static inline int ts_driver_recv(struct ts_driver *d, uint8_t *buf, size_t cap, ts_time_t now)
{
    struct ts_frame_meta m;
    return ts_driver_recv_meta(d, buf, cap, &m, now);
}
static inline int ts_driver_fd(struct ts_driver *d)
{
    while (!d->ops->fd && d->inner)
        d = d->inner;
    return d->ops->fd ? d->ops->fd(d) : -1;
}
static inline ts_time_t ts_driver_next_deadline(struct ts_driver *d, ts_time_t now)
{
    while (!d->ops->next_deadline && d->inner)
        d = d->inner;
    return d->ops->next_deadline ? d->ops->next_deadline(d, now) : TS_TIME_NEVER;
}
static inline unsigned ts_driver_offloads(struct ts_driver *d)
{
    while (!d->ops->offloads && d->inner)
        d = d->inner;
    return d->ops->offloads ? d->ops->offloads(d) : 0;
}
static inline void ts_driver_hold(struct ts_driver *d, bool on)
{
    while (!d->ops->hold && d->inner)
        d = d->inner;
    if (d->ops->hold)
        d->ops->hold(d, on);
}
/* Free the driver and every driver it wraps, outermost first. */
static inline void ts_driver_destroy(struct ts_driver *d)
{
    while (d) {
        struct ts_driver *inner = d->inner;
        if (d->ops->destroy)
            d->ops->destroy(d);
        d = inner;
    }
}

/* ---- The drivers in drivers/ ---- */

/* TAP: attach to interface `ifname` (create it when we may). On failure returns NULL and writes a
 * one-line message that says what is wrong and how to fix it into err (size errlen). */
struct ts_driver *ts_tap_open(const char *ifname, char *err, size_t errlen);
/* The same, with offloads: when `offload`, the tap is opened with IFF_VNET_HDR and TUNSETOFFLOAD
 * asks for checksum offload, TSO4 (and USO4 where the kernel has it), so the host hands over TCP
 * super-segments up to 64 KiB and takes them (ts_driver_offloads says what was granted). When not,
 * offloads are switched off on the tap explicitly: a persistent tap keeps the last setting. */
struct ts_driver *ts_tap_open_ex(const char *ifname, bool offload, char *err, size_t errlen);

/* In-memory pair: two drivers joined back to back. A frame sent on one is received on the other
 * (after `latency` of virtual time, 0 = at once), with its metadata. Queues are bounded; excess
 * frames are dropped. A pair takes no offloads unless told (ts_pair_set_offloads). */
void ts_pair_create(struct ts_driver **a, struct ts_driver **b, ts_time_t latency);
/* What end d reports as its offloads (TS_OFFLOAD_*): the stack using d then sends such frames,
 * and they arrive on the other end as sent, as a tap would hand them over. */
void ts_pair_set_offloads(struct ts_driver *d, unsigned offloads);
/* Frames waiting to be received on d (for tests that pump by hand). */
size_t ts_pair_pending(struct ts_driver *d);

/* pcap writer wrapper: every frame sent or received through it is appended to `path` (link type
 * Ethernet, microsecond timestamps taken from the `now` of each call: the stack's clock, not the
 * wall clock). A super-segment is recorded as the one frame that crossed (up to 64 KiB, its TCP
 * checksum field holding the pseudo-header sum the kernel completes). Takes ownership of inner.
 * NULL + message in err on failure (inner is then still the caller's). */
struct ts_driver *ts_pcap_wrap(struct ts_driver *inner, const char *path, char *err, size_t errlen);

/* Software segmentation, as the kernel does it for a GSO frame: calls out(arg, piece, len) for each
 * wire frame of a TS_GSO_TCPV4 super-segment (IPv4 total length, id + i, header checksum, TCP seq,
 * PSH/FIN on the last piece only, CWR on the first only, full TCP checksum) or TS_GSO_UDPV4
 * super-datagram (IPv4 fields as for TCP, UDP length and checksum), or once with the
 * checksum completed for a TS_CSUM_PARTIAL frame, or once as it is for a plain one. Returns the
 * number of frames, or -EINVAL (and calls nothing) when the meta does not fit the frame. */
int ts_frame_segment(const uint8_t *frame, size_t len, const struct ts_frame_meta *meta,
                     void (*out)(void *arg, const uint8_t *frame, size_t len), void *arg);

/* Complete a TS_CSUM_PARTIAL frame's checksum in place (the sum of the bytes from csum_start to
 * the end, folded into the field at csum_start + csum_offset). 0, or -EINVAL when the offsets do
 * not fit the frame. */
int ts_frame_csum_complete(uint8_t *frame, size_t len, const struct ts_frame_meta *meta);

/* Fault injection wrapper. Probabilities are in [0, 1]; "in" applies to received frames, "out" to
 * sent ones. Deterministic for a given seed. */
struct ts_fault_dir {
    double drop, dup, reorder, corrupt;
    ts_time_t delay; /* fixed extra delay */
};
struct ts_fault_config {
    struct ts_fault_dir in, out;
    uint64_t seed;
};
struct ts_fault_stats {
    uint64_t dropped, duplicated, reordered, corrupted, delayed;
};
/* A frame held back for reordering is released after the next frame of its direction, or after
 * this long when none comes. */
#define TS_FAULT_REORDER_HOLD (10 * TS_MS)
/* Takes ownership of inner; NULL (inner still the caller's) when out of memory. The stages and
 * their order are described in drivers/fault.c. Faults hit wire frames: a super-segment or a
 * partial checksum is cut up / completed (ts_frame_segment) before the stages, and the wrapper
 * offers no offloads to the stack, so a lost or corrupted frame is one MTU-sized frame. */
struct ts_driver *ts_fault_wrap(struct ts_driver *inner, const struct ts_fault_config *cfg);
/* What the wrapper did so far (both directions summed); returns -1 if d is not a fault driver. */
int ts_fault_stats(struct ts_driver *d, struct ts_fault_stats *out);

#endif
