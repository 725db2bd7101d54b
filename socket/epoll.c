/* The event API (ts_epoll_*, include/tapstack/socket.h): Linux's epoll over tapstack sockets.
 *
 * Readiness is pushed, never scanned. An item (one watched socket in one instance) is linked
 * into two lists: the socket's k->epitems (guarded by its runtime's lock) and, while it may be
 * ready, its instance's ready list (guarded by ep->mu). The stack's event callbacks reach
 * sock_notify_mask() with the runtime's lock held; it calls ep_sock_event(), which computes the
 * socket's readiness once (O(1)) and queues each watching item that waits for one of the bits
 * that changed. ts_epoll_wait() only takes items off the ready list, checks each one's
 * readiness again under its runtime's lock (it may have been read meanwhile), reports it, and
 * puts a level-triggered item back at the tail while it is still ready. Its cost is O(events),
 * whatever the number of sockets watched. This is how Linux's ep_poll_callback/ep_send_events
 * work too.
 *
 * Lifetimes: an item holds a reference on its socket (so the socket's memory outlives any
 * waiter looking at the item) and has its own count under ep->mu: one for being in the interest
 * set, one per waiter between dropping ep->mu and taking the socket's runtime lock (the lock
 * order is rt->mu before ep->mu, so a waiter has to let go of ep->mu to look at a socket).
 * `attached` says whether it is still in the interest set; it changes only with both locks. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

/* The bits that are flags, not events (Linux's EP_PRIVATE_BITS). */
#define EP_FLAGS (EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE | EPOLLWAKEUP)
/* What may be asked for together with EPOLLEXCLUSIVE (Linux's EPOLLEXCLUSIVE_OK_BITS). */
#define EP_EXCLUSIVE_OK                                                                            \
    (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
#define EP_MAX_EVENTS (INT_MAX / (int)sizeof(struct epoll_event))

struct epitem {
    struct ts_epoll *ep;
    struct tsock *k; /* holds a reference on k until the item is freed */
    int fd;
    uint32_t events;   /* ep->mu: what it waits for (EPOLLERR|EPOLLHUP included) and flags */
    epoll_data_t data; /* ep->mu */
    unsigned refs;     /* ep->mu */
    bool attached;     /* rt->mu and ep->mu to change; either to read */
    bool ready;        /* ep->mu: on the ready list */
    struct epitem *rd_next, *rd_prev; /* ep->mu */
    struct epitem *k_next, *k_prev;   /* rt->mu: k->epitems */
};

struct ts_epoll {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* waiters in ts_epoll_wait */
    unsigned waiters;
    bool closed;
    struct epitem **byfd; /* the interest set, by descriptor */
    int cap;
    size_t count;
    struct epitem *rd_head, *rd_tail; /* the ready list */
    size_t rd_len;
    int evfd;              /* ts_epoll_fd(): -1 until asked for */
    bool evfd_set;         /* evfd is readable */
    struct pollreg *polls; /* ts_poll calls watching this instance */
    /* Direct wait (shim.h): the runtime of every watched socket (NULL when none yet, or when
     * they belong to several: then waiters sleep on cond), and the eventfd that wakes a waiter
     * polling that runtime's driver. */
    struct ts_runtime *rt; /* ep->mu */
    bool rt_mixed;         /* ep->mu */
    int dwfd;              /* -1 until first needed */
    bool dw_active;        /* ep->mu: one of our waiters is the runtime's direct waiter */
    bool dw_sleeping;      /* ep->mu: ...and is in poll: write dwfd to wake it */
};

/* ---------------------------------------------------------------- items and the ready list */

/* The events of revents that it reports: none once a one-shot item has fired. */
static uint32_t item_report(const struct epitem *it, uint32_t revents)
{
    if (!(it->events & ~EP_FLAGS))
        return 0;
    return revents & it->events & ~EP_FLAGS;
}

/* Make evfd readable exactly while the ready list is not empty. ep->mu held. */
static void evfd_sync(struct ts_epoll *ep)
{
    if (ep->evfd < 0)
        return;
    bool want = ep->rd_len > 0;
    if (want == ep->evfd_set)
        return;
    uint64_t v = 1;
    ssize_t r = want ? write(ep->evfd, &v, sizeof v) : read(ep->evfd, &v, sizeof v);
    (void)r; /* a non-blocking eventfd: neither can fail with the counter at 0 or 1 */
    ep->evfd_set = want;
}

/* Wake our direct waiter if it sleeps in poll. ep->mu held. */
static void dw_wake(struct ts_epoll *ep)
{
    if (!ep->dw_sleeping)
        return;
    ep->dw_sleeping = false; /* one write is enough */
    uint64_t v = 1;
    ssize_t r = write(ep->dwfd, &v, sizeof v);
    (void)r;
}

/* Queue it at the tail of the ready list (nothing if it is there already). wake: tell one
 * waiter, and whoever watches the instance from outside (ts_poll, evfd). ep->mu held. */
static void rd_push(struct ts_epoll *ep, struct epitem *it, bool wake)
{
    if (it->ready)
        return;
    it->ready = true;
    it->rd_next = NULL;
    it->rd_prev = ep->rd_tail;
    if (ep->rd_tail)
        ep->rd_tail->rd_next = it;
    else
        ep->rd_head = it;
    ep->rd_tail = it;
    ep->rd_len++;
    if (!wake)
        return;
    if (ep->waiters)
        pthread_cond_signal(&ep->cond);
    dw_wake(ep);
    if (ep->rd_len == 1) {
        evfd_sync(ep);
        pollregs_fire(ep->polls);
    }
}

static void rd_remove(struct ts_epoll *ep, struct epitem *it)
{
    if (!it->ready)
        return;
    if (it->rd_prev)
        it->rd_prev->rd_next = it->rd_next;
    else
        ep->rd_head = it->rd_next;
    if (it->rd_next)
        it->rd_next->rd_prev = it->rd_prev;
    else
        ep->rd_tail = it->rd_prev;
    it->ready = false;
    ep->rd_len--;
}

/* Take it out of the interest set and its socket's list. Both locks held. Returns true when
 * that dropped the last reference: the caller then frees it with item_free. */
static bool item_detach(struct epitem *it)
{
    struct ts_epoll *ep = it->ep;
    struct tsock *k = it->k;
    if (!it->attached)
        return false;
    it->attached = false;
    rd_remove(ep, it);
    ep->byfd[it->fd] = NULL;
    ep->count--;
    if (it->k_prev)
        it->k_prev->k_next = it->k_next;
    else
        k->epitems = it->k_next;
    if (it->k_next)
        it->k_next->k_prev = it->k_prev;
    return --it->refs == 0;
}

/* Free a detached item with no references left (sock_put takes g_mu: no ep->mu needed). */
static void item_free(struct epitem *it)
{
    sock_put(it->k);
    free(it);
}

/* ---------------------------------------------------------------- from the socket side */

void ep_sock_event(struct tsock *k, uint32_t mask)
{
    if (!k->epitems || k->closing)
        return;
    uint32_t rev = (uint32_t)(unsigned short)sock_revents(k);
    for (struct epitem *it = k->epitems; it; it = it->k_next) {
        struct ts_epoll *ep = it->ep;
        pthread_mutex_lock(&ep->mu);
        /* Level-triggered items that are ready are on the list already or will be put back by
         * the waiter that holds them; edge-triggered ones get one more event per change. */
        if (item_report(it, rev) & mask)
            rd_push(ep, it, true);
        pthread_mutex_unlock(&ep->mu);
    }
}

void ep_sock_closed(struct tsock *k)
{
    while (k->epitems) {
        struct epitem *it = k->epitems;
        struct ts_epoll *ep = it->ep;
        pthread_mutex_lock(&ep->mu);
        bool last = item_detach(it);
        pthread_mutex_unlock(&ep->mu);
        /* Not k's last reference: the caller closing k holds one. */
        if (last)
            item_free(it);
    }
}

/* ---------------------------------------------------------------- the instance */

static struct ts_epoll *ep_new(void)
{
    struct ts_epoll *ep = calloc(1, sizeof *ep);
    if (!ep)
        return NULL;
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_mutex_init(&ep->mu, NULL);
    pthread_cond_init(&ep->cond, &a);
    pthread_condattr_destroy(&a);
    ep->evfd = -1;
    ep->dwfd = -1;
    return ep;
}

void ep_free(struct ts_epoll *ep)
{
    if (!ep)
        return;
    if (ep->evfd >= 0)
        close(ep->evfd);
    if (ep->dwfd >= 0)
        close(ep->dwfd);
    free(ep->byfd);
    pthread_cond_destroy(&ep->cond);
    pthread_mutex_destroy(&ep->mu);
    free(ep);
}

void ep_close(struct tsock *e)
{
    struct ts_epoll *ep = e->ep;
    pthread_mutex_lock(&ep->mu);
    ep->closed = true;
    pthread_cond_broadcast(&ep->cond); /* waiters fail with EBADF */
    dw_wake(ep);
    pollregs_fire(ep->polls); /* polls see POLLNVAL */
    for (int fd = 0; fd < ep->cap && ep->count > 0; fd++) {
        struct epitem *it = ep->byfd[fd];
        if (!it)
            continue;
        /* The socket's lock comes first: let go of ours to take it. The reference keeps the
         * item (and, through it, the socket) alive meanwhile. */
        it->refs++;
        struct tsock *k = it->k;
        pthread_mutex_unlock(&ep->mu);
        pthread_mutex_lock(&k->rt->mu);
        pthread_mutex_lock(&ep->mu);
        item_detach(it); /* unless the socket's close was quicker */
        bool last = --it->refs == 0;
        pthread_mutex_unlock(&k->rt->mu);
        if (last) {
            pthread_mutex_unlock(&ep->mu);
            item_free(it);
            pthread_mutex_lock(&ep->mu);
        }
    }
    pthread_mutex_unlock(&ep->mu);
}

int ts_epoll_create1(int flags)
{
    if (flags & ~EPOLL_CLOEXEC) {
        errno = EINVAL;
        return -1;
    }
    struct tsock *k = sock_alloc(NULL, TSOCK_EPOLL);
    struct ts_epoll *ep = k ? ep_new() : NULL;
    if (!ep) {
        if (k)
            sock_discard(k);
        errno = ENOMEM;
        return -1;
    }
    k->ep = ep;
    int fd = fd_install(k);
    if (fd < 0) {
        int e = errno;
        sock_discard(k);
        errno = e;
    }
    return fd;
}

int ts_epoll_create(int size)
{
    if (size <= 0) {
        errno = EINVAL; /* Linux: the size is only a hint, but must be positive */
        return -1;
    }
    return ts_epoll_create1(0);
}

/* The epoll instance epfd names, with a reference (sock_put when done), or NULL and errno. */
static struct tsock *epoll_get(int epfd)
{
    struct tsock *e = fd_get(epfd);
    if (!e) {
        errno = EBADF;
        return NULL;
    }
    if (!e->ep) {
        sock_put(e);
        errno = EINVAL;
        return NULL;
    }
    return e;
}

int ts_epoll_fd(int epfd)
{
    struct tsock *e = epoll_get(epfd);
    if (!e)
        return -1;
    struct ts_epoll *ep = e->ep;
    int err = 0;
    pthread_mutex_lock(&ep->mu);
    if (ep->closed) {
        err = EBADF;
    } else if (ep->evfd < 0) {
        ep->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ep->evfd < 0)
            err = errno;
        evfd_sync(ep);
    }
    int fd = ep->evfd;
    pthread_mutex_unlock(&ep->mu);
    sock_put(e);
    if (err) {
        errno = err;
        return -1;
    }
    return fd;
}

/* ---------------------------------------------------------------- ts_epoll_ctl */

static int grow_byfd(struct ts_epoll *ep, int fd)
{
    if (fd < ep->cap)
        return 0;
    int ncap = ep->cap ? ep->cap : 64;
    while (ncap <= fd)
        ncap *= 2;
    struct epitem **t = realloc(ep->byfd, (size_t)ncap * sizeof *t);
    if (!t)
        return ENOMEM;
    memset(t + ep->cap, 0, (size_t)(ncap - ep->cap) * sizeof *t);
    ep->byfd = t;
    ep->cap = ncap;
    return 0;
}

/* EPOLL_CTL_ADD. Both locks held; k's reference passes to the item on success. */
static int ctl_add(struct ts_epoll *ep, struct tsock *k, int fd, const struct epoll_event *ev)
{
    if (fd < ep->cap && ep->byfd[fd])
        return EEXIST;
    int e = grow_byfd(ep, fd);
    if (e)
        return e;
    struct epitem *it = calloc(1, sizeof *it);
    if (!it)
        return ENOMEM;
    it->ep = ep;
    it->k = k;
    it->fd = fd;
    it->events = ev->events | EPOLLERR | EPOLLHUP; /* always reported, as Linux does */
    it->data = ev->data;
    it->refs = 1;
    it->attached = true;
    it->k_next = k->epitems;
    if (k->epitems)
        k->epitems->k_prev = it;
    k->epitems = it;
    ep->byfd[fd] = it;
    ep->count++;
    if (!ep->rt_mixed && ep->rt != k->rt) {
        ep->rt_mixed = ep->rt != NULL; /* sockets of two runtimes: no direct wait */
        ep->rt = ep->rt_mixed ? NULL : k->rt;
    }
    if (item_report(it, (uint32_t)(unsigned short)sock_revents(k)))
        rd_push(ep, it, true);
    return 0;
}

/* EPOLL_CTL_MOD: new events and data; a one-shot item is armed again. Both locks held. */
static int ctl_mod(struct epitem *it, struct tsock *k, const struct epoll_event *ev)
{
    if (it->events & EPOLLEXCLUSIVE)
        return EINVAL; /* Linux: an exclusive item cannot be modified */
    it->events = ev->events | EPOLLERR | EPOLLHUP;
    it->data = ev->data;
    if (item_report(it, (uint32_t)(unsigned short)sock_revents(k)))
        rd_push(it->ep, it, true);
    return 0;
}

/* Linux's checks, in Linux's order, before any lock. */
static int ctl_check(int op, int epfd, int fd, const struct epoll_event *ev, struct tsock *e,
                     struct tsock *k)
{
    bool has_event = op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD;
    if (fd == epfd)
        return EINVAL;
    if (k->ep)
        return EPERM; /* no nesting (see socket.h): wait on ts_epoll_fd() in the kernel */
    if (!e->ep)
        return EINVAL;
    if (has_event && (ev->events & EPOLLEXCLUSIVE)) {
        if (op == EPOLL_CTL_MOD || (ev->events & ~EP_EXCLUSIVE_OK))
            return EINVAL;
    }
    if (!has_event && op != EPOLL_CTL_DEL)
        return EINVAL;
    return 0;
}

int ts_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && !event) {
        errno = EFAULT;
        return -1;
    }
    struct tsock *e = fd_get(epfd);
    struct tsock *k = e ? fd_get(fd) : NULL;
    int err = !e || !k ? EBADF : ctl_check(op, epfd, fd, event, e, k);
    if (err) {
        if (k)
            sock_put(k);
        if (e)
            sock_put(e);
        errno = err;
        return -1;
    }
    struct ts_epoll *ep = e->ep;
    struct epitem *gone = NULL;
    bool keep_ref = false;
    pthread_mutex_lock(&k->rt->mu);
    pthread_mutex_lock(&ep->mu);
    struct epitem *it = fd < ep->cap ? ep->byfd[fd] : NULL;
    if (k->closing || ep->closed) {
        err = EBADF;
    } else if (op == EPOLL_CTL_ADD) {
        err = ctl_add(ep, k, fd, event);
        keep_ref = err == 0;
    } else if (!it || it->k != k) {
        err = ENOENT;
    } else if (op == EPOLL_CTL_MOD) {
        err = ctl_mod(it, k, event);
    } else if (item_detach(it)) {
        gone = it;
    }
    pthread_mutex_unlock(&ep->mu);
    pthread_mutex_unlock(&k->rt->mu);
    if (gone)
        item_free(gone);
    if (!keep_ref)
        sock_put(k);
    sock_put(e);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- ts_epoll_wait */

/* Take up to max events off the ready list: only the items that were on it when we started
 * (level-triggered ones we put back go behind them, to be looked at by the next call). ep->mu
 * held on entry and on return; let go of around each socket (its runtime's lock comes first). */
static int harvest(struct ts_epoll *ep, struct epoll_event *out, int max)
{
    int n = 0;
    for (size_t todo = ep->rd_len; n < max && todo > 0 && ep->rd_head; todo--) {
        struct epitem *it = ep->rd_head;
        rd_remove(ep, it);
        it->refs++;
        struct tsock *k = it->k;
        pthread_mutex_unlock(&ep->mu);
        pthread_mutex_lock(&k->rt->mu);
        uint32_t rev = k->closing ? 0 : (uint32_t)(unsigned short)sock_revents(k);
        pthread_mutex_lock(&ep->mu);
        uint32_t r = it->attached ? item_report(it, rev) : 0;
        if (r) {
            out[n].events = r;
            out[n].data = it->data;
            n++;
            if (it->events & EPOLLONESHOT)
                it->events &= EP_FLAGS; /* disarmed until EPOLL_CTL_MOD */
            else if (!(it->events & EPOLLET))
                rd_push(ep, it, false); /* level-triggered: still ready, stays listed */
        }
        pthread_mutex_unlock(&k->rt->mu);
        if (--it->refs == 0) {
            pthread_mutex_unlock(&ep->mu);
            item_free(it);
            pthread_mutex_lock(&ep->mu);
        }
    }
    return n;
}

/* Sleep as the runtime's direct waiter (shim.h) until our ready list is not empty, the
 * instance is closed, or the deadline passes. ep->mu held on entry and on return (let go of
 * meanwhile). false when that cannot be (mixed runtimes, another direct waiter, a driver without
 * a descriptor): the caller then sleeps on cond as before. */
static bool dw_wait(struct ts_epoll *ep, ts_time_t deadline)
{
    struct ts_runtime *rt = ep->rt;
    if (!rt || ep->dw_active)
        return false;
    if (ep->dwfd < 0 && (ep->dwfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return false;
    pthread_mutex_unlock(&ep->mu);
    bool held = rt_hold(rt), mine = false;
    ts_time_t next = 0;
    if (held) {
        pthread_mutex_lock(&rt->mu);
        mine = rt_direct_claim(rt, ep->dwfd);
        if (mine)
            next = rt_direct_step(rt);
        pthread_mutex_unlock(&rt->mu);
    }
    pthread_mutex_lock(&ep->mu);
    if (!mine) {
        if (held)
            rt_unhold(rt);
        return false;
    }
    ep->dw_active = true;
    bool ok = true;
    while (ok && ep->rd_len == 0 && !ep->closed &&
           (deadline == TS_TIME_NEVER || shim_now() < deadline)) {
        ep->dw_sleeping = true;
        pthread_mutex_unlock(&ep->mu);
        ok = rt_direct_sleep(rt, ep->dwfd, ts_time_min(next, deadline));
        pthread_mutex_lock(&rt->mu);
        if (ok && !rt->stopping)
            next = rt_direct_step(rt);
        else
            ok = false;
        pthread_mutex_unlock(&rt->mu);
        pthread_mutex_lock(&ep->mu);
        ep->dw_sleeping = false;
    }
    ep->dw_active = false;
    pthread_mutex_unlock(&ep->mu);
    pthread_mutex_lock(&rt->mu);
    rt_direct_release(rt, !ok && !rt->stopping);
    pthread_mutex_unlock(&rt->mu);
    rt_unhold(rt);
    pthread_mutex_lock(&ep->mu);
    return ok;
}

static struct timespec deadline_ts(ts_time_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / TS_SEC), .tv_nsec = (long)(t % TS_SEC) * 1000};
    return ts;
}

int ts_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) {
        errno = EINVAL;
        return -1;
    }
    if (!events) {
        errno = EFAULT;
        return -1;
    }
    struct tsock *e = epoll_get(epfd);
    if (!e)
        return -1;
    struct ts_epoll *ep = e->ep;
    ts_time_t deadline = timeout < 0 ? TS_TIME_NEVER : shim_now() + (ts_time_t)timeout * TS_MS;
    int n = 0, err = 0;
    pthread_mutex_lock(&ep->mu);
    for (;;) {
        if (ep->closed) {
            err = EBADF;
            break;
        }
        if (ep->rd_len > 0) {
            n = harvest(ep, events, maxevents);
            if (n > 0)
                break;
            continue; /* all stale, or new ones arrived meanwhile: look again */
        }
        if (timeout == 0 || (deadline != TS_TIME_NEVER && shim_now() >= deadline))
            break;
        if (dw_wait(ep, deadline))
            continue;
        ep->waiters++;
        if (deadline == TS_TIME_NEVER) {
            pthread_cond_wait(&ep->cond, &ep->mu);
        } else {
            struct timespec ts = deadline_ts(deadline);
            pthread_cond_timedwait(&ep->cond, &ep->mu, &ts);
        }
        ep->waiters--;
    }
    /* Events left for others: pass the wake-up on (each event wakes one waiter). */
    if (ep->rd_len > 0 && ep->waiters > 0)
        pthread_cond_signal(&ep->cond);
    evfd_sync(ep);
    pthread_mutex_unlock(&ep->mu);
    sock_put(e);
    if (err) {
        errno = err;
        return -1;
    }
    return n;
}

/* ---------------------------------------------------------------- ts_poll on an instance */

short ep_poll_revents(struct ts_epoll *ep, struct pollreg *reg, struct pollwaiter *w)
{
    pthread_mutex_lock(&ep->mu);
    short rev;
    if (ep->closed) {
        rev = POLLNVAL;
    } else {
        if (reg)
            pollreg_link(&ep->polls, reg, w);
        rev = ep->rd_len > 0 ? POLLIN | POLLRDNORM : 0;
    }
    pthread_mutex_unlock(&ep->mu);
    return rev;
}

void ep_poll_unlink(struct ts_epoll *ep, struct pollreg *reg)
{
    pthread_mutex_lock(&ep->mu);
    pollreg_unlink(&ep->polls, reg);
    pthread_mutex_unlock(&ep->mu);
}
