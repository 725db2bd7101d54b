/* The pcap writer: the file it writes is parsed back here, header and records, while the driver
 * is still open (as tcpdump -r would read it) and after it is closed. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tapstack/driver.h"

struct rec {
    uint32_t sec, usec, incl, orig;
    uint8_t *data;
};

struct capture {
    uint32_t magic;
    uint16_t vmaj, vmin;
    int32_t zone;
    uint32_t sigfigs, snaplen, linktype;
    size_t n;
    struct rec r[16];
};

static char path[64];

static void make_path(void)
{
    snprintf(path, sizeof(path), "/tmp/ts-test-pcap-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* Parse the whole file; fails the test on any inconsistency (a record running past the end). */
static void parse(struct capture *c)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    memset(c, 0, sizeof(*c));
    ck_assert_uint_ge(len, 24);
    c->magic = rd32(buf);
    c->vmaj = rd16(buf + 4);
    c->vmin = rd16(buf + 6);
    c->zone = (int32_t)rd32(buf + 8);
    c->sigfigs = rd32(buf + 12);
    c->snaplen = rd32(buf + 16);
    c->linktype = rd32(buf + 20);
    size_t off = 24;
    while (off < len) {
        ck_assert_uint_ge(len - off, 16);
        ck_assert_uint_lt(c->n, 16);
        struct rec *r = &c->r[c->n++];
        r->sec = rd32(buf + off);
        r->usec = rd32(buf + off + 4);
        r->incl = rd32(buf + off + 8);
        r->orig = rd32(buf + off + 12);
        off += 16;
        ck_assert_uint_le(r->incl, len - off);
        r->data = buf + off;
        off += r->incl;
    }
}

static void frame(uint8_t *f, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(seed + i * 3);
}

START_TEST(test_file_starts_with_a_classic_pcap_header_for_ethernet)
{
    make_path();
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char err[256] = "";
    struct ts_driver *p = ts_pcap_wrap(a, path, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    struct capture c;
    parse(&c);
    ck_assert_uint_eq(c.magic, 0xa1b2c3d4u); /* host byte order: readers detect it */
    ck_assert_uint_eq(c.vmaj, 2);
    ck_assert_uint_eq(c.vmin, 4);
    ck_assert_int_eq(c.zone, 0);
    ck_assert_uint_eq(c.sigfigs, 0);
    ck_assert_uint_eq(c.snaplen, 262144); /* tcpdump's: a 64 KiB super-segment fits whole */
    ck_assert_uint_eq(c.linktype, 1);
    ck_assert_uint_eq(c.n, 0);
    ts_driver_destroy(p);
    ts_driver_destroy(b);
    unlink(path);
}
END_TEST

START_TEST(test_sent_and_received_frames_are_recorded_with_the_stacks_clock_while_open)
{
    make_path();
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char err[256];
    struct ts_driver *p = ts_pcap_wrap(a, path, err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    uint8_t out[60], in[98], buf[200];
    frame(out, sizeof(out), 1);
    frame(in, sizeof(in), 50);

    ck_assert_int_eq(ts_driver_send(p, out, sizeof(out), 1500000), 0); /* 1.500000 s */
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof(buf), 1500000), (int)sizeof(out));
    ck_assert_int_eq(ts_driver_send(b, in, sizeof(in), 2000001), 0);
    ck_assert_int_eq(ts_driver_recv(p, buf, sizeof(buf), 2000001), (int)sizeof(in));
    ck_assert_int_eq(ts_driver_recv(p, buf, sizeof(buf), 2000002), 0); /* nothing: no record */

    /* Readable before the driver is closed: nothing is buffered in user space. */
    struct capture c;
    parse(&c);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_uint_eq(c.r[0].sec, 1);
    ck_assert_uint_eq(c.r[0].usec, 500000);
    ck_assert_uint_eq(c.r[0].incl, sizeof(out));
    ck_assert_uint_eq(c.r[0].orig, sizeof(out));
    ck_assert_mem_eq(c.r[0].data, out, sizeof(out));
    ck_assert_uint_eq(c.r[1].sec, 2);
    ck_assert_uint_eq(c.r[1].usec, 1);
    ck_assert_uint_eq(c.r[1].incl, sizeof(in));
    ck_assert_uint_eq(c.r[1].orig, sizeof(in));
    ck_assert_mem_eq(c.r[1].data, in, sizeof(in));

    ts_driver_destroy(p);
    parse(&c);
    ck_assert_uint_eq(c.n, 2);
    ts_driver_destroy(b);
    unlink(path);
}
END_TEST

START_TEST(test_super_segment_of_64_kib_is_recorded_whole_as_the_one_frame_that_crossed)
{
    make_path();
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char err[256];
    struct ts_driver *p = ts_pcap_wrap(a, path, err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    size_t len = 65535 + 14;
    uint8_t *big = malloc(len);
    frame(big, len, 9);
    struct ts_frame_meta m = {.gso = TS_GSO_TCPV4, .gso_size = 1448, .hdr_len = 66};
    ck_assert_int_eq(ts_driver_send_meta(p, big, len, &m, 7), 0);
    struct capture c;
    parse(&c);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.r[0].incl, len);
    ck_assert_uint_eq(c.r[0].orig, len);
    ck_assert_mem_eq(c.r[0].data, big, len);
    free(big);
    ts_driver_destroy(p);
    ts_driver_destroy(b);
    unlink(path);
}
END_TEST

START_TEST(test_frame_the_inner_driver_refuses_is_not_recorded)
{
    make_path();
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char err[256];
    struct ts_driver *p = ts_pcap_wrap(a, path, err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    size_t len = 65535 + 15; /* larger than the pair link carries */
    uint8_t *big = calloc(1, len);
    ck_assert_int_lt(ts_driver_send(p, big, len, 7), 0);
    struct capture c;
    parse(&c);
    ck_assert_uint_eq(c.n, 0);
    free(big);
    ts_driver_destroy(p);
    ts_driver_destroy(b);
    unlink(path);
}
END_TEST

START_TEST(test_unwritable_path_gives_a_message_and_leaves_the_inner_driver_to_the_caller)
{
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 0);
    char err[256] = "";
    struct ts_driver *p = ts_pcap_wrap(a, "/nonexistent-dir/x.pcap", err, sizeof(err));
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.pcap"));
    ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
    /* a still works and is still ours to free. */
    uint8_t f[20] = {1}, buf[20];
    ck_assert_int_eq(ts_driver_send(a, f, sizeof(f), 0), 0);
    ck_assert_int_eq(ts_driver_recv(b, buf, sizeof(buf), 0), (int)sizeof(f));
    ts_driver_destroy(a);
    ts_driver_destroy(b);
}
END_TEST

START_TEST(test_fd_and_deadline_are_the_inner_drivers)
{
    make_path();
    struct ts_driver *a, *b;
    ts_pair_create(&a, &b, 300);
    int fd = ts_driver_fd(a);
    char err[256];
    struct ts_driver *p = ts_pcap_wrap(a, path, err, sizeof(err));
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(ts_driver_fd(p), fd);
    ck_assert_str_eq(p->name, "pcap");
    uint8_t f[20] = {1}, buf[20];
    ck_assert_uint_eq(ts_driver_next_deadline(p, 0), TS_TIME_NEVER);
    ck_assert_int_eq(ts_driver_send(b, f, sizeof(f), 100), 0);
    ck_assert_uint_eq(ts_driver_next_deadline(p, 100), 400);
    ck_assert_int_eq(ts_driver_recv(p, buf, sizeof(buf), 399), 0);
    ck_assert_int_eq(ts_driver_recv(p, buf, sizeof(buf), 400), (int)sizeof(f));
    ts_driver_destroy(p);
    ts_driver_destroy(b);
    unlink(path);
}
END_TEST

static Suite *pcap_suite(void)
{
    Suite *s = suite_create("pcap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_file_starts_with_a_classic_pcap_header_for_ethernet);
    tcase_add_test(tc, test_sent_and_received_frames_are_recorded_with_the_stacks_clock_while_open);
    tcase_add_test(tc,
                   test_super_segment_of_64_kib_is_recorded_whole_as_the_one_frame_that_crossed);
    tcase_add_test(tc, test_frame_the_inner_driver_refuses_is_not_recorded);
    tcase_add_test(tc,
                   test_unwritable_path_gives_a_message_and_leaves_the_inner_driver_to_the_caller);
    tcase_add_test(tc, test_fd_and_deadline_are_the_inner_drivers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pcap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
