/* The BSD-like socket API.
 *
 * Threading model. The core (stack/) is single-threaded. A runtime (struct ts_runtime) owns one
 * stack and its driver and adds exactly one thread, the stack loop, which waits in epoll on the
 * driver's fd and a wake-up eventfd, sleeping exactly until the next timer deadline. One mutex
 * guards the stack. Application threads may call any function here at once; a call takes the
 * lock, works on the stack, and a blocking call sleeps on a condition variable until the loop
 * (or another call) changes what it waits for. Nothing spins.
 *
 * Descriptors are small integers of their own (not kernel fds); they come from one table shared by
 * every runtime in the process. ts_socket() creates sockets on the default runtime (the first one
 * started, or the one given to ts_runtime_set_default); ts_socket_on() names a runtime.
 *
 * Semantics follow POSIX: -1 and errno on failure; EAGAIN/EWOULDBLOCK in non-blocking mode;
 * EINPROGRESS from a non-blocking connect, finished through ts_poll(POLLOUT) and SO_ERROR; EPIPE
 * without any signal.
 *
 * Locks (socket/shim.h has the details). Each runtime has its one mutex; it guards the stack and
 * every socket of that runtime. The descriptor table has a small lock of its own, held only to
 * map a number to a socket and count references, never while waiting, and never before a
 * runtime's lock. A call holds a reference to its socket, so ts_close() in another thread never
 * frees memory under it: a call blocked on a socket that gets closed (or whose runtime stops)
 * wakes and fails with EBADF. Blocked calls sleep on their socket's condition variable; each
 * ts_poll() call has its own condition variable that the watched sockets signal. The loop
 * thread is woken (eventfd) only when a call made the stack's next deadline earlier.
 *
 * Choices where POSIX leaves room (Linux's unless noted):
 *   - descriptors are the lowest free number from 3 up (never 0..2, so they cannot be mistaken
 *     for stdin/stdout/stderr in messages); ts_socket() without a runtime fails with ENETDOWN;
 *   - send/recv on a TCP socket that was never connected: ENOTCONN (POSIX; Linux says EPIPE
 *     for send); after ts_shutdown(SHUT_WR): EPIPE;
 *   - SO_RCVBUF/SO_SNDBUF take the value as given (clamped to 1 KiB..64 MiB), not doubled;
 *   - SO_RCVTIMEO/SO_SNDTIMEO expiry: EAGAIN; a blocking connect whose SO_SNDTIMEO expires:
 *     EINPROGRESS (it goes on in the background); SO_RCVTIMEO also bounds ts_accept();
 *   - SO_LINGER {1, 0}: ts_close() resets the connection (RST); {1, n > 0}: ts_close() sends
 *     the FIN and waits up to n seconds for it to be acknowledged, then returns 0 either way;
 *   - ts_shutdown(SHUT_RD) on a listener stops listening: blocked ts_accept() calls fail with
 *     EINVAL (how servers stop acceptor threads);
 *   - listen() without bind(), bind() to port 0 and an unbound connect()/sendto() take an
 *     ephemeral port from the stack's range (default 32768..60999); bind() is EADDRINUSE while
 *     another socket holds the port, unless both set SO_REUSEADDR and nobody listens on it
 *     (TCP connections in TIME_WAIT do not hold it against SO_REUSEADDR);
 *   - MSG_PEEK works on TCP and UDP, MSG_WAITALL on TCP, MSG_TRUNC on UDP (returns the real
 *     length), MSG_DONTWAIT and MSG_NOSIGNAL everywhere; MSG_OOB is EOPNOTSUPP;
 *   - a connected UDP socket reports ICMP errors (port unreachable: ECONNREFUSED) once, on its
 *     next send or receive; unconnected ones never do;
 *   - ts_poll(): a never-connected TCP socket is POLLOUT|POLLHUP; after the peer's FIN
 *     POLLIN|POLLRDHUP; POLLHUP once both directions are shut or the connection is gone;
 *     POLLERR while an error is pending; POLLNVAL for a descriptor that is not open. Its cost is
 *     O(descriptors polled): it looks at those sockets only, and sleeps until one of them
 *     signals a change.
 *
 * Events (ts_epoll_*), as Linux's epoll(7). An epoll instance is a descriptor of the same table
 * (ts_close() closes it; socket calls on it fail with ENOTSOCK); it belongs to no runtime and
 * may watch sockets of several. ts_epoll_ctl() takes EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLPRI
 * (never reported: urgent data is inline), EPOLLET, EPOLLONESHOT (disarmed after one event until
 * EPOLL_CTL_MOD arms it again) and EPOLLEXCLUSIVE (accepted on ADD; here every event wakes one
 * waiter anyway); EPOLLERR and EPOLLHUP are always reported. Errors as Linux: EEXIST (ADD of a
 * watched descriptor), ENOENT (MOD/DEL of one not watched), EBADF (either descriptor not open),
 * EINVAL (epfd no epoll instance, fd == epfd, an unknown op, EPOLLEXCLUSIVE with MOD or with
 * other flags), EFAULT (event NULL for ADD/MOD); an epoll instance cannot watch another (EPERM,
 * where Linux would nest them: wait on ts_epoll_fd() in the kernel instead). ts_epoll_wait():
 * at most maxevents events, each with the data.u64/ptr given to ctl; timeout -1 waits for ever,
 * 0 not at all, else that many ms; never EINTR.
 *   Readiness is pushed, not scanned: each socket knows the instances watching it, and the
 * stack's event callbacks queue the socket on an instance's ready list when it becomes ready for
 * what that instance waits for; ts_epoll_wait() looks only at that list, so its cost is
 * O(events), whatever the number of sockets watched. A level-triggered socket stays on the list
 * while it is ready; an edge-triggered one comes back only on a new event for what it waits
 * for (new data, not an ACK, wakes EPOLLIN; as Linux). Closing a socket takes it out of every
 * instance (there is no dup(), so a close is its last reference). Any number of threads may
 * wait on one instance; each event wakes one of them, and one that leaves events behind wakes
 * the next. Closing an instance while threads wait in it wakes them with EBADF. ts_poll() on an
 * instance reports POLLIN while it has events.
 *   ts_epoll_fd() gives a kernel eventfd that is readable while the instance's ready list is not
 * empty, so that one kernel poll/select/epoll can wait for tapstack sockets and the program's
 * other descriptors (what running unmodified programs on tapstack needs): when it is readable,
 * call ts_epoll_wait(epfd, ..., 0). A level-triggered socket that stopped being ready is found
 * out (and the fd cleared) by that call, so the fd can be readable for one round with nothing
 * to report, never longer. The fd is written only when the list goes from empty to not empty:
 * a program that watches it edge-triggered calls ts_epoll_wait until it returns fewer than
 * maxevents. It is created on first use and closed with the instance; until then
 * it costs nothing, then one eventfd write and read each time the ready list goes from empty to
 * not empty and back (measured: no difference within the noise in 1-byte round trips, about
 * 20 000/s either way).
 *
 * Cost of a call. A call on a connection (send, recv, accept, shutdown, setsockopt) looks only
 * at that connection's timers to decide whether the loop must wake earlier
 * (ts_tcp_next_deadline); connect, close and UDP sends still run ts_stack_poll, which looks at
 * every connection. ts_runtime_get_stats() counts both kinds of work. */
#ifndef TAPSTACK_SOCKET_H
#define TAPSTACK_SOCKET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tapstack/stack.h"

struct ts_runtime;

/* Start a runtime on stack s and driver d (both owned by the runtime from now on: stopping it
 * frees them). Returns NULL and sets errno on failure. */
struct ts_runtime *ts_runtime_start(struct ts_stack *s, struct ts_driver *d);
/* Stop the loop thread, close every socket of this runtime, free the stack and driver. */
void ts_runtime_stop(struct ts_runtime *rt);
void ts_runtime_set_default(struct ts_runtime *rt);
/* Run fn(stack, arg) under the runtime's lock (to read counters or the connection table). */
void ts_runtime_with_stack(struct ts_runtime *rt, void (*fn)(struct ts_stack *s, void *arg),
                           void *arg);
/* fn(arg) is called once, from the loop thread with no lock held, if the driver's fd reports an
 * error or hang-up (the tap was deleted): the loop then stops watching that fd (it would stay
 * ready and make the loop spin) and runs only timers. The app should stop. */
void ts_runtime_on_link_down(struct ts_runtime *rt, void (*fn)(void *arg), void *arg);
/* The runtime's idea of now (CLOCK_MONOTONIC, microseconds). */
ts_time_t ts_runtime_now(void);

int ts_socket(int domain, int type, int protocol);
int ts_socket_on(struct ts_runtime *rt, int domain, int type, int protocol);
int ts_bind(int fd, const struct sockaddr *addr, socklen_t len);
int ts_listen(int fd, int backlog);
int ts_accept(int fd, struct sockaddr *addr, socklen_t *len);
/* flags: SOCK_NONBLOCK (the new socket is non-blocking), SOCK_CLOEXEC (accepted, no meaning
 * here); others EINVAL. */
int ts_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int ts_connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t ts_send(int fd, const void *buf, size_t len, int flags);
ssize_t ts_recv(int fd, void *buf, size_t len, int flags);
ssize_t ts_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                  socklen_t alen);
ssize_t ts_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                    socklen_t *alen);
ssize_t ts_read(int fd, void *buf, size_t len);
ssize_t ts_write(int fd, const void *buf, size_t len);
int ts_shutdown(int fd, int how);
int ts_close(int fd);
int ts_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int ts_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int ts_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int ts_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
/* Like poll(2) over tapstack descriptors (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP, POLLNVAL).
 * timeout in ms, -1 = forever. */
int ts_poll(struct pollfd *fds, nfds_t n, int timeout);
/* F_GETFL / F_SETFL with O_NONBLOCK. */
int ts_fcntl(int fd, int cmd, ... /* int arg */);

/* The event API, as Linux's epoll(7) (see the top of this file). ts_epoll_create's size must be
 * positive and is otherwise ignored; ts_epoll_create1 takes 0 or EPOLL_CLOEXEC. Close an
 * instance with ts_close. */
int ts_epoll_create(int size);
int ts_epoll_create1(int flags);
int ts_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int ts_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
/* A kernel descriptor (eventfd) that is readable while the instance has events to report, for
 * the kernel's poll/select/epoll. Owned by the instance: do not close it. -1 + errno (EBADF,
 * EINVAL: not an epoll descriptor, or eventfd's errors). */
int ts_epoll_fd(int epfd);

/* ioctl(2) on a socket: FIONBIO (int *: non-blocking or not), FIONREAD/SIOCINQ (int *: bytes
 * ready to read; UDP: the size of the next datagram; a listener: EINVAL), SIOCOUTQ (bytes
 * sent and not yet acknowledged), SIOCOUTQNSD (bytes not yet sent), SIOCATMARK (always 0:
 * urgent data is inline). Others: ENOTTY. */
int ts_ioctl(int fd, unsigned long request, void *arg);

/* Kernel mirrors. ts_mirror_open(fd) returns a kernel descriptor whose readiness follows the
 * tapstack socket fd's, so that the kernel's poll/select/epoll (and anything else that waits on
 * descriptors: ppoll, epoll_pwait2, nested epoll, SIGIO) can wait for tapstack sockets among
 * other descriptors. It is one end of an AF_UNIX stream socketpair (fstat says a socket); the
 * caller owns it and must not read or write it (that would disturb the readiness shown), only
 * poll it, dup it, pass it to the kernel's waits and close it. It is readable while a recv or
 * accept would not block (data, a connection to accept, EOF, an error), writable while a send
 * would not (with Linux's hysteresis: after a full buffer only once a third of it is free),
 * POLLRDHUP once the peer's FIN has come, POLLHUP (and POLLERR after a reset or a failed connect)
 * once the connection is over, for good. Edge-triggered waiters get a new edge for every new
 * arrival of data. A TCP socket that was never connected reads writable, without POLLHUP.
 * flags: SOCK_NONBLOCK, SOCK_CLOEXEC for the returned descriptor. The runtime keeps two
 * descriptors of its own per mirror, placed at min_private_fd or above when there is room (0:
 * anywhere), close-on-exec. -1 + errno: EBADF, ENOTSOCK, EEXIST (fd has one), socketpair's.
 * ts_mirror_hangup(fd): the mirror reads as hung up (POLLHUP) from now on and the runtime lets
 * go of its own descriptors; ts_close does it too. */
int ts_mirror_open(int fd, int flags, int min_private_fd);
int ts_mirror_hangup(int fd);

/* fork() while a runtime runs. Call ts_runtime_fork_prepare(rt) before it (pthread_atfork's
 * prepare), ts_runtime_fork_parent(rt) in the parent after it. In the child there is no loop
 * thread and the locks stay taken: the child must make no tapstack call at all (other than this
 * one); ts_runtime_fork_child(rt) closes the child's copies of the runtime's kernel descriptors
 * (the tap, its epoll and eventfd, the control socket, the mirrors' own ends), so that the
 * parent alone holds the tap and its mirrors. */
void ts_runtime_fork_prepare(struct ts_runtime *rt);
void ts_runtime_fork_parent(struct ts_runtime *rt);
void ts_runtime_fork_child(struct ts_runtime *rt);

/* Work a runtime's calls did, for tests and tuning: it shows which costs grow with the number of
 * sockets. */
struct ts_runtime_stats {
    uint64_t readiness_checks; /* a socket's readiness computed (poll, epoll, its events) */
    uint64_t stack_polls;      /* calls that ran ts_stack_poll (it looks at every connection) */
    uint64_t loop_wakeups;     /* calls that woke the loop thread (its next deadline moved) */
    uint64_t mirror_syncs;     /* kernel mirrors brought up to date (ts_mirror_open) */
    uint64_t mirror_syscalls;  /* system calls that took (a token, a drain, a fill...) */
    uint64_t direct_waits;     /* ts_epoll_wait sleeps in which the caller polled the driver
                                * and ran the stack itself instead of the loop thread */
    uint64_t direct_steps;     /* stack steps those ran */
};
void ts_runtime_get_stats(struct ts_runtime *rt, struct ts_runtime_stats *st);

/* TS_TCP_INFO at level IPPROTO_TCP fills a struct ts_tcp_info (tcp.h). */
#define TS_TCP_INFO 0x7401

#endif
