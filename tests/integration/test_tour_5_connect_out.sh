#!/usr/bin/env bash
# `make demo STEP=5`: tapstack connects out to the host's nc. tapstack: CLOSE -> SYN_SENT (app
# connect) -> ESTABLISHED (rcvd SYN-ACK), SYN_SENT lasting the 0.6 s the SYN-ACK is held back; the
# host's ss: LISTEN, SYN-RECV, ESTAB for the same connection; nc prints the line tapstack sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 5
t=$TOUR_DIR/trace.log
me=$(grep -F ' > 10.0.0.1:7000 ' "$t" | head -n 1 | awk '{ print $2 }')
[[ -n $me ]] || ts_fail "no connection to 10.0.0.1:7000 in tapstack's trace"
tour_expect_chain_prefix "tapstack's connection to the host" "$t" "$me" 10.0.0.1:7000 \
    "CLOSE -> SYN_SENT (app connect) | SYN_SENT -> ESTABLISHED (rcvd SYN-ACK) | ESTABLISHED -> FIN_WAIT1 (app close)"
grep -F " $me > 10.0.0.1:7000 " "$t" | grep -q -- '-> LISTEN' && ts_fail "a connecting client passed through LISTEN"
t1=$(tour_time "$t" "$me" 10.0.0.1:7000 CLOSE SYN_SENT)
t2=$(tour_time "$t" "$me" 10.0.0.1:7000 SYN_SENT ESTABLISHED)
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 0.55) }' || ts_fail "SYN_SENT lasted from $t1 to $t2: less than 0.6 s"
grep -qE '^LISTEN .* 10\.0\.0\.1:7000 ' "$TOUR_DIR/host-LISTEN.txt" || ts_fail "the host's nc was not listening"
tour_host_has "$TOUR_DIR/host-SYN-RECV.txt" SYN-RECV 10.0.0.1:7000 "$me" ||
    ts_fail "the host's ss did not show $me in SYN-RECV: $(cat "$TOUR_DIR/host-SYN-RECV.txt")"
tour_host_has "$TOUR_DIR/host-ESTAB.txt" ESTAB 10.0.0.1:7000 "$me" ||
    ts_fail "the host's ss did not show $me in ESTAB: $(cat "$TOUR_DIR/host-ESTAB.txt")"
[[ $(cat "$TOUR_DIR/nc.out") == "hello from tapstack" ]] || ts_fail "nc got '$(cat "$TOUR_DIR/nc.out")'"
ts_pass
