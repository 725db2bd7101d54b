/* TAP driver: Ethernet frames through a Linux tap interface (/dev/net/tun, IFF_TAP|IFF_NO_PI).
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
#include <unistd.h>

#include "tapstack/driver.h"

struct tap {
    struct ts_driver drv;
    int fd;
    char ifname[IFNAMSIZ];
};

static int tap_send(struct ts_driver *d, const uint8_t *frame, size_t len, ts_time_t now)
{
    struct tap *t = d->priv;
    (void)now;
    for (;;) {
        ssize_t n = write(t->fd, frame, len);
        if (n >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        /* EAGAIN: the tap queue is full (the host is not reading); EIO: the link is down. The
         * stack counts the refusal and the transport's retransmission copes. */
        return -errno;
    }
}

static int tap_recv(struct ts_driver *d, uint8_t *buf, size_t cap, ts_time_t now)
{
    struct tap *t = d->priv;
    (void)now;
    for (;;) {
        ssize_t n = read(t->fd, buf, cap);
        if (n >= 0)
            return (int)n;
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

static void tap_destroy(struct ts_driver *d)
{
    struct tap *t = d->priv;
    close(t->fd);
    free(t);
}

static const struct ts_driver_ops tap_ops = {
    .send = tap_send,
    .recv = tap_recv,
    .fd = tap_fd,
    .next_deadline = NULL,
    .destroy = tap_destroy,
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

struct ts_driver *ts_tap_open(const char *ifname, char *err, size_t errlen)
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
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        if (e == EPERM || e == EACCES)
            snprintf(err, errlen,
                     "cannot attach to %s: permission denied: run as root or create a user-owned "
                     "tap: sudo tools/tap-setup --name %s --user $USER",
                     ifname, ifname);
        else if (e == EBUSY)
            snprintf(err, errlen,
                     "%s is in use by another process: stop it, or use another tap with --tap",
                     ifname);
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
        return NULL;
    }

    struct tap *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->fd = fd;
    snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
    t->drv.ops = &tap_ops;
    t->drv.name = "tap";
    t->drv.priv = t;
    return &t->drv;
}
