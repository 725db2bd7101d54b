#!/usr/bin/env bash
# `make demo STEP=6`: tapstack-two-stacks. Both stacks go CLOSE -> SYN_SENT -> SYN_RECV (rcvd SYN
# in SYN_SENT: simultaneous open) -> ESTABLISHED, then FIN_WAIT1 -> CLOSING (simultaneous close)
# -> TIME_WAIT -> CLOSE after 2*MSL, and the tables printed at each moment agree.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

tour_step 6
f=$TOUR_DIR/two-stacks.txt
both="CLOSE -> SYN_SENT (app connect) | SYN_SENT -> SYN_RECV (rcvd SYN in SYN_SENT (simultaneous open)) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> FIN_WAIT1 (app close) | FIN_WAIT1 -> CLOSING (rcvd FIN (simultaneous close)) | CLOSING -> TIME_WAIT (rcvd ACK of FIN) | TIME_WAIT -> CLOSE (2MSL timer expired)"
grep -E '^  A  [0-9]' "$f" >"$TS_TMP/a.log"
grep -E '^  B  [0-9]' "$f" >"$TS_TMP/b.log"
tour_expect_chain "stack A" "$TS_TMP/a.log" 10.0.0.1:5000 10.0.0.2:6000 "$both"
tour_expect_chain "stack B" "$TS_TMP/b.log" 10.0.0.2:6000 10.0.0.1:5000 "$both"
# The tables: both sides in SYN_RECV at one moment, both in CLOSING at another.
for st in SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1 CLOSING TIME_WAIT; do
    for s in A B; do
        grep -qE "^  $s  tcp .* $st( |$)" "$f" || ts_fail "no table shows $s in $st"
    done
done
# TIME_WAIT lasts 2*MSL (MSL 1 s) on the virtual clock.
t1=$(tour_time "$TS_TMP/a.log" 10.0.0.1:5000 10.0.0.2:6000 CLOSING TIME_WAIT)
t2=$(tour_time "$TS_TMP/a.log" 10.0.0.1:5000 10.0.0.2:6000 TIME_WAIT CLOSE)
awk -v a="$t1" -v b="$t2" 'BEGIN { d = b - a - 2; exit !(d < 1e-6 && d > -1e-6) }' || ts_fail "A's TIME_WAIT lasted from $t1 to $t2"
# Deterministic: the program prints the same thing every time.
"$TS_BIN/tapstack-two-stacks" --latency 20 --msl 1 >"$TS_TMP/again.txt" || ts_fail "a second run failed"
diff -q <(grep -v '^$' "$f") <(grep -v '^$' "$TS_TMP/again.txt") >/dev/null ||
    ts_fail "two runs of tapstack-two-stacks differ: $(diff "$f" "$TS_TMP/again.txt" | head -n 5)"
ts_pass
