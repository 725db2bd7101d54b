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
 * without any signal. */
#ifndef TAPSTACK_SOCKET_H
#define TAPSTACK_SOCKET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
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
/* The runtime's idea of now (CLOCK_MONOTONIC, microseconds). */
ts_time_t ts_runtime_now(void);

int ts_socket(int domain, int type, int protocol);
int ts_socket_on(struct ts_runtime *rt, int domain, int type, int protocol);
int ts_bind(int fd, const struct sockaddr *addr, socklen_t len);
int ts_listen(int fd, int backlog);
int ts_accept(int fd, struct sockaddr *addr, socklen_t *len);
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

/* TS_TCP_INFO at level IPPROTO_TCP fills a struct ts_tcp_info (tcp.h). */
#define TS_TCP_INFO 0x7401

#endif
