/* Two socket runtimes on the pair link: see rt_fixture.h. */
#include "rt_fixture.h"

#include <check.h>

#include "harness.h"

void rt_pair_up(struct ts_runtime **a, struct ts_runtime **b, rt_wrap_fn wrap_a, void *arg)
{
    struct ts_driver *da, *db;
    ts_pair_create(&da, &db, 0);
    ck_assert(da && db);
    if (wrap_a)
        da = wrap_a(da, arg);
    struct ts_config ca, cb;
    th_config(&ca, TH_A);
    th_config(&cb, TH_B);
    struct ts_stack *sa = ts_stack_new(&ca, da, ts_runtime_now());
    struct ts_stack *sb = ts_stack_new(&cb, db, ts_runtime_now());
    ck_assert(sa && sb);
    *a = ts_runtime_start(sa, da);
    *b = ts_runtime_start(sb, db);
    ck_assert(*a && *b);
}

void rt_pair_down(struct ts_runtime **a, struct ts_runtime **b)
{
    ts_runtime_stop(*a);
    ts_runtime_stop(*b);
    *a = *b = NULL;
}
