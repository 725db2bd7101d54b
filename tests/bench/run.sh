#!/usr/bin/env bash
# make bench: speed and memory figures, printed, never asserted.
#   1. bench_transfer: CPU cost of the stack alone (two stacks in one process, virtual clock);
#      bench_ladders: the same transfer with and without the live page's segment ladders.
#   2. Over a real tap in a namespace made for this run (root only): curl download and upload
#      through tapstack-httpd, ab request rate with keep-alive, echo round-trip latency, and the
#      server's resident memory idle and with 200 open connections.
set -uo pipefail
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
[[ $BUILD == /* ]] || BUILD=$root/$BUILD

echo "== in-process (two stacks, pair link, virtual clock) =="
"$BUILD/tests/bench_transfer" 512 || echo "bench_transfer failed"
"$BUILD/tests/bench_ladders" 256 5 || echo "bench_ladders failed"

if [[ $(id -u) -ne 0 ]]; then
    echo "tap benchmarks skipped: need root for network namespaces and taps"
    exit 0
fi

export TS_BUILD=$BUILD
# lib.sh gives the namespace, the app start/stop by PID and the cleanup trap.
. "$root/tests/integration/lib.sh"
. "$root/tests/integration/apps_lib.sh"
TS_TEST=bench
ts_ns_setup
ts_start_app "$TS_BIN/tapstack-httpd"
rss_idle=$(ts_rss_kb "$TS_APP_PID")

# Seconds a command takes (bash's own timer: no extra package).
secs() {
    local TIMEFORMAT=%R
    { time "$@" >/dev/null 2>&1; } 2>&1
}
rate() { # bytes seconds -> MB/s
    awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f MB/s (%.2f Gbit/s)", b / s / 1e6, b * 8 / s / 1e9 }'
}

echo "== over tap0 (host curl/ab <-> tapstack-httpd) =="
n=$((1024 * 1024 * 1024))
t=$(secs ip netns exec "$TS_NS" curl -s -o /dev/null "http://$TS_STACK_IP/bytes/$n")
echo "download 1 GiB (GET /bytes/$n): ${t} s, $(rate $n "$t")"

head -c $((256 * 1024 * 1024)) /dev/zero >"$TS_TMP/up.bin"
t=$(secs ip netns exec "$TS_NS" curl -s -o /dev/null --data-binary @"$TS_TMP/up.bin" "http://$TS_STACK_IP/upload")
echo "upload 256 MiB (POST /upload, SHA-256 computed by the server): ${t} s, $(rate $((256 * 1024 * 1024)) "$t")"
rm -f "$TS_TMP/up.bin"

ts_ns_exec ab -q -k -n 20000 -c 50 "http://$TS_STACK_IP/bytes/1024" 2>&1 |
    awk '/Requests per second|Failed requests|Time per request.*mean\)$/ { sub(/^ +/, ""); print "ab -k -n 20000 -c 50 /bytes/1024: " $0 }'
ts_ns_exec ab -q -n 5000 -c 20 "http://$TS_STACK_IP/bytes/1024" 2>&1 |
    awk '/Requests per second|Failed requests/ { print "ab -n 5000 -c 20 (new connection per request): " $0 }'

# 200 idle keep-alive connections held open by the host: the server's memory with them.
ts_bg python3 -c "import socket, time
s = [socket.create_connection(('$TS_STACK_IP', 80)) for _ in range(200)]
time.sleep(10)" </dev/null
sleep 4
rss_conns=$(ts_rss_kb "$TS_APP_PID")
echo "tapstack-httpd resident memory: idle ${rss_idle} KiB, with 200 open connections ${rss_conns} KiB"
ts_stop_app
ts_cleanup

# The reference for the loss-recovery figures of tests/integration/test_faults.sh: Linux's own TCP
# between two namespaces with 5% loss each way (root only, like everything above).
echo "== Linux TCP over 5% loss each way (reference for tapstack's --drop 0.05) =="
bash "$root/tests/bench/loss_reference.sh" 100000000 0.05 reno
bash "$root/tests/bench/loss_reference.sh" 100000000 0.05 cubic
