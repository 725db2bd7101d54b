# shellcheck shell=bash
# Step 5: tapstack connects out to a listener on the host. tapstack CLOSE -> SYN_SENT ->
# ESTABLISHED; the host LISTEN, SYN-RECV, ESTAB.
step_5() {
    heading "5. tapstack connects out: SYN_SENT, then ESTABLISHED"
    para "Now the host listens (nc on port 7000) and tapstack is the client. tapstack holds back
the frames it receives for 0.6 s (--delay-in 600), so the host's SYN-ACK is late and its SYN_SENT
can be seen."
    start_stack --delay-in 600
    printf '  %shost$%s nc -l 10.0.0.1 7000 &\n' "$C" "$N"
    nc -l 10.0.0.1 7000 >"$TOUR_STEP_DIR/nc.out" </dev/null &
    local nc_pid=$!
    TOUR_PIDS+=("$nc_pid")
    wait_host LISTEN
    sock_send "connect 10.0.0.1 7000"
    wait_trace 'CLOSE -> SYN_SENT \(app connect\)'
    wait_host SYN-RECV
    show syn-sent
    explain SYN_SENT tapstack
    note "The host's listener answered the SYN with its SYN-ACK: the half-open connection is
SYN-RECV on the host (Linux keeps it as a small request entry until the ACK comes)."
    pause 1.5
    sock_result
    wait_trace 'SYN_SENT -> ESTABLISHED \(rcvd SYN-ACK\)'
    wait_host ESTAB
    show established
    note "A client goes CLOSE -> SYN_SENT -> ESTABLISHED: it never passes through LISTEN."
    sock 'send hello from tapstack\n'
    pause 1.5
    printf '  %shost$%s # what nc printed: %s\n' "$C" "$N" "$(cat "$TOUR_STEP_DIR/nc.out")"
    sock "close"
    wait "$nc_pid" || true
    wait_trace 'TIME_WAIT' 10
    new_trace
    stop_stack
}
