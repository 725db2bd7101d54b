#!/usr/bin/env bash
# tapstack-httpd attacked from the wire with hand-crafted frames (scapy, tests/integration/
# hostile.py), all inside the test's namespace, to 10.0.0.x on tap0 only:
#  - a SYN flood from 10.0.0.1 and from addresses nobody answers ARP for (RFC 4987: SYN cookies);
#  - blind in-window RSTs, SYNs and out-of-window ACKs on a live keep-alive connection (RFC 5961);
#  - forged ICMP errors against it: out-of-window quotes ignored, frag-needed lowers the path MTU
#    (floored at 552), port unreachable is soft once synchronized (RFC 5927, RFC 1191);
#  - connections driven by scapy itself (the namespace's kernel RSTs for those ports are dropped
#    with iptables): nonsense SACK blocks, URG, overlapping data, an out-of-order flood, and 300
#    silent established connections;
#  - garbage of every layer: TCP flags/options/offsets/urgent pointers/lengths, overlapping,
#    oversized and never-completing fragments, bad ARP, ICMP with bad checksums, UDP to closed
#    ports past the ICMP budget, short, foreign and oversize Ethernet frames.
# curl keeps working throughout; afterwards httpd is alive, answers ping and curl, VmRSS settled,
# it exits 0 on SIGTERM, and /stats names each drop reason. TS_SAN=1 scales the counts down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd
PY=$(ts_scapy_python) || ts_skip "no python3 with scapy"
HOSTILE=$(dirname "$0")/hostile.py
ts_ns_setup
# The raw connections below come from the host's address on ports 40000-41999 (their RSTs dropped
# by iptables): curl must never pick one of those ports, or its SYN meets one of them.
ts_ns_exec sysctl -qw net.ipv4.ip_local_port_range="42000 60999" ||
    ts_fail "could not set the namespace's ephemeral port range"
S=$TS_STACK_IP
U=http://$S

if [[ $TS_SAN == 1 ]]; then
    FLOOD=1500 GARBAGE=300
else
    FLOOD=5000 GARBAGE=1500
fi

hostile() { ts_ns_exec "$PY" "$HOSTILE" "$@"; }
status() { ts_ns_exec curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$@"; }
# counter NAME: its value in the last /stats snapshot (0 when absent: /stats lists non-zero ones)
counter() { awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }' "$TS_TMP/stats"; }
snap() { ts_ns_exec curl -sS --max-time 10 "$U/stats" >"$TS_TMP/stats" || ts_fail "curl /stats failed after $1"; }
need() { # need COUNTER MIN WHAT
    local v
    v=$(counter "$1")
    ((v >= $2)) || ts_fail "$3: $1 is $v, want >= $2"
}

# Without offloads: the checks read datagram sizes on the tap (path MTU after frag-needed), where a
# super-segment is one frame; that its pieces follow the path MTU is test_tcp_gso's.
ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP" --stats --no-offload
ts_wait_log "listening on $S:80" || ts_fail "httpd never said it was listening"
[[ $(status "$U/") == 200 ]] || ts_fail "curl / does not work before the attacks"
rss0=$(ts_rss_kb "$TS_APP_PID")

# ---- SYN flood: curl keeps working during and after it, and the SYN queue / cookies show.
hostile flood "$FLOOD" >"$TS_TMP/flood.out" 2>&1 &
flood_pid=$!
TS_PIDS+=("$flood_pid")
during=0 tries=0
while kill -0 "$flood_pid" 2>/dev/null; do
    ((tries++))
    [[ $(status "$U/bytes/1000") == 200 ]] && ((during++))
    sleep 0.2
done
wait "$flood_pid" || ts_fail "flood failed: $(cat "$TS_TMP/flood.out")"
ts_log "[${SECONDS}s] flood: $(tr '\n' ' ' <"$TS_TMP/flood.out"); curl during it: $during of $tries"
((tries == 0 || during > 0)) || ts_fail "no curl succeeded during the SYN flood ($tries tried)"
[[ $(status "$U/bytes/1000") == 200 ]] || ts_fail "curl fails right after the SYN flood"
snap "the SYN flood"
need tcp_syn_cookie_sent 1 "SYN flood: the half-open queue never filled"
need tcp_syn_cookie_ok 1 "SYN flood: no connection was made from a cookie"
need arp_drop_queue_full 1 "SYN flood: SYN-ACKs to addresses that never answer ARP"

# ---- RFC 5961 blind attacks on a live keep-alive connection.
before=$(counter tcp_challenge_ack)
hostile blind >"$TS_TMP/blind.out" 2>&1 || ts_fail "blind attacks: $(cat "$TS_TMP/blind.out")"
ts_log "[${SECONDS}s] blind: $(tr '\n' ' ' <"$TS_TMP/blind.out")"
snap "the blind attacks"
need tcp_challenge_ack $((before + 8)) "RFC 5961: in-window RSTs and SYNs"
need tcp_drop_rst_out_of_window 6 "RFC 5961 3.2: RSTs outside the window"
need tcp_drop_bad_ack 4 "RFC 5961 5.2: ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT]"
# (tcp_rst_rx is not asserted on: the host's kernel rightly resets the flood's SYN-ACKs. That
# the live connection outlived 300 in-window RSTs was checked by hostile.py.)

# ---- RFC 5927 / RFC 1191: forged ICMP errors against a live connection.
before=$(counter tcp_icmp_drop_no_conn) before_err=$(counter tcp_icmp_err)
hostile icmp >"$TS_TMP/icmp.out" 2>&1 || ts_fail "ICMP attacks: $(cat "$TS_TMP/icmp.out")"
ts_log "[${SECONDS}s] icmp: $(tr '\n' ' ' <"$TS_TMP/icmp.out")"
snap "the ICMP attacks"
need tcp_icmp_drop_no_conn $((before + 12)) "RFC 5927: errors quoting out-of-window sequence numbers"
need tcp_icmp_err $((before_err + 3)) "RFC 1191, RFC 5927 7.2: the in-window frag-needed and unreachables"

# ---- connections whose client is scapy (the namespace's kernel must not reset them: its RSTs
# from the ports hostile.py uses are dropped): nonsense SACK blocks and duplicate ACKs during a
# download, urgent pointers, overlapping segments with different data, an out-of-order flood.
if ts_ns_exec iptables -A OUTPUT -p tcp --tcp-flags RST RST -d "$S" --sport 40000:41999 -j DROP 2>/dev/null; then
    hostile raw >"$TS_TMP/raw.out" 2>&1 || ts_fail "raw connections: $(cat "$TS_TMP/raw.out")"
    ts_log "[${SECONDS}s] raw: $(tr '\n' ' ' <"$TS_TMP/raw.out")"
    snap "the raw connections"
    need tcp_ooo_queued 1 "out-of-order flood"
    need tcp_drop_ooo_full 1 "out-of-order flood: the queue bound"
    # 300 handshakes that then stay silent: new clients are still served.
    hostile connflood 300 >"$TS_TMP/cf.out" 2>&1 || ts_fail "connection flood: $(cat "$TS_TMP/cf.out")"
    ts_log "[${SECONDS}s] connection flood: $(tr '\n' ' ' <"$TS_TMP/cf.out")"
    [[ $(status "$U/bytes/1000") == 200 ]] || ts_fail "curl fails while 300 silent connections are open"
else
    ts_log "no iptables in the namespace: the raw-connection attacks are skipped"
fi

# ---- garbage of every layer (the tap takes frames beyond the stack's MTU for a while).
ts_ns_exec ip link set "$TS_TAP" mtu 9000 || ts_fail "could not raise the tap's MTU"
hostile garbage "$GARBAGE" >"$TS_TMP/garbage.out" 2>&1 || ts_fail "garbage: $(cat "$TS_TMP/garbage.out")"
ts_ns_exec ip link set "$TS_TAP" mtu 1500
ts_log "[${SECONDS}s] garbage: $(tr '\n' ' ' <"$TS_TMP/garbage.out")"
ts_app_alive || ts_fail "httpd died of the garbage"
snap "the garbage"
for c in tcp_drop_bad_csum tcp_drop_bad_hdrlen tcp_drop_bad_flags tcp_drop_no_socket \
    ip_drop_bad_version ip_drop_bad_hdrlen ip_drop_bad_len ip_drop_bad_csum ip_drop_bad_src \
    ip_drop_bad_options \
    ip_frag_rx ip_reass_drop_overlap ip_reass_drop_too_big ip_reass_drop_bad_frag \
    arp_drop_bad_sender arp_drop_bad_op arp_drop_bad_format arp_drop_truncated \
    icmp_drop_bad_csum icmp_drop_truncated icmp_drop_broadcast icmp_rate_limited \
    udp_drop_no_port udp_drop_bad_csum udp_drop_bad_len tcp_drop_broadcast \
    eth_drop_not_for_us eth_drop_bad_src eth_drop_unknown_type eth_drop_oversize; do
    (($(counter "$c") > 0)) || missing+=" $c"
done
[[ -z ${missing:-} ]] || ts_fail "garbage: drop reasons not counted:$missing; /stats: $(tr '\n' ' ' <"$TS_TMP/stats")"

# ---- a second round: memory must settle, not grow with every attack.
rss1=$(ts_rss_kb "$TS_APP_PID")
hostile flood $((FLOOD / 4)) >/dev/null 2>&1 || ts_fail "second flood failed"
hostile garbage $((GARBAGE / 2)) >/dev/null 2>&1 || ts_fail "second garbage round failed"
rss2=$(ts_rss_kb "$TS_APP_PID")
ts_log "[${SECONDS}s] VmRSS: start ${rss0} KiB, after round 1 ${rss1} KiB, after round 2 ${rss2} KiB"

# ---- afterwards: alive, ping, curl (new connections and a download), clean exit.
ts_app_alive || ts_fail "httpd died"
ts_ns_exec ping -c 2 -i 0.2 -W 2 -q "$S" >/dev/null || ts_fail "ping fails after the attacks"
[[ $(status "$U/") == 200 ]] || ts_fail "curl / fails after the attacks"
got=$(ts_ns_exec curl -sS --max-time 30 "$U/bytes/1000000" | sha256sum | cut -d' ' -f1)
[[ $got == "$(ts_pattern_sha256 1000000)" ]] || ts_fail "a 1 MB download is wrong after the attacks"
if [[ $TS_SAN != 1 ]]; then
    ((rss1 - rss0 < 32768)) || ts_fail "VmRSS grew from $rss0 to $rss1 KiB in the first round"
    ((rss2 - rss1 < 4096)) || ts_fail "VmRSS grew from $rss1 to $rss2 KiB in the second round"
fi
ts_stop_app
grep -qE "^tcp_challenge_ack +[1-9]" "$TS_APP_LOG" || ts_fail "--stats at exit does not list tcp_challenge_ack"
ts_pass "SYN flood ($FLOOD), RFC 5961 RST/SYN/ACK, RFC 5927 ICMP, raw SACK/URG/overlap/OOO, $GARBAGE garbage segments + fragments/ARP/ICMP/Ethernet; VmRSS ${rss0}->${rss1}->${rss2} KiB"
