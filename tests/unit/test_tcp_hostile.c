/* Hostile segments: malformed headers, impossible flag combinations, bad
 * options, extreme option values, blind attacks (RFC 5961) and floods. Nothing
 * may crash or corrupt the connection, and each drop is counted under its own
 * TS_C_ reason. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_fixture.h"

#define MS  TS_MS
#define SEC TS_SEC

/* After an attack: the connection still works, in sequence, byte for byte. */
static void assert_still_works(struct tf *f)
{
    ck_assert_int_eq(tf_state(f), TS_TCP_ESTABLISHED);
    uint8_t junk[64];
    while (ts_tcp_recv(f->conn, junk, sizeof(junk), f->now) > 0)
        ;
    tf_send_data(f, "still-ok", 8);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f->conn, buf, sizeof(buf), f->now), 8);
    ck_assert_int_eq(memcmp(buf, "still-ok", 8), 0);
    ck_assert_int_eq(ts_tcp_send(f->conn, "back", 4, f->now), 4);
    struct tf_seg *sg = tf_next(f);
    while (sg && sg->h.payload_len == 0)
        sg = tf_next(f);
    ck_assert_ptr_nonnull(sg);
    ck_assert_uint_eq(sg->h.seq, f->stack_nxt);
    ck_assert_int_eq(memcmp(sg->h.payload, "back", 4), 0);
    f->stack_nxt += 4;
    tf_send_ack(f);
    tf_flush(f);
}

/* A raw segment from the peer to the established connection, with data. */
static size_t raw_data_seg(struct tf *f, uint8_t *buf, size_t cap)
{
    struct tcp_hdr h = tf_hdr(f, TCP_ACK | TCP_PSH, f->peer_nxt, f->stack_nxt);
    h.payload = (const uint8_t *)"evil-bytes";
    h.payload_len = 10;
    return tf_build_tcp(&h, buf, cap);
}

START_TEST(test_bad_checksum_dropped_and_counted)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint8_t seg[128];
    size_t n = raw_data_seg(&f, seg, sizeof(seg));
    seg[n - 1] ^= 0x40; /* payload changed, checksum not */
    tf_send_raw(&f, seg, n);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_CSUM), 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

START_TEST(test_bad_data_offset_dropped_and_counted)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint8_t seg[128];
    size_t n = raw_data_seg(&f, seg, sizeof(seg));
    seg[TCP_OFF_DOFF] =
        (uint8_t)((seg[TCP_OFF_DOFF] & 0x0f) | (4 << 4)); /* 16 bytes: less than a header */
    tf_fix_csum(seg, n);
    tf_send_raw(&f, seg, n);
    n = raw_data_seg(&f, seg, sizeof(seg));
    seg[TCP_OFF_DOFF] = (uint8_t)((seg[TCP_OFF_DOFF] & 0x0f) |
                                  (15 << 4)); /* 60 bytes: beyond the 30-byte segment */
    tf_fix_csum(seg, n);
    tf_send_raw(&f, seg, n);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_HDRLEN), 2);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

START_TEST(test_truncated_segment_dropped_and_counted)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint8_t seg[128];
    raw_data_seg(&f, seg, sizeof(seg));
    for (size_t len = 0; len < TCP_HDR_LEN; len += 3)
        tf_send_raw(&f, seg, len);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_TRUNCATED), 7);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* SYN+FIN, SYN+RST and no flags at all are nonsense: dropped, counted, never
 * answered. */
START_TEST(test_syn_fin_and_syn_rst_to_listener_dropped_as_bad_flags)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    tf_send(&f, TCP_SYN | TCP_FIN, 1000, 0, NULL, 0);
    tf_send(&f, TCP_SYN | TCP_RST, 2000, 0, NULL, 0);
    tf_send(&f, TCP_SYN | TCP_FIN | TCP_PSH | TCP_URG, 3000, 0, NULL, 0); /* "christmas tree" */
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_FLAGS), 3);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1); /* no half-open connection */
    ck_assert_str_eq(tf_path(&f), "");
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.1: a closed port answers anything but a RST with a RST, nonsense flags too
 * (as Linux): SYN+FIN gets <SEQ=0><ACK=SEG.SEQ+2><CTL=RST,ACK> (the SYN and the FIN each count
 * one), SYN+RST nothing; and a SYN to port 0 is answered as to any closed port. */
START_TEST(test_syn_fin_to_closed_port_gets_rst_ack_and_syn_rst_nothing)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    f.lport = 9999;
    tf_send(&f, TCP_SYN | TCP_FIN, 4000, 0, NULL, 0);
    struct tf_seg *r = tf_expect(&f, TCP_RST | TCP_ACK, 0, 4002);
    ck_assert_uint_eq(r->h.sport, 9999);
    tf_send(&f, TCP_SYN | TCP_RST, 5000, 0, NULL, 0);
    tf_expect_nothing(&f);
    f.lport = 0;
    tf_send(&f, TCP_SYN, 6000, 0, NULL, 0);
    r = tf_expect(&f, TCP_RST | TCP_ACK, 0, 6001);
    ck_assert_uint_eq(r->h.sport, 0);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_FLAGS), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_NO_SOCKET), 2);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_RST_NO_SOCKET), 1);
    tf_free(&f);
}
END_TEST

/* A segment without flags is dropped silently by a connection and by a listener (as Linux). */
START_TEST(test_segment_without_flags_dropped_as_bad_flags_by_connection_and_listener)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send(&f, 0, f.peer_nxt, 0, "noflags!", 8);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_FLAGS), 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    /* to the listener (another peer port): silent too */
    f.rport = TF_PEER_PORT + 1;
    tf_send(&f, 0, 1, 0, "noflags!", 8);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_FLAGS), 2);
    f.rport = TF_PEER_PORT;
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.1: to a closed port anything but a RST gets a RST; a segment with no ACK gets
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, also one without any flag (as Linux). */
START_TEST(test_segment_without_flags_to_closed_port_gets_rst_ack)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    f.lport = 9999;
    tf_send(&f, 0, 1, 0, NULL, 0);
    struct tf_seg *r = tf_expect(&f, TCP_RST | TCP_ACK, 0, 1);
    ck_assert_uint_eq(r->h.sport, 9999);
    tf_send(&f, 0, 5000, 0, "noflags!", 8);
    tf_expect(&f, TCP_RST | TCP_ACK, 0, 5008);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_FLAGS), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_NO_SOCKET), 2);
    f.lport = TF_STACK_PORT;
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* A SYN with raw option bytes (padded by the caller to a multiple of 4). */
static void send_syn_with_options(struct tf *f, uint16_t sport, const uint8_t *opt, size_t olen)
{
    uint8_t seg[TCP_HDR_LEN + 40];
    ck_assert_uint_eq(olen % 4, 0);
    struct tcp_hdr h = tf_hdr(f, TCP_SYN, 5000, 0);
    h.sport = sport;
    size_t n = tf_build_tcp(&h, seg, sizeof(seg));
    ck_assert_uint_eq(n, TCP_HDR_LEN);
    memcpy(seg + TCP_HDR_LEN, opt, olen);
    seg[TCP_OFF_DOFF] = (uint8_t)(((TCP_HDR_LEN + olen) / 4) << 4);
    tf_fix_csum(seg, TCP_HDR_LEN + olen);
    tf_send_raw(f, seg, TCP_HDR_LEN + olen);
}

START_TEST(test_options_with_bad_lengths_dropped_as_bad_options)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    static const uint8_t bad[][8] = {
        {TCP_OPT_MSS, 3, 0x05, 0xb4},                     /* MSS must be 4 long */
        {TCP_OPT_WSCALE, 2, 7, TCP_OPT_NOP},              /* window scale must be 3 */
        {TCP_OPT_TS, 6, 0, 0, 0, 0, 0, 0},                /* timestamps must be 10 */
        {99, 0, 0, 0},                                    /* length 0: would never advance */
        {TCP_OPT_NOP, TCP_OPT_NOP, 99, 40},               /* runs past the header */
        {TCP_OPT_SACK_PERM, 1, TCP_OPT_NOP, TCP_OPT_NOP}, /* length 1 < 2 */
    };
    static const size_t len[] = {4, 4, 8, 4, 4, 4};
    for (size_t i = 0; i < sizeof(len) / sizeof(len[0]); i++)
        send_syn_with_options(&f, (uint16_t)(30000 + i), bad[i], len[i]);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_OPTIONS), sizeof(len) / sizeof(len[0]));
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    /* An unknown option with a sane length is skipped: the SYN is answered. */
    static const uint8_t unknown[] = {99, 4, 1, 2, TCP_OPT_MSS, 4, 0x05, 0xb4};
    send_syn_with_options(&f, 31000, unknown, sizeof(unknown));
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, 5001);
    tf_free(&f);
}
END_TEST

/* RFC 7323 2.3: a shift above 14 is used as 14. */
START_TEST(test_window_scale_above_14_clamped_to_14)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.ws_ok = true;
    f.peer_syn_opts.ws = 20;
    tf_syn_received(&f);
    ck_assert(f.stack_syn_opts.ws_ok); /* we answer with our own shift */
    ck_assert_uint_le(f.stack_syn_opts.ws, 14);
    f.peer_wnd = 1;
    tf_send_ack(&f);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    struct ts_tcp_info in;
    ts_tcp_get_info(f.conn, &in, f.now);
    ck_assert_uint_eq(in.snd_wnd, 1u << 14);
    /* The stack really uses that window: 16384 bytes go out, no more. */
    static uint8_t data[40000];
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (ssize_t)sizeof(data));
    size_t sent = 0;
    struct tf_seg *sg;
    while ((sg = tf_next(&f)))
        sent += sg->h.payload_len;
    ck_assert_uint_le(sent, 1u << 14);
    tf_free(&f);
}
END_TEST

/* MSS 0 or 1 must neither stop the connection nor make it loop: data still
 * flows, in segments of at least one byte and at most our own MSS. */
static void tiny_mss(uint16_t mss)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.mss = mss;
    tf_establish(&f);
    static uint8_t data[3000];
    tf_fill(data, sizeof(data), 4, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (ssize_t)sizeof(data));
    size_t got = 0;
    for (int round = 0; round < 4000 && got < sizeof(data); round++) {
        struct tf_seg *sg;
        bool any = false;
        while ((sg = tf_next(&f))) {
            if (!sg->h.payload_len)
                continue;
            ck_assert_uint_ge(sg->h.payload_len, 1);
            ck_assert_uint_le(sg->h.payload_len, 1460);
            ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
            ck_assert_int_eq(memcmp(sg->h.payload, data + got, sg->h.payload_len), 0);
            got += sg->h.payload_len;
            f.stack_nxt += (uint32_t)sg->h.payload_len;
            any = true;
        }
        if (any)
            tf_send_ack(&f);
        else
            tf_advance(&f, 100 * MS);
    }
    ck_assert_uint_eq(got, sizeof(data));
    tf_free(&f);
}

START_TEST(test_mss_zero_from_peer_does_not_stall_or_loop)
{
    tiny_mss(0);
}
END_TEST
START_TEST(test_mss_one_from_peer_does_not_stall_or_loop)
{
    tiny_mss(1);
}
END_TEST

/* Urgent data is delivered inline; a pointer beyond the data is harmless (RFC
 * 9293 3.8.5). */
START_TEST(test_urgent_pointer_beyond_data_is_harmless)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_ACK | TCP_URG | TCP_PSH, f.peer_nxt, f.stack_nxt);
    h.urp = 60000;
    h.payload = (const uint8_t *)"urgent!!!!";
    h.payload_len = 10;
    tf_send_hdr(&f, &h);
    f.peer_nxt += 10;
    h = tf_hdr(&f, TCP_ACK | TCP_URG, f.peer_nxt, f.stack_nxt); /* URG without data */
    h.urp = 0xffff;
    tf_send_hdr(&f, &h);
    char buf[32];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 10);
    ck_assert_int_eq(memcmp(buf, "urgent!!!!", 10), 0);
    tf_advance(&f, 200 * MS);
    tf_flush(&f);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* Data on a SYN (no TFO) is not queued: the SYN-ACK acknowledges the SYN alone, and the data the
 * peer sends again is delivered once, in order. */
START_TEST(test_data_on_syn_to_listener_never_duplicated)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, f.peer_iss, 0);
    h.opts = f.peer_syn_opts;
    h.payload = (const uint8_t *)"early-data";
    h.payload_len = 10;
    tf_send_hdr(&f, &h);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, f.peer_iss + 1); /* the SYN only, not its data */
    f.stack_iss = sa->h.seq;
    f.stack_nxt = sa->h.seq + 1;
    f.peer_nxt = f.peer_iss + 1;
    tf_send_ack(&f);
    tf_send_data(&f, "early-data", 10); /* the peer retransmits it */
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    char buf[32];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 10);
    ck_assert_int_eq(memcmp(buf, "early-data", 10), 0);
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), -EAGAIN);
    tf_free(&f);
}
END_TEST

/* RFC 9293 3.10.7.4: an ACK of something not yet sent gets an ACK and is
 * dropped, data too. */
START_TEST(test_ack_beyond_snd_nxt_answered_with_ack_and_dropped)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint64_t bad = tf_count(&f, TS_C_TCP_DROP_BAD_ACK);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt + 100000, "blind", 5);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), bad + 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND is a blind injection: ACK
 * back, drop the segment (its data is not accepted). */
START_TEST(test_ack_far_below_window_rfc5961_dropped_with_ack)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint64_t bad = tf_count(&f, TS_C_TCP_DROP_BAD_ACK);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt - 0x40000000u, "blind", 5);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), bad + 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* RFC 5961 5.2's lower edge, SND.UNA - MAX.SND.WND, goes back no further than what has been
 * acknowledged (as Linux): on a fresh connection, an ACK just below SND.UNA acknowledges bytes
 * before our first, never sent: challenged and dropped with its data. Once 5 000 bytes are
 * acknowledged, an ACK 10 below SND.UNA is only old: taken quietly, its data delivered. */
START_TEST(test_ack_from_before_our_first_byte_is_challenged_an_old_one_is_not)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint64_t bad = tf_count(&f, TS_C_TCP_DROP_BAD_ACK);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt - 10, "blind", 5);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), bad + 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 0);
    /* 5 000 bytes out and acknowledged */
    static uint8_t buf[5000];
    ck_assert_int_eq(ts_tcp_send(f.conn, buf, sizeof buf, f.now), (ssize_t)sizeof buf);
    tf_flush(&f);
    f.stack_nxt += sizeof buf;
    tf_send_ack(&f);
    tf_flush(&f);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt - 10, "older", 5);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), bad + 1);
    ck_assert_uint_eq(ts_tcp_readable(f.conn), 5);
    tf_free(&f);
}
END_TEST

/* RFC 4987: the half-open queue is bounded; excess SYNs are dropped and
 * counted. */
START_TEST(test_syn_flood_half_open_queue_bounded_and_counted)
{
    struct ts_config cfg;
    tf_config(&cfg);
    cfg.tcp_syncookies = false;
    struct tf f;
    tf_init_cfg(&f, &cfg);
    tf_listen(&f);
    size_t answered = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        struct tcp_hdr h = tf_hdr(&f, TCP_SYN, 1000000 + i * 7919, 0);
        h.sport = (uint16_t)(10000 + i);
        tf_send_hdr(&f, &h);
        struct tf_seg *sg;
        while ((sg = tf_next(&f)))
            if (sg->h.flags == (TCP_SYN | TCP_ACK))
                answered++;
    }
    ck_assert_uint_ge(answered, 16);
    ck_assert_uint_lt(answered, 1000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_QUEUE_FULL), 1000 - answered);
    ck_assert_uint_le(ts_tcp_table(f.s, NULL, 0, f.now), answered + 1);
    /* The half-open entries time out; then the listener takes new connections
     * again. */
    tf_advance(&f, 10 * 60 * SEC);
    tf_flush(&f);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), 1);
    tf_send(&f, TCP_SYN, 42, 0, NULL, 0);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    tf_free(&f);
}
END_TEST

/* With SYN cookies on (the default), a flood costs no memory beyond the queue,
 * and a cookie, when the stack sends them, completes a real connection. */
START_TEST(test_syn_flood_with_cookies_keeps_memory_bounded)
{
    struct tf f;
    tf_init(&f);
    ck_assert(f.cfg.tcp_syncookies);
    tf_listen(&f);
    size_t answered = 0;
    struct tcp_hdr last_syn = {0};
    uint32_t last_synack_seq = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        struct tcp_hdr h = tf_hdr(&f, TCP_SYN, 1000000 + i * 7919, 0);
        h.sport = (uint16_t)(10000 + i);
        h.opts.mss_ok = true;
        h.opts.mss = 1460;
        tf_send_hdr(&f, &h);
        struct tf_seg *sg;
        while ((sg = tf_next(&f)))
            if (sg->h.flags == (TCP_SYN | TCP_ACK)) {
                answered++;
                last_syn = h;
                last_synack_seq = sg->h.seq;
            }
    }
    size_t table = ts_tcp_table(f.s, NULL, 0, f.now);
    ck_assert_uint_lt(table, 300);
    uint64_t cookies = tf_count(&f, TS_C_TCP_SYN_COOKIE_SENT);
    uint64_t dropped = tf_count(&f, TS_C_TCP_DROP_SYN_QUEUE_FULL);
    ck_assert_uint_eq(answered, 1000 - dropped);
    ck_assert_uint_gt(cookies, 0); /* the queue overflowed into cookies */
    {
        ck_assert_uint_eq(answered, 1000);
        /* The last SYN was surely answered by a cookie: complete it. */
        f.rport = last_syn.sport;
        tf_send(&f, TCP_ACK, last_syn.seq + 1, last_synack_seq + 1, NULL, 0);
        ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
        struct ts_tcp_conn *c = ts_tcp_accept(f.listener);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(ts_tcp_state(c), TS_TCP_ESTABLISHED);
        ts_tcp_abort(c, f.now);
        /* A forged cookie is rejected. */
        uint64_t badc = tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD);
        f.rport = 9;
        tf_send(&f, TCP_ACK, 77, 12345, NULL, 0);
        ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD) +
                              tf_count(&f, TS_C_TCP_DROP_LISTEN_BAD),
                          badc + 1);
        ck_assert_ptr_null(ts_tcp_accept(f.listener));
    }
    tf_free(&f);
}
END_TEST

/* Fill the listener's half-open queue (256 children, RFC 4987) from ports base, base + 1, ...:
 * the next SYN is answered with a SYN cookie. */
static void fill_syn_queue(struct tf *f, uint16_t base)
{
    for (uint32_t i = 0; i < 256; i++) {
        struct tcp_hdr h = tf_hdr(f, TCP_SYN, 1000000 + i * 7919, 0);
        h.sport = (uint16_t)(base + i);
        tf_send_hdr(f, &h);
    }
    tf_flush(f);
}

/* The peer's SYN from port rport; returns the stack's answer, a SYN-ACK with a cookie (counted).
 */
static struct tf_seg *cookie_syn(struct tf *f, uint16_t rport, const struct tcp_opts *opts)
{
    uint64_t sent = tf_count(f, TS_C_TCP_SYN_COOKIE_SENT);
    f->rport = rport;
    struct tcp_hdr h = tf_hdr(f, TCP_SYN, f->peer_iss, 0); /* timestamps when f->peer_ts */
    h.opts.mss_ok = opts->mss_ok;
    h.opts.mss = opts->mss;
    h.opts.ws_ok = opts->ws_ok;
    h.opts.ws = opts->ws;
    h.opts.sack_perm = opts->sack_perm;
    tf_send_hdr(f, &h);
    struct tf_seg *sa = tf_next(f);
    ck_assert_ptr_nonnull(sa);
    ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa->h.ack, f->peer_iss + 1);
    ck_assert_uint_eq(tf_count(f, TS_C_TCP_SYN_COOKIE_SENT), sent + 1);
    f->peer_nxt = f->peer_iss + 1;
    f->stack_iss = sa->h.seq;
    f->stack_nxt = sa->h.seq + 1;
    return sa;
}

/* RFC 4987 3.6, as Linux: a peer that offers timestamps gets a cookie that carries its window
 * scale and SACK-permitted (in our timestamp's low bits), and the connection made from it has
 * all three, on the wire: scaled windows, timestamps on every segment, SACK blocks. */
START_TEST(test_syn_cookie_connection_keeps_window_scale_sack_and_timestamps)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    fill_syn_queue(&f, 10000);
    f.peer_ts = true;
    f.peer_ts_offset = 777;
    struct tcp_opts offer = {
        .mss_ok = true, .mss = 1460, .ws_ok = true, .ws = 5, .sack_perm = true};
    struct tf_seg *sa = cookie_syn(&f, 9000, &offer);
    ck_assert(sa->h.opts.ws_ok);
    ck_assert(sa->h.opts.sack_perm);
    ck_assert(sa->h.opts.ts_ok);
    ck_assert_uint_eq(sa->h.opts.tsecr, (uint32_t)(f.now / TS_MS) + 777);
    uint8_t our_ws = sa->h.opts.ws;

    /* The ACK echoes the SYN-ACK's TSval; its window field 100 means 100 << 5 = 3200 bytes. */
    f.peer_wnd = 100;
    f.now += 3 * MS;
    tf_send(&f, TCP_ACK, f.peer_nxt, f.stack_nxt, NULL, 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(ts_tcp_state(f.conn), TS_TCP_ESTABLISHED);
    tf_expect_nothing(&f);
    struct ts_tcp_info i;
    ts_tcp_get_info(f.conn, &i, f.now);
    ck_assert_uint_eq(i.snd_wscale, 5);
    ck_assert_uint_eq(i.rcv_wscale, our_ws);
    ck_assert(i.ts_ok);
    ck_assert(i.sack_ok);
    ck_assert_uint_eq(i.mss_send, 1460 - 12); /* timestamps take 12 bytes of every segment */

    /* Two full segments go out at once: more than the unscaled 100 bytes allow. */
    uint8_t data[2 * 1448];
    tf_fill(data, sizeof(data), 1, 0);
    ck_assert_int_eq(ts_tcp_send(f.conn, data, sizeof(data), f.now), (int)sizeof(data));
    for (int k = 0; k < 2; k++) {
        struct tf_seg *sg = tf_expect(&f, TCP_ACK, f.stack_nxt + (uint32_t)k * 1448, f.peer_nxt);
        ck_assert_uint_eq(sg->h.payload_len, 1448);
        ck_assert(sg->h.opts.ts_ok);
        ck_assert_uint_eq(sg->h.opts.tsecr, (uint32_t)(f.now / TS_MS) + 777);
    }
    f.stack_nxt += sizeof(data);
    tf_send_ack(&f);
    tf_flush(&f);

    /* Out-of-order data from the peer is answered at once with a SACK block (RFC 2018). */
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt + 10, f.stack_nxt, "0123456789", 10);
    struct tf_seg *ack = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert_uint_eq(ack->h.opts.nsack, 1);
    ck_assert_uint_eq(ack->h.opts.sack[0].left, f.peer_nxt + 10);
    ck_assert_uint_eq(ack->h.opts.sack[0].right, f.peer_nxt + 20);
    tf_free(&f);
}
END_TEST

/* Without timestamps the cookie has no room for window scale and SACK: the SYN-ACK offers none
 * of them (offering them and then forgetting would scale windows one side only), and the
 * connection works without. */
START_TEST(test_syn_cookie_without_timestamps_offers_no_window_scale_or_sack)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    fill_syn_queue(&f, 10000);
    struct tcp_opts offer = {
        .mss_ok = true, .mss = 1460, .ws_ok = true, .ws = 5, .sack_perm = true};
    struct tf_seg *sa = cookie_syn(&f, 9000, &offer);
    ck_assert(sa->h.opts.mss_ok);
    ck_assert(!sa->h.opts.ws_ok);
    ck_assert(!sa->h.opts.sack_perm);
    ck_assert(!sa->h.opts.ts_ok);
    tf_send_ack(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    struct ts_tcp_info i;
    ts_tcp_get_info(f.conn, &i, f.now);
    ck_assert_uint_eq(i.snd_wscale, 0);
    ck_assert_uint_eq(i.rcv_wscale, 0);
    ck_assert(!i.ts_ok);
    ck_assert(!i.sack_ok);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* A cookie that is not ours, or ours but too old (more than 2 periods of 64 s), makes no
 * connection: the ACK is counted and answered with a RST (RFC 9293 3.10.7.2). */
START_TEST(test_syn_cookie_forged_or_expired_is_rejected)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f);
    fill_syn_queue(&f, 10000);
    f.peer_ts = true;
    struct tcp_opts offer = {
        .mss_ok = true, .mss = 1460, .ws_ok = true, .ws = 5, .sack_perm = true};
    cookie_syn(&f, 9000, &offer);
    uint32_t old_ack = f.stack_nxt, old_seq = f.peer_nxt;

    /* Forged: one off in the cookie. */
    uint64_t bad = tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD);
    tf_send(&f, TCP_ACK, f.peer_nxt, f.stack_nxt + 1, NULL, 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD), bad + 1);
    tf_expect(&f, TCP_RST, f.stack_nxt + 1, 0);
    /* Forged: the right cookie for another peer ISN. */
    tf_send(&f, TCP_ACK, f.peer_nxt + 1, f.stack_nxt, NULL, 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD), bad + 2);
    tf_expect(&f, TCP_RST, f.stack_nxt, 0);
    ck_assert_ptr_null(ts_tcp_accept(f.listener));

    /* Expired: 200 s later (the half-open children are gone by then; the queue is filled again
     * and a fresh cookie sent, so cookies are being checked). */
    tf_advance(&f, 200 * SEC);
    tf_flush(&f);
    fill_syn_queue(&f, 20000);
    cookie_syn(&f, 9001, &offer);
    f.rport = 9000;
    tf_send(&f, TCP_ACK, old_seq, old_ack, NULL, 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD), bad + 3);
    tf_expect(&f, TCP_RST, old_ack, 0);
    ck_assert_ptr_null(ts_tcp_accept(f.listener));
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 0);

    /* The fresh one still makes a connection. */
    f.rport = 9001;
    tf_send_ack(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
    ck_assert_ptr_nonnull(ts_tcp_accept(f.listener));
    tf_free(&f);
}
END_TEST

/* Segments for a connection that is gone are answered by RST (RFC
 * 9293 3.10.7.1). */
START_TEST(test_segments_to_aborted_connection_get_rst)
{
    struct tf f;
    tf_init(&f);
    tf_establish_active(&f); /* no listener behind the port once the connection is gone */
    ts_tcp_abort(f.conn, f.now);
    f.conn = NULL;
    tf_flush(&f);
    uint64_t ns = tf_count(&f, TS_C_TCP_DROP_NO_SOCKET);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt, "late", 4);
    tf_expect(&f, TCP_RST, f.stack_nxt, 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_NO_SOCKET), ns + 1);
    tf_free(&f);
}
END_TEST

/* Thousands of random, checksum-correct segments at an established connection
 * and a listener: nothing crashes, nothing leaks (SAN build), every segment is
 * accounted for. */
START_TEST(test_random_segments_never_crash_the_stack)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    uint64_t x = 0x1234567887654321ull;
    uint8_t seg[TCP_HDR_LEN + 40 + 200];
    uint64_t rx0 = tf_count(&f, TS_C_TCP_RX);
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t r = (uint32_t)x, r2 = (uint32_t)(x >> 32);
        struct tcp_hdr h = tf_hdr(&f, (uint8_t)r, f.peer_nxt + (int32_t)(r2 % 200000) - 100000,
                                  f.stack_nxt + (int32_t)(r % 200000) - 100000);
        if (r & 0x100)
            h.dport = (uint16_t)(r2 >> 16);
        h.wnd = (uint16_t)(r2 >> 8);
        h.urp = (uint16_t)r2;
        size_t olen = (r >> 9) % 11 * 4;
        size_t plen = (r >> 13) % 200;
        uint8_t payload[200];
        for (size_t k = 0; k < plen; k++)
            payload[k] = (uint8_t)(x >> (k % 56));
        h.payload = payload;
        h.payload_len = plen;
        size_t n = tf_build_tcp(&h, seg, sizeof(seg));
        /* random option bytes, then fix the data offset and checksum */
        memmove(seg + TCP_HDR_LEN + olen, seg + TCP_HDR_LEN, n - TCP_HDR_LEN);
        for (size_t k = 0; k < olen; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            seg[TCP_HDR_LEN + k] = (uint8_t)(x % 12);
        }
        seg[TCP_OFF_DOFF] = (uint8_t)(((TCP_HDR_LEN + olen) / 4) << 4);
        tf_fix_csum(seg, n + olen);
        tf_send_raw(&f, seg, n + olen);
        tf_flush(&f);
        if (i % 500 == 0)
            tf_advance(&f, 1 * SEC);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_RX) - rx0, 5000);
    tf_advance(&f, 10 * 60 * SEC); /* whatever state it is in, timers run out cleanly */
    enum ts_tcp_state st = tf_state(&f);
    ck_assert(st >= TS_TCP_ESTABLISHED && st <= TS_TCP_CLOSING);
    tf_free(&f);
}
END_TEST

/* RFC 7323 5.3: a segment whose TSval is older than TS.Recent is an old duplicate (PAWS):
 * dropped with an ACK, counted, its data not delivered. */
START_TEST(test_paws_drops_segment_with_old_timestamp)
{
    struct tf f;
    tf_init(&f);
    f.peer_ts = true;
    f.peer_ts_offset = 100000;
    tf_establish(&f);
    ck_assert(f.stack_syn_opts.ts_ok);
    tf_advance(&f, 50 * MS);
    tf_send_data(&f, "fresh", 5);
    struct tcp_hdr h = tf_hdr(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt);
    h.opts.tsval -= 1000000; /* from long ago */
    h.payload = (const uint8_t *)"stale";
    h.payload_len = 5;
    tf_flush(&f);
    tf_send_hdr(&f, &h);
    struct tf_seg *a = tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    ck_assert(a->h.opts.ts_ok);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_PAWS), 1);
    char buf[16];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), 5);
    ck_assert_int_eq(memcmp(buf, "fresh", 5), 0);
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof(buf), f.now), -EAGAIN);
    tf_free(&f);
}
END_TEST

/* A full accept queue costs no SYN (a dropped SYN costs the client a 1 s retransmission): every
 * SYN is answered, the final ACKs that find the queue full are dropped and counted, and each
 * accept() sends the oldest held child's SYN-ACK again at once, which the client answers: every
 * handshake completes without any timer running. */
START_TEST(test_accept_queue_full_answers_every_syn_and_resumes_on_accept)
{
    struct tf f;
    tf_init(&f);
    tf_listen(&f); /* backlog 16 */
    enum { N = 40, BACKLOG = 16 };
    uint32_t iss[N];
    for (uint16_t i = 0; i < N; i++) {
        iss[i] = 5000u + i * 100000u;
        struct tcp_hdr h = tf_hdr(&f, TCP_SYN, iss[i], 0);
        h.sport = (uint16_t)(20000 + i);
        tf_send_hdr(&f, &h);
        struct tf_seg *sa = tf_next(&f);
        ck_assert_ptr_nonnull(sa); /* answered, queue full or not */
        ck_assert_uint_eq(sa->h.flags, TCP_SYN | TCP_ACK);
        ck_assert_uint_eq(sa->h.ack, iss[i] + 1);
        struct tcp_hdr a = tf_hdr(&f, TCP_ACK, iss[i] + 1, sa->h.seq + 1);
        a.sport = h.sport;
        tf_send_hdr(&f, &a);
        tf_expect_nothing(&f); /* a dropped final ACK gets no RST */
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ACCEPT_QUEUE_FULL_SYN), N - BACKLOG);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL), N - BACKLOG);
    ck_assert_uint_eq(ts_tcp_table(f.s, NULL, 0, f.now), N + 1);
    ts_time_t t0 = f.now;
    for (int accepted = 0; accepted < N; accepted++) {
        struct ts_tcp_conn *c = ts_tcp_accept(f.listener);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(ts_tcp_state(c), TS_TCP_ESTABLISHED);
        uint16_t rport;
        ts_tcp_endpoints(c, NULL, NULL, NULL, &rport);
        ck_assert_uint_eq(rport, 20000 + accepted); /* in the order the clients connected */
        ts_tcp_abort(c, f.now);
        struct tf_seg *sg;
        while ((sg = tf_next(&f))) {
            if (sg->h.flags != (TCP_SYN | TCP_ACK))
                continue; /* the RST of the abort */
            /* The oldest held handshake, resumed: its client answers the SYN-ACK. */
            uint16_t i = (uint16_t)(sg->h.dport - 20000);
            ck_assert_uint_eq(sg->h.dport, 20000 + BACKLOG + accepted);
            struct tcp_hdr a = tf_hdr(&f, TCP_ACK, iss[i] + 1, sg->h.seq + 1);
            a.sport = sg->h.dport;
            tf_send_hdr(&f, &a);
        }
    }
    ck_assert_ptr_null(ts_tcp_accept(f.listener));
    ck_assert_uint_eq(f.now, t0); /* no retransmission timer was needed */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ACCEPT_QUEUE_RESUMED), N - BACKLOG);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_PASSIVE_OPEN), N);
    tf_free(&f);
}
END_TEST

/* Accept queue full and half-open queue full: a SYN still gets an answer, a SYN cookie. Its ACK
 * finds no room: dropped silently (no RST: the cookie is good) and counted; once accept() made
 * room, the client's retransmission carries the cookie again and the connection is made, its
 * data delivered. */
START_TEST(test_accept_queue_full_cookie_ack_waits_for_room)
{
    struct tf f;
    tf_init(&f);
    int err = 0;
    f.listener = ts_tcp_listen(f.s, 0, TF_STACK_PORT, 1, NULL, &err, f.now);
    ck_assert_ptr_nonnull(f.listener);
    struct tcp_hdr h = tf_hdr(&f, TCP_SYN, 777, 0);
    h.sport = 30000;
    tf_send_hdr(&f, &h);
    struct tf_seg *sa = tf_next(&f);
    ck_assert_ptr_nonnull(sa);
    struct tcp_hdr a = tf_hdr(&f, TCP_ACK, 778, sa->h.seq + 1);
    a.sport = 30000;
    tf_send_hdr(&f, &a); /* the accept queue (backlog 1) is full */
    fill_syn_queue(&f, 10000);
    struct tcp_opts mss = {.mss_ok = true, .mss = 1460};
    cookie_syn(&f, 31000, &mss);
    uint64_t dropped = tf_count(&f, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt, "hello", 5);
    tf_expect_nothing(&f);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_ACCEPT_QUEUE_FULL), dropped + 1);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 0);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_SYN_COOKIE_BAD), 0);
    struct ts_tcp_conn *first = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(first);
    ts_tcp_abort(first, f.now);
    tf_flush(&f);
    tf_send(&f, TCP_ACK | TCP_PSH, f.peer_nxt, f.stack_nxt, "hello", 5); /* the client resends */
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_SYN_COOKIE_OK), 1);
    f.conn = ts_tcp_accept(f.listener);
    ck_assert_ptr_nonnull(f.conn);
    ck_assert_int_eq(ts_tcp_state(f.conn), TS_TCP_ESTABLISHED);
    char buf[8];
    ck_assert_int_eq(ts_tcp_recv(f.conn, buf, sizeof buf, f.now), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    tf_free(&f);
}
END_TEST

/* RFC 5961 7: challenge ACKs are rate-limited (1000 per second per stack), and the limit is
 * counted; a blind RST flood cannot turn us into an ACK cannon. */
START_TEST(test_challenge_acks_rate_limited_under_rst_flood)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    size_t acks = 0;
    for (int i = 0; i < 3000; i++) {
        tf_send(&f, TCP_RST, f.peer_nxt + 1 + (uint32_t)i, 0, NULL, 0);
        acks += tf_flush(&f);
    }
    ck_assert_uint_ge(acks, 100);
    ck_assert_uint_le(acks, 1000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CHALLENGE_ACK), acks);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CHALLENGE_ACK_LIMITED), 3000 - acks);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_advance(&f, 1100 * MS); /* a new second: challenge ACKs again */
    tf_send(&f, TCP_RST, f.peer_nxt + 1, 0, NULL, 0);
    tf_expect(&f, TCP_ACK, f.stack_nxt, f.peer_nxt);
    tf_free(&f);
}
END_TEST

/* Data arriving after the owner closed the connection can never be read: the connection is
 * reset (RFC 2525 2.17, as Linux) and the drop is counted. */
START_TEST(test_data_after_close_gets_rst_and_is_counted)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ts_tcp_close(f.conn, f.now);
    f.conn = NULL;
    tf_expect(&f, TCP_FIN | TCP_ACK, f.stack_nxt, f.peer_nxt);
    f.stack_nxt++;
    uint64_t closed = tf_count(&f, TS_C_TCP_DROP_CLOSED);
    tf_send_data(&f, "too late", 8);
    struct tf_seg *sg = tf_next(&f);
    ck_assert_ptr_nonnull(sg);
    ck_assert(sg->h.flags & TCP_RST);
    ck_assert_uint_eq(sg->h.seq, f.stack_nxt);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_CLOSED), closed + 1);
    ck_assert_str_eq(tf_path(&f), "LISTEN SYN_RECV ESTABLISHED FIN_WAIT1 CLOSE");
    tf_free(&f);
}
END_TEST

/* RFC 7323 2.2 / 3.2, RFC 2018 2: a SYN-ACK carries window scale, timestamps and
 * SACK-permitted only if the SYN offered them. */
START_TEST(test_syn_ack_options_only_answer_what_the_peer_offered)
{
    struct tf f;
    tf_init(&f);
    struct tf_seg *sa = tf_syn_received(&f); /* the peer offers only MSS */
    ck_assert(sa->h.opts.mss_ok);
    ck_assert(!sa->h.opts.ws_ok);
    ck_assert(!sa->h.opts.ts_ok);
    ck_assert(!sa->h.opts.sack_perm);
    tf_free(&f);

    tf_init(&f);
    f.peer_syn_opts.ws_ok = true;
    f.peer_syn_opts.ws = 2;
    f.peer_syn_opts.sack_perm = true;
    f.peer_ts = true;
    sa = tf_syn_received(&f);
    ck_assert(sa->h.opts.ws_ok);
    ck_assert(sa->h.opts.ts_ok);
    ck_assert(sa->h.opts.sack_perm);
    /* RFC 7323 3.2: TSecr of the SYN-ACK echoes the SYN's TSval */
    ck_assert_uint_eq(sa->h.opts.tsecr, (uint32_t)(f.now / TS_MS) + f.peer_ts_offset);
    tf_free(&f);
}
END_TEST

/* RFC 7323 2.2: a window scale option outside a SYN is ignored; the shift agreed on the SYN
 * stays. */
START_TEST(test_window_scale_option_outside_syn_is_ignored)
{
    struct tf f;
    tf_init(&f);
    f.peer_syn_opts.ws_ok = true;
    f.peer_syn_opts.ws = 2;
    tf_establish(&f);
    struct tcp_hdr h = tf_hdr(&f, TCP_ACK, f.peer_nxt, f.stack_nxt);
    h.wnd = 1000;
    h.opts.ws_ok = true;
    h.opts.ws = 10;
    tf_send_hdr(&f, &h);
    struct ts_tcp_info in;
    ts_tcp_get_info(f.conn, &in, f.now);
    ck_assert_uint_eq(in.snd_wnd, 4000);
    tf_free(&f);
}
END_TEST

/* RFC 5927 4.1: on an idle connection (nothing in flight) a blind attacker's port unreachable
 * quoting SND.UNA + 2^31 is not about our data: ignored, counted, the connection lives. (That
 * offset is where both signed sequence comparisons hold, so a range check built from them alone
 * took it as in flight and aborted the connection.) */
START_TEST(test_icmp_port_unreachable_quoting_snd_una_plus_2_pow_31_is_ignored)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    tf_send_icmp_unreach(&f, 3 /* port */, f.stack_nxt + 0x80000000u);
    tf_send_icmp_unreach(&f, 2 /* protocol */, f.stack_nxt + 0x80000000u);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ICMP_DROP_NO_CONN), 2);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ICMP_ERR), 0);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* RFC 5927 7.2: a port unreachable quoting data in flight (what a blind attacker sweeping the
 * window of a transfer eventually sends) does not reset an established connection: it is kept as
 * a soft error, and the transfer goes on. */
START_TEST(test_icmp_port_unreachable_in_window_does_not_abort_established)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    ck_assert_int_eq(ts_tcp_send(f.conn, "inflight", 8, f.now), 8);
    tf_flush(&f);
    tf_send_icmp_unreach(&f, 3 /* port */, f.stack_nxt + 3);
    tf_send_icmp_unreach(&f, 2 /* protocol */, f.stack_nxt);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_ICMP_ERR), 2);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    ck_assert_int_eq(ts_tcp_error(f.conn, false), 0);
    f.stack_nxt += 8;
    tf_send_ack(&f);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

/* RFC 5961 7 / CVE-2016-5696: the per-second challenge ACK budget is not a fixed global number
 * that an off-path attacker could count down to learn about other connections: it changes from
 * second to second, between half and all of the 1000 allowed. */
START_TEST(test_challenge_ack_budget_is_unpredictable_per_second)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    size_t budget[6];
    bool differ = false;
    for (int sec = 0; sec < 6; sec++) {
        size_t acks = 0;
        for (int i = 0; i < 1100; i++) {
            tf_send(&f, TCP_RST, f.peer_nxt + 1 + (uint32_t)i, 0, NULL, 0);
            acks += tf_flush(&f);
        }
        ck_assert_uint_ge(acks, 500);
        ck_assert_uint_le(acks, 1000);
        budget[sec] = acks;
        if (sec > 0 && budget[sec] != budget[0])
            differ = true;
        tf_advance(&f, 1100 * MS);
    }
    ck_assert_msg(differ, "the same budget (%zu) six seconds running", budget[0]);
    ck_assert_int_eq(tf_state(&f), TS_TCP_ESTABLISHED);
    tf_free(&f);
}
END_TEST

/* RFC 5961 5.2 and 7: ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] are dropped and answered,
 * but a flood of them is not reflected one for one: the answers share the challenge ACK budget. */
START_TEST(test_ack_flood_outside_window_answers_are_throttled)
{
    struct tf f;
    tf_init(&f);
    tf_establish(&f);
    size_t answers = 0;
    for (int i = 0; i < 3000; i++) {
        uint32_t ack = (i % 2) ? f.stack_nxt + (1u << 20) : f.stack_nxt - (1u << 30);
        tf_send(&f, TCP_ACK, f.peer_nxt, ack, NULL, 0);
        answers += tf_flush(&f);
    }
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_DROP_BAD_ACK), 3000);
    ck_assert_uint_ge(answers, 1);
    ck_assert_uint_le(answers, 1000);
    ck_assert_uint_eq(tf_count(&f, TS_C_TCP_CHALLENGE_ACK_LIMITED), 3000 - answers);
    assert_still_works(&f);
    tf_free(&f);
}
END_TEST

static Suite *tcp_hostile_suite(void)
{
    Suite *s = suite_create("tcp_hostile");
    TCase *tc = tcase_create("malformed");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_bad_checksum_dropped_and_counted);
    tcase_add_test(tc, test_bad_data_offset_dropped_and_counted);
    tcase_add_test(tc, test_truncated_segment_dropped_and_counted);
    tcase_add_test(tc, test_syn_fin_and_syn_rst_to_listener_dropped_as_bad_flags);
    tcase_add_test(tc, test_syn_fin_to_closed_port_gets_rst_ack_and_syn_rst_nothing);
    tcase_add_test(tc, test_segment_without_flags_dropped_as_bad_flags_by_connection_and_listener);
    tcase_add_test(tc, test_segment_without_flags_to_closed_port_gets_rst_ack);
    tcase_add_test(tc, test_options_with_bad_lengths_dropped_as_bad_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("extreme");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_window_scale_above_14_clamped_to_14);
    tcase_add_test(tc, test_syn_ack_options_only_answer_what_the_peer_offered);
    tcase_add_test(tc, test_window_scale_option_outside_syn_is_ignored);
    tcase_add_test(tc, test_mss_zero_from_peer_does_not_stall_or_loop);
    tcase_add_test(tc, test_mss_one_from_peer_does_not_stall_or_loop);
    tcase_add_test(tc, test_urgent_pointer_beyond_data_is_harmless);
    tcase_add_test(tc, test_data_on_syn_to_listener_never_duplicated);
    suite_add_tcase(s, tc);
    tc = tcase_create("attacks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ack_beyond_snd_nxt_answered_with_ack_and_dropped);
    tcase_add_test(tc, test_ack_far_below_window_rfc5961_dropped_with_ack);
    tcase_add_test(tc, test_ack_from_before_our_first_byte_is_challenged_an_old_one_is_not);
    tcase_add_test(tc, test_syn_flood_half_open_queue_bounded_and_counted);
    tcase_add_test(tc, test_syn_flood_with_cookies_keeps_memory_bounded);
    tcase_add_test(tc, test_syn_cookie_connection_keeps_window_scale_sack_and_timestamps);
    tcase_add_test(tc, test_syn_cookie_without_timestamps_offers_no_window_scale_or_sack);
    tcase_add_test(tc, test_syn_cookie_forged_or_expired_is_rejected);
    tcase_add_test(tc, test_segments_to_aborted_connection_get_rst);
    tcase_add_test(tc, test_data_after_close_gets_rst_and_is_counted);
    tcase_add_test(tc, test_random_segments_never_crash_the_stack);
    tcase_add_test(tc, test_paws_drops_segment_with_old_timestamp);
    tcase_add_test(tc, test_accept_queue_full_answers_every_syn_and_resumes_on_accept);
    tcase_add_test(tc, test_accept_queue_full_cookie_ack_waits_for_room);
    tcase_add_test(tc, test_challenge_acks_rate_limited_under_rst_flood);
    tcase_add_test(tc, test_icmp_port_unreachable_quoting_snd_una_plus_2_pow_31_is_ignored);
    tcase_add_test(tc, test_icmp_port_unreachable_in_window_does_not_abort_established);
    tcase_add_test(tc, test_challenge_ack_budget_is_unpredictable_per_second);
    tcase_add_test(tc, test_ack_flood_outside_window_answers_are_throttled);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tcp_hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
