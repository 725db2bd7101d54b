/* tapstack-run [stack options] [--] PROGRAM [ARGS]: run an unmodified program with every IPv4
 * socket it opens on tapstack, inside its own process.
 *
 * The launcher checks the stack options (the same code and the same one-line errors as every
 * app), checks that the program can be reached by LD_PRELOAD at all, and that the tap can be
 * opened, then puts libtapstack-preload.so in LD_PRELOAD, the options in TAPSTACK_RUN_OPTS, and
 * executes the program in its own place (same pid: signals sent to tapstack-run reach the
 * program). The library brings the stack up inside the program at its first IPv4 socket.
 *
 * Where it cannot work, one line and a non-zero exit before anything runs:
 *   - a statically linked program (no PT_INTERP: no dynamic loader, so no LD_PRELOAD);
 *   - a program of another architecture or word size than the library (the loader would skip
 *     the library without a word);
 *   - a set-uid/set-gid program (or one with file capabilities) that would change our ids: the
 *     loader ignores LD_PRELOAD in that secure mode.
 * A script (#!) is judged by its interpreter. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../apps/common/opts.h"
#include "../apps/common/runopts.h"
#include "tapstack/driver.h"

static const char *P = "tapstack-run";

static _Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", P);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

/* PROGRAM as execvp would find it, into out. */
static bool find_program(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/')) {
        snprintf(out, cap, "%s", prog);
        return access(out, F_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, cap, "%.*s%s%s", (int)n, n ? path : ".", "/", prog);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return true;
        if (!end)
            break;
        path = end + 1;
    }
    return false;
}

/* Our own ELF class and machine: the library's. */
static void own_arch(unsigned char *cls, uint16_t *machine)
{
    Elf64_Ehdr eh;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, &eh, sizeof eh) != (ssize_t)sizeof eh)
        die(1, "cannot read /proc/self/exe: %s", strerror(errno));
    close(fd);
    *cls = eh.e_ident[EI_CLASS];
    *machine = eh.e_machine;
}

static void check_ids(const char *path, const struct stat *st)
{
    bool uid_change = (st->st_mode & S_ISUID) && st->st_uid != geteuid();
    bool gid_change = (st->st_mode & S_ISGID) && st->st_gid != getegid();
    if (uid_change || gid_change)
        die(1,
            "%s is set-%s: the loader ignores LD_PRELOAD for it, so its sockets would bypass "
            "tapstack; run a copy without the bit",
            path, uid_change ? "uid" : "gid");
    if (geteuid() != 0 && getxattr(path, "security.capability", NULL, 0) >= 0)
        die(1,
            "%s has file capabilities: the loader ignores LD_PRELOAD for it, so its sockets "
            "would bypass tapstack; run a copy without them (or as root)",
            path);
}

/* Can LD_PRELOAD reach the program at path? Dies with the reason if not. */
static void check_program(const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) < 0)
        die(127, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
        die(126, "%s: not an executable file", path);
    check_ids(path, &st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(126, "%s: %s", path, strerror(errno));
    unsigned char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
        close(fd);
        if (depth > 3)
            die(1, "%s: too many #! interpreters in a row", path);
        /* A script: its interpreter is what runs (and what LD_PRELOAD must reach). */
        char interp[PATH_MAX];
        size_t i = 2, j = 0;
        while (i < (size_t)n && (buf[i] == ' ' || buf[i] == '\t'))
            i++;
        while (i < (size_t)n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
               j < sizeof interp - 1)
            interp[j++] = (char)buf[i++];
        interp[j] = 0;
        if (!j)
            die(1, "%s: a #! line without an interpreter", path);
        check_program(interp, depth + 1);
        return;
    }
    Elf64_Ehdr eh;
    if (n < (ssize_t)sizeof eh || memcmp(buf, ELFMAG, SELFMAG) != 0)
        die(1, "%s is neither an ELF program nor a #! script", path);
    memcpy(&eh, buf, sizeof eh);
    unsigned char cls;
    uint16_t machine;
    own_arch(&cls, &machine);
    if (eh.e_ident[EI_CLASS] != cls || eh.e_machine != machine)
        die(1,
            "%s is built for another architecture or word size (ELF class %d, machine %d; "
            "tapstack-run's library is class %d, machine %d): the loader would skip the "
            "library, so its sockets would bypass tapstack",
            path, eh.e_ident[EI_CLASS], eh.e_machine, cls, machine);
    bool interp = false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        off_t off = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;
        if (pread(fd, &ph, sizeof ph, off) != (ssize_t)sizeof ph)
            break;
        if (ph.p_type == PT_INTERP)
            interp = true;
    }
    close(fd);
    if (!interp)
        die(1,
            "%s is statically linked (no program interpreter): LD_PRELOAD cannot reach it, so "
            "its sockets would be the kernel's; tapstack-run needs a dynamically linked program",
            path);
}

/* The library: $TAPSTACK_PRELOAD, else ../lib/libtapstack-preload.so next to this program. */
static void find_library(char *out, size_t cap)
{
    const char *env = getenv("TAPSTACK_PRELOAD");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            die(1, "cannot read /proc/self/exe: %s", strerror(errno));
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = 0;
        if (snprintf(out, cap, "%.*s/../lib/libtapstack-preload.so", PATH_MAX - 64, self) >=
            (int)cap)
            die(1, "the path of tapstack-run is too long");
        char *real = realpath(out, NULL);
        if (real) {
            snprintf(out, cap, "%s", real);
            free(real);
        }
    }
    if (access(out, R_OK) < 0)
        die(1,
            "cannot read the preload library %s (%s): build it with make, or name it in "
            "TAPSTACK_PRELOAD",
            out, strerror(errno));
}

/* In the sanitizer build the library needs the ASan runtime, which must come first: ours. */
static int find_asan(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libasan.so")) {
        snprintf(arg, PATH_MAX, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ts_app_spec spec;
    struct ts_run_opts run;
    struct ts_app_opts o;
    int rest = argc;
    ts_run_spec(&spec, &run, &rest);
    ts_app_parse(&spec, argc, argv, &o);
    if (rest >= argc)
        die(2, "missing the program to run: usage: tapstack-run [stack options] -- PROGRAM "
               "[ARGS] (see tapstack-run --help)");

    char prog[PATH_MAX];
    if (!find_program(argv[rest], prog, sizeof prog))
        die(127, "%s: command not found", argv[rest]);
    check_program(prog, 0);

    /* The tap can be had (it is free, and we may use it): said now, in one line, rather than
     * at the program's first socket. */
    char err[256];
    struct ts_driver *d = ts_tap_open(o.tap, err, sizeof err);
    if (!d)
        die(1, "%s", err);
    ts_driver_destroy(d);

    char lib[PATH_MAX], asan[PATH_MAX] = "";
    find_library(lib, sizeof lib);
    dl_iterate_phdr(find_asan, asan);
    const char *old = getenv("LD_PRELOAD");
    size_t need = strlen(asan) + strlen(lib) + (old ? strlen(old) : 0) + 4;
    char *pre = malloc(need);
    char *opts = ts_run_encode(argv + 1, rest - 1);
    if (!pre || !opts)
        die(1, "an option holds the byte 0x1f, or memory is short");
    snprintf(pre, need, "%s%s%s%s%s", asan, *asan ? ":" : "", lib, old && *old ? ":" : "",
             old && *old ? old : "");
    if (setenv("LD_PRELOAD", pre, 1) < 0 || setenv(TS_RUN_ENV, opts, 1) < 0)
        die(1, "setenv: %s", strerror(errno));
    if (*asan && !getenv("ASAN_OPTIONS"))
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1); /* the program's own leaks are not ours */
    execv(prog, argv + rest);
    die(errno == ENOENT ? 127 : 126, "cannot run %s: %s", prog, strerror(errno));
}
