/* The socket calls of an unmodified program (see preload.h).
 *
 * Every tapstack socket is non-blocking underneath; blocking is done here, by waiting in the
 * kernel (poll) on the socket's own mirror descriptor, so a blocked call is a normal kernel
 * wait: a signal interrupts it (EINTR, as for a socket with a timeout: SA_RESTART does not make
 * us restart), a close() of the descriptor in another thread wakes it (EBADF), and
 * SO_RCVTIMEO/SO_SNDTIMEO bound it (EAGAIN). A descriptor that is not ours goes to libc. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"
#include "tapstack/socket.h"

#define UDP_MAX 65535

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pl_now(void)
{
    return now_us();
}

int64_t pl_deadline(int64_t timeo_us)
{
    return timeo_us > 0 ? now_us() + timeo_us : 0;
}

int pl_wait(struct psock *ps, int kfd, short events, int64_t deadline)
{
    for (;;) {
        if (atomic_load(&ps->closed)) {
            errno = EBADF;
            return -1;
        }
        int ms = -1;
        if (deadline) {
            int64_t left = deadline - now_us();
            if (left <= 0) {
                errno = EAGAIN;
                return -1;
            }
            ms = left / 1000 + 1 > 1000000 ? 1000000 : (int)(left / 1000 + 1);
        }
        struct pollfd p = {.fd = kfd, .events = events};
        int n = poll(&p, 1, ms);
        if (n < 0)
            return -1; /* EINTR: a signal; the program decides */
        if (atomic_load(&ps->closed) || (p.revents & POLLNVAL)) {
            errno = EBADF;
            return -1;
        }
        if (n > 0) {
            if ((p.revents & POLLHUP) && !(p.revents & events)) {
                /* A hung-up mirror wakes every wait, and the call found nothing to do: the
                 * socket is being reused after its connection ended (connect again). Do not
                 * spin on it. */
                struct timespec ts = {.tv_nsec = 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            return 0;
        }
    }
}

/* ---------------------------------------------------------------- the data path */

static int tflags_send(int flags)
{
    return (flags & MSG_OOB) | MSG_DONTWAIT | MSG_NOSIGNAL;
}

/* A vector that points nowhere: Linux's copy from or to user memory fails with EFAULT; here
 * the check is made before any byte moves, so that a NULL base never reaches memcpy. */
static bool iov_bad(const struct iovec *iov, int iovcnt)
{
    if (iovcnt > 0 && !iov)
        return true;
    for (int i = 0; i < iovcnt; i++)
        if (!iov[i].iov_base && iov[i].iov_len > 0)
            return true;
    return false;
}

ssize_t pl_send(struct psock *ps, int kfd, const struct iovec *iov, int iovcnt, int flags,
                const struct sockaddr *to, socklen_t tolen)
{
    if (atomic_load(&ps->paper))
        return pl_fail(ENOTCONN);
    if (iov_bad(iov, iovcnt))
        return pl_fail(EFAULT);
    bool nonblock = atomic_load(&ps->nonblock) || (flags & MSG_DONTWAIT);
    int tf = tflags_send(flags);
    int64_t dl = -1;
    size_t total = 0;
    int err = 0;
    if (ps->type == SOCK_DGRAM) {
        struct sockaddr_in sin;
        const struct sockaddr *tsa = NULL;
        if (to) {
            int e = pl_addr_in(ps, to, tolen, &sin);
            if (e)
                return pl_fail(e);
            tsa = (const struct sockaddr *)&sin;
        }
        size_t len = 0;
        for (int i = 0; i < iovcnt; i++)
            len += iov[i].iov_len;
        if (len > UDP_MAX)
            return pl_fail(EMSGSIZE);
        char *buf = iovcnt == 1 ? iov[0].iov_base : malloc(len ? len : 1);
        if (!buf)
            return pl_fail(ENOBUFS);
        if (iovcnt != 1)
            for (int i = 0, off = 0; i < iovcnt; off += (int)iov[i].iov_len, i++)
                memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        ssize_t r;
        for (;;) {
            r = ts_sendto(ps->tsfd, buf, len, tf, tsa, tsa ? sizeof sin : 0);
            if (r >= 0 || errno != EAGAIN || nonblock)
                break;
            if (dl < 0)
                dl = pl_deadline(atomic_load(&ps->sndtimeo));
            if (pl_wait(ps, kfd, POLLOUT, dl) < 0) {
                r = -1;
                break;
            }
        }
        int e = errno;
        if (iovcnt != 1)
            free(buf);
        errno = e;
        return r;
    }
    /* TCP: the address is ignored, as Linux does. Blocking: everything, unless a signal or the
     * timeout comes after part of it went (then that part's length). */
    for (int i = 0; i < iovcnt && !err; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            ssize_t r = ts_send(ps->tsfd, p, left, tf);
            if (r > 0) {
                p += r;
                left -= (size_t)r;
                total += (size_t)r;
                continue;
            }
            if (r < 0 && errno != EAGAIN) {
                err = errno;
                break;
            }
            if (nonblock) {
                err = EAGAIN;
                break;
            }
            if (dl < 0)
                dl = pl_deadline(atomic_load(&ps->sndtimeo));
            if (pl_wait(ps, kfd, POLLOUT, dl) < 0) {
                err = errno;
                break;
            }
        }
    }
    if (total > 0)
        return (ssize_t)total;
    if (err == EPIPE && !(flags & MSG_NOSIGNAL))
        pthread_kill(pthread_self(), SIGPIPE); /* to the calling thread, as the kernel does */
    if (err == 0)
        return 0; /* nothing to send */
    return pl_fail(err);
}

static ssize_t recv_tcp(struct psock *ps, int kfd, char *buf, size_t len, int flags)
{
    bool nonblock = atomic_load(&ps->nonblock) || (flags & MSG_DONTWAIT);
    bool peek = flags & MSG_PEEK;
    bool waitall = (flags & MSG_WAITALL) && !peek;
    int tf = (flags & (MSG_PEEK | MSG_OOB)) | MSG_DONTWAIT;
    int64_t dl = -1;
    size_t got = 0;
    if (len == 0)
        return 0;
    for (;;) {
        ssize_t r = ts_recv(ps->tsfd, buf + got, len - got, tf);
        if (r > 0) {
            got += (size_t)r;
            if (!waitall || got == len)
                return (ssize_t)got;
            continue;
        }
        if (r == 0)
            return (ssize_t)got; /* end of stream */
        if (errno != EAGAIN)
            return got ? (ssize_t)got : -1;
        if (nonblock)
            return got ? (ssize_t)got : -1;
        if (dl < 0)
            dl = pl_deadline(atomic_load(&ps->rcvtimeo));
        if (pl_wait(ps, kfd, POLLIN, dl) < 0)
            return got ? (ssize_t)got : -1;
    }
}

static ssize_t recv_udp(struct psock *ps, int kfd, char *buf, size_t len, int flags,
                        struct sockaddr *from, socklen_t *fromlen, int *mflags)
{
    bool nonblock = atomic_load(&ps->nonblock) || (flags & MSG_DONTWAIT);
    int tf = (flags & (MSG_PEEK | MSG_OOB)) | MSG_DONTWAIT | MSG_TRUNC;
    int64_t dl = -1;
    for (;;) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof sin;
        ssize_t r = ts_recvfrom(ps->tsfd, buf, len, tf, (struct sockaddr *)&sin, &sl);
        if (r >= 0) {
            if ((size_t)r > len && mflags)
                *mflags |= MSG_TRUNC;
            pl_addr_out(ps, &sin, from, fromlen);
            return (flags & MSG_TRUNC) || (size_t)r <= len ? r : (ssize_t)len;
        }
        if (errno != EAGAIN || nonblock)
            return -1;
        if (dl < 0)
            dl = pl_deadline(atomic_load(&ps->rcvtimeo));
        if (pl_wait(ps, kfd, POLLIN, dl) < 0)
            return -1;
    }
}

ssize_t pl_recv(struct psock *ps, int kfd, const struct iovec *iov, int iovcnt, int flags,
                struct sockaddr *from, socklen_t *fromlen, int *mflags)
{
    if (atomic_load(&ps->paper))
        return pl_fail(ENOTCONN);
    if (iov_bad(iov, iovcnt))
        return pl_fail(EFAULT);
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (ps->type == SOCK_STREAM && fromlen)
        *fromlen = 0; /* a stream socket's recvfrom fills no address (Linux) */
    char *buf = iov[0].iov_base;
    bool scatter = iovcnt > 1;
    if (scatter) {
        if (ps->type == SOCK_STREAM && len > (1u << 20))
            len = 1u << 20;
        if (ps->type == SOCK_DGRAM && len > UDP_MAX)
            len = UDP_MAX;
        buf = malloc(len ? len : 1);
        if (!buf)
            return pl_fail(ENOBUFS);
    }
    ssize_t r = ps->type == SOCK_STREAM ? recv_tcp(ps, kfd, buf, len, flags)
                                        : recv_udp(ps, kfd, buf, len, flags, from, fromlen, mflags);
    if (scatter) {
        int e = errno;
        size_t left = r > 0 ? ((size_t)r < len ? (size_t)r : len) : 0;
        const char *p = buf;
        for (int i = 0; i < iovcnt && left; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            memcpy(iov[i].iov_base, p, n);
            p += n;
            left -= n;
        }
        free(buf);
        errno = e;
    }
    return r;
}

/* ---------------------------------------------------------------- making sockets */

static atomic_bool said_proto, said_child_socket;

int socket(int domain, int type, int protocol)
{
    if (domain != AF_INET && domain != AF_INET6)
        return REAL(socket)(domain, type, protocol);
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (pl_forked_child) {
        pl_say(&said_child_socket,
               "this process was forked from one that runs the stack, so it cannot open "
               "network sockets (the stack runs in its parent's threads); exec a program, or "
               "keep to one process (nginx: master_process off)");
        return pl_fail(EACCES);
    }
    bool tcp = base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP);
    bool udp = base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP);
    if (!tcp && !udp) {
        pl_say(&said_proto,
               "asked for a socket of type %d protocol %d: tapstack has TCP and UDP sockets "
               "only (no raw, ICMP or SCTP): EPROTONOSUPPORT",
               base, protocol);
        return pl_fail(EPROTONOSUPPORT);
    }
    if (!pl_stack_up())
        return -1;
    int tsfd = ts_socket(AF_INET, base | SOCK_NONBLOCK, 0);
    if (tsfd < 0)
        return -1;
    int kfd = ts_mirror_open(tsfd, type & (SOCK_NONBLOCK | SOCK_CLOEXEC), pl_private_base);
    if (kfd < 0) {
        int e = errno;
        ts_close(tsfd);
        return pl_fail(e);
    }
    if (!pl_new(tsfd, kfd, base, domain == AF_INET6, type & SOCK_NONBLOCK)) {
        ts_close(tsfd);
        REAL(close)(kfd);
        return pl_fail(ENOMEM);
    }
    return kfd;
}

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    PL_ENTER(fd, ps, REAL(bind)(fd, addr.__sockaddr__, len));
    const struct sockaddr *a = addr.__sockaddr__;
    if (ps->v6 && atomic_load(&ps->v6only)) {
        /* IPv6 only, and tapstack has no IPv6: bound on paper (see preload.h). */
        if (len < 24 || !a || a->sa_family != AF_INET6)
            return (int)pl_leave(ps, pl_fail(EINVAL));
        memcpy(&ps->paper_name, a, sizeof ps->paper_name < len ? sizeof ps->paper_name : len);
        atomic_store(&ps->paper, true);
        return (int)pl_leave(ps, 0);
    }
    struct sockaddr_in sin;
    int e = pl_addr_in(ps, a, len, &sin);
    if (e)
        return (int)pl_leave(ps, pl_fail(e == ENETUNREACH ? EADDRNOTAVAIL : e));
    return (int)pl_leave(ps, ts_bind(ps->tsfd, (struct sockaddr *)&sin, sizeof sin));
}

int listen(int fd, int backlog)
{
    PL_ENTER(fd, ps, REAL(listen)(fd, backlog));
    if (atomic_load(&ps->paper))
        return (int)pl_leave(ps, 0); /* never anything to accept */
    return (int)pl_leave(ps, ts_listen(ps->tsfd, backlog));
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    PL_ENTER(fd, ps, REAL(accept4)(fd, addr, len, flags));
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return (int)pl_leave(ps, pl_fail(EINVAL));
    bool paper = atomic_load(&ps->paper);
    int64_t dl = -1;
    int n;
    struct sockaddr_in sin;
    for (;;) {
        socklen_t sl = sizeof sin;
        n = paper ? pl_fail(EAGAIN)
                  : ts_accept4(ps->tsfd, (struct sockaddr *)&sin, &sl, SOCK_NONBLOCK);
        if (n >= 0 || errno != EAGAIN || atomic_load(&ps->nonblock))
            break;
        if (dl < 0)
            dl = pl_deadline(atomic_load(&ps->rcvtimeo));
        if (pl_wait(ps, fd, POLLIN, dl) < 0)
            return (int)pl_leave(ps, -1);
    }
    if (n < 0)
        return (int)pl_leave(ps, -1);
    int kfd = ts_mirror_open(n, flags, pl_private_base);
    if (kfd < 0) {
        int e = errno;
        ts_close(n);
        return (int)pl_leave(ps, pl_fail(e));
    }
    struct psock *np = pl_new(n, kfd, SOCK_STREAM, ps->v6, flags & SOCK_NONBLOCK);
    if (!np) {
        ts_close(n);
        REAL(close)(kfd);
        return (int)pl_leave(ps, pl_fail(ENOMEM));
    }
    /* What a listener's options carry over to the sockets it accepts (tapstack copies its
     * own; these are the ones kept here), as Linux. */
    atomic_store(&np->rcvtimeo, atomic_load(&ps->rcvtimeo));
    atomic_store(&np->sndtimeo, atomic_load(&ps->sndtimeo));
    atomic_store(&np->rcvbuf_set, atomic_load(&ps->rcvbuf_set));
    atomic_store(&np->sndbuf_set, atomic_load(&ps->sndbuf_set));
    atomic_store(&np->nodelay, atomic_load(&ps->nodelay));
    atomic_store(&np->cork, atomic_load(&ps->cork));
    atomic_store(&np->tos, atomic_load(&ps->tos));
    atomic_store(&np->ttl, atomic_load(&ps->ttl));
    atomic_store(&np->maxseg, atomic_load(&ps->maxseg));
    pl_addr_out(ps, &sin, addr, len);
    return (int)pl_leave(ps, kfd);
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
    if (!pl_mapped(fd))
        return REAL(accept)(fd, addr.__sockaddr__, len);
    return do_accept(fd, addr.__sockaddr__, len, 0);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags)
{
    return do_accept(fd, addr.__sockaddr__, len, flags);
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    PL_ENTER(fd, ps, REAL(connect)(fd, addr.__sockaddr__, len));
    const struct sockaddr *a = addr.__sockaddr__;
    if (atomic_load(&ps->paper) || (ps->v6 && atomic_load(&ps->v6only)))
        return (int)pl_leave(ps, pl_fail(ENETUNREACH)); /* IPv6 only: nowhere to go */
    struct sockaddr_in sin;
    if (ps->type == SOCK_DGRAM && a && len >= sizeof(sa_family_t) && a->sa_family == AF_UNSPEC) {
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_UNSPEC; /* dissolve the association */
    } else {
        int e = pl_addr_in(ps, a, len, &sin);
        if (e)
            return (int)pl_leave(ps, pl_fail(e));
    }
    int r = ts_connect(ps->tsfd, (struct sockaddr *)&sin, sizeof sin);
    if (r == 0 || errno != EINPROGRESS || atomic_load(&ps->nonblock))
        return (int)pl_leave(ps, r);
    int64_t dl = pl_deadline(atomic_load(&ps->sndtimeo));
    for (;;) {
        if (pl_wait(ps, fd, POLLOUT, dl) < 0) {
            if (errno == EAGAIN)
                errno = EINPROGRESS; /* SO_SNDTIMEO: it goes on in the background (Linux) */
            return (int)pl_leave(ps, -1);
        }
        r = ts_connect(ps->tsfd, (struct sockaddr *)&sin, sizeof sin);
        if (r == 0 || errno != EALREADY)
            return (int)pl_leave(ps, r);
    }
}

int shutdown(int fd, int how)
{
    PL_ENTER(fd, ps, REAL(shutdown)(fd, how));
    if (atomic_load(&ps->paper))
        return (int)pl_leave(ps, pl_fail(ENOTCONN));
    return (int)pl_leave(ps, ts_shutdown(ps->tsfd, how));
}

static int name_of(int fd, struct sockaddr *addr, socklen_t *len, bool peer)
{
    PL_ENTER(fd, ps, (peer ? REAL(getpeername) : REAL(getsockname))(fd, addr, len));
    if (!addr || !len)
        return (int)pl_leave(ps, pl_fail(EFAULT));
    if (atomic_load(&ps->paper)) {
        if (peer)
            return (int)pl_leave(ps, pl_fail(ENOTCONN));
        size_t n = *len < sizeof ps->paper_name ? *len : sizeof ps->paper_name;
        memcpy(addr, &ps->paper_name, n);
        *len = sizeof ps->paper_name;
        return (int)pl_leave(ps, 0);
    }
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    int r = peer ? ts_getpeername(ps->tsfd, (struct sockaddr *)&sin, &sl)
                 : ts_getsockname(ps->tsfd, (struct sockaddr *)&sin, &sl);
    if (r == 0)
        pl_addr_out(ps, &sin, addr, len);
    return (int)pl_leave(ps, r);
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
    return name_of(fd, addr.__sockaddr__, len, false);
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
    return name_of(fd, addr.__sockaddr__, len, true);
}

int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len)
{
    PL_ENTER(fd, ps, REAL(getsockopt)(fd, level, name, val, len));
    return (int)pl_leave(ps, pl_getsockopt(ps, level, name, val, len));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    PL_ENTER(fd, ps, REAL(setsockopt)(fd, level, name, val, len));
    return (int)pl_leave(ps, pl_setsockopt(ps, level, name, val, len));
}

/* ---------------------------------------------------------------- send and receive */

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    PL_ENTER(fd, ps, REAL(send)(fd, buf, n, flags));
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    return pl_leave(ps, pl_send(ps, fd, &v, 1, flags, NULL, 0));
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
               socklen_t alen)
{
    PL_ENTER(fd, ps, REAL(sendto)(fd, buf, n, flags, addr.__sockaddr__, alen));
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    return pl_leave(ps, pl_send(ps, fd, &v, 1, flags, addr.__sockaddr__, alen));
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    PL_ENTER(fd, ps, REAL(sendmsg)(fd, m, flags));
    if (!m || m->msg_iovlen > IOV_MAX || (m->msg_iovlen && !m->msg_iov))
        return pl_leave(ps, pl_fail(m ? EMSGSIZE : EFAULT));
    /* Ancillary data (m->msg_control) is not supported and ignored. */
    return pl_leave(
        ps, pl_send(ps, fd, m->msg_iov, (int)m->msg_iovlen, flags, m->msg_name, m->msg_namelen));
}

int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
    if (!pl_mapped(fd))
        return REAL(sendmmsg)(fd, v, n, flags);
    unsigned int i = 0;
    for (; i < n && i < 1024; i++) {
        ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned int)r;
    }
    return (int)i;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    PL_ENTER(fd, ps, REAL(recv)(fd, buf, n, flags));
    struct iovec v = {.iov_base = buf, .iov_len = n};
    return pl_leave(ps, pl_recv(ps, fd, &v, 1, flags, NULL, NULL, NULL));
}

ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr,
                 socklen_t *restrict alen)
{
    PL_ENTER(fd, ps, REAL(recvfrom)(fd, buf, n, flags, addr.__sockaddr__, alen));
    struct iovec v = {.iov_base = buf, .iov_len = n};
    return pl_leave(ps, pl_recv(ps, fd, &v, 1, flags, addr.__sockaddr__, alen, NULL));
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
    PL_ENTER(fd, ps, REAL(recvmsg)(fd, m, flags));
    if (!m || m->msg_iovlen > IOV_MAX || (m->msg_iovlen && !m->msg_iov))
        return pl_leave(ps, pl_fail(m ? EMSGSIZE : EFAULT));
    struct iovec none = {.iov_base = NULL, .iov_len = 0};
    int mflags = 0;
    socklen_t nl = m->msg_namelen;
    ssize_t r =
        pl_recv(ps, fd, m->msg_iovlen ? m->msg_iov : &none, m->msg_iovlen ? (int)m->msg_iovlen : 1,
                flags, m->msg_name ? m->msg_name : NULL, m->msg_name ? &nl : NULL, &mflags);
    if (r >= 0) {
        m->msg_namelen = m->msg_name ? nl : 0;
        m->msg_controllen = 0; /* no ancillary data */
        m->msg_flags = mflags;
    }
    return pl_leave(ps, r);
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *tmo)
{
    if (!pl_mapped(fd))
        return REAL(recvmmsg)(fd, v, n, flags, tmo);
    /* The first as asked (it may block), the rest only what is there (MSG_WAITFORONE's sense;
     * the timeout is not applied). */
    unsigned int i = 0;
    for (; i < n && i < 1024; i++) {
        ssize_t r = recvmsg(fd, &v[i].msg_hdr, i ? (flags | MSG_DONTWAIT) : flags);
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned int)r;
    }
    return (int)i;
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (!pl_mapped(fd))
        return REAL(recv_chk)(fd, buf, n, buflen, flags);
    if (n > buflen)
        abort(); /* what glibc's __chk_fail does: the program overflows its own buffer */
    return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
                       struct sockaddr *restrict addr, socklen_t *restrict alen)
{
    if (!pl_mapped(fd))
        return REAL(recvfrom_chk)(fd, buf, n, buflen, flags, addr, alen);
    if (n > buflen)
        abort();
    return recvfrom(fd, buf, n, flags, addr, alen);
}

/* ---------------------------------------------------------------- io_uring */

static atomic_bool said_uring;

static void uring_refused(void)
{
    pl_say(&said_uring, "io_uring is refused (ENOSYS): its requests would bypass the socket "
                        "calls tapstack stands in for; the program must use poll/epoll");
}

long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_io_uring_setup) {
        uring_refused();
        return pl_fail(ENOSYS);
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* liburing's set-up calls (its own system call stubs do not go through syscall()). */
struct io_uring;
struct io_uring_params;
int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
    (void)entries, (void)ring, (void)flags;
    uring_refused();
    return -ENOSYS;
}
int io_uring_queue_init_params(unsigned entries, struct io_uring *ring, struct io_uring_params *p)
{
    (void)entries, (void)ring, (void)p;
    uring_refused();
    return -ENOSYS;
}
