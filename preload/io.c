/* Descriptor calls that are not socket calls, on tapstack sockets: read/write and their vector
 * and fortified forms, sendfile and splice (copied through a buffer), and close, dup, fcntl,
 * ioctl, close_range, which keep the map right. A descriptor that is not ours goes to libc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload.h"
#include "tapstack/socket.h"

#define COPY_CHUNK (64 * 1024)

/* ---------------------------------------------------------------- read and write */

ssize_t read(int fd, void *buf, size_t n)
{
    PL_ENTER(fd, ps, REAL(read)(fd, buf, n));
    struct iovec v = {.iov_base = buf, .iov_len = n};
    return pl_leave(ps, pl_recv(ps, fd, &v, 1, 0, NULL, NULL, NULL));
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (!pl_mapped(fd))
        return REAL(read_chk)(fd, buf, n, buflen);
    if (n > buflen)
        abort(); /* glibc's __chk_fail: the program overflows its own buffer */
    return read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    PL_ENTER(fd, ps, REAL(write)(fd, buf, n));
    struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
    return pl_leave(ps, pl_send(ps, fd, &v, 1, 0, NULL, 0));
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    PL_ENTER(fd, ps, REAL(readv)(fd, iov, cnt));
    if (cnt < 0 || cnt > IOV_MAX)
        return pl_leave(ps, pl_fail(EINVAL));
    if (cnt == 0)
        return pl_leave(ps, 0);
    return pl_leave(ps, pl_recv(ps, fd, iov, cnt, 0, NULL, NULL, NULL));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    PL_ENTER(fd, ps, REAL(writev)(fd, iov, cnt));
    if (cnt < 0 || cnt > IOV_MAX)
        return pl_leave(ps, pl_fail(EINVAL));
    if (cnt == 0)
        return pl_leave(ps, 0);
    return pl_leave(ps, pl_send(ps, fd, iov, cnt, 0, NULL, 0));
}

/* ---------------------------------------------------------------- sendfile, splice */

/* Send all n bytes of buf, waiting even on a non-blocking socket (what was taken from a pipe
 * cannot be put back). Returns what went, or -1 when nothing did. */
static ssize_t send_all(struct psock *ps, int kfd, const char *buf, size_t n, int flags)
{
    size_t done = 0;
    while (done < n) {
        struct iovec v = {.iov_base = (void *)(buf + done), .iov_len = n - done};
        ssize_t r = pl_send(ps, kfd, &v, 1, flags | MSG_DONTWAIT, NULL, 0);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno != EAGAIN)
            break;
        if (pl_wait(ps, kfd, POLLOUT, 0) < 0)
            break;
    }
    return done ? (ssize_t)done : -1;
}

static ssize_t sendfile_to(struct psock *ps, int out, int in, off_t *off, size_t count)
{
    off_t pos = off ? *off : lseek(in, 0, SEEK_CUR);
    bool seekable = off || pos >= 0;
    char *buf = malloc(COPY_CHUNK);
    if (!buf)
        return pl_fail(ENOMEM);
    size_t done = 0;
    int err = 0;
    while (done < count) {
        size_t want = count - done < COPY_CHUNK ? count - done : COPY_CHUNK;
        ssize_t n = seekable ? pread(in, buf, want, pos + (off_t)done) : REAL(read)(in, buf, want);
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break;
        }
        ssize_t s;
        if (seekable) {
            /* What the socket does not take is read again next time: nothing is lost. */
            struct iovec v = {.iov_base = buf, .iov_len = (size_t)n};
            s = pl_send(ps, out, &v, 1, 0, NULL, 0);
        } else {
            s = send_all(ps, out, buf, (size_t)n, 0);
        }
        if (s < 0) {
            err = errno;
            break;
        }
        done += (size_t)s;
        if (s < n)
            break; /* the socket is full (non-blocking) */
    }
    free(buf);
    if (off)
        *off = pos + (off_t)done;
    else if (seekable)
        lseek(in, pos + (off_t)done, SEEK_SET);
    if (done == 0 && err)
        return pl_fail(err);
    return (ssize_t)done;
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
    if (!pl_mapped(out) && !pl_mapped(in))
        return REAL(sendfile)(out, in, off, count);
    if (pl_mapped(in))
        return pl_fail(EINVAL); /* in must be a file */
    PL_ENTER(out, ps, REAL(sendfile)(out, in, off, count));
    return pl_leave(ps, sendfile_to(ps, out, in, off, count));
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t count)
{
    if (!pl_mapped(out) && !pl_mapped(in))
        return REAL(sendfile64)(out, in, off, count);
    return sendfile(out, in, (off_t *)off, count);
}

/* splice from a pipe (or file) into a tapstack socket: no more than the socket has room for. */
static ssize_t splice_to(struct psock *ps, int out, int in, off64_t *off_in, size_t len,
                         bool nonblock)
{
    size_t want = len < COPY_CHUNK ? len : COPY_CHUNK;
    if (nonblock) {
        int sndbuf = 0, outq = 0;
        socklen_t sl = sizeof sndbuf;
        if (ts_getsockopt(ps->tsfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0 &&
            ts_ioctl(ps->tsfd, SIOCOUTQ, &outq) == 0) {
            if (sndbuf - outq <= 0)
                return pl_fail(EAGAIN);
            if ((size_t)(sndbuf - outq) < want)
                want = (size_t)(sndbuf - outq);
        }
    }
    char *buf = malloc(want ? want : 1);
    if (!buf)
        return pl_fail(ENOMEM);
    ssize_t n = off_in ? pread(in, buf, want, *off_in) : REAL(read)(in, buf, want);
    ssize_t r = n;
    if (n > 0) {
        r = send_all(ps, out, buf, (size_t)n, 0);
        if (off_in && r > 0)
            *off_in += r;
    }
    int e = errno;
    free(buf);
    errno = e;
    return r;
}

/* splice from a tapstack socket into a pipe: no more than the pipe has room for. */
static ssize_t splice_from(struct psock *ps, int in, int out, size_t len, bool nonblock)
{
    int cap = REAL(fcntl)(out, F_GETPIPE_SZ);
    int queued = 0;
    if (cap < 0 || REAL(ioctl)(out, FIONREAD, &queued) < 0)
        return pl_fail(EINVAL); /* out must be a pipe */
    size_t room = cap > queued ? (size_t)(cap - queued) : 0;
    if (room == 0)
        return pl_fail(EAGAIN);
    size_t want = len < room ? len : room;
    if (want > COPY_CHUNK)
        want = COPY_CHUNK;
    char *buf = malloc(want ? want : 1);
    if (!buf)
        return pl_fail(ENOMEM);
    struct iovec v = {.iov_base = buf, .iov_len = want};
    ssize_t r = pl_recv(ps, in, &v, 1, nonblock ? MSG_DONTWAIT : 0, NULL, NULL, NULL);
    for (ssize_t done = 0; r > 0 && done < r;) {
        ssize_t w = REAL(write)(out, buf + done, (size_t)(r - done));
        if (w <= 0)
            break;
        done += w;
    }
    int e = errno;
    free(buf);
    errno = e;
    return r;
}

ssize_t splice(int in, off64_t *off_in, int out, off64_t *off_out, size_t len, unsigned int flags)
{
    bool im = pl_mapped(in), om = pl_mapped(out);
    if (!im && !om)
        return REAL(splice)(in, off_in, out, off_out, len, flags);
    if ((im && om) || (im && off_in) || (om && off_out))
        return pl_fail(ESPIPE); /* a socket has no offset; one end must be a pipe */
    int s = im ? in : out;
    PL_ENTER(s, ps, REAL(splice)(in, off_in, out, off_out, len, flags));
    bool nonblock = (flags & SPLICE_F_NONBLOCK) || atomic_load(&ps->nonblock);
    if (om)
        return pl_leave(ps, splice_to(ps, out, in, off_in, len, nonblock));
    return pl_leave(ps, splice_from(ps, in, out, len, nonblock));
}

/* ---------------------------------------------------------------- close and dup */

int close(int fd)
{
    if (!pl_mapped(fd) || pl_in_vfork_child()) {
        /* The stack's own descriptors (the tap, its epoll...) are not the program's to close,
         * as if they were not open at all (a program closing every number it finds). */
        if (pl_runtime_fd(fd))
            return pl_fail(EBADF);
        return REAL(close)(fd);
    }
    /* The mirror is hung up first (pl_unmap): the kernel close below then releases its file. */
    pl_unmap(fd);
    return REAL(close)(fd);
}

static atomic_bool said_exec;

/* In a child that shares our memory before exec (vfork, posix_spawn): only say it. */
static void handed_to_exec(int fd)
{
    pl_say(&said_exec,
           "descriptor %d, a tapstack socket, is handed to a program about to be executed: it "
           "will not work there (the stack stays in this process)",
           fd);
}

static int dup_common(int old, int n)
{
    if (n < 0)
        return n;
    struct psock *ps = pl_get(old);
    if (ps) {
        pl_map(n, ps);
        pl_put(ps);
    }
    return n;
}

int dup(int fd)
{
    if (!pl_mapped(fd))
        return REAL(dup)(fd);
    if (pl_forked_child)
        return pl_child_refuse(fd, EBADF);
    if (pl_in_vfork_child()) {
        handed_to_exec(fd);
        return REAL(dup)(fd);
    }
    return dup_common(fd, REAL(dup)(fd));
}

static int dup2_common(int old, int new, int flags, bool three)
{
    bool om = pl_mapped(old), nm = pl_mapped(new);
    int (*real)(int, int) = REAL(dup2);
    if (!om && !nm)
        return three ? REAL(dup3)(old, new, flags) : real(old, new);
    if (pl_in_vfork_child()) {
        if (om)
            handed_to_exec(old);
        return three ? REAL(dup3)(old, new, flags) : real(old, new);
    }
    if (om && pl_forked_child)
        return pl_child_refuse(old, EBADF);
    if (old == new)
        return three ? REAL(dup3)(old, new, flags) : real(old, new);
    struct psock *ps = om ? pl_get(old) : NULL;
    int r = three ? REAL(dup3)(old, new, flags) : real(old, new);
    if (r >= 0) {
        if (nm)
            pl_unmap(new); /* dup2 closed what new named: a tapstack socket maybe */
        if (ps)
            pl_map(new, ps);
    }
    if (ps) {
        int e = errno;
        pl_put(ps);
        errno = e;
    }
    return r;
}

int dup2(int old, int new)
{
    return dup2_common(old, new, 0, false);
}

int dup3(int old, int new, int flags)
{
    return dup2_common(old, new, flags, true);
}

/* ---------------------------------------------------------------- fcntl, ioctl */

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    if (!pl_mapped(fd))
        return real(fd, cmd, arg);
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (pl_forked_child)
            return pl_child_refuse(fd, EBADF);
        if (pl_in_vfork_child())
            return real(fd, cmd, arg);
        return dup_common(fd, real(fd, cmd, arg));
    case F_SETFL: {
        int r = real(fd, cmd, arg);
        struct psock *ps = r == 0 ? pl_get(fd) : NULL;
        if (ps) {
            atomic_store(&ps->nonblock, ((int)(long)arg & O_NONBLOCK) != 0);
            pl_put(ps);
        }
        return r;
    }
    default: /* F_GETFL (the file's own flags), F_SETFD, F_SETOWN...: the kernel's */
        return real(fd, cmd, arg);
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    PL_ENTER(fd, ps, REAL(ioctl)(fd, req, arg));
    switch (req) {
    case FIONBIO: {
        int r = REAL(ioctl)(fd, req, arg); /* the file's O_NONBLOCK, as F_GETFL will show */
        if (r == 0 && arg)
            atomic_store(&ps->nonblock, *(int *)arg != 0);
        return (int)pl_leave(ps, r);
    }
    case FIONREAD:
    case SIOCOUTQ:
    case SIOCOUTQNSD:
    case SIOCATMARK:
        return (int)pl_leave(ps, ts_ioctl(ps->tsfd, req, arg));
    default: /* interface queries (SIOCGIF*) work on any socket: the kernel's */
        return (int)pl_leave(ps, REAL(ioctl)(fd, req, arg));
    }
}

/* ---------------------------------------------------------------- close_range */

int close_range(unsigned int first, unsigned int last, int flags)
{
    if (pl_in_vfork_child() || (flags & CLOSE_RANGE_CLOEXEC))
        return REAL(close_range)(first, last, flags);
    int top = pl_map_top();
    for (unsigned int fd = first; fd <= last && (int)fd < top; fd++)
        if (pl_mapped((int)fd))
            pl_unmap((int)fd);
    if (pl_forked_child || !pl_stack_running() || flags)
        return REAL(close_range)(first, last, flags);
    /* The stack runs here: its own descriptors stay, everything else in the range goes. */
    int fds[4096], n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return REAL(close_range)(first, last, flags);
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        if (fd >= first && fd <= last && fd != dirfd(d) && !pl_private_fd((int)fd))
            fds[n++] = (int)fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        REAL(close)(fds[i]);
    return 0;
}

void closefrom(int low)
{
    if (low < 0)
        low = 0;
    if (pl_in_vfork_child() || (pl_map_top() == 0 && !pl_stack_running())) {
        REAL(closefrom)(low);
        return;
    }
    close_range((unsigned int)low, ~0u, 0);
}
