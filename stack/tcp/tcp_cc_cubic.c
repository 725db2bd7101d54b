/* CUBIC congestion control (RFC 9438), selected by ts_config.tcp_cc = TS_CC_CUBIC: its own window
 * growth and ssthresh behind the ops table of tcp_cc.c; slow start and loss recovery stay RFC
 * 5681's. */
#include <math.h>

#include "tcp_internal.h"

#define CUBIC_C    0.4
#define CUBIC_BETA 0.7

static void tcp_cubic_init(struct ts_tcp_conn *c)
{
    tcp_reno_init(c);
    c->cc.cubic.w_max = c->cc.cubic.w_last_max = c->cc.cubic.k = c->cc.cubic.w_est = 0;
    c->cc.cubic.epoch = 0;
}

static void tcp_cubic_cong_avoid(struct ts_tcp_conn *c, uint32_t acked, ts_time_t now)
{
    double mss = c->mss;
    if (c->cc.cwnd < c->cc.ssthresh || c->cc.cwnd < c->mss) {
        tcp_reno_cong_avoid(c, acked, now); /* RFC 9438 4.10: slow start as Reno */
        return;
    }
    double cwnd = c->cc.cwnd / mss;
    if (c->cc.cubic.epoch == 0) {
        /* An epoch starts: from W_max after a loss, or from here when there was none. */
        c->cc.cubic.epoch = now ? now : 1;
        if (c->cc.cubic.w_max < cwnd) {
            c->cc.cubic.w_max = cwnd;
            c->cc.cubic.k = 0;
        }
        c->cc.cubic.w_est = cwnd;
    }
    /* RFC 9438 4.2: W_cubic(t) = C (t - K)^3 + W_max, aimed one RTT ahead. */
    double rtt = (c->rtt.valid ? (double)c->rtt.srtt : 100e3) / 1e6;
    double t = (double)(now - c->cc.cubic.epoch) / 1e6 + rtt;
    double d = t - c->cc.cubic.k;
    double target = CUBIC_C * d * d * d + c->cc.cubic.w_max;
    if (target > 1.5 * cwnd)
        target = 1.5 * cwnd;
    /* RFC 9438 4.3: the Reno-friendly estimate, alpha = 3 (1 - beta) / (1 + beta). */
    double alpha = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA);
    c->cc.cubic.w_est += alpha * ((double)acked / mss) / cwnd;
    if (c->cc.cubic.w_est > target)
        target = c->cc.cubic.w_est;
    if (target > cwnd) {
        /* RFC 9438 4.4: grow by (target - cwnd) / cwnd per acknowledged segment. */
        double inc = (target - cwnd) / cwnd * ((double)acked / mss) * mss;
        c->cc.cwnd += (uint32_t)(inc + 0.5);
    }
    if (c->cc.cwnd > (1u << 30))
        c->cc.cwnd = 1u << 30;
}

static uint32_t tcp_cubic_ssthresh(struct ts_tcp_conn *c)
{
    double cwnd = c->cc.cwnd / (double)c->mss;
    /* RFC 9438 4.7: fast convergence. */
    if (cwnd < c->cc.cubic.w_last_max)
        c->cc.cubic.w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
    else
        c->cc.cubic.w_max = cwnd;
    c->cc.cubic.w_last_max = cwnd;
    c->cc.cubic.k = cbrt(c->cc.cubic.w_max * (1.0 - CUBIC_BETA) / CUBIC_C);
    c->cc.cubic.epoch = 0;
    /* RFC 9438 4.6: ssthresh = flight * beta, at least 2 segments. */
    uint32_t flight = c->snd.max - c->snd.una;
    uint32_t base = flight > c->cc.cwnd ? c->cc.cwnd : flight;
    uint32_t th = (uint32_t)(base * CUBIC_BETA);
    return th > 2u * c->mss ? th : 2u * c->mss;
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = tcp_cubic_init,
    .cong_avoid = tcp_cubic_cong_avoid,
    .ssthresh = tcp_cubic_ssthresh,
};
