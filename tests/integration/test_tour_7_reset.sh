#!/usr/bin/env bash
# `make demo STEP=7`: resets. The host's curl to a closed port of tapstack is refused (RST, counted
# as a segment to a port with no listener); tapstack's connect to a closed host port goes
# CLOSE -> SYN_SENT -> CLOSE (rcvd RST) and reports "Connection refused"; an ESTABLISHED
# connection ends at once with ESTABLISHED -> CLOSE (rcvd RST) when the host closes with unread
# data, and with ESTABLISHED -> CLOSE (app abort) when tapstack aborts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 7
t=$TOUR_DIR/trace.log
out=$TS_TMP/app-tour.log
grep -qE "curl: \(7\) Failed to connect to 10\.0\.0\.2 port 81" "$out" || ts_fail "curl to the closed port 81 was not refused"
me=$(grep -F ' > 10.0.0.1:7001 ' "$t" | head -n 1 | awk '{ print $2 }')
[[ -n $me ]] || ts_fail "no connection to 10.0.0.1:7001 in tapstack's trace"
tour_expect_chain "tapstack's connect to the closed port" "$t" "$me" 10.0.0.1:7001 \
    "CLOSE -> SYN_SENT (app connect) | SYN_SENT -> CLOSE (rcvd RST)"
grep -q 'connect 10.0.0.1:7001: error: Connection refused' "$TOUR_DIR/out.log" || ts_fail "the connect was not refused"
mapfile -t peers < <(grep -F ' 10.0.0.2:80 > ' "$t" | grep -vF '> 0.0.0.0:' | awk '{ print $4 }' | uniq)
[[ ${#peers[@]} -eq 2 ]] || ts_fail "expected two connections to port 80, got: ${peers[*]}"
tour_expect_chain "the connection the host resets" "$t" 10.0.0.2:80 "${peers[0]}" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> CLOSE (rcvd RST)"
tour_expect_chain "the connection tapstack aborts" "$t" 10.0.0.2:80 "${peers[1]}" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> CLOSE (app abort)"
grep -q 'recv: error: Connection reset by peer' "$TOUR_DIR/out.log" || ts_fail "tapstack's app did not see the reset"
grep -q 'Connection reset by peer' "$TOUR_DIR/host-read.err" || ts_fail "the host's read did not see tapstack's reset"
awk -v p="${peers[0]}" '$1 == "ESTAB" && $2 == 30 && $4 == p { f = 1 } END { exit !f }' "$TOUR_DIR/ss-unread.txt" ||
    ts_fail "the host's ss did not show 30 unread bytes before the reset: $(cat "$TOUR_DIR/ss-unread.txt")"
grep -qF "${peers[0]}" "$TOUR_DIR/ss-reset.txt" && ts_fail "the host still has the reset connection"
grep -qE '^tcp_drop_no_socket +1 ' "$TOUR_DIR/stat-closed-port.txt" ||
    ts_fail "tapstack-stat -s does not count the segment to the closed port: $(cat "$TOUR_DIR/stat-closed-port.txt")"
ts_pass
