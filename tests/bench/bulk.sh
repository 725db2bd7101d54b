#!/usr/bin/env bash
# Bulk throughput of one connection over the tap, by hand (issue 11), printed, never asserted:
#   stack -> host: the host's curl fetches GET /bytes/N from tapstack-httpd into /dev/null;
#   host -> stack: the host's socat writes N zero bytes to tapstack-echo-server's discard port;
#   the kernel over veth with the same socat on both ends, for reference.
# usage: tests/bench/bulk.sh [BUILD] [MiB] [-- extra app flags, e.g. --no-offload]
# Root only: everything happens in a namespace made for this run (tests/integration/lib.sh).
set -uo pipefail
BUILD=${1:-build}
MIB=${2:-1024}
shift $(($# < 2 ? $# : 2))
[[ ${1:-} == -- ]] && shift
FLAGS=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $BUILD == /* ]] || BUILD=$root/$BUILD
export TS_BUILD=$BUILD
TS_TEST=bulk
. "$root/tests/integration/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "bulk: need root"; exit 0; }

n=$((MIB * 1024 * 1024))
secs() {
    local TIMEFORMAT=%R
    { time "$@" >/dev/null 2>&1; } 2>&1
}
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f Gbit/s", b * 8 / s / 1e9 }'; }

ts_ns_setup
ts_start_app "$TS_BIN/tapstack-httpd" "${FLAGS[@]}"
t=$(secs ts_ns_exec curl -s -o /dev/null "http://$TS_STACK_IP/bytes/$n")
echo "tapstack ${FLAGS[*]:-(default)} stack -> host: curl GET /bytes/$n: ${t} s, $(rate $n "$t")"
ts_stop_app
ts_start_app "$TS_BIN/tapstack-echo-server" --discard-port 9 "${FLAGS[@]}"
t=$(secs ts_ns_exec socat -u -b 262144 "OPEN:/dev/zero,readbytes=$n" "TCP:$TS_STACK_IP:9")
echo "tapstack ${FLAGS[*]:-(default)} host -> stack: socat $MIB MiB to discard: ${t} s, $(rate $n "$t")"
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
    for ns in "$ka" "$kb"; do
        dev=va; [[ $ns == "$kb" ]] && dev=vb
        ip netns exec "$ns" ethtool -K "$dev" tso $mode gso $mode gro $mode tx $mode rx $mode >/dev/null 2>&1
    done
    ip netns exec "$kb" socat -u -b 262144 TCP-LISTEN:9,reuseaddr /dev/null &
    sp=$!
    sleep 0.3
    t=$(secs ip netns exec "$ka" socat -u -b 262144 "OPEN:/dev/zero,readbytes=$n" TCP:10.9.0.2:9)
    wait $sp
    echo "kernel veth offloads $mode: socat $MIB MiB one way: ${t} s, $(rate $n "$t")"
done
