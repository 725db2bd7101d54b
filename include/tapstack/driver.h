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
#include <stddef.h>
#include <stdint.h>

#include "tapstack/time.h"

struct ts_driver;

struct ts_driver_ops {
    /* Send one Ethernet frame (no FCS). Returns 0, or -errno; a full queue may drop (-EAGAIN). */
    int (*send)(struct ts_driver *d, const uint8_t *frame, size_t len, ts_time_t now);
    /* Receive one frame into buf: returns its length, 0 when nothing is waiting, -errno on error.
     */
    int (*recv)(struct ts_driver *d, uint8_t *buf, size_t cap, ts_time_t now);
    /* A file descriptor that becomes readable when recv may return a frame, or -1. */
    int (*fd)(struct ts_driver *d);
    /* The earliest time recv will have a frame without the fd becoming readable (a delayed frame
     * in a fault wrapper, a frame queued on an in-memory link), or TS_TIME_NEVER. */
    ts_time_t (*next_deadline)(struct ts_driver *d, ts_time_t now);
    /* Free the driver's own state (not its inner driver: see ts_driver_destroy). */
    void (*destroy)(struct ts_driver *d);
};

struct ts_driver {
    const struct ts_driver_ops *ops;
    const char *name; /* "tap", "pair", "pcap", "fault": for messages */
    void *priv;
    struct ts_driver *inner; /* a wrapper's inner driver, which it owns; NULL for a real link */
};

/* Each call goes to the first driver, from d inwards, that has the op (see "Writing a wrapper"
 * above); when none has it, the call's default. */
static inline int ts_driver_send(struct ts_driver *d, const uint8_t *f, size_t n, ts_time_t now)
{
    while (!d->ops->send && d->inner)
        d = d->inner;
    return d->ops->send ? d->ops->send(d, f, n, now) : -ENOSYS;
}
static inline int ts_driver_recv(struct ts_driver *d, uint8_t *buf, size_t cap, ts_time_t now)
{
    while (!d->ops->recv && d->inner)
        d = d->inner;
    return d->ops->recv ? d->ops->recv(d, buf, cap, now) : 0;
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

/* In-memory pair: two drivers joined back to back. A frame sent on one is received on the other
 * (after `latency` of virtual time, 0 = at once). Queues are bounded; excess frames are dropped. */
void ts_pair_create(struct ts_driver **a, struct ts_driver **b, ts_time_t latency);
/* Frames waiting to be received on d (for tests that pump by hand). */
size_t ts_pair_pending(struct ts_driver *d);

/* pcap writer wrapper: every frame sent or received through it is appended to `path` (link type
 * Ethernet, microsecond timestamps taken from the `now` of each call: the stack's clock, not the
 * wall clock). Takes ownership of inner. NULL + message in err on failure (inner is then still
 * the caller's). */
struct ts_driver *ts_pcap_wrap(struct ts_driver *inner, const char *path, char *err, size_t errlen);

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
 * their order are described in drivers/fault.c. */
struct ts_driver *ts_fault_wrap(struct ts_driver *inner, const struct ts_fault_config *cfg);
/* What the wrapper did so far (both directions summed); returns -1 if d is not a fault driver. */
int ts_fault_stats(struct ts_driver *d, struct ts_fault_stats *out);

#endif
