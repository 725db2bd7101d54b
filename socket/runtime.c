/* The socket shim's runtime: the loop thread that drives one stack, the descriptor table shared
 * by every runtime, the wait/notify machinery, and ts_poll.
 *
 * The loop thread holds rt->mu while it feeds frames and runs timers (ts_stack_step), then drops
 * it and sleeps in epoll on the driver's fd and an eventfd, for exactly as long as the stack's
 * next deadline allows. An application call that makes a deadline earlier (a segment sent arms a
 * retransmission timer, say) writes the eventfd so the loop re-plans; so does a state change
 * while a control client follows the trace.
 *
 * The runtime records the stack's trace (record.h) for stat tools, and serves the control socket
 * (control.c) from the same loop: its descriptors sit in the same epoll set, and the loop handles
 * them with the lock released (include/tapstack/control.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "tapstack/control.h"

/* Descriptors start at 3 so that they never look like stdin/stdout/stderr to code that mixes
 * them with kernel descriptors in messages; the lowest free one is handed out, as POSIX does. */
#define FD_FIRST 3
#define FD_MAX   (1 << 20) /* 100 000 connections and more (the bench holds 100 000) */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER; /* nsocks went down */
static struct tsock **g_tab;
static int g_cap;
static int g_low = FD_FIRST; /* every descriptor from FD_FIRST below it is in use */
static struct ts_runtime *g_runtimes;
static struct ts_runtime *g_default;

ts_time_t shim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts_time_t)ts.tv_sec * TS_SEC + (ts_time_t)ts.tv_nsec / 1000;
}

ts_time_t ts_runtime_now(void)
{
    return shim_now();
}

void rt_wake(struct ts_runtime *rt)
{
    rt->st.loop_wakeups++;
    uint64_t one = 1;
    ssize_t r = write(rt->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN only when the counter is saturated: the loop is awake anyway */
}

void rt_kick(struct ts_runtime *rt)
{
    rt->st.stack_polls++;
    ts_time_t now = shim_now();
    /* The driver counts too: a fault wrapper holds delayed outgoing frames until the loop
     * comes back for them. */
    ts_time_t next = ts_time_min(ts_stack_poll(rt->s, now), ts_driver_next_deadline(rt->d, now));
    if (next < rt->sleep_until) {
        rt->sleep_until = next;
        rt_wake(rt);
    }
}

void rt_kick_conn(struct ts_runtime *rt, struct ts_tcp_conn *c)
{
    /* What a call on c can have done: send on c (arming c's timers), or hand a frame to a
     * delaying driver. Anything due now is run by the loop, woken for it. */
    ts_time_t now = shim_now();
    ts_time_t next = ts_time_min(ts_tcp_next_deadline(c), ts_driver_next_deadline(rt->d, now));
    /* A segment to ourselves waits in the loopback queue for the loop's next step. */
    if (ts_stack_has_loopback(rt->s))
        next = now;
    if (next < rt->sleep_until) {
        rt->sleep_until = next;
        rt_wake(rt);
    }
}

void ts_runtime_get_stats(struct ts_runtime *rt, struct ts_runtime_stats *st)
{
    pthread_mutex_lock(&rt->mu);
    *st = rt->st;
    pthread_mutex_unlock(&rt->mu);
}

/* Milliseconds until deadline, rounded up so that the loop never wakes before it is due and
 * then spins until it is. -1 = forever. */
static int ms_until(ts_time_t deadline)
{
    if (deadline == TS_TIME_NEVER)
        return -1;
    ts_time_t now = shim_now();
    if (deadline <= now)
        return 0;
    ts_time_t ms = (deadline - now + TS_MS - 1) / TS_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Wait for the loop's descriptors until the deadline, to the microsecond where the kernel
 * has epoll_pwait2 (5.11): the stack's timers at sub-millisecond round trips (RACK's
 * reordering timer, the loss probe) are due in tens or hundreds of microseconds, and
 * epoll_wait's whole milliseconds (rounded up) made each of them a millisecond or two of
 * silence on the link. */
static int loop_wait(struct ts_runtime *rt, struct epoll_event *ev, int max, ts_time_t deadline)
{
    static bool no_pwait2;
    if (!no_pwait2 && deadline != TS_TIME_NEVER) {
        ts_time_t now = shim_now(), d = deadline > now ? deadline - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(d / TS_SEC), .tv_nsec = (long)(d % TS_SEC) * 1000};
        int n = epoll_pwait2(rt->epfd, ev, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        no_pwait2 = true;
    }
    return epoll_wait(rt->epfd, ev, max, ms_until(deadline));
}

/* Set in the loop thread: a state change made by the loop itself needs no wake-up. */
static _Thread_local const struct ts_runtime *tl_loop;

/* The stack's trace callback (under rt->mu): record, pass on to the app, and wake the loop if a
 * control client follows the trace and the change came from an application thread. O(1). */
static void rt_on_trace(void *arg, const struct ts_trace_event *ev)
{
    struct ts_runtime *rt = arg;
    rec_event(&rt->rec, ev);
    rt_seg_trace(rt, ev, rt->rec.seq);
    if (rt->trace_fn)
        rt->trace_fn(rt->trace_arg, ev);
    if (rt->followers && !rt->follow_woken && tl_loop != rt) {
        rt->follow_woken = true;
        rt_wake(rt);
    }
}

static void loop_events(struct ts_runtime *rt, struct ctl *ctl, const struct epoll_event *ev, int n,
                        bool *gone)
{
    for (int i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;
        switch (RT_EV_KIND(tag)) {
        case RT_EV_WAKE: {
            uint64_t v;
            ssize_t r = read(rt->wakefd, &v, sizeof v);
            (void)r;
            break;
        }
        case RT_EV_DRV:
            if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
                /* The link is gone: its fd stays ready for ever, so stop watching it. */
                epoll_ctl(rt->epfd, EPOLL_CTL_DEL, rt->drvfd, NULL);
                *gone = true;
            }
            break;
        default:
            /* A control event that came before the loop saw rt->ctl is reported again. */
            if (ctl)
                ctl_event(rt, ctl, tag, ev[i].events);
            break;
        }
    }
}

/* Loop thread, rt->mu held: while an application thread drives the stack in a direct wait (or
 * did within RT_DD_GRACE), the loop does not watch the driver's fd, so a frame wakes only that
 * thread. Returns the latest time the loop must look again: RT_DD_GRACE from now (has the
 * direct waiter gone back to its own work?), or never when the same direct wait has lasted a
 * whole tick (an idle application: its end wakes the loop, rt_direct_release). */
static ts_time_t loop_delegate(struct ts_runtime *rt, ts_time_t now, uint64_t *seen)
{
    bool deleg = !rt->dd_off && rt->dd_gen > 0 && (rt->dd_held || now - rt->dd_left < RT_DD_GRACE);
    if (deleg != rt->loop_deleg) {
        struct epoll_event ev = {.events = deleg ? 0 : EPOLLIN, .data.u64 = RT_EV(RT_EV_DRV, 0, 0)};
        if (epoll_ctl(rt->epfd, EPOLL_CTL_MOD, rt->drvfd, &ev) == 0)
            rt->loop_deleg = deleg;
    }
    rt->loop_parked = false;
    if (!rt->loop_deleg)
        return TS_TIME_NEVER;
    if (rt->dd_held && rt->dd_gen == *seen) {
        rt->loop_parked = true;
        return TS_TIME_NEVER;
    }
    *seen = rt->dd_gen;
    return now + RT_DD_GRACE;
}

/* Loop thread, rt->mu not held: true when it should not take the lock now, because a direct
 * waiter holds it (the loop watches the driver only through that waiter, loop_delegate). On
 * false the loop may already hold the lock (*locked: the try succeeded). */
static bool loop_stand_aside(struct ts_runtime *rt, bool *locked)
{
    if (!rt->loop_deleg)
        return false; /* written by this thread only */
    if (pthread_mutex_trylock(&rt->mu) == 0) {
        *locked = true;
        return false;
    }
    if (__atomic_load_n(&rt->dd_held, __ATOMIC_ACQUIRE))
        return true;
    /* A thread whose direct wait ended within RT_DD_GRACE is handling what it returned (accept,
     * read, close) and will wait, and step, again. Queueing behind it would make each of its
     * unlocks a futex wake of this thread, which then finds the lock taken again: measured on a
     * one-thread connect/close loop, 5 000 such wakes a second. Past the grace the loop takes
     * its turn (loop_delegate then watches the driver itself). */
    return shim_now() - __atomic_load_n(&rt->dd_left, __ATOMIC_RELAXED) < RT_DD_GRACE;
}

/* One step of the stack. The frames it sends (a burst of data on the ACKs it reads) go to the
 * link together (driver.h: hold). */
static ts_time_t rt_step(struct ts_runtime *rt, ts_time_t now)
{
    ts_driver_hold(rt->d, true);
    ts_time_t next = ts_stack_step(rt->s, now);
    ts_driver_hold(rt->d, false);
    return next;
}

static void *loop_main(void *arg)
{
    struct ts_runtime *rt = arg;
    struct epoll_event ev[32];
    uint64_t dd_seen = 0;
    tl_loop = rt;
    pthread_mutex_lock(&rt->mu);
    while (!rt->stopping) {
        ts_time_t now = shim_now();
        ts_time_t next = rt_step(rt, now);
        if (rt->drvfd >= 0)
            next = ts_time_min(next, loop_delegate(rt, now, &dd_seen));
        rt->sleep_until = next;
        mir_flush(rt); /* kernel mirrors: once per batch of frames, not once per event */
        struct ctl *ctl = rt->ctl;
        if (ctl)
            ctl_stage_locked(rt, ctl);
        pthread_mutex_unlock(&rt->mu);
        if (ctl) {
            ctl_flush_followers(rt, ctl);
            next = ts_time_min(next, ctl_deadline(ctl));
        }
        /* A driver without a descriptor can only be polled: look at it every few ms. */
        if (rt->drvfd < 0)
            next = ts_time_min(next, shim_now() + 5 * TS_MS);
        int n = loop_wait(rt, ev, (int)(sizeof ev / sizeof ev[0]), next);
        bool gone = false;
        loop_events(rt, ctl, ev, n, &gone);
        if (ctl)
            ctl_expire(rt, ctl, shim_now());
        bool locked = false;
        while (!gone && loop_stand_aside(rt, &locked)) {
            /* The direct waiter is stepping the stack (it holds the lock): it runs the timers
             * too, so look again a grace later rather than queue for the lock. Measured on a
             * 1 GiB download: the loop's waits for the lock were 4 700 futex calls a second,
             * each paid for by the stepping thread as well. */
            n = loop_wait(rt, ev, (int)(sizeof ev / sizeof ev[0]), shim_now() + RT_DD_GRACE);
            loop_events(rt, ctl, ev, n, &gone);
            if (ctl)
                ctl_expire(rt, ctl, shim_now());
        }
        if (!locked)
            pthread_mutex_lock(&rt->mu);
        if (gone)
            rt->dd_off = true;
        if (gone && rt->link_down) {
            void (*fn)(void *) = rt->link_down;
            void *a = rt->link_down_arg;
            rt->link_down = NULL;
            pthread_mutex_unlock(&rt->mu);
            fn(a);
            pthread_mutex_lock(&rt->mu);
        }
    }
    pthread_mutex_unlock(&rt->mu);
    return NULL;
}

static pthread_condattr_t *mono_attr(pthread_condattr_t *a)
{
    pthread_condattr_init(a);
    pthread_condattr_setclock(a, CLOCK_MONOTONIC);
    return a;
}

struct ts_runtime *ts_runtime_start(struct ts_stack *s, struct ts_driver *d)
{
    if (!s || !d) {
        errno = EINVAL;
        return NULL;
    }
    struct ts_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        errno = ENOMEM;
        return NULL;
    }
    rt->s = s;
    rt->d = d;
    rt->epfd = rt->wakefd = -1;
    rt->drvfd = ts_driver_fd(d);
    rt->sleep_until = TS_TIME_NEVER;
    rt->port_seed = (uint32_t)(shim_now() * 2654435761u);
    rt->started = shim_now();
    pthread_mutex_init(&rt->mu, NULL);
    int err = 0;
    /* Room for a path per connection the stack may hold, and a margin for those that end and
     * start within one turn of the loop. */
    uint32_t conns = ts_stack_config(s)->tcp_max_conns;
    if (rec_init(&rt->rec, TS_CONTROL_RING, TS_CONTROL_HISTORY, (conns ? conns : 4096) + 64) < 0) {
        pthread_mutex_destroy(&rt->mu);
        free(rt);
        errno = ENOMEM;
        return NULL;
    }
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    rt->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->epfd < 0 || rt->wakefd < 0) {
        err = errno;
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = RT_EV(RT_EV_WAKE, 0, 0)};
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->wakefd, &ev) < 0) {
        err = errno;
        goto fail;
    }
    if (rt->drvfd >= 0) {
        ev.data.u64 = RT_EV(RT_EV_DRV, 0, 0);
        if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->drvfd, &ev) < 0) {
            err = errno;
            goto fail;
        }
    }
    /* The runtime records every state change from now on (ts_runtime_set_trace chains an app's
     * own callback after it). */
    ts_stack_set_trace(s, rt_on_trace, rt);
    err = pthread_create(&rt->thread, NULL, loop_main, rt);
    if (err)
        goto fail;
    rt->thread_started = true;
    pthread_setname_np(rt->thread, "tapstack-loop");

    pthread_mutex_lock(&g_mu);
    rt->next = g_runtimes;
    g_runtimes = rt;
    if (!g_default)
        g_default = rt;
    pthread_mutex_unlock(&g_mu);
    return rt;
fail:
    ts_stack_set_trace(s, NULL, NULL);
    if (rt->epfd >= 0)
        close(rt->epfd);
    if (rt->wakefd >= 0)
        close(rt->wakefd);
    rec_free(&rt->rec);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
    errno = err ? err : ENOMEM;
    return NULL;
}

/* ---------------------------------------------------------------- direct wait (shim.h) */

bool rt_hold(struct ts_runtime *rt)
{
    bool ok = false;
    pthread_mutex_lock(&g_mu);
    for (struct ts_runtime *r = g_runtimes; r; r = r->next) {
        if (r == rt && !r->dead) {
            rt->nsocks++; /* ts_runtime_stop waits for it to drop to 0 */
            ok = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return ok;
}

void rt_unhold(struct ts_runtime *rt)
{
    pthread_mutex_lock(&g_mu);
    rt->nsocks--;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_mu);
}

bool rt_direct_claim(struct ts_runtime *rt, int wakefd)
{
    if (rt->dd_held || rt->dd_off || rt->drvfd < 0 || rt->stopping)
        return false;
    __atomic_store_n(&rt->dd_held, true, __ATOMIC_RELEASE); /* read unlocked: loop_stand_aside */
    rt->dd_gen++;
    rt->dd_wakefd = wakefd;
    rt->st.direct_waits++;
    return true;
}

ts_time_t rt_direct_step(struct ts_runtime *rt)
{
    rt->st.direct_steps++;
    ts_time_t next = rt_step(rt, shim_now());
    mir_flush(rt);
    return next;
}

bool rt_direct_sleep(struct ts_runtime *rt, int wakefd, ts_time_t until)
{
    struct pollfd p[2] = {{.fd = rt->drvfd, .events = POLLIN}, {.fd = wakefd, .events = POLLIN}};
    int n = poll(p, 2, ms_until(until));
    if (n > 0 && (p[1].revents & POLLIN)) {
        uint64_t v;
        ssize_t r = read(wakefd, &v, sizeof v);
        (void)r;
    }
    return n <= 0 || !(p[0].revents & (POLLERR | POLLHUP | POLLNVAL));
}

void rt_direct_release(struct ts_runtime *rt, bool driver_failed)
{
    __atomic_store_n(&rt->dd_held, false, __ATOMIC_RELEASE);
    rt->dd_wakefd = -1;
    __atomic_store_n(&rt->dd_left, shim_now(), __ATOMIC_RELAXED); /* loop_stand_aside */
    if (driver_failed)
        rt->dd_off = true;
    if (rt->loop_parked || driver_failed) {
        rt->loop_parked = false;
        rt_wake(rt); /* the loop watches the driver again (or sees it failed) */
    }
}

void ts_runtime_on_link_down(struct ts_runtime *rt, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&rt->mu);
    rt->link_down = fn;
    rt->link_down_arg = arg;
    pthread_mutex_unlock(&rt->mu);
}

void ts_runtime_set_default(struct ts_runtime *rt)
{
    pthread_mutex_lock(&g_mu);
    g_default = rt;
    pthread_mutex_unlock(&g_mu);
}

struct ts_runtime *rt_default(void)
{
    pthread_mutex_lock(&g_mu);
    struct ts_runtime *rt = g_default;
    pthread_mutex_unlock(&g_mu);
    return rt;
}

void ts_runtime_with_stack(struct ts_runtime *rt, void (*fn)(struct ts_stack *s, void *arg),
                           void *arg)
{
    pthread_mutex_lock(&rt->mu);
    fn(rt->s, arg);
    rt_kick(rt); /* fn may have sent something or armed a timer */
    pthread_mutex_unlock(&rt->mu);
}

/* ---------------------------------------------------------------- records */

void ts_runtime_set_trace(struct ts_runtime *rt, ts_trace_fn fn, void *arg)
{
    pthread_mutex_lock(&rt->mu);
    rt->trace_fn = fn;
    rt->trace_arg = arg;
    pthread_mutex_unlock(&rt->mu);
}

size_t ts_runtime_events_since(struct ts_runtime *rt, uint64_t since, struct ts_stat_event *out,
                               size_t max, struct ts_stat_page *pg)
{
    pthread_mutex_lock(&rt->mu);
    size_t n = rec_events_since(&rt->rec, since, out, max, pg);
    pthread_mutex_unlock(&rt->mu);
    return n;
}

size_t ts_runtime_history_since(struct ts_runtime *rt, uint64_t since, struct ts_stat_conn *out,
                                size_t max, struct ts_stat_page *pg)
{
    pthread_mutex_lock(&rt->mu);
    size_t n = rec_history_since(&rt->rec, since, out, max, pg);
    pthread_mutex_unlock(&rt->mu);
    return n;
}

bool ts_runtime_live_path(struct ts_runtime *rt, uint64_t conn_id, struct ts_stat_conn *out)
{
    pthread_mutex_lock(&rt->mu);
    bool ok = rec_live_path(&rt->rec, conn_id, out);
    pthread_mutex_unlock(&rt->mu);
    return ok;
}

void ts_runtime_stop(struct ts_runtime *rt)
{
    if (!rt)
        return;
    pthread_mutex_lock(&g_mu);
    rt->dead = true; /* no new descriptors from now on */
    pthread_mutex_unlock(&g_mu);

    pthread_mutex_lock(&rt->mu);
    rt->stopping = true;
    rt_wake(rt);
    if (rt->dd_held) { /* a direct waiter polls the driver: it must let go */
        uint64_t one = 1;
        ssize_t r = write(rt->dd_wakefd, &one, sizeof one);
        (void)r;
    }
    pthread_mutex_unlock(&rt->mu);
    pthread_join(rt->thread, NULL);

    /* Take every descriptor of this runtime out of the table... */
    pthread_mutex_lock(&g_mu);
    size_t n = 0;
    struct tsock **mine = NULL;
    for (int fd = 0; fd < g_cap; fd++)
        if (g_tab[fd] && g_tab[fd]->rt == rt)
            n++;
    if (n)
        mine = calloc(n, sizeof *mine);
    size_t m = 0;
    for (int fd = 0; fd < g_cap && mine; fd++) {
        if (g_tab[fd] && g_tab[fd]->rt == rt) {
            mine[m++] = g_tab[fd];
            g_tab[fd] = NULL;
            if (fd < g_low)
                g_low = fd;
        }
    }
    pthread_mutex_unlock(&g_mu);

    /* ...abort their connections (the stack is about to vanish: a RST tells the peer at once
     * rather than leaving it to time out) and wake whoever waits on them. */
    pthread_mutex_lock(&rt->mu);
    for (size_t i = 0; i < m; i++) {
        struct tsock *k = mine[i];
        if (k->closing)
            continue;
        k->closing = true;
        k->linger.l_onoff = 1;
        k->linger.l_linger = 0;
        sock_release(k, false);
        sock_notify(k);
    }
    for (struct tsock *k = rt->lingering; k; k = k->next_linger)
        sock_notify(k); /* a lingering close gives up: the stack is going */
    pthread_mutex_unlock(&rt->mu);
    for (size_t i = 0; i < m; i++)
        sock_put(mine[i]);
    free(mine);

    /* Wait until no call is inside a socket of this runtime any more. */
    pthread_mutex_lock(&g_mu);
    while (rt->nsocks > 0)
        pthread_cond_wait(&g_cond, &g_mu);
    for (struct ts_runtime **pp = &g_runtimes; *pp; pp = &(*pp)->next) {
        if (*pp == rt) {
            *pp = rt->next;
            break;
        }
    }
    if (g_default == rt)
        g_default = g_runtimes;
    pthread_mutex_unlock(&g_mu);

    if (rt->ctl)
        ctl_close(rt, rt->ctl);
    ts_stack_free(rt->s);
    ts_driver_destroy(rt->d);
    close(rt->epfd);
    close(rt->wakefd);
    rec_free(&rt->rec);
    rt_seg_free(rt);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* ---------------------------------------------------------------- fork */

void ts_runtime_fork_prepare(struct ts_runtime *rt)
{
    /* The lock order: rt->mu, then g_mu. Held across fork(), every socket is consistent in the
     * child's copy of memory. */
    pthread_mutex_lock(&rt->mu);
    pthread_mutex_lock(&g_mu);
}

void ts_runtime_fork_parent(struct ts_runtime *rt)
{
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&rt->mu);
}

void ts_runtime_fork_child(struct ts_runtime *rt)
{
    /* Only this thread exists here, and nothing in this process will use the runtime again: no
     * lock is taken or released (a forked child may not even unlock a mutex another thread of
     * its parent locked, and these stay held), only the child's descriptors are closed. */
    for (int fd = 0; fd < g_cap; fd++)
        if (g_tab[fd] && g_tab[fd]->rt == rt)
            mir_close_after_fork(g_tab[fd]);
    if (rt->ctl)
        ctl_close_after_fork(rt->ctl);
    if (rt->drvfd >= 0)
        close(rt->drvfd);
    close(rt->epfd);
    close(rt->wakefd);
}

/* ---------------------------------------------------------------- sockets and descriptors */

struct tsock *sock_alloc(struct ts_runtime *rt, int type)
{
    struct tsock *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->rt = rt;
    k->type = type;
    k->fd = -1;
    pthread_condattr_t a;
    pthread_cond_init(&k->cond, mono_attr(&a));
    pthread_condattr_destroy(&a);
    return k;
}

static void sock_free(struct tsock *k)
{
    ep_free(k->ep);
    pthread_cond_destroy(&k->cond);
    free(k->peek);
    free(k);
}

void sock_discard(struct tsock *k)
{
    sock_free(k);
}

int fd_install(struct tsock *k)
{
    pthread_mutex_lock(&g_mu);
    if (k->rt && k->rt->dead) {
        pthread_mutex_unlock(&g_mu);
        errno = ENETDOWN;
        return -1;
    }
    int fd = g_low;
    while (fd < g_cap && g_tab[fd])
        fd++;
    if (fd >= g_cap) {
        int ncap = g_cap ? g_cap * 2 : 64;
        if (ncap > FD_MAX)
            ncap = FD_MAX;
        if (fd >= ncap) {
            pthread_mutex_unlock(&g_mu);
            errno = EMFILE;
            return -1;
        }
        struct tsock **t = realloc(g_tab, (size_t)ncap * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&g_mu);
            errno = ENOMEM;
            return -1;
        }
        memset(t + g_cap, 0, (size_t)(ncap - g_cap) * sizeof *t);
        g_tab = t;
        g_cap = ncap;
    }
    g_tab[fd] = k;
    g_low = fd + 1;
    k->fd = fd;
    k->refs = 1;
    if (k->rt)
        k->rt->nsocks++;
    pthread_mutex_unlock(&g_mu);
    return fd;
}

struct tsock *fd_get(int fd)
{
    struct tsock *k = NULL;
    pthread_mutex_lock(&g_mu);
    if (fd >= 0 && fd < g_cap && g_tab[fd]) {
        k = g_tab[fd];
        k->refs++;
    }
    pthread_mutex_unlock(&g_mu);
    return k;
}

struct tsock *fd_remove(int fd)
{
    struct tsock *k = NULL;
    pthread_mutex_lock(&g_mu);
    if (fd >= 0 && fd < g_cap && g_tab[fd]) {
        k = g_tab[fd];
        g_tab[fd] = NULL;
        if (fd < g_low)
            g_low = fd;
    }
    pthread_mutex_unlock(&g_mu);
    return k;
}

void sock_put(struct tsock *k)
{
    pthread_mutex_lock(&g_mu);
    bool last = --k->refs == 0;
    if (last && k->rt) {
        k->rt->nsocks--;
        pthread_cond_broadcast(&g_cond);
    }
    pthread_mutex_unlock(&g_mu);
    if (last)
        sock_free(k);
}

bool shim_tcp_port_free(struct ts_runtime *rt, const struct tsock *self, uint32_t addr, uint16_t p,
                        bool reuse)
{
    bool free_ = true;
    pthread_mutex_lock(&g_mu);
    for (int fd = 0; fd < g_cap && free_; fd++) {
        const struct tsock *k = g_tab[fd];
        /* Sockets the engine knows (listening, connected) are its business. */
        if (!k || k == self || k->rt != rt || k->type != SOCK_STREAM || !k->bound || k->tc)
            continue;
        if (k->bport != p)
            continue;
        if (k->baddr != 0 && addr != 0 && k->baddr != addr)
            continue;
        if (!(reuse && k->reuse))
            free_ = false;
    }
    pthread_mutex_unlock(&g_mu);
    return free_;
}

/* ---------------------------------------------------------------- waiting */

void pollregs_fire(struct pollreg *head)
{
    for (struct pollreg *r = head; r; r = r->next) {
        pthread_mutex_lock(&r->w->mu);
        r->w->fired = true;
        pthread_cond_signal(&r->w->cond);
        pthread_mutex_unlock(&r->w->mu);
    }
}

void sock_notify_mask(struct tsock *k, uint32_t mask)
{
    if (k->waiters)
        pthread_cond_broadcast(&k->cond);
    pollregs_fire(k->polls);
    ep_sock_event(k, mask);
    mir_note(k, mask);
}

void sock_notify(struct tsock *k)
{
    sock_notify_mask(k, ~0u);
}

static struct timespec abs_ts(ts_time_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / TS_SEC), .tv_nsec = (long)(t % TS_SEC) * 1000};
    return ts;
}

bool sock_wait(struct tsock *k, ts_time_t deadline)
{
    if (deadline != TS_TIME_NEVER && shim_now() >= deadline)
        return false;
    k->waiters++;
    if (deadline == TS_TIME_NEVER) {
        pthread_cond_wait(&k->cond, &k->rt->mu);
    } else {
        struct timespec ts = abs_ts(deadline);
        pthread_cond_timedwait(&k->cond, &k->rt->mu, &ts);
    }
    k->waiters--;
    return true;
}

/* ---------------------------------------------------------------- poll */

void pollreg_link(struct pollreg **head, struct pollreg *r, struct pollwaiter *w)
{
    r->w = w;
    r->prev = NULL;
    r->next = *head;
    if (*head)
        (*head)->prev = r;
    *head = r;
    r->linked = true;
}

void pollreg_unlink(struct pollreg **head, struct pollreg *r)
{
    if (!r->linked)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->linked = false;
}

int ts_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (n > FD_MAX) {
        errno = EINVAL;
        return -1;
    }
    ts_time_t deadline = timeout < 0 ? TS_TIME_NEVER : shim_now() + (ts_time_t)timeout * TS_MS;
    if (n == 0) {
        if (timeout < 0) {
            errno = EINVAL; /* would sleep forever with nothing to wake it */
            return -1;
        }
        struct timespec ts = {.tv_sec = timeout / 1000,
                              .tv_nsec = (long)(timeout % 1000) * 1000000};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct tsock **ks = calloc(n, sizeof *ks);
    struct pollreg *regs = calloc(n, sizeof *regs);
    if (!ks || !regs) {
        free(ks);
        free(regs);
        errno = ENOMEM;
        return -1;
    }
    struct pollwaiter w = {.fired = false};
    pthread_condattr_t a;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, mono_attr(&a));
    pthread_condattr_destroy(&a);

    int count = 0;
    bool first = true, last = timeout == 0;
    for (;;) {
        count = 0;
        for (nfds_t i = 0; i < n; i++) {
            fds[i].revents = 0;
            if (fds[i].fd < 0)
                continue;
            if (first)
                ks[i] = fd_get(fds[i].fd);
            struct tsock *k = ks[i];
            short rev;
            if (!k) {
                rev = POLLNVAL;
            } else if (k->ep) {
                rev = ep_poll_revents(k->ep, first && !last ? &regs[i] : NULL, &w);
                rev &= fds[i].events | POLLERR | POLLHUP | POLLNVAL;
            } else {
                pthread_mutex_lock(&k->rt->mu);
                if (k->closing) {
                    rev = POLLNVAL;
                } else {
                    if (first && !last)
                        pollreg_link(&k->polls, &regs[i], &w);
                    rev = sock_revents(k) & (fds[i].events | POLLERR | POLLHUP);
                }
                pthread_mutex_unlock(&k->rt->mu);
            }
            fds[i].revents = rev;
            if (rev)
                count++;
        }
        first = false;
        if (count > 0 || last)
            break;
        /* Every watched socket now flags w on any change: sleep until one does. */
        pthread_mutex_lock(&w.mu);
        while (!w.fired) {
            if (deadline == TS_TIME_NEVER) {
                pthread_cond_wait(&w.cond, &w.mu);
            } else {
                struct timespec ts = abs_ts(deadline);
                if (pthread_cond_timedwait(&w.cond, &w.mu, &ts) == ETIMEDOUT)
                    break;
            }
        }
        w.fired = false;
        pthread_mutex_unlock(&w.mu);
        if (deadline != TS_TIME_NEVER && shim_now() >= deadline)
            last = true; /* one more look, then report whatever is there */
    }
    for (nfds_t i = 0; i < n; i++) {
        struct tsock *k = ks[i];
        if (!k)
            continue;
        if (k->ep) {
            ep_poll_unlink(k->ep, &regs[i]);
        } else {
            pthread_mutex_lock(&k->rt->mu);
            pollreg_unlink(&k->polls, &regs[i]);
            pthread_mutex_unlock(&k->rt->mu);
        }
        sock_put(k);
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
    free(ks);
    free(regs);
    return count;
}
