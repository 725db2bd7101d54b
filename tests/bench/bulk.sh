#!/usr/bin/env bash
# Bulk throughput of one connection over the tap, by hand (issue 11), printed, never asserted:
#   stack -> host: the host's curl fetches GET /bytes/N from tapstack-httpd into /dev/null;
#   host -> stack: the host's socat writes N zero bytes to tapstack-echo-server's discard port;
#   then the kernel over veth with the same socat on both ends, offloads on and off, for reference.
# Each line: Gbit/s, the app's CPU time per GiB (user + system, from /proc: what the stack costs,
# the kernel's work inside its read()/write() calls included) and the load average (the machine is
# shared: a high load means a low, noisy figure).
#
# usage: tests/bench/bulk.sh [BUILD] [MiB] [-- app flags, e.g. --no-offload]
#        TS_BULK_ROUNDS=3 (runs of each), TS_BULK_KERNEL=0 (skip the veth reference)
# Root only: everything happens in namespaces made for this run (tests/integration/lib.sh).
set -uo pipefail
BUILD=${1:-build}
MIB=${2:-1024}
shift $(($# < 2 ? $# : 2))
[[ ${1:-} == -- ]] && shift
FLAGS=("$@")
ROUNDS=${TS_BULK_ROUNDS:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $BUILD == /* ]] || BUILD=$root/$BUILD
export TS_BUILD=$BUILD
TS_TEST=bulk
. "$root/tests/integration/lib.sh"
[[ $(id -u) -eq 0 ]] || {
    echo "bulk: need root"
    exit 0
}

n=$((MIB * 1024 * 1024))
now() { date +%s.%N; }
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # clock ticks (100/s)
# report LABEL START END [PID CPU0]
report() {
    local c=-1
    [[ -n ${4:-} ]] && c=$(($(cpu "$4") - $5))
    awk -v l="$1" -v s="$2" -v e="$3" -v n=$n -v c="$c" -v ld="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
        printf "%-58s %6.2f Gbit/s", l, n * 8 / (e - s) / 1e9
        if (c >= 0) printf "  app CPU %.2f s/GiB", c / 100 / (n / 1073741824)
        printf "  load %s\n", ld }'
}

ts_ns_setup
what="tapstack ${FLAGS[*]:-(default)}"
ts_start_app "$TS_BIN/tapstack-httpd" "${FLAGS[@]}"
for _ in $(seq "$ROUNDS"); do
    c0=$(cpu "$TS_APP_PID") s=$(now)
    ts_ns_exec curl -s -o /dev/null "http://$TS_STACK_IP/bytes/$n"
    report "$what stack -> host (curl GET $MIB MiB)" "$s" "$(now)" "$TS_APP_PID" "$c0"
done
ts_stop_app
ts_start_app "$TS_BIN/tapstack-echo-server" --discard-port 9 "${FLAGS[@]}"
for _ in $(seq "$ROUNDS"); do
    c0=$(cpu "$TS_APP_PID") s=$(now)
    ts_ns_exec socat -u -b 262144 "OPEN:/dev/zero,readbytes=$n" "TCP:$TS_STACK_IP:9"
    report "$what host -> stack (socat $MIB MiB to discard)" "$s" "$(now)" "$TS_APP_PID" "$c0"
done
ts_stop_app

# The kernel over veth, same socat on both ends: two namespaces of this run, a veth between.
[[ ${TS_BULK_KERNEL:-1} == 1 ]] || exit 0
ka="ts-bulk-ka-$$-$RANDOM" kb="ts-bulk-kb-$$-$RANDOM"
trap 'ip netns del "$ka" 2>/dev/null; ip netns del "$kb" 2>/dev/null; ts_cleanup' EXIT
ip netns add "$ka" && ip netns add "$kb" || exit 1
ip link add va netns "$ka" type veth peer name vb netns "$kb"
ip -n "$ka" addr add 10.9.0.1/24 dev va && ip -n "$ka" link set va up
ip -n "$kb" addr add 10.9.0.2/24 dev vb && ip -n "$kb" link set vb up
for mode in on off; do
    ip netns exec "$ka" ethtool -K va tso $mode gso $mode gro $mode tx $mode rx $mode >/dev/null 2>&1
    ip netns exec "$kb" ethtool -K vb tso $mode gso $mode gro $mode tx $mode rx $mode >/dev/null 2>&1
    for _ in $(seq "$ROUNDS"); do
        ip netns exec "$kb" socat -u -b 262144 TCP-LISTEN:9,reuseaddr /dev/null &
        sp=$!
        sleep 0.3
        s=$(now)
        ip netns exec "$ka" socat -u -b 262144 "OPEN:/dev/zero,readbytes=$n" TCP:10.9.0.2:9
        report "kernel over veth, offloads $mode (socat $MIB MiB one way)" "$s" "$(now)"
        wait "$sp"
    done
done
