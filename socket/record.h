/* The runtime's recorder: the last trace events (a ring, numbered) and the last ended
 * connections with their whole path of states (a second ring), fed by the stack's trace
 * callback. rec_event() runs inside the stack, with the runtime's lock held, on the path of a
 * state change: it is O(1) and allocates nothing (everything is allocated by rec_init).
 *
 * Live connections' paths sit in a fixed pool of slots found through an open-addressing index
 * keyed by connection id (linear probing, deletion by backward shift, so no tombstones pile up).
 * The pool has room for every connection the stack may hold (tcp_max_conns) plus a margin; if it
 * is ever full, the events still go to the ring and `untracked` counts the ones without a path.
 *
 * Not thread-safe by itself: the runtime calls everything here under its lock. */
#ifndef TS_SOCKET_RECORD_H
#define TS_SOCKET_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "tapstack/stat.h"

struct rec {
    struct ts_stat_event *ring; /* ring_cap entries, power of two */
    size_t ring_cap;
    uint64_t seq; /* number of the newest event (0: none yet) */

    struct ts_stat_conn *live; /* live_cap slots */
    uint32_t live_cap;
    uint32_t *free_slots; /* stack of free slot numbers */
    uint32_t nfree;
    uint32_t *index; /* index_cap entries: slot + 1, or 0 = empty */
    uint32_t index_cap;

    struct ts_stat_conn *hist; /* hist_cap entries: the last ended connections */
    size_t hist_cap;
    uint64_t ended; /* number of the newest ended connection (0: none yet) */

    uint64_t untracked; /* events of connections that found no free path slot */
};

/* ring events, hist ended connections, live = the most connections at once. 0 on success. */
int rec_init(struct rec *r, size_t ring, size_t hist, uint32_t live);
void rec_free(struct rec *r);

/* Record one state change. O(1), no allocation. */
void rec_event(struct rec *r, const struct ts_trace_event *ev);

/* Events numbered after `since`, oldest first, at most max, into out; the page says what is
 * kept and what was lost. Returns how many were copied. */
size_t rec_events_since(const struct rec *r, uint64_t since, struct ts_stat_event *out, size_t max,
                        struct ts_stat_page *pg);
/* Ended connections numbered (ended_seq) after `since`, oldest first, at most max. When more
 * than max are newer than since, the newest max are returned (a history shows the latest), and
 * pg->lost counts those skipped. */
size_t rec_history_since(const struct rec *r, uint64_t since, struct ts_stat_conn *out, size_t max,
                         struct ts_stat_page *pg);
/* The path so far of a live connection: true and *out filled, or false (unknown id). */
bool rec_live_path(const struct rec *r, uint64_t conn_id, struct ts_stat_conn *out);

#endif
