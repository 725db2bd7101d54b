#!/usr/bin/env bash
# `make demo STEP=3`: the host closes first. tapstack: ESTABLISHED -> CLOSE_WAIT (rcvd FIN),
# held until its app closes -> LAST_ACK (app close) -> CLOSE (rcvd ACK of FIN); the host's ss:
# FIN-WAIT-1, FIN-WAIT-2 (also while tapstack is held in CLOSE_WAIT), TIME-WAIT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 3
t=$TOUR_DIR/trace.log
peer=$(tour_peer "$t" 10.0.0.2:80)
[[ -n $peer ]] || ts_fail "no connection in tapstack's trace"
tour_expect_chain "tapstack's side of curl's connection" "$t" 10.0.0.2:80 "$peer" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> CLOSE_WAIT (rcvd FIN) | CLOSE_WAIT -> LAST_ACK (app close) | LAST_ACK -> CLOSE (rcvd ACK of FIN)"
for st in FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT; do
    tour_host_has "$TOUR_DIR/host-$st.txt" "$st" "$peer" 10.0.0.2:80 ||
        ts_fail "the host's ss did not show $peer in $st: $(cat "$TOUR_DIR/host-$st.txt")"
done
# While tapstack's app holds the connection (CLOSE_WAIT), the host waits in FIN-WAIT-2.
tour_host_has "$TOUR_DIR/ss-still-close-wait.txt" FIN-WAIT-2 "$peer" 10.0.0.2:80 ||
    ts_fail "the host was not in FIN-WAIT-2 while tapstack held CLOSE_WAIT: $(cat "$TOUR_DIR/ss-still-close-wait.txt")"
t1=$(tour_time "$t" 10.0.0.2:80 "$peer" ESTABLISHED CLOSE_WAIT)
t2=$(tour_time "$t" 10.0.0.2:80 "$peer" CLOSE_WAIT LAST_ACK)
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a >= 0.9) }' ||
    ts_fail "CLOSE_WAIT was not held (from $t1 to $t2)"
grep -q 'recv: end of stream' "$TOUR_DIR/out.log" || ts_fail "tapstack's app never read the end of the stream"
grep -qE "10\.0\.0\.2:80 +${peer//./\\.} +CLOSE_WAIT" "$TOUR_DIR/stat-still-close-wait.txt" ||
    ts_fail "tapstack-stat does not show CLOSE_WAIT: $(cat "$TOUR_DIR/stat-still-close-wait.txt")"
# After it ended, tapstack-stat --history still shows its whole path with the causes.
path=$(sed -nE 's/^ +[0-9.]+ ([A-Z_0-9]+ -> [A-Z_0-9]+ \([^)]*\)).*/\1/p' "$TOUR_DIR/history.txt" | paste -sd'|' | sed 's/|/ | /g')
[[ $path == "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> CLOSE_WAIT (rcvd FIN) | CLOSE_WAIT -> LAST_ACK (app close) | LAST_ACK -> CLOSE (rcvd ACK of FIN)" ]] ||
    ts_fail "tapstack-stat --history shows the path: $path"
ts_pass
