/* The shared app flags (apps/common/opts.c): defaults, values, app flags and positionals, and the
 * exit status 2 for a bad value. Exit cases run in libcheck's forked mode (tcase_add_exit_test). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../apps/common/opts.h"
#include "../../apps/common/runopts.h"

struct app_ctx {
    unsigned port;
    int verbose;
    const char *pos[2];
};

static const char *set_port(const char *val, void *ctx)
{
    struct app_ctx *a = ctx;
    return ts_app_parse_uint(val, 1, 65535, &a->port) ? NULL : "must be a port 1..65535";
}

static const char *set_verbose(const char *val, void *ctx)
{
    (void)val;
    ((struct app_ctx *)ctx)->verbose++;
    return NULL;
}

static const char *positional(int index, const char *val, void *ctx)
{
    struct app_ctx *a = ctx;
    if (index == 1 && strcmp(val, "bad") == 0)
        return "is bad";
    a->pos[index] = val;
    return NULL;
}

static const struct ts_app_flag flags[] = {
    {"port", "N", "port", set_port},
    {"verbose", NULL, "more", set_verbose},
    {NULL, NULL, NULL, NULL},
};

static struct app_ctx ctx;
static struct ts_app_opts o;

static void parse(int argc, const char **argv)
{
    memset(&ctx, 0, sizeof(ctx));
    struct ts_app_spec spec = {
        .name = "tapstack-test",
        .summary = "test",
        .args = "HOST [PORT]",
        .flags = flags,
        .positional = positional,
        .min_positional = 1,
        .max_positional = 2,
        .ctx = &ctx,
    };
    ts_app_parse(&spec, argc, (char **)argv, &o);
}
#define PARSE(...)                                                                                 \
    do {                                                                                           \
        const char *argv_[] = {"prog", __VA_ARGS__, NULL};                                         \
        parse((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_);                                 \
    } while (0)

START_TEST(test_defaults_are_tap0_10_0_0_2_24_via_10_0_0_1_without_faults)
{
    PARSE("host");
    ck_assert_str_eq(o.tap, "tap0");
    ck_assert_uint_eq(o.cfg.ip, 0x0a000002u);
    ck_assert_uint_eq(o.cfg.prefix_len, 24);
    ck_assert_uint_eq(o.cfg.gateway, 0x0a000001u);
    ck_assert_uint_eq(o.cfg.mtu, 1500);
    ck_assert_uint_eq(o.cfg.tcp_msl, 30 * TS_SEC);
    static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
    ck_assert_mem_eq(o.cfg.mac, mac, 6);
    ck_assert(!o.faults);
    ck_assert(!o.trace);
    ck_assert_ptr_null(o.pcap);
    ck_assert_uint_eq(o.fault.seed, 1);
    ck_assert_str_eq(ctx.pos[0], "host");
}
END_TEST

START_TEST(test_common_flags_set_the_config_in_both_spellings)
{
    PARSE("--tap", "tap7", "--ip=192.168.5.20/16", "--mac", "02:aa:bb:cc:dd:ee", "--mtu", "9000",
          "--pcap", "x.pcap", "--msl", "0.5", "--trace", "host");
    ck_assert_str_eq(o.tap, "tap7");
    ck_assert_uint_eq(o.cfg.ip, 0xc0a80514u);
    ck_assert_uint_eq(o.cfg.prefix_len, 16);
    ck_assert_uint_eq(o.cfg.gateway, 0xc0a80001u); /* the subnet's .1 */
    ck_assert_uint_eq(o.cfg.mac[1], 0xaa);
    ck_assert_uint_eq(o.cfg.mtu, 9000);
    ck_assert_str_eq(o.pcap, "x.pcap");
    ck_assert_uint_eq(o.cfg.tcp_msl, 500 * TS_MS);
    ck_assert(o.trace);
}
END_TEST

START_TEST(test_gateway_can_be_given_or_turned_off)
{
    PARSE("--gw", "10.0.0.254", "h");
    ck_assert_uint_eq(o.cfg.gateway, 0x0a0000feu);
    PARSE("--gw", "0.0.0.0", "h");
    ck_assert_uint_eq(o.cfg.gateway, 0);
    PARSE("--ip", "10.0.0.1/24", "h"); /* we are the .1: no default gateway */
    ck_assert_uint_eq(o.cfg.gateway, 0);
}
END_TEST

START_TEST(test_fault_flags_set_both_directions_or_one)
{
    PARSE("--drop", "0.25", "--dup-in", "0.5", "--delay-out", "12.5", "--seed", "99", "h");
    ck_assert(o.faults);
    ck_assert(o.fault.in.drop == 0.25 && o.fault.out.drop == 0.25);
    ck_assert(o.fault.in.dup == 0.5 && o.fault.out.dup == 0);
    ck_assert_uint_eq(o.fault.out.delay, 12500);
    ck_assert_uint_eq(o.fault.in.delay, 0);
    ck_assert_uint_eq(o.fault.seed, 99);
    PARSE("--drop", "0", "h");
    ck_assert(!o.faults);
}
END_TEST

/* The default is the host kernel's own, when tapstack has it: a program sends as the host's
 * sockets would. A name tapstack lacks (vegas), an empty or missing file: NewReno. */
START_TEST(test_default_congestion_control_is_the_hosts)
{
    char path[] = "/tmp/ts-test-cc-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const struct {
        const char *text;
        enum ts_tcp_cc want;
    } cases[] = {{"bbr\n", TS_CC_BBR},       {"cubic\n", TS_CC_CUBIC}, {"reno\n", TS_CC_NEWRENO},
                 {"vegas\n", TS_CC_NEWRENO}, {"", TS_CC_NEWRENO},      {"bbr", TS_CC_BBR}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(pwrite(fd, cases[i].text, strlen(cases[i].text), 0),
                         (ssize_t)strlen(cases[i].text));
        ck_assert_msg(ts_app_host_cc(path) == cases[i].want, "host file '%s'", cases[i].text);
    }
    close(fd);
    unlink(path);
    ck_assert(ts_app_host_cc("/nonexistent/tcp_congestion_control") == TS_CC_NEWRENO);
    PARSE("h");
    ck_assert(o.cfg.tcp_cc == ts_app_host_cc(TS_APP_HOST_CC));
}
END_TEST

START_TEST(test_cc_flag_picks_newreno_cubic_or_bbr)
{
    PARSE("--cc", "cubic", "h");
    ck_assert(o.cfg.tcp_cc == TS_CC_CUBIC);
    PARSE("--cc", "bbr", "h");
    ck_assert(o.cfg.tcp_cc == TS_CC_BBR);
    PARSE("--cc=newreno", "h");
    ck_assert(o.cfg.tcp_cc == TS_CC_NEWRENO);
}
END_TEST

START_TEST(test_app_flags_and_positionals_reach_their_handlers)
{
    PARSE("--port", "8080", "--verbose", "srv", "--verbose", "7");
    ck_assert_uint_eq(ctx.port, 8080);
    ck_assert_int_eq(ctx.verbose, 2);
    ck_assert_str_eq(ctx.pos[0], "srv");
    ck_assert_str_eq(ctx.pos[1], "7");
}
END_TEST

/* A launcher (tapstack-run) takes the stack options up to the program, and leaves the program's
 * own flags alone. */
static int rest_of(int argc, const char **argv)
{
    int rest = -1;
    struct ts_app_spec spec = {.name = "tapstack-test", .flags = flags, .ctx = &ctx, .rest = &rest};
    ts_app_parse(&spec, argc, (char **)argv, &o);
    return rest;
}

START_TEST(test_rest_stops_at_the_program_and_leaves_its_flags)
{
    const char *a1[] = {"run", "--tap", "tap7", "--port", "80", "curl", "-o", "x", "--tap", "y"};
    ck_assert_int_eq(rest_of(10, a1), 5);
    ck_assert_str_eq(o.tap, "tap7");
    ck_assert_uint_eq(ctx.port, 80);
    const char *a2[] = {"run", "--trace", "--", "--weird-program-name", "-v"};
    ck_assert_int_eq(rest_of(5, a2), 3);
    ck_assert(o.trace);
    const char *a3[] = {"run", "--mtu", "1400"};
    ck_assert_int_eq(rest_of(3, a3), 3); /* no program: argc */
    ck_assert_uint_eq(o.cfg.mtu, 1400);
}
END_TEST

/* tapstack-run hands the options to its library in one environment variable: what goes in
 * comes out, empty arguments and spaces included; a byte that cannot be carried is refused. */
START_TEST(test_run_options_survive_the_environment)
{
    char *in[] = {"--tap", "tap 7", "", "--pcap=/tmp/a b.pcap", "--", NULL};
    char *enc = ts_run_encode(in, 5);
    ck_assert_ptr_nonnull(enc);
    int argc = 0;
    char **out = ts_run_decode("tapstack-run", enc, &argc);
    ck_assert_int_eq(argc, 6);
    ck_assert_str_eq(out[0], "tapstack-run");
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(out[i + 1], in[i]);
    ck_assert_ptr_null(out[6]);
    free(out);
    free(enc);
    out = ts_run_decode("p", "", &argc);
    ck_assert_int_eq(argc, 1);
    ck_assert_ptr_null(out[1]);
    free(out);
    char sep[] = "a?b";
    sep[1] = TS_RUN_SEP;
    char *bad[] = {sep};
    ck_assert_ptr_null(ts_run_encode(bad, 1));
}
END_TEST

START_TEST(test_control_flag_names_a_path_or_none)
{
    PARSE("h");
    ck_assert_ptr_null(o.control); /* the default path for the tap */
    PARSE("--control", "/tmp/x.sock", "h");
    ck_assert_str_eq(o.control, "/tmp/x.sock");
    PARSE("--control=none", "h");
    ck_assert_str_eq(o.control, "none");
}
END_TEST

START_TEST(test_offloads_are_on_unless_no_offload_is_given)
{
    PARSE("h");
    ck_assert(!o.no_offload);
    PARSE("--no-offload", "h");
    ck_assert(o.no_offload);
    setenv("TAPSTACK_OFFLOAD", "0", 1); /* how the tests run every app without offloads */
    PARSE("h");
    ck_assert(o.no_offload);
    setenv("TAPSTACK_OFFLOAD", "1", 1);
    PARSE("h");
    ck_assert(!o.no_offload);
    unsetenv("TAPSTACK_OFFLOAD");
}
END_TEST

/* Each of these must exit with status 2 (checked by tcase_add_exit_test). */
START_TEST(test_control_path_too_long_for_a_unix_socket_exits_2)
{
    char p[200];
    memset(p, 'a', sizeof p - 1);
    p[sizeof p - 1] = 0;
    PARSE("--control", p, "h");
}
END_TEST

START_TEST(test_probability_above_one_exits_2)
{
    PARSE("--drop", "1.5", "h");
}
END_TEST
START_TEST(test_unknown_flag_exits_2)
{
    PARSE("--nope", "h");
}
END_TEST
START_TEST(test_missing_value_exits_2)
{
    PARSE("h", "--mtu");
}
END_TEST
START_TEST(test_network_address_as_ip_exits_2)
{
    PARSE("--ip", "10.0.0.0/24", "h");
}
END_TEST
START_TEST(test_gateway_off_subnet_exits_2)
{
    PARSE("--gw", "10.9.0.1", "h");
}
END_TEST
START_TEST(test_multicast_mac_exits_2)
{
    PARSE("--mac", "01:00:5e:00:00:01", "h");
}
END_TEST
START_TEST(test_bad_app_flag_value_exits_2)
{
    PARSE("--port", "0", "h");
}
END_TEST
START_TEST(test_missing_positional_exits_2)
{
    PARSE("--trace");
}
END_TEST
START_TEST(test_extra_positional_exits_2)
{
    PARSE("a", "b", "c");
}
END_TEST
START_TEST(test_bad_positional_exits_2)
{
    PARSE("a", "bad");
}
END_TEST
START_TEST(test_unknown_congestion_control_exits_2)
{
    PARSE("--cc", "vegas", "h");
}
END_TEST
START_TEST(test_value_on_a_switch_exits_2)
{
    PARSE("--trace=yes", "h");
}
END_TEST
START_TEST(test_help_exits_0)
{
    PARSE("--help");
}
END_TEST

START_TEST(test_value_helpers_reject_junk)
{
    unsigned u;
    double d;
    uint64_t v;
    ck_assert(ts_app_parse_uint("42", 1, 100, &u) && u == 42);
    ck_assert(!ts_app_parse_uint("42x", 1, 100, &u));
    ck_assert(!ts_app_parse_uint("-1", 0, 100, &u));
    ck_assert(!ts_app_parse_uint("101", 1, 100, &u));
    ck_assert(!ts_app_parse_uint("", 0, 100, &u));
    ck_assert(ts_app_parse_double("0.5", 0, 1, &d) && d == 0.5);
    ck_assert(!ts_app_parse_double("nan", 0, 1, &d));
    ck_assert(!ts_app_parse_double("1e400", 0, 1e300, &d));
    ck_assert(ts_app_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
    ck_assert(!ts_app_parse_u64("18446744073709551616", &v));
}
END_TEST

static Suite *opts_suite(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_defaults_are_tap0_10_0_0_2_24_via_10_0_0_1_without_faults);
    tcase_add_test(tc, test_common_flags_set_the_config_in_both_spellings);
    tcase_add_test(tc, test_gateway_can_be_given_or_turned_off);
    tcase_add_test(tc, test_fault_flags_set_both_directions_or_one);
    tcase_add_test(tc, test_default_congestion_control_is_the_hosts);
    tcase_add_test(tc, test_cc_flag_picks_newreno_cubic_or_bbr);
    tcase_add_test(tc, test_app_flags_and_positionals_reach_their_handlers);
    tcase_add_test(tc, test_control_flag_names_a_path_or_none);
    tcase_add_test(tc, test_offloads_are_on_unless_no_offload_is_given);
    tcase_add_test(tc, test_rest_stops_at_the_program_and_leaves_its_flags);
    tcase_add_test(tc, test_run_options_survive_the_environment);
    tcase_add_test(tc, test_value_helpers_reject_junk);
    tcase_add_exit_test(tc, test_probability_above_one_exits_2, 2);
    tcase_add_exit_test(tc, test_unknown_flag_exits_2, 2);
    tcase_add_exit_test(tc, test_missing_value_exits_2, 2);
    tcase_add_exit_test(tc, test_network_address_as_ip_exits_2, 2);
    tcase_add_exit_test(tc, test_gateway_off_subnet_exits_2, 2);
    tcase_add_exit_test(tc, test_control_path_too_long_for_a_unix_socket_exits_2, 2);
    tcase_add_exit_test(tc, test_multicast_mac_exits_2, 2);
    tcase_add_exit_test(tc, test_bad_app_flag_value_exits_2, 2);
    tcase_add_exit_test(tc, test_missing_positional_exits_2, 2);
    tcase_add_exit_test(tc, test_extra_positional_exits_2, 2);
    tcase_add_exit_test(tc, test_bad_positional_exits_2, 2);
    tcase_add_exit_test(tc, test_unknown_congestion_control_exits_2, 2);
    tcase_add_exit_test(tc, test_value_on_a_switch_exits_2, 2);
    tcase_add_exit_test(tc, test_help_exits_0, 0);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(opts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
