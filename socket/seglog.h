/* The runtime's segment ladders (include/tapstack/control.h): for each of the last `cap`
 * connections that began, a ring of its last `per` items (segments sent and received, state
 * changes), fed by the stack's segment hook and the runtime's trace callback.
 *
 * Segments carry no connection id: they are matched to a ladder by their 4-tuple through an
 * open-addressing index (linear probing, backward-shift deletion). A ladder is made when a
 * connection's first state change is seen (CLOSE -> SYN_SENT, LISTEN -> SYN_RECV, ...), and its
 * slot is the oldest ladder's (round robin), so the newest `cap` connections always have one.
 * The SYN that makes a listener's child arrives before the child exists: the latest received
 * segment that matched no ladder is held aside, and becomes the first item of the ladder whose
 * first change it caused.
 *
 * Everything runs under the runtime's lock; seglog_segment and seglog_trace are O(1) and
 * allocate nothing (seglog_new allocates it all). */
#ifndef TS_SOCKET_SEGLOG_H
#define TS_SOCKET_SEGLOG_H

#include <stddef.h>
#include <stdint.h>

#include "tapstack/control.h"

struct seglog;

struct seglog *seglog_new(uint32_t cap, uint32_t per);
void seglog_free(struct seglog *sl);

/* A connection alive before recording began (from the connection table): a ladder from now. */
void seglog_seed(struct seglog *sl, const struct ts_tcp_info *t, ts_time_t now);
/* One segment from the stack's hook. */
void seglog_segment(struct seglog *sl, const struct ts_segment_event *ev);
/* One state change; trace_seq is its number in the runtime's trace. */
void seglog_trace(struct seglog *sl, const struct ts_trace_event *ev, uint64_t trace_seq);

/* See ts_runtime_segments_since / ts_runtime_seg_conns. */
bool seglog_items_since(const struct seglog *sl, uint64_t conn_id, uint64_t since,
                        struct ts_seg_item *out, size_t max, size_t *n, struct ts_seg_conn *conn,
                        struct ts_stat_page *pg);
size_t seglog_conns(const struct seglog *sl, struct ts_seg_conn *out, size_t max);

/* Did this cause come from a received segment (as opposed to the application, a timer or an
 * ICMP error)? The trace's causes say so in their words: "rcvd ..." and "new SYN ...". */
bool seglog_cause_is_segment(const char *cause);

#endif
