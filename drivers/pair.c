/* The in-memory pair driver: two ends joined back to back, for tests and for running two stacks
 * in one process.
 *
 * Each end receives from its own bounded FIFO; sending on one end appends to the other end's FIFO
 * with a delivery time of now + latency. recv(now) returns only frames whose delivery time has
 * come, and next_deadline() says when the first delayed one will. Each end has an eventfd as its
 * fd(): it is readable while frames may be waiting, so a real epoll/poll loop (the socket shim)
 * works on a pair exactly as on a tap. The two ends may be driven from two threads (one run loop
 * per stack), so each queue has its own lock. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tapstack/driver.h"

#define PAIR_QUEUE_CAP 4096
/* Larger than any Ethernet frame a stack can build (IPv4 max + header), so nothing legal is lost.
 */
#define PAIR_MAX_FRAME TS_FRAME_MAX

struct pair_frame {
    ts_time_t at; /* when it becomes receivable */
    struct ts_frame_meta meta;
    size_t len;
    uint8_t data[];
};

struct pair_queue {
    pthread_mutex_t mu;
    struct pair_frame *ring[PAIR_QUEUE_CAP];
    size_t head, count;
    ts_time_t last_at; /* keeps delivery times monotonic, so the FIFO stays ordered */
    int efd;
    int closed; /* the receiving end was destroyed: frames sent to it vanish */
};

struct pair_shared {
    struct pair_queue q[2]; /* q[i] is what end i receives */
    ts_time_t latency;
    pthread_mutex_t ref_mu;
    int refs;
};

struct pair_end {
    struct ts_driver drv;
    struct pair_shared *sh;
    int idx;
    unsigned offloads; /* what this end says it takes (ts_pair_set_offloads) */
};

static const struct ts_driver_ops pair_ops;

static struct pair_end *end_of(struct ts_driver *d)
{
    return (struct pair_end *)d->priv;
}

/* Make the eventfd readable (a frame was queued). Called with the queue lock held. */
static void efd_signal(struct pair_queue *q)
{
    uint64_t one = 1;
    ssize_t r = write(q->efd, &one, sizeof one);
    (void)r; /* EAGAIN only when the counter is near overflow: it is readable anyway */
}

/* Make the eventfd unreadable. Called with the queue lock held. */
static void efd_clear(struct pair_queue *q)
{
    uint64_t v;
    ssize_t r = read(q->efd, &v, sizeof v);
    (void)r; /* EAGAIN: it was already clear */
}

static int pair_send(struct ts_driver *d, const uint8_t *frame, size_t len,
                     const struct ts_frame_meta *meta, ts_time_t now)
{
    struct pair_end *e = end_of(d);
    struct pair_queue *q = &e->sh->q[1 - e->idx];
    if (len > PAIR_MAX_FRAME)
        return -EMSGSIZE;
    if (len == 0)
        return -EINVAL; /* recv could not tell it from "nothing waiting" */
    struct pair_frame *f = malloc(sizeof *f + len);
    if (!f)
        return -ENOMEM;
    memcpy(f->data, frame, len);
    f->len = len;
    f->meta = meta ? *meta : (struct ts_frame_meta){0};
    f->at = now + e->sh->latency;

    pthread_mutex_lock(&q->mu);
    if (q->closed || q->count == PAIR_QUEUE_CAP) {
        int closed = q->closed;
        pthread_mutex_unlock(&q->mu);
        free(f);
        /* A wire with nobody at the other end just loses the frame; a full queue is congestion. */
        return closed ? 0 : -EAGAIN;
    }
    if (f->at < q->last_at)
        f->at = q->last_at;
    q->last_at = f->at;
    q->ring[(q->head + q->count) % PAIR_QUEUE_CAP] = f;
    q->count++;
    efd_signal(q);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static int pair_recv(struct ts_driver *d, uint8_t *buf, size_t cap, struct ts_frame_meta *meta,
                     ts_time_t now)
{
    struct pair_end *e = end_of(d);
    struct pair_queue *q = &e->sh->q[e->idx];
    int ret = 0;

    pthread_mutex_lock(&q->mu);
    if (q->count > 0 && q->ring[q->head]->at <= now) {
        struct pair_frame *f = q->ring[q->head];
        q->ring[q->head] = NULL;
        q->head = (q->head + 1) % PAIR_QUEUE_CAP;
        q->count--;
        if (f->len > cap) {
            ret = -EMSGSIZE; /* the frame is dropped so that the reader cannot get stuck on it */
        } else {
            memcpy(buf, f->data, f->len);
            *meta = f->meta;
            ret = (int)f->len;
        }
        free(f);
    }
    /* Readable only while something is receivable now; a delayed frame is announced by
     * next_deadline instead, so a loop sleeps until then rather than spinning. */
    if (q->count == 0 || q->ring[q->head]->at > now)
        efd_clear(q);
    pthread_mutex_unlock(&q->mu);
    return ret;
}

static int pair_fd(struct ts_driver *d)
{
    struct pair_end *e = end_of(d);
    return e->sh->q[e->idx].efd;
}

static ts_time_t pair_next_deadline(struct ts_driver *d, ts_time_t now)
{
    (void)now;
    struct pair_end *e = end_of(d);
    struct pair_queue *q = &e->sh->q[e->idx];
    ts_time_t t = TS_TIME_NEVER;
    pthread_mutex_lock(&q->mu);
    if (q->count > 0)
        t = q->ring[q->head]->at;
    pthread_mutex_unlock(&q->mu);
    return t;
}

static unsigned pair_offloads(struct ts_driver *d)
{
    return end_of(d)->offloads;
}

static void queue_drain(struct pair_queue *q)
{
    while (q->count > 0) {
        free(q->ring[q->head]);
        q->ring[q->head] = NULL;
        q->head = (q->head + 1) % PAIR_QUEUE_CAP;
        q->count--;
    }
}

static void pair_destroy(struct ts_driver *d)
{
    struct pair_end *e = end_of(d);
    struct pair_shared *sh = e->sh;
    struct pair_queue *q = &sh->q[e->idx];

    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    queue_drain(q);
    pthread_mutex_unlock(&q->mu);

    pthread_mutex_lock(&sh->ref_mu);
    int last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->ref_mu);
    free(e);
    if (!last)
        return;
    for (int i = 0; i < 2; i++) {
        queue_drain(&sh->q[i]);
        close(sh->q[i].efd);
        pthread_mutex_destroy(&sh->q[i].mu);
    }
    pthread_mutex_destroy(&sh->ref_mu);
    free(sh);
}

static const struct ts_driver_ops pair_ops = {
    .send = pair_send,
    .recv = pair_recv,
    .fd = pair_fd,
    .next_deadline = pair_next_deadline,
    .offloads = pair_offloads,
    .destroy = pair_destroy,
};

void ts_pair_create(struct ts_driver **a, struct ts_driver **b, ts_time_t latency)
{
    *a = *b = NULL;
    struct pair_shared *sh = calloc(1, sizeof *sh);
    struct pair_end *ends[2] = {calloc(1, sizeof(struct pair_end)),
                                calloc(1, sizeof(struct pair_end))};
    if (!sh || !ends[0] || !ends[1])
        goto fail;
    sh->q[0].efd = sh->q[1].efd = -1;
    for (int i = 0; i < 2; i++) {
        sh->q[i].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (sh->q[i].efd < 0)
            goto fail;
    }
    for (int i = 0; i < 2; i++)
        pthread_mutex_init(&sh->q[i].mu, NULL);
    pthread_mutex_init(&sh->ref_mu, NULL);
    sh->latency = latency;
    sh->refs = 2;
    for (int i = 0; i < 2; i++) {
        ends[i]->sh = sh;
        ends[i]->idx = i;
        ends[i]->drv.ops = &pair_ops;
        ends[i]->drv.name = "pair";
        ends[i]->drv.priv = ends[i];
    }
    *a = &ends[0]->drv;
    *b = &ends[1]->drv;
    return;
fail:
    if (sh) {
        for (int i = 0; i < 2; i++)
            if (sh->q[i].efd >= 0)
                close(sh->q[i].efd);
    }
    free(sh);
    free(ends[0]);
    free(ends[1]);
}

void ts_pair_set_offloads(struct ts_driver *d, unsigned offloads)
{
    if (d && d->ops == &pair_ops)
        end_of(d)->offloads = offloads;
}

size_t ts_pair_pending(struct ts_driver *d)
{
    if (!d || d->ops != &pair_ops)
        return 0;
    struct pair_end *e = end_of(d);
    struct pair_queue *q = &e->sh->q[e->idx];
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}
