/* The BSD-like calls of include/tapstack/socket.h on top of the TCP and UDP endpoint APIs.
 *
 * Each call finds its socket (with a reference, so a concurrent ts_close cannot free it under
 * us), takes the runtime's lock, works on the stack, and if it has to wait sleeps on the
 * socket's condition variable; the stack's event callbacks (called with the same lock held, from
 * the loop thread or another call) signal it. After every wait a call looks again at everything,
 * the socket may have been closed meanwhile (EBADF). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "shim.h"

#define SOMAXCONN_TS       4096
#define BUF_MIN            1024u
#define BUF_MAX            (64u << 20)
#define UDP_RCVBUF_DEFAULT (256u << 10)
#define UDP_SNDBUF_DEFAULT (256u << 10)

/* ---------------------------------------------------------------- small helpers */

static struct tsock *enter(int fd)
{
    struct tsock *k = fd_get(fd);
    if (!k) {
        errno = EBADF;
        return NULL;
    }
    if (k->ep) {
        sock_put(k);
        errno = ENOTSOCK; /* an epoll descriptor */
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

/* Leave a call: unlock, drop the reference, set errno when err != 0. Returns ret. */
static ssize_t leave(struct tsock *k, ssize_t ret, int err)
{
    mir_call_done(k);
    pthread_mutex_unlock(&k->rt->mu);
    sock_put(k);
    if (err) {
        errno = err;
        return -1;
    }
    return ret;
}

static ts_time_t deadline_after(ts_time_t timeo)
{
    return timeo ? shim_now() + timeo : TS_TIME_NEVER;
}

static bool is_syn_state(enum ts_tcp_state st)
{
    return st == TS_TCP_SYN_SENT || st == TS_TCP_SYN_RECV;
}

/* The peer's FIN has arrived (or the connection is gone): Linux's RCV_SHUTDOWN. */
static bool peer_done(const struct ts_tcp_conn *c)
{
    enum ts_tcp_state st = ts_tcp_state(c);
    return st == TS_TCP_CLOSE_WAIT || st == TS_TCP_LAST_ACK || st == TS_TCP_CLOSING ||
           st == TS_TCP_TIME_WAIT || st == TS_TCP_CLOSE || ts_tcp_read_eof(c);
}

static int sin_in(const struct sockaddr *addr, socklen_t len, uint32_t *ip, uint16_t *port)
{
    if (!addr || len < sizeof(struct sockaddr_in))
        return EINVAL;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    if (sin->sin_family != AF_INET)
        return EAFNOSUPPORT;
    *ip = ntohl(sin->sin_addr.s_addr);
    *port = ntohs(sin->sin_port);
    return 0;
}

/* Write an address the POSIX way: truncated to *len, *len set to the full size. */
static void sin_out(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
    if (!addr || !len)
        return;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(ip);
    sin.sin_port = htons(port);
    size_t n = *len < sizeof sin ? *len : sizeof sin;
    memcpy(addr, &sin, n);
    *len = sizeof sin;
}

/* The poll bits a stack event may have changed (for edge-triggered epoll items: new data does
 * not wake an item that waits only for EPOLLOUT, as on Linux). A state change may change any. */
static uint32_t tcp_ev_mask(unsigned events)
{
    uint32_t m = 0;
    if (events & (TS_TCP_EV_READABLE | TS_TCP_EV_ACCEPT))
        m |= POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | POLLERR;
    if (events & (TS_TCP_EV_WRITABLE | TS_TCP_EV_CONNECTED))
        m |= POLLOUT | POLLWRNORM | POLLHUP | POLLERR;
    if (events &
        ~(TS_TCP_EV_READABLE | TS_TCP_EV_ACCEPT | TS_TCP_EV_WRITABLE | TS_TCP_EV_CONNECTED))
        m = ~0u;
    return m;
}

static void tcp_cb(void *user, struct ts_tcp_conn *c, unsigned events)
{
    (void)c;
    sock_notify_mask(user, tcp_ev_mask(events));
}

static void udp_cb(void *user, struct ts_udp_sock *u, unsigned events)
{
    (void)u;
    uint32_t m = POLLERR;
    if (events & TS_UDP_EV_READABLE)
        m |= POLLIN | POLLRDNORM;
    if (events & ~TS_UDP_EV_READABLE)
        m = ~0u;
    sock_notify_mask(user, m);
}

/* ---------------------------------------------------------------- creation */

int ts_socket_on(struct ts_runtime *rt, int domain, int type, int protocol)
{
    if (!rt) {
        errno = ENETDOWN; /* no runtime started */
        return -1;
    }
    if (domain != AF_INET) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (base == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP) {
            errno = EPROTONOSUPPORT;
            return -1;
        }
    } else if (base == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP) {
            errno = EPROTONOSUPPORT;
            return -1;
        }
    } else {
        errno = EPROTONOSUPPORT;
        return -1;
    }
    struct tsock *k = sock_alloc(rt, base);
    if (!k) {
        errno = ENOMEM;
        return -1;
    }
    k->nonblock = (type & SOCK_NONBLOCK) != 0;
    k->udp_rcvbuf = UDP_RCVBUF_DEFAULT;
    k->udp_sndbuf = UDP_SNDBUF_DEFAULT;
    pthread_mutex_lock(&rt->mu);
    ts_tcp_opts_default(rt->s, &k->topts);
    pthread_mutex_unlock(&rt->mu);
    int fd = fd_install(k);
    if (fd < 0) {
        /* Never installed: nobody else can see it. */
        sock_discard(k);
        return -1;
    }
    return fd;
}

int ts_socket(int domain, int type, int protocol)
{
    return ts_socket_on(rt_default(), domain, type, protocol);
}

/* ---------------------------------------------------------------- release */

/* Close the connection of k the way SO_LINGER says. rt->mu held; may sleep (linger > 0). */
static void tcp_release(struct tsock *k, bool linger)
{
    struct ts_tcp_conn *c = k->tc;
    struct ts_runtime *rt = k->rt;
    k->tc = NULL;
    if (!c)
        return;
    ts_tcp_set_callback(c, NULL, NULL);
    if (k->listening) {
        k->listening = false;
        ts_tcp_close(c, shim_now());
        return;
    }
    if (k->linger.l_onoff && k->linger.l_linger == 0) {
        ts_tcp_abort(c, shim_now()); /* SO_LINGER 0: RST now, as BSD and Linux */
        return;
    }
    if (k->peek_len > 0) {
        /* Data taken by MSG_PEEK was never read: RFC 2525 2.17 / RFC 1122 4.2.2.13, reset. */
        ts_tcp_abort(c, shim_now());
        return;
    }
    enum ts_tcp_state st = ts_tcp_state(c);
    bool can_linger = st == TS_TCP_ESTABLISHED || st == TS_TCP_CLOSE_WAIT || is_syn_state(st) ||
                      st == TS_TCP_FIN_WAIT1 || st == TS_TCP_CLOSING || st == TS_TCP_LAST_ACK;
    if (linger && k->linger.l_onoff && k->linger.l_linger > 0 && can_linger &&
        ts_tcp_readable(c) == 0) {
        /* SO_LINGER > 0: send the FIN now and wait until it is acknowledged (every byte before it
         * is then acknowledged too), the connection fails, or the time is up. The callback stays
         * ours meanwhile so that the acknowledgement wakes us. */
        ts_tcp_set_callback(c, tcp_cb, k);
        ts_tcp_shutdown_write(c, shim_now());
        rt_kick(rt);
        ts_time_t deadline = shim_now() + (ts_time_t)k->linger.l_linger * TS_SEC;
        k->next_linger = rt->lingering;
        rt->lingering = k;
        for (;;) {
            st = ts_tcp_state(c);
            if (st == TS_TCP_FIN_WAIT2 || st == TS_TCP_TIME_WAIT || st == TS_TCP_CLOSE ||
                rt->stopping)
                break;
            if (!sock_wait(k, deadline))
                break;
        }
        for (struct tsock **pp = &rt->lingering; *pp; pp = &(*pp)->next_linger) {
            if (*pp == k) {
                *pp = k->next_linger;
                break;
            }
        }
        ts_tcp_set_callback(c, NULL, NULL);
    }
    ts_tcp_close(c, shim_now());
}

void sock_release(struct tsock *k, bool linger)
{
    ep_sock_closed(k); /* closing a watched socket takes it out of every epoll instance */
    mir_release(k);    /* and hangs its kernel mirror up */
    if (k->type == SOCK_STREAM) {
        tcp_release(k, linger);
    } else if (k->us) {
        ts_udp_close(k->us);
        k->us = NULL;
    }
    k->peek_len = 0;
    rt_kick(k->rt);
}

int ts_close(int fd)
{
    struct tsock *k = fd_remove(fd);
    if (!k) {
        errno = EBADF;
        return -1;
    }
    if (k->ep) {
        ep_close(k);
        sock_put(k);
        return 0;
    }
    struct ts_runtime *rt = k->rt;
    pthread_mutex_lock(&rt->mu);
    if (!k->closing) {
        k->closing = true;
        sock_notify(k); /* calls blocked on it in other threads return EBADF */
        sock_release(k, true);
        sock_notify(k);
        mir_flush(rt); /* what closing it did to others (a listener's children, a local peer) */
    }
    pthread_mutex_unlock(&rt->mu);
    sock_put(k);
    return 0;
}

/* ---------------------------------------------------------------- bind, listen, accept */

static uint16_t tcp_ephemeral(struct tsock *k, uint32_t addr)
{
    struct ts_runtime *rt = k->rt;
    const struct ts_config *cfg = ts_stack_config(rt->s);
    uint32_t lo = cfg->ephemeral_lo, hi = cfg->ephemeral_hi; /* sound: ts_stack_new checks it */
    uint32_t n = hi - lo + 1;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(lo + (rt->port_seed + i) % n);
        if (shim_tcp_port_free(rt, k, addr, p, false) &&
            !ts_tcp_port_in_use(rt->s, addr, p, false)) {
            rt->port_seed += i + 1;
            return p;
        }
    }
    return 0;
}

/* The addresses a socket may bind: any, ours, or one of 127/8 (the stack's loopback). */
static bool addr_is_ours(struct ts_runtime *rt, uint32_t addr)
{
    return addr == 0 || addr == ts_stack_config(rt->s)->ip || (addr >> 24) == 127;
}

int ts_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    uint32_t ip;
    uint16_t port;
    int e = sin_in(addr, len, &ip, &port);
    if (e)
        return (int)leave(k, -1, e);
    struct ts_runtime *rt = k->rt;
    if (k->type == SOCK_DGRAM) {
        if (k->us)
            return (int)leave(k, -1, EINVAL);
        k->us = ts_udp_open(rt->s, ip, port, k->reuse, k->udp_rcvbuf, &e);
        if (!k->us)
            return (int)leave(k, -1, e);
        ts_udp_set_callback(k->us, udp_cb, k);
        return (int)leave(k, 0, 0);
    }
    if (k->bound || k->tc)
        return (int)leave(k, -1, EINVAL);
    if (!addr_is_ours(rt, ip))
        return (int)leave(k, -1, EADDRNOTAVAIL);
    if (port == 0) {
        port = tcp_ephemeral(k, ip);
        if (port == 0)
            return (int)leave(k, -1, EADDRINUSE);
    } else if (!shim_tcp_port_free(rt, k, ip, port, k->reuse) ||
               ts_tcp_port_in_use(rt->s, ip, port, k->reuse)) {
        /* Linux: taken if anyone holds it, unless both sides set SO_REUSEADDR and nobody
         * listens on it (the engine answers for its listeners and connections). */
        return (int)leave(k, -1, EADDRINUSE);
    }
    k->bound = true;
    k->baddr = ip;
    k->bport = port;
    return (int)leave(k, 0, 0);
}

int ts_listen(int fd, int backlog)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (k->type != SOCK_STREAM)
        return (int)leave(k, -1, EOPNOTSUPP);
    if (k->listening)
        return (int)leave(k, 0, 0); /* Linux lets listen() be repeated (to change the backlog) */
    if (k->tc)
        return (int)leave(k, -1, EINVAL);
    if (backlog < 1)
        backlog = 1;
    if (backlog > SOMAXCONN_TS)
        backlog = SOMAXCONN_TS;
    if (!k->bound) {
        /* listen() without bind() gets an ephemeral port, as Linux does. */
        uint16_t p = tcp_ephemeral(k, 0);
        if (p == 0)
            return (int)leave(k, -1, EADDRINUSE);
        k->bound = true;
        k->baddr = 0;
        k->bport = p;
    }
    int e = 0;
    struct ts_tcp_conn *c =
        ts_tcp_listen(k->rt->s, k->baddr, k->bport, backlog, &k->topts, &e, shim_now());
    if (!c)
        return (int)leave(k, -1, e ? e : ENOMEM);
    k->tc = c;
    k->listening = true;
    k->shut_rd = k->shut_wr = false;
    ts_tcp_set_callback(c, tcp_cb, k);
    return (int)leave(k, 0, 0);
}

int ts_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return ts_accept4(fd, addr, len, 0);
}

int ts_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (k->type != SOCK_STREAM)
        return (int)leave(k, -1, EOPNOTSUPP);
    if (!k->listening)
        return (int)leave(k, -1, EINVAL);
    ts_time_t deadline = deadline_after(k->rcvtimeo);
    struct ts_tcp_conn *c;
    for (;;) {
        if (k->closing)
            return (int)leave(k, -1, EBADF);
        if (!k->listening)
            return (int)leave(k, -1, EINVAL); /* shut down while we waited */
        c = ts_tcp_accept(k->tc);
        if (c)
            break;
        if (k->nonblock || !sock_wait(k, deadline))
            return (int)leave(k, -1, EAGAIN);
    }
    struct tsock *n = sock_alloc(k->rt, SOCK_STREAM);
    if (!n) {
        ts_tcp_abort(c, shim_now());
        return (int)leave(k, -1, ENOMEM);
    }
    /* Options set on the listener carry over, as BSD sockets do. */
    n->topts = k->topts;
    ts_tcp_get_opts(c, &n->topts);
    n->reuse = k->reuse;
    n->linger = k->linger;
    n->rcvtimeo = k->rcvtimeo;
    n->sndtimeo = k->sndtimeo;
    n->udp_rcvbuf = UDP_RCVBUF_DEFAULT;
    n->udp_sndbuf = UDP_SNDBUF_DEFAULT;
    n->nonblock = (flags & SOCK_NONBLOCK) != 0;
    n->tc = c;
    n->bound = true;
    uint32_t la, ra;
    uint16_t lp, rp;
    ts_tcp_endpoints(c, &la, &lp, &ra, &rp);
    n->baddr = la;
    n->bport = lp;
    int nfd = fd_install(n);
    if (nfd < 0) {
        int e = errno;
        ts_tcp_abort(c, shim_now());
        rt_kick(k->rt); /* the RST */
        sock_discard(n);
        return (int)leave(k, -1, e);
    }
    ts_tcp_set_callback(c, tcp_cb, n);
    sin_out(addr, len, ra, rp);
    return (int)leave(k, nfd, 0);
}

/* ---------------------------------------------------------------- connect */

/* The outcome of a finished connection attempt: 0, or the error (and the connection is let go
 * so that connect() may be tried again). */
static int connect_result(struct tsock *k)
{
    enum ts_tcp_state st = ts_tcp_state(k->tc);
    int e = ts_tcp_error(k->tc, true);
    if (st != TS_TCP_CLOSE && e == 0)
        return 0;
    if (e == 0)
        e = ECONNABORTED;
    struct ts_tcp_conn *c = k->tc;
    ts_tcp_set_callback(c, NULL, NULL);
    ts_tcp_close(c, shim_now());
    k->tc = NULL;
    if (!k->bound)
        k->bport = 0;
    return e;
}

static int tcp_connect(struct tsock *k, uint32_t ip, uint16_t port)
{
    if (k->listening)
        return EISCONN;
    if (k->tc) {
        enum ts_tcp_state st = ts_tcp_state(k->tc);
        if (is_syn_state(st))
            return EALREADY;
        if (k->connecting) {
            /* A non-blocking connect finished: report its outcome once (as Linux does). */
            k->connecting = false;
            return connect_result(k);
        }
        return EISCONN;
    }
    int e = 0;
    ts_time_t now = shim_now();
    struct ts_tcp_conn *c = ts_tcp_connect(k->rt->s, k->bound ? k->baddr : 0,
                                           k->bound ? k->bport : 0, ip, port, &k->topts, &e, now);
    if (!c)
        return e ? e : ENOMEM;
    k->tc = c;
    k->shut_rd = k->shut_wr = false;
    ts_tcp_set_callback(c, tcp_cb, k);
    rt_kick(k->rt);
    k->connecting = true;
    if (k->nonblock)
        return EINPROGRESS;
    ts_time_t deadline = deadline_after(k->sndtimeo);
    while (is_syn_state(ts_tcp_state(k->tc))) {
        if (!sock_wait(k, deadline))
            return EINPROGRESS; /* SO_SNDTIMEO expired: Linux says EINPROGRESS too */
        if (k->closing)
            return EBADF;
    }
    k->connecting = false;
    return connect_result(k);
}

int ts_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (k->type == SOCK_DGRAM) {
        if (addr && len >= sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
            /* connect(AF_UNSPEC) dissolves a UDP association. */
            if (k->us)
                ts_udp_connect(k->us, 0, 0);
            return (int)leave(k, 0, 0);
        }
        uint32_t ip;
        uint16_t port;
        int e = sin_in(addr, len, &ip, &port);
        if (e)
            return (int)leave(k, -1, e);
        if (!k->us) {
            k->us = ts_udp_open(k->rt->s, 0, 0, k->reuse, k->udp_rcvbuf, &e);
            if (!k->us)
                return (int)leave(k, -1, e);
            ts_udp_set_callback(k->us, udp_cb, k);
        }
        int r = ts_udp_connect(k->us, ip, port);
        return (int)leave(k, r < 0 ? -1 : 0, r < 0 ? -r : 0);
    }
    uint32_t ip;
    uint16_t port;
    int e = sin_in(addr, len, &ip, &port);
    if (e)
        return (int)leave(k, -1, e);
    e = tcp_connect(k, ip, port);
    return (int)leave(k, e ? -1 : 0, e);
}

/* ---------------------------------------------------------------- send */

static ssize_t tcp_send(struct tsock *k, const uint8_t *buf, size_t len, int flags, int *err)
{
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    if (k->shut_wr) {
        *err = EPIPE;
        return -1;
    }
    if (!k->tc || k->listening) {
        *err = ENOTCONN;
        return -1;
    }
    bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
    ts_time_t deadline = deadline_after(k->sndtimeo);
    size_t sent = 0;
    ssize_t r = 0;
    for (;;) {
        if (k->closing) {
            r = -EBADF;
            break;
        }
        if (!k->tc) {
            r = -EPIPE;
            break;
        }
        if (is_syn_state(ts_tcp_state(k->tc))) {
            r = -EAGAIN; /* not connected yet: wait for the handshake as Linux does */
        } else {
            if (len == 0)
                return 0;
            ts_driver_hold(k->rt->d, true); /* the segments of this call go out together */
            r = ts_tcp_send(k->tc, buf + sent, len - sent, shim_now());
            ts_driver_hold(k->rt->d, false);
            if (r > 0) {
                sent += (size_t)r;
                if (sent == len)
                    break;
                continue;
            }
            if (r == 0)
                r = -EAGAIN;
        }
        if (r != -EAGAIN)
            break;
        if (nonblock || !sock_wait(k, deadline))
            break;
    }
    if (sent > 0 && k->tc)
        rt_kick_conn(k->rt, k->tc);
    if (sent > 0)
        return (ssize_t)sent;
    *err = (int)-r;
    return -1;
}

static ssize_t udp_send(struct tsock *k, const void *buf, size_t len, int flags,
                        const struct sockaddr *addr, socklen_t alen, int *err)
{
    uint32_t ip = 0;
    uint16_t port = 0;
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    if (addr) {
        int e = sin_in(addr, alen, &ip, &port);
        if (e) {
            *err = e;
            return -1;
        }
        if (ip == 0)
            ip = ts_stack_config(k->rt->s)->ip; /* INADDR_ANY as a destination means this host */
    }
    if (k->shut_wr) {
        *err = EPIPE;
        return -1;
    }
    if (len > 65507) {
        *err = EMSGSIZE;
        return -1;
    }
    if (!addr) {
        uint32_t ra = 0;
        if (k->us)
            ts_udp_endpoints(k->us, NULL, NULL, &ra, NULL);
        if (ra == 0) {
            *err = EDESTADDRREQ;
            return -1;
        }
    }
    if (!k->us) {
        int e = 0;
        k->us = ts_udp_open(k->rt->s, 0, 0, k->reuse, k->udp_rcvbuf, &e);
        if (!k->us) {
            *err = e;
            return -1;
        }
        ts_udp_set_callback(k->us, udp_cb, k);
    }
    ssize_t r = ts_udp_sendto(k->us, buf, len, ip, port, shim_now());
    rt_kick(k->rt);
    if (r < 0) {
        *err = (int)-r;
        return -1;
    }
    return r;
}

ssize_t ts_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                  socklen_t alen)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    int err = 0;
    ssize_t r;
    if (!buf && len > 0) {
        /* A NULL buffer with bytes to send: EFAULT, as Linux's copy from user memory fails,
         * rather than a crash (issue 13). */
        return leave(k, -1, EFAULT);
    }
    if (k->type == SOCK_STREAM)
        r = tcp_send(k, buf, len, flags, &err); /* the address is ignored, as Linux does */
    else
        r = udp_send(k, buf, len, flags, addr, alen, &err);
    return leave(k, r, r < 0 ? err : 0);
}

ssize_t ts_send(int fd, const void *buf, size_t len, int flags)
{
    return ts_sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t ts_write(int fd, const void *buf, size_t len)
{
    return ts_sendto(fd, buf, len, 0, NULL, 0);
}

/* ---------------------------------------------------------------- receive */

/* Take bytes from k's connection, through the MSG_PEEK buffer. Returns like ts_tcp_recv. */
static ssize_t tcp_pull(struct tsock *k, uint8_t *buf, size_t len, bool peek)
{
    if (k->peek_len == 0 && peek) {
        if (k->peek_cap < len) {
            uint8_t *p = realloc(k->peek, len);
            if (!p)
                return -ENOMEM;
            k->peek = p;
            k->peek_cap = len;
        }
        ssize_t r = ts_tcp_recv(k->tc, k->peek, len, shim_now());
        if (r <= 0)
            return r;
        k->peek_len = (size_t)r;
    }
    if (k->peek_len > 0) {
        size_t n = k->peek_len < len ? k->peek_len : len;
        memcpy(buf, k->peek, n);
        if (!peek) {
            memmove(k->peek, k->peek + n, k->peek_len - n);
            k->peek_len -= n;
        }
        return (ssize_t)n;
    }
    return ts_tcp_recv(k->tc, buf, len, shim_now());
}

static ssize_t tcp_recv(struct tsock *k, uint8_t *buf, size_t len, int flags, int *err)
{
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    if (k->listening || !k->tc) {
        *err = ENOTCONN;
        return -1;
    }
    if (len == 0)
        return 0;
    bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
    bool peek = flags & MSG_PEEK;
    bool waitall = (flags & MSG_WAITALL) && !peek;
    ts_time_t deadline = deadline_after(k->rcvtimeo);
    size_t got = 0;
    ssize_t r;
    for (;;) {
        if (k->closing) {
            r = -EBADF;
            break;
        }
        if (!k->tc) {
            r = 0;
            break;
        }
        r = tcp_pull(k, buf + got, len - got, peek);
        if (r > 0) {
            got += (size_t)r;
            if (!waitall || got == len)
                break;
            continue;
        }
        if (r != -EAGAIN)
            break;
        if (k->shut_rd) {
            r = 0; /* SHUT_RD: what was there has been read; now end of stream */
            break;
        }
        if ((got > 0 && !waitall) || nonblock || !sock_wait(k, deadline))
            break;
    }
    if ((got > 0 || r == 0) && k->tc)
        rt_kick_conn(k->rt, k->tc); /* the window opened: the stack may owe the peer an update */
    if (got > 0)
        return (ssize_t)got;
    if (r >= 0)
        return 0;
    *err = (int)-r;
    return -1;
}

static ssize_t udp_recv(struct tsock *k, void *buf, size_t len, int flags, struct sockaddr *addr,
                        socklen_t *alen, int *err)
{
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    bool nonblock = k->nonblock || (flags & MSG_DONTWAIT);
    ts_time_t deadline = deadline_after(k->rcvtimeo);
    for (;;) {
        if (k->closing) {
            *err = EBADF;
            return -1;
        }
        if (k->us) {
            /* A pending ICMP error comes first (as Linux): that is how a connected socket
             * learns that its peer's port is closed. */
            int e = ts_udp_error(k->us, true);
            if (e) {
                *err = e;
                return -1;
            }
            uint32_t ip;
            uint16_t port;
            size_t full = 0;
            ssize_t r = (flags & MSG_PEEK) ? ts_udp_peekfrom(k->us, buf, len, &ip, &port, &full)
                                           : ts_udp_recvfrom(k->us, buf, len, &ip, &port, &full);
            if (r >= 0) {
                sin_out(addr, alen, ip, port);
                return (flags & MSG_TRUNC) ? (ssize_t)full : r;
            }
        }
        if (k->shut_rd)
            return 0;
        if (nonblock || !sock_wait(k, deadline)) {
            *err = EAGAIN;
            return -1;
        }
    }
}

ssize_t ts_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                    socklen_t *alen)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    int err = 0;
    ssize_t r;
    if (!buf && len > 0)
        return leave(k, -1, EFAULT); /* as ts_sendto */
    if (k->type == SOCK_STREAM) {
        r = tcp_recv(k, buf, len, flags, &err);
        if (r >= 0 && addr && alen && k->tc) {
            uint32_t ra;
            uint16_t rp;
            ts_tcp_endpoints(k->tc, NULL, NULL, &ra, &rp);
            sin_out(addr, alen, ra, rp);
        }
    } else {
        r = udp_recv(k, buf, len, flags, addr, alen, &err);
    }
    return leave(k, r, r < 0 ? err : 0);
}

ssize_t ts_recv(int fd, void *buf, size_t len, int flags)
{
    return ts_recvfrom(fd, buf, len, flags, NULL, NULL);
}

ssize_t ts_read(int fd, void *buf, size_t len)
{
    return ts_recvfrom(fd, buf, len, 0, NULL, NULL);
}

/* ---------------------------------------------------------------- shutdown */

int ts_shutdown(int fd, int how)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return (int)leave(k, -1, EINVAL);
    bool rd = how == SHUT_RD || how == SHUT_RDWR;
    bool wr = how == SHUT_WR || how == SHUT_RDWR;
    if (k->type == SOCK_DGRAM) {
        uint32_t ra = 0;
        if (k->us)
            ts_udp_endpoints(k->us, NULL, NULL, &ra, NULL);
        if (ra == 0)
            return (int)leave(k, -1, ENOTCONN);
    } else if (k->listening) {
        /* Linux stops listening on SHUT_RD: threads blocked in accept() wake with EINVAL,
         * which is how servers stop their acceptor threads. */
        if (rd) {
            tcp_release(k, false);
            k->bound = false;
        }
        sock_notify(k);
        return (int)leave(k, 0, 0);
    } else if (!k->tc) {
        return (int)leave(k, -1, ENOTCONN);
    } else if (ts_tcp_state(k->tc) == TS_TCP_SYN_SENT || ts_tcp_state(k->tc) == TS_TCP_CLOSE) {
        /* Not (or no longer) connected: Linux says ENOTCONN for a reset connection too. (It
         * abandons a connect in progress instead; a blocked connect() here keeps waiting.) */
        return (int)leave(k, -1, ENOTCONN);
    }
    if (rd)
        k->shut_rd = true;
    if (wr && !k->shut_wr) {
        k->shut_wr = true;
        if (k->type == SOCK_STREAM && k->tc) {
            ts_tcp_shutdown_write(k->tc, shim_now());
            rt_kick_conn(k->rt, k->tc);
        }
    }
    sock_notify(k);
    return (int)leave(k, 0, 0);
}

/* ---------------------------------------------------------------- names */

int ts_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (!addr || !len)
        return (int)leave(k, -1, EFAULT);
    uint32_t la = 0;
    uint16_t lp = 0;
    if (k->type == SOCK_DGRAM) {
        if (k->us)
            ts_udp_endpoints(k->us, &la, &lp, NULL, NULL);
    } else if (k->tc) {
        ts_tcp_endpoints(k->tc, &la, &lp, NULL, NULL);
        if (k->listening && k->baddr == 0)
            la = 0; /* a wildcard listener reports 0.0.0.0, as on Linux */
    } else if (k->bound) {
        la = k->baddr;
        lp = k->bport;
    }
    sin_out(addr, len, la, lp);
    return (int)leave(k, 0, 0);
}

int ts_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    if (!addr || !len)
        return (int)leave(k, -1, EFAULT);
    uint32_t ra = 0;
    uint16_t rp = 0;
    if (k->type == SOCK_DGRAM) {
        if (k->us)
            ts_udp_endpoints(k->us, NULL, NULL, &ra, &rp);
        if (ra == 0)
            return (int)leave(k, -1, ENOTCONN);
    } else {
        if (!k->tc || k->listening)
            return (int)leave(k, -1, ENOTCONN);
        enum ts_tcp_state st = ts_tcp_state(k->tc);
        if (st == TS_TCP_SYN_SENT || st == TS_TCP_CLOSE)
            return (int)leave(k, -1, ENOTCONN);
        ts_tcp_endpoints(k->tc, NULL, NULL, &ra, &rp);
    }
    sin_out(addr, len, ra, rp);
    return (int)leave(k, 0, 0);
}

/* ---------------------------------------------------------------- options */

static int get_int(const void *val, socklen_t len, int *out)
{
    if (!val || len < sizeof(int))
        return EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

static int get_timeval(const void *val, socklen_t len, ts_time_t *out)
{
    struct timeval tv;
    if (!val || len < sizeof tv)
        return EINVAL;
    memcpy(&tv, val, sizeof tv);
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return EDOM;
    if (tv.tv_sec < 0) {
        *out = 0; /* Linux: a negative timeout means none */
        return 0;
    }
    *out = (ts_time_t)tv.tv_sec * TS_SEC + (ts_time_t)tv.tv_usec;
    if (*out == 0 && tv.tv_usec > 0)
        *out = 1;
    return 0;
}

static uint32_t clamp_buf(int v)
{
    if (v < (int)BUF_MIN)
        return BUF_MIN;
    if ((unsigned)v > BUF_MAX)
        return BUF_MAX;
    return (uint32_t)v;
}

static int apply_tcp_opts(struct tsock *k)
{
    if (!k->tc)
        return 0;
    int r = ts_tcp_set_opts(k->tc, &k->topts, shim_now());
    rt_kick_conn(k->rt, k->tc); /* keep-alive and Nagle changes move timers or release data */
    return r < 0 ? -r : 0;
}

static int setopt_socket(struct tsock *k, int name, const void *val, socklen_t len)
{
    int v = 0, e;
    switch (name) {
    case SO_REUSEADDR:
        if ((e = get_int(val, len, &v)))
            return e;
        k->reuse = v != 0;
        return 0;
    case SO_BROADCAST:
        if ((e = get_int(val, len, &v)))
            return e;
        k->broadcast = v != 0;
        return 0;
    case SO_RCVBUF:
        if ((e = get_int(val, len, &v)))
            return e;
        if (k->type == SOCK_DGRAM) {
            k->udp_rcvbuf = clamp_buf(v);
            if (k->us)
                ts_udp_set_rcvbuf(k->us, k->udp_rcvbuf);
            return 0;
        }
        k->topts.rcvbuf = clamp_buf(v);
        return apply_tcp_opts(k);
    case SO_SNDBUF:
        if ((e = get_int(val, len, &v)))
            return e;
        if (k->type == SOCK_DGRAM) {
            k->udp_sndbuf = clamp_buf(v);
            return 0;
        }
        k->topts.sndbuf = clamp_buf(v);
        return apply_tcp_opts(k);
    case SO_KEEPALIVE:
        if ((e = get_int(val, len, &v)))
            return e;
        if (k->type != SOCK_STREAM)
            return 0; /* accepted and meaningless on UDP, as on Linux */
        k->topts.keepalive = v != 0;
        return apply_tcp_opts(k);
    case SO_LINGER:
        if (!val || len < sizeof(struct linger))
            return EINVAL;
        memcpy(&k->linger, val, sizeof(struct linger));
        if (k->linger.l_linger < 0)
            k->linger.l_linger = 0;
        return 0;
    case SO_RCVTIMEO:
        return get_timeval(val, len, &k->rcvtimeo);
    case SO_SNDTIMEO:
        return get_timeval(val, len, &k->sndtimeo);
    case SO_ERROR:
    case SO_TYPE:
    case SO_ACCEPTCONN:
        return ENOPROTOOPT; /* read-only */
    default:
        return ENOPROTOOPT;
    }
}

/* TCP_CONGESTION takes a name, as Linux's does (at most 15 characters, not NUL-terminated
 * necessarily); an unknown one is ENOENT. */
static int setopt_congestion(struct tsock *k, const void *val, socklen_t len)
{
    if (!val)
        return EFAULT;
    if (len < 1)
        return EINVAL;
    char name[16] = {0};
    memcpy(name, val, len < sizeof name - 1 ? len : sizeof name - 1);
    enum ts_tcp_cc cc;
    if (!ts_tcp_cc_parse(name, &cc))
        return ENOENT;
    k->topts.cc = cc;
    k->topts.cc_set = true;
    return apply_tcp_opts(k);
}

static int setopt_tcp(struct tsock *k, int name, const void *val, socklen_t len)
{
    int v = 0, e;
    if (k->type != SOCK_STREAM)
        return ENOPROTOOPT;
    if (name == TCP_CONGESTION)
        return setopt_congestion(k, val, len);
    if ((e = get_int(val, len, &v)))
        return e;
    switch (name) {
    case TCP_NODELAY:
        k->topts.nodelay = v != 0;
        return apply_tcp_opts(k);
    case TCP_KEEPIDLE:
        if (v < 1 || v > 32767)
            return EINVAL;
        k->topts.keepidle = (ts_time_t)v * TS_SEC;
        return apply_tcp_opts(k);
    case TCP_KEEPINTVL:
        if (v < 1 || v > 32767)
            return EINVAL;
        k->topts.keepintvl = (ts_time_t)v * TS_SEC;
        return apply_tcp_opts(k);
    case TCP_KEEPCNT:
        if (v < 1 || v > 127)
            return EINVAL;
        k->topts.keepcnt = (uint32_t)v;
        return apply_tcp_opts(k);
    case TCP_USER_TIMEOUT:
        if (v < 0)
            return EINVAL;
        k->topts.user_timeout = (ts_time_t)v * TS_MS;
        return apply_tcp_opts(k);
    case TCP_MAXSEG:
        /* Linux's bounds (TCP_MIN_MSS 88 .. 32767; 0: no bound). It counts when the connection
         * gets its endpoints: before connect, or on a listener for the connections it makes. */
        if (v != 0 && (v < 88 || v > 32767))
            return EINVAL;
        k->topts.maxseg = (uint16_t)v;
        return apply_tcp_opts(k);
    default:
        return ENOPROTOOPT;
    }
}

int ts_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    int e;
    if (level == SOL_SOCKET)
        e = setopt_socket(k, name, val, len);
    else if (level == IPPROTO_TCP)
        e = setopt_tcp(k, name, val, len);
    else
        e = ENOPROTOOPT;
    return (int)leave(k, e ? -1 : 0, e);
}

static int put_int(void *val, socklen_t *len, int v)
{
    if (!val || !len || *len < sizeof(int))
        return EINVAL;
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

static int put_timeval(void *val, socklen_t *len, ts_time_t t)
{
    struct timeval tv = {.tv_sec = (time_t)(t / TS_SEC), .tv_usec = (suseconds_t)(t % TS_SEC)};
    if (!val || !len || *len < sizeof tv)
        return EINVAL;
    memcpy(val, &tv, sizeof tv);
    *len = sizeof tv;
    return 0;
}

/* The pending error, taken (SO_ERROR clears it). */
static int take_error(struct tsock *k)
{
    int e = k->so_error;
    k->so_error = 0;
    if (e)
        return e;
    if (k->type == SOCK_DGRAM)
        return k->us ? ts_udp_error(k->us, true) : 0;
    if (!k->tc || k->listening)
        return 0;
    if (k->connecting && !is_syn_state(ts_tcp_state(k->tc))) {
        /* A non-blocking connect is finished once SO_ERROR has been read (Linux). */
        k->connecting = false;
        e = ts_tcp_error(k->tc, true);
        if (e == 0 && ts_tcp_state(k->tc) == TS_TCP_CLOSE)
            e = ECONNABORTED;
        return e;
    }
    return ts_tcp_error(k->tc, true);
}

static int getopt_socket(struct tsock *k, int name, void *val, socklen_t *len)
{
    switch (name) {
    case SO_REUSEADDR:
        return put_int(val, len, k->reuse);
    case SO_BROADCAST:
        return put_int(val, len, k->broadcast);
    case SO_TYPE:
        return put_int(val, len, k->type);
    case SO_ACCEPTCONN:
        return put_int(val, len, k->listening);
    case SO_ERROR:
        return put_int(val, len, take_error(k));
    case SO_RCVBUF:
        if (k->type == SOCK_DGRAM)
            return put_int(val, len, (int)k->udp_rcvbuf);
        if (k->tc)
            ts_tcp_get_opts(k->tc, &k->topts);
        return put_int(val, len, (int)k->topts.rcvbuf);
    case SO_SNDBUF:
        if (k->type == SOCK_DGRAM)
            return put_int(val, len, (int)k->udp_sndbuf);
        if (k->tc)
            ts_tcp_get_opts(k->tc, &k->topts);
        return put_int(val, len, (int)k->topts.sndbuf);
    case SO_KEEPALIVE:
        return put_int(val, len, k->type == SOCK_STREAM && k->topts.keepalive);
    case SO_LINGER:
        if (!val || !len || *len < sizeof(struct linger))
            return EINVAL;
        memcpy(val, &k->linger, sizeof(struct linger));
        *len = sizeof(struct linger);
        return 0;
    case SO_RCVTIMEO:
        return put_timeval(val, len, k->rcvtimeo);
    case SO_SNDTIMEO:
        return put_timeval(val, len, k->sndtimeo);
    default:
        return ENOPROTOOPT;
    }
}

static int getopt_tcp(struct tsock *k, int name, void *val, socklen_t *len)
{
    if (k->type != SOCK_STREAM)
        return ENOPROTOOPT;
    if (k->tc && name != TS_TCP_INFO)
        ts_tcp_get_opts(k->tc, &k->topts);
    switch (name) {
    case TCP_NODELAY:
        return put_int(val, len, k->topts.nodelay);
    case TCP_KEEPIDLE:
        return put_int(val, len, (int)(k->topts.keepidle / TS_SEC));
    case TCP_KEEPINTVL:
        return put_int(val, len, (int)(k->topts.keepintvl / TS_SEC));
    case TCP_KEEPCNT:
        return put_int(val, len, (int)k->topts.keepcnt);
    case TCP_USER_TIMEOUT:
        return put_int(val, len, (int)(k->topts.user_timeout / TS_MS));
    case TCP_CONGESTION: {
        /* As Linux: the name, NUL-padded to what fits. */
        if (!val || !len)
            return EFAULT;
        const char *cc = ts_tcp_cc_name(k->topts.cc);
        size_t n = strlen(cc) + 1;
        if (*len < n)
            n = *len;
        memcpy(val, cc, n);
        *len = (socklen_t)n;
        return 0;
    }
    case TCP_MAXSEG: {
        /* As Linux: the MSS in use (data bytes per segment, timestamps excluded) once connected;
         * before, or on a listener, the value set, else the default 536. */
        enum ts_tcp_state st = k->tc ? ts_tcp_state(k->tc) : TS_TCP_CLOSE;
        if (st != TS_TCP_CLOSE && st != TS_TCP_LISTEN) {
            struct ts_tcp_info info;
            ts_tcp_get_info(k->tc, &info, shim_now());
            return put_int(val, len, (int)info.mss_send);
        }
        return put_int(val, len, k->topts.maxseg ? k->topts.maxseg : 536);
    }
    case TS_TCP_INFO: {
        struct ts_tcp_info info;
        if (!val || !len || *len < sizeof info)
            return EINVAL;
        memset(&info, 0, sizeof info);
        if (k->tc) {
            ts_tcp_get_info(k->tc, &info, shim_now());
        } else {
            info.state = TS_TCP_CLOSE;
            info.laddr = k->baddr;
            info.lport = k->bport;
            info.timer_name = "-";
        }
        memcpy(val, &info, sizeof info);
        *len = sizeof info;
        return 0;
    }
    default:
        return ENOPROTOOPT;
    }
}

int ts_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    int e;
    if (level == SOL_SOCKET)
        e = getopt_socket(k, name, val, len);
    else if (level == IPPROTO_TCP)
        e = getopt_tcp(k, name, val, len);
    else
        e = ENOPROTOOPT;
    return (int)leave(k, e ? -1 : 0, e);
}

/* ---------------------------------------------------------------- fcntl, poll readiness */

int ts_fcntl(int fd, int cmd, ...)
{
    int arg = 0;
    if (cmd == F_SETFL) {
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, int);
        va_end(ap);
    }
    struct tsock *e = fd_get(fd);
    if (e && e->ep) {
        sock_put(e); /* an epoll descriptor has no flags that mean anything here */
        if (cmd == F_GETFL)
            return O_RDWR;
        if (cmd == F_SETFL)
            return 0;
        errno = EINVAL;
        return -1;
    }
    if (e)
        sock_put(e);
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    switch (cmd) {
    case F_GETFL:
        return (int)leave(k, O_RDWR | (k->nonblock ? O_NONBLOCK : 0), 0);
    case F_SETFL:
        k->nonblock = (arg & O_NONBLOCK) != 0;
        sock_notify(k); /* a blocked call re-reads the flag when it wakes */
        return (int)leave(k, 0, 0);
    default:
        return (int)leave(k, -1, EINVAL);
    }
}

int ts_ioctl(int fd, unsigned long request, void *arg)
{
    struct tsock *k = enter(fd);
    if (!k)
        return -1;
    int v = 0;
    if (!arg && request != SIOCATMARK)
        return (int)leave(k, -1, EFAULT);
    switch (request) {
    case FIONBIO:
        memcpy(&v, arg, sizeof v);
        k->nonblock = v != 0;
        sock_notify(k);
        return (int)leave(k, 0, 0);
    case FIONREAD: /* == SIOCINQ */
        if (k->type == SOCK_DGRAM) {
            size_t n = k->us ? ts_udp_readable(k->us) : 0;
            v = n ? (int)(n - 1) : 0; /* Linux: the size of the next datagram */
        } else if (k->listening) {
            return (int)leave(k, -1, EINVAL);
        } else if (k->tc) {
            v = (int)(k->peek_len + ts_tcp_readable(k->tc));
        }
        break;
    case SIOCOUTQ:
    case SIOCOUTQNSD:
        if (k->type == SOCK_STREAM && k->listening)
            return (int)leave(k, -1, EINVAL);
        if (k->type == SOCK_STREAM && k->tc) {
            struct ts_tcp_info info;
            ts_tcp_get_info(k->tc, &info, shim_now());
            v = (int)info.send_queued;
            if (request == SIOCOUTQNSD) {
                uint32_t flight = info.snd_nxt - info.snd_una;
                v = flight < info.send_queued ? (int)(info.send_queued - flight) : 0;
            }
        }
        break;
    case SIOCATMARK:
        if (arg)
            memcpy(arg, &v, sizeof v);
        return (int)leave(k, 0, 0);
    default:
        return (int)leave(k, -1, ENOTTY);
    }
    memcpy(arg, &v, sizeof v);
    return (int)leave(k, 0, 0);
}

short sock_revents(struct tsock *k)
{
    k->rt->st.readiness_checks++;
    short m = 0;
    if (k->type == SOCK_DGRAM) {
        m |= POLLOUT | POLLWRNORM;
        if (k->us) {
            if (ts_udp_readable(k->us))
                m |= POLLIN | POLLRDNORM;
            if (ts_udp_error(k->us, false))
                m |= POLLERR;
        }
        if (k->shut_rd)
            m |= POLLIN | POLLRDNORM | POLLRDHUP;
        if (k->shut_rd && k->shut_wr)
            m |= POLLHUP;
        return m;
    }
    if (k->so_error)
        m |= POLLERR;
    if (k->listening) {
        if (ts_tcp_accept_ready(k->tc))
            m |= POLLIN | POLLRDNORM;
        return m;
    }
    struct ts_tcp_conn *c = k->tc;
    if (!c)
        return m | POLLOUT | POLLWRNORM | POLLHUP; /* never connected: as Linux's tcp_poll */
    enum ts_tcp_state st = ts_tcp_state(c);
    if (ts_tcp_error(c, false))
        m |= POLLERR;
    bool rcv_shut = k->shut_rd || peer_done(c);
    bool snd_shut = k->shut_wr || st == TS_TCP_CLOSE;
    if (st == TS_TCP_CLOSE || (rcv_shut && snd_shut))
        m |= POLLHUP;
    if (rcv_shut)
        m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (k->peek_len || ts_tcp_readable(c))
        m |= POLLIN | POLLRDNORM;
    if (!is_syn_state(st)) {
        if (snd_shut || ts_tcp_writable(c) > 0)
            m |= POLLOUT | POLLWRNORM;
    }
    return m;
}
