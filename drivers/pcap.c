/* pcap writer: a driver wrapper that appends every frame sent or received to a classic pcap file
 * (magic 0xa1b2c3d4 in host byte order, version 2.4, snaplen 262144 as tcpdump's, link type 1 =
 * Ethernet).
 *
 * Timestamps are the stack's clock: the `now` passed to send/recv, in microseconds. Apps pass
 * CLOCK_MONOTONIC (so tcpdump prints times counted from boot, dated 1970), tests pass their
 * virtual clock. Relative times between frames are what matter when reading a capture.
 *
 * Each record is written with one writev() and no user-space buffering, so `tcpdump -r` can read
 * the file while the app runs, after SIGINT, and even after a crash. The wrapper sits where the
 * wire is: apps build tap -> pcap -> fault, so it records what really crossed the tap.
 *
 * With offloads, what crossed may be a super-segment: it is recorded as the one frame it was (IPv4
 * total length up to 65535, one TCP header), and its TCP checksum field holds the pseudo-header
 * sum that the kernel completes, so `tcpdump -vv` calls it incorrect; that is what the tap saw.
 * The virtio-net header itself is not recorded (link type Ethernet has no room for it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tapstack/driver.h"

#define PCAP_MAGIC             0xa1b2c3d4u
#define PCAP_SNAPLEN           262144u
#define PCAP_LINKTYPE_ETHERNET 1u

struct pcap_file_hdr {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
    uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct pcap {
    struct ts_driver drv; /* drv.inner: the driver whose frames are recorded */
    int fd;               /* -1 once writing failed: the capture stops, the traffic does not */
    char *path;
};

/* Write all of the iovecs, looping over short writes. Returns 0 or -errno. */
static int write_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static void pcap_record(struct pcap *p, const uint8_t *frame, size_t len, ts_time_t now)
{
    if (p->fd < 0)
        return;
    size_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len;
    struct pcap_rec_hdr h = {
        .ts_sec = (uint32_t)(now / TS_SEC),
        .ts_usec = (uint32_t)(now % TS_SEC),
        .incl_len = (uint32_t)incl,
        .orig_len = (uint32_t)len,
    };
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)frame, incl}};
    int r = write_all(p->fd, iov, 2);
    if (r < 0) {
        /* A full disk must not take the network down: say so once and stop capturing. */
        fprintf(stderr, "tapstack: pcap %s: write failed: %s; capture stopped\n", p->path,
                strerror(-r));
        close(p->fd);
        p->fd = -1;
    }
}

static int pcap_send(struct ts_driver *d, const uint8_t *frame, size_t len,
                     const struct ts_frame_meta *meta, ts_time_t now)
{
    struct pcap *p = d->priv;
    int r = ts_driver_send_meta(d->inner, frame, len, meta, now);
    if (r == 0)
        pcap_record(p, frame, len, now);
    return r;
}

static int pcap_recv(struct ts_driver *d, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                     ts_time_t now)
{
    struct pcap *p = d->priv;
    int n = ts_driver_recv_meta(d->inner, buf, cap, meta, now);
    if (n > 0)
        pcap_record(p, buf, (size_t)n, now);
    return n;
}

static void pcap_destroy(struct ts_driver *d)
{
    struct pcap *p = d->priv;
    if (p->fd >= 0)
        close(p->fd);
    free(p->path);
    free(p);
}

/* fd, next_deadline and offloads are the inner driver's (left NULL: passed through). */
static const struct ts_driver_ops pcap_ops = {
    .send = pcap_send,
    .recv = pcap_recv,
    .destroy = pcap_destroy,
};

struct ts_driver *ts_pcap_wrap(struct ts_driver *inner, const char *path, char *err, size_t errlen)
{
    if (!inner || !path || !*path) {
        snprintf(err, errlen, "pcap: no file name given");
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create pcap file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct pcap_file_hdr fh = {
        .magic = PCAP_MAGIC,
        .version_major = 2,
        .version_minor = 4,
        .thiszone = 0,
        .sigfigs = 0,
        .snaplen = PCAP_SNAPLEN,
        .linktype = PCAP_LINKTYPE_ETHERNET,
    };
    struct iovec iov = {&fh, sizeof(fh)};
    int r = write_all(fd, &iov, 1);
    struct pcap *p = r == 0 ? calloc(1, sizeof(*p)) : NULL;
    char *pathcopy = p ? strdup(path) : NULL;
    if (!pathcopy) {
        snprintf(err, errlen, "cannot write pcap file %s: %s", path, strerror(r < 0 ? -r : ENOMEM));
        free(p);
        close(fd);
        return NULL;
    }
    p->fd = fd;
    p->path = pathcopy;
    p->drv = (struct ts_driver){.ops = &pcap_ops, .name = "pcap", .priv = p, .inner = inner};
    return &p->drv;
}
