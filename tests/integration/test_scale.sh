#!/usr/bin/env bash
# tapstack-httpd under many short and many concurrent connections, asserted by counts, never by
# speed: a connect/close loop from the host (orderly and abortive closes), ab without keep-alive
# (every request answered, nothing failed), wrk with 600 keep-alive connections (no socket
# error, no 503), and no SYN lost on the way: the stack's drop counters for SYNs stay 0 and the
# host's kernel never had to retransmit a SYN (TCPSynRetrans: each one is a 1 s stall).
# Afterwards / (with thousands of TIME_WAIT entries: counted, one page listed) and /stats answer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd
for t in ab wrk python3 nstat; do
    command -v "$t" >/dev/null || ts_skip "$t is not installed (tools/deps.sh installs it)"
done
ts_ns_setup
S=$TS_STACK_IP
if [[ $TS_SAN == 1 ]]; then
    LOOPS=1000 REQS=5000
else
    LOOPS=3000 REQS=20000
fi

ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP"
ts_wait_log "listening on $S:80" || ts_fail "httpd never said it was listening"

# counter NAME: a value of /stats (0 when absent: only non-zero counters are listed).
counter() {
    ts_ns_exec curl -s --max-time 20 "http://$S/stats?all" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
# The host side's SYN retransmissions (its kernel's counter, in this namespace).
syn_retrans() { ts_ns_exec nstat -asz TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" { print $2 + 0 }'; }
# No SYN was dropped by the stack, and the host never had to send one again.
no_syn_lost() {
    local what=$1 c
    for c in tcp_drop_accept_queue_full tcp_drop_syn_queue_full tcp_drop_no_memory; do
        [[ $(counter $c) == 0 ]] || ts_fail "$what: $c is $(counter $c)"
    done
    [[ $(syn_retrans) == "$syn0" ]] ||
        ts_fail "$what: the host retransmitted $(($(syn_retrans) - syn0)) SYNs; frames the host could not queue to the tap (its TX drops: the stack did not read in time): $(tap_tx_dropped)"
}
# The host's TX drops on the tap: frames for the stack dropped because its queue was full.
tap_tx_dropped() { ts_ns_exec cat "/sys/class/net/$TS_TAP/statistics/tx_dropped" 2>/dev/null || echo unknown; }
syn0=$(syn_retrans)
opens0=$(counter tcp_passive_open)

# Connect and close in a loop, LOOPS times with FIN, LOOPS/3 with RST (SO_LINGER 0).
out=$(ts_ns_exec timeout 300 python3 -c 'import socket, struct, sys
ip, n = sys.argv[1], int(sys.argv[2])
ok = 0
for i in range(n + n // 3):
    s = socket.socket()
    s.settimeout(20)
    try:
        s.connect((ip, 80))
        if i >= n:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ok += 1
    except OSError as e:
        print("connect %d: %s" % (i, e))
    s.close()
print("ok", ok)' "$S" "$LOOPS") || ts_fail "the connect/close loop failed: $(tail -3 <<<"$out")"
want=$((LOOPS + LOOPS / 3))
[[ $(tail -1 <<<"$out") == "ok $want" ]] || ts_fail "connect/close loop: $(tail -3 <<<"$out")"
opens=$(($(counter tcp_passive_open) - opens0))
((opens >= want)) || ts_fail "connect/close loop: $want connects, the stack accepted $opens"
no_syn_lost "connect/close loop"

# ab without keep-alive: a new connection per request, the server closing first (TIME_WAIT).
ab=$(ts_ns_exec timeout 600 ab -q -n "$REQS" -c 50 "http://$S/bytes/1024" 2>&1) || ts_fail "ab failed: $(tail -3 <<<"$ab")"
grep -qE "^Complete requests: +$REQS\$" <<<"$ab" || ts_fail "ab: $(grep -E 'Complete|Failed' <<<"$ab")"
grep -qE "^Failed requests: +0\$" <<<"$ab" || ts_fail "ab: $(grep -A3 -E '^Failed' <<<"$ab")"
grep -q "Non-2xx" <<<"$ab" && ts_fail "ab: $(grep Non-2xx <<<"$ab")"
no_syn_lost "ab -n $REQS -c 50"

# wrk with 600 keep-alive connections: every one served, no socket error, no 503.
wrk=$(ts_ns_exec timeout 120 wrk -t2 -c 600 -d 5s "http://$S/bytes/1024" 2>&1) || ts_fail "wrk failed: $wrk"
grep -qE "[1-9][0-9]* requests in" <<<"$wrk" || ts_fail "wrk answered nothing: $wrk"
grep -q "Socket errors" <<<"$wrk" && ts_fail "wrk: $(grep 'Socket errors' <<<"$wrk")"
grep -q "Non-2xx" <<<"$wrk" && ts_fail "wrk: $(grep Non-2xx <<<"$wrk")"
[[ $(counter httpd_connections_refused) == 0 ]] || ts_fail "httpd refused $(counter httpd_connections_refused) connections"
no_syn_lost "wrk -c 600"

# With thousands of connections in the table, / counts them per state and lists one page.
tw=$(counter tcp_time_wait_recycled)
page=$(ts_ns_exec curl -sS --max-time 20 "http://$S/") || ts_fail "GET / failed"
grep -qE "<dt>TIME_WAIT \(RFC 9293: TIME-WAIT\): [0-9]{3,}</dt>" <<<"$page" ||
    ts_fail "/ does not count the TIME_WAIT entries: $(grep '<dt>' <<<"$page")"
rows=$(grep -c "^<tr><td" <<<"$page")
[[ $rows == 100 ]] || ts_fail "/ lists $rows connections, want one page of 100"
rows=$(ts_ns_exec curl -sS --max-time 20 "http://$S/?offset=50&limit=7" | grep -c "^<tr><td")
[[ $rows == 7 ]] || ts_fail "/?offset=50&limit=7 lists $rows connections"
ts_app_alive || ts_fail "httpd died"
ts_stop_app
ts_pass "$want connects (FIN and RST), ab $REQS requests, wrk -c 600: all answered, no SYN lost; / pages ($tw TIME_WAIT recycled)"
