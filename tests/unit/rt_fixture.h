/* Two socket runtimes on the in-memory pair link, for the suites of the socket API and of what
 * is built on it (test_socket, test_netio). Unlike harness.h this runs real threads on the real
 * clock: each runtime has its loop thread, as an app has.
 *
 * A = 10.0.0.1 (TH_IP_A), B = 10.0.0.2 (TH_IP_B), configured by th_config(). */
#ifndef TS_TEST_RT_FIXTURE_H
#define TS_TEST_RT_FIXTURE_H

#include "tapstack/driver.h"
#include "tapstack/socket.h"

/* Wraps A's end of the link (the returned driver owns inner); NULL for none. */
typedef struct ts_driver *(*rt_wrap_fn)(struct ts_driver *inner, void *arg);

/* Start both runtimes; a setup failure fails the running libcheck test. */
void rt_pair_up(struct ts_runtime **a, struct ts_runtime **b, rt_wrap_fn wrap_a, void *arg);
/* Stop both (they free their stacks and drivers) and set the pointers to NULL. */
void rt_pair_down(struct ts_runtime **a, struct ts_runtime **b);

/* A TCP connection across the link: *cli on a (connected to b's address), *srv on b (accepted
 * from a listener on port, closed again). Both blocking, with a 2 s SO_RCVTIMEO. */
void rt_tcp_pair(struct ts_runtime *a, struct ts_runtime *b, uint16_t port, int *cli, int *srv);

#endif
