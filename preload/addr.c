/* Addresses of AF_INET6 sockets. tapstack speaks IPv4 only; an AF_INET6 socket (which many
 * programs open first: python3 -m http.server, iperf3 -s, curl localhost) works as Linux's
 * dual-stack sockets do for IPv4 peers: IPv4 addresses in their v4-mapped form ::ffff:a.b.c.d
 * (RFC 4291 2.5.5.2), :: for 0.0.0.0. ::1 is taken as 127.0.0.1, so "localhost" works either
 * way. Any other IPv6 address cannot be reached (ENETUNREACH) nor bound (EADDRNOTAVAIL). */
#include <errno.h>
#include <string.h>

#include "preload.h"

static bool v6_is(const struct in6_addr *a, const uint8_t prefix[12])
{
    return memcmp(a->s6_addr, prefix, 12) == 0;
}

int pl_addr_in(const struct psock *ps, const struct sockaddr *a, socklen_t len,
               struct sockaddr_in *out)
{
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    if (!a)
        return EFAULT;
    if (!ps->v6) {
        if (len < sizeof(struct sockaddr_in))
            return EINVAL;
        if (a->sa_family != AF_INET)
            return EAFNOSUPPORT;
        memcpy(out, a, sizeof *out);
        return 0;
    }
    if (len < 24 /* SIN6_LEN_RFC2133 */)
        return EINVAL;
    if (a->sa_family != AF_INET6)
        return EAFNOSUPPORT; /* as Linux: an AF_INET6 socket takes AF_INET6 addresses */
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    memcpy(&s6, a, len < sizeof s6 ? len : sizeof s6);
    static const uint8_t zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out->sin_port = s6.sin6_port;
    if (memcmp(s6.sin6_addr.s6_addr, zero, 16) == 0)
        out->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (v6_is(&s6.sin6_addr, mapped))
        memcpy(&out->sin_addr.s_addr, s6.sin6_addr.s6_addr + 12, 4);
    else if (memcmp(s6.sin6_addr.s6_addr, zero, 15) == 0 && s6.sin6_addr.s6_addr[15] == 1)
        out->sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* ::1 */
    else
        return ENETUNREACH;
    return 0;
}

void pl_addr_out(const struct psock *ps, const struct sockaddr_in *sin, struct sockaddr *a,
                 socklen_t *len)
{
    if (!a || !len)
        return;
    if (!ps->v6) {
        size_t n = *len < sizeof *sin ? *len : sizeof *sin;
        memcpy(a, sin, n);
        *len = sizeof *sin;
        return;
    }
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = sin->sin_port;
    if (sin->sin_addr.s_addr != htonl(INADDR_ANY)) {
        s6.sin6_addr.s6_addr[10] = 0xff;
        s6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(s6.sin6_addr.s6_addr + 12, &sin->sin_addr.s_addr, 4);
    }
    size_t n = *len < sizeof s6 ? *len : sizeof s6;
    memcpy(a, &s6, n);
    *len = sizeof s6;
}
