/* tapstack-run's flags and the environment encoding; see runopts.h. */
#include "runopts.h"

#include <stdlib.h>
#include <string.h>

static const char *set_exit_wait(const char *val, void *ctx)
{
    struct ts_run_opts *r = ctx;
    if (!ts_app_parse_double(val, 0, 3600, &r->exit_wait))
        return "must be a number of seconds between 0 and 3600";
    return NULL;
}

static const struct ts_app_flag run_flags[] = {
    {"exit-wait", "SECONDS",
     "at the program's exit, wait up to this long for its connections to deliver what they "
     "hold (default 5)",
     set_exit_wait},
    {NULL, NULL, NULL, NULL},
};

void ts_run_spec(struct ts_app_spec *spec, struct ts_run_opts *r, int *rest)
{
    memset(spec, 0, sizeof *spec);
    r->exit_wait = 5;
    spec->name = "tapstack-run";
    spec->summary = "run PROGRAM with every IPv4 socket it opens on tapstack (inside its process)";
    spec->args = "-- PROGRAM [ARGS]";
    spec->flags = run_flags;
    spec->ctx = r;
    spec->rest = rest;
}

char *ts_run_encode(char **argv, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        if (strchr(argv[i], TS_RUN_SEP))
            return NULL;
        len += strlen(argv[i]) + 1;
    }
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(argv[i]);
        memcpy(p, argv[i], l);
        p += l;
        if (i + 1 < n)
            *p++ = TS_RUN_SEP;
    }
    *p = 0;
    return s;
}

char **ts_run_decode(const char *prog, const char *s, int *argc)
{
    size_t n = *s ? 2 : 1; /* prog, and one more argument per separator */
    for (const char *p = s; *p; p++)
        n += *p == TS_RUN_SEP;
    size_t slen = strlen(s) + 1;
    char **argv = malloc((n + 1) * sizeof *argv + slen);
    if (!argv)
        return NULL;
    char *copy = (char *)(argv + n + 1);
    memcpy(copy, s, slen);
    argv[0] = (char *)prog;
    size_t i = 1;
    if (*copy) {
        argv[i++] = copy;
        for (char *p = copy; *p; p++) {
            if (*p == TS_RUN_SEP) {
                *p = 0;
                argv[i++] = p + 1;
            }
        }
    }
    argv[i] = NULL;
    *argc = (int)i;
    return argv;
}
