#!/usr/bin/env bash
# A download by a slow reader, with no loss at all (issue 13): the host's curl reads at
# --limit-rate 10M, so the receiver's window, not the network, holds tapstack's flight and its
# ACKs come as curl reads. No RTO, and no tail loss probe while the window holds the flight
# (RFC 8985 7.2 is for a silent network, not a slow reader; before issue 13: 129 probes in 4 s).
# At most 2 probes are tolerated, for the start: there the whole 1 MB send buffer leaves in one
# burst, written to the tap while the stack's clock stands at the burst's start, and the ACKs
# queue behind it. The PTO counts the flight's time on the wire for that (without it, 1-7 probes
# in one run in three on a loaded 2-core machine; with it, none in the runs since). Zero-window
# probes are not retransmissions (their byte went into a closed window). The bytes must match
# the pattern (SHA-256). Once with the default NewReno and once with BBR (whose window is its
# model's, plus the allowance for ACKs that come in batches, as a slow reader's do).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apps_lib.sh"

ts_need_bin tapstack-httpd
ts_ns_setup
S=$TS_STACK_IP
want=$(ts_pattern_sha256 "$TS_BIG")

# run_case CC: one download with that congestion control.
run_case() {
    local cc=$1 t0 got secs rxt tlp rto
    ts_start_app "$TS_BIN/tapstack-httpd" --tap "$TS_TAP" --stats --cc "$cc"
    ts_wait_log "listening on" || ts_fail "$cc: httpd not listening"
    t0=$SECONDS
    got=$(ts_ns_exec curl -sS --limit-rate 10M --max-time 120 "http://$S/bytes/$TS_BIG" | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] || ts_fail "$cc: /bytes/$TS_BIG at 10 MB/s differs from the pattern"
    secs=$((SECONDS - t0))
    ts_stop_app
    rxt=$(counter tcp_retransmit) tlp=$(counter tcp_loss_probe) rto=$(counter tcp_rto)
    ts_log "$cc: download of $TS_BIG bytes at --limit-rate 10M took $secs s: retransmits $rxt, loss probes $tlp, RTOs $rto"
    [[ $rto -eq 0 && $tlp -le 2 && $rxt -eq $tlp ]] ||
        ts_fail "$cc: a slow reader without loss got $rxt retransmissions ($tlp loss probes, $rto RTOs)"
    summary+="${summary:+; }$cc: $rxt retransmissions ($tlp loss probes)"
}
counter() { awk -v c="$1" '$1 == c { v = $2 } END { print v + 0 }' "$TS_APP_LOG"; }

summary=""
run_case newreno
run_case bbr
ts_pass "$TS_BIG bytes to a reader at 10 MB/s, byte-identical, no RTO; $summary"
