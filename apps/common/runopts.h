/* tapstack-run: its own flags (beyond the stack options of every app) and the way the launcher
 * hands the options to the preload library inside the program: the arguments as given, in one
 * environment variable, parsed again there by the same code (ts_app_parse), so the program's
 * stack is configured exactly as the launcher checked. */
#ifndef TAPSTACK_APPS_RUNOPTS_H
#define TAPSTACK_APPS_RUNOPTS_H

#include <stddef.h>

#include "opts.h"

/* The variable, and the byte between two arguments in it (no argument may contain it). */
#define TS_RUN_ENV "TAPSTACK_RUN_OPTS"
#define TS_RUN_SEP '\x1f'

struct ts_run_opts {
    double exit_wait; /* seconds the program's exit waits for its connections to finish */
};

/* The spec of tapstack-run's command line (its flags write into r; *rest gets the index of
 * PROGRAM). */
void ts_run_spec(struct ts_app_spec *spec, struct ts_run_opts *r, int *rest);

/* argv[0..n) joined with TS_RUN_SEP into a new string (malloc), or NULL when an argument
 * contains TS_RUN_SEP or memory is short. */
char *ts_run_encode(char **argv, int n);
/* The inverse: an argv (argv[0] = prog, then the arguments, then NULL) in one allocation, and
 * its count in *argc. NULL when memory is short. */
char **ts_run_decode(const char *prog, const char *s, int *argc);

#endif
