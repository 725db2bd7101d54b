/* SHA-256 (apps/common/sha256.c) against the FIPS 180-2 appendix B examples and the padding
 * boundaries where a one-block/two-block mistake would show. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/common/sha256.h"

static void hex_of(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_buf(data, len, d);
    sha256_hex(d, out);
}

START_TEST(test_empty_message_has_the_standard_digest)
{
    char h[SHA256_HEX_LEN];
    hex_of("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_abc_matches_fips_one_block_example)
{
    char h[SHA256_HEX_LEN];
    hex_of("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_448_bit_message_matches_fips_two_block_example)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char h[SHA256_HEX_LEN];
    hex_of(m, strlen(m), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_million_a_fed_in_odd_pieces_matches_fips_long_example)
{
    /* Pieces of 1..97 bytes cross every block boundary offset. */
    static uint8_t a[1000000];
    memset(a, 'a', sizeof a);
    struct sha256 c;
    sha256_init(&c);
    size_t off = 0, step = 1;
    while (off < sizeof a) {
        size_t n = step < sizeof a - off ? step : sizeof a - off;
        sha256_update(&c, a + off, n);
        off += n;
        step = step % 97 + 1;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    char h[SHA256_HEX_LEN];
    sha256_final(&c, d);
    sha256_hex(d, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* Lengths around the 56-byte point where the length field no longer fits in the last block. */
static const struct {
    size_t n;
    const char *hex;
} boundary[] = {
    {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
    {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
};

START_TEST(test_padding_boundary_lengths_hash_correctly)
{
    char m[80];
    memset(m, 'a', sizeof m);
    char h[SHA256_HEX_LEN];
    hex_of(m, boundary[_i].n, h);
    ck_assert_str_eq(h, boundary[_i].hex);
}
END_TEST

START_TEST(test_streaming_byte_by_byte_equals_one_shot)
{
    uint8_t m[300];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(i * 31 + 7);
    uint8_t one[SHA256_DIGEST_LEN], many[SHA256_DIGEST_LEN];
    sha256_buf(m, sizeof m, one);
    struct sha256 c;
    sha256_init(&c);
    for (size_t i = 0; i < sizeof m; i++)
        sha256_update(&c, m + i, 1);
    sha256_final(&c, many);
    ck_assert_mem_eq(one, many, SHA256_DIGEST_LEN);
}
END_TEST

/* The digest of data with one compression; false when the CPU lacks it. */
static bool digest_with(enum sha256_impl impl, const void *data, size_t len,
                        uint8_t out[SHA256_DIGEST_LEN])
{
    struct sha256 c;
    if (!sha256_init_impl(&c, impl))
        return false;
    sha256_update(&c, data, len);
    sha256_final(&c, out);
    return true;
}

static const enum sha256_impl impls[] = {SHA256_PORTABLE, SHA256_X86_SHA};

START_TEST(test_each_compression_matches_fips_two_block_example)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t d[SHA256_DIGEST_LEN];
    char h[SHA256_HEX_LEN];
    if (!digest_with(impls[_i], m, strlen(m), d))
        return; /* this CPU has no SHA extensions: only the portable code runs here */
    sha256_hex(d, h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_cpu_sha_extensions_agree_with_portable_code_on_every_length)
{
    /* Every length 0..1100 (every block offset, one to eighteen blocks) and one of 1 MiB + 13,
     * of bytes that vary, so a wrong lane or message word cannot cancel out. */
    static uint8_t m[(1 << 20) + 13];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof m; i++) {
        x = x * 1103515245u + 12345u;
        m[i] = (uint8_t)(x >> 16);
    }
    uint8_t a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    if (!digest_with(SHA256_X86_SHA, m, 0, b))
        return; /* no SHA extensions on this CPU: nothing to compare */
    for (size_t n = 0; n <= 1100; n++) {
        ck_assert(digest_with(SHA256_PORTABLE, m, n, a));
        ck_assert(digest_with(SHA256_X86_SHA, m, n, b));
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "the digests differ at length %zu", n);
    }
    ck_assert(digest_with(SHA256_PORTABLE, m, sizeof m, a));
    ck_assert(digest_with(SHA256_X86_SHA, m, sizeof m, b));
    ck_assert_mem_eq(a, b, sizeof a);
}
END_TEST

static Suite *sha256_suite(void)
{
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("vectors");
    tcase_add_test(tc, test_empty_message_has_the_standard_digest);
    tcase_add_test(tc, test_abc_matches_fips_one_block_example);
    tcase_add_test(tc, test_448_bit_message_matches_fips_two_block_example);
    tcase_add_test(tc, test_million_a_fed_in_odd_pieces_matches_fips_long_example);
    tcase_add_loop_test(tc, test_padding_boundary_lengths_hash_correctly, 0,
                        (int)(sizeof boundary / sizeof boundary[0]));
    tcase_add_test(tc, test_streaming_byte_by_byte_equals_one_shot);
    tcase_add_loop_test(tc, test_each_compression_matches_fips_two_block_example, 0,
                        (int)(sizeof impls / sizeof impls[0]));
    tcase_add_test(tc, test_cpu_sha_extensions_agree_with_portable_code_on_every_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sha256_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
