/* blast: send N bytes on one TCP connection as fast as the path takes them, and time it.
 *
 *   blast [-n BYTES] [--http] [--timeout SECONDS] [--cc NAME] HOST PORT
 *
 * The bytes are tapstack-httpd's pattern (byte i = i mod 251), sent from one buffer with send()
 * (no file, no pipe: the sender's own cost is one copy per byte, as for any program). Then:
 *   plain (a discard server, RFC 863): shutdown(SHUT_WR) and wait for the server's close, so
 *     the time includes the last byte's arrival at the server;
 *   --http: the bytes are the body of "POST /upload" (Content-Length, Connection: close); wait
 *     for the whole answer, which the server sends after reading the last byte.
 * Prints one line: bytes=N secs=S gbit_s=G result=ok|closed-early|timeout [answer="..."]. The
 * time runs from before connect() to the end. After --timeout seconds (default 600) it stops
 * and says result=timeout, with the bytes sent so far. --cc NAME sets the socket's congestion
 * control (TCP_CONGESTION, e.g. cubic or reno) instead of the kernel's default; as root this
 * works for any algorithm the kernel has, allowed for unprivileged sockets or not. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sent;
static double t0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(uint64_t bytes, const char *result, const char *answer)
{
    double s = now() - t0;
    printf("bytes=%llu secs=%.3f gbit_s=%.3f result=%s", (unsigned long long)bytes, s,
           (double)bytes * 8 / s / 1e9, result);
    if (answer)
        printf(" answer=\"%s\"", answer);
    printf("\n");
    fflush(stdout);
}

static void on_alarm(int sig)
{
    (void)sig;
    report(sent, "timeout", NULL);
    _exit(3);
}

/* An HTTP answer is complete when its head and Content-Length bytes of body have arrived. */
static int answer_complete(const char *a, size_t have)
{
    const char *end = strstr(a, "\r\n\r\n");
    const char *cl = strcasestr(a, "\r\ncontent-length:");
    if (!end || !cl || cl > end)
        return 0;
    return have - (size_t)(end + 4 - a) >= strtoull(cl + 17, NULL, 10);
}

int main(int argc, char **argv)
{
    unsigned long long total = 100ull << 20;
    int http = 0;
    unsigned timeout = 600;
    const char *host = NULL, *port = NULL, *cc = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            total = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--http"))
            http = 1;
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cc") && i + 1 < argc)
            cc = argv[++i];
        else if (!host)
            host = argv[i];
        else if (!port)
            port = argv[i];
        else
            host = NULL, i = argc;
    }
    if (!host || !port || !timeout) {
        fprintf(stderr,
                "usage: blast [-n BYTES] [--http] [--timeout SECONDS] [--cc NAME] HOST PORT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "blast: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    static uint8_t buf[251 * 512]; /* whole periods: every slice starts the pattern afresh */
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i % 251);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(timeout);
    t0 = now();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0) {
        fprintf(stderr,
                "blast: congestion control '%s': %s (see sysctl "
                "net.ipv4.tcp_available_congestion_control)\n",
                cc, strerror(errno));
        return 2;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "blast: connect %s:%s: %s\n", host, port, strerror(errno));
        return 1;
    }
    if (http) {
        char head[256];
        int k = snprintf(head, sizeof head,
                         "POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %llu\r\n"
                         "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                         host, total);
        if (send(fd, head, (size_t)k, 0) != k) {
            fprintf(stderr, "blast: send: %s\n", strerror(errno));
            return 1;
        }
    }
    uint64_t off = 0;
    while (off < total) {
        size_t at = (size_t)(off % 251), k = sizeof buf - at;
        if (k > total - off)
            k = (size_t)(total - off);
        ssize_t n = send(fd, buf + at, k, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            report(off, "closed-early", strerror(errno));
            return 1;
        }
        off += (uint64_t)n;
        sent = off;
    }
    if (!http)
        shutdown(fd, SHUT_WR);
    char ans[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, ans + have, sizeof ans - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        ans[have] = 0;
        if (http && answer_complete(ans, have))
            break; /* a keep-alive server need not close */
        if (have == sizeof ans - 1)
            have = 0; /* a discard server sends nothing; keep the tail of anything else */
    }
    ans[have] = 0;
    char *body = strstr(ans, "\r\n\r\n");
    char *line = body ? body + 4 : ans;
    line[strcspn(line, "\r\n")] = 0;
    int ok = !http || (strstr(ans, " 200 ") &&
                       strtoull(line + (strncmp(line, "length: ", 8) ? 0 : 8), NULL, 10) == total);
    report(off, ok ? "ok" : "bad-answer", http ? line : NULL);
    return ok ? 0 : 1;
}
