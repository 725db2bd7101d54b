#!/usr/bin/env bash
# Transfers through tapstack's own fault injector (the kernel has no netem here): the 50 MB echo
# and a 100 MB /bytes download with 5% of frames dropped in both directions, then once more with
# 5% reordered and 2% duplicated (both with NewReno), then 10% dropped with BBR (--cc bbr; the
# programs' default follows the host's, so each case names its own); every byte must arrive, in
# order, exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-echo-server tapstack-echo-client tapstack-httpd
ts_ns_setup
S=$TS_STACK_IP

head -c "$TS_MID" /dev/urandom >"$TS_TMP/in.bin"
want_echo=$(ts_sha "$TS_TMP/in.bin")
want_bytes=$(ts_pattern_sha256 "$TS_BIG")

# run_case NAME FAULT-FLAGS...
run_case() {
    local name=$1
    shift
    ts_start_app "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" --port 7 "$@"
    ts_wait_log "TCP and UDP echo on" || ts_fail "$name: echo server not listening"
    local t0=$SECONDS
    ts_ns_exec timeout 240 nc -N "$S" 7 <"$TS_TMP/in.bin" >"$TS_TMP/out.bin" ||
        ts_fail "$name: 50 MB echo failed or timed out (status $?)"
    local got
    got=$(ts_sha "$TS_TMP/out.bin")
    [[ $got == "$want_echo" ]] ||
        ts_fail "$name: echo differs ($(stat -c %s "$TS_TMP/out.bin") bytes back)"
    ts_log "$name: echo took $((SECONDS - t0)) s"
    ts_stop_app
    grep -qE "fault injector: [0-9]" "$TS_APP_LOG" || ts_fail "$name: no fault statistics printed"
    grep -qE "fault injector: 0 dropped, 0 duplicated, 0 reordered" "$TS_APP_LOG" &&
        ts_fail "$name: the fault injector did nothing"

    ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP" "$@"
    ts_wait_log "listening on" || ts_fail "$name: httpd not listening"
    t0=$SECONDS
    got=$(ts_ns_exec curl -sS --max-time 300 "http://$S/bytes/$TS_BIG" | sha256sum | cut -d' ' -f1)
    [[ $got == "$want_bytes" ]] || ts_fail "$name: /bytes/$TS_BIG differs from the pattern"
    ts_log "$name: download took $((SECONDS - t0)) s"
    ts_stop_app
    ts_log "$name: ok ($(grep -o 'fault injector:.*' "$TS_APP_LOG"))"
}

run_case "drop 5%" --cc newreno --drop 0.05 --seed 1
run_case "reorder 5% dup 2%" --cc newreno --reorder 0.05 --dup 0.02 --seed 2
run_case "BBR, drop 10%" --cc bbr --drop 0.10 --seed 3

ts_pass "$TS_MID-byte echo and $TS_BIG-byte download byte-identical with --drop 0.05, with --reorder 0.05 --dup 0.02, and with BBR and --drop 0.10"
