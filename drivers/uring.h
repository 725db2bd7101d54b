/* A minimal io_uring (no liburing): the tap driver's way to move a burst of frames with one
 * system call (drivers/tap.c). Every operation it queues is run and waited for within
 * uring_run, so the caller's buffers are free again when it returns. */
#ifndef TAPSTACK_DRIVERS_URING_H
#define TAPSTACK_DRIVERS_URING_H

#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

struct uring {
    int fd; /* -1: none (an old kernel, io_uring_disabled, a seccomp filter) */
    unsigned queued, entries;
    uint8_t *sq, *cq;
    size_t sq_len, cq_len;
    struct io_uring_sqe *sqes;
    struct io_uring_params p;
};

/* Set up a ring of `entries` operations; 0, or -1 with u->fd == -1. */
int uring_open(struct uring *u, unsigned entries);
void uring_close(struct uring *u);
/* The next operation to fill in (zeroed), or NULL when `entries` are queued. */
struct io_uring_sqe *uring_sqe(struct uring *u);
/* Forget what is queued (not yet handed to the kernel). */
void uring_unqueue(struct uring *u);
/* Submit what is queued and wait until all of it has completed, calling done(arg, user_data,
 * result) for each. 0, or -1 when the ring failed (then it is closed: u->fd == -1, and the
 * operations that did not report are reported with -EIO). */
int uring_run(struct uring *u, void (*done)(void *arg, uint64_t data, int32_t res), void *arg);

#endif
