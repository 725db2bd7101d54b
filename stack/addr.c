/* Address helpers for the API and the apps' command lines: IPv4 dotted quads and MAC addresses,
 * addresses in host byte order. Strict: anything but the canonical forms is rejected, so a typo
 * on a command line is an error and not a surprising address. */
#include <stdio.h>

#include "tapstack/stack.h"

int ts_ip_parse(const char *str, uint32_t *ip)
{
    if (str == NULL || ip == NULL)
        return -1;
    uint32_t v = 0;
    const char *p = str;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (*p != '.')
                return -1;
            p++;
        }
        unsigned n = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits == 3)
                return -1;
            n = n * 10 + (unsigned)(*p - '0');
            digits++;
            p++;
        }
        /* A leading zero ("010") would be octal to inet_aton: refuse the ambiguity. */
        if (digits == 0 || n > 255 || (digits > 1 && p[-digits] == '0'))
            return -1;
        v = (v << 8) | n;
    }
    if (*p != '\0')
        return -1;
    *ip = v;
    return 0;
}

const char *ts_ip_format(uint32_t ip, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16) & 0xff,
             (unsigned)(ip >> 8) & 0xff, (unsigned)ip & 0xff);
    return buf;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ts_mac_parse(const char *str, uint8_t mac[6])
{
    if (str == NULL || mac == NULL)
        return -1;
    uint8_t m[6];
    const char *p = str;
    char sep = 0;
    for (int i = 0; i < 6; i++) {
        if (i > 0) {
            /* ':' or '-', the same one throughout */
            if ((*p != ':' && *p != '-') || (sep && *p != sep))
                return -1;
            sep = *p++;
        }
        int hi = hexval(p[0]);
        if (hi < 0)
            return -1;
        int lo = hexval(p[1]);
        if (lo < 0)
            return -1;
        m[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    if (*p != '\0')
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = m[i];
    return 0;
}

const char *ts_mac_format(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
    return buf;
}
