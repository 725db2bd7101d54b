/* A minimal io_uring: see uring.h. The rings are mapped once; an operation is an SQE in the
 * submission ring, and uring_run hands all queued ones to the kernel with io_uring_enter, asking
 * it to wait until as many have completed. */
#include "uring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned *sq_field(struct uring *u, uint32_t off)
{
    return (unsigned *)(void *)(u->sq + off);
}

static unsigned *cq_field(struct uring *u, uint32_t off)
{
    return (unsigned *)(void *)(u->cq + off);
}

void uring_close(struct uring *u)
{
    if (u->sqes && u->sqes != MAP_FAILED)
        munmap(u->sqes, u->p.sq_entries * sizeof(struct io_uring_sqe));
    if (u->cq && u->cq != MAP_FAILED)
        munmap(u->cq, u->cq_len);
    if (u->sq && u->sq != MAP_FAILED)
        munmap(u->sq, u->sq_len);
    if (u->fd >= 0)
        close(u->fd);
    u->sqes = NULL;
    u->sq = u->cq = NULL;
    u->fd = -1;
    u->queued = 0;
}

int uring_open(struct uring *u, unsigned entries)
{
    memset(u, 0, sizeof *u);
    u->fd = -1;
    /* SUBMIT_ALL: one failed operation does not stop the submission of those behind it. */
    struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL};
    int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (fd < 0 && errno == EINVAL) { /* before Linux 5.18 */
        p = (struct io_uring_params){0};
        fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    }
    if (fd < 0)
        return -1;
    u->fd = fd;
    u->p = p;
    u->entries = entries < p.sq_entries ? entries : p.sq_entries;
    u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int prot = PROT_READ | PROT_WRITE, fl = MAP_SHARED | MAP_POPULATE;
    u->sq = mmap(NULL, u->sq_len, prot, fl, fd, IORING_OFF_SQ_RING);
    u->cq = mmap(NULL, u->cq_len, prot, fl, fd, IORING_OFF_CQ_RING);
    u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), prot, fl, fd, IORING_OFF_SQES);
    if (u->sq == MAP_FAILED || u->cq == MAP_FAILED || u->sqes == MAP_FAILED) {
        uring_close(u);
        return -1;
    }
    return 0;
}

struct io_uring_sqe *uring_sqe(struct uring *u)
{
    if (u->fd < 0 || u->queued >= u->entries)
        return NULL;
    unsigned mask = *sq_field(u, u->p.sq_off.ring_mask);
    unsigned idx = (*sq_field(u, u->p.sq_off.tail) + u->queued) & mask;
    sq_field(u, u->p.sq_off.array)[idx] = idx;
    u->queued++;
    struct io_uring_sqe *e = &u->sqes[idx];
    memset(e, 0, sizeof *e);
    return e;
}

void uring_unqueue(struct uring *u)
{
    u->queued = 0;
}

static unsigned uring_reap(struct uring *u, void (*done)(void *, uint64_t, int32_t), void *arg)
{
    unsigned *head = cq_field(u, u->p.cq_off.head), mask = *cq_field(u, u->p.cq_off.ring_mask);
    unsigned h = *head, tail = __atomic_load_n(cq_field(u, u->p.cq_off.tail), __ATOMIC_ACQUIRE);
    const struct io_uring_cqe *cqes = (const void *)(u->cq + u->p.cq_off.cqes);
    unsigned n = 0;
    for (; h != tail; h++, n++)
        done(arg, cqes[h & mask].user_data, cqes[h & mask].res);
    __atomic_store_n(head, h, __ATOMIC_RELEASE);
    return n;
}

int uring_run(struct uring *u, void (*done)(void *arg, uint64_t data, int32_t res), void *arg)
{
    if (u->queued == 0)
        return 0;
    unsigned *tail = sq_field(u, u->p.sq_off.tail), *khead = sq_field(u, u->p.sq_off.head);
    unsigned end = *tail + u->queued, want = u->queued, got = 0;
    __atomic_store_n(tail, end, __ATOMIC_RELEASE);
    u->queued = 0;
    for (;;) {
        got += uring_reap(u, done, arg);
        if (got >= want)
            return 0;
        unsigned pend = end - __atomic_load_n(khead, __ATOMIC_ACQUIRE);
        long r =
            syscall(__NR_io_uring_enter, u->fd, pend, want - got, IORING_ENTER_GETEVENTS, NULL, 0);
        if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
            /* Broken: closing the ring cancels what is left; report those as failed. Which
             * user_data they had is lost with the ring, so ~0 stands for each. */
            uring_close(u);
            for (; got < want; got++)
                done(arg, ~(uint64_t)0, -EIO);
            return -1;
        }
    }
}
