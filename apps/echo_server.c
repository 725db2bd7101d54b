/* tapstack-echo-server: brings the stack up on a tap and serves until SIGINT/SIGTERM.
 *
 * This first version answers ARP and ICMP echo (ping), which is all the foundation layers offer;
 * the TCP and UDP echo service (RFC 862) comes with the socket layer. */
#include <stdio.h>
#include <stdlib.h>

#include "common/opts.h"

int main(int argc, char **argv)
{
    const struct ts_app_spec spec = {
        .name = "tapstack-echo-server",
        .summary = "Bring tapstack up on a tap and answer ARP and ping until SIGINT/SIGTERM.",
    };
    struct ts_app_opts o;
    ts_app_parse(&spec, argc, argv, &o);

    struct ts_app app;
    if (ts_app_bringup(&o, &app) < 0)
        return 1;
    char ip[16];
    fprintf(stderr, "%s: ready; from the host: ping %s\n", o.prog, ts_ip_format(o.cfg.ip, ip));
    fflush(stderr);

    int rc = ts_app_run_loop(app.stack, app.drv, ts_app_stop_flag());
    fprintf(stderr, "%s: stopping\n", o.prog);
    ts_app_teardown(&app);
    return rc == 0 ? 0 : 1;
}
