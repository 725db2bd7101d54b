/* libc's own functions, behind ours. The library's tapstack code (the stack, the runtime, the
 * drivers) calls the same functions by other names: the Makefile renames its references
 * (objcopy --redefine-syms=preload/real.syms: close -> tsr_close, ...), and the tsr_ functions
 * here go straight to libc. So the runtime's own descriptors never pass through our map, and a
 * socket() call inside the tap driver is never taken for the program's. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include "preload.h"

struct pl_real pl_real;

#define LOOK(f)         pl_real.f = (__typeof__(pl_real.f))dlsym(RTLD_NEXT, #f)
#define LOOK_AS(f, sym) pl_real.f = (__typeof__(pl_real.f))dlsym(RTLD_NEXT, sym)

static void look_all(void)
{
    LOOK(socket);
    LOOK(close);
    LOOK(read);
    LOOK(write);
    LOOK(readv);
    LOOK(writev);
    LOOK(recv);
    LOOK(send);
    LOOK(recvfrom);
    LOOK(sendto);
    LOOK(recvmsg);
    LOOK(sendmsg);
    LOOK(recvmmsg);
    LOOK(sendmmsg);
    LOOK(bind);
    LOOK(listen);
    LOOK(accept);
    LOOK(accept4);
    LOOK(connect);
    LOOK(shutdown);
    LOOK(getsockname);
    LOOK(getpeername);
    LOOK(getsockopt);
    LOOK(setsockopt);
    LOOK(fcntl);
    LOOK(fcntl64);
    LOOK(ioctl);
    LOOK(dup);
    LOOK(dup2);
    LOOK(dup3);
    LOOK(sendfile);
    LOOK(sendfile64);
    LOOK(splice);
    LOOK(close_range);
    LOOK(closefrom);
    LOOK(syscall);
    LOOK(socketpair);
    LOOK_AS(read_chk, "__read_chk");
    LOOK_AS(recv_chk, "__recv_chk");
    LOOK_AS(recvfrom_chk, "__recvfrom_chk");
    if (!pl_real.fcntl64)
        pl_real.fcntl64 = pl_real.fcntl;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void pl_real_init(void)
{
    pthread_once(&once, look_all);
}

/* ---- the names the tapstack code calls (see the top) ---- */

int tsr_socket(int d, int t, int p)
{
    return REAL(socket)(d, t, p);
}
int tsr_close(int fd)
{
    return REAL(close)(fd);
}
ssize_t tsr_read(int fd, void *b, size_t n)
{
    return REAL(read)(fd, b, n);
}
ssize_t tsr_write(int fd, const void *b, size_t n)
{
    return REAL(write)(fd, b, n);
}
ssize_t tsr_readv(int fd, const struct iovec *v, int n)
{
    return REAL(readv)(fd, v, n);
}
ssize_t tsr_writev(int fd, const struct iovec *v, int n)
{
    return REAL(writev)(fd, v, n);
}
ssize_t tsr_recv(int fd, void *b, size_t n, int f)
{
    return REAL(recv)(fd, b, n, f);
}
ssize_t tsr_send(int fd, const void *b, size_t n, int f)
{
    return REAL(send)(fd, b, n, f);
}
ssize_t tsr_recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l)
{
    return REAL(recvfrom)(fd, b, n, f, a, l);
}
ssize_t tsr_sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l)
{
    return REAL(sendto)(fd, b, n, f, a, l);
}
ssize_t tsr_recvmsg(int fd, struct msghdr *m, int f)
{
    return REAL(recvmsg)(fd, m, f);
}
ssize_t tsr_sendmsg(int fd, const struct msghdr *m, int f)
{
    return REAL(sendmsg)(fd, m, f);
}
int tsr_bind(int fd, const struct sockaddr *a, socklen_t l)
{
    return REAL(bind)(fd, a, l);
}
int tsr_listen(int fd, int b)
{
    return REAL(listen)(fd, b);
}
int tsr_accept(int fd, struct sockaddr *a, socklen_t *l)
{
    return REAL(accept)(fd, a, l);
}
int tsr_accept4(int fd, struct sockaddr *a, socklen_t *l, int f)
{
    return REAL(accept4)(fd, a, l, f);
}
int tsr_connect(int fd, const struct sockaddr *a, socklen_t l)
{
    return REAL(connect)(fd, a, l);
}
int tsr_shutdown(int fd, int h)
{
    return REAL(shutdown)(fd, h);
}
int tsr_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
    return REAL(getsockname)(fd, a, l);
}
int tsr_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
    return REAL(getpeername)(fd, a, l);
}
int tsr_getsockopt(int fd, int lv, int n, void *v, socklen_t *l)
{
    return REAL(getsockopt)(fd, lv, n, v, l);
}
int tsr_setsockopt(int fd, int lv, int n, const void *v, socklen_t l)
{
    return REAL(setsockopt)(fd, lv, n, v, l);
}
int tsr_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return REAL(fcntl)(fd, cmd, arg);
}
int tsr_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return REAL(ioctl)(fd, req, arg);
}
int tsr_dup(int fd)
{
    return REAL(dup)(fd);
}
int tsr_dup2(int a, int b)
{
    return REAL(dup2)(a, b);
}
int tsr_socketpair(int d, int t, int p, int sv[2])
{
    return REAL(socketpair)(d, t, p, sv);
}
int tsr_fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return REAL(fcntl64)(fd, cmd, arg);
}
