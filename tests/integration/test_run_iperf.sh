#!/usr/bin/env bash
# iperf3, unmodified, over tapstack (tapstack-run): iperf3 -c through tapstack against iperf3 -s
# on the host side, both directions (-R), and iperf3 -s through tapstack against the host's
# iperf3 -c. Each run's JSON must show bytes sent and received, equal at both ends, and no error;
# the rates are logged (make bench has the figures beside the kernel's).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"
. "$(dirname "$0")/run_lib.sh"

ts_need_cmd iperf3
ts_ns_setup
SECS=3
[[ $TS_SAN == 1 ]] && SECS=2

# summary FILE: "SENT RECEIVED MBIT/S" from iperf3 -J, or fails.
summary() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
if "error" in d:
    sys.exit("iperf3 error: " + d["error"])
s, r = d["end"]["sum_sent"], d["end"]["sum_received"]
print(int(s["bytes"]), int(r["bytes"]), "%.0f" % (r["bits_per_second"] / 1e6))' "$1"
}

check() { # check JSON WHAT
    local sm
    sm=$(summary "$1") || ts_fail "$2: $(tail -3 "$1")"
    read -r sent rcvd mbit <<<"$sm"
    [[ $sent -gt 1000000 && $rcvd -gt 1000000 ]] || ts_fail "$2: sent $sent received $rcvd bytes"
    ts_log "$2: $sent bytes sent, $rcvd received, $mbit Mbit/s"
    RATES+="$2 $mbit Mbit/s; "
}
RATES=

for dir in "" -R; do
    ts_bg iperf3 -s -B "$TS_HOST_IP" -p 5201 -1 >"$TS_TMP/hs$dir.log" 2>&1
    ts_wait_port 5201 || ts_fail "iperf3 -s did not start"
    ts_run_fg 60 iperf3 -c "$TS_HOST_IP" -p 5201 -t "$SECS" $dir -J >"$TS_TMP/c$dir.json" \
        2>"$TS_TMP/app-c$dir.log" || ts_fail "iperf3 -c $dir through tapstack failed: $(tail -3 "$TS_TMP/c$dir.json")"
    check "$TS_TMP/c$dir.json" "iperf3 -c ${dir:-(send)}"
    ts_wait_exit "$TS_BG_PID" 10
done

ts_run_bg "$TS_TMP/s.json" iperf3 -s -p 5202 -1 -J
s=$TS_BG_PID
sleep 1
ts_ns_exec timeout 60 iperf3 -c "$TS_STACK_IP" -p 5202 -t "$SECS" -J >"$TS_TMP/hc.json" ||
    ts_fail "the host's iperf3 -c against iperf3 -s over tapstack failed: $(tail -3 "$TS_TMP/hc.json")"
check "$TS_TMP/hc.json" "iperf3 -s over tapstack"
ts_wait_exit "$s" 20 || ts_fail "iperf3 -s -1 over tapstack did not exit after its test"

ts_pass "$RATES"
