/* A runtime's transition counts and segment ladders (include/tapstack/control.h): the glue
 * between the stack's hooks, the ladders (seglog.h) and the callers, under the runtime's lock. */
#include <errno.h>
#include <stdlib.h>

#include "seglog.h"
#include "shim.h"

void rt_seg_trace(struct ts_runtime *rt, const struct ts_trace_event *ev, uint64_t trace_seq)
{
    if ((unsigned)ev->from < TS_CONTROL_NSTATES && (unsigned)ev->to < TS_CONTROL_NSTATES)
        rt->moves[ev->from][ev->to]++;
    if (rt->seg_on)
        seglog_trace(rt->seg, ev, trace_seq);
}

void rt_seg_free(struct ts_runtime *rt)
{
    seglog_free(rt->seg);
    rt->seg = NULL;
}

void ts_runtime_transition_counts(struct ts_runtime *rt,
                                  uint64_t counts[TS_CONTROL_NSTATES][TS_CONTROL_NSTATES])
{
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < TS_CONTROL_NSTATES; i++)
        for (int j = 0; j < TS_CONTROL_NSTATES; j++)
            counts[i][j] = rt->moves[i][j];
    pthread_mutex_unlock(&rt->mu);
}

/* The stack's segment hook (under rt->mu, inside the stack). */
static void rt_on_segment(void *arg, const struct ts_segment_event *ev)
{
    struct ts_runtime *rt = arg;
    if (rt->seg_on)
        seglog_segment(rt->seg, ev);
}

/* Ladders for the connections alive now: their segments are recorded from here on. */
static void seed_live(struct ts_runtime *rt)
{
    ts_time_t now = shim_now();
    size_t n = ts_tcp_table(rt->s, NULL, 0, now);
    struct ts_tcp_info *rows = n ? calloc(n, sizeof *rows) : NULL;
    if (!rows)
        return;
    n = ts_tcp_table(rt->s, rows, n, now);
    /* Oldest first (the table lists the newest first), so that the newest keep their ladders
     * when there are more than fit. */
    for (size_t i = n; i-- > 0;)
        seglog_seed(rt->seg, &rows[i], now);
    free(rows);
}

int ts_runtime_record_segments(struct ts_runtime *rt, bool on)
{
    pthread_mutex_lock(&rt->mu);
    if (on && !rt->seg_on) {
        if (!rt->seg && !(rt->seg = seglog_new(TS_SEGLOG_CONNS, TS_SEGLOG_ITEMS))) {
            pthread_mutex_unlock(&rt->mu);
            errno = ENOMEM;
            return -1;
        }
        seed_live(rt);
        ts_stack_set_segment_hook(rt->s, rt_on_segment, rt);
        rt->seg_on = true;
    } else if (!on && rt->seg_on) {
        ts_stack_set_segment_hook(rt->s, NULL, NULL);
        rt->seg_on = false;
    }
    pthread_mutex_unlock(&rt->mu);
    return 0;
}

bool ts_runtime_recording_segments(struct ts_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    bool on = rt->seg_on;
    pthread_mutex_unlock(&rt->mu);
    return on;
}

bool ts_runtime_segments_since(struct ts_runtime *rt, uint64_t conn_id, uint64_t since,
                               struct ts_seg_item *out, size_t max, size_t *n,
                               struct ts_seg_conn *conn, struct ts_stat_page *pg)
{
    pthread_mutex_lock(&rt->mu);
    bool ok = false;
    *n = 0;
    if (rt->seg)
        ok = seglog_items_since(rt->seg, conn_id, since, out, max, n, conn, pg);
    pthread_mutex_unlock(&rt->mu);
    return ok;
}

size_t ts_runtime_seg_conns(struct ts_runtime *rt, struct ts_seg_conn *out, size_t max)
{
    pthread_mutex_lock(&rt->mu);
    size_t n = rt->seg ? seglog_conns(rt->seg, out, max) : 0;
    pthread_mutex_unlock(&rt->mu);
    return n;
}
