#!/usr/bin/env bash
# `make demo STEP=1`: the host pings tapstack and learns its MAC; a server starts:
# tapstack's listener goes CLOSE -> LISTEN (app listen), and the host has no socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 1
out=$TS_TMP/app-tour.log
grep -q '2 packets transmitted, 2 received' "$out" || ts_fail "the host's ping got no answers"
grep -q '10.0.0.2 dev tstour[0-9]* lladdr 02:00:00:00:00:02' "$out" ||
    ts_fail "the host's ARP entry for 10.0.0.2 is not shown with tapstack's MAC"
# The listener, from start to the end of the step (the app quits: LISTEN -> CLOSE).
tour_expect_chain "tapstack's listener" "$TOUR_DIR/trace.log" 10.0.0.2:80 "0.0.0.0:*" \
    "CLOSE -> LISTEN (app listen) | LISTEN -> CLOSE (app close)"
[[ $(grep -c ' -> ' "$TOUR_DIR/trace.log") -eq 2 ]] || ts_fail "more state changes than the listener's"
[[ $(wc -l <"$TOUR_DIR/ss-listen.txt") -eq 1 ]] || ts_fail "the host should have no TCP socket: $(cat "$TOUR_DIR/ss-listen.txt")"
grep -qE '^tcp .*10\.0\.0\.2:80 .*LISTEN' "$TOUR_DIR/stat-listen.txt" ||
    ts_fail "tapstack-stat -l does not show the listener: $(cat "$TOUR_DIR/stat-listen.txt")"
ts_pass
