#!/usr/bin/env bash
# make bench: one table of speed and memory figures, tapstack beside the Linux kernel measured
# with the same client in the same run, with ratios and a machine line. Printed, never asserted.
#
#   tests/bench/run.sh [BUILD]            (root: namespaces, taps, veths)
#   ONLY=conn,rr,http   only those groups: inproc conn rr http tap bulk loss mem run (default all)
#   BENCH_QUICK=1       shorter runs (about 2 minutes instead of about 8 on 2 cores)
#   BENCH_CONNS=N       idle connections of the memory row (default 10000; quick 1000)
#
# What each row measures and how: docs/bench.md. The table goes to stdout (and to
# BUILD/bench-last.txt); progress to stderr.
set -uo pipefail
B_BUILD=${1:-build}
. "$(dirname "$0")/lib.sh"
cd "$B_ROOT" || exit 1

ALL_GROUPS="inproc conn rr http tap bulk loss mem run"
ONLY=${ONLY:-}
ONLY=${ONLY//,/ }
[[ -z ${ONLY// /} ]] && ONLY=$ALL_GROUPS
for g in $ONLY; do
    [[ " $ALL_GROUPS " == *" $g "* ]] || {
        echo "bench: unknown group '$g' in ONLY (groups: ${ALL_GROUPS// /,})" >&2
        exit 2
    }
done
want() { [[ " $ONLY " == *" $1 "* ]]; }

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    CONN_SECS=3 RR_SECS=3 TW_STEPS=3 TW_STEP=5 AB_N=10000 AB_CAP=30 WRK_SECS=3 BULK=$((256 << 20)) RUN_SECS=3
    TAP_SECS=1 TAP_RUNS=2 LOSS_BYTES=$((10 << 20)) LOSS_CAP=60 MEM_N=${BENCH_CONNS:-1000}
    MEM_OPEN=15 INPROC_MB=64
    # shellcheck disable=SC2034 # (printed by b_machine_line in lib.sh)
    B_QUICK_NOTE=" | QUICK mode (BENCH_QUICK=1): short runs, small sizes"
else
    CONN_SECS=10 RR_SECS=10 TW_STEPS=6 TW_STEP=10 AB_N=100000 AB_CAP=90 WRK_SECS=10 BULK=$((1 << 30)) RUN_SECS=10
    TAP_SECS=2 TAP_RUNS=3 LOSS_BYTES=104857600 LOSS_CAP=180 MEM_N=${BENCH_CONNS:-10000}
    MEM_OPEN=15 INPROC_MB=512
fi
# One client thread (one connect at a time) and four (concurrent): over veth the kernel's
# client threads also do the server's handshake work in softirq, and with more client threads
# than cores the one-thread server is starved and its accept queue overflows (1 s SYN stalls),
# so both are shown.
CONN_THREADS="1 4"
# The memory row also runs with this many connections (under tapstack-httpd's cap of 512).
# MEM_OPEN (above) stays under tapstack-httpd's 20 s limit for a request head to arrive, so the
# connections opened first are still there when memory is read.
MEM_SMALL=400
[[ $MEM_N =~ ^[0-9]+$ && $MEM_N -ge 1 && $MEM_N -le 1000000 ]] || {
    echo "bench: BENCH_CONNS='$MEM_N' must be a number 1..1000000" >&2
    exit 2
}

busy=$(b_cpu_busy)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# ---- in-process (no tap, no kernel) ----
group_inproc() {
    local out gb cpu
    out=$("$B_BUILD/tests/bench_transfer" "$INPROC_MB" 2>&1)
    gb=$(sed -nE 's/.*\(([0-9.]+) Gbit\/s\);.*/\1/p' <<<"$out")
    cpu=$(sed -nE 's/.* in ([0-9.]+) s of CPU.*/\1/p' <<<"$out")
    b_row inproc "stack alone: two stacks, in-memory link, one thread" "Gbit/s" - "${gb:-n/a}" "-" \
        "CPU ceiling of the stack's own code, $INPROC_MB MB in ${cpu:-?} s (bench_transfer)"
    local ns pct
    out=$("$B_BUILD/tests/bench_ladders" "$((INPROC_MB / 2))" 3 2>&1)
    pct=$(sed -nE 's/.*difference: ([-+0-9.]+) % of the time.*/\1/p' <<<"$out")
    ns=$(sed -nE 's/.*; ([-+0-9.]+) ns per segment recorded.*/\1/p' <<<"$out")
    b_row inproc "live page's segment ladders: cost while recorded" "ns/seg" - "${ns:-n/a}" "-" \
        "${pct:-?} % of the CPU time of the same transfer unrecorded (bench_ladders)"
    # The stack with many connections (bench_scale): poll and request/response cost with none and
    # with 100 000 idle ones (each with a timer running), bytes per idle connection end.
    local n0 n1 p0 p1 r0 r1 mem
    n0=$("$B_BUILD/tests/bench_scale" idle 0 2>&1)
    n1=$("$B_BUILD/tests/bench_scale" idle 100000 2>&1)
    p0=$(sed -nE 's/.*nothing due: ([0-9]+) ns per call.*/\1/p' <<<"$n0")
    p1=$(sed -nE 's/.*nothing due: ([0-9]+) ns per call.*/\1/p' <<<"$n1")
    r0=$(sed -nE 's/.*request\/response: ([0-9.]+) us per round trip.*/\1/p' <<<"$n0")
    r1=$(sed -nE 's/.*request\/response: ([0-9.]+) us per round trip.*/\1/p' <<<"$n1")
    mem=$(sed -nE 's/.* = ([0-9]+) bytes per connection end.*/\1/p' <<<"$n1")
    b_row inproc "stack alone: ts_stack_poll, 100 000 idle connections" "ns" - "${p1:-n/a}" "-" \
        "${p0:-?} ns with none: the timer wheel touches only what is due (bench_scale idle)"
    b_row inproc "stack alone: 1-byte request/response, 100 000 idle connections" "us" - \
        "${r1:-n/a}" "-" "${r0:-?} us with none (bench_scale idle; both stacks' CPU)"
    b_row inproc "stack alone: memory per idle connection end" "bytes" - "${mem:-n/a}" "-" \
        "RSS delta / connection ends, 100 000 connections, no buffers held (bench_scale idle)"
}

print_all() {
    {
        echo "tapstack vs Linux kernel, same client, one run. ratio > 1: tapstack better (tapstack/kernel; kernel/tapstack for [lower is better] rows)."
        b_machine_line "$busy" "$load_start"
        echo "setups: tapstack on tap0 in netns (host 10.0.0.1, stack 10.0.0.2); kernel: two netns, veth, offloads off unless a row says on; congestion control on both sides, unless a row says: $(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown) (the kernel's default; tapstack's programs take the host's); clients in tests/bench/ (docs/bench.md). run took $(($(date +%s) - t_start)) s"
        [[ -n $B_OFFLOADS_FAILED ]] && echo "$B_OFFLOADS_FAILED"
        echo
        b_print_table
    } | tee "$B_BUILD/bench-last.txt" 2>/dev/null
}

if [[ $(id -u) -ne 0 ]]; then
    want inproc && group_inproc
    echo "bench: the tap and veth rows need root (network namespaces); only the in-process row ran" >&2
    print_all
    exit 0
fi
ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null
b_need ethtool ethtool || b_log "ethtool missing: the veth offloads cannot be set"
b_need nstat iproute2
b_extra_ips "$MEM_N"
b_tap_setup || { echo "bench: cannot create the tap namespace" >&2; exit 1; }
b_kernel_setup || { echo "bench: cannot create the veth namespaces" >&2; exit 1; }
# Per-frame rows run with the veth's offloads off, and tapstack without its tap offloads
# (TAPSTACK_OFFLOAD=0: --no-offload for every app); the bulk rows say which.
b_offloads off
export TAPSTACK_OFFLOAD=0

T() { ip netns exec "$B_TNS" "$@"; }  # the host-side client, tapstack setup
KC() { ip netns exec "$B_KCNS" "$@"; } # the same client, kernel setup

# ---- 1. connect/close loop ----
# conn_one SIDE MODE: one connloop run against an echo server; sets R_RATE R_STALL R_SYN
# R_NOTE. SIDE tap|kernel, MODE fin|rst. (Servers are started from this shell, never from a
# $(...) subshell, so the trap knows every PID.)
conn_one() {
    local side=$1 mode=$2 threads=$3 ns line srv_note="" extra=()
    R_RATE=n/a R_STALL="" R_SYN="" R_NOTE="server did not start"
    [[ $mode == rst ]] && extra=(--rst)
    if [[ $side == tap ]]; then
        ns=$B_TNS
        b_tap_app tapstack-echo-server --stats || return
    else
        ns=$B_KCNS
        b_kernel_srv 7 --echo 7 || return
    fi
    local syn0
    syn0=$(b_nstat "$ns" TcpExtTCPSynRetrans)
    line=$(ip netns exec "$ns" "$B_TOOLS/connloop" -d "$CONN_SECS" -t "$threads" "${extra[@]}" \
        "$B_STACK_IP" 7)
    local synr
    synr=$(($(b_nstat "$ns" TcpExtTCPSynRetrans) - syn0))
    if [[ $side == tap ]]; then
        b_stop "$B_APP_PID"
        srv_note="server dropped SYNs: half-open queue full $(b_counter "$B_APP_LOG" tcp_drop_syn_queue_full), no memory $(b_counter "$B_APP_LOG" tcp_drop_no_memory); SYNs answered with the accept queue full $(b_counter "$B_APP_LOG" tcp_accept_queue_full_syn), final ACKs held for room $(b_counter "$B_APP_LOG" tcp_drop_accept_queue_full)"
    else
        b_stop "$B_SRV_PID"
    fi
    b_log "conn $side $mode $threads thread(s): $line SynRetrans=$synr"
    R_RATE=$(b_kv "$line" rate)
    R_RATE=${R_RATE:-n/a}
    R_STALL=$(b_kv "$line" stalls)
    R_SYN=$synr
    R_NOTE="min1s $(b_kv "$line" min1s), p99 $(b_kv "$line" p99_us) us, max $(b_kv "$line" max_ms) ms, errors $(b_kv "$line" errors)${srv_note:+; $srv_note}"
}

# ---- 1b. TIME_WAIT over a long connect/close run ----
# tw_side SIDE: ab without keep-alive (the server closes first, so the server keeps every
# TIME_WAIT) for TW_STEPS runs of TW_STEP s back to back; after each: req/s, the server's CPU per
# request, and its TIME_WAIT entries (tapstack: the control socket's summary, with their bytes;
# kernel: ss). Sets R_TW="rates|cpu_us|tw|tw_bytes" (space-separated lists, one per step).
tw_side() {
    local side=$1 ns pid sock=$B_TMP/tw.sock
    R_TW="|||"
    if [[ $side == tap ]]; then
        ns=$B_TNS
        b_tap_app tapstack-httpd --stats --control "$sock" || return
        pid=$B_APP_PID
    else
        ns=$B_KCNS
        b_nginx || return
        pid=$B_SRV_PID
    fi
    local i out rate t0 t1 rates="" cpus="" tws="" twb="" n
    for ((i = 0; i < TW_STEPS; i++)); do
        t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
        out=$(ip netns exec "$ns" ab -q -r -s 10 -t "$TW_STEP" -n $((TW_STEP * 40000)) -c 50 "http://$B_STACK_IP/bytes/1024" 2>&1)
        t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
        rate=$(awk '/^Requests per second/ { printf "%.0f", $4 }' <<<"$out")
        n=$(awk '/^Complete requests/ { print $3 }' <<<"$out")
        rates+="${rate:-n/a} "
        cpus+="$(awk -v a="${t0:-0}" -v b="${t1:-0}" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "n/a" }') "
        if [[ $side == tap ]]; then
            out=$("$B_BIN/tapstack-stat" --control "$sock" --summary 2>&1)
            tws+="$(awk '$1 == "TIME_WAIT" { v = $2 } END { print v + 0 }' <<<"$out") "
            twb+="$(awk '$1 == "time_wait_bytes" { v = $2 } END { print v + 0 }' <<<"$out") "
        else
            tws+="$(ip netns exec "$B_KSNS" ss -Htan state time-wait | wc -l) "
        fi
    done
    b_stop "$pid"
    R_TW="${rates% }|${cpus% }|${tws% }|${twb% }"
}

group_tw() {
    local tr tc tt tb kr kc kt
    tw_side tap
    IFS='|' read -r tr tc tt tb <<<"$R_TW"
    tw_side kernel
    IFS="|" read -r kr kc kt _ <<<"$R_TW"
    b_log "tw: tapstack req/s [$tr] cpu us/req [$tc] TIME_WAIT [$tt] bytes [$tb] | nginx req/s [$kr] cpu [$kc] TIME_WAIT [$kt]"
    local secs=$((TW_STEPS * TW_STEP)) first last
    # last/first, in %: 100 = flat over the run
    flat() { awk -v a="${1%% *}" -v b="${1##* }" 'BEGIN { if (a + 0 > 0 && b != "n/a") printf "%.0f", b * 100 / a; else print "n/a" }'; }
    b_row conn "ab -c 50 no keep-alive for ${secs} s (server closes first): req/s of the last ${TW_STEP} s as % of the first" "%" - \
        "$(flat "$tr")" "$(flat "$kr")" "req/s per ${TW_STEP} s: tapstack-httpd $tr | nginx $kr"
    b_row conn "  server CPU per request, last ${TW_STEP} s as % of the first" "%" - "$(flat "$tc")" "$(flat "$kc")" \
        "us of CPU per request per ${TW_STEP} s (utime+stime of the server process; the kernel's softirq work is not in nginx's): tapstack $tc | nginx $kc"
    last=${tt##* }
    first=$(awk -v t="$last" -v b="${tb##* }" 'BEGIN { if (t > 0) printf "%.0f", b / t; else print "n/a" }')
    b_row conn "  TIME_WAIT entries held by the server at the end" "count" - "${last:-n/a}" "${kt##* }" \
        "after each ${TW_STEP} s: tapstack $tt (compact records, $first bytes each: ${tb##* } bytes in all; 2*MSL = 60 s, cap tcp_max_tw 131072) | kernel (ss state time-wait) $kt"
}

group_conn() {
    local mode label th
    for mode in fin rst; do
        for th in $CONN_THREADS; do
            conn_one tap $mode "$th"
            local t_rate=$R_RATE t_stall=$R_STALL t_syn=$R_SYN t_note=$R_NOTE
            conn_one kernel $mode "$th"
            local k_rate=$R_RATE k_stall=$R_STALL k_syn=$R_SYN k_note=$R_NOTE
            label="connect/close loop, client closes"
            [[ $mode == rst ]] && label="connect/abortive close (SO_LINGER 0, RST) loop"
            b_row conn "$label, $th client thread(s), ${CONN_SECS} s" "conn/s" higher "$t_rate" "$k_rate" \
                "tapstack: $t_note | kernel: $k_note"
            b_row conn "  client stalls: connect > 900 ms / SYN retransmissions" "count" - \
                "$t_stall / $t_syn" "$k_stall / $k_syn" "TcpExtTCPSynRetrans of the client's namespace"
        done
    done
    group_tw
}

# ---- 2. 1-byte request/response ----
group_rr() {
    local t k tl kl tl2 kl2
    # 1 byte, and 2 000 (more than one MSS, less than two: a write's short tail, which Nagle
    # must not hold behind the full segment, whose ACK the host delays).
    if b_tap_app tapstack-echo-server; then
        tl=$(T "$B_TOOLS/rr" -d "$RR_SECS" "$B_STACK_IP" 7)
        tl2=$(T "$B_TOOLS/rr" -d "$RR_SECS" -s 2000 "$B_STACK_IP" 7)
        b_stop "$B_APP_PID"
    fi
    if b_kernel_srv 7 --echo 7; then
        kl=$(KC "$B_TOOLS/rr" -d "$RR_SECS" "$B_STACK_IP" 7)
        kl2=$(KC "$B_TOOLS/rr" -d "$RR_SECS" -s 2000 "$B_STACK_IP" 7)
        b_stop "$B_SRV_PID"
    fi
    b_log "rr tap: ${tl:-failed} / ${tl2:-failed} | kernel: ${kl:-failed} / ${kl2:-failed}"
    t=$(b_kv "${tl:-}" rr) k=$(b_kv "${kl:-}" rr)
    b_row rr "1-byte request/response, one connection, ${RR_SECS} s" "round trips/s" higher \
        "${t:-n/a}" "${k:-n/a}" \
        "p99 latency: tapstack $(b_kv "${tl:-}" p99_us) us, kernel $(b_kv "${kl:-}" p99_us) us; echo servers: tapstack-echo-server, ksrv --echo (epoll)"
    t=$(b_kv "${tl2:-}" rr) k=$(b_kv "${kl2:-}" rr)
    b_row rr "2000-byte request/response, one connection, ${RR_SECS} s" "round trips/s" higher \
        "${t:-n/a}" "${k:-n/a}" \
        "p99 latency: tapstack $(b_kv "${tl2:-}" p99_us) us, kernel $(b_kv "${kl2:-}" p99_us) us; max: tapstack $(b_kv "${tl2:-}" max_us) us, kernel $(b_kv "${kl2:-}" max_us) us"
}

# ---- 3. HTTP ----
# ab_run NS: ab without keep-alive; prints "rate|note".
ab_run() {
    local out
    out=$(ip netns exec "$1" ab -q -r -s 10 -t "$AB_CAP" -n "$AB_N" -c 50 "http://$B_STACK_IP/bytes/1024" 2>&1)
    local rate ndone failed non2xx took
    rate=$(awk '/^Requests per second/ { printf "%.0f", $4 }' <<<"$out")
    ndone=$(awk '/^Complete requests/ { print $3 }' <<<"$out")
    failed=$(awk '/^Failed requests/ { print $3 }' <<<"$out")
    non2xx=$(awk '/^Non-2xx responses/ { print $3 }' <<<"$out")
    took=$(awk '/^Time taken for tests/ { printf "%.1f", $5 }' <<<"$out")
    [[ -z $rate ]] && { echo "n/a|ab printed no result: $(tail -n 1 <<<"$out")"; return; }
    local capped=""
    [[ ${ndone:-0} -lt $AB_N ]] && capped=" (stopped at the ${AB_CAP} s cap)"
    echo "$rate|${ndone} of $AB_N done in ${took} s${capped}, failed ${failed:-0}, non-2xx ${non2xx:-0}"
}

# wrk_run NS CONNS: wrk keep-alive; prints "rate|note".
wrk_run() {
    local out
    out=$(ip netns exec "$1" wrk -t 2 -c "$2" -d "${WRK_SECS}s" --timeout 5s "http://$B_STACK_IP/bytes/1024" 2>&1)
    local rate errs non2xx
    rate=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
    errs=$(sed -nE 's/.*Socket errors: (.*)/\1/p' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses/ { print $NF }' <<<"$out")
    [[ -z $rate ]] && { echo "n/a|wrk printed no result: $(tail -n 1 <<<"$out")"; return; }
    echo "$rate|errors: ${errs:-none}, non-2xx ${non2xx:-0}"
}

group_http() {
    local tool
    for tool in ab wrk nginx; do
        local pkg=$tool
        [[ $tool == ab ]] && pkg=apache2-utils
        [[ $tool == nginx ]] && pkg=nginx-light
        b_need "$tool" "$pkg" || { b_row http "HTTP rows" "" - "n/a" "n/a" "no $tool ($pkg could not be installed)"; return; }
    done
    local runs=("ab" "wrk 50" "wrk 1000") r t tn k kn label
    for r in "${runs[@]}"; do
        t="n/a" tn="tapstack-httpd did not start" k="n/a" kn="nginx did not start"
        if b_tap_app tapstack-httpd --stats; then
            if [[ $r == ab ]]; then IFS='|' read -r t tn <<<"$(ab_run "$B_TNS")"; else IFS='|' read -r t tn <<<"$(wrk_run "$B_TNS" "${r#wrk }")"; fi
            b_stop "$B_APP_PID"
            local d
            d=$(b_counter "$B_APP_LOG" tcp_drop_accept_queue_full)
            [[ $d != 0 ]] && tn+=", $d final ACKs held (accept queue full; no SYN dropped)"
        fi
        if b_nginx; then
            if [[ $r == ab ]]; then IFS='|' read -r k kn <<<"$(ab_run "$B_KCNS")"; else IFS='|' read -r k kn <<<"$(wrk_run "$B_KCNS" "${r#wrk }")"; fi
            b_stop "$B_SRV_PID"
        fi
        b_log "http $r: tapstack $t ($tn) | nginx $k ($kn)"
        case $r in
        ab) label="ab -n $AB_N -c 50, no keep-alive, GET /bytes/1024" ;;
        *) label="wrk -c ${r#wrk } keep-alive ${WRK_SECS} s, GET /bytes/1024" ;;
        esac
        b_row http "$label" "req/s" higher "$t" "$k" "tapstack-httpd: $tn | nginx: $kn"
    done
}

# ---- 4a. the tap's own frame rate ----
TAP_RX_GBIT="" TAP_TX_GBIT=""
group_tap() {
    local dir best lo line fps all gb
    for dir in rx tx; do
        best=0 lo=0 all=""
        for _ in $(seq "$TAP_RUNS"); do
            line=$(T "$B_TOOLS/taprate" --$dir -d "$TAP_SECS" 2>&1)
            b_log "tap $dir: $line"
            fps=$(b_kv "$line" fps)
            [[ $fps =~ ^[0-9]+$ ]] || continue
            all+="${all:+, }$((fps / 1000))k"
            ((fps > best)) && best=$fps
            ((lo == 0 || fps < lo)) && lo=$fps
        done
        gb=$(awk -v f="$best" 'BEGIN { printf "%.2f", f * 1514 * 8 / 1e9 }')
        if [[ $dir == rx ]]; then
            TAP_RX_GBIT=$gb
            b_row tap "tap limit host->tap: read() one frame per call" "Gbit/s at 1514 B" - "$gb" "-" \
                "best of $TAP_RUNS runs of ${TAP_SECS} s: $best frames/s (runs: $all); sender: packet socket on the host side (taprate --rx)"
        else
            TAP_TX_GBIT=$gb
            b_row tap "tap limit tap->host: write() one frame per call" "Gbit/s at 1514 B" - "$gb" "-" \
                "best of $TAP_RUNS runs of ${TAP_SECS} s: $best frames/s (runs: $all); frames dropped by the host at protocol demux (taprate --tx)"
        fi
    done
}

# ---- 4b. bulk, MTU 1500, one connection ----
# curl_get NS URL CAP: prints "bytes secs http_code" (secs "timeout" when capped).
curl_get() {
    local out rc
    out=$(ip netns exec "$1" curl -s -o /dev/null --max-time "$3" -w '%{size_download} %{time_total} %{http_code}' "$2")
    rc=$?
    if [[ $rc -eq 28 ]]; then
        echo "${out%% *} timeout 0"
    else
        echo "$out"
    fi
}

bulk_gbit() { # "bytes secs ..." -> Gbit/s, or n/a
    local b s
    read -r b s _ <<<"$1"
    [[ $s =~ ^[0-9.]+$ && $b -gt 0 ]] && b_gbit "$b" "$s" || echo "n/a"
}

group_bulk() {
    local tdl=() tup=() tdis=() kdl=() kup=() kdis=() mode dl up dis
    # tapstack without offloads (--no-offload), then with them (its default: IFF_VNET_HDR, TSO).
    for mode in off on; do
        dl="" up="" dis=""
        [[ $mode == on ]] && export TAPSTACK_OFFLOAD=1
        if b_tap_app tapstack-httpd; then
            b_tap_listens 80
            dl=$(curl_get "$B_TNS" "http://$B_STACK_IP/bytes/$BULK" 300)
            up=$(T "$B_TOOLS/blast" --http --timeout 300 -n "$BULK" "$B_STACK_IP" 80)
            b_stop "$B_APP_PID"
        fi
        if b_tap_app tapstack-echo-server --discard-port 9; then
            b_tap_listens 9
            dis=$(T "$B_TOOLS/blast" --timeout 300 -n "$BULK" "$B_STACK_IP" 9)
            b_stop "$B_APP_PID"
        fi
        export TAPSTACK_OFFLOAD=0
        tdl+=("$dl") tup+=("$up") tdis+=("$dis")
        b_log "bulk tapstack offloads $mode: get [$dl] upload [$up] discard [$dis]"
    done
    for mode in off on; do
        b_offloads "$mode"
        if b_kernel_srv 80 --http 80 --discard 9; then
            kdl+=("$(curl_get "$B_KCNS" "http://$B_STACK_IP/bytes/$BULK" 300)")
            kup+=("$(KC "$B_TOOLS/blast" --http --timeout 300 -n "$BULK" "$B_STACK_IP" 80)")
            kdis+=("$(KC "$B_TOOLS/blast" --timeout 300 -n "$BULK" "$B_STACK_IP" 9)")
            b_stop "$B_SRV_PID"
        else
            kdl+=("") kup+=("") kdis+=("")
        fi
        b_log "bulk kernel offloads $mode: get [${kdl[-1]}] upload [${kup[-1]}] discard [${kdis[-1]}]"
    done
    b_offloads off
    local mb=$((BULK >> 20)) i of lim t_up t_dis
    for i in 0 1; do
        of=off
        ((i == 1)) && of=on
        lim=""
        [[ -n $TAP_TX_GBIT && $i == 0 ]] && lim="; tap limit tap->host $TAP_TX_GBIT"
        b_row bulk "stack->host: curl GET /bytes/$mb MiB; offloads $of (tap and veth)" "Gbit/s" \
            higher "$(bulk_gbit "${tdl[$i]}")" "$(bulk_gbit "${kdl[$i]}")" \
            "kernel server: ksrv --http (send() from memory)$lim"
        lim=""
        [[ -n $TAP_RX_GBIT && $i == 0 ]] && lim="; tap limit host->tap $TAP_RX_GBIT"
        t_up=$(b_kv "${tup[$i]}" gbit_s)
        t_dis=$(b_kv "${tdis[$i]}" gbit_s)
        b_row bulk "host->stack: POST /upload $mb MiB (blast); offloads $of" "Gbit/s" higher \
            "${t_up:-n/a}" "$(b_kv "${kup[$i]}" gbit_s)" "both servers hash the body (SHA-256, apps/common/sha256.c)$lim"
        b_row bulk "host->stack: discard port 9, $mb MiB (blast); offloads $of" "Gbit/s" higher \
            "${t_dis:-n/a}" "$(b_kv "${kdis[$i]}" gbit_s)" "tapstack-echo-server --discard-port 9 vs ksrv --discard$lim"
    done
}

# ---- 5. sending through loss (tapstack's fault injector, both directions) ----
# loss_tapstack FAULT-ARGS...: sets R_T (tapstack sending, s) and R_TN (its note).
loss_tapstack() {
    local t="n/a" tn="" out bytes secs code
    if b_tap_app tapstack-httpd --stats --seed 3 "$@"; then
        out=$(curl_get "$B_TNS" "http://$B_STACK_IP/bytes/$LOSS_BYTES" "$LOSS_CAP")
        b_stop "$B_APP_PID"
        read -r bytes secs code <<<"$out"
        if [[ $secs == timeout ]]; then
            t="> $LOSS_CAP"
            tn="${bytes:-0} of $LOSS_BYTES bytes after ${LOSS_CAP} s"
        elif [[ $code == 200 && $bytes == "$LOSS_BYTES" ]]; then
            t=$(printf '%.2f' "$secs")
        else
            tn="curl got $bytes bytes, HTTP $code"
        fi
        tn+="${tn:+; }RTOs $(b_counter "$B_APP_LOG" tcp_rto), TLPs $(b_counter "$B_APP_LOG" tcp_loss_probe), retransmits $(b_counter "$B_APP_LOG" tcp_retransmit)"
    fi
    R_T=$t R_TN=$tn
}

# loss_linux CC FAULT-ARGS...: the host's kernel sends (POST /upload with blast) through the same
# injector; CC "" is the kernel's default, else blast sets TCP_CONGESTION. Sets R_K and R_KN.
loss_linux() {
    local cc=$1 k="n/a" kn="" out r c c0=() ccarg=()
    shift
    [[ -n $cc ]] && ccarg=(--cc "$cc")
    if b_tap_app tapstack-httpd --stats --seed 3 "$@"; then
        for c in TcpExtTCPTimeouts TcpExtTCPLossProbes TcpRetransSegs; do c0+=("$(b_nstat "$B_TNS" $c)"); done
        out=$(T "$B_TOOLS/blast" --http --timeout "$LOSS_CAP" "${ccarg[@]}" -n "$LOSS_BYTES" "$B_STACK_IP" 80)
        r=$(b_kv "$out" result)
        b_stop "$B_APP_PID"
        if [[ $r == ok ]]; then
            k=$(printf '%.2f' "$(b_kv "$out" secs)")
        elif [[ $r == timeout ]]; then
            k="> $LOSS_CAP"
            kn="$(b_kv "$out" bytes) of $LOSS_BYTES bytes handed to send() after $LOSS_CAP s; "
        else
            kn="blast: $out; "
        fi
        kn+="RTOs $(($(b_nstat "$B_TNS" TcpExtTCPTimeouts) - c0[0])), TLPs $(($(b_nstat "$B_TNS" TcpExtTCPLossProbes) - c0[1])), retransmits $(($(b_nstat "$B_TNS" TcpRetransSegs) - c0[2]))"
    fi
    R_K=$k R_KN=$kn
}

# Two rows per loss rate, each algorithm against its like: tapstack with BBR (--cc bbr, window-
# limited BBR v1, stack/tcp/tcp_cc_bbr.c) against Linux with BBR (the default on this machine
# kind; it paces to a measured bandwidth and does not treat random loss as congestion), and
# tapstack with its default NewReno against Linux with CUBIC (both loss-based). A run that hits
# LOSS_CAP shows "> CAP" and a bound for the ratio.
group_loss() {
    local mb=$((LOSS_BYTES >> 20)) p fault label def tb tbn tn tnn
    def=$(ip netns exec "$B_TNS" sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo unknown)
    for p in 0.01 0.05 0.10 reorder; do
        if [[ $p == reorder ]]; then
            fault=(--reorder 0.05) label="reordering 5% each way (--reorder 0.05)"
        else
            fault=(--drop "$p")
            label="loss $(awk -v p="$p" 'BEGIN { printf "%g", p * 100 }')% each way (--drop $p)"
        fi
        loss_tapstack --cc bbr "${fault[@]}"
        tb=$R_T tbn=$R_TN
        loss_linux bbr "${fault[@]}"
        b_row loss "$label, $mb MiB, BBR vs Linux BBR: seconds" "s" lower "$tb" "$R_K" "tapstack (bbr): $tbn | Linux (bbr; its default here: $def): $R_KN"
        b_log "loss $p: tapstack bbr $tb s, Linux bbr $R_K s ($R_KN)"
        loss_tapstack --cc newreno "${fault[@]}"
        tn=$R_T tnn=$R_TN
        loss_linux cubic "${fault[@]}"
        b_row loss "$label, $mb MiB, NewReno vs Linux CUBIC: seconds" "s" lower "$tn" "$R_K" "tapstack (newreno): $tnn | Linux (cubic): $R_KN"
        b_log "loss $p: tapstack newreno $tn s, Linux cubic $R_K s ($R_KN)"
    done
}

# ---- 6. memory with idle connections ----
# mem_side SIDE N: sets R_MEM="rss_idle_kb|rss_with_kb|sock_slab_delta_bytes|opened|held|held_after".
mem_side() {
    local side=$1 want=$2 ns pid
    if [[ $side == tap ]]; then
        ns=$B_TNS
        R_MEM="|||||"
        b_tap_app tapstack-httpd --stats --max-conns $((want + 100)) --control "$B_TMP/mem.sock" ||
            return
        pid=$B_APP_PID
    else
        ns=$B_KCNS
        R_MEM="|||||"
        b_kernel_srv 80 --http 80 || return
        pid=$B_SRV_PID
    fi
    sleep 1
    # The server itself runs under `ip netns exec`, which execs it: $pid is the server.
    local rss0 rss1 slab0 slab1
    rss0=$(b_rss_kb "$pid")
    slab0=$(b_sock_slab_bytes)
    # tapstack: hold long enough for the server to accept every connection the client has up.
    local hold=3
    [[ $side == tap ]] && hold=15
    b_hold_start "$ns" "$want" 80 "$hold" "$MEM_OPEN"
    b_hold_ready "$MEM_OPEN"
    [[ $side == tap ]] && MEM_TAP_EST=$(b_tap_wait_established "$B_TMP/mem.sock" "$(b_hold_sum held)" 12)
    rss1=$(b_rss_kb "$pid")
    slab1=$(b_sock_slab_bytes)
    b_hold_wait
    b_stop "$pid"
    [[ $side == tap ]] && MEM_TAP_DROPS="half-open queue full $(b_counter "$B_APP_LOG" tcp_drop_syn_queue_full), no memory $(b_counter "$B_APP_LOG" tcp_drop_no_memory) (final ACKs held, accept queue full: $(b_counter "$B_APP_LOG" tcp_drop_accept_queue_full))"
    R_MEM="$rss0|$rss1|$((slab1 - slab0))|$(b_hold_sum opened)|$(b_hold_sum held)|$(b_hold_sum held_after)"
}

# rr_held SIDE N: 1-byte request/response on one connection alone, then beside N idle
# connections held by connhold (to the same echo server). Sets R_RRH="alone|with|held".
rr_held() {
    local side=$1 want=$2 ns pid l alone with
    R_RRH="n/a|n/a|0"
    if [[ $side == tap ]]; then
        ns=$B_TNS
        b_tap_app tapstack-echo-server --max-conns $((want + 100)) --control "$B_TMP/mem.sock" ||
            return
        pid=$B_APP_PID
    else
        ns=$B_KCNS
        b_kernel_srv 7 --echo 7 || return
        pid=$B_SRV_PID
    fi
    l=$(ip netns exec "$ns" "$B_TOOLS/rr" -d "$RR_SECS" "$B_STACK_IP" 7)
    alone=$(b_kv "$l" rr)
    b_hold_start "$ns" "$want" 7 $((RR_SECS + 17)) "$MEM_OPEN"
    b_hold_ready "$MEM_OPEN"
    [[ $side == tap ]] && b_tap_wait_established "$B_TMP/mem.sock" "$(b_hold_sum held)" 12 >/dev/null
    l=$(ip netns exec "$ns" "$B_TOOLS/rr" -d "$RR_SECS" "$B_STACK_IP" 7)
    with=$(b_kv "$l" rr)
    local held
    held=$(b_hold_sum held)
    b_hold_wait
    b_stop "$pid"
    R_RRH="${alone:-n/a}|${with:-n/a}|$held"
}

group_mem_rr() {
    local ta tw th ka kw kh pct
    rr_held tap "$MEM_N"
    IFS='|' read -r ta tw th <<<"$R_RRH"
    rr_held kernel "$MEM_N"
    IFS='|' read -r ka kw kh <<<"$R_RRH"
    b_log "mem rr: tapstack alone $ta with $tw (held $th) | kernel alone $ka with $kw (held $kh)"
    pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f", b * 100 / a; else print "n/a" }'; }
    b_row mem "1-byte request/response beside $MEM_N held idle connections, ${RR_SECS} s" "round trips/s" higher \
        "${tw:-n/a}" "${kw:-n/a}" "held by the echo server meanwhile: tapstack ${th:-?}, kernel ${kh:-?} (connhold to port 7); alone just before: tapstack $ta, kernel $ka"
    b_row mem "  the same as % of its figure alone (no other connection)" "%" - "$(pct "$ta" "$tw")" \
        "$(pct "$ka" "$kw")" "issue 10's target: within 10% (>= 90)"
}

group_mem() {
    local n tr0 tr1 tsl to th tha kr0 kr1 ksl ko kh kha tper kper sizes=$MEM_N fd
    # A small N first, under tapstack-httpd's cap of 512 connections: the per-connection cost
    # when every connection is held.
    ((MEM_N > MEM_SMALL)) && sizes="$MEM_SMALL $MEM_N"
    # Per accepted socket the kernel also has a file and a dentry (and an epoll item, in a cache
    # merged with others: not counted).
    fd=$(($(b_slab_objsize filp) + $(b_slab_objsize dentry)))
    for n in $sizes; do
        MEM_TAP_DROPS="" MEM_TAP_EST=""
        mem_side tap "$n"
        IFS='|' read -r tr0 tr1 tsl to th tha <<<"$R_MEM"
        mem_side kernel "$n"
        IFS='|' read -r kr0 kr1 ksl ko kh kha <<<"$R_MEM"
        b_log "mem $n: tapstack rss $tr0 -> $tr1 KiB, socket slabs +$tsl B, opened $to held $th/$tha | kernel: rss $kr0 -> $kr1 KiB, socket slabs +$ksl B, opened $ko held $kh/$kha"
        # tapstack: the whole process (stack + app) per held connection.
        tper=$(awk -v a="$tr0" -v b="$tr1" -v n="$th" 'BEGIN { if (n > 0 && b != "") printf "%.0f", (b - a) * 1024 / n; else print "n/a" }')
        # kernel: half the growth of the socket slabs (both ends are kernel sockets here), the
        # server socket's file and dentry, and ksrv's own resident growth, per held connection.
        kper=$(awk -v a="$kr0" -v b="$kr1" -v s="$ksl" -v n="$kh" -v fd="$fd" 'BEGIN { if (n > 0 && b != "") printf "%.0f", (s / 2 + (b - a) * 1024) / n + fd; else print "n/a" }')
        if [[ $n == "${sizes%% *}" ]]; then
            b_row mem "server resident memory, idle" "KiB" - "${tr0:-n/a}" "${kr0:-n/a}" \
                "tapstack-httpd (stack + app) vs ksrv --http (a kernel socket's memory is not in the process's RSS)"
        fi
        b_row mem "$n idle connections asked for: held by the server" "count" - "${th:-0}" "${kh:-0}" \
            "connhold -n $n over ${#B_EXTRA_IPS[@]} host addresses (processes of at most $B_HOLD_CHUNK: RLIMIT_NOFILE; ksrv is bound by it too), ${MEM_OPEN} s to open; opened by the client: tapstack ${to:-?}, kernel ${ko:-?}; still held at the end (tapstack 15 s, kernel 3 s): ${tha:-?}, ${kha:-?}; ESTABLISHED in tapstack when its memory was read: ${MEM_TAP_EST:-?}${MEM_TAP_DROPS:+; tapstack SYN drops: $MEM_TAP_DROPS}"
        b_row mem "  memory per held idle connection, $n asked for" "bytes" lower "$tper" "$kper" \
            "tapstack: growth of tapstack-httpd's RSS ($tr0 -> $tr1 KiB) / held, which includes what refused connections left (TIME_WAIT); kernel: (growth of the TCP and sock_inode_cache slabs (${ksl:-?} B) / 2 [both ends are kernel sockets] + growth of ksrv's RSS ($kr0 -> $kr1 KiB)) / held + $fd B (a file and a dentry)"
    done
    group_mem_rr
}

# ---- 7. unmodified programs under tapstack-run ----
# The program under tapstack-run in the tapstack setup (its stack at 10.0.0.2) with the same
# program of the host side (10.0.0.1, the namespace's kernel) as its peer; in the kernel setup
# the two run in the server (10.0.0.2) and client (10.0.0.1) namespaces. Offloads off on both
# sides unless a row says on (then tapstack-run's stack uses the tap's, the veth its own).
RUN_T=() # the tapstack-run command line (set in group_run)
# run_bg NS CMD...: in the background; R_PID its pid (ip netns exec and tapstack-run exec in place).
run_bg() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" >>"$B_TMP/run-bg.log" 2>&1 &
    R_PID=$!
    B_PIDS+=("$R_PID")
}
iperf_gbit() { # iperf3 -J output file -> "GBIT RETRANSMITS"
    python3 -c 'import json, sys
try:
    e = json.load(open(sys.argv[1]))["end"]
    print("%.2f" % (e["sum_received"]["bits_per_second"] / 1e9), e["sum_sent"].get("retransmits", "-"))
except Exception:
    print("n/a -")' "$1"
}
# iperf_one SERVER_NS SERVER_IP CLIENT_NS CLIENT_PREFIX... -- ARGS: sets R_G R_RETR.
iperf_one() {
    local sns=$1 sip=$2 cns=$3
    shift 3
    local pre=()
    while [[ $1 != -- ]]; do pre+=("$1"); shift; done
    shift
    local spre=()
    [[ $sns == "$B_TNS" && $sip == "$B_STACK_IP" ]] && spre=("${RUN_T[@]}" --)
    run_bg "$sns" "${spre[@]}" iperf3 -s -B "$sip" -p 5301 -1
    local s=$R_PID
    sleep 1 # (no probe: iperf3 -s -1 would take it for its one test)
    ip netns exec "$cns" timeout 60 "${pre[@]}" iperf3 -c "$sip" -p 5301 -t "$RUN_SECS" -J "$@" \
        >"$B_TMP/iperf.json" 2>>"$B_TMP/run-bg.log"
    b_stop "$s"
    read -r R_G R_RETR <<<"$(iperf_gbit "$B_TMP/iperf.json")"
}
run_nginx_conf() { # run_nginx_conf FILE LISTEN
    local d=$B_TMP/run-nginx
    mkdir -p "$d/www" "$d/tmp"
    [[ -e $d/www/big.bin ]] || head -c 104857600 /dev/zero >"$d/www/big.bin"
    echo "hello from nginx" >"$d/www/index.html"
    chmod -R a+rX "$d"
    {
        echo "worker_processes 1; master_process off; daemon off; pid $1.pid; error_log $1.err warn;"
        echo "worker_rlimit_nofile 65536; events { worker_connections 8192; }"
        echo "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000000;"
        for t in client_body proxy fastcgi uwsgi scgi; do echo " ${t}_temp_path $d/tmp/$t;"; done
        echo " server { listen $2; root $d/www; } }"
    } >"$1"
}
wrk_small() { # wrk_small NS URL [PREFIX...] -> req/s or n/a
    local ns=$1 url=$2
    shift 2
    local out
    out=$(ip netns exec "$ns" timeout 60 "$@" wrk -t 2 -c 50 -d "${RUN_SECS}s" "$url" 2>&1)
    b_log "wrk $*: $(grep -E 'Requests/sec|errors' <<<"$out" | tr '\n' ' ')"
    awk '/^Requests\/sec/ { printf "%.0f", $2; f = 1 } END { if (!f) print "n/a" }' <<<"$out"
}

group_run() {
    local tool pkg
    for tool in iperf3 nginx wrk curl; do
        pkg=$tool
        [[ $tool == nginx ]] && pkg=nginx-light
        b_need "$tool" "$pkg" || { b_row run "tapstack-run rows" "" - "n/a" "n/a" "no $tool ($pkg could not be installed)"; return; }
    done
    RUN_T=("$B_BIN/tapstack-run" --tap tap0 --control none)
    local of dir label tg tr kg kr
    # iperf3 -c: tapstack-run's program sends (and with -R receives), offloads off then on.
    for of in off on; do
        [[ $of == on ]] && export TAPSTACK_OFFLOAD=1
        b_offloads "$of"
        for dir in "" -R; do
            iperf_one "$B_TNS" "$B_HOST_IP" "$B_TNS" "${RUN_T[@]}" -- $dir
            tg=$R_G tr=$R_RETR
            iperf_one "$B_KCNS" "$B_HOST_IP" "$B_KSNS" -- $dir
            kg=$R_G kr=$R_RETR
            label="iperf3 -c under tapstack-run to the host's iperf3 -s, it sends"
            [[ $dir == -R ]] && label="iperf3 -c -R under tapstack-run, the host's iperf3 -s sends"
            b_log "run iperf3 $dir offloads $of: tapstack $tg ($tr retr) | kernel $kg ($kr retr)"
            b_row run "$label, ${RUN_SECS} s; offloads $of" "Gbit/s" higher "$tg" "$kg" \
                "retransmissions by the sender: tapstack's run $tr, kernel's run $kr"
        done
        export TAPSTACK_OFFLOAD=0
    done
    b_offloads off
    # iperf3 -s under tapstack-run, the host's iperf3 -c sending.
    iperf_one "$B_TNS" "$B_STACK_IP" "$B_TNS" --
    tg=$R_G
    iperf_one "$B_KSNS" "$B_STACK_IP" "$B_KCNS" --
    b_row run "iperf3 -s under tapstack-run, the host's iperf3 -c sends, ${RUN_SECS} s" "Gbit/s" higher \
        "$tg" "$R_G" ""
    # nginx under tapstack-run (one process), the host's wrk and curl.
    local d=$B_TMP/run-nginx t k ts ks
    run_nginx_conf "$d/t.conf" 80
    run_nginx_conf "$d/k.conf" "$B_STACK_IP:80"
    run_bg "$B_TNS" "${RUN_T[@]}" -- nginx -c "$d/t.conf"
    local tn=$R_PID
    for _ in $(seq 100); do # nginx listens on the stack: ask it, not the host side's table
        ip netns exec "$B_TNS" timeout 1 bash -c "exec 3<>/dev/tcp/$B_STACK_IP/80" 2>/dev/null && break
        sleep 0.1
    done
    t=$(wrk_small "$B_TNS" "http://$B_STACK_IP/index.html")
    ts=$(curl_get "$B_TNS" "http://$B_STACK_IP/big.bin" 120)
    b_stop "$tn"
    run_bg "$B_KSNS" nginx -c "$d/k.conf"
    local kn=$R_PID
    b_wait_port "$B_KSNS" 80
    k=$(wrk_small "$B_KCNS" "http://$B_STACK_IP/index.html")
    ks=$(curl_get "$B_KCNS" "http://$B_STACK_IP/big.bin" 120)
    b_stop "$kn"
    b_row run "nginx under tapstack-run, the host's wrk -t2 -c50 keep-alive, 17-byte page, ${RUN_SECS} s" \
        "req/s" higher "$t" "$k" "nginx: one process (master_process off), sendfile, tcp_nopush"
    b_row run "nginx under tapstack-run, one 100 MB file (sendfile) to the host's curl" "Gbit/s" \
        higher "$(bulk_gbit "$ts")" "$(bulk_gbit "$ks")" ""
    # wrk under tapstack-run, against the host's nginx.
    run_nginx_conf "$d/h.conf" "$B_HOST_IP:8080"
    run_bg "$B_TNS" nginx -c "$d/h.conf"
    tn=$R_PID
    run_bg "$B_KCNS" nginx -c "$d/h.conf"
    kn=$R_PID
    b_wait_port "$B_TNS" 8080
    b_wait_port "$B_KCNS" 8080
    t=$(wrk_small "$B_TNS" "http://$B_HOST_IP:8080/index.html" "${RUN_T[@]}")
    k=$(wrk_small "$B_KSNS" "http://$B_HOST_IP:8080/index.html")
    b_stop "$tn"
    b_stop "$kn"
    b_row run "wrk -t2 -c50 under tapstack-run against the host's nginx, ${RUN_SECS} s" "req/s" higher \
        "$t" "$k" ""
    # 1-byte request/response: rr under tapstack-run to the host's ksrv --echo; what the library
    # adds is this row beside the rr row above (an echo server on tapstack's own socket API).
    run_bg "$B_TNS" "$B_TOOLS/ksrv" --echo 7
    tn=$R_PID
    run_bg "$B_KCNS" "$B_TOOLS/ksrv" --echo 7
    kn=$R_PID
    b_wait_port "$B_TNS" 7
    b_wait_port "$B_KCNS" 7
    local tl kl
    tl=$(ip netns exec "$B_TNS" timeout 60 "${RUN_T[@]}" --stats -- "$B_TOOLS/rr" -d "$RUN_SECS" "$B_HOST_IP" 7 2>"$B_TMP/rr-run.err")
    kl=$(ip netns exec "$B_KSNS" timeout 60 "$B_TOOLS/rr" -d "$RUN_SECS" "$B_HOST_IP" 7)
    b_stop "$tn"
    b_stop "$kn"
    local mirror
    mirror=$(sed -nE 's/.*runtime: ([0-9]+) kernel-mirror updates, ([0-9]+) system calls.*/\2/p' "$B_TMP/rr-run.err")
    b_log "run rr: tapstack-run $tl (mirror syscalls ${mirror:-?}) | kernel $kl"
    local n
    n=$(b_kv "$tl" n)
    b_row run "1-byte request/response, rr under tapstack-run to the host's echo, ${RUN_SECS} s" \
        "round trips/s" higher "$(b_kv "$tl" rr)" "$(b_kv "$kl" rr)" \
        "p99 latency: tapstack $(b_kv "$tl" p99_us) us, kernel $(b_kv "$kl" p99_us) us; kernel-mirror system calls: ${mirror:-?} for ${n:-?} round trips (--stats)"
}

for g in $ALL_GROUPS; do
    want "$g" || continue
    b_log "== $g =="
    [[ $g != inproc ]] && b_ensure_setups
    "group_$g"
done

print_all
