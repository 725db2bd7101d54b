/* Socket helpers shared by the bundled apps (echo server/client, httpd), on the tapstack socket
 * API (include/tapstack/socket.h).
 *
 * Every wait is a ts_poll() in slices of at most NIO_SLICE_MS, so a thread notices the stop flag
 * (SIGINT/SIGTERM) and its own deadline without depending on another thread to wake it. Sockets
 * used with nio_recv/nio_send_all are switched to O_NONBLOCK by the caller (nio_nonblock): the
 * data path is then recv/send until EAGAIN, and ts_poll only when there is nothing to do. */
#ifndef TAPSTACK_APPS_NETIO_H
#define TAPSTACK_APPS_NETIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "opts.h"
#include "tapstack/socket.h"

#define NIO_SLICE_MS 250

/* Milliseconds on CLOCK_MONOTONIC (for deadlines). */
int64_t nio_now_ms(void);

int nio_nonblock(int fd);

/* Wait until fd is ready for events, the deadline (nio_now_ms() time; < 0 = none) passes, or *stop
 * is set. Returns the revents (> 0), 0 on timeout, -1 with errno ECANCELED when stopped. */
int nio_wait(int fd, short events, int64_t deadline_ms, volatile sig_atomic_t *stop);

/* Receive up to len bytes, waiting at most idle_ms (< 0 = forever) for the first. Returns > 0,
 * 0 at end of stream, -1 with errno (ETIMEDOUT, ECANCELED, ECONNRESET, ...). */
ssize_t nio_recv(int fd, void *buf, size_t len, int idle_ms, volatile sig_atomic_t *stop);
/* Send all of buf; gives up (ETIMEDOUT) when no byte could be sent for idle_ms (< 0 = never).
 * Returns 0 or -1 with errno. */
int nio_send_all(int fd, const void *buf, size_t len, int idle_ms, volatile sig_atomic_t *stop);

/* Close politely: shut our side (FIN), then read and discard what the peer still sends until it
 * closes, up to max_ms. Closing with unread data would send a RST (RFC 2525 2.17) that can make
 * the peer lose our last response (RFC 9112 9.6 "lingering close"). Then ts_close. */
void nio_lingering_close(int fd, int max_ms, volatile sig_atomic_t *stop);

/* A TCP (SOCK_STREAM) or UDP (SOCK_DGRAM) socket bound to the stack's address and port, listening
 * when TCP. On failure prints one line for prog saying what to do and returns -1. */
int nio_serve_socket(const char *prog, int type, uint32_t ip, unsigned port, int backlog);

/* The listen backlog the servers ask for: Linux's SOMAXCONN (4096 since Linux 5.4), which the
 * shim also clamps to. */
#define NIO_BACKLOG 4096

/* A bound on the connections a server handles at once (--max-conns), with the refusals
 * counted and reported: one line on stderr at the first, then at most one a second. */
struct nio_limit {
    unsigned max, open;
    uint64_t refused;
    int64_t logged_ms; /* when the last line was printed (0: never) */
};
/* Room for one more? true: counted as open (nio_limit_put when it closes). false: counted as
 * refused, and maybe reported for prog, with what the refused one gets ("503", "closed"). */
bool nio_limit_take(struct nio_limit *l, const char *prog, const char *what);
void nio_limit_put(struct nio_limit *l);

/* Hand the app's stack and driver to a socket runtime (prints one line on failure, NULL), chain
 * --trace after the runtime's recorder and serve the control socket (--control; the default
 * path for the tap, printed; when another live tapstack holds the default path it says so and
 * goes on without one, while a --control PATH that cannot be served is an error). */
struct ts_runtime *nio_runtime_start(struct ts_app *app);
/* Print the fault injector's statistics (if any) and stop the runtime. */
void nio_runtime_stop(struct ts_runtime *rt, struct ts_app *app);

#endif
