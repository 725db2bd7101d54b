/* The stack inside the program: brought up on first use, stopped at exit after the program's
 * connections delivered what they hold, and what fork() does to it.
 *
 * Bring-up waits for the first AF_INET socket, so a shell or a make run under tapstack-run
 * leaves the tap to the one child that talks to the network (the tap takes one process at a
 * time). The options come from the environment (TS_RUN_ENV, written by tapstack-run), parsed
 * by the apps' own code, so the stack is the one tapstack-run checked. It is the apps'
 * bring-up (apps/common: tap, pcap, faults, the runtime and its control socket, --trace) with
 * the program's signals left alone.
 *
 * Exit. A kernel socket outlives its process: what was written is still delivered after exit.
 * Here the stack dies with the process, so the library's destructor closes every socket (FIN
 * after the queued data, as exit() closing them would) and waits, at most --exit-wait seconds,
 * until no connection has anything in flight, then stops the runtime. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../apps/common/netio.h"
#include "../apps/common/opts.h"
#include "../apps/common/runopts.h"
#include "preload.h"
#include "tapstack/socket.h"
#include "tapstack/tcp.h"

int pl_private_base;

static pthread_mutex_t up_mu = PTHREAD_MUTEX_INITIALIZER;
static bool up_tried; /* up_mu */
static int up_errno;  /* up_mu: why it failed */
static struct ts_runtime *g_rt;
static struct ts_app_opts g_opts;
static struct ts_run_opts g_run;
static struct ts_app g_app;
static bool g_stopped;

/* The runtime's own descriptors from bring-up (tap, epoll, eventfd, control socket, pcap). */
#define PRIV_MAX 64
static int priv_fds[PRIV_MAX];
static int npriv;

void pl_fork_prepare(void);
void pl_fork_parent(void);
void pl_fork_child(void);

void pl_say(atomic_bool *once, const char *fmt, ...)
{
    if (once && atomic_exchange(once, true))
        return;
    char line[768];
    int n = snprintf(line, sizeof line, "tapstack-run: %s[%d]: ", program_invocation_short_name,
                     (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = REAL(write)(2, line, (size_t)n);
    (void)w;
}

static void fd_set_of(bool *seen, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd >= 0 && fd < max)
            seen[fd] = true;
    }
    closedir(d);
}

bool pl_stack_running(void)
{
    return __atomic_load_n(&g_rt, __ATOMIC_ACQUIRE) && !pl_forked_child && !g_stopped;
}

bool pl_runtime_fd(int fd)
{
    if (npriv == 0 || pl_forked_child || g_stopped)
        return false;
    for (int i = 0; i < npriv; i++)
        if (priv_fds[i] == fd)
            return !pl_in_vfork_child();
    return false;
}

bool pl_private_fd(int fd)
{
    for (int i = 0; i < npriv; i++)
        if (priv_fds[i] == fd)
            return true;
    return pl_private_base > 0 && fd >= pl_private_base;
}

static void link_gone(void *arg)
{
    (void)arg;
    pl_say(NULL, "the link is gone (was the tap deleted?): the program's sockets stop working");
}

/* Make room above the program's descriptors for the runtime's (the tap, its epoll, two per
 * socket): raise the soft limit when the hard one allows and put ours from the program's old
 * limit up, else from half the limit (4096 at most) up. */
static void private_room(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t soft = rl.rlim_cur, hard = rl.rlim_max;
    if (soft == RLIM_INFINITY || soft > (1u << 20))
        soft = 1u << 20;
    rlim_t want = soft * 4 > soft + 4096 ? soft * 4 : soft + 4096;
    if (want > (1u << 20))
        want = 1u << 20;
    if (hard != RLIM_INFINITY && want > hard)
        want = hard;
    if (soft <= 4096 && want > soft + 64) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            pl_private_base = (int)soft;
            return;
        }
    }
    pl_private_base = soft / 2 < 4096 ? (int)(soft / 2) : 4096;
}

/* Hold every free descriptor below pl_private_base while the runtime opens its own, so they
 * land above: the program's first socket is then the descriptor it would have been without
 * us. Returns how many were held (*held: which), closed again by release_low. */
static int hold_low(int *held, int max)
{
    int n = 0;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return 0;
    held[n++] = null;
    for (int fd = 0; fd < pl_private_base && n < max; fd++) {
        if (fd == null || REAL(fcntl)(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        if (REAL(dup2)(null, fd) == fd)
            held[n++] = fd;
    }
    return n;
}

static void release_low(const int *held, int n)
{
    for (int i = 0; i < n; i++)
        REAL(close)(held[i]);
}

static void bring_up_locked(void)
{
    const char *env = getenv(TS_RUN_ENV);
    int argc = 0;
    int rest = 0;
    struct ts_app_spec spec;
    ts_run_spec(&spec, &g_run, &rest);
    char **argv = ts_run_decode("tapstack-run", env ? env : "", &argc);
    if (!argv) {
        up_errno = ENOMEM;
        return;
    }
    ts_app_parse(&spec, argc, argv, &g_opts); /* checked by tapstack-run already */
    g_opts.no_signals = true;                 /* the program's signals are its own */

    private_room();
    static int held[4100];
    int nheld = hold_low(held, 4100);
    static bool before[1 << 13];
    memset(before, 0, sizeof before);
    fd_set_of(before, 1 << 13);
    /* The loop thread takes no signal of the program's: it starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (ts_app_bringup(&g_opts, &g_app) == 0) {
        g_rt = nio_runtime_start(&g_app);
        if (!g_rt)
            ts_app_teardown(&g_app);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    release_low(held, nheld);
    if (!g_rt) {
        up_errno = ENETDOWN;
        pl_say(NULL, "tapstack could not come up (above): the program's IPv4 sockets fail with "
                     "ENETDOWN");
        return;
    }
    ts_runtime_on_link_down(g_rt, link_gone, NULL);
    static bool after[1 << 13];
    memset(after, 0, sizeof after);
    fd_set_of(after, 1 << 13);
    for (int fd = 0; fd < (1 << 13) && npriv < PRIV_MAX; fd++)
        if (after[fd] && !before[fd])
            priv_fds[npriv++] = fd;
    pl_stack_pid = getpid();
}

bool pl_stack_up(void)
{
    if (__atomic_load_n(&g_rt, __ATOMIC_ACQUIRE))
        return true;
    pthread_mutex_lock(&up_mu);
    if (!up_tried) {
        up_tried = true;
        bring_up_locked();
    }
    bool ok = g_rt != NULL;
    int e = up_errno;
    pthread_mutex_unlock(&up_mu);
    if (!ok)
        errno = e ? e : ENETDOWN;
    return ok;
}

/* ---- exit ---- */

static void count_busy(struct ts_stack *s, void *arg)
{
    struct ts_tcp_info info[256];
    size_t n = ts_tcp_table(s, info, 256, ts_runtime_now());
    unsigned busy = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        switch (info[i].state) {
        case TS_TCP_SYN_SENT:
        case TS_TCP_SYN_RECV:
        case TS_TCP_ESTABLISHED:
        case TS_TCP_CLOSE_WAIT:
        case TS_TCP_FIN_WAIT1:
        case TS_TCP_CLOSING:
        case TS_TCP_LAST_ACK:
            busy++;
            break;
        default: /* LISTEN (closing), FIN_WAIT2, TIME_WAIT, CLOSE: nothing of ours in flight */
            break;
        }
    }
    if (n > 256)
        busy++;
    *(unsigned *)arg = busy;
}

__attribute__((destructor)) static void pl_exit(void)
{
    if (!g_rt || g_stopped || pl_forked_child || pl_in_vfork_child())
        return;
    g_stopped = true;
    /* What exit() would do to kernel sockets: close them all (a FIN after what is queued; a
     * RST where unread data is left, RFC 2525 2.17). */
    int top = pl_map_top();
    for (int fd = 0; fd < top; fd++)
        if (pl_mapped(fd))
            pl_unmap(fd);
    int64_t end = pl_now() + (int64_t)(g_run.exit_wait * 1e6);
    for (;;) {
        unsigned busy = 0;
        ts_runtime_with_stack(g_rt, count_busy, &busy);
        if (busy == 0 || pl_now() >= end)
            break;
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (g_opts.stats) {
        /* What the kernel mirrors cost (the price of real descriptors, tools/run.c). */
        struct ts_runtime_stats st;
        ts_runtime_get_stats(g_rt, &st);
        pl_say(NULL,
               "runtime: %llu kernel-mirror updates, %llu system calls for them; %llu loop "
               "wake-ups",
               (unsigned long long)st.mirror_syncs, (unsigned long long)st.mirror_syscalls,
               (unsigned long long)st.loop_wakeups);
    }
    nio_runtime_stop(g_rt, &g_app);
    ts_app_teardown(&g_app);
}

/* ---- fork ---- */

static void fork_prepare(void)
{
    pthread_mutex_lock(&up_mu);
    pl_fork_prepare();
    if (g_rt && !pl_forked_child)
        ts_runtime_fork_prepare(g_rt);
}

static void fork_parent(void)
{
    if (g_rt && !pl_forked_child)
        ts_runtime_fork_parent(g_rt);
    pl_fork_parent();
    pthread_mutex_unlock(&up_mu);
}

static void fork_child(void)
{
    if (g_rt && !pl_forked_child) {
        ts_runtime_fork_child(g_rt); /* the tap and the mirrors' ends stay the parent's alone */
        pl_forked_child = true;
    }
    pl_stack_pid = getpid();
    pl_fork_child();
    pthread_mutex_init(&up_mu, NULL);
}

__attribute__((constructor)) static void pl_init(void)
{
    pl_real_init();
    pl_stack_pid = getpid();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
