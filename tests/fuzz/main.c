/* A standalone driver for the libFuzzer-style targets in tests/fuzz/fuzz_*.c.
 *
 *   build/tests/fuzz_X FILE|DIR...   run LLVMFuzzerTestOneInput over each file (a directory: over
 *                                    each regular file in it), e.g. to replay a crash or a corpus
 *   build/tests/fuzz_X               run it over N generated inputs (default 200000) from a fixed
 *                                    seed: random bytes, and mutations of well-formed Ethernet
 *                                    frames (ARP, ICMP echo, UDP, TCP SYN/data/RST, IPv4 with
 *                                    options, fragments, ICMP errors). Deterministic: the same
 *                                    inputs every run. TS_FUZZ_ITERS and TS_FUZZ_SEED override.
 * Exits 0 when every input returned; a target reports a broken invariant by aborting. In the
 * sanitizer build, the input that failed is written to ./crash-fuzz-<iteration> for replay.
 *
 * Half of the mutated frames get their IPv4/ICMP/UDP/TCP checksums recomputed after mutation, so
 * inputs get past checksum verification into the option and protocol code behind it.
 *
 * With -DTS_LIBFUZZER this file defines no main and libFuzzer supplies its own, e.g.
 *   clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address -DTS_LIBFUZZER \
 *         -Iinclude -Istack tests/fuzz/main.c tests/fuzz/fuzz_wire.c \
 *         $(find stack/wire -name '*.c') -o fuzz_wire_lf */
#ifndef TS_LIBFUZZER

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#if defined(__SANITIZE_ADDRESS__)
#define TS_FUZZ_SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS_FUZZ_SAN 1
#endif
#endif
#ifdef TS_FUZZ_SAN
#include <sanitizer/common_interface_defs.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 2048
#define DEFAULT_ITERS  200000

/* ---- deterministic PRNG (xorshift64*) ---- */
static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

/* ---- the input being run, for the crash dump ---- */
static const uint8_t *cur_data;
static size_t cur_size;
static unsigned long cur_iter;

static void dump_current(void)
{
    if (cur_data == NULL)
        return;
    char name[64];
    snprintf(name, sizeof(name), "crash-fuzz-%lu", cur_iter);
    FILE *f = fopen(name, "wb");
    if (f) {
        fwrite(cur_data, 1, cur_size, f);
        fclose(f);
        fprintf(stderr, "fuzz: input of iteration %lu (%zu bytes) written to %s\n", cur_iter,
                cur_size, name);
    }
}

static void on_abort(int sig)
{
    dump_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- seed frames ---- */
static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x02};
#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

struct seed {
    uint8_t b[256];
    size_t len;
};
#define NSEEDS 10
static struct seed seeds[NSEEDS];
static size_t nseeds;

static size_t put_eth(uint8_t *f, uint16_t type)
{
    struct eth_hdr e = {.type = type};
    memcpy(e.dst, MAC_B, 6);
    memcpy(e.src, MAC_A, 6);
    return eth_emit(&e, f, 14);
}

/* Ethernet + IPv4 around a transport packet already written at f + 34. */
static size_t put_ip(uint8_t *f, uint8_t proto, size_t l4len, bool mf)
{
    put_eth(f, ETH_TYPE_IPV4);
    struct ipv4_hdr ip = {.id = 0x4242,
                          .df = !mf,
                          .mf = mf,
                          .ttl = 64,
                          .proto = proto,
                          .src = IP_A,
                          .dst = IP_B,
                          .payload_len = l4len};
    ipv4_emit(&ip, f + 14, 20);
    return 34 + l4len;
}

static void make_seeds(void)
{
    uint8_t pay[64];
    for (size_t i = 0; i < sizeof(pay); i++)
        pay[i] = (uint8_t)(0x20 + i);
    struct seed *s;

    /* ARP who-has 10.0.0.2 */
    s = &seeds[nseeds++];
    put_eth(s->b, ETH_TYPE_ARP);
    struct arp_pkt a = {.op = ARP_OP_REQUEST, .spa = IP_A, .tpa = IP_B};
    memcpy(a.sha, MAC_A, 6);
    s->len = 14 + arp_emit(&a, s->b + 14, sizeof(s->b) - 14);

    /* ICMP echo request, 56 bytes of data as ping sends */
    s = &seeds[nseeds++];
    struct icmp_hdr ic = {
        .type = ICMP_ECHO_REQUEST, .id = 77, .seq = 1, .payload = pay, .payload_len = 56};
    s->len = put_ip(s->b, IP_PROTO_ICMP, icmp_emit(&ic, s->b + 34, sizeof(s->b) - 34), false);

    /* UDP to the echo port */
    s = &seeds[nseeds++];
    struct udp_hdr u = {.sport = 40000, .dport = 7, .payload = pay, .payload_len = 5};
    s->len =
        put_ip(s->b, IP_PROTO_UDP, udp_emit(&u, IP_A, IP_B, s->b + 34, sizeof(s->b) - 34), false);

    /* TCP SYN with Linux's options */
    s = &seeds[nseeds++];
    struct tcp_hdr t = {.sport = 45678,
                        .dport = 80,
                        .seq = 1000,
                        .flags = TCP_SYN,
                        .wnd = 64240,
                        .opts = {.mss_ok = true,
                                 .mss = 1460,
                                 .sack_perm = true,
                                 .ts_ok = true,
                                 .tsval = 1,
                                 .ws_ok = true,
                                 .ws = 7}};
    s->len =
        put_ip(s->b, IP_PROTO_TCP, tcp_emit(&t, IP_A, IP_B, s->b + 34, sizeof(s->b) - 34), false);

    /* TCP data with timestamps and SACK blocks */
    s = &seeds[nseeds++];
    t = (struct tcp_hdr){.sport = 45678,
                         .dport = 80,
                         .seq = 1001,
                         .ack = 5001,
                         .flags = TCP_ACK | TCP_PSH,
                         .wnd = 502,
                         .opts = {.ts_ok = true,
                                  .tsval = 2,
                                  .tsecr = 9,
                                  .nsack = 2,
                                  .sack = {{6000, 7000}, {8000, 9000}}},
                         .payload = pay,
                         .payload_len = 40};
    s->len =
        put_ip(s->b, IP_PROTO_TCP, tcp_emit(&t, IP_A, IP_B, s->b + 34, sizeof(s->b) - 34), false);

    /* TCP RST|ACK */
    s = &seeds[nseeds++];
    t = (struct tcp_hdr){
        .sport = 80, .dport = 45678, .seq = 0, .ack = 1001, .flags = TCP_RST | TCP_ACK};
    s->len =
        put_ip(s->b, IP_PROTO_TCP, tcp_emit(&t, IP_A, IP_B, s->b + 34, sizeof(s->b) - 34), false);

    /* First fragment of a UDP datagram (MF set): 24 of its 72 bytes */
    s = &seeds[nseeds++];
    u = (struct udp_hdr){.sport = 40000, .dport = 7, .payload = pay, .payload_len = 64};
    udp_emit(&u, IP_A, IP_B, s->b + 34, sizeof(s->b) - 34);
    s->len = put_ip(s->b, IP_PROTO_UDP, 24, true);

    /* ICMP fragmentation-needed quoting a TCP header we might have sent */
    s = &seeds[nseeds++];
    uint8_t quote[48];
    struct ipv4_hdr qip = {.df = true,
                           .ttl = 64,
                           .proto = IP_PROTO_TCP,
                           .src = IP_B,
                           .dst = IP_A,
                           .payload_len = 1460};
    ipv4_emit(&qip, quote, 20);
    t = (struct tcp_hdr){.sport = 80, .dport = 45678, .seq = 123, .flags = TCP_ACK};
    tcp_emit(&t, IP_B, IP_A, quote + 20, 28);
    ic = (struct icmp_hdr){.type = ICMP_DEST_UNREACH,
                           .code = ICMP_UNREACH_NEEDFRAG,
                           .rest = 1400,
                           .payload = quote,
                           .payload_len = 28};
    s->len = put_ip(s->b, IP_PROTO_ICMP, icmp_emit(&ic, s->b + 34, sizeof(s->b) - 34), false);

    /* IPv4 with options (NOP, record route) carrying UDP: header written by hand, since the
     * emitter never sends options */
    s = &seeds[nseeds++];
    put_eth(s->b, ETH_TYPE_IPV4);
    uint8_t *ip = s->b + 14;
    u = (struct udp_hdr){.sport = 40001, .dport = 9, .payload = pay, .payload_len = 8};
    size_t ul = udp_emit(&u, IP_A, IP_B, ip + 32, sizeof(s->b) - 46);
    const uint8_t hdr[32] = {0x48, 0,  0,    (uint8_t)(32 + ul),
                             0,    1,  0x40, 0,
                             64,   17, 0,    0,
                             10,   0,  0,    1,
                             10,   0,  0,    2,
                             1,    7,  11,   4,
                             0,    0,  0,    0,
                             0,    0,  0,    0};
    memcpy(ip, hdr, 32);
    uint16_t c = csum(ip, 32);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    s->len = 14 + 32 + ul;

    /* ARP reply padded to the Ethernet minimum */
    s = &seeds[nseeds++];
    put_eth(s->b, ETH_TYPE_ARP);
    a = (struct arp_pkt){.op = ARP_OP_REPLY, .spa = IP_A, .tpa = IP_B};
    memcpy(a.sha, MAC_A, 6);
    memcpy(a.tha, MAC_B, 6);
    arp_emit(&a, s->b + 14, sizeof(s->b) - 14);
    memset(s->b + 42, 0, 18);
    s->len = 60;
}

/* ---- checksum fix-up of an Ethernet/IPv4 frame after mutation ---- */
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void fix_checksums(uint8_t *f, size_t len)
{
    if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
        return;
    uint8_t *ip = f + 14;
    size_t avail = len - 14;
    size_t hl = (size_t)(ip[0] & 15) * 4;
    if ((ip[0] >> 4) != 4 || hl < 20 || hl > avail)
        return;
    put16(ip + 10, 0);
    put16(ip + 10, csum(ip, hl));
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    if (total < hl || total > avail)
        return;
    if ((ip[6] & 0x3f) != 0 || ip[7] != 0)
        return; /* a fragment: the transport checksum covers the whole datagram */
    uint8_t *l4 = ip + hl;
    size_t l4len = total - hl;
    uint32_t src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
    uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
    if (ip[9] == IP_PROTO_TCP && l4len >= 20) {
        put16(l4 + 16, 0);
        put16(l4 + 16,
              csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_TCP, (uint16_t)l4len), l4, l4len)));
    } else if (ip[9] == IP_PROTO_UDP && l4len >= 8) {
        size_t ul = (size_t)(l4[4] << 8 | l4[5]);
        if (ul < 8 || ul > l4len)
            return;
        put16(l4 + 6, 0);
        uint16_t c = csum_fold(csum_add(csum_pseudo(src, dst, IP_PROTO_UDP, (uint16_t)ul), l4, ul));
        put16(l4 + 6, c ? c : 0xffff);
    } else if (ip[9] == IP_PROTO_ICMP && l4len >= 8) {
        put16(l4 + 2, 0);
        put16(l4 + 2, csum(l4, l4len));
    }
}

/* ---- mutation ---- */
static const uint8_t interesting[] = {0,    1,    2,    3,    4,    5,    6,    7,
                                      8,    10,   0x0f, 0x10, 0x14, 0x40, 0x45, 0x46,
                                      0x4f, 0x50, 0x7f, 0x80, 0xa0, 0xf0, 0xfe, 0xff};

static size_t mutate(uint8_t *b, size_t len, size_t cap)
{
    size_t n = 1 + rng_below(8);
    for (size_t k = 0; k < n; k++) {
        switch (rng_below(8)) {
        case 0: /* flip a bit */
            if (len)
                b[rng_below(len)] ^= (uint8_t)(1u << rng_below(8));
            break;
        case 1: /* an interesting byte */
            if (len)
                b[rng_below(len)] = interesting[rng_below(sizeof(interesting))];
            break;
        case 2: /* a random byte */
            if (len)
                b[rng_below(len)] = (uint8_t)rng();
            break;
        case 3: /* truncate */
            len = rng_below(len + 1);
            break;
        case 4: /* append random bytes */
        {
            size_t add = 1 + rng_below(64);
            if (len + add > cap)
                add = cap - len;
            for (size_t i = 0; i < add; i++)
                b[len + i] = (uint8_t)rng();
            len += add;
            break;
        }
        case 5: /* insert a byte */
            if (len < cap) {
                size_t at = rng_below(len + 1);
                memmove(b + at + 1, b + at, len - at);
                b[at] = interesting[rng_below(sizeof(interesting))];
                len++;
            }
            break;
        case 6: /* delete a byte */
            if (len) {
                size_t at = rng_below(len);
                memmove(b + at, b + at + 1, len - at - 1);
                len--;
            }
            break;
        default: /* an interesting 16-bit value, as lengths and ports are */
            if (len >= 2) {
                size_t at = rng_below(len - 1);
                uint16_t v = (uint16_t)(rng_below(2) ? rng_below(80) : 0xffff - rng_below(80));
                put16(b + at, v);
            }
            break;
        }
    }
    return len;
}

/* ---- running ---- */
static void run_one(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes, so a read past the end is a sanitizer error. */
    uint8_t *p = malloc(size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(2);
    }
    if (size)
        memcpy(p, data, size);
    cur_data = p;
    cur_size = size;
    LLVMFuzzerTestOneInput(p, size);
    cur_data = NULL;
    free(p);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *b = malloc(cap);
    size_t n;
    while (b && (n = fread(b + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b == NULL) {
        fprintf(stderr, "fuzz: %s: out of memory\n", path);
        return -1;
    }
    run_one(b, len);
    free(b);
    return 0;
}

static int run_path(const char *path, unsigned long *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            (*count)++;
            if (run_file(sub) != 0)
                rc = -1;
        }
    }
    closedir(d);
    return rc;
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *end;
    unsigned long x = strtoul(v, &end, 0);
    return *end == '\0' ? x : def;
}

int main(int argc, char **argv)
{
    signal(SIGABRT, on_abort);
#ifdef TS_FUZZ_SAN
    /* ASan reports SEGVs itself; it calls us before it exits. */
    __sanitizer_set_death_callback(dump_current);
#else
    signal(SIGSEGV, on_abort);
#endif
    if (argc > 1) {
        int rc = 0;
        unsigned long count = 0;
        for (int i = 1; i < argc; i++)
            if (run_path(argv[i], &count) != 0)
                rc = 1;
        printf("fuzz: %lu input file(s) run\n", count);
        return rc;
    }

    unsigned long iters = env_ulong("TS_FUZZ_ITERS", DEFAULT_ITERS);
    rng_state = env_ulong("TS_FUZZ_SEED", 0x7a9c5eedull) | 1;
    make_seeds();
    static uint8_t buf[FUZZ_MAX_INPUT];
    for (cur_iter = 0; cur_iter < iters; cur_iter++) {
        size_t len;
        if (rng_below(4) == 0) {
            /* random bytes, mostly short: parsers' length checks live there */
            len = rng_below(4) ? rng_below(80) : rng_below(FUZZ_MAX_INPUT);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rng();
        } else {
            const struct seed *s = &seeds[rng_below(nseeds)];
            memcpy(buf, s->b, s->len);
            len = mutate(buf, s->len, sizeof(buf));
            if (rng_below(2))
                fix_checksums(buf, len);
        }
        run_one(buf, len);
    }
    printf("fuzz: %lu generated inputs run\n", iters);
    return 0;
}

#endif /* TS_LIBFUZZER */
