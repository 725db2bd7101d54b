/* connloop: connections opened and closed in a loop, as fast as the server accepts them.
 *
 *   connloop [-d SECONDS] [-t THREADS] [--rst] [--src ADDR[,ADDR...]] HOST PORT
 *
 * THREADS threads (default 4) each repeat: socket, connect (blocking), close. With --rst the
 * close is abortive (SO_LINGER 0: the kernel sends RST and keeps no TIME_WAIT); without it the
 * client closes first with a FIN and its kernel keeps the TIME_WAIT (the bench sets
 * net.ipv4.tcp_tw_reuse=1 in the client's namespace so ports are reused after 1 s, on both
 * setups alike). --src spreads the connections over several local addresses.
 *
 * connect() waits at most 5 s (SO_SNDTIMEO). A connect that took over 900 ms almost always waited
 * for a SYN retransmission (the kernel's initial RTO is 1 s): counted as a stall.
 *
 * Prints one line: conns=N secs=S rate=R min1s=M stalls=X max_ms=... p50_us=... p99_us=...
 * errors=E [first_error=...]. rate is N/S; min1s the fewest connections completed in any whole
 * second of the run (a stall shows there). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_SRC     64
#define BUCKET_US   50
#define BUCKETS     20000 /* 50 us buckets up to 1 s; beyond: the last bucket */

static struct sockaddr_in dst;
static struct in_addr src[MAX_SRC];
static int nsrc, rst;
static double deadline;
static atomic_ulong done_total, errors_total, stalls_total;
static atomic_int first_errno;
static atomic_ulong max_us;
static atomic_ulong hist[BUCKETS];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_error(int e)
{
    int zero = 0;
    atomic_compare_exchange_strong(&first_errno, &zero, e);
    atomic_fetch_add(&errors_total, 1);
}

static void *worker(void *arg)
{
    unsigned long i = (unsigned long)(size_t)arg;
    struct timeval tmo = {.tv_sec = 5};
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    while (now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            note_error(errno);
            usleep(1000);
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
        if (nsrc > 0) {
            int one = 1;
            /* the port is chosen at connect(), per destination, not reserved at bind() */
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = src[i++ % (unsigned)nsrc]};
            if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
                note_error(errno);
                close(fd);
                continue;
            }
        }
        double t0 = now();
        int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
        double t1 = now();
        unsigned long us = (unsigned long)((t1 - t0) * 1e6);
        if (r < 0) {
            note_error(errno);
            if (errno == EADDRNOTAVAIL || errno == ECONNREFUSED)
                usleep(1000);
        } else {
            atomic_fetch_add(&done_total, 1);
            atomic_fetch_add(&hist[us / BUCKET_US < BUCKETS ? us / BUCKET_US : BUCKETS - 1], 1);
        }
        if (us > 900000)
            atomic_fetch_add(&stalls_total, 1);
        unsigned long m = atomic_load(&max_us);
        while (us > m && !atomic_compare_exchange_weak(&max_us, &m, us))
            ;
        if (rst)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    return NULL;
}

static unsigned long percentile(double p, unsigned long n)
{
    unsigned long want = (unsigned long)(p * (double)n), seen = 0;
    for (int b = 0; b < BUCKETS; b++) {
        seen += atomic_load(&hist[b]);
        if (seen > want)
            return (unsigned long)(b + 1) * BUCKET_US;
    }
    return (unsigned long)BUCKETS * BUCKET_US;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: connloop [-d SECONDS] [-t THREADS] [--rst] [--src ADDR,...] HOST PORT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double secs = 10;
    int threads = 4;
    const char *host = NULL, *port = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rst"))
            rst = 1;
        else if (!strcmp(argv[i], "--src") && i + 1 < argc) {
            char *list = argv[++i], *save = NULL;
            for (char *a = strtok_r(list, ",", &save); a && nsrc < MAX_SRC;
                 a = strtok_r(NULL, ",", &save))
                if (inet_pton(AF_INET, a, &src[nsrc++]) != 1) {
                    fprintf(stderr, "connloop: --src '%s' is not an IPv4 address\n", a);
                    return 2;
                }
        } else if (!host)
            host = argv[i];
        else if (!port)
            port = argv[i];
        else
            usage();
    }
    if (!port || secs <= 0 || threads < 1 || threads > MAX_THREADS)
        usage();
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)atoi(port));
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        fprintf(stderr, "connloop: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    double t0 = now();
    deadline = t0 + secs;
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
    /* Sample once a second: the fewest completions in a whole second. */
    unsigned long last = 0, min1s = (unsigned long)-1;
    for (double next = t0 + 1; next <= deadline + 1e-3; next += 1) {
        double w = next - now();
        if (w > 0)
            usleep((useconds_t)(w * 1e6));
        unsigned long d = atomic_load(&done_total);
        if (d - last < min1s)
            min1s = d - last;
        last = d;
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double el = now() - t0;
    unsigned long n = atomic_load(&done_total);
    unsigned long p50 = percentile(0.5, n), p99 = percentile(0.99, n);
    const unsigned long top = (unsigned long)BUCKETS * BUCKET_US; /* "1 s or more" */
    printf("conns=%lu secs=%.2f rate=%.0f min1s=%lu stalls=%lu max_ms=%.1f p50_us=%lu%s "
           "p99_us=%lu%s errors=%lu",
           n, el, (double)n / el, min1s == (unsigned long)-1 ? 0 : min1s,
           atomic_load(&stalls_total), (double)atomic_load(&max_us) / 1000.0, p50,
           p50 >= top ? "+" : "", p99, p99 >= top ? "+" : "", atomic_load(&errors_total));
    if (atomic_load(&first_errno))
        printf(" first_error=\"%s\"", strerror(atomic_load(&first_errno)));
    printf("\n");
    return 0;
}
