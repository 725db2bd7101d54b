/* Kernel mirrors (ts_mirror_open, include/tapstack/socket.h): a tapstack socket's readiness
 * reflected on a kernel descriptor, so that the kernel's own poll, select and epoll wait for it
 * among the program's other descriptors. What running unmodified programs needs
 * (preload/, tapstack-run): their waits never come through us.
 *
 * The descriptor is one end (A) of an AF_UNIX stream socketpair; the runtime keeps the other end
 * (B) and a duplicate of A of its own (A'). A unix socket's poll answer is made of four things we
 * can set from our side, each with one system call:
 *   readable    a byte ("token") sent from B waits at A;          drained from A' when not
 *   writable    A's send buffer (shrunk to the minimum, 4608) is free; filled with 512 bytes sent
 *               from A' to B (A then counts as full), emptied by reading them at B
 *   EOF         B shut for writing: A reads POLLIN|POLLRDHUP for good (the peer's FIN)
 *   hang-up     B closed: POLLHUP (and POLLERR when B still had unread bytes), for good
 * A socket's readiness is computed (sock_revents) under its runtime's lock after every call on
 * it and for every event of the stack, and the mirror changed only where it differs, so a
 * program that waits sees exactly what a call would find, and never spins.
 *
 * Edge-triggered waiters (EPOLLET) need an edge for each new arrival, not only when a socket
 * turns readable: every batch of new data (or a new connection to accept) sends another token,
 * which wakes the kernel's waiters again, as a kernel TCP socket's data_ready does. The tokens
 * are drained once the socket has nothing more to read, and at most MIR_TOKENS wait at a time.
 *
 * Writability has hysteresis, as Linux's sk_stream_write_space: once a send found the buffer
 * full, the mirror turns writable again only when a third of the buffer is free, so that a bulk
 * sender wakes once per third of a buffer, not once per acknowledgement.
 *
 * The stack's events come from the loop thread hundreds of times per batch of frames; they only
 * mark the socket (mir_note), and the marked ones are brought up to date once per batch
 * (mir_flush: the loop after ts_stack_step, and every call on the way out). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

#define MIR_TOKENS 32
#define MIR_FILL   512 /* A' -> B: enough to make A's minimal send buffer count as full */

struct mirror {
    int a;      /* our duplicate of the caller's end: drain tokens, send the fill */
    int b;      /* the other end: tokens out, the fill in */
    bool r, w;  /* what A shows now */
    bool rdhup; /* B shut for writing: A reads EOF for good */
    bool dead;  /* hung up: A and B are gone from here */
    unsigned tokens;
    uint32_t events; /* event bits noted since the last sync (new data: another edge) */
    bool queued;     /* on rt->mir_dirty */
    struct tsock *next_dirty;
};

/* A descriptor moved to min or above (the program's own numbers stay low), close-on-exec. */
static int move_high(int fd, int min)
{
    if (min <= 0)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, min);
    if (n < 0)
        return fd; /* no room up there: keep the low one */
    close(fd);
    return n;
}

/* Read fd empty. A stream socket's recv takes all that is queued, up to the buffer, so one that
 * returns less than asked for has emptied it: no second call to find EAGAIN (one system call of
 * the nine per request/response under tapstack-run). */
static void drain(int fd)
{
    char buf[4096];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) == (ssize_t)sizeof buf)
        ;
}

/* Hang up for good: HUP (and ERR when err) at A. The runtime lets go of both its descriptors,
 * so the program's close of A is the last reference to A's file and the kernel's epoll forgets
 * it by itself, as programs like nginx rely on. */
static void mir_hangup(struct mirror *m, bool err)
{
    if (m->dead)
        return;
    if (err) {
        /* A unix socket closed with unread bytes sets ECONNRESET on its peer: POLLERR. */
        ssize_t n = send(m->a, "e", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;
    } else {
        drain(m->b); /* nothing unread: a clean hang-up, and A writable (as Linux's HUP is) */
    }
    close(m->b);
    close(m->a);
    m->a = m->b = -1;
    m->dead = true;
}

/* May k turn writable again: after a full buffer, only with a third of it free (see above). */
static bool enough_room(struct tsock *k)
{
    if (k->type != SOCK_STREAM || !k->tc || k->listening || k->shut_wr)
        return true;
    enum ts_tcp_state st = ts_tcp_state(k->tc);
    if (st == TS_TCP_CLOSE || ts_tcp_error(k->tc, false))
        return true;
    return ts_tcp_writable(k->tc) * 3 >= k->topts.sndbuf;
}

static void mir_sync(struct tsock *k)
{
    struct mirror *m = k->mir;
    if (!m || m->dead)
        return;
    struct ts_runtime_stats *st = &k->rt->st;
    st->mirror_syncs++;
    uint32_t ev = m->events;
    m->events = 0;
    short rev = sock_revents(k);
    if (k->type == SOCK_STREAM && !k->tc && !k->listening)
        rev &= ~POLLHUP; /* never connected (Linux: POLLOUT|POLLHUP): connect() may follow */
    if (rev & POLLHUP) {
        st->mirror_syscalls += 3;
        mir_hangup(m, rev & POLLERR);
        return;
    }
    if ((rev & POLLRDHUP) && !m->rdhup) {
        st->mirror_syscalls++;
        shutdown(m->b, SHUT_WR);
        m->rdhup = true;
    }
    bool want_r = rev & (POLLIN | POLLERR);
    bool want_w = rev & (POLLOUT | POLLERR);
    if (want_w && !m->w && !(rev & POLLERR) && !enough_room(k))
        want_w = false;
    if (!m->rdhup) {
        if (want_r && (!m->r || (ev & POLLIN)) && m->tokens < MIR_TOKENS) {
            st->mirror_syscalls++;
            if (send(m->b, "t", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
                m->tokens++;
            m->r = true;
        } else if (!want_r && m->r) {
            st->mirror_syscalls++;
            drain(m->a);
            m->tokens = 0;
            m->r = false;
        }
    }
    if (want_w && !m->w) {
        st->mirror_syscalls++;
        drain(m->b);
        m->w = true;
    } else if (!want_w && m->w) {
        static const char fill[MIR_FILL];
        st->mirror_syscalls++;
        ssize_t n = send(m->a, fill, sizeof fill, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;
        m->w = false;
    }
}

void mir_note(struct tsock *k, uint32_t mask)
{
    struct mirror *m = k->mir;
    if (!m || m->dead)
        return;
    m->events |= mask;
    if (!m->queued) {
        m->queued = true;
        m->next_dirty = k->rt->mir_dirty;
        k->rt->mir_dirty = k;
    }
}

void mir_flush(struct ts_runtime *rt)
{
    while (rt->mir_dirty) {
        struct tsock *k = rt->mir_dirty;
        rt->mir_dirty = k->mir->next_dirty;
        k->mir->queued = false;
        k->mir->next_dirty = NULL;
        mir_sync(k);
    }
}

void mir_call_done(struct tsock *k)
{
    if (k->mir)
        mir_sync(k);  /* what this call changed (data read, buffer filled, state) */
    mir_flush(k->rt); /* and what it caused elsewhere (a loopback peer, a listener's children) */
}

void mir_release(struct tsock *k)
{
    struct mirror *m = k->mir;
    if (!m)
        return;
    if (m->queued) {
        for (struct tsock **pp = &k->rt->mir_dirty; *pp; pp = &(*pp)->mir->next_dirty) {
            if (*pp == k) {
                *pp = m->next_dirty;
                break;
            }
        }
    }
    mir_hangup(m, false);
    free(m);
    k->mir = NULL;
}

void mir_close_after_fork(struct tsock *k)
{
    struct mirror *m = k->mir;
    if (m && !m->dead) {
        close(m->a);
        close(m->b);
    }
}

/* ---------------------------------------------------------------- the calls */

static struct tsock *mir_enter(int fd)
{
    struct tsock *k = fd_get(fd);
    if (!k) {
        errno = EBADF;
        return NULL;
    }
    if (k->ep) {
        sock_put(k);
        errno = ENOTSOCK;
        return NULL;
    }
    pthread_mutex_lock(&k->rt->mu);
    if (k->closing) {
        pthread_mutex_unlock(&k->rt->mu);
        sock_put(k);
        errno = EBADF;
        return NULL;
    }
    return k;
}

static int mir_leave(struct tsock *k, int ret, int err)
{
    pthread_mutex_unlock(&k->rt->mu);
    sock_put(k);
    if (err) {
        errno = err;
        return -1;
    }
    return ret;
}

int ts_mirror_open(int fd, int flags, int min_private_fd)
{
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    struct tsock *k = mir_enter(fd);
    if (!k)
        return -1;
    if (k->mir)
        return mir_leave(k, -1, EEXIST);
    struct mirror *m = calloc(1, sizeof *m);
    int sv[2];
    if (!m)
        return mir_leave(k, -1, ENOMEM);
    if (socketpair(AF_UNIX, SOCK_STREAM | flags, 0, sv) < 0) {
        int e = errno;
        free(m);
        return mir_leave(k, -1, e);
    }
    m->a = fcntl(sv[0], F_DUPFD_CLOEXEC, min_private_fd > 0 ? min_private_fd : 0);
    if (m->a < 0)
        m->a = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
    if (m->a < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        free(m);
        return mir_leave(k, -1, e);
    }
    if (!(flags & SOCK_CLOEXEC)) {
        /* socketpair gave both ends the flag or neither: B is ours, close-on-exec always. */
        fcntl(sv[1], F_SETFD, FD_CLOEXEC);
    }
    m->b = move_high(sv[1], min_private_fd);
    int one = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one); /* the minimum: see the top */
    m->w = true; /* a fresh pair: A writable, nothing to read */
    k->mir = m;
    mir_sync(k);
    return mir_leave(k, sv[0], 0);
}

int ts_mirror_hangup(int fd)
{
    struct tsock *k = mir_enter(fd);
    if (!k)
        return -1;
    if (!k->mir)
        return mir_leave(k, -1, EINVAL);
    mir_hangup(k->mir, false);
    return mir_leave(k, 0, 0);
}
