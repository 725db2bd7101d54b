/* Two socket runtimes on the pair link: see rt_fixture.h. */
#include "rt_fixture.h"

#include <check.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"

void rt_pair_up(struct ts_runtime **a, struct ts_runtime **b, rt_wrap_fn wrap_a, void *arg)
{
    struct ts_driver *da, *db;
    ts_pair_create(&da, &db, 0);
    ck_assert(da && db);
    if (wrap_a)
        da = wrap_a(da, arg);
    struct ts_config ca, cb;
    th_config(&ca, TH_A);
    th_config(&cb, TH_B);
    struct ts_stack *sa = ts_stack_new(&ca, da, ts_runtime_now());
    struct ts_stack *sb = ts_stack_new(&cb, db, ts_runtime_now());
    ck_assert(sa && sb);
    *a = ts_runtime_start(sa, da);
    *b = ts_runtime_start(sb, db);
    ck_assert(*a && *b);
}

void rt_pair_down(struct ts_runtime **a, struct ts_runtime **b)
{
    ts_runtime_stop(*a);
    ts_runtime_stop(*b);
    *a = *b = NULL;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
    struct sockaddr_in s;
    memset(&s, 0, sizeof s);
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(ip);
    s.sin_port = htons(port);
    return s;
}

void rt_tcp_pair(struct ts_runtime *a, struct ts_runtime *b, uint16_t port, int *cli, int *srv)
{
    int one = 1;
    struct timeval tv = {.tv_sec = 2};
    int l = ts_socket_on(b, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(l, 0);
    ck_assert_int_eq(ts_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    ck_assert_int_eq(ts_setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct sockaddr_in la = sin_of(0, port);
    ck_assert_int_eq(ts_bind(l, (struct sockaddr *)&la, sizeof la), 0);
    ck_assert_int_eq(ts_listen(l, 16), 0);
    int c = ts_socket_on(a, AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c, 0);
    struct sockaddr_in ra = sin_of(TH_IP_B, port);
    ck_assert_int_eq(ts_connect(c, (struct sockaddr *)&ra, sizeof ra), 0);
    int s = ts_accept(l, NULL, NULL);
    ck_assert_int_ge(s, 0);
    ts_close(l);
    ck_assert_int_eq(ts_setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    ck_assert_int_eq(ts_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    *cli = c;
    *srv = s;
}
