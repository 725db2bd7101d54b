/* libtapstack-preload.so: unmodified programs on tapstack (tapstack-run). Inside the library.
 *
 * The library stands in for the libc calls that make and use sockets (it is loaded first, by
 * LD_PRELOAD). An AF_INET (or AF_INET6, v4-mapped) socket becomes a tapstack socket, and the
 * program gets a real kernel descriptor for it: the socket's kernel mirror (ts_mirror_open), one
 * end of an AF_UNIX socketpair whose readiness follows the tapstack socket's. So descriptor
 * numbers come from the kernel's table (dup, dup2, fcntl and printing them behave), and the
 * program's own poll, select and epoll wait in the kernel over any mix of tapstack sockets and
 * other descriptors, without our seeing them. Every call on a descriptor looks it up in a map
 * (kernel descriptor -> struct psock); a descriptor that is not in it goes straight to libc.
 *
 * Files: real.c (libc's own functions; the tapstack code in this library calls them under other
 * names, see Makefile), fdmap.c (the map, references, fork), stack.c (bring-up on first use,
 * the wait at exit, messages), sock.c (the socket calls), io.c (read/write, sendfile/splice,
 * close/dup/fcntl/ioctl), sockopt.c and tcpinfo.c (get/setsockopt with Linux's numbers),
 * addr.c (AF_INET6 v4-mapped addresses). */
#ifndef TS_PRELOAD_H
#define TS_PRELOAD_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ---- real.c: libc's functions, looked up behind ours (dlsym RTLD_NEXT) ---- */
struct pl_real {
    int (*socket)(int, int, int);
    int (*close)(int);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
    int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*shutdown)(int, int);
    int (*getsockname)(int, struct sockaddr *, socklen_t *);
    int (*getpeername)(int, struct sockaddr *, socklen_t *);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    ssize_t (*sendfile)(int, int, off_t *, size_t);
    ssize_t (*sendfile64)(int, int, off64_t *, size_t);
    ssize_t (*splice)(int, off64_t *, int, off64_t *, size_t, unsigned int);
    int (*close_range)(unsigned int, unsigned int, int);
    void (*closefrom)(int);
    long (*syscall)(long, ...);
    int (*socketpair)(int, int, int, int *);
    ssize_t (*read_chk)(int, void *, size_t, size_t);
    ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
    ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
};
extern struct pl_real pl_real;
void pl_real_init(void);
/* libc's function f (looked up on first use: our calls can come before our constructor). */
#define REAL(f) (__builtin_expect(pl_real.f != NULL, 1) ? pl_real.f : (pl_real_init(), pl_real.f))

/* ---- fdmap.c: kernel descriptor -> tapstack socket ---- */
struct psock {
    int tsfd;             /* the tapstack descriptor (ts_*) */
    int type;             /* SOCK_STREAM or SOCK_DGRAM */
    bool v6;              /* made as AF_INET6: addresses are v4-mapped both ways (addr.c) */
    atomic_uint refs;     /* one for the map while any descriptor names it, one per call */
    unsigned nfds;        /* kernel descriptors that name it (the map's lock) */
    atomic_bool closed;   /* its last descriptor was closed: calls still in it end (EBADF) */
    atomic_bool nonblock; /* O_NONBLOCK of its file (shared by dup'ed descriptors, as here) */
    /* Options kept here for Linux's semantics (sockopt.c). Times in microseconds, 0 = none. */
    _Atomic int64_t rcvtimeo, sndtimeo;
    atomic_int rcvbuf_set, sndbuf_set; /* the values set (getsockopt reports them doubled) */
    atomic_int tos, ttl, maxseg, cork, nodelay, reuseport, quickack, v6only;
    /* An AF_INET6 socket with IPV6_V6ONLY can never see IPv4, and tapstack has no IPv6: it is
     * bound and listens on paper only (its name is kept here), nothing ever arrives. */
    atomic_bool paper;
    struct sockaddr_in6 paper_name;
};

/* The psock kfd names, with a reference (pl_put), or NULL when kfd is not one of ours. */
struct psock *pl_get(int kfd);
void pl_put(struct psock *ps);
/* Is kfd one of ours? (one load; no reference) */
bool pl_mapped(int kfd);
/* A new psock for tapstack descriptor tsfd with its mirror kfd: mapped, one reference (the
 * map's). NULL + errno when memory is short. */
struct psock *pl_new(int tsfd, int kfd, int type, bool v6, bool nonblock);
/* kfd, a new kernel descriptor (dup), names ps too. */
void pl_map(int kfd, struct psock *ps);
/* kfd no longer names its psock (closed, or replaced by dup2). If it was the last descriptor,
 * the psock's mirror is hung up (so its waiters wake and the kernel can forget the file) and
 * the map's reference dropped; the tapstack socket is closed once no call is left in it. */
void pl_unmap(int kfd);
/* One past the highest descriptor ever mapped. */
int pl_map_top(void);

/* Fork. pl_forked_child: this process is a child forked (without exec) from one that ran the
 * stack: its tapstack sockets are unusable. pl_pid: this process's pid, to tell a vfork-style
 * child (which shares our memory and must not change it) from us. */
extern bool pl_forked_child;
extern int pl_stack_pid;
bool pl_in_vfork_child(void);
/* A call on a tapstack socket in a forked child: one line (once), errno err. Returns -1. */
int pl_child_refuse(int kfd, int err);

/* ---- stack.c ---- */
/* Bring the stack up if it is not (first AF_INET socket). false + errno when it cannot be. */
bool pl_stack_up(void);
/* The lowest descriptor for the runtime's own ones (mirror ends): above the program's. */
extern int pl_private_base;
/* One line on stderr, "tapstack-run: PROG[PID]: ...". once: a flag, set after the first. */
void pl_say(atomic_bool *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does the stack run in this process (brought up, not a forked child)? */
bool pl_stack_running(void);
/* Is fd one the runtime opened at bring-up (tap, epoll, eventfd, control socket, pcap), in the
 * process that runs the stack? */
bool pl_runtime_fd(int fd);
/* Is fd one of the runtime's own descriptors (those, or at pl_private_base and above)? */
bool pl_private_fd(int fd);

/* ---- the shape of every call on a descriptor (sock.c, io.c) ---- */
/* -1 with errno e. */
static inline int pl_fail(int e)
{
    errno = e;
    return -1;
}
/* Leave a call on ps: drop the reference, keep errno, return r. */
static inline long pl_leave(struct psock *ps, long r)
{
    int e = errno;
    pl_put(ps);
    errno = e;
    return r;
}
/* Enter a call on kfd: ps is its psock with a reference; a descriptor that is not ours returns
 * libc_call; in a forked child a tapstack socket is refused (one line, EBADF). */
#define PL_ENTER(kfd, ps, libc_call)                                                               \
    struct psock *ps = pl_get(kfd);                                                                \
    if (!ps)                                                                                       \
        return libc_call;                                                                          \
    if (pl_forked_child) {                                                                         \
        pl_put(ps);                                                                                \
        return pl_child_refuse(kfd, EBADF);                                                        \
    }

/* ---- sock.c: the data path shared by the calls ---- */
/* Wait until kfd (ps's mirror) shows one of events, the deadline (µs on CLOCK_MONOTONIC, 0 =
 * none) passes (EAGAIN), a signal comes (EINTR) or ps is closed (EBADF). 0 or -1 + errno. */
int pl_wait(struct psock *ps, int kfd, short events, int64_t deadline);
int64_t pl_deadline(int64_t timeo_us); /* now + timeo, or 0 (none) for 0 */
int64_t pl_now(void);                  /* CLOCK_MONOTONIC in µs */
/* Send iov as send/sendmsg/write would (blocking, partial, SIGPIPE unless MSG_NOSIGNAL). */
ssize_t pl_send(struct psock *ps, int kfd, const struct iovec *iov, int iovcnt, int flags,
                const struct sockaddr *to, socklen_t tolen);
/* Receive into iov as recv/recvmsg/read would; *mflags gets MSG_TRUNC when a datagram did not
 * fit (may be NULL). */
ssize_t pl_recv(struct psock *ps, int kfd, const struct iovec *iov, int iovcnt, int flags,
                struct sockaddr *from, socklen_t *fromlen, int *mflags);

/* ---- sockopt.c ---- */
int pl_getsockopt(struct psock *ps, int level, int name, void *val, socklen_t *len);
int pl_setsockopt(struct psock *ps, int level, int name, const void *val, socklen_t len);
/* Linux's struct tcp_info for tapstack socket tsfd (sockopt.c; filled by tcpinfo.c, which
 * includes linux/tcp.h). -1 + errno. */
int pl_tcp_info(int tsfd, void *val, socklen_t *len);

/* ---- addr.c: AF_INET6 sockets (v4-mapped) ---- */
/* The AF_INET form of a caller's address for ps: 0, or an errno (EAFNOSUPPORT, EINVAL,
 * ENETUNREACH for an IPv6 address tapstack cannot reach). */
int pl_addr_in(const struct psock *ps, const struct sockaddr *a, socklen_t len,
               struct sockaddr_in *out);
/* Write sin to the caller's buffer in ps's family (truncated to *len, *len set in full). */
void pl_addr_out(const struct psock *ps, const struct sockaddr_in *sin, struct sockaddr *a,
                 socklen_t *len);

#endif
