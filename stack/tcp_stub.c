/* Placeholder until the TCP engine lands: the core links without it. Removed by the TCP issue. */
#include "internal.h"

struct ts_tcp_table *ts_tcp_table_new(struct ts_stack *s)
{
    (void)s;
    return NULL;
}
void ts_tcp_table_free(struct ts_tcp_table *t) { (void)t; }
void ts_tcp_input(struct ts_stack *s, const struct ipv4_hdr *ip)
{
    (void)ip;
    ts_count(s, TS_C_TCP_DROP_NO_SOCKET);
}
void ts_tcp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    (void)s;
    (void)e;
}
ts_time_t ts_tcp_poll(struct ts_stack *s, ts_time_t now)
{
    (void)s;
    (void)now;
    return TS_TIME_NEVER;
}
