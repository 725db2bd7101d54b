# shellcheck shell=bash
# Step 6: two tapstack stacks in one process (tapstack-two-stacks): a simultaneous open
# (SYN_SENT -> SYN_RECV -> ESTABLISHED on both) and a simultaneous close (FIN_WAIT1 -> CLOSING ->
# TIME_WAIT on both). In watch mode (make demo WATCH=1) the same in real time, between two
# tapstack-sock stacks on the namespace's bridge, each serving the live page (step_6_watch).
step_6() {
    if [[ -n ${TOUR_VIZ_PORT:-} ]]; then
        step_6_watch
        return
    fi
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

# show_both LABEL [tapstack-stat flags]: new trace lines and tapstack-stat of A, then of B.
show_both() {
    local label=$1 s
    shift
    for s in a b; do
        use_stack "$s"
        new_trace
        local out
        out=$("$TOUR_BIN/tapstack-stat" --tap "$TOUR_CUR_TAP" "${@:--t}" 2>&1 | not_viewer)
        printf '%s\n' "$out" >"$TOUR_STEP_DIR/stat-$label-$s.txt"
        printf '  %stapstack %s%s  $ tapstack-stat %s\n' "$B" "${s^^}" "$N" "${*:--t}"
        printf '%s\n' "$out" | sed 's/^/    /'
    done
    use_stack a
}

# wait_both REGEX [SECONDS]: until the trace of A and the trace of B both show REGEX.
wait_both() {
    use_stack b
    wait_trace "$@"
    use_stack a
    wait_trace "$@"
}

# Watch mode: in real time, so that a browser can follow. A at 10.0.0.2 (tap TOUR_TAP) and B at
# 10.0.0.3 (tap TOUR_TAP_B), both on the namespace's bridge, both holding back what they send for
# 0.4 s: whatever one sends is still on its way when the other acts, so the SYNs (and then the
# FINs) cross every time. (Not longer: a round trip must stay under the first retransmission
# timeout of 1 s, RFC 6298 2.1, or the SYNs would be sent twice.)
step_6_watch() {
    heading "6. Both at once: simultaneous open (SYN_SENT -> SYN_RECV) and simultaneous close (CLOSING)"
    para "Two rare paths need the two sides to act at the same instant, so that their SYNs (or
their FINs) cross on the wire. On a real network that is luck. Here two tapstack stacks, A
(10.0.0.2) and B (10.0.0.3, on a second tap on the namespace's bridge), each hold back every frame
they send for 0.4 s (--delay-out 400): whatever one sends is still on its way when the other acts,
so the segments cross every time. (Without WATCH=1 this step runs two stacks in one process on a
virtual clock instead.) The page shows A; B serves its own at http://10.0.0.3:${TOUR_VIZ_PORT}/tcp
(a second tab)."
    start_stack --delay-out 400
    use_stack b
    start_stack --ip 10.0.0.3/24 --mac 02:00:00:00:00:03 --delay-out 400
    use_stack a
    para "A connects from its port 5000 to B's port 6000, and B from its port 6000 to A's port
5000, at the same moment:"
    sock_send "connect 10.0.0.3 6000 5000"
    use_stack b
    sock_send "connect 10.0.0.2 5000 6000"
    use_stack a
    wait_both 'SYN_SENT -> SYN_RECV' 15
    show_both syn-recv
    explain SYN_RECV "A and B, after SYN_SENT"
    para "In a simultaneous open each side is the client: both go CLOSE -> SYN_SENT, and a SYN
arriving in SYN_SENT (instead of a SYN-ACK) moves each to SYN_RECV. Neither passes through LISTEN.
Each answers with a SYN-ACK, and each SYN-ACK completes the other's handshake."
    wait_both 'SYN_RECV -> ESTABLISHED' 10
    sock_result
    use_stack b
    sock_result
    use_stack a
    show_both established
    pause 1.5
    para "Now both applications close at the same moment:"
    sock_send "close"
    use_stack b
    sock_send "close"
    use_stack a
    wait_both 'FIN_WAIT1 -> CLOSING' 10
    show_both closing
    explain CLOSING "A and B"
    wait_both 'CLOSING -> TIME_WAIT' 10
    show_both time-wait -a -i
    note "Both closed first, so both wait in TIME_WAIT for 2*MSL (2 s here)."
    wait_both 'TIME_WAIT -> CLOSE' 10
    show_both gone
    use_stack b
    sock_result
    use_stack a
    sock_result
    pause 1
    watch_end
    use_stack b
    stop_stack
    use_stack a
    stop_stack
}
