#!/usr/bin/env bash
# `make demo STEP=4`: tapstack closes first. tapstack: ESTABLISHED -> FIN_WAIT1 (app close) ->
# FIN_WAIT2 (rcvd ACK of FIN), held while the host's program keeps its socket, -> TIME_WAIT
# (rcvd FIN) -> CLOSE (2MSL timer expired) 2 s later (MSL 1 s); the host's ss: CLOSE-WAIT (also
# while tapstack waits in FIN_WAIT2), then LAST-ACK.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 4
t=$TOUR_DIR/trace.log
peer=$(tour_peer "$t" 10.0.0.2:80)
[[ -n $peer ]] || ts_fail "no connection in tapstack's trace"
tour_expect_chain "tapstack's side of the host's connection" "$t" 10.0.0.2:80 "$peer" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> FIN_WAIT1 (app close) | FIN_WAIT1 -> FIN_WAIT2 (rcvd ACK of FIN) | FIN_WAIT2 -> TIME_WAIT (rcvd FIN) | TIME_WAIT -> CLOSE (2MSL timer expired)"
for st in CLOSE-WAIT LAST-ACK; do
    tour_host_has "$TOUR_DIR/host-$st.txt" "$st" "$peer" 10.0.0.2:80 ||
        ts_fail "the host's ss did not show $peer in $st: $(cat "$TOUR_DIR/host-$st.txt")"
done
tour_host_has "$TOUR_DIR/ss-fin-wait2.txt" CLOSE-WAIT "$peer" 10.0.0.2:80 ||
    ts_fail "the host was not in CLOSE-WAIT while tapstack waited in FIN_WAIT2: $(cat "$TOUR_DIR/ss-fin-wait2.txt")"
# TIME_WAIT lasts 2*MSL = 2 s.
t1=$(tour_time "$t" 10.0.0.2:80 "$peer" FIN_WAIT2 TIME_WAIT)
t2=$(tour_time "$t" 10.0.0.2:80 "$peer" TIME_WAIT CLOSE)
awk -v a="$t1" -v b="$t2" 'BEGIN { d = b - a; exit !(d >= 1.99 && d < 2.5) }' ||
    ts_fail "TIME_WAIT lasted from $t1 to $t2, not 2*MSL = 2 s"
# FIN_WAIT1 lasts the 0.6 s the host's ACK is held back (--delay-in 600).
t0=$(tour_time "$t" 10.0.0.2:80 "$peer" ESTABLISHED FIN_WAIT1)
t1=$(tour_time "$t" 10.0.0.2:80 "$peer" FIN_WAIT1 FIN_WAIT2)
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.55) }' || ts_fail "FIN_WAIT1 lasted from $t0 to $t1: less than 0.6 s"
grep -qE "10\.0\.0\.2:80 +${peer//./\\.} +FIN_WAIT2" "$TOUR_DIR/stat-fin-wait2.txt" ||
    ts_fail "tapstack-stat does not show FIN_WAIT2: $(cat "$TOUR_DIR/stat-fin-wait2.txt")"
# TIME_WAIT counting down in tapstack-stat -i: the time-wait timer, less time left the second time.
left() { grep -A1 -E "10\.0\.0\.2:80 +${peer//./\\.} +TIME_WAIT" "$1" | sed -nE 's/.*timer:\(time-wait,([0-9.]+)s\).*/\1/p'; }
l1=$(left "$TOUR_DIR/stat-time-wait.txt")
l2=$(left "$TOUR_DIR/stat-time-wait-later.txt")
[[ -n $l1 && -n $l2 ]] || ts_fail "tapstack-stat -i does not show the TIME_WAIT timer: $(cat "$TOUR_DIR/stat-time-wait.txt")"
awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(a <= 2.0 && b < a) }' || ts_fail "the TIME_WAIT timer did not count down: $l1 s, then $l2 s"
ts_pass
