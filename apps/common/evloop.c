/* The servers' event loop; see evloop.h. */
#include "evloop.h"

#include <errno.h>

#include "netio.h"

#define EV_BATCH 256 /* events taken per ts_epoll_wait */

int ev_init(struct ev_loop *l, volatile sig_atomic_t *stop)
{
    l->stop = stop;
    l->lists = NULL;
    l->epfd = ts_epoll_create1(0);
    return l->epfd < 0 ? -1 : 0;
}

void ev_fini(struct ev_loop *l)
{
    if (l->epfd >= 0)
        ts_close(l->epfd);
    l->epfd = -1;
}

int ev_add(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events,
           void (*fn)(struct ev_io *io, uint32_t events))
{
    io->fd = fd;
    io->fn = fn;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return ts_epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void ev_tlist_init(struct ev_loop *l, struct ev_tlist *tl, int ms)
{
    tl->head.prev = tl->head.next = &tl->head;
    tl->ms = ms;
    tl->next = l->lists;
    l->lists = tl;
}

void ev_timer_init(struct ev_timer *t, void (*fn)(struct ev_timer *t))
{
    t->prev = t->next = NULL;
    t->at = 0;
    t->fn = fn;
}

void ev_timer_stop(struct ev_timer *t)
{
    if (!t->next)
        return;
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

void ev_timer_arm(struct ev_tlist *tl, struct ev_timer *t)
{
    ev_timer_stop(t);
    t->at = nio_now_ms() + tl->ms;
    t->prev = tl->head.prev;
    t->next = &tl->head;
    tl->head.prev->next = t;
    tl->head.prev = t;
}

/* Milliseconds until the earliest deadline of any list, at most NIO_SLICE_MS (so that the stop
 * flag is seen: a signal does not interrupt ts_epoll_wait). */
static int next_timeout(const struct ev_loop *l, int64_t now)
{
    int64_t t = NIO_SLICE_MS;
    for (const struct ev_tlist *tl = l->lists; tl; tl = tl->next) {
        const struct ev_timer *first = tl->head.next;
        if (first != &tl->head && first->at - now < t)
            t = first->at - now;
    }
    return t < 0 ? 0 : (int)t;
}

static void expire(struct ev_loop *l, int64_t now)
{
    for (struct ev_tlist *tl = l->lists; tl; tl = tl->next) {
        while (tl->head.next != &tl->head && tl->head.next->at <= now) {
            struct ev_timer *t = tl->head.next;
            ev_timer_stop(t);
            t->fn(t); /* may free t's owner, or arm it again (at the tail: later than now) */
        }
    }
}

int ev_run(struct ev_loop *l)
{
    struct epoll_event evs[EV_BATCH];
    while (!*l->stop) {
        int n = ts_epoll_wait(l->epfd, evs, EV_BATCH, next_timeout(l, nio_now_ms()));
        if (n < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < n; i++) {
            struct ev_io *io = evs[i].data.ptr;
            io->fn(io, evs[i].events);
        }
        expire(l, nio_now_ms());
    }
    return 0;
}
