/* The map from kernel descriptors to tapstack sockets, their references, and fork.
 *
 * The map is read on every call on every descriptor (read() on a file too), so looking up a
 * descriptor that is not ours costs two loads: a two-level table of atomic pointers, chunks of
 * 1024 made on first use and kept for the life of the process. Taking a reference on a psock
 * (pl_get) and changing the map take one mutex, held for a few instructions only.
 *
 * A psock lives while a kernel descriptor names it or a call is inside it: close() of the last
 * descriptor hangs its mirror up at once (a call blocked in a wait wakes and fails with EBADF,
 * and the kernel can release the file: epoll forgets it, as programs that close without
 * EPOLL_CTL_DEL expect), and the tapstack socket is closed when the last call has left, so its
 * tapstack descriptor is never reused under a call still using it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "tapstack/socket.h"

#define CHUNK_BITS 10
#define CHUNK      (1 << CHUNK_BITS)
#define TOP        1024 /* 1024 * 1024 descriptors: Linux's default hard limit */

typedef _Atomic(struct psock *) slot_t;
static _Atomic(slot_t *) top[TOP];
static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int map_top; /* one past the highest descriptor ever mapped */

bool pl_forked_child;
int pl_stack_pid;

static slot_t *slot(int kfd, bool make)
{
    if (kfd < 0 || kfd >= TOP * CHUNK)
        return NULL;
    slot_t *c = atomic_load_explicit(&top[kfd >> CHUNK_BITS], memory_order_acquire);
    if (!c && make) {
        c = calloc(CHUNK, sizeof *c);
        if (!c)
            return NULL;
        atomic_store_explicit(&top[kfd >> CHUNK_BITS], c, memory_order_release);
    }
    return c ? &c[kfd & (CHUNK - 1)] : NULL;
}

bool pl_mapped(int kfd)
{
    slot_t *s = slot(kfd, false);
    return s && atomic_load_explicit(s, memory_order_acquire) != NULL;
}

struct psock *pl_get(int kfd)
{
    slot_t *s = slot(kfd, false);
    if (!s || !atomic_load_explicit(s, memory_order_acquire))
        return NULL;
    pthread_mutex_lock(&map_mu);
    struct psock *ps = atomic_load(s);
    if (ps)
        atomic_fetch_add(&ps->refs, 1);
    pthread_mutex_unlock(&map_mu);
    return ps;
}

void pl_put(struct psock *ps)
{
    if (atomic_fetch_sub(&ps->refs, 1) != 1)
        return;
    /* The last reference: no descriptor names it and no call is in it. A forked child never
     * touches the stack (its parent's). */
    if (!pl_forked_child && !pl_in_vfork_child())
        ts_close(ps->tsfd);
    free(ps);
}

/* Drop what a stale entry held: its descriptor was closed behind our back (a raw syscall). */
static void drop_locked(slot_t *s, struct psock **hang)
{
    struct psock *old = atomic_load(s);
    atomic_store(s, NULL);
    *hang = NULL;
    if (old && --old->nfds == 0)
        *hang = old;
}

static void last_gone(struct psock *ps)
{
    if (!ps)
        return;
    atomic_store(&ps->closed, true);
    if (!pl_forked_child)
        ts_mirror_hangup(ps->tsfd);
    pl_put(ps); /* the map's reference */
}

struct psock *pl_new(int tsfd, int kfd, int type, bool v6, bool nonblock)
{
    struct psock *ps = calloc(1, sizeof *ps);
    if (!ps) {
        errno = ENOMEM;
        return NULL;
    }
    ps->tsfd = tsfd;
    ps->type = type;
    ps->v6 = v6;
    atomic_init(&ps->refs, 1);
    atomic_init(&ps->nonblock, nonblock);
    ps->nfds = 0;
    pl_map(kfd, ps);
    return ps;
}

void pl_map(int kfd, struct psock *ps)
{
    pthread_mutex_lock(&map_mu);
    slot_t *s = slot(kfd, true);
    struct psock *hang = NULL;
    if (s) {
        drop_locked(s, &hang);
        ps->nfds++;
        atomic_store(s, ps);
        if (kfd >= atomic_load(&map_top))
            atomic_store(&map_top, kfd + 1);
    }
    pthread_mutex_unlock(&map_mu);
    last_gone(hang);
}

void pl_unmap(int kfd)
{
    pthread_mutex_lock(&map_mu);
    slot_t *s = slot(kfd, false);
    struct psock *hang = NULL;
    if (s)
        drop_locked(s, &hang);
    pthread_mutex_unlock(&map_mu);
    last_gone(hang);
}

int pl_map_top(void)
{
    return atomic_load(&map_top);
}

/* ---- fork ---- */

bool pl_in_vfork_child(void)
{
    /* vfork() and posix_spawn's clone share our memory until exec: such a child must not
     * change the map (the parent's). A forked child has its own copy and its own pid. */
    return pl_stack_pid != 0 && getpid() != pl_stack_pid;
}

int pl_child_refuse(int kfd, int err)
{
    static atomic_bool once;
    pl_say(&once,
           "descriptor %d is a tapstack socket of the process this one was forked from: a "
           "forked child cannot use it (the stack runs in its parent's threads); exec a "
           "program, or keep to one process (nginx: master_process off)",
           kfd);
    errno = err;
    return -1;
}

void pl_fork_prepare(void)
{
    pthread_mutex_lock(&map_mu);
}

void pl_fork_parent(void)
{
    pthread_mutex_unlock(&map_mu);
}

void pl_fork_child(void)
{
    pthread_mutex_init(&map_mu, NULL);
}
