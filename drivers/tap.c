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
#include <linux/io_uring.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tapstack/driver.h"

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

/* Held frames (ts_driver_hold) go out as one io_uring submission: one system call for a burst of
 * writes instead of one each. A write to a tap is one frame, so each frame is still its own write
 * operation; only the entries into the kernel are shared (on this VM kind a system call's entry
 * and exit cost as much as the host's whole receive of the frame). Frames are copied into an
 * arena that lives until the batch has completed; a frame larger than TXQ_DIRECT (a GSO
 * super-segment, already one write per 64 KiB) hands the held ones over and goes out by itself,
 * rather than costing another copy. */
#define TXQ_ENTRIES 64
#define TXQ_ARENA   (TXQ_ENTRIES * 1536)
#define TXQ_DIRECT  1536

struct txq {
    int ring; /* the io_uring's fd, -1: none (no io_uring here: every frame is written at once) */
    unsigned held, n, used; /* hold depth; frames queued; arena bytes used */
    uint8_t *sq, *cq;
    size_t sq_len, cq_len;
    struct io_uring_sqe *sqes;
    struct io_uring_params p;
    uint64_t refused; /* frames the tap refused at a flush (lost, as a dropped frame) */
    uint8_t arena[TXQ_ARENA];
};

struct tap {
    struct ts_driver drv;
    int fd;
    bool vnet;         /* frames carry a virtio-net header */
    unsigned offloads; /* TS_OFFLOAD_* granted by TUNSETOFFLOAD */
    char ifname[IFNAMSIZ];
    struct txq q;
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

/* ---- the batch of held frames (struct txq) ---- */

static unsigned *sq_field(struct txq *q, uint32_t off)
{
    return (unsigned *)(void *)(q->sq + off);
}

static unsigned *cq_field(struct txq *q, uint32_t off)
{
    return (unsigned *)(void *)(q->cq + off);
}

static void txq_close(struct txq *q)
{
    if (q->sqes && q->sqes != MAP_FAILED)
        munmap(q->sqes, q->p.sq_entries * sizeof(struct io_uring_sqe));
    if (q->cq && q->cq != MAP_FAILED)
        munmap(q->cq, q->cq_len);
    if (q->sq && q->sq != MAP_FAILED)
        munmap(q->sq, q->sq_len);
    if (q->ring >= 0)
        close(q->ring);
    q->sqes = NULL;
    q->sq = q->cq = NULL;
    q->ring = -1;
    q->n = q->used = 0;
}

/* Set up the io_uring; without one (an old kernel, io_uring_disabled, a seccomp filter, or
 * TAPSTACK_TAP_BATCH=0) q->ring stays -1 and every frame is written as it comes. */
static void txq_open(struct txq *q)
{
    q->ring = -1;
    const char *env = getenv("TAPSTACK_TAP_BATCH");
    if (env && !strcmp(env, "0"))
        return;
    struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL};
    int fd = (int)syscall(__NR_io_uring_setup, TXQ_ENTRIES, &p);
    if (fd < 0 && errno == EINVAL) { /* before Linux 5.18: no SUBMIT_ALL */
        p = (struct io_uring_params){0};
        fd = (int)syscall(__NR_io_uring_setup, TXQ_ENTRIES, &p);
    }
    if (fd < 0)
        return;
    q->ring = fd;
    q->p = p;
    q->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    q->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int prot = PROT_READ | PROT_WRITE, fl = MAP_SHARED | MAP_POPULATE;
    q->sq = mmap(NULL, q->sq_len, prot, fl, fd, IORING_OFF_SQ_RING);
    q->cq = mmap(NULL, q->cq_len, prot, fl, fd, IORING_OFF_CQ_RING);
    q->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), prot, fl, fd, IORING_OFF_SQES);
    if (q->sq == MAP_FAILED || q->cq == MAP_FAILED || q->sqes == MAP_FAILED)
        txq_close(q);
}

/* Queue one write of [a, alen) + [b, blen) (a virtio-net header and its frame) copied into the
 * arena; the caller made sure there is room. */
static void txq_put(struct txq *q, int fd, const void *a, size_t alen, const void *b, size_t blen)
{
    uint8_t *at = q->arena + q->used;
    memcpy(at, a, alen);
    memcpy(at + alen, b, blen);
    unsigned mask = *sq_field(q, q->p.sq_off.ring_mask);
    unsigned idx = (*sq_field(q, q->p.sq_off.tail) + q->n) & mask;
    struct io_uring_sqe *e = &q->sqes[idx];
    memset(e, 0, sizeof *e);
    e->opcode = IORING_OP_WRITE;
    e->fd = fd;
    e->addr = (uint64_t)(uintptr_t)at;
    e->len = (uint32_t)(alen + blen);
    e->off = (uint64_t)-1; /* a character device: no offset */
    sq_field(q, q->p.sq_off.array)[idx] = idx;
    q->n++;
    q->used += (unsigned)((alen + blen + 63) & ~(size_t)63);
}

/* Reap completions; returns how many there were. */
static unsigned txq_reap(struct txq *q)
{
    unsigned *head = cq_field(q, q->p.cq_off.head), mask = *cq_field(q, q->p.cq_off.ring_mask);
    unsigned h = *head, tail = __atomic_load_n(cq_field(q, q->p.cq_off.tail), __ATOMIC_ACQUIRE);
    const struct io_uring_cqe *cqes = (const void *)(q->cq + q->p.cq_off.cqes);
    unsigned n = 0;
    for (; h != tail; h++, n++)
        if (cqes[h & mask].res < 0)
            q->refused++;
    __atomic_store_n(head, h, __ATOMIC_RELEASE);
    return n;
}

/* Hand every queued frame to the tap in one system call (the tap takes a write at once, so they
 * complete within it), and wait until all are done, so that the arena may be used again. */
static void txq_flush(struct txq *q)
{
    if (q->n == 0)
        return;
    unsigned *tail = sq_field(q, q->p.sq_off.tail), *khead = sq_field(q, q->p.sq_off.head);
    unsigned end = *tail + q->n, want = q->n, done = 0;
    __atomic_store_n(tail, end, __ATOMIC_RELEASE);
    for (;;) {
        done += txq_reap(q);
        if (done >= want)
            break;
        unsigned pend = end - __atomic_load_n(khead, __ATOMIC_ACQUIRE);
        long r = syscall(__NR_io_uring_enter, q->ring, pend, want - done, IORING_ENTER_GETEVENTS,
                         NULL, 0);
        if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
            q->refused += want - done; /* the ring is broken: write frames one by one from now */
            txq_close(q);
            return;
        }
    }
    q->n = q->used = 0;
}

static void tap_hold(struct ts_driver *d, bool on)
{
    struct txq *q = &((struct tap *)d->priv)->q;
    if (on)
        q->held++;
    else if (q->held > 0 && --q->held == 0)
        txq_flush(q);
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
    size_t hl = t->vnet ? sizeof h : 0;
    struct txq *q = &t->q;
    if (q->held && q->ring >= 0 && hl + len <= TXQ_DIRECT) {
        if (q->n == TXQ_ENTRIES || q->used + TXQ_DIRECT > TXQ_ARENA)
            txq_flush(q);
        if (q->ring >= 0) {
            txq_put(q, t->fd, &h, hl, frame, len);
            return 0;
        }
    }
    txq_flush(q); /* what was queued goes first */
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
    for (;;) {
        ssize_t n = t->vnet ? readv(t->fd, iov, 2) : read(t->fd, buf, cap);
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
    txq_flush(&t->q);
    txq_close(&t->q);
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
    txq_open(&t->q);
    t->drv.ops = &tap_ops;
    t->drv.name = "tap";
    t->drv.priv = t;
    return &t->drv;
}
