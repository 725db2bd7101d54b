/* Placeholder until UDP lands: the core links without it. Removed by the UDP issue. */
#include "internal.h"

struct ts_udp_table *ts_udp_table_new(void) { return NULL; }
void ts_udp_table_free(struct ts_udp_table *t) { (void)t; }
void ts_udp_input(struct ts_stack *s, const struct ipv4_hdr *ip)
{
    (void)ip;
    ts_count(s, TS_C_UDP_DROP_NO_PORT);
}
void ts_udp_icmp_error(struct ts_stack *s, const struct ts_icmp_error *e)
{
    (void)s;
    (void)e;
}
