/* The httpd's pure parts: request-head parsing (RFC 9112), the chunked decoder (RFC 9112 7.1),
 * response heads, and the /bytes pattern. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/http.h"
#include "../../apps/common/pattern.h"

static struct http_request req;

static long parse(const char *s)
{
    return http_parse_request(s, strlen(s), 0, &req);
}

/* ---- request heads ---- */

START_TEST(test_simple_get_is_complete_with_its_length_and_fields)
{
    const char *s = "GET /bytes/10 HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: t\r\n\r\n";
    ck_assert_int_eq(parse(s), (long)strlen(s));
    ck_assert_int_eq(req.method, HTTP_M_GET);
    ck_assert_str_eq(req.method_str, "GET");
    ck_assert_str_eq(req.target, "/bytes/10");
    ck_assert_int_eq(req.minor, 1);
    ck_assert(req.keep_alive);
    ck_assert(!req.has_length);
    ck_assert(!req.chunked);
}
END_TEST

START_TEST(test_every_proper_prefix_of_a_request_is_incomplete)
{
    const char *s = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
    size_t n = strlen(s);
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(http_parse_request(s, k, 0, &req) == 0, "prefix %zu", k);
    ck_assert_int_eq(http_parse_request(s, n, 0, &req), (long)n);
}
END_TEST

START_TEST(test_body_starts_right_after_the_blank_line)
{
    const char *s = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    long n = parse(s);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(s + n, "hello");
    ck_assert(req.has_length);
    ck_assert_uint_eq(req.content_length, 5);
    ck_assert_int_eq(req.method, HTTP_M_POST);
}
END_TEST

START_TEST(test_pipelined_requests_parse_one_after_the_other)
{
    const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n";
    long n = parse(s);
    ck_assert_int_gt(n, 0);
    ck_assert_str_eq(req.target, "/a");
    long m = http_parse_request(s + n, strlen(s) - (size_t)n, 0, &req);
    ck_assert_int_eq(n + m, (long)strlen(s));
    ck_assert_int_eq(req.method, HTTP_M_HEAD);
    ck_assert_str_eq(req.target, "/b");
}
END_TEST

START_TEST(test_connection_close_ends_keep_alive_in_http11)
{
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"), 0);
    ck_assert(!req.keep_alive);
    ck_assert_int_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"), 0);
    ck_assert(!req.keep_alive);
}
END_TEST

START_TEST(test_http10_is_persistent_only_with_keep_alive)
{
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(req.minor, 0);
    ck_assert(!req.keep_alive);
    ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
    ck_assert(req.keep_alive);
}
END_TEST

START_TEST(test_http11_without_host_is_400_and_two_hosts_are_400)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n"), -400);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_whitespace_before_colon_is_400)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_obsolete_line_folding_is_400)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  more\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_header_line_without_colon_is_400)
{
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\nnonsense\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_version_2_is_505_and_malformed_versions_are_400)
{
    ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), -505);
    ck_assert_int_eq(parse("GET / http/1.1\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(parse("GET / HTTP/1.1x\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(parse("GET /\r\n\r\n"), -400);
    ck_assert_int_eq(parse("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_higher_minor_version_is_treated_as_http11)
{
    ck_assert_int_gt(parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n"), 0);
    ck_assert_int_eq(req.minor, 1);
}
END_TEST

START_TEST(test_binary_garbage_is_400_before_any_newline)
{
    const char g[] = {'\x16', '\x03', '\x01', '\x02', '\x00', 'x'};
    ck_assert_int_eq(http_parse_request(g, sizeof g, 0, &req), -400);
}
END_TEST

START_TEST(test_nul_or_bare_cr_in_a_field_is_400)
{
    const char s[] = "GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n";
    ck_assert_int_eq(http_parse_request(s, sizeof s - 1, 0, &req), -400);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_head_that_never_ends_within_the_limit_is_431)
{
    static char s[HTTP_MAX_HEADER + 100];
    int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: ");
    memset(s + n, 'a', sizeof s - (size_t)n - 1);
    s[sizeof s - 1] = '\0';
    ck_assert_int_eq(http_parse_request(s, HTTP_MAX_HEADER - 1, 0, &req), 0);
    ck_assert_int_eq(http_parse_request(s, HTTP_MAX_HEADER, 0, &req), -431);
    ck_assert_int_eq(http_parse_request(s, sizeof s - 1, 0, &req), -431);
}
END_TEST

START_TEST(test_complete_head_larger_than_the_limit_is_431)
{
    char s[300];
    int n = snprintf(s, sizeof s, "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: ");
    memset(s + n, 'b', 200);
    strcpy(s + n + 200, "\r\n\r\n");
    ck_assert_int_eq(http_parse_request(s, strlen(s), 100, &req), -431);
    ck_assert_int_eq(http_parse_request(s, strlen(s), 0, &req), (long)strlen(s));
}
END_TEST

START_TEST(test_target_longer_than_the_limit_is_414)
{
    static char s[HTTP_MAX_TARGET + 100];
    memcpy(s, "GET /", 5);
    memset(s + 5, 'x', HTTP_MAX_TARGET);
    strcpy(s + 5 + HTTP_MAX_TARGET, " HTTP/1.1\r\nHost: h\r\n\r\n");
    ck_assert_int_eq(parse(s), -414);
}
END_TEST

START_TEST(test_content_length_must_be_plain_digits_without_overflow)
{
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"), -400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), -400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n"), -400);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n"), -400);
    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n"), -400);
    ck_assert_int_gt(
        parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n"), 0);
    ck_assert_uint_eq(req.content_length, UINT64_MAX);
}
END_TEST

START_TEST(test_repeated_identical_content_length_is_one_and_differing_is_400)
{
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7\r\n\r\n"), 0);
    ck_assert_uint_eq(req.content_length, 7);
    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n"),
        -400);
}
END_TEST

START_TEST(test_transfer_encoding_chunked_is_recognised)
{
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
    ck_assert(req.chunked);
    ck_assert(!req.has_length);
}
END_TEST

START_TEST(test_transfer_encoding_with_content_length_is_400_against_smuggling)
{
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(test_unknown_transfer_coding_is_501_and_chunked_not_last_is_400)
{
    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), -501);
    ck_assert_int_eq(
        parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), -400);
    ck_assert_int_eq(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_expect_100_continue_is_noticed)
{
    ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                           "Content-Length: 9\r\n\r\n"),
                     0);
    ck_assert(req.expect_continue);
}
END_TEST

START_TEST(test_leading_empty_lines_and_bare_lf_are_tolerated)
{
    const char *s = "\r\n\nGET /x HTTP/1.1\nHost: h\n\n";
    ck_assert_int_eq(parse(s), (long)strlen(s));
    ck_assert_str_eq(req.target, "/x");
}
END_TEST

START_TEST(test_unknown_method_parses_as_other)
{
    ck_assert_int_gt(parse("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    ck_assert_int_eq(req.method, HTTP_M_OTHER);
    ck_assert_str_eq(req.method_str, "BREW");
    ck_assert_int_eq(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n") > 0, 1);
    ck_assert_int_eq(req.method, HTTP_M_OTHER); /* methods are case-sensitive */
}
END_TEST

START_TEST(test_parse_u64_accepts_only_plain_decimal)
{
    uint64_t v = 0;
    ck_assert_int_eq(http_parse_u64("104857600", 9, &v), 0);
    ck_assert_uint_eq(v, 104857600);
    ck_assert_int_eq(http_parse_u64("", 0, &v), -1);
    ck_assert_int_eq(http_parse_u64("1x", 2, &v), -1);
    ck_assert_int_eq(http_parse_u64(" 1", 2, &v), -1);
    ck_assert_int_eq(http_parse_u64("99999999999999999999", 20, &v), -1);
}
END_TEST

/* ---- chunked decoder ---- */

/* Feed s to a fresh decoder in pieces of `step` bytes; collect the body into out. Returns the
 * final result; *consumed says how many input bytes the decoder took. */
static int dechunk(const char *s, size_t len, size_t step, char *out, size_t *outlen,
                   size_t *consumed)
{
    struct http_chunked c;
    http_chunked_init(&c);
    size_t off = 0;
    int r = HTTP_CHUNK_MORE;
    *outlen = 0;
    while (off < len && r == HTTP_CHUNK_MORE) {
        size_t avail = len - off < step ? len - off : step;
        size_t used, doff, dlen;
        r = http_chunked_feed(&c, (const uint8_t *)s + off, avail, &used, &doff, &dlen);
        memcpy(out + *outlen, s + off + doff, dlen);
        *outlen += dlen;
        ck_assert_uint_le(used, avail);
        off += used;
        ck_assert_msg(used > 0 || r != HTTP_CHUNK_MORE, "no progress");
    }
    *consumed = off;
    return r;
}

START_TEST(test_chunked_body_decodes_at_every_split_size)
{
    const char *s = "5\r\nhello\r\n1;name=val\r\n \r\nA\r\n0123456789\r\n0\r\n\r\nNEXT";
    size_t body_end = strlen(s) - 4;
    for (size_t step = 1; step <= strlen(s); step++) {
        char out[64];
        size_t n, used;
        ck_assert_int_eq(dechunk(s, strlen(s), step, out, &n, &used), HTTP_CHUNK_DONE);
        ck_assert_uint_eq(n, 16);
        ck_assert_mem_eq(out, "hello 0123456789", 16);
        ck_assert_uint_eq(used, body_end); /* the next request is left alone */
    }
}
END_TEST

START_TEST(test_chunked_trailers_are_skipped)
{
    const char *s = "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n";
    char out[16];
    size_t n, used;
    ck_assert_int_eq(dechunk(s, strlen(s), 7, out, &n, &used), HTTP_CHUNK_DONE);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(used, strlen(s));
}
END_TEST

START_TEST(test_chunked_incomplete_body_asks_for_more)
{
    const char *s = "5\r\nhel";
    char out[16];
    size_t n, used;
    ck_assert_int_eq(dechunk(s, strlen(s), 100, out, &n, &used), HTTP_CHUNK_MORE);
    ck_assert_uint_eq(n, 3);
}
END_TEST

static const char *bad_chunked[] = {
    "x\r\n",                       /* not hex */
    "\r\n",                        /* no size */
    "5\r\nhelloX\r\n0\r\n\r\n",    /* data not followed by CRLF */
    "5\r\nhello\r\r\n",            /* CR not followed by LF */
    "11111111111111111\r\n",       /* 17 hex digits: overflow */
    "5\x01\r\nhello\r\n",          /* control byte in size line */
    "0\r\nbad\x01trailer\r\n\r\n", /* control byte in a trailer */
};

START_TEST(test_malformed_chunked_input_is_an_error)
{
    const char *s = bad_chunked[_i];
    char out[64];
    size_t n, used;
    ck_assert_int_eq(dechunk(s, strlen(s), 1, out, &n, &used), HTTP_CHUNK_ERROR);
    ck_assert_int_eq(dechunk(s, strlen(s), 64, out, &n, &used), HTTP_CHUNK_ERROR);
}
END_TEST

START_TEST(test_chunked_large_chunk_size_streams_without_buffering)
{
    struct http_chunked c;
    http_chunked_init(&c);
    const char *hdr = "ffffffff\r\n";
    size_t used, doff, dlen;
    ck_assert_int_eq(http_chunked_feed(&c, (const uint8_t *)hdr, strlen(hdr), &used, &doff, &dlen),
                     HTTP_CHUNK_MORE);
    ck_assert_uint_eq(used, strlen(hdr));
    uint8_t buf[4096] = {0};
    ck_assert_int_eq(http_chunked_feed(&c, buf, sizeof buf, &used, &doff, &dlen), HTTP_CHUNK_MORE);
    ck_assert_uint_eq(dlen, sizeof buf);
    ck_assert_uint_eq(c.total, sizeof buf);
    ck_assert_uint_eq(c.left, 0xffffffffULL - sizeof buf);
}
END_TEST

/* ---- responses ---- */

START_TEST(test_response_head_has_status_length_and_connection)
{
    char b[512];
    size_t n = http_format_head(b, sizeof b, 404, "text/plain", 10, false, "X-A: b\r\n");
    ck_assert_uint_eq(n, strlen(b));
    ck_assert(strncmp(b, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    ck_assert_ptr_nonnull(strstr(b, "\r\nContent-Length: 10\r\n"));
    ck_assert_ptr_nonnull(strstr(b, "\r\nContent-Type: text/plain\r\n"));
    ck_assert_ptr_nonnull(strstr(b, "\r\nConnection: close\r\n"));
    ck_assert_ptr_nonnull(strstr(b, "\r\nX-A: b\r\n\r\n"));
    ck_assert_str_eq(b + n - 4, "\r\n\r\n");
    n = http_format_head(b, sizeof b, 200, NULL, 104857600, true, NULL);
    ck_assert_ptr_nonnull(
        strstr(b, "\r\nContent-Length: 104857600\r\nConnection: keep-alive\r\n\r\n"));
    ck_assert_ptr_null(strstr(b, "Content-Type"));
}
END_TEST

START_TEST(test_status_reasons_of_the_codes_httpd_sends)
{
    ck_assert_str_eq(http_reason(200), "OK");
    ck_assert_str_eq(http_reason(302), "Found");
    ck_assert_str_eq(http_reason(400), "Bad Request");
    ck_assert_str_eq(http_reason(405), "Method Not Allowed");
    ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
}
END_TEST

/* ---- pattern ---- */

START_TEST(test_pattern_is_i_mod_251)
{
    ck_assert_uint_eq(pattern_byte(0), 0);
    ck_assert_uint_eq(pattern_byte(250), 250);
    ck_assert_uint_eq(pattern_byte(251), 0);
    ck_assert_uint_eq(pattern_byte(1000000007ULL), 1000000007ULL % 251);
    uint8_t b[600];
    pattern_fill(b, sizeof b, 0);
    for (size_t i = 0; i < sizeof b; i++)
        ck_assert_uint_eq(b[i], i % 251);
}
END_TEST

START_TEST(test_pattern_fill_at_any_offset_continues_the_stream)
{
    uint8_t b[1000];
    const uint64_t offs[] = {1, 250, 251, 252, 4096, 104857599, 5000000000ULL};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        memset(b, 0xee, sizeof b);
        pattern_fill(b, 997, offs[k]);
        for (size_t i = 0; i < 997; i++)
            ck_assert_uint_eq(b[i], pattern_byte(offs[k] + i));
        ck_assert_uint_eq(b[997], 0xee); /* writes exactly len bytes */
    }
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, test_simple_get_is_complete_with_its_length_and_fields);
    tcase_add_test(tc, test_every_proper_prefix_of_a_request_is_incomplete);
    tcase_add_test(tc, test_body_starts_right_after_the_blank_line);
    tcase_add_test(tc, test_pipelined_requests_parse_one_after_the_other);
    tcase_add_test(tc, test_connection_close_ends_keep_alive_in_http11);
    tcase_add_test(tc, test_http10_is_persistent_only_with_keep_alive);
    tcase_add_test(tc, test_http11_without_host_is_400_and_two_hosts_are_400);
    tcase_add_test(tc, test_whitespace_before_colon_is_400);
    tcase_add_test(tc, test_obsolete_line_folding_is_400);
    tcase_add_test(tc, test_header_line_without_colon_is_400);
    tcase_add_test(tc, test_version_2_is_505_and_malformed_versions_are_400);
    tcase_add_test(tc, test_higher_minor_version_is_treated_as_http11);
    tcase_add_test(tc, test_binary_garbage_is_400_before_any_newline);
    tcase_add_test(tc, test_nul_or_bare_cr_in_a_field_is_400);
    tcase_add_test(tc, test_head_that_never_ends_within_the_limit_is_431);
    tcase_add_test(tc, test_complete_head_larger_than_the_limit_is_431);
    tcase_add_test(tc, test_target_longer_than_the_limit_is_414);
    tcase_add_test(tc, test_content_length_must_be_plain_digits_without_overflow);
    tcase_add_test(tc, test_repeated_identical_content_length_is_one_and_differing_is_400);
    tcase_add_test(tc, test_transfer_encoding_chunked_is_recognised);
    tcase_add_test(tc, test_transfer_encoding_with_content_length_is_400_against_smuggling);
    tcase_add_test(tc, test_unknown_transfer_coding_is_501_and_chunked_not_last_is_400);
    tcase_add_test(tc, test_expect_100_continue_is_noticed);
    tcase_add_test(tc, test_leading_empty_lines_and_bare_lf_are_tolerated);
    tcase_add_test(tc, test_unknown_method_parses_as_other);
    tcase_add_test(tc, test_parse_u64_accepts_only_plain_decimal);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_add_test(tc, test_chunked_body_decodes_at_every_split_size);
    tcase_add_test(tc, test_chunked_trailers_are_skipped);
    tcase_add_test(tc, test_chunked_incomplete_body_asks_for_more);
    tcase_add_loop_test(tc, test_malformed_chunked_input_is_an_error, 0,
                        (int)(sizeof bad_chunked / sizeof bad_chunked[0]));
    tcase_add_test(tc, test_chunked_large_chunk_size_streams_without_buffering);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_test(tc, test_response_head_has_status_length_and_connection);
    tcase_add_test(tc, test_status_reasons_of_the_codes_httpd_sends);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *pattern_suite(void)
{
    Suite *s = suite_create("pattern");
    TCase *tc = tcase_create("bytes");
    tcase_add_test(tc, test_pattern_is_i_mod_251);
    tcase_add_test(tc, test_pattern_fill_at_any_offset_continues_the_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    srunner_add_suite(sr, pattern_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
