/* getsockopt/setsockopt with Linux's option numbers and the semantics programs depend on.
 *
 * What tapstack implements goes to it (SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF,
 * SO_SNDBUF, SO_RCVTIMEO, SO_SNDTIMEO, SO_ERROR, SO_TYPE, SO_ACCEPTCONN, TCP_NODELAY,
 * TCP_KEEPIDLE/INTVL/CNT, TCP_USER_TIMEOUT). On top, as Linux:
 *   - SO_RCVBUF/SO_SNDBUF read back doubled once set (Linux keeps twice the value for its
 *     bookkeeping and reports that); the *FORCE forms are the same here;
 *   - SO_DOMAIN, SO_PROTOCOL; TCP_INFO as Linux's struct tcp_info (tcpinfo.c); TCP_MAXSEG the
 *     connection's MSS (set before connect or on a listener, it bounds the MSS announced and
 *     sent); TCP_CONGESTION per socket, as the shim has it ("reno", "cubic" or "bbr"; another
 *     name is ENOENT);
 *   - IP_TOS, IP_TTL and IPV6_V6ONLY remembered and read back (not sent: tapstack's datagrams
 *     carry TOS 0 and TTL 64);
 *   - TCP_CORK sends at once, as TCP_NODELAY (see pl_setsockopt: the stall it prevents);
 *   - options that only tune the kernel's behaviour (SO_PRIORITY, TCP_QUICKACK,
 *     TCP_DEFER_ACCEPT, TCP_FASTOPEN, IP_RECVERR, IP_MTU_DISCOVER, ...) are accepted and
 *     change nothing; others: ENOPROTOOPT, as Linux for an option it does not know. */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/time.h>

#include "preload.h"
#include "tapstack/socket.h"
#include "tapstack/tcp.h"

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif

static int put_int(void *val, socklen_t *len, int v)
{
    if (!val || !len)
        return pl_fail(EFAULT);
    if (*len < sizeof(int)) {
        /* Linux copies what fits (a char for some options); do the same. */
        if (*len == 0)
            return pl_fail(EINVAL);
        memcpy(val, &v, *len);
        return 0;
    }
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

static int timeo_name(int name)
{
    if (name == SO_RCVTIMEO_NEW)
        return SO_RCVTIMEO;
    if (name == SO_SNDTIMEO_NEW)
        return SO_SNDTIMEO;
    return name;
}

static bool tune_only(int level, int name)
{
    switch (level) {
    case SOL_SOCKET:
        return name == SO_PRIORITY || name == SO_MARK || name == SO_OOBINLINE ||
               name == SO_RCVLOWAT || name == SO_TIMESTAMP || name == SO_TIMESTAMPNS ||
               name == SO_TIMESTAMPING || name == SO_PASSCRED || name == SO_BINDTODEVICE ||
               name == SO_INCOMING_CPU || name == SO_BUSY_POLL || name == SO_DONTROUTE ||
               name == SO_NO_CHECK || name == SO_SELECT_ERR_QUEUE;
    case IPPROTO_TCP:
        return name == TCP_DEFER_ACCEPT || name == TCP_FASTOPEN || name == TCP_FASTOPEN_CONNECT ||
               name == TCP_NOTSENT_LOWAT || name == TCP_WINDOW_CLAMP || name == TCP_SYNCNT ||
               name == TCP_LINGER2 || name == TCP_THIN_LINEAR_TIMEOUTS || name == TCP_SAVE_SYN;
    case IPPROTO_IP:
        return name == IP_RECVERR || name == IP_MTU_DISCOVER || name == IP_FREEBIND ||
               name == IP_BIND_ADDRESS_NO_PORT || name == IP_PKTINFO || name == IP_RECVTOS ||
               name == IP_RECVTTL || name == IP_RECVORIGDSTADDR || name == IP_MULTICAST_LOOP ||
               name == IP_MULTICAST_TTL || name == IP_TRANSPARENT;
    default:
        return false;
    }
}

int pl_setsockopt(struct psock *ps, int level, int name, const void *val, socklen_t len)
{
    int v = 0;
    bool has_int = val && len >= sizeof(int);
    if (has_int)
        memcpy(&v, val, sizeof v);
    if (tune_only(level, name))
        return has_int || level == SOL_SOCKET ? 0 : pl_fail(EINVAL);
    int t = ps->tsfd;
    switch (level) {
    case SOL_SOCKET:
        switch (name) {
        case SO_RCVTIMEO:
        case SO_SNDTIMEO:
        case SO_RCVTIMEO_NEW:
        case SO_SNDTIMEO_NEW: {
            name = timeo_name(name);
            if (ts_setsockopt(t, level, name, val, len) < 0)
                return -1;
            struct timeval tv;
            socklen_t tl = sizeof tv;
            ts_getsockopt(t, level, name, &tv, &tl);
            int64_t us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
            atomic_store(name == SO_RCVTIMEO ? &ps->rcvtimeo : &ps->sndtimeo, us);
            return 0;
        }
        case SO_RCVBUF:
        case SO_SNDBUF:
        case SO_RCVBUFFORCE:
        case SO_SNDBUFFORCE: {
            bool rcv = name == SO_RCVBUF || name == SO_RCVBUFFORCE;
            if (!has_int)
                return pl_fail(EINVAL);
            if (ts_setsockopt(t, level, rcv ? SO_RCVBUF : SO_SNDBUF, val, len) < 0)
                return -1;
            /* As tapstack clamps it; read back doubled (a live connection's buffers only
             * grow, so what it has may be more). */
            v = v < 1024 ? 1024 : (v > (64 << 20) ? 64 << 20 : v);
            atomic_store(rcv ? &ps->rcvbuf_set : &ps->sndbuf_set, v);
            return 0;
        }
        case SO_REUSEPORT:
            if (!has_int)
                return pl_fail(EINVAL);
            atomic_store(&ps->reuseport, v != 0);
            return 0;
        default:
            return ts_setsockopt(t, level, name, val, len);
        }
    case IPPROTO_TCP:
        if (ps->type != SOCK_STREAM)
            return pl_fail(ENOPROTOOPT);
        switch (name) {
        case TCP_MAXSEG:
            if (!has_int)
                return pl_fail(EINVAL);
            if (v != 0 && (v < 88 || v > 32767))
                return pl_fail(EINVAL); /* Linux's bounds */
            atomic_store(&ps->maxseg, v);
            return ts_setsockopt(t, level, name, val, len); /* bounds what we announce */
        case TCP_NODELAY:
        case TCP_CORK: {
            /* tapstack has no cork. What a corking program (nginx's tcp_nopush) wants is its
             * pieces sent without waiting for the peer's acknowledgement in between (it turns
             * TCP_NODELAY off meanwhile, as Linux's cork overrides it): so a corked socket
             * sends at once, as with TCP_NODELAY. Each option reads back as set. */
            if (!has_int)
                return pl_fail(EINVAL);
            atomic_store(name == TCP_CORK ? &ps->cork : &ps->nodelay, v != 0);
            int eff = atomic_load(&ps->cork) || atomic_load(&ps->nodelay);
            return ts_setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &eff, sizeof eff);
        }
        case TCP_QUICKACK:
            if (!has_int)
                return pl_fail(EINVAL);
            atomic_store(&ps->quickack, v != 0);
            return 0;
        default:
            return ts_setsockopt(t, level, name, val, len);
        }
    case IPPROTO_IP:
        if (!has_int)
            return pl_fail(EINVAL);
        if (name == IP_TOS) {
            atomic_store(&ps->tos, v & 0xfc); /* the ECN bits are the stack's (Linux) */
            return 0;
        }
        if (name == IP_TTL) {
            if (v != -1 && (v < 1 || v > 255))
                return pl_fail(EINVAL);
            atomic_store(&ps->ttl, v);
            return 0;
        }
        return pl_fail(ENOPROTOOPT);
    case IPPROTO_IPV6:
        if (!ps->v6)
            return pl_fail(ENOPROTOOPT);
        if (name == IPV6_V6ONLY) {
            if (!has_int)
                return pl_fail(EINVAL);
            atomic_store(&ps->v6only, v != 0);
            return 0;
        }
        return 0; /* traffic class, hop limits, path MTU...: tune only */
    default:
        return pl_fail(ENOPROTOOPT);
    }
}

int pl_tcp_info_fill(const struct ts_tcp_info *ti, void *val, socklen_t *len);

int pl_tcp_info(int tsfd, void *val, socklen_t *len)
{
    struct ts_tcp_info ti;
    socklen_t tl = sizeof ti;
    if (ts_getsockopt(tsfd, IPPROTO_TCP, TS_TCP_INFO, &ti, &tl) < 0)
        return -1;
    return pl_tcp_info_fill(&ti, val, len);
}

static int tcp_mss(struct psock *ps)
{
    struct ts_tcp_info info;
    socklen_t il = sizeof info;
    if (ts_getsockopt(ps->tsfd, IPPROTO_TCP, TS_TCP_INFO, &info, &il) == 0 && info.mss_send &&
        info.state != TS_TCP_CLOSE && info.state != TS_TCP_LISTEN)
        return (int)info.mss_send;
    int set = atomic_load(&ps->maxseg);
    return set ? set : 536; /* Linux before a connection: the user's value, else the default */
}

int pl_getsockopt(struct psock *ps, int level, int name, void *val, socklen_t *len)
{
    int t = ps->tsfd;
    if (!val || !len)
        return pl_fail(EFAULT);
    switch (level) {
    case SOL_SOCKET:
        switch (name) {
        case SO_DOMAIN:
            return put_int(val, len, ps->v6 ? AF_INET6 : AF_INET);
        case SO_PROTOCOL:
            return put_int(val, len, ps->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
        case SO_TYPE:
            return put_int(val, len, ps->type);
        case SO_RCVBUF:
        case SO_SNDBUF: {
            int v = 0;
            socklen_t l = sizeof v;
            if (ts_getsockopt(t, level, name, &v, &l) < 0)
                return -1;
            int set = atomic_load(name == SO_RCVBUF ? &ps->rcvbuf_set : &ps->sndbuf_set);
            return put_int(val, len, set ? 2 * set : v);
        }
        case SO_RCVTIMEO_NEW:
        case SO_SNDTIMEO_NEW:
            return ts_getsockopt(t, level, timeo_name(name), val, len);
        case SO_REUSEPORT:
            return put_int(val, len, atomic_load(&ps->reuseport));
        case SO_RCVLOWAT:
        case SO_SNDLOWAT:
            return put_int(val, len, 1);
        case SO_PRIORITY:
        case SO_MARK:
        case SO_OOBINLINE:
        case SO_DONTROUTE:
            return put_int(val, len, 0);
        case SO_ACCEPTCONN:
            if (atomic_load(&ps->paper))
                return put_int(val, len, 0);
            return ts_getsockopt(t, level, name, val, len);
        default:
            return ts_getsockopt(t, level, name, val, len);
        }
    case IPPROTO_TCP:
        if (ps->type != SOCK_STREAM)
            return pl_fail(ENOPROTOOPT);
        switch (name) {
        case TCP_INFO:
            return pl_tcp_info(t, val, len);
        case TCP_MAXSEG:
            return put_int(val, len, tcp_mss(ps));
        case TCP_CORK:
            return put_int(val, len, atomic_load(&ps->cork));
        case TCP_NODELAY:
            return put_int(val, len, atomic_load(&ps->nodelay));
        case TCP_QUICKACK:
            return put_int(val, len, atomic_load(&ps->quickack));
        case TCP_DEFER_ACCEPT:
        case TCP_FASTOPEN:
        case TCP_NOTSENT_LOWAT:
        case TCP_WINDOW_CLAMP:
            return put_int(val, len, 0);
        default:
            return ts_getsockopt(t, level, name, val, len);
        }
    case IPPROTO_IP:
        switch (name) {
        case IP_TOS:
            return put_int(val, len, atomic_load(&ps->tos));
        case IP_TTL: {
            int ttl = atomic_load(&ps->ttl);
            return put_int(val, len, ttl > 0 ? ttl : 64);
        }
        case IP_MTU:
            if (ps->type != SOCK_STREAM)
                return pl_fail(ENOTCONN);
            return put_int(val, len, tcp_mss(ps) + 40);
        default:
            return pl_fail(ENOPROTOOPT);
        }
    case IPPROTO_IPV6:
        if (!ps->v6)
            return pl_fail(ENOPROTOOPT);
        if (name == IPV6_V6ONLY)
            return put_int(val, len, atomic_load(&ps->v6only));
        return pl_fail(ENOPROTOOPT);
    default:
        return pl_fail(ENOPROTOOPT);
    }
}
