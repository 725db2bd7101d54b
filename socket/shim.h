/* Inside the socket shim: the runtime, the socket object, the descriptor table, and the waiting
 * machinery shared by runtime.c (the loop thread, descriptors, poll) and socket.c (the calls).
 *
 * Locks, in the only order they may be taken:
 *   1. rt->mu    one per runtime; guards the stack and every field of that runtime's sockets
 *                (except the ones marked g_mu below).
 *   2. ep->mu    one per epoll instance (epoll.c): its interest set and ready list.
 *   3. g_mu      the process-wide descriptor table (which fd names which socket), socket
 *                reference counts and rt->nsocks / rt->dead.
 *   4. pw->mu    a poll call's own waiter; taken only to flag it and signal it.
 * A thread holding g_mu never takes rt->mu or ep->mu, so the order cannot invert. */
#ifndef TS_SOCKET_SHIM_H
#define TS_SOCKET_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "record.h"
#include "tapstack/control.h"
#include "tapstack/socket.h"
#include "tapstack/tcp.h"
#include "tapstack/udp.h"

struct ctl;
struct seglog;

struct ts_runtime {
    struct ts_stack *s;
    struct ts_driver *d;
    pthread_mutex_t mu;
    pthread_t thread;
    bool thread_started;
    int epfd, wakefd, drvfd;
    bool stopping;           /* rt->mu: the loop must end */
    ts_time_t sleep_until;   /* rt->mu: the deadline the loop sleeps towards */
    uint32_t port_seed;      /* rt->mu: ephemeral port search start */
    struct tsock *lingering; /* rt->mu: sockets blocked in a lingering close */
    /* rt->mu: called once, from the loop, when the driver's fd reports an error or hang-up */
    void (*link_down)(void *arg);
    void *link_down_arg;

    ts_time_t started;    /* when the runtime started */
    struct rec rec;       /* rt->mu: the recorded trace and history (record.h) */
    ts_trace_fn trace_fn; /* rt->mu: the app's trace callback, after recording */
    void *trace_arg;      /* rt->mu */
    unsigned followers;   /* rt->mu: control clients following the trace (set by the loop) */
    bool follow_woken;    /* rt->mu: the loop was woken for new events and has not looked yet */
    struct ctl *ctl;      /* the control socket (control.c): published under rt->mu, then used
                           * by the loop thread only; freed by ts_runtime_stop after the join */
    struct ts_runtime_stats st; /* rt->mu */
    struct tsock *mir_dirty;    /* rt->mu: sockets whose kernel mirror is out of date */
    /* rt->mu: state changes counted since start-up, and the segment ladders (seglog.h; NULL
     * until recording is first turned on). runtime_seg.c. */
    uint64_t moves[TS_CONTROL_NSTATES][TS_CONTROL_NSTATES];
    struct seglog *seg;
    bool seg_on; /* recording (the stack's segment hook is set) */

    /* Direct wait (rt_direct_*): an application thread about to sleep in ts_epoll_wait polls
     * the driver's fd itself and runs the stack, so that a frame wakes one thread, not the loop
     * and then the application. rt->mu. */
    bool dd_held;      /* a thread is in a direct wait (one at a time) */
    bool dd_off;       /* the driver's fd failed: no more direct waits */
    uint64_t dd_gen;   /* direct waits begun */
    ts_time_t dd_left; /* when the last one ended */
    int dd_wakefd;     /* the waiter's eventfd while dd_held (ts_runtime_stop writes it) */
    bool loop_deleg;   /* the loop does not watch the driver's fd (someone polls it directly) */
    bool loop_parked;  /* ...and sleeps with no tick: the direct wait's end must wake it */

    struct ts_runtime *next; /* g_mu: every runtime */
    bool dead;               /* g_mu: being stopped; no new sockets */
    size_t nsocks;           /* g_mu: socket objects alive (freed when it drops to 0) */
};

/* A poll call's waiter. Sockets it watches hold a struct pollreg pointing at it. */
struct pollwaiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool fired;
};
struct pollreg {
    struct pollreg *next, *prev;
    struct pollwaiter *w;
    bool linked;
};

struct ts_epoll;
struct epitem;
struct mirror;

/* A descriptor: a socket, or an epoll instance (ep set, rt NULL: an epoll instance belongs to no
 * runtime and may watch sockets of several). */
struct tsock {
    int fd;
    struct ts_runtime *rt;
    int type;            /* SOCK_STREAM, SOCK_DGRAM, or TSOCK_EPOLL */
    unsigned refs;       /* g_mu: the table's reference plus one per call in progress */
    struct ts_epoll *ep; /* the epoll instance this descriptor is (epoll.c), else NULL */

    /* Everything below: rt->mu. */
    bool closing; /* ts_close or ts_runtime_stop began: calls in progress return EBADF */
    bool nonblock;
    pthread_cond_t cond; /* blocked calls on this socket sleep here (with rt->mu) */
    unsigned waiters;
    struct pollreg *polls;
    struct epitem *epitems; /* the epoll instances watching this socket (epoll.c) */
    struct mirror *mir;     /* its kernel mirror (mirror.c), or NULL */
    struct tsock *next_linger;

    bool reuse, broadcast;
    ts_time_t rcvtimeo, sndtimeo; /* 0 = no limit */
    struct linger linger;
    bool shut_rd, shut_wr;
    int so_error; /* an error no longer held by a connection (positive errno) */

    /* TCP */
    bool bound;
    uint32_t baddr;
    uint16_t bport;
    struct ts_tcp_conn *tc; /* listener or connection, NULL before listen/connect */
    bool listening;
    bool connecting; /* a non-blocking connect not yet reported by connect()/SO_ERROR */
    struct ts_tcp_opts topts;
    uint8_t *peek; /* bytes taken from the connection by MSG_PEEK, not yet read */
    size_t peek_len, peek_cap;

    /* UDP */
    struct ts_udp_sock *us;
    uint32_t udp_rcvbuf, udp_sndbuf;
};

#define TSOCK_EPOLL (-1)

/* ---- runtime.c ---- */
ts_time_t shim_now(void);
/* After a call changed the stack: run what is due and wake the loop if it now has to wake
 * earlier than it planned. Called with rt->mu held. Runs ts_stack_poll, which (until the stack
 * keeps its timers in a wheel) looks at every connection: for calls that only touched one
 * connection, rt_kick_conn is enough. */
void rt_kick(struct ts_runtime *rt);
/* The same after a call that touched only connection c (sent on it, read from it): looks at c's
 * timers and the driver's, nothing else. rt->mu held. */
void rt_kick_conn(struct ts_runtime *rt, struct ts_tcp_conn *c);
/* Descriptor table. */
int fd_install(struct tsock *k); /* -1 + errno (EMFILE, ENETDOWN if the runtime is stopping) */
struct tsock *fd_get(int fd);    /* with a reference, or NULL */
struct tsock *fd_remove(int fd); /* takes it out of the table; the caller inherits its ref */
void sock_put(struct tsock *k);
/* Free a descriptor object that never got a descriptor (fd_install failed). */
void sock_discard(struct tsock *k);
struct tsock *sock_alloc(struct ts_runtime *rt, int type);
struct ts_runtime *rt_default(void);
/* Wake everyone waiting on k (blocked calls, polls and epoll instances). rt->mu held.
 * sock_notify_mask says which poll bits may have changed (an epoll item in edge-triggered mode
 * gets an event only when one of them is among those it waits for); sock_notify: any. */
void sock_notify(struct tsock *k);
void sock_notify_mask(struct tsock *k, uint32_t mask);
/* Poll registrations: a list of them per watched object (a socket's k->polls, an epoll
 * instance's). Link/unlink under the lock that guards the list; fire flags and signals every
 * poll call in the list (taking each one's pw->mu). */
void pollreg_link(struct pollreg **head, struct pollreg *r, struct pollwaiter *w);
void pollreg_unlink(struct pollreg **head, struct pollreg *r);
void pollregs_fire(struct pollreg *head);
/* Sleep on k->cond until notified or the deadline (TS_TIME_NEVER = none) passes.
 * Returns false when the deadline has passed. rt->mu held. */
bool sock_wait(struct tsock *k, ts_time_t deadline);
/* Is TCP port p (on addr) free of sockets that are bound but not yet known to the engine? */
bool shim_tcp_port_free(struct ts_runtime *rt, const struct tsock *self, uint32_t addr, uint16_t p,
                        bool reuse);

/* The loop's epoll events say what they are in data.u64: kind << 56 | generation << 32 | index
 * (the generation tells a control client's slot from the next client to take it). */
enum { RT_EV_WAKE = 1, RT_EV_DRV, RT_EV_CTL_LISTEN, RT_EV_CTL_CLIENT };
#define RT_EV(kind, gen, idx)                                                                      \
    ((uint64_t)(kind) << 56 | (uint64_t)((gen)&0xffffffu) << 32 | (uint64_t)(uint32_t)(idx))
#define RT_EV_KIND(u) ((unsigned)((u) >> 56))
#define RT_EV_GEN(u)  ((uint32_t)((u) >> 32) & 0xffffffu)
#define RT_EV_IDX(u)  ((uint32_t)(u))
void rt_wake(struct ts_runtime *rt); /* write the eventfd: the loop re-plans */

/* Direct wait, used by ts_epoll_wait (epoll.c). Two wake-ups per request/response (the loop
 * thread's, then the application's after a hand-off) cost more than the work itself, so the
 * application thread that would sleep becomes the one that reads the driver instead:
 *   rt_hold     no lock: keep rt alive (counted as a socket) while waiting; false when it is
 *               stopping or gone.
 *   rt_direct_claim  rt->mu: become the runtime's direct waiter (false: someone else is, the
 *               driver has no fd, or the runtime is stopping); wakefd wakes it from outside.
 *   rt_direct_step   rt->mu: feed what the driver holds and run what is due, as the loop does;
 *               returns the stack's next deadline.
 *   rt_direct_sleep  no lock: poll the driver's fd and wakefd until one is readable or until;
 *               false when the driver's fd failed (direct waits then stop for this runtime).
 *   rt_direct_release rt->mu: end the claim (the loop watches the driver again after
 *               RT_DD_GRACE without a direct waiter).
 * The loop thread stops watching the driver's fd while a direct waiter exists, and looks every
 * RT_DD_GRACE whether one still does, so frames wait at most that long when the application
 * is busy elsewhere. */
#define RT_DD_GRACE (1 * TS_MS)
bool rt_hold(struct ts_runtime *rt);
void rt_unhold(struct ts_runtime *rt);
bool rt_direct_claim(struct ts_runtime *rt, int wakefd);
ts_time_t rt_direct_step(struct ts_runtime *rt);
bool rt_direct_sleep(struct ts_runtime *rt, int wakefd, ts_time_t until);
void rt_direct_release(struct ts_runtime *rt, bool driver_failed);

/* ---- runtime_seg.c: transition counts and segment ladders ---- */
/* rt->mu held: count a state change and put it on its ladder (trace_seq: its trace number). */
void rt_seg_trace(struct ts_runtime *rt, const struct ts_trace_event *ev, uint64_t trace_seq);
/* After the loop ended: free the ladders. */
void rt_seg_free(struct ts_runtime *rt);

/* ---- control.c: the control socket, run by the loop thread ---- */
/* rt->mu held: hand the followers the events recorded since they last looked. */
void ctl_stage_locked(struct ts_runtime *rt, struct ctl *c);
/* No lock: write what was staged to the followers. */
void ctl_flush_followers(struct ts_runtime *rt, struct ctl *c);
/* The earliest time the loop must come back for the control socket (TS_TIME_NEVER: none). */
ts_time_t ctl_deadline(struct ctl *c);
/* No lock: an epoll event of the listening socket or a client. */
void ctl_event(struct ts_runtime *rt, struct ctl *c, uint64_t tag, uint32_t events);
/* No lock: close clients past their time limits. */
void ctl_expire(struct ts_runtime *rt, struct ctl *c, ts_time_t now);
/* After the loop ended: close every client and the socket, remove its file, free c. */
void ctl_close(struct ts_runtime *rt, struct ctl *c);
/* In a child after fork(): close the child's copy of the listening socket (the file stays: it
 * is the parent's). No lock. */
void ctl_close_after_fork(struct ctl *c);

/* ---- socket.c ---- */
/* poll(2) readiness of k (POLLIN...). rt->mu held. Counted in rt->st.readiness_checks. */
short sock_revents(struct tsock *k);
/* Close k's protocol endpoint. rt->mu held. linger: honour SO_LINGER > 0 (may sleep). */
void sock_release(struct tsock *k, bool linger);

/* ---- epoll.c ---- */
/* k's readiness may have changed (mask: which bits): queue the watching items. rt->mu held. */
void ep_sock_event(struct tsock *k, uint32_t mask);
/* k is being closed: take it out of every epoll instance watching it. rt->mu held. */
void ep_sock_closed(struct tsock *k);
/* The epoll descriptor k was closed: forget every socket it watches, fail its waiters with
 * EBADF. No lock held. */
void ep_close(struct tsock *k);
/* Free an epoll instance (its descriptor's last reference went). */
void ep_free(struct ts_epoll *ep);
/* ts_poll on an epoll descriptor: POLLIN while its ready list is not empty (POLLNVAL once
 * closed). reg (when not NULL) is linked so that the list becoming non-empty fires it. */
short ep_poll_revents(struct ts_epoll *ep, struct pollreg *reg, struct pollwaiter *w);
void ep_poll_unlink(struct ts_epoll *ep, struct pollreg *reg);

/* ---- mirror.c: kernel mirrors (ts_mirror_open) ---- */
/* k's readiness may have changed (mask: which bits; new data asks for another edge): mark its
 * mirror for the next mir_flush. rt->mu held. */
void mir_note(struct tsock *k, uint32_t mask);
/* Bring every marked mirror of rt up to date. rt->mu held. */
void mir_flush(struct ts_runtime *rt);
/* A call on k is done: its mirror, then the marked ones. rt->mu held. */
void mir_call_done(struct tsock *k);
/* k is being closed: hang its mirror up and free it. rt->mu held. */
void mir_release(struct tsock *k);
/* In a child after fork(): close the child's copies of the mirror's descriptors (no lock). */
void mir_close_after_fork(struct tsock *k);

#endif
