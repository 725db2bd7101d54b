# shellcheck shell=bash
# Step 6: two tapstack stacks in one process (tapstack-two-stacks): a simultaneous open
# (SYN_SENT -> SYN_RECV -> ESTABLISHED on both) and a simultaneous close (FIN_WAIT1 -> CLOSING ->
# TIME_WAIT on both).
step_6() {
    heading "6. Both at once: simultaneous open (SYN_SENT -> SYN_RECV) and simultaneous close (CLOSING)"
    para "Two rare paths need the two sides to act at the same instant, so that their SYNs (or
their FINs) cross on the wire. On a real network that is luck. tapstack-two-stacks runs two
tapstack stacks, A and B, in one process, joined by an in-memory link with a 20 ms delay and driven
by a virtual clock: both act at the same virtual instant, so the segments cross every time. It
prints both traces and both connection tables at each moment."
    printf '  %s$%s tapstack-two-stacks --latency 20 --msl 1\n' "$C" "$N"
    local pace
    pace=$(awk -v p="${TOUR_PACE:-1}" 'BEGIN { printf "%.2f", 0.8 * p }')
    "$TOUR_BIN/tapstack-two-stacks" --latency 20 --msl 1 --pace "$pace" |
        tee "$TOUR_STEP_DIR/two-stacks.txt" | sed 's/^/    /'
    [[ ${PIPESTATUS[0]} -eq 0 ]] || die "tapstack-two-stacks failed"
    explain SYN_RECV "A and B, after SYN_SENT"
    para "In a simultaneous open each side is the client: both go CLOSE -> SYN_SENT, and a SYN
arriving in SYN_SENT (instead of a SYN-ACK) moves each to SYN_RECV. Neither passes through LISTEN."
    explain CLOSING "A and B"
    pause 1
}
