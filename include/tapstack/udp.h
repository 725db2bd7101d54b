/* The UDP endpoint API that the socket shim builds on. Same model as tcp.h: no blocking; an
 * event callback tells the owner when a datagram or an error arrived. */
#ifndef TAPSTACK_UDP_H
#define TAPSTACK_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tapstack/stack.h"

struct ts_udp_sock;

enum {
    TS_UDP_EV_READABLE = 1 << 0,
    TS_UDP_EV_ERROR = 1 << 1,
};
typedef void (*ts_udp_event_fn)(void *user, struct ts_udp_sock *u, unsigned events);

/* Bind laddr:lport (laddr 0 = any local address, lport 0 = ephemeral). NULL + *err on failure
 * (EADDRINUSE unless reuse, ENOMEM). rcvbuf bounds the bytes queued for the owner. */
struct ts_udp_sock *ts_udp_open(struct ts_stack *s, uint32_t laddr, uint16_t lport, bool reuse,
                                size_t rcvbuf, int *err);
void ts_udp_close(struct ts_udp_sock *u);
void ts_udp_set_callback(struct ts_udp_sock *u, ts_udp_event_fn fn, void *user);

/* Connect: fixes the peer; only its datagrams are received, and ICMP errors about it are
 * reported (ECONNREFUSED). raddr 0 disconnects. */
int ts_udp_connect(struct ts_udp_sock *u, uint32_t raddr, uint16_t rport);

/* Send one datagram (raddr 0 = the connected peer). Returns len or -errno (EMSGSIZE over 65507,
 * EDESTADDRREQ, ENETUNREACH, and a pending ECONNREFUSED). */
ssize_t ts_udp_sendto(struct ts_udp_sock *u, const void *buf, size_t len, uint32_t raddr,
                      uint16_t rport, ts_time_t now);
/* Take the oldest datagram (truncated to len; *full_len says how long it was). -EAGAIN when none.
 */
ssize_t ts_udp_recvfrom(struct ts_udp_sock *u, void *buf, size_t len, uint32_t *raddr,
                        uint16_t *rport, size_t *full_len);
size_t ts_udp_readable(const struct ts_udp_sock *u); /* size of the next datagram + 1, 0 = none */
/* Like ts_udp_recvfrom, but the datagram stays queued (MSG_PEEK). */
ssize_t ts_udp_peekfrom(struct ts_udp_sock *u, void *buf, size_t len, uint32_t *raddr,
                        uint16_t *rport, size_t *full_len);
/* Bytes charged against rcvbuf right now (payloads plus a fixed per-datagram overhead). */
size_t ts_udp_queued(const struct ts_udp_sock *u);
/* Change the receive bound (SO_RCVBUF); datagrams already queued stay. */
void ts_udp_set_rcvbuf(struct ts_udp_sock *u, size_t rcvbuf);
int ts_udp_error(struct ts_udp_sock *u, bool take);
void ts_udp_endpoints(const struct ts_udp_sock *u, uint32_t *laddr, uint16_t *lport,
                      uint32_t *raddr, uint16_t *rport);

/* One endpoint as stat tools show it. */
struct ts_udp_info {
    uint32_t laddr, raddr; /* raddr 0: not connected */
    uint16_t lport, rport;
    size_t recv_queued; /* bytes of datagrams waiting to be read */
    size_t recv_dgrams; /* how many datagrams that is */
};
/* Every UDP endpoint the stack has. Returns how many there are; fills up to max. */
size_t ts_udp_table(const struct ts_stack *s, struct ts_udp_info *out, size_t max);
#endif
