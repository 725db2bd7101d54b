/* taprate: the tap's own frame rate, with no stack at all: the ceiling any program on a tap
 * (tapstack included) works under when it moves one frame per system call.
 *
 *   taprate --rx|--tx [-d SECONDS] [--tap NAME]      (run inside the tap's namespace, as root)
 *
 * It attaches to the tap as tapstack's driver does (IFF_TAP | IFF_NO_PI, one queue, no vnet
 * header) and moves 1514-byte Ethernet frames (14-byte header + 1500 bytes, a full frame at MTU
 * 1500) for SECONDS (default 5):
 *
 *   --rx  host -> tap: a second thread sends frames out of the host side of the tap with a
 *         packet socket (AF_PACKET, sendmmsg, 64 frames per call, through the qdisc as any
 *         host traffic); this thread read()s them from the tap fd, one frame per read(), and
 *         counts. Measured: frames read per second. The sender keeps at most WINDOW frames
 *         ahead of the reader (it yields the CPU while it is that far ahead), as a TCP sender's
 *         window would: the tap's queue (tx_queue_len, 1000 frames) never overflows, so no CPU
 *         goes to frames the kernel then drops. If the sender is the slower side the figure
 *         is the sender's rate; the tap's tx_dropped is printed (0 when paced as intended).
 *   --tx  tap -> host: this thread write()s frames to the tap fd, one per write(), addressed to
 *         the host side's MAC with an unused EtherType (0x88B5, IEEE local experimental), so the
 *         host kernel takes each frame in (netif receive, the same path a TCP segment starts on)
 *         and drops it at protocol demux (counted as rx_nohandler). Measured: writes per second;
 *         the host's rx_packets counter confirms they arrived.
 *
 * Output, one line: dir=rx|tx frames=N secs=S fps=F gbit_s=G (fps * 1514 * 8) plus the other
 * side's count. What it does not include: any protocol work (checksums, TCP) on either side. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME  1514
#define BATCH  64
#define WINDOW 512 /* frames the sender may be ahead of the reader */

static const char *tap = "tap0";
static atomic_int stop;
static atomic_ulong sent_frames, read_frames;
static int ifindex;
static uint8_t host_mac[6];
static const uint8_t stack_mac[6] = {0x02, 0, 0, 0, 0, 0x02};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long stat_of(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", tap, name);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static void frame(uint8_t *f, const uint8_t *dst, const uint8_t *src)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    for (int i = 14; i < FRAME; i++)
        f[i] = (uint8_t)i;
}

/* The host side: frames out of the tap interface, as fast as sendmmsg takes them. */
static void *host_sender(void *arg)
{
    (void)arg;
    int s = socket(AF_PACKET, SOCK_RAW, 0);
    if (s < 0) {
        fprintf(stderr, "taprate: packet socket: %s\n", strerror(errno));
        return NULL;
    }
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
    memcpy(ll.sll_addr, stack_mac, 6);
    static uint8_t f[FRAME];
    frame(f, stack_mac, host_mac);
    struct iovec iov = {.iov_base = f, .iov_len = FRAME};
    struct mmsghdr m[BATCH];
    for (int i = 0; i < BATCH; i++)
        m[i] = (struct mmsghdr){
            .msg_hdr = {
                .msg_name = &ll, .msg_namelen = sizeof ll, .msg_iov = &iov, .msg_iovlen = 1}};
    while (!atomic_load(&stop)) {
        if (atomic_load(&sent_frames) - atomic_load(&read_frames) > WINDOW - BATCH) {
            sched_yield();
            continue;
        }
        int n = sendmmsg(s, m, BATCH, 0);
        if (n > 0)
            atomic_fetch_add(&sent_frames, (unsigned long)n);
        else if (errno == ENOBUFS)
            sched_yield();
    }
    close(s);
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    int rx = -1;
    double secs = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rx"))
            rx = 1;
        else if (!strcmp(argv[i], "--tx"))
            rx = 0;
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--tap") && i + 1 < argc)
            tap = argv[++i];
        else
            rx = -1, i = argc;
    }
    if (rx < 0 || secs <= 0) {
        fprintf(stderr, "usage: taprate --rx|--tx [-d SECONDS] [--tap NAME]\n");
        return 2;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "taprate: cannot attach to %s: %s (is a tapstack app still on it?)\n", tap,
                strerror(errno));
        return 1;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq q = {0};
    snprintf(q.ifr_name, IFNAMSIZ, "%s", tap);
    if (ioctl(s, SIOCGIFHWADDR, &q) < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
        fprintf(stderr, "taprate: %s: %s\n", tap, strerror(errno));
        return 1;
    }
    close(s);
    memcpy(host_mac, q.ifr_hwaddr.sa_data, 6);
    ifindex = ifr.ifr_ifindex;
    usleep(200000); /* carrier up now that a reader is attached */

    unsigned long long drop0 = stat_of("tx_dropped"), rxp0 = stat_of("rx_packets");
    static uint8_t buf[65536];
    unsigned long frames = 0;
    pthread_t th;
    double t0 = now(), end = t0 + secs, t1;
    if (rx) {
        pthread_create(&th, NULL, host_sender, NULL);
        /* Blocking read, one frame per call; SIGALRM (no SA_RESTART) ends a read that waits
         * for a sender that stopped. */
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)secs + 3);
        for (unsigned long it = 1;; it++) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n == FRAME)
                atomic_store_explicit(&read_frames, ++frames, memory_order_relaxed);
            else if (n < 0 && errno == EINTR)
                break;
            if ((it & 255) == 0 && now() >= end)
                break;
        }
        t1 = now();
        atomic_store(&stop, 1);
        pthread_join(th, NULL);
        printf(
            "dir=rx frames=%lu secs=%.2f fps=%.0f gbit_s=%.2f host_sent=%lu tap_tx_dropped=%llu\n",
            frames, t1 - t0, frames / (t1 - t0), frames / (t1 - t0) * FRAME * 8 / 1e9,
            atomic_load(&sent_frames), stat_of("tx_dropped") - drop0);
    } else {
        frame(buf, host_mac, stack_mac);
        for (unsigned long it = 1;; it++) {
            if (write(fd, buf, FRAME) == FRAME)
                frames++;
            if ((it & 255) == 0 && now() >= end)
                break;
        }
        t1 = now();
        printf("dir=tx frames=%lu secs=%.2f fps=%.0f gbit_s=%.2f host_rx_packets=%llu\n", frames,
               t1 - t0, frames / (t1 - t0), frames / (t1 - t0) * FRAME * 8 / 1e9,
               stat_of("rx_packets") - rxp0);
    }
    close(fd);
    return 0;
}
