/* Fault injection: a driver wrapper that drops, duplicates, reorders, corrupts and delays frames,
 * separately for each direction ("out" = frames the stack sends, "in" = frames it receives).
 * The kernels we run on have no netem, so tapstack brings its own; the same wrapper serves the
 * tap in apps and the in-memory pair link in tests.
 *
 * Faults hit wire frames. A super-segment (GSO) or a frame whose checksum the host left partial is
 * first cut up / completed by ts_frame_segment (drivers/gso.c), as the kernel would before a wire,
 * and each piece goes through the stages alone; the wrapper offers no offloads to the stack, so
 * what the stack sends through it is wire-sized already. (A frame whose offload header does not
 * fit it passes untouched, for the stack to drop and count.)
 *
 * Each frame passes the stages in this order:
 *   drop -> corrupt -> duplicate -> reorder -> delay -> (out: inner send | in: returned by recv)
 * - drop: the frame vanishes (a send still returns 0: it was lost "on the wire").
 * - corrupt: one random bit of one random byte after the Ethernet header is flipped, so the IPv4,
 *   ICMP, UDP or TCP checksum has something to catch; frames of 14 bytes or less are left alone.
 * - duplicate: a second copy follows the first through the later stages.
 * - reorder: the frame is held back and released right after the next frame of that direction,
 *   or after TS_FAULT_REORDER_HOLD when no other frame comes, so nothing is held forever.
 *   One frame is held at a time.
 * - delay: the frame is held until now + delay; next_deadline tells the loop when.
 *
 * Determinism: each direction has its own PRNG (splitmix64, seeded from cfg->seed), and every
 * frame draws the same number of values whatever the rates are, so the same seed gives the same
 * decisions for the same sequence of frames, and turning one fault on does not reshuffle which
 * frames another one hits.
 *
 * Held frames (delay, reorder) are released when the wrapper is next called with a later `now`
 * (send, recv): the loop's ts_stack_step calls recv, and next_deadline says when to do so.
 * At most FAULT_MAX_HELD frames wait per direction; beyond that they are dropped and counted. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tapstack/driver.h"

#define FAULT_MAX_HELD 16384

struct held {
    struct held *next;
    ts_time_t due;
    size_t len;
    uint8_t data[];
};

struct fault_dir {
    struct ts_fault_dir cfg;
    uint64_t rng;
    struct held *head, *tail; /* delay queue, in due order (due = now + fixed delay) */
    size_t held;              /* frames in the queue plus the reorder slot */
    struct held *slot;        /* the frame held back for reordering */
    ts_time_t slot_deadline;
};

struct fault {
    struct ts_driver drv; /* drv.inner: the link the faults are injected into */
    struct fault_dir in, out;
    struct ts_fault_stats stats;
};

static const struct ts_driver_ops fault_ops;

/* splitmix64 (Steele, Lea, Flood 2014): tiny, full period, good enough for fault decisions. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform double in [0, 1): the top 53 bits. */
static double uniform(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

static bool chance(uint64_t *state, double p)
{
    return uniform(state) < p;
}

static struct held *held_new(const uint8_t *frame, size_t len, ts_time_t due)
{
    struct held *h = malloc(sizeof(*h) + len);
    if (!h)
        return NULL;
    h->next = NULL;
    h->due = due;
    h->len = len;
    memcpy(h->data, frame, len);
    return h;
}

static void queue_push(struct fault_dir *d, struct held *h)
{
    if (d->tail)
        d->tail->next = h;
    else
        d->head = h;
    d->tail = h;
}

static struct held *queue_pop(struct fault_dir *d)
{
    struct held *h = d->head;
    if (h) {
        d->head = h->next;
        if (!d->head)
            d->tail = NULL;
        h->next = NULL;
    }
    return h;
}

static bool is_out(const struct fault *f, const struct fault_dir *d)
{
    return d == &f->out;
}

/* The delay stage. Takes a copy of the frame unless it can go out at once. */
static void stage_delay(struct fault *f, struct fault_dir *d, const uint8_t *frame, size_t len,
                        ts_time_t now)
{
    ts_time_t due = now + d->cfg.delay;
    if (d->cfg.delay)
        f->stats.delayed++;
    if (is_out(f, d) && !d->head && due <= now) {
        (void)ts_driver_send(f->drv.inner, frame, len, now);
        return;
    }
    if (d->held >= FAULT_MAX_HELD) {
        f->stats.dropped++;
        return;
    }
    struct held *h = held_new(frame, len, due);
    if (!h) {
        f->stats.dropped++;
        return;
    }
    d->held++;
    queue_push(d, h);
}

/* The held-back frame goes on behind whatever just passed (or on its own when its time is up). */
static void release_slot(struct fault *f, struct fault_dir *d, ts_time_t now)
{
    struct held *h = d->slot;
    d->slot = NULL;
    d->held--;
    stage_delay(f, d, h->data, h->len, now);
    free(h);
}

static void stage_reorder(struct fault *f, struct fault_dir *d, const uint8_t *frame, size_t len,
                          ts_time_t now, bool hold)
{
    if (hold && !d->slot && d->held < FAULT_MAX_HELD) {
        struct held *h = held_new(frame, len, 0);
        if (h) {
            d->slot = h;
            d->slot_deadline = now + TS_FAULT_REORDER_HOLD;
            d->held++;
            f->stats.reordered++;
            return;
        }
    }
    stage_delay(f, d, frame, len, now);
    if (d->slot)
        release_slot(f, d, now);
}

/* One frame enters direction d. */
static void process(struct fault *f, struct fault_dir *d, const uint8_t *frame, size_t len,
                    ts_time_t now)
{
    /* Draw every value up front so each frame uses exactly five, whatever the rates. */
    bool drop = chance(&d->rng, d->cfg.drop);
    bool corrupt = chance(&d->rng, d->cfg.corrupt);
    bool dup = chance(&d->rng, d->cfg.dup);
    bool reorder = chance(&d->rng, d->cfg.reorder);
    uint64_t where = splitmix64(&d->rng);

    if (drop) {
        f->stats.dropped++;
        return;
    }
    uint8_t *copy = NULL;
    if (corrupt && len > 14) {
        copy = malloc(len);
        if (copy) {
            memcpy(copy, frame, len);
            size_t span = len - 14;
            size_t byte = 14 + (size_t)((where >> 3) % span);
            copy[byte] ^= (uint8_t)(1u << (where & 7));
            frame = copy;
            f->stats.corrupted++;
        }
    }
    stage_reorder(f, d, frame, len, now, reorder);
    if (dup) {
        f->stats.duplicated++;
        stage_reorder(f, d, frame, len, now, false);
    }
    free(copy);
}

/* Time-outs: a reorder slot held too long goes on; due frames of the out direction are sent. */
static void run_timers(struct fault *f, ts_time_t now)
{
    struct fault_dir *dirs[2] = {&f->out, &f->in};
    for (int i = 0; i < 2; i++) {
        struct fault_dir *d = dirs[i];
        if (d->slot && d->slot_deadline <= now)
            release_slot(f, d, now);
    }
    while (f->out.head && f->out.head->due <= now) {
        struct held *h = queue_pop(&f->out);
        f->out.held--;
        (void)ts_driver_send(f->drv.inner, h->data, h->len, now);
        free(h);
    }
}

/* One wire frame of a super-segment (or a completed partial one) for direction piece_dir. */
struct piece_ctx {
    struct fault *f;
    struct fault_dir *d;
    ts_time_t now;
};
static void process_piece(void *arg, const uint8_t *frame, size_t len)
{
    struct piece_ctx *c = arg;
    process(c->f, c->d, frame, len, c->now);
}

/* A frame with offload metadata: its wire frames through the stages. False when the metadata
 * does not fit the frame (the caller passes it on untouched, for the stack to count). */
static bool process_meta(struct fault *f, struct fault_dir *d, const uint8_t *frame, size_t len,
                         const struct ts_frame_meta *meta, ts_time_t now)
{
    if (!meta || (meta->gso == TS_GSO_NONE && meta->csum != TS_CSUM_PARTIAL)) {
        process(f, d, frame, len, now);
        return true;
    }
    struct piece_ctx c = {f, d, now};
    return ts_frame_segment(frame, len, meta, process_piece, &c) >= 0;
}

static int fault_send(struct ts_driver *drv, const uint8_t *frame, size_t len,
                      const struct ts_frame_meta *meta, ts_time_t now)
{
    struct fault *f = drv->priv;
    run_timers(f, now);
    if (!process_meta(f, &f->out, frame, len, meta, now))
        return ts_driver_send_meta(f->drv.inner, frame, len, meta, now);
    return 0;
}

static int fault_recv(struct ts_driver *drv, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                      ts_time_t now)
{
    struct fault *f = drv->priv;
    run_timers(f, now);
    for (;;) {
        struct fault_dir *d = &f->in;
        if (d->head && d->head->due <= now) {
            struct held *h = queue_pop(d);
            d->held--;
            size_t n = h->len < cap ? h->len : cap;
            memcpy(buf, h->data, n);
            free(h);
            *meta = (struct ts_frame_meta){0};
            return (int)n;
        }
        int n = ts_driver_recv_meta(f->drv.inner, buf, cap, meta, now);
        if (n <= 0)
            return n;
        if (!process_meta(f, d, buf, (size_t)n, meta, now))
            return n; /* its metadata lies: the stack drops and counts it */
    }
}

/* Faults are injected into wire frames: the stack is asked for those only. */
static unsigned fault_offloads(struct ts_driver *drv)
{
    (void)drv;
    return 0;
}

static ts_time_t fault_next_deadline(struct ts_driver *drv, ts_time_t now)
{
    struct fault *f = drv->priv;
    ts_time_t t = ts_driver_next_deadline(f->drv.inner, now);
    const struct fault_dir *dirs[2] = {&f->out, &f->in};
    for (int i = 0; i < 2; i++) {
        if (dirs[i]->slot)
            t = ts_time_min(t, dirs[i]->slot_deadline);
        if (dirs[i]->head)
            t = ts_time_min(t, dirs[i]->head->due);
    }
    return t;
}

static void dir_free(struct fault_dir *d)
{
    struct held *h;
    while ((h = queue_pop(d)))
        free(h);
    free(d->slot);
    d->slot = NULL;
    d->held = 0;
}

static void fault_destroy(struct ts_driver *drv)
{
    struct fault *f = drv->priv;
    dir_free(&f->in);
    dir_free(&f->out);
    free(f);
}

/* fd is the inner driver's (left NULL: passed through). */
static const struct ts_driver_ops fault_ops = {
    .send = fault_send,
    .recv = fault_recv,
    .next_deadline = fault_next_deadline,
    .offloads = fault_offloads,
    .destroy = fault_destroy,
};

static double clamp01(double p)
{
    /* NaN compares false both ways: treat it as 0. */
    if (!(p > 0))
        return 0;
    return p > 1 ? 1 : p;
}

static void dir_init(struct fault_dir *d, const struct ts_fault_dir *cfg, uint64_t seed)
{
    d->cfg = *cfg;
    d->cfg.drop = clamp01(cfg->drop);
    d->cfg.dup = clamp01(cfg->dup);
    d->cfg.reorder = clamp01(cfg->reorder);
    d->cfg.corrupt = clamp01(cfg->corrupt);
    d->rng = seed;
    /* Stir once so that seeds 0, 1, 2 ... start far apart. */
    (void)splitmix64(&d->rng);
}

struct ts_driver *ts_fault_wrap(struct ts_driver *inner, const struct ts_fault_config *cfg)
{
    if (!inner || !cfg)
        return NULL;
    struct fault *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    /* Two streams from one seed: the directions' decisions do not depend on how sends and
     * receives interleave. */
    dir_init(&f->out, &cfg->out, cfg->seed ^ 0x6f75740000000000ull);
    dir_init(&f->in, &cfg->in, cfg->seed ^ 0x696e000000000000ull);
    f->drv = (struct ts_driver){.ops = &fault_ops, .name = "fault", .priv = f, .inner = inner};
    return &f->drv;
}

int ts_fault_stats(struct ts_driver *d, struct ts_fault_stats *out)
{
    if (!d || d->ops != &fault_ops || !out)
        return -1;
    *out = ((struct fault *)d->priv)->stats;
    return 0;
}
