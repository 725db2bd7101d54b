/* Bulk transfer between two stacks on the pair link: 8 MB each way at the same
 * time, once over a link that drops, duplicates, reorders and corrupts frames
 * at random (fixed seed), once over a clean link where the number of segments
 * must be reasonable. Every received byte is compared with the sender's stream
 * (a position-keyed pattern, so a lost, repeated or shifted block is caught),
 * and both connections close cleanly (FIN both ways, no RST). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"

#define MB    (1024u * 1024u)
#define TOTAL (8u * MB)
#define PORT  5001
#define CHUNK 65536

struct side {
    struct ts_tcp_conn *c;
    uint64_t sent, rcvd;
    bool shut, eof, closed;
    uint64_t total;      /* bytes this side sends */
    uint64_t read_rate;  /* bytes it reads per virtual ms (0 = as fast as it can) */
    ts_time_t last_read; /* time the rate budget was last computed */
    unsigned stream_out, stream_in;
    uint64_t mismatch_at; /* first wrong byte + 1, 0 = none */
};

struct xfer {
    struct th_net n;
    struct ts_tcp_conn *listener;
    struct side a, b;
    /* trace of both stacks: final state per side and RST/state counts */
    char path_a[512], path_b[512];
    /* data segments seen on the wire (spy), by sender */
    uint64_t data_segs[2], small_segs[2], pure_acks[2], zero_wnd[2];
    /* B's window below half of an 8 KB buffer, in raw (scaled-down) units; 0 = not known yet */
    uint32_t small_wnd_raw;
    uint64_t small_wnd_b;
};

static void record(char *path, size_t cap, const struct ts_trace_event *ev)
{
    size_t k = strlen(path);
    if (k + 20 < cap)
        snprintf(path + k, cap - k, "%s%s", k ? " " : "", ts_tcp_state_name(ev->to));
}

static void trace_a(void *arg, const struct ts_trace_event *ev)
{
    struct xfer *x = arg;
    if (ev->lport != PORT && ev->rport == PORT)
        record(x->path_a, sizeof(x->path_a), ev);
}

static void trace_b(void *arg, const struct ts_trace_event *ev)
{
    struct xfer *x = arg;
    if (ev->lport == PORT && ev->rport != 0)
        record(x->path_b, sizeof(x->path_b), ev);
}

static void spy(void *arg, enum th_side from, const uint8_t *frame, size_t len, ts_time_t now)
{
    (void)now;
    struct xfer *x = arg;
    struct tcp_hdr h;
    if (!th_parse_tcp(frame, len, &h))
        return;
    if (h.wnd == 0 && !(h.flags & (TCP_SYN | TCP_RST)))
        x->zero_wnd[from]++;
    if (from == TH_B && x->small_wnd_raw && h.wnd < x->small_wnd_raw && !(h.flags & TCP_SYN))
        x->small_wnd_b++;
    if (h.payload_len) {
        x->data_segs[from]++;
        if (h.payload_len < 1000)
            x->small_segs[from]++;
    } else if (h.flags == TCP_ACK) {
        x->pure_acks[from]++;
    }
}

/* Application work for one side: write what fits, read what is there, check
 * every byte. */
static bool pump_side(struct side *s, uint64_t now)
{
    static uint8_t buf[CHUNK], want[CHUNK];
    bool progress = false;
    if (!s->c)
        return false;
    while (s->sent < s->total) {
        size_t n = s->total - s->sent < CHUNK ? (size_t)(s->total - s->sent) : CHUNK;
        tf_fill(buf, n, s->stream_out, s->sent);
        ssize_t k = ts_tcp_send(s->c, buf, n, now);
        if (k <= 0)
            break;
        s->sent += (uint64_t)k;
        progress = true;
    }
    if (s->sent == s->total && !s->shut) {
        ck_assert_int_eq(ts_tcp_shutdown_write(s->c, now), 0);
        s->shut = true;
        progress = true;
    }
    size_t budget = sizeof(buf);
    if (s->read_rate) {
        /* A slow reader: a budget that grows with virtual time. */
        if (!s->last_read)
            s->last_read = now;
        uint64_t b = (now - s->last_read) / TS_MS * s->read_rate;
        if (b == 0)
            return progress;
        s->last_read += b / s->read_rate * TS_MS;
        budget = b < sizeof(buf) ? (size_t)b : sizeof(buf);
    }
    for (;;) {
        ssize_t k = ts_tcp_recv(s->c, buf, budget, now);
        if (k == 0 && !s->eof) {
            s->eof = true;
            progress = true;
        }
        if (k <= 0)
            break;
        tf_fill(want, (size_t)k, s->stream_in, s->rcvd);
        if (!s->mismatch_at && memcmp(buf, want, (size_t)k) != 0) {
            size_t i = 0;
            while (buf[i] == want[i])
                i++;
            s->mismatch_at = s->rcvd + i + 1;
        }
        s->rcvd += (uint64_t)k;
        progress = true;
        if (s->read_rate)
            break; /* one read per budget */
    }
    return progress;
}

static bool pump(struct xfer *x)
{
    if (!x->b.c) {
        x->b.c = ts_tcp_accept(x->listener);
        if (!x->b.c)
            return false;
        struct ts_tcp_info in;
        ts_tcp_get_info(x->b.c, &in, x->n.now);
        x->small_wnd_raw = 4096u >> in.rcv_wscale;
    }
    bool p = pump_side(&x->a, x->n.now);
    p |= pump_side(&x->b, x->n.now);
    return p;
}

static bool all_done(const struct xfer *x)
{
    return x->a.eof && x->b.eof && x->a.shut && x->b.shut;
}

/* Run events until the transfer is done or max virtual time passed. The app
 * gets to act after every event, and whatever it sends is delivered before the
 * clock moves on. */
static bool run_transfer(struct xfer *x, ts_time_t max)
{
    ts_time_t end = x->n.now + max;
    for (;;) {
        ts_time_t next;
        do
            next = th_settle(&x->n);
        while (pump(x));
        if (all_done(x))
            return true;
        if (x->a.mismatch_at || x->b.mismatch_at)
            return false;
        if (next > end)
            return false;
        x->n.now = next;
    }
}

static void setup_ex(struct xfer *x, const struct ts_fault_config *fault,
                     const struct ts_config *cfg_b, uint64_t total_a, uint64_t total_b)
{
    memset(x, 0, sizeof(*x));
    struct th_net_opts o = {.latency = 100 * TS_US, .fault_a = fault, .cfg_b = cfg_b};
    th_net_init_ex(&x->n, &o);
    x->n.spy = spy;
    x->n.spy_arg = x;
    ts_stack_set_trace(x->n.a, trace_a, x);
    ts_stack_set_trace(x->n.b, trace_b, x);
    int err = 0;
    struct ts_tcp_opts oa, ob;
    ts_tcp_opts_default(x->n.a, &oa);
    ts_tcp_opts_default(x->n.b, &ob);
    x->listener = ts_tcp_listen(x->n.b, 0, PORT, 8, &ob, &err, x->n.now);
    ck_assert_msg(x->listener != NULL, "listen: %d", err);
    x->a.c = ts_tcp_connect(x->n.a, 0, 0, TH_IP_B, PORT, &oa, &err, x->n.now);
    ck_assert_msg(x->a.c != NULL, "connect: %d", err);
    x->a.stream_out = x->b.stream_in = 11;
    x->b.stream_out = x->a.stream_in = 12;
    x->a.total = total_a;
    x->b.total = total_b;
}

static void setup(struct xfer *x, const struct ts_fault_config *fault)
{
    setup_ex(x, fault, NULL, TOTAL, TOTAL);
}

/* Both sides read EOF: close both and let the stacks finish; no RST, both end
 * in CLOSE. */
/* strict: no RST sent at all. Over a link that duplicates and delays frames a late copy of a
 * segment may reach a side whose connection is already gone and draw a RST (RFC 9293 3.10.7.1,
 * correct behaviour); what matters is that no connection was reset by one. */
static void close_cleanly(struct xfer *x, bool strict)
{
    ts_tcp_close(x->a.c, x->n.now);
    ts_tcp_close(x->b.c, x->n.now);
    x->a.c = x->b.c = NULL;
    th_run(&x->n, 5 * 60 * TS_SEC); /* TIME_WAIT included */
    if (strict) {
        ck_assert_uint_eq(ts_stack_counter(x->n.a, TS_C_TCP_RST_SENT), 0);
        ck_assert_uint_eq(ts_stack_counter(x->n.b, TS_C_TCP_RST_SENT), 0);
    }
    ck_assert_uint_eq(ts_stack_counter(x->n.a, TS_C_TCP_RST_RX), 0);
    ck_assert_uint_eq(ts_stack_counter(x->n.b, TS_C_TCP_RST_RX), 0);
    /* Both saw FIN-based closes, and everything is freed. */
    ck_assert_msg(strstr(x->path_a, "ESTABLISHED") && strstr(x->path_a, "CLOSE"), "A: %s",
                  x->path_a);
    ck_assert_msg(strstr(x->path_b, "ESTABLISHED") && strstr(x->path_b, "CLOSE"), "B: %s",
                  x->path_b);
    ck_assert_msg(strstr(x->path_a, "FIN_WAIT1") || strstr(x->path_a, "LAST_ACK"), "A: %s",
                  x->path_a);
    ck_assert_msg(strstr(x->path_b, "FIN_WAIT1") || strstr(x->path_b, "LAST_ACK"), "B: %s",
                  x->path_b);
    ck_assert_uint_eq(ts_tcp_table(x->n.a, NULL, 0, x->n.now), 0);
    ck_assert_uint_eq(ts_tcp_table(x->n.b, NULL, 0, x->n.now), 1); /* the listener */
    ts_tcp_close(x->listener, x->n.now);
    x->listener = NULL;
}

START_TEST(test_8mb_each_way_over_lossy_duplicating_reordering_link_byte_identical)
{
    static struct xfer x;
    struct ts_fault_config fc = {
        /* 5% loss each way: enough for timeouts to hit retransmissions too (the go-back-N
         * ACK deadlock fixed in tcp_send_ack only showed from about 5%). */
        .in = {.drop = 0.05, .dup = 0.02, .reorder = 0.05, .corrupt = 0.005},
        .out = {.drop = 0.05, .dup = 0.02, .reorder = 0.05, .corrupt = 0.005},
        .seed = 20261123,
    };
    setup(&x, &fc);
    bool ok = run_transfer(&x, 60 * 60 * TS_SEC);
    ck_assert_msg(!x.a.mismatch_at, "A received a wrong byte at offset %llu",
                  (unsigned long long)x.a.mismatch_at - 1);
    ck_assert_msg(!x.b.mismatch_at, "B received a wrong byte at offset %llu",
                  (unsigned long long)x.b.mismatch_at - 1);
    ck_assert_msg(ok, "transfer incomplete: A sent %llu rcvd %llu, B sent %llu rcvd %llu",
                  (unsigned long long)x.a.sent, (unsigned long long)x.a.rcvd,
                  (unsigned long long)x.b.sent, (unsigned long long)x.b.rcvd);
    ck_assert_uint_eq(x.a.rcvd, TOTAL);
    ck_assert_uint_eq(x.b.rcvd, TOTAL);
    /* The faults really happened, and the stacks really recovered from them. */
    struct ts_fault_stats st;
    ck_assert_int_eq(ts_fault_stats(x.n.fault_a, &st), 0);
    ck_assert_uint_gt(st.dropped, 100);
    ck_assert_uint_gt(st.duplicated, 50);
    ck_assert_uint_gt(st.reordered, 100);
    ck_assert_uint_gt(st.corrupted, 5);
    ck_assert_uint_gt(ts_stack_counter(x.n.a, TS_C_TCP_RETRANSMIT) +
                          ts_stack_counter(x.n.b, TS_C_TCP_RETRANSMIT),
                      100);
    ck_assert_uint_gt(ts_stack_counter(x.n.a, TS_C_TCP_DUP_DATA_RX) +
                          ts_stack_counter(x.n.b, TS_C_TCP_DUP_DATA_RX),
                      0);
    ck_assert_uint_gt(ts_stack_counter(x.n.a, TS_C_TCP_OOO_QUEUED) +
                          ts_stack_counter(x.n.b, TS_C_TCP_OOO_QUEUED),
                      0);
    close_cleanly(&x, false);
    th_net_free(&x.n);
}
END_TEST

START_TEST(test_8mb_each_way_over_clean_link_uses_full_segments_and_no_retransmissions)
{
    static struct xfer x;
    setup(&x, NULL);
    ck_assert(run_transfer(&x, 10 * 60 * TS_SEC));
    ck_assert(!x.a.mismatch_at && !x.b.mismatch_at);
    ck_assert_uint_eq(x.a.rcvd, TOTAL);
    ck_assert_uint_eq(x.b.rcvd, TOTAL);
    ck_assert_uint_eq(ts_stack_counter(x.n.a, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_eq(ts_stack_counter(x.n.b, TS_C_TCP_RETRANSMIT), 0);
    /* Efficiency: data goes in full-sized segments (a few short ones at the edges
     * are fine), and there is at most one pure ACK per data segment received. */
    uint64_t min_segs = (TOTAL + 1459) / 1460;
    for (int s = 0; s < 2; s++) {
        ck_assert_msg(x.data_segs[s] >= min_segs && x.data_segs[s] <= min_segs + min_segs / 50,
                      "side %d: %llu data segments for %u bytes", s,
                      (unsigned long long)x.data_segs[s], TOTAL);
        ck_assert_msg(x.small_segs[s] <= 64, "side %d: %llu small data segments", s,
                      (unsigned long long)x.small_segs[s]);
        ck_assert_msg(x.pure_acks[s] <= x.data_segs[1 - s] + 16, "side %d: %llu pure ACKs", s,
                      (unsigned long long)x.pure_acks[s]);
    }
    close_cleanly(&x, true);
    th_net_free(&x.n);
}
END_TEST

/* Flow control under loss: a receiver with an 8 KB buffer that reads slowly keeps closing the
 * window; zero windows, persist probes and window updates get lost too, and still the 2 MB arrive
 * intact and nobody gives up. */
START_TEST(test_2mb_into_small_slow_receiver_over_lossy_link)
{
    static struct xfer x;
    struct ts_config cb;
    th_config(&cb, TH_B);
    cb.tcp_rcvbuf = 8192;
    struct ts_fault_config fc = {
        .in = {.drop = 0.03, .dup = 0.01, .reorder = 0.02},
        .out = {.drop = 0.03, .dup = 0.01, .reorder = 0.02},
        .seed = 7,
    };
    setup_ex(&x, &fc, &cb, 2 * MB, 1000);
    x.b.read_rate = 512; /* 512 KB/s of virtual time: the buffer fills all the time */
    bool ok = run_transfer(&x, 60 * 60 * TS_SEC);
    ck_assert_msg(!x.b.mismatch_at, "B received a wrong byte at offset %llu",
                  (unsigned long long)x.b.mismatch_at - 1);
    ck_assert_msg(ok, "incomplete: B rcvd %llu of %u", (unsigned long long)x.b.rcvd, 2 * MB);
    ck_assert_uint_eq(x.b.rcvd, 2 * MB);
    ck_assert_uint_eq(x.a.rcvd, 1000);
    /* The receiver's window really held the sender back: it was under half the buffer again
     * and again (sender SWS avoidance means it rarely has to close completely). */
    ck_assert_uint_gt(x.small_wnd_b, 100);
    ck_assert_uint_eq(x.zero_wnd[TH_A], 0);
    close_cleanly(&x, false);
    th_net_free(&x.n);
}
END_TEST

static Suite *tcp_transfer_suite(void)
{
    Suite *s = suite_create("tcp_transfer");
    TCase *tc = tcase_create("transfer");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_8mb_each_way_over_clean_link_uses_full_segments_and_no_retransmissions);
    tcase_add_test(tc, test_8mb_each_way_over_lossy_duplicating_reordering_link_byte_identical);
    tcase_add_test(tc, test_2mb_into_small_slow_receiver_over_lossy_link);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_transfer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
