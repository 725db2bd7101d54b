/* getsockopt(TCP_INFO): Linux's struct tcp_info (linux/tcp.h) filled from tapstack's
 * ts_tcp_info. What iperf3 and curl read is there: state, options and window scales, rto, mss,
 * rtt/rttvar (µs), snd_cwnd and snd_ssthresh (in segments, as Linux), pmtu, total_retrans,
 * bytes acked/received/sent, segments in/out, notsent bytes, snd_wnd. What tapstack does not
 * keep is 0. Its own header (no netinet/tcp.h here: the two disagree). */
#include <errno.h>
#include <linux/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "tapstack/tcp.h"

int pl_tcp_info_fill(const struct ts_tcp_info *ti, void *val, socklen_t *len);

static uint32_t segs(uint32_t bytes, uint32_t mss)
{
    return mss ? bytes / mss : 0;
}

int pl_tcp_info_fill(const struct ts_tcp_info *tip, void *val, socklen_t *len)
{
    const struct ts_tcp_info ti = *tip;
    struct tcp_info li;
    memset(&li, 0, sizeof li);
    uint32_t mss = ti.mss_send ? ti.mss_send : 536;
    li.tcpi_state = (uint8_t)ti.state; /* tapstack numbers its states as Linux does */
    if (ti.ts_ok)
        li.tcpi_options |= TCPI_OPT_TIMESTAMPS;
    if (ti.sack_ok)
        li.tcpi_options |= TCPI_OPT_SACK;
    if (ti.snd_wscale || ti.rcv_wscale)
        li.tcpi_options |= TCPI_OPT_WSCALE;
    li.tcpi_snd_wscale = ti.snd_wscale & 15;
    li.tcpi_rcv_wscale = ti.rcv_wscale & 15;
    li.tcpi_rto = (uint32_t)ti.rto;
    li.tcpi_ato = 40000;
    li.tcpi_snd_mss = mss;
    li.tcpi_rcv_mss = ti.mss_recv ? ti.mss_recv : mss;
    li.tcpi_unacked = segs(ti.snd_nxt - ti.snd_una, mss);
    li.tcpi_pmtu = mss + 40;
    li.tcpi_rcv_ssthresh = ti.rcv_wnd;
    li.tcpi_rtt = (uint32_t)ti.srtt;
    li.tcpi_rttvar = (uint32_t)ti.rttvar;
    li.tcpi_snd_ssthresh = ti.ssthresh >= 0x7fffffffu ? 0x7fffffffu : segs(ti.ssthresh, mss);
    li.tcpi_snd_cwnd = segs(ti.cwnd, mss);
    li.tcpi_advmss = li.tcpi_rcv_mss;
    li.tcpi_reordering = 3;
    li.tcpi_rcv_space = ti.rcv_wnd;
    li.tcpi_total_retrans = (uint32_t)ti.retransmits;
    li.tcpi_max_pacing_rate = ~0ull;
    li.tcpi_pacing_rate = ~0ull;
    li.tcpi_bytes_acked = ti.bytes_acked;
    li.tcpi_bytes_received = ti.bytes_received;
    li.tcpi_segs_out = (uint32_t)ti.segs_out;
    li.tcpi_segs_in = (uint32_t)ti.segs_in;
    uint32_t flight = ti.snd_nxt - ti.snd_una;
    li.tcpi_notsent_bytes = ti.send_queued > flight ? ti.send_queued - flight : 0;
    li.tcpi_min_rtt = (uint32_t)ti.srtt;
    li.tcpi_data_segs_out = (uint32_t)ti.segs_out;
    li.tcpi_data_segs_in = (uint32_t)ti.segs_in;
    li.tcpi_bytes_sent = ti.bytes_sent;
    li.tcpi_snd_wnd = ti.snd_wnd;
    if (!val || !len) {
        errno = EFAULT;
        return -1;
    }
    size_t n = *len < sizeof li ? *len : sizeof li;
    memcpy(val, &li, n);
    *len = (socklen_t)n;
    return 0;
}
