/* connhold: open many TCP connections to one server and hold them idle (the memory row).
 *
 *   connhold -n N [--src ADDR[,ADDR...]] [--open-secs S] [--hold-secs H] [--rate R] HOST PORT
 *
 * --rate R: start at most R connects per second (default: as fast as 512 in progress allow). A
 * server whose accept queue overflows drops the final ACK (Linux and tapstack both), and one that
 * answered with a SYN cookie then forgets the connection while this client, which never sends,
 * holds it for ever: pacing keeps the count held by both ends the same.
 *
 * Opens N connections with nonblocking connect(), at most 512 in progress at once, spread over
 * the --src addresses (each gets its own ~28 000 ephemeral ports per destination). Stops opening
 * after --open-secs (default 30). Then it waits 2 s, counts the connections still held (connected,
 * nothing to read: a server that refused one with a 503 or closed it shows up as readable), and
 * prints
 *     opened=O failed=F held=H ready
 * on stdout (flushed): the caller measures memory now. After --hold-secs (default 5) it counts
 * again, prints "held_after=H2" and exits, closing everything with a RST (SO_LINGER 0): an
 * orderly close would leave N TIME_WAIT sockets in the client's namespace for 60 s, and their
 * expiry (the kernel's timer work, on the same two CPUs) would weigh on whatever row runs next.
 * Needs RLIMIT_NOFILE above N (it raises its own limit; as root that always works). Sends
 * nothing on the connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SRC      64
#define MAX_INFLIGHT 512

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Connections that are up and quiet: not readable (no data, FIN or RST), no error. */
static long count_held(const int *fds, long n)
{
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    for (long i = 0; i < n; i++) {
        p[i].fd = fds[i]; /* -1 (closed) is skipped by poll */
        p[i].events = POLLIN | POLLRDHUP;
    }
    poll(p, (nfds_t)n, 0);
    long held = 0;
    for (long i = 0; i < n; i++)
        if (fds[i] >= 0 && !(p[i].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            held++;
    free(p);
    return held;
}

int main(int argc, char **argv)
{
    long n = 0;
    double open_secs = 30, hold_secs = 5;
    struct in_addr src[MAX_SRC];
    int nsrc = 0;
    const char *host = NULL, *port = NULL;
    double rate = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--open-secs") && i + 1 < argc)
            open_secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hold-secs") && i + 1 < argc)
            hold_secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--src") && i + 1 < argc) {
            char *save = NULL;
            for (char *a = strtok_r(argv[++i], ",", &save); a && nsrc < MAX_SRC;
                 a = strtok_r(NULL, ",", &save))
                if (inet_pton(AF_INET, a, &src[nsrc++]) != 1) {
                    fprintf(stderr, "connhold: --src '%s' is not an IPv4 address\n", a);
                    return 2;
                }
        } else if (!host)
            host = argv[i];
        else if (!port)
            port = argv[i];
        else
            host = NULL, i = argc;
    }
    if (!host || !port || n < 1 || n > 1000000) {
        fprintf(stderr, "usage: connhold -n N [--src ADDR,...] [--open-secs S] [--hold-secs H] "
                        "[--rate R] HOST PORT\n");
        return 2;
    }
    struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        fprintf(stderr, "connhold: cannot raise the open-file limit to %ld: %s\n", n + 64,
                strerror(errno));
        return 1;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        fprintf(stderr, "connhold: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int *fds = malloc((size_t)n * sizeof *fds);
    long started = 0, opened = 0, failed = 0;
    static struct pollfd wait[MAX_INFLIGHT]; /* the connects in progress */
    static long which[MAX_INFLIGHT];         /* their index in fds */
    int inflight = 0;
    double t0 = now(), end = t0 + open_secs;
    while ((started < n || inflight > 0) && now() < end) {
        while (started < n && inflight < MAX_INFLIGHT &&
               (rate <= 0 || started < (long)((now() - t0) * rate) + 1)) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0) {
                fprintf(stderr, "connhold: socket: %s\n", strerror(errno));
                n = started; /* stop opening */
                break;
            }
            if (nsrc) {
                int one = 1;
                /* the port is chosen at connect(), per destination, not reserved at bind() */
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
                struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = src[started % nsrc]};
                bind(fd, (struct sockaddr *)&sa, sizeof sa);
            }
            fds[started] = fd;
            if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0)
                opened++;
            else if (errno == EINPROGRESS) {
                wait[inflight] = (struct pollfd){.fd = fd, .events = POLLOUT};
                which[inflight++] = started;
            } else {
                close(fd);
                fds[started] = -1;
                failed++;
            }
            started++;
        }
        poll(wait, (nfds_t)inflight, 20);
        for (int i = 0; i < inflight;) {
            if (!wait[i].revents) {
                i++;
                continue;
            }
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(wait[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                close(wait[i].fd);
                fds[which[i]] = -1;
                failed++;
            } else
                opened++;
            wait[i] = wait[--inflight]; /* done: the last in progress takes its place */
            which[i] = which[inflight];
        }
    }
    for (int i = 0; i < inflight; i++) { /* still connecting when time ran out */
        close(wait[i].fd);
        fds[which[i]] = -1;
        failed++;
    }
    sleep(2);
    printf("opened=%ld failed=%ld held=%ld ready\n", opened, failed, count_held(fds, started));
    fflush(stdout);
    usleep((useconds_t)(hold_secs * 1e6));
    printf("held_after=%ld\n", count_held(fds, started));
    fflush(stdout);
    struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
    for (long i = 0; i < started; i++) {
        if (fds[i] < 0)
            continue;
        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
        close(fds[i]);
    }
    return 0;
}
