/* Request/response latency of a plain libc program (make bench runs it under tapstack-run and on
 * the kernel): COUNT round trips of SIZE bytes over one TCP connection (TCP_NODELAY, blocking
 * send and recv) to an echo server. Prints "rtts=N p50_us=.. avg_us=.. p99_us=..".
 *
 *   prog_rr HOST PORT COUNT SIZE */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: prog_rr HOST PORT COUNT SIZE\n");
        return 2;
    }
    int n = atoi(argv[3]), size = atoi(argv[4]);
    if (n < 1 || size < 1 || size > 65536)
        return 2;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        return 1;
    }
    char *buf = calloc(1, (size_t)size);
    double *t = calloc((size_t)n, sizeof *t), sum = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        if (send(s, buf, (size_t)size, 0) != size)
            return 1;
        for (int got = 0; got < size;) {
            ssize_t r = recv(s, buf + got, (size_t)(size - got), 0);
            if (r <= 0)
                return 1;
            got += (int)r;
        }
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("rtts=%d p50_us=%.1f avg_us=%.1f p99_us=%.1f\n", n, t[n / 2], sum / n,
           t[(int)((double)n * 0.99)]);
    close(s);
    return 0;
}
