/* A small event loop for servers on tapstack: how tapstack-httpd and tapstack-echo-server serve
 * every connection from one thread.
 *
 * One ts_epoll instance; each registered descriptor has a handler (struct ev_io, embedded in the
 * app's own connection struct), called with the events ts_epoll_wait reported. Timeouts live in
 * lists, one per fixed duration (an idle timeout, an I/O timeout, ...): arming a timer puts it at
 * the tail of its list with deadline now + the list's duration, so every list stays in deadline
 * order and arming, re-arming, stopping and expiring each cost O(1), whatever the number of
 * connections (the usual trick for servers whose timeouts are a few constants).
 *
 *     struct conn { struct ev_io io; struct ev_timer tmr; ... };
 *     static void on_conn(struct ev_io *io, uint32_t events)
 *     {
 *         struct conn *c = EV_CONTAINER(io, struct conn, io);
 *         ... read/write until EAGAIN (edge-triggered), ev_timer_arm(&idle, &c->tmr) ...
 *     }
 *     ev_init(&loop, stop_flag);
 *     ev_tlist_init(&loop, &idle, 30000);
 *     ev_add(&loop, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, on_conn);
 *     ev_timer_init(&c->tmr, on_timeout);
 *     ev_run(&loop);                   // until *stop_flag
 *
 * Rules: a handler may close and free only its own object (the others in the same batch are
 * still to be called); ts_close() takes a descriptor out of the instance, so there is no ev_del.
 * Timers fire after the batch of events, in deadline order. */
#ifndef TAPSTACK_APPS_EVLOOP_H
#define TAPSTACK_APPS_EVLOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "tapstack/socket.h"

#define EV_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct ev_io {
    int fd;
    void (*fn)(struct ev_io *io, uint32_t events);
};

struct ev_timer {
    struct ev_timer *prev, *next; /* in its list; NULL when not armed */
    int64_t at;                   /* deadline, nio_now_ms() time */
    void (*fn)(struct ev_timer *t);
};

struct ev_tlist {
    struct ev_timer head; /* sentinel of a circular list, earliest first */
    int ms;
    struct ev_tlist *next;
};

struct ev_loop {
    int epfd;
    volatile sig_atomic_t *stop;
    struct ev_tlist *lists;
};

/* Create the epoll instance. 0, or -1 with errno. */
int ev_init(struct ev_loop *l, volatile sig_atomic_t *stop);
void ev_fini(struct ev_loop *l);
/* Watch fd for events, calling fn. 0, or -1 with errno (from ts_epoll_ctl). */
int ev_add(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events,
           void (*fn)(struct ev_io *io, uint32_t events));

void ev_tlist_init(struct ev_loop *l, struct ev_tlist *tl, int ms);
void ev_timer_init(struct ev_timer *t, void (*fn)(struct ev_timer *t));
/* (Re)start t to fire tl->ms from now (it leaves any list it was in). */
void ev_timer_arm(struct ev_tlist *tl, struct ev_timer *t);
void ev_timer_stop(struct ev_timer *t);

/* Serve events and timers until *stop is set (noticed within NIO_SLICE_MS). 0, or -1 with errno
 * when ts_epoll_wait fails. */
int ev_run(struct ev_loop *l);

#endif
