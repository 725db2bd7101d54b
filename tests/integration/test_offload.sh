#!/usr/bin/env bash
# Offloads through IFF_VNET_HDR (issue 11), on (the default) and off (--no-offload), on the same
# persistent tap: what `ethtool -k` shows for the tap in the namespace, 1 GiB each way with the
# host's curl (GET /bytes, SHA-256 against the pattern) and socat (a POST /upload written raw,
# hashed by the server), and the counters: super-segments crossed both ways with offloads on,
# none with them off. A stack that exits leaves the tap plain (offloads off), and one killed
# before it could leaves them on: the run with --no-offload comes after such a kill, so it also
# proves that the driver switches off what the persistent tap kept from its last user.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd
export TAPSTACK_OFFLOAD=1 # this test picks each mode itself (the suite may run with =0)
ts_ns_setup
S=$TS_STACK_IP
N=$((1024 * 1024 * 1024))
[[ $TS_SAN == 1 ]] && N=$((256 * 1024 * 1024)) # the sanitizer build is several times slower
pattern=$(ts_pattern_sha256 "$N")
head -c "$N" /dev/urandom >"$TS_TMP/up.bin"
upsha=$(ts_sha "$TS_TMP/up.bin")

# ethtool -k's value of FEATURE on the tap ("on" or "off").
feature() { ts_ns_exec ethtool -k "$TS_TAP" | awk -v f="$1:" '$1 == f { print $2 }'; }
# The value of counter NAME in the app's --stats lines.
counter() { awk -v c="$1" '$1 == c { print $2 }' "$TS_APP_LOG"; }

# run_mode MODE OFFLOADS TSO CSUM [APP FLAGS...]: one run of httpd; OFFLOADS is what its start-up
# line must say, TSO and CSUM what ethtool -k must show.
run_mode() {
    local mode=$1 want=$2 want_tso=$3 want_csum=$4
    shift 4
    ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP" --stats "$@"
    ts_wait_log "listening on $S:80" || ts_fail "$mode: httpd never said it was listening"
    grep -q "offloads $want" "$TS_APP_LOG" || ts_fail "$mode: start-up line: $(grep 'up on' "$TS_APP_LOG")"
    local tso csum uso
    tso=$(feature tcp-segmentation-offload)
    csum=$(feature tx-checksumming)
    uso=$(feature tx-udp-segmentation)
    [[ $tso == "$want_tso" && $csum == "$want_csum" ]] ||
        ts_fail "$mode: ethtool -k says TSO $tso, tx checksumming $csum (want $want_tso, $want_csum)"
    # USO where the kernel has it (Linux 6.2; ethtool shows no such line before): as TSO.
    [[ -z $uso || $uso == "$want_tso" || $uso == "$want_tso [fixed]" ]] ||
        ts_fail "$mode: ethtool -k says UDP segmentation $uso (want $want_tso)"

    local got
    got=$(ts_ns_exec curl -sS --max-time 300 "http://$S/bytes/$N" | sha256sum | cut -d' ' -f1)
    [[ $got == "$pattern" ]] || ts_fail "$mode: GET /bytes/$N: sha $got, pattern $pattern"

    local out
    out=$({
        printf 'POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$S" "$N"
        cat "$TS_TMP/up.bin"
    } | ts_ns_exec timeout 300 socat -b 262144 - "TCP:$S:80") || ts_fail "$mode: socat upload failed"
    grep -q "^length: $N" <<<"$out" || ts_fail "$mode: upload length: $(tail -3 <<<"$out")"
    grep -q "^sha256: $upsha" <<<"$out" || ts_fail "$mode: upload hash: $(tail -2 <<<"$out") (want $upsha)"
    ts_stop_app
    local rx tx
    rx=$(counter eth_rx_gso)
    tx=$(counter eth_tx_gso)
    if [[ $mode == on ]]; then
        [[ ${rx:-0} -gt 0 && ${tx:-0} -gt 0 ]] ||
            ts_fail "$mode: super-segments received ${rx:-0}, sent ${tx:-0}: want some each way"
    else
        [[ -z $rx && -z $tx ]] || ts_fail "$mode: super-segments crossed (rx ${rx:-0}, tx ${tx:-0})"
    fi
    for c in eth_drop_offload_type ip_drop_offload_gso ip_drop_offload_csum tcp_drop_bad_csum; do
        [[ -z $(counter "$c") ]] || ts_fail "$mode: $c = $(counter "$c")"
    done
    ts_log "$mode: TSO $tso, tx checksumming $csum; $N bytes each way, SHA-256 equal; super-segments rx ${rx:-0} tx ${tx:-0}"
}

run_mode on csum+tso4 on on
[[ $(feature tcp-segmentation-offload) == off ]] || ts_fail "the stack left the tap with TSO on at exit"
# A stack killed with its offloads on leaves them on the persistent tap...
ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP"
kill -KILL "$TS_APP_PID"
wait "$TS_APP_PID" 2>/dev/null
[[ $(feature tcp-segmentation-offload) == on ]] || ts_fail "a killed stack's offloads are not on the tap"
# ...and --no-offload switches them off.
run_mode off off off off --no-offload
ts_pass "offloads on and off: ethtool flags, $N bytes each way (curl, socat) with equal SHA-256, counters"
