/* TCP over a link with offloads (issue 11): super-segments of new data cut at the MSS, a tail
 * piece held back while a small segment is out (Nagle), what is lost resent per MSS as SACK says, a
 * received super-segment with a partial checksum taken as one segment and ACKed once, and one ACK
 * per batch of frames read at one wake-up. The raw peer (tcp_fixture.h) plays the host. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "wire/be.h"
#include "wire/checksum.h"

#define ALL_OFFLOADS (TS_OFFLOAD_CSUM | TS_OFFLOAD_TSO4)

static uint8_t data[256 * 1024];

static void fill(void)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i % 251);
}

/* Established with SACK permitted (no timestamps: room = MSS = 1460), the peer's window 64 KiB
 * scaled by 2^4. */
static void establish(struct tf *f, bool ts)
{
    fill();
    tf_init_offload(f, ALL_OFFLOADS);
    f->peer_syn_opts.sack_perm = true;
    f->peer_syn_opts.ws_ok = true;
    f->peer_syn_opts.ws = 4;
    f->peer_ts = ts;
    tf_establish(f);
}

/* The peer ACKs ack, SACKing [l1, r1) and (if r2) [l2, r2). */
static void ack_sack(struct tf *f, uint32_t ack, uint32_t l1, uint32_t r1, uint32_t l2, uint32_t r2)
{
    struct tcp_hdr h = tf_hdr(f, TCP_ACK, f->peer_nxt, ack);
    h.opts.nsack = 0;
    if (r1)
        h.opts.sack[h.opts.nsack++] = (struct tcp_sack_block){l1, r1};
    if (r2)
        h.opts.sack[h.opts.nsack++] = (struct tcp_sack_block){l2, r2};
    tf_send_hdr(f, &h);
}

START_TEST(test_new_data_leaves_as_one_super_segment_cut_at_the_mss)
{
    struct tf f;
    establish(&f, false);
    uint32_t start = f.stack_nxt;
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 100000, f.now), 100000);
    /* The initial window (RFC 6928: 10 segments of 1460) goes out as one segment of 10 pieces. */
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, start, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 10 * TF_MSS);
    ck_assert_uint_eq(sg->gso_size, TF_MSS);
    ck_assert(sg->df);
    ck_assert_mem_eq(sg->h.payload, data, 10 * TF_MSS);
    tf_expect_nothing(&f);
    /* Its ACK opens cwnd by two of our segments' worth (slow start, RFC 3465 L = 2): all of it. */
    f.stack_nxt = start + 10 * TF_MSS;
    tf_send_ack(&f);
    sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, start + 10 * TF_MSS);
    ck_assert_uint_eq(sg->h.payload_len % TF_MSS, 0);
    ck_assert_uint_ge(sg->h.payload_len, 20 * TF_MSS);
    ck_assert_uint_eq(sg->gso_size, TF_MSS);
    tf_free(&f);
}
END_TEST

START_TEST(test_timestamps_ride_on_the_super_segment_and_the_pieces_are_mss_less_options)
{
    struct tf f;
    establish(&f, true);
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 50000, f.now), 50000);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert(sg->h.opts.ts_ok);
    ck_assert_uint_eq(sg->gso_size, TF_MSS - 12); /* RFC 7323: 12 bytes of the options space */
    ck_assert_uint_eq(sg->h.payload_len % sg->gso_size, 0);
    tf_free(&f);
}
END_TEST

START_TEST(test_the_partial_last_piece_waits_only_while_a_small_segment_is_out)
{
    struct tf f;
    establish(&f, false);
    uint32_t start = f.stack_nxt;
    /* No small segment is out: the 80-byte tail goes with the full pieces, one super-segment
     * (Minshall's Nagle, as Linux's; RFC 1122 4.2.3.4). */
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 2 * TF_MSS + 80, f.now), 2 * TF_MSS + 80);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK | TCP_PSH, start, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 2 * TF_MSS + 80);
    ck_assert_uint_eq(sg->gso_size, TF_MSS);
    ck_assert_mem_eq(sg->h.payload, data, 2 * TF_MSS + 80);
    /* That tail is out, unacknowledged: the next write's full pieces go, its 80-byte tail waits
     * for the ACK as a small segment would. */
    start += 2 * TF_MSS + 80;
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 2 * TF_MSS + 80, f.now), 2 * TF_MSS + 80);
    sg = tf_expect(&f, TCP_ACK, start, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 2 * TF_MSS);
    ck_assert_uint_eq(sg->gso_size, TF_MSS);
    ck_assert(!(sg->h.flags & TCP_PSH)); /* not the last queued byte */
    tf_expect_nothing(&f);
    /* The ACK of the first tail (not yet of the full pieces) lets the second one go. */
    tf_send(&f, TCP_ACK, f.peer_nxt, start, NULL, 0);
    sg = tf_expect(&f, TCP_ACK | TCP_PSH, start + 2 * TF_MSS, f.peer_nxt);
    ck_assert_uint_eq(sg->h.payload_len, 80);
    ck_assert_uint_eq(sg->gso_size, 0);
    tf_free(&f);
}
END_TEST

START_TEST(test_after_frag_needed_the_pieces_follow_the_lower_path_mtu)
{
    struct tf f;
    establish(&f, false);
    /* RFC 1191: a router on the path takes 1000 bytes; the MSS falls to 1000 - 40 and a
     * super-segment's pieces with it (each goes out with DF, fitting the path). */
    tf_send_icmp_unreach_mtu(&f, ICMP_UNREACH_NEEDFRAG, 1000, f.stack_nxt);
    uint32_t start = f.stack_nxt;
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 50000, f.now), 50000);
    struct tf_seg *sg = tf_expect(&f, TCP_ACK, start, f.peer_nxt);
    ck_assert_uint_eq(sg->gso_size, 960);
    ck_assert_uint_eq(sg->h.payload_len % 960, 0);
    ck_assert(sg->df);
    tf_free(&f);
}
END_TEST

START_TEST(test_pieces_lost_from_a_super_segment_are_resent_one_mss_each_as_sack_says)
{
    struct tf f;
    establish(&f, false);
    uint32_t a = f.stack_nxt;
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 10 * TF_MSS, f.now), 10 * TF_MSS);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.payload_len, 10 * TF_MSS);
    /* The link lost pieces 0 and 5 of the ten: the peer holds 1-4 and 6-9. */
    uint64_t rxt0 = ts_stack_counter(f.s, TS_C_TCP_RETRANSMIT);
    ack_sack(&f, a, a + TF_MSS, a + 5 * TF_MSS, a + 6 * TF_MSS, a + 10 * TF_MSS);
    /* RFC 6675: more than DupThresh segments SACKed above the hole: it is lost; resent alone. */
    sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, a);
    ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
    ck_assert_uint_eq(sg->gso_size, 0);
    ck_assert_mem_eq(sg->h.payload, data, TF_MSS);
    /* The other hole goes too, as the pipe allows, one MSS; nothing that was SACKed is resent. */
    sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, a + 5 * TF_MSS);
    ck_assert_uint_eq(sg->h.payload_len, TF_MSS);
    ck_assert_mem_eq(sg->h.payload, data + 5 * TF_MSS, TF_MSS);
    while ((sg = tf_next(&f)) != NULL) {
        uint32_t off = sg->h.seq - a;
        ck_assert_msg(
            !((off >= TF_MSS && off < 5 * TF_MSS) || (off >= 6 * TF_MSS && off < 10 * TF_MSS)),
            "resent SACKed data at %u", off);
    }
    ck_assert_uint_eq(ts_stack_counter(f.s, TS_C_TCP_RETRANSMIT) - rxt0, 2);
    /* Both repaired: everything is acknowledged and recovery ends. */
    f.stack_nxt = a + 10 * TF_MSS;
    tf_send_ack(&f);
    struct ts_tcp_info info;
    ts_tcp_get_info(f.conn, &info, f.now);
    ck_assert_uint_eq(info.snd_una, info.snd_nxt);
    ck_assert_uint_eq(info.send_queued, 0);
    tf_free(&f);
}
END_TEST

/* A super-segment from the peer as the host's kernel hands it over: the TCP checksum field holds
 * the pseudo-header sum only. */
static size_t peer_super_segment(struct tf *f, uint32_t seq, size_t n, uint8_t *frame,
                                 struct ts_frame_meta *m)
{
    struct tcp_hdr h = tf_hdr(f, TCP_ACK, seq, f->stack_nxt);
    h.payload = data;
    h.payload_len = n;
    static uint8_t seg[IPV4_MAX_LEN];
    size_t tl = tf_build_tcp(&h, seg, sizeof seg);
    ck_assert_uint_gt(tl, 0);
    be16_put(seg + TCP_OFF_CSUM, (uint16_t)~csum_fold(csum_pseudo(TF_PEER_IP, TF_STACK_IP,
                                                                  IP_PROTO_TCP, (uint16_t)tl)));
    struct ipv4_hdr ip = th_ipv4_hdr(TF_PEER_IP, TF_STACK_IP, IP_PROTO_TCP, seg, tl);
    ip.df = true;
    size_t len = th_build_ipv4(frame, TS_FRAME_MAX, f->cfg.mac, th_mac_a, &ip);
    ck_assert_uint_gt(len, 0);
    *m = (struct ts_frame_meta){.gso = TS_GSO_TCPV4,
                                .csum = TS_CSUM_PARTIAL,
                                .gso_size = TF_MSS,
                                .hdr_len = (uint16_t)(len - n),
                                .csum_start = ETH_HDR_LEN + IPV4_HDR_LEN,
                                .csum_offset = 16};
    return len;
}

START_TEST(test_received_super_segment_with_partial_checksum_is_one_segment_acked_once)
{
    struct tf f;
    establish(&f, false);
    static uint8_t frame[TS_FRAME_MAX];
    struct ts_frame_meta m;
    size_t len = peer_super_segment(&f, f.peer_nxt, 40000, frame, &m);
    ts_stack_input_meta(f.s, frame, len, &m, f.now);
    f.peer_nxt += 40000;
    ck_assert_uint_eq(ts_stack_counter(f.s, TS_C_TCP_DROP_BAD_CSUM), 0);
    /* One segment, more than two full-sized ones' worth: ACKed at once, and only once. */
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    static uint8_t got[40000];
    ck_assert_int_eq(ts_tcp_recv(f.conn, got, sizeof got, f.now), 40000);
    ck_assert_mem_eq(got, data, 40000);
    tf_free(&f);
}
END_TEST

/* n in-order segments of the peer queued on the link, then one ts_stack_step takes them all. */
static void burst(struct tf *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct tcp_hdr h = tf_hdr(f, TCP_ACK, f->peer_nxt, f->stack_nxt);
        h.payload = data;
        h.payload_len = TF_MSS;
        static uint8_t seg[2048], frame[2048];
        size_t tl = tf_build_tcp(&h, seg, sizeof seg);
        struct ipv4_hdr ip = th_ipv4_hdr(TF_PEER_IP, TF_STACK_IP, IP_PROTO_TCP, seg, tl);
        size_t len = th_build_ipv4(frame, sizeof frame, f->cfg.mac, th_mac_a, &ip);
        ck_assert_int_eq(ts_driver_send(f->peer_drv, frame, len, f->now), 0);
        f->peer_nxt += TF_MSS;
    }
    ts_stack_step(f->s, f->now);
}

START_TEST(test_a_burst_read_at_one_wake_up_is_acked_once_at_its_end)
{
    struct tf f;
    establish(&f, false);
    burst(&f, 20); /* 29200 bytes: one ACK for all of it */
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    /* A longer one: an ACK at least every 64 KiB of it (as a GRO super-segment), the last at its
     * end. */
    burst(&f, 100);
    uint32_t prev = f.peer_nxt - 100 * TF_MSS;
    unsigned acks = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f)) != NULL) {
        ck_assert_uint_le(sg->h.ack - prev, 65536 + TF_MSS);
        prev = sg->h.ack;
        acks++;
    }
    ck_assert_uint_eq(prev, f.peer_nxt);
    ck_assert_uint_ge(acks, 3);
    ck_assert_uint_le(acks, 4);
    tf_free(&f);
}
END_TEST

START_TEST(test_a_writer_blocked_on_a_full_buffer_hears_writable_once_half_is_free)
{
    fill();
    struct tf f;
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_sndbuf = 20000;
    tf_init_cfg(&f, &cfg);
    tf_establish(&f);
    uint32_t start = f.stack_nxt;
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 30000, f.now), 20000); /* full */
    ck_assert_int_eq(ts_tcp_send(f.conn, data, 1, f.now), -EAGAIN);
    tf_flush(&f);
    f.events = 0;
    /* ACKs that free less than half the buffer: no wake-up for a few bytes of room. */
    f.stack_nxt = start + 4000;
    tf_send_ack(&f);
    f.stack_nxt = start + 9000;
    tf_send_ack(&f);
    ck_assert_uint_eq(ts_tcp_writable(f.conn), 9000);
    ck_assert(!(f.events & TS_TCP_EV_WRITABLE));
    /* Over half: told once (as Linux's SOCK_NOSPACE), then at every ACK as before. */
    f.stack_nxt = start + 10000;
    tf_send_ack(&f);
    ck_assert(f.events & TS_TCP_EV_WRITABLE);
    f.events = 0;
    f.stack_nxt = start + 11000;
    tf_send_ack(&f);
    ck_assert(f.events & TS_TCP_EV_WRITABLE);
    tf_free(&f);
}
END_TEST

/* ---- two stacks on a link that passes super-segments whole ---- */

struct two {
    struct th_net n;
    unsigned gso_from_a, dropped;
    unsigned drop_nth; /* lose A's drop_nth-th super-segment (1 = the first), 0 = none */
    uint32_t high;     /* the highest sequence number A sent so far (end of data) */
    bool high_set;
    unsigned rxt_frames, rxt_too_big; /* A's segments below high; those over one MSS */
};

static void two_spy(void *arg, enum th_side from, const uint8_t *frame, size_t len, ts_time_t now)
{
    (void)arg, (void)from, (void)frame, (void)len, (void)now;
}

static bool two_drop(void *arg, enum th_side from, const uint8_t *frame, size_t len,
                     const struct ts_frame_meta *m)
{
    struct two *t = arg;
    struct ipv4_hdr ip;
    struct tcp_hdr h;
    if (from != TH_A || len < ETH_HDR_LEN ||
        ipv4_parse(frame + ETH_HDR_LEN, len - ETH_HDR_LEN, &ip) != TS_C_OK ||
        ip.proto != IP_PROTO_TCP ||
        tcp_parse_ex(ip.payload, ip.payload_len, ip.src, ip.dst, false, &h) != TS_C_OK ||
        h.payload_len == 0)
        return false;
    uint32_t end = h.seq + (uint32_t)h.payload_len;
    if (t->high_set && (int32_t)(h.seq - t->high) < 0) {
        t->rxt_frames++;
        if (h.payload_len > TF_MSS || (m && m->gso != TS_GSO_NONE))
            t->rxt_too_big++;
    }
    if (!t->high_set || (int32_t)(end - t->high) > 0)
        t->high = end, t->high_set = true;
    if (m && m->gso == TS_GSO_TCPV4 && ++t->gso_from_a == t->drop_nth) {
        t->dropped = (unsigned)((h.payload_len + m->gso_size - 1) / m->gso_size);
        return true;
    }
    return false;
}

/* The app side of the transfer: A writes what fits, B reads and checks what came. */
struct app {
    struct ts_tcp_conn *l, *a, *b;
    size_t total, sent, got;
    bool bad;
};

static bool app_pump(struct app *p, ts_time_t now)
{
    static uint8_t buf[65536];
    bool progress = false;
    if (!p->b && (p->b = ts_tcp_accept(p->l)) != NULL)
        progress = true;
    while (p->sent < p->total) {
        size_t off = p->sent % 65536, k = 65536 - off;
        if (k > p->total - p->sent)
            k = p->total - p->sent;
        ssize_t w = ts_tcp_send(p->a, data + off, k, now);
        if (w <= 0)
            break;
        p->sent += (size_t)w;
        progress = true;
    }
    ssize_t r;
    while (p->b && (r = ts_tcp_recv(p->b, buf, sizeof buf, now)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            p->bad |= buf[i] != (uint8_t)(((p->got + (size_t)i) % 65536) % 251);
        p->got += (size_t)r;
        progress = true;
    }
    return progress;
}

/* A sends total bytes of the pattern to B; true when all arrived intact within max. */
static bool two_transfer(struct two *t, size_t total, ts_time_t max)
{
    struct th_net_opts o = {.latency = 100 * TS_US, .offloads = ALL_OFFLOADS};
    th_net_init_ex(&t->n, &o);
    t->n.spy = two_spy;
    t->n.spy_arg = t;
    t->n.drop = two_drop;
    int err = 0;
    struct app p = {.total = total};
    p.l = ts_tcp_listen(t->n.b, 0, 5001, 4, NULL, &err, t->n.now);
    p.a = ts_tcp_connect(t->n.a, 0, 0, TH_IP_B, 5001, NULL, &err, t->n.now);
    ck_assert(p.l && p.a);
    ts_time_t end = t->n.now + max;
    for (;;) {
        ts_time_t next;
        do
            next = th_settle(&t->n);
        while (app_pump(&p, t->n.now));
        if (p.got == total || p.bad || next > end)
            break;
        t->n.now = next;
    }
    ts_tcp_close(p.a, t->n.now);
    if (p.b)
        ts_tcp_close(p.b, t->n.now);
    ts_tcp_close(p.l, t->n.now);
    return !p.bad && p.got == total;
}

START_TEST(test_two_stacks_move_8_mib_in_super_segments_intact)
{
    fill();
    static struct two t;
    memset(&t, 0, sizeof t);
    ck_assert(two_transfer(&t, 8u << 20, 60 * TS_SEC));
    ck_assert_uint_gt(ts_stack_counter(t.n.a, TS_C_ETH_TX_GSO), 0);
    ck_assert_uint_eq(ts_stack_counter(t.n.b, TS_C_ETH_RX_GSO),
                      ts_stack_counter(t.n.a, TS_C_ETH_TX_GSO));
    ck_assert_uint_eq(ts_stack_counter(t.n.a, TS_C_TCP_RETRANSMIT), 0);
    ck_assert_uint_eq(ts_stack_counter(t.n.b, TS_C_TCP_DROP_BAD_CSUM), 0);
    th_net_free(&t.n);
}
END_TEST

START_TEST(test_a_lost_super_segment_is_resent_as_the_mss_pieces_sack_says_are_missing)
{
    fill();
    static struct two t;
    memset(&t, 0, sizeof t);
    t.drop_nth = 6; /* well into the transfer, with later super-segments behind it */
    ck_assert(two_transfer(&t, 8u << 20, 60 * TS_SEC));
    ck_assert_uint_gt(t.dropped, 1);
    /* What was lost came again, one MSS per segment, and nothing much more. */
    ck_assert_uint_eq(t.rxt_too_big, 0);
    ck_assert_uint_ge(t.rxt_frames, t.dropped);
    ck_assert_uint_le(t.rxt_frames, t.dropped + 4);
    ck_assert_uint_gt(ts_stack_counter(t.n.a, TS_C_TCP_FAST_RETRANSMIT), 0);
    th_net_free(&t.n);
}
END_TEST

static Suite *gso_suite(void)
{
    Suite *s = suite_create("tcp_gso");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_new_data_leaves_as_one_super_segment_cut_at_the_mss);
    tcase_add_test(tc,
                   test_timestamps_ride_on_the_super_segment_and_the_pieces_are_mss_less_options);
    tcase_add_test(tc, test_the_partial_last_piece_waits_only_while_a_small_segment_is_out);
    tcase_add_test(tc, test_after_frag_needed_the_pieces_follow_the_lower_path_mtu);
    tcase_add_test(tc, test_pieces_lost_from_a_super_segment_are_resent_one_mss_each_as_sack_says);
    tcase_add_test(tc, test_received_super_segment_with_partial_checksum_is_one_segment_acked_once);
    tcase_add_test(tc, test_a_burst_read_at_one_wake_up_is_acked_once_at_its_end);
    tcase_add_test(tc, test_a_writer_blocked_on_a_full_buffer_hears_writable_once_half_is_free);
    tcase_add_test(tc, test_two_stacks_move_8_mib_in_super_segments_intact);
    tcase_add_test(tc, test_a_lost_super_segment_is_resent_as_the_mss_pieces_sack_says_are_missing);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gso_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
