#!/usr/bin/env bash
# The tapstack-run rows of `make bench`, until they join its table (tests/bench/run.sh on the
# bench branch): unmodified programs through tapstack-run beside the same programs on the
# kernel, one run each, with ratios and a machine line, in that table's style. Printed, never
# asserted.
#
#   sudo tests/bench/preload_rows.sh [BUILD]     (root: namespaces; about 1 minute)
#   SECS=N                                       seconds per timed run (default 5)
#
# Setups (namespaces made for the run, removed on exit):
#   tapstack  the program under tapstack-run on tap0 in a namespace (stack 10.0.0.2), its peer
#             the namespace kernel's program on the host side (10.0.0.1);
#   kernel    the same two programs in two namespaces joined by a veth (10.1.0.1, 10.1.0.2),
#             offloads off (tx, rx, tso, gso, gro), as the tap has none: per-frame work on
#             both sides.
# Ratio: tapstack/kernel (kernel/tapstack for [lower is better] rows); above 1, tapstack did
# better.
set -uo pipefail
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
[[ $BUILD == /* ]] || BUILD=$root/$BUILD
SECS=${SECS:-5}
RUN=$BUILD/bin/tapstack-run
ROWS=$(mktemp)
TAG=$$-$RANDOM
TNS=ts-prb-tap-$TAG KA=ts-prb-ka-$TAG KB=ts-prb-kb-$TAG
VA=pra${TAG//-/} VB=prb${TAG//-/}
VA=${VA:0:15} VB=${VB:0:15}
PIDS=()
TMP=$(mktemp -d /tmp/ts-preload-rows.XXXXXX)

log() { echo "[preload-rows] $*" >&2; }
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for ns in "$TNS" "$KA" "$KB"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$TMP" "$ROWS"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "preload_rows: needs root (network namespaces)" >&2; exit 1; }
[[ -x $RUN && -r $BUILD/lib/libtapstack-preload.so ]] || { echo "preload_rows: build first (make -j2)" >&2; exit 1; }
for c in iperf3 nginx wrk curl socat ethtool; do
    command -v "$c" >/dev/null || log "$c is missing: its rows say n/a (sudo tools/deps.sh test)"
done

# row LABEL UNIT higher|lower TAPSTACK KERNEL NOTE
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$ROWS"; }

busy() {
    local a b
    a=$(head -n 1 /proc/stat)
    sleep 2
    b=$(head -n 1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); tot = 0
        for (i = 2; i <= 9; i++) tot += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6]); printf "%.0f", (tot > 0 ? 100 * (tot - idle) / tot : 0) }'
}
BUSY=$(busy)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

# ---- setups ----
"$root/tools/tap-setup" --netns "$TNS" --name tap0 --host-ip 10.0.0.1/24 >/dev/null || exit 1
ip netns add "$KA" && ip netns add "$KB" || exit 1
ip -n "$KB" link add "$VB" type veth peer name "$VA" && ip -n "$KB" link set "$VA" netns "$KA" || exit 1
ip -n "$KA" addr add 10.1.0.1/24 dev "$VA"
ip -n "$KB" addr add 10.1.0.2/24 dev "$VB"
for ns in "$KA" "$KB"; do ip -n "$ns" link set lo up; done
ip -n "$KA" link set "$VA" up
ip -n "$KB" link set "$VB" up
OFFL=off
ip netns exec "$KA" ethtool -K "$VA" tx off rx off tso off gso off gro off >/dev/null 2>&1 &&
    ip netns exec "$KB" ethtool -K "$VB" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
    OFFL="at their defaults (ethtool -K failed)"

T() { ip netns exec "$TNS" "$@"; }
A() { ip netns exec "$KA" "$@"; }
B() { ip netns exec "$KB" "$@"; }
# bg NS CMD...: in the background, LAST its pid (ip netns exec execs in place: the program's).
bg() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" >/dev/null 2>&1 &
    PIDS+=($!)
    LAST=$!
}
stop() { kill -TERM "$1" 2>/dev/null; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
port_up() { # port_up NS IP PORT
    for _ in $(seq 100); do
        ip netns exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
RUNT=("$RUN" --tap tap0 --control none)

# ---- iperf3 ----
gbit() { python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1])); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("n/a")' "$1"; }
retr() { python3 -c 'import json,sys
try:
    print(json.load(open(sys.argv[1]))["end"]["sum_sent"].get("retransmits", "-"))
except Exception: print("-")' "$1"; }

if command -v iperf3 >/dev/null; then
    for dir in "" -R; do
        bg "$TNS" iperf3 -s -B 10.0.0.1 -p 5301 -1
        sleep 0.5
        T timeout 60 "${RUNT[@]}" -- iperf3 -c 10.0.0.1 -p 5301 -t "$SECS" $dir -J >"$TMP/t.json" 2>/dev/null
        stop "$LAST"
        bg "$KB" iperf3 -s -B 10.1.0.2 -p 5301 -1
        sleep 0.5
        A timeout 60 iperf3 -c 10.1.0.2 -p 5301 -t "$SECS" $dir -J >"$TMP/k.json" 2>/dev/null
        stop "$LAST"
        what="iperf3 -c under tapstack-run to the kernel's iperf3 -s, tapstack sends"
        [[ $dir == -R ]] && what="iperf3 -c -R under tapstack-run, the kernel's iperf3 -s sends"
        row "$what, $SECS s" "Gbit/s" higher "$(gbit "$TMP/t.json")" "$(gbit "$TMP/k.json")" \
            "retransmissions: tapstack run $(retr "$TMP/t.json"), kernel run $(retr "$TMP/k.json")"
        log "iperf3 $dir: tapstack $(gbit "$TMP/t.json"), kernel $(gbit "$TMP/k.json") Gbit/s"
    done
    bg "$TNS" "${RUNT[@]}" -- iperf3 -s -p 5302 -1
    s=$LAST
    sleep 1 # (no probe: iperf3 -s -1 would take it for its one test)
    T timeout 60 iperf3 -c 10.0.0.2 -p 5302 -t "$SECS" -J >"$TMP/t.json" 2>/dev/null
    stop "$s"
    bg "$KB" iperf3 -s -B 10.1.0.2 -p 5302 -1
    sleep 0.5
    A timeout 60 iperf3 -c 10.1.0.2 -p 5302 -t "$SECS" -J >"$TMP/k.json" 2>/dev/null
    stop "$LAST"
    row "iperf3 -s under tapstack-run, the kernel's iperf3 -c sends, $SECS s" "Gbit/s" higher \
        "$(gbit "$TMP/t.json")" "$(gbit "$TMP/k.json")" ""
fi

# ---- nginx (one process) and wrk ----
conf() { # conf FILE LISTEN
    {
        echo "daemon off; master_process off; worker_processes 1; error_log $TMP/$(basename "$1").err;"
        echo "pid $TMP/$(basename "$1").pid; events { worker_connections 4096; }"
        echo "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;"
        for t in client_body proxy fastcgi uwsgi scgi; do echo " ${t}_temp_path $TMP/$t;"; done
        echo " server { listen $2; root $TMP/www; } }"
    } >"$1"
}
wrk_rate() { sed -nE 's/^Requests\/sec: +([0-9.]+).*/\1/p' <<<"$1" | awk '{ printf "%.0f", $1 }'; }
if command -v nginx >/dev/null && command -v wrk >/dev/null; then
    mkdir -p "$TMP/www"
    echo "hello from nginx" >"$TMP/www/index.html"
    head -c 104857600 /dev/zero >"$TMP/www/big.bin"
    conf "$TMP/t.conf" 80
    conf "$TMP/k.conf" 10.1.0.2:80
    conf "$TMP/h.conf" 10.0.0.1:8080
    conf "$TMP/ka.conf" 10.1.0.1:8080
    bg "$TNS" "${RUNT[@]}" -- nginx -c "$TMP/t.conf"
    tn=$LAST
    bg "$KB" nginx -c "$TMP/k.conf"
    kn=$LAST
    port_up "$TNS" 10.0.0.2 80 && port_up "$KA" 10.1.0.2 80 || log "an nginx did not start"
    t=$(T wrk -t 2 -c 20 -d "${SECS}s" http://10.0.0.2/index.html 2>&1)
    k=$(A wrk -t 2 -c 20 -d "${SECS}s" http://10.1.0.2/index.html 2>&1)
    log "wrk to nginx: tapstack $(wrk_rate "$t"), kernel $(wrk_rate "$k") req/s"
    row "nginx under tapstack-run, wrk -t2 -c20 keep-alive to it, 17-byte page, $SECS s" "req/s" higher \
        "$(wrk_rate "$t")" "$(wrk_rate "$k")" "wrk on the host side (kernel) in both"
    secs() { local TIMEFORMAT=%R; { time "$@" >/dev/null 2>&1; } 2>&1; }
    ts=$(secs T curl -s -o /dev/null http://10.0.0.2/big.bin)
    ks=$(secs A curl -s -o /dev/null http://10.1.0.2/big.bin)
    g() { awk -v s="$1" 'BEGIN { if (s > 0) printf "%.2f", 104857600 * 8 / s / 1e9; else print "n/a" }'; }
    row "nginx under tapstack-run, one 100 MB file (sendfile) to curl" "Gbit/s" higher "$(g "$ts")" "$(g "$ks")" ""
    stop "$tn"
    stop "$kn"
    bg "$TNS" nginx -c "$TMP/h.conf"
    hn=$LAST
    bg "$KA" nginx -c "$TMP/ka.conf"
    an=$LAST
    port_up "$TNS" 10.0.0.1 8080 && port_up "$KB" 10.1.0.1 8080 || log "an nginx did not start"
    t=$(T timeout 60 "${RUNT[@]}" -- wrk -t 2 -c 20 -d "${SECS}s" http://10.0.0.1:8080/index.html 2>&1)
    k=$(B wrk -t 2 -c 20 -d "${SECS}s" http://10.1.0.1:8080/index.html 2>&1)
    log "wrk under tapstack-run: $(wrk_rate "$t"), kernel $(wrk_rate "$k") req/s"
    row "wrk -t2 -c20 under tapstack-run to the kernel's nginx, $SECS s" "req/s" higher \
        "$(wrk_rate "$t")" "$(wrk_rate "$k")" "nginx on the host side (kernel) in both"
    stop "$hn"
    stop "$an"
fi

# ---- request/response latency: what the library adds ----
RR_N=$((SECS * 4000))
if command -v socat >/dev/null; then
    bg "$TNS" socat TCP-LISTEN:7100,bind=10.0.0.1,fork,reuseaddr PIPE
    bg "$KB" socat TCP-LISTEN:7100,bind=10.1.0.2,fork,reuseaddr PIPE
    sleep 0.5
    t=$(T timeout 120 "${RUNT[@]}" -- "$BUILD/tests/prog_rr" 10.0.0.1 7100 "$RR_N" 1 2>/dev/null)
    k=$(A timeout 120 "$BUILD/tests/prog_rr" 10.1.0.2 7100 "$RR_N" 1 2>/dev/null)
    n=$(T timeout 120 "$BUILD/bin/tapstack-echo-client" --tap tap0 --control none --count "$RR_N" --size 1 10.0.0.1 7100 2>&1 | grep -iE "p99|avg" | tail -1)
    kv() { sed -nE "s/.*$2=([0-9.]+).*/\1/p" <<<"$1"; }
    log "rr: tapstack-run $t | kernel $k | tapstack-echo-client (the socket API itself) $n"
    row "1-byte request/response, blocking send/recv (prog_rr), median" "µs" lower \
        "$(kv "$t" p50_us)" "$(kv "$k" p50_us)" \
        "$RR_N round trips to socat PIPE; p99 tapstack-run $(kv "$t" p99_us) µs, kernel $(kv "$k" p99_us) µs; the same through tapstack's own socket API (tapstack-echo-client): ${n:-n/a}"
fi

# ---- the table ----
{
    echo "tapstack-run rows: unmodified programs under tapstack-run vs the same on the kernel, one run each. ratio > 1: tapstack better."
    cpu=$(awk -F: '/^model name/ { sub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)
    idle="yes (CPUs ${BUSY}% busy in the 2 s before the run)"
    ((BUSY >= 10)) && idle="NO: CPUs ${BUSY}% busy in the 2 s before the run"
    printf 'machine: %s, %s cores | Linux %s | %s | commit %s | idle: %s | load avg at start %s, at end %s\n' \
        "$cpu" "$(nproc)" "$(uname -r)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        "$(git rev-parse --short HEAD 2>/dev/null)" "$idle" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "setups: tapstack: the program under tapstack-run on tap0 in a netns (stack 10.0.0.2, host 10.0.0.1); kernel: two netns, veth, offloads $OFFL. run took $(($(date +%s) - T0)) s"
    echo
    awk -F'\t' '
    function ratio(b, t, k,   r) {
        if (t !~ /^[0-9]+([.][0-9]+)?$/ || k !~ /^[0-9]+([.][0-9]+)?$/ || t + 0 == 0 || k + 0 == 0) return "-"
        r = (b == "lower") ? k / t : t / k
        return sprintf(r >= 10 ? "%.0fx" : r >= 0.1 ? "%.2fx" : "%.3fx", r)
    }
    { n++; lab[n] = $1 " (" $2 ")"; if ($3 == "lower") lab[n] = lab[n] " [lower is better]"
      t[n] = $4; k[n] = $5; r[n] = ratio($3, $4, $5); ref[n] = ""
      if ($6 != "") { notes++; note[notes] = $6; ref[n] = "[" notes "]" }
      if (length(lab[n]) > w1) w1 = length(lab[n]); if (length(t[n]) > w2) w2 = length(t[n]); if (length(k[n]) > w3) w3 = length(k[n]) }
    END {
        if (w2 < 8) w2 = 8; if (w3 < 6) w3 = 6
        fmt = "%-" w1 "s  %" w2 "s  %" w3 "s  %7s  %s\n"
        printf fmt, "figure", "tapstack", "kernel", "ratio", "note"
        line = ""; for (i = 0; i < w1 + w2 + w3 + 20; i++) line = line "-"; print line
        for (i = 1; i <= n; i++) printf fmt, lab[i], t[i], k[i], r[i], ref[i]
        print ""; for (i = 1; i <= notes; i++) printf "[%d] %s\n", i, note[i]
    }' "$ROWS"
}
