#!/usr/bin/env bash
# `make demo STEP=2`: the host's curl connects. tapstack: LISTEN -> SYN_RECV (rcvd SYN) ->
# ESTABLISHED (rcvd ACK of SYN), SYN_RECV lasting the 0.6 s its SYN-ACK is held back; the host's
# ss shows SYN-SENT, then ESTAB, for the same connection; curl gets its page.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 2
t=$TOUR_DIR/trace.log
peer=$(tour_peer "$t" 10.0.0.2:80)
[[ -n $peer ]] || ts_fail "no connection in tapstack's trace"
tour_expect_chain_prefix "tapstack's side of curl's connection" "$t" 10.0.0.2:80 "$peer" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> FIN_WAIT1 (app close)"
t1=$(tour_time "$t" 10.0.0.2:80 "$peer" LISTEN SYN_RECV)
t2=$(tour_time "$t" 10.0.0.2:80 "$peer" SYN_RECV ESTABLISHED)
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 0.55) }' ||
    ts_fail "SYN_RECV lasted $t1 .. $t2: less than the 0.6 s the SYN-ACK was held"
tour_host_has "$TOUR_DIR/host-SYN-SENT.txt" SYN-SENT "$peer" 10.0.0.2:80 ||
    ts_fail "the host's ss did not show $peer in SYN-SENT: $(cat "$TOUR_DIR/host-SYN-SENT.txt")"
tour_host_has "$TOUR_DIR/host-ESTAB.txt" ESTAB "$peer" 10.0.0.2:80 ||
    ts_fail "the host's ss did not show $peer in ESTAB: $(cat "$TOUR_DIR/host-ESTAB.txt")"
grep -q 'hello, curl!' "$TOUR_DIR/curl.out" || ts_fail "curl did not get the page"
grep -qE "10\.0\.0\.2:80 +${peer//./\\.} +ESTABLISHED" "$TOUR_DIR/stat-established.txt" ||
    ts_fail "tapstack-stat does not show the connection ESTABLISHED: $(cat "$TOUR_DIR/stat-established.txt")"
ts_pass
