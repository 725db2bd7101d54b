/* TAP driver: Ethernet frames through a Linux tap interface (/dev/net/tun, IFF_TAP|IFF_NO_PI).
 *
 * Offloads (on unless asked not to): the tap is opened with IFF_VNET_HDR, so every frame read or
 * written is preceded by a virtio-net header, and TUNSETOFFLOAD tells the kernel what we take:
 * checksum offload (TUN_F_CSUM), TCP segmentation (TUN_F_TSO4) and, where the kernel has it, UDP
 * segmentation (TUN_F_USO4). The host then hands us TCP
 * super-segments of up to 64 KiB with the checksum left partial, and takes ours the same way,
 * cutting them at gso_size itself: one read or write per 64 KiB instead of per 1500 bytes. The
 * header is translated to and from struct ts_frame_meta as it is; the stack checks it against the
 * frame. Without offloads the tap is opened without the header and TUNSETOFFLOAD(0) switches them
 * off explicitly, since a persistent tap keeps whatever its last user set.
 *
 * Attaching to an existing persistent tap owned by the user works without root (that is how
 * `tools/tap-setup --user NAME` makes tap0 usable); as root a missing interface is created (it
 * then disappears when we close it). The host side (address, link up) is not our business:
 * tools/tap-setup does it. The fd is non-blocking; recv returns 0 when nothing is waiting. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tapstack/driver.h"
#include "uring.h"

/* The legacy virtio-net header (struct virtio_net_hdr), in the host's byte order (the tap's default
 * for a header of this size). */
struct vnet_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
_Static_assert(sizeof(struct vnet_hdr) == 10, "struct virtio_net_hdr is 10 bytes");
#define VNET_F_NEEDS_CSUM 1
#define VNET_F_DATA_VALID 2
#define VNET_GSO_NONE     0
#define VNET_GSO_TCPV4    1
#define VNET_GSO_UDP_L4   5
#define VNET_GSO_ECN      0x80

/* Batches through io_uring (uring.h): one system call for a burst of frames instead of one
 * each. A read or write on a tap is still one frame, so each frame is its own operation; only the
 * entries into the kernel are shared (on this VM kind a system call's entry and exit cost about
 * as much as the host's whole receive of the frame).
 *
 * Sending: frames sent while the link is held (ts_driver_hold) are copied into an arena and go
 * out together at the release, or when the arena is full; they complete within that call (the
 * tap takes a write at once), so the arena is free again after it. A frame larger than
 * TXQ_DIRECT (a GSO super-segment, already one write per 64 KiB) hands the held ones over and
 * goes out by itself, rather than costing another copy.
 *
 * Receiving, without the virtio-net header (with it frames come 64 KiB at a time already): when
 * the stack asks for a frame and none is left from the last batch, up to rx_want reads are run
 * at once, each into its own slot; the tap answers those beyond its queue with EAGAIN. rx_want
 * follows what the last batch found (twice as many, up to RXQ_SLOTS; one plain read() after a
 * batch found none), so a quiet link costs what it did and a busy one few system calls. The frames
 * are handed out in the order of the reads, which is the tap's order. */
#define TXQ_ENTRIES 64
#define TXQ_DIRECT  1536
#define TXQ_ARENA   (TXQ_ENTRIES * TXQ_DIRECT)
#define RXQ_SLOTS   32
#define RXQ_SLOT    TS_FRAME_MAX /* any frame the tap may hold (its MTU is the host's setting) */

struct tap {
    struct ts_driver drv;
    int fd;
    bool vnet;         /* frames carry a virtio-net header */
    unsigned offloads; /* TS_OFFLOAD_* granted by TUNSETOFFLOAD */
    char ifname[IFNAMSIZ];
    struct uring tx, rx;
    unsigned held, tx_used; /* hold depth; arena bytes in use */
    uint64_t tx_refused;    /* frames the tap refused in a batch (lost, as a dropped frame) */
    bool tx_broken;         /* the ring cannot write to the tap: stop using it */
    size_t tx_len0;         /* the length of the first held frame */
    unsigned rx_want, rx_next, rx_n; /* reads per batch; next slot to hand out; slots read */
    bool rx_more;                    /* the batch's last read found a frame */
    int rx_res[RXQ_SLOTS];           /* each slot's read(): its length or -errno */
    uint8_t *rx_slots;               /* RXQ_SLOTS x RXQ_SLOT (touched only as far as frames go) */
    uint8_t tx_arena[TXQ_ARENA];
};

static struct vnet_hdr vnet_from_meta(const struct ts_frame_meta *m)
{
    struct vnet_hdr h = {0};
    if (!m)
        return h;
    if (m->csum == TS_CSUM_PARTIAL) {
        h.flags = VNET_F_NEEDS_CSUM;
        h.csum_start = m->csum_start;
        h.csum_offset = m->csum_offset;
    }
    if (m->gso == TS_GSO_TCPV4) {
        h.gso_type = VNET_GSO_TCPV4;
        h.gso_size = m->gso_size;
        h.hdr_len = m->hdr_len;
    }
    return h;
}

/* The header as the kernel wrote it; the stack decides whether to believe it. */
static void vnet_to_meta(const struct vnet_hdr *h, struct ts_frame_meta *m)
{
    *m = (struct ts_frame_meta){0};
    if (h->flags & VNET_F_NEEDS_CSUM) {
        m->csum = TS_CSUM_PARTIAL;
        m->csum_start = h->csum_start;
        m->csum_offset = h->csum_offset;
    } else if (h->flags & VNET_F_DATA_VALID) {
        m->csum = TS_CSUM_VALID;
    }
    uint8_t type = (uint8_t)(h->gso_type & ~VNET_GSO_ECN);
    if (type == VNET_GSO_TCPV4)
        m->gso = TS_GSO_TCPV4;
    else if (type == VNET_GSO_UDP_L4)
        m->gso = TS_GSO_UDPV4;
    else if (type != VNET_GSO_NONE)
        m->gso = TS_GSO_OTHER;
    if (m->gso != TS_GSO_NONE) {
        m->gso_size = h->gso_size;
        m->hdr_len = h->hdr_len;
    }
}

/* ---- batches ---- */

static void tx_done(void *arg, uint64_t data, int32_t res)
{
    struct tap *t = arg;
    (void)data;
    if (res < 0)
        t->tx_refused++;
    if (res == -EINVAL || res == -EOPNOTSUPP)
        t->tx_broken = true; /* a kernel without IORING_OP_WRITE (before 5.6) */
}

/* Hand every held frame to the tap in one system call (a single one with write(): cheaper than
 * the ring for one). */
static void tx_flush(struct tap *t)
{
    if (t->tx.queued == 0)
        return;
    if (t->tx.queued == 1) {
        uring_unqueue(&t->tx);
        t->tx_used = 0;
        if (write(t->fd, t->tx_arena, t->tx_len0) < 0)
            t->tx_refused++;
        return;
    }
    uring_run(&t->tx, tx_done, t);
    t->tx_used = 0;
    if (t->tx_broken)
        uring_close(&t->tx); /* write() from now on */
}

/* Keep the frame [a, alen) + [b, blen) (a virtio-net header and the frame) for the next flush;
 * false when it must be written at once (no ring, or too large). */
static bool tx_keep(struct tap *t, const void *a, size_t alen, const void *b, size_t blen)
{
    if (!t->held || t->tx.fd < 0 || alen + blen > TXQ_DIRECT)
        return false;
    if (t->tx.queued == t->tx.entries || t->tx_used + TXQ_DIRECT > TXQ_ARENA)
        tx_flush(t);
    struct io_uring_sqe *e = uring_sqe(&t->tx);
    if (!e)
        return false;
    if (t->tx_used == 0)
        t->tx_len0 = alen + blen;
    uint8_t *at = t->tx_arena + t->tx_used;
    memcpy(at, a, alen);
    memcpy(at + alen, b, blen);
    e->opcode = IORING_OP_WRITE;
    e->fd = t->fd;
    e->addr = (uint64_t)(uintptr_t)at;
    e->len = (uint32_t)(alen + blen);
    e->off = (uint64_t)-1; /* a character device: no offset */
    t->tx_used += TXQ_DIRECT;
    return true;
}

static void tap_hold(struct ts_driver *d, bool on)
{
    struct tap *t = d->priv;
    if (on)
        t->held++;
    else if (t->held > 0 && --t->held == 0)
        tx_flush(t);
}

static void rx_done(void *arg, uint64_t data, int32_t res)
{
    struct tap *t = arg;
    if (data < RXQ_SLOTS)
        t->rx_res[data] = res;
}

/* The next batch reads twice as many frames as this one found, up to RXQ_SLOTS; 1 (no frame
 * found) means read() alone, without the ring, as on a quiet link one frame comes per wake-up. */
static void rx_adapt(struct tap *t, unsigned got)
{
    unsigned want = 2 * got;
    t->rx_want = want < 1 ? 1 : want > RXQ_SLOTS ? RXQ_SLOTS : want;
}

/* Read a batch into the slots: the number of frames read, or -1 without a ring. */
static int rx_fill(struct tap *t)
{
    t->rx_next = t->rx_n = 0;
    if (t->rx.fd < 0 || !t->rx_slots)
        return -1;
    unsigned n = t->rx_want;
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *e = uring_sqe(&t->rx);
        if (!e)
            return -1;
        e->opcode = IORING_OP_READ;
        e->fd = t->fd;
        e->addr = (uint64_t)(uintptr_t)(t->rx_slots + (size_t)i * RXQ_SLOT);
        e->len = RXQ_SLOT;
        e->off = (uint64_t)-1;
        e->rw_flags = RWF_NOWAIT; /* EAGAIN at an empty queue, rather than waiting for a frame */
        e->user_data = i;
        t->rx_res[i] = -EAGAIN;
    }
    if (uring_run(&t->rx, rx_done, t) < 0)
        return -1;
    t->rx_n = n;
    unsigned got = 0;
    for (unsigned i = 0; i < n; i++)
        got += t->rx_res[i] > 0;
    /* The last read found a frame: the tap may hold more behind it. */
    t->rx_more = t->rx_res[n - 1] > 0;
    rx_adapt(t, got);
    return (int)got;
}

/* The next frame into buf: its length, 0 when none is waiting, -errno; -ENOSYS when there is no
 * ring to read with (then read() does). A batch that ended with the tap empty reports 0 once
 * it is used up; the next call reads a new one. */
static int rx_take(struct tap *t, uint8_t *buf, size_t cap)
{
    for (;;) {
        while (t->rx_next < t->rx_n) {
            unsigned i = t->rx_next++;
            int r = t->rx_res[i];
            if (r == -EAGAIN || r == -EINTR || r == 0)
                continue;
            if (r == -EOPNOTSUPP || r == -EINVAL) {
                /* A kernel whose tap cannot read with RWF_NOWAIT: read() from now on. */
                uring_close(&t->rx);
                t->rx_n = 0;
                return -ENOSYS;
            }
            if (r < 0)
                return r;
            if ((size_t)r > cap)
                return -EMSGSIZE;
            memcpy(buf, t->rx_slots + (size_t)i * RXQ_SLOT, (size_t)r);
            return r;
        }
        if (t->rx_n > 0 && !t->rx_more) {
            t->rx_n = 0;
            return 0;
        }
        int got = rx_fill(t);
        if (got < 0)
            return -ENOSYS;
        if (got == 0) {
            t->rx_n = 0;
            return 0;
        }
    }
}

static int tap_send(struct ts_driver *d, const uint8_t *frame, size_t len,
                    const struct ts_frame_meta *meta, ts_time_t now)
{
    struct tap *t = d->priv;
    (void)now;
    struct vnet_hdr h = vnet_from_meta(meta);
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)frame, len}};
    if (!t->vnet && meta && (meta->gso != TS_GSO_NONE || meta->csum == TS_CSUM_PARTIAL))
        return -EINVAL; /* the stack asked for an offload the tap was not given */
    if (tx_keep(t, &h, t->vnet ? sizeof h : 0, frame, len))
        return 0;
    tx_flush(t); /* what was held goes first */
    for (;;) {
        ssize_t n = t->vnet ? writev(t->fd, iov, 2) : write(t->fd, frame, len);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        /* EAGAIN: the tap queue is full (the host is not reading); EIO: the link is down. The
         * stack counts the refusal and the transport's retransmission copes. */
        return -errno;
    }
}

static int tap_recv(struct ts_driver *d, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                    ts_time_t now)
{
    struct tap *t = d->priv;
    (void)now;
    struct vnet_hdr h;
    struct iovec iov[2] = {{&h, sizeof h}, {buf, cap}};
    bool batch = !t->vnet && t->rx.fd >= 0;
    if (batch && (t->rx_want > 1 || t->rx_next < t->rx_n)) {
        int r = rx_take(t, buf, cap);
        if (r != -ENOSYS)
            return r;
    }
    for (;;) {
        ssize_t n = t->vnet ? readv(t->fd, iov, 2) : read(t->fd, buf, cap);
        if (batch)
            rx_adapt(t, n > 0);
        if (n >= 0 && !t->vnet)
            return (int)n;
        if (n >= (ssize_t)sizeof h) {
            n -= (ssize_t)sizeof h;
            vnet_to_meta(&h, meta);
            return (int)n;
        }
        if (n >= 0)
            return -EIO; /* shorter than the header the tap promised: never from a sane kernel */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -errno;
    }
}

/* Set up the batches; without io_uring (an old kernel, io_uring_disabled, a seccomp filter) or
 * with TAPSTACK_TAP_BATCH=0, every frame is read and written with its own system call. */
static void tap_batch_open(struct tap *t)
{
    t->tx.fd = t->rx.fd = -1;
    t->rx_want = 1;
    const char *env = getenv("TAPSTACK_TAP_BATCH");
    if (env && !strcmp(env, "0"))
        return;
    uring_open(&t->tx, TXQ_ENTRIES);
    if (!t->vnet && uring_open(&t->rx, RXQ_SLOTS) == 0) {
        t->rx_slots = malloc((size_t)RXQ_SLOTS * RXQ_SLOT);
        if (!t->rx_slots)
            uring_close(&t->rx);
    }
}

static int tap_fd(struct ts_driver *d)
{
    return ((struct tap *)d->priv)->fd;
}

static unsigned tap_offloads(struct ts_driver *d)
{
    return ((struct tap *)d->priv)->offloads;
}

static void tap_destroy(struct ts_driver *d)
{
    struct tap *t = d->priv;
    /* A persistent tap keeps its offloads after we go: leave it plain, as a program that knows
     * nothing of virtio-net headers expects (it would get 64 KiB frames with partial checksums). */
    tx_flush(t);
    uring_close(&t->tx);
    uring_close(&t->rx);
    free(t->rx_slots);
    if (t->offloads)
        (void)ioctl(t->fd, TUNSETOFFLOAD, 0UL);
    close(t->fd);
    free(t);
}

static const struct ts_driver_ops tap_ops = {
    .send = tap_send,
    .recv = tap_recv,
    .fd = tap_fd,
    .next_deadline = NULL,
    .offloads = tap_offloads,
    .destroy = tap_destroy,
    .hold = tap_hold,
};

/* Is `name` a TUN (layer 3) device? /sys tells us without any privilege: tun_flags holds the
 * IFF_* flags the interface was created with. Returns 1, 0, or -1 when unknown. */
static int iface_is_tun(const char *name)
{
    char path[96], line[32];
    snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int r = -1;
    if (fgets(line, sizeof(line), f)) {
        unsigned long flags = strtoul(line, NULL, 0);
        r = (flags & IFF_TUN) ? 1 : 0;
    }
    fclose(f);
    return r;
}

/* Can every user open /dev/net/tun (mode 0666, as distributions ship it)? */
static int tun_world_usable(void)
{
    struct stat st;
    return stat("/dev/net/tun", &st) == 0 && (st.st_mode & 0006) == 0006;
}

/* The one-line message for a TUNSETIFF that failed with errno e. */
static void attach_error(int e, const char *ifname, char *err, size_t errlen)
{
    if (e == EPERM || e == EACCES)
        snprintf(err, errlen,
                 "cannot attach to %s: permission denied: run as root or create a user-owned "
                 "tap: sudo tools/tap-setup --name %s --user $USER",
                 ifname, ifname);
    else if (e == EBUSY)
        snprintf(err, errlen,
                 "%s is in use by another process: stop it, or use another tap with --tap", ifname);
    else if (e == EINVAL && iface_is_tun(ifname) == 1)
        snprintf(err, errlen,
                 "%s exists but is a TUN device, not TAP: delete it with "
                 "tools/tap-teardown --name %s",
                 ifname, ifname);
    else if (e == EINVAL && if_nametoindex(ifname) != 0 && iface_is_tun(ifname) == -1)
        snprintf(err, errlen, "%s exists and is not a tap device: pick another name with --tap",
                 ifname);
    else if (e == EINVAL)
        snprintf(err, errlen,
                 "cannot attach to %s: it exists in another mode (multi-queue?): delete it "
                 "with tools/tap-teardown --name %s",
                 ifname, ifname);
    else
        snprintf(err, errlen, "cannot attach to %s: %s", ifname, strerror(e));
}

/* TUN_F_* of <linux/if_tun.h>; USO arrived in Linux 6.2, after some headers we build with. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Ask for the offloads, or switch them off. Returns the TS_OFFLOAD_* granted, or -errno. USO4
 * (Linux 6.2) lets a host app's UDP_SEGMENT datagrams through whole, which the stack splits; the
 * kernel takes it only together with USO6 (IPv6 frames are dropped by the stack anyway), and one
 * without USO refuses both, and then we ask without them. */
static int set_offloads(int fd, bool on)
{
    if (!on)
        return ioctl(fd, TUNSETOFFLOAD, 0UL) < 0 ? -errno : 0;
    const unsigned long tcp = TUN_F_CSUM | TUN_F_TSO4;
    if (ioctl(fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) == 0)
        return (int)(TS_OFFLOAD_CSUM | TS_OFFLOAD_TSO4 | TS_OFFLOAD_USO4);
    if (ioctl(fd, TUNSETOFFLOAD, tcp) < 0)
        return -errno;
    return (int)(TS_OFFLOAD_CSUM | TS_OFFLOAD_TSO4);
}

struct ts_driver *ts_tap_open(const char *ifname, char *err, size_t errlen)
{
    return ts_tap_open_ex(ifname, true, err, errlen);
}

struct ts_driver *ts_tap_open_ex(const char *ifname, bool offload, char *err, size_t errlen)
{
    if (!ifname || !*ifname)
        ifname = "tap0";
    if (strlen(ifname) >= IFNAMSIZ) {
        snprintf(err, errlen, "tap name '%s' is too long: at most %d characters", ifname,
                 IFNAMSIZ - 1);
        return NULL;
    }

    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            snprintf(err, errlen,
                     "cannot open /dev/net/tun (%s): load the tun module with 'sudo modprobe tun' "
                     "(in a container, start it with --device /dev/net/tun)",
                     strerror(e));
        else if ((e == EACCES || e == EPERM) && !tun_world_usable())
            /* Distributions ship it 0666 (a tap's owner check is what protects it); some
             * containers do not. */
            snprintf(err, errlen,
                     "cannot open /dev/net/tun: permission denied: run as root, or let users "
                     "open it (sudo chmod 0666 /dev/net/tun, its usual mode) and create a "
                     "user-owned tap: sudo tools/tap-setup --user $USER");
        else if (e == EACCES || e == EPERM)
            snprintf(err, errlen,
                     "cannot open /dev/net/tun: permission denied: run as root or create a "
                     "user-owned tap: sudo tools/tap-setup --user $USER");
        else
            snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(e));
        return NULL;
    }

    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        attach_error(e, ifname, err, errlen);
        return NULL;
    }

    /* The legacy header (10 bytes) is what we read and write; set it in case a previous user of a
     * persistent tap chose another size. */
    int hdrsz = (int)sizeof(struct vnet_hdr);
    if (offload && ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
        snprintf(err, errlen, "cannot set the virtio-net header size on %s: %s (try --no-offload)",
                 ifname, strerror(errno));
        close(fd);
        return NULL;
    }
    int granted = set_offloads(fd, offload);
    if (granted < 0 && offload)
        granted = 0; /* a kernel without them: frames keep an all-zero header, nothing else */
    if (granted < 0) {
        snprintf(err, errlen, "cannot switch offloads off on %s: %s", ifname, strerror(-granted));
        close(fd);
        return NULL;
    }
    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->fd = fd;
    t->vnet = offload;
    t->offloads = (unsigned)granted;
    snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
    tap_batch_open(t);
    t->drv.ops = &tap_ops;
    t->drv.name = "tap";
    t->drv.priv = t;
    return &t->drv;
}
