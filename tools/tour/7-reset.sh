# shellcheck shell=bash
# Step 7: resets. A connection to a closed port is refused with a RST, both ways; a RST ends an
# ESTABLISHED connection at once (the host closing with unread data, tapstack aborting).
step_7() {
    heading "7. Resets: a closed port refuses, and a connection reset in ESTABLISHED"
    para "A SYN to a port where nobody listens is answered with a RST (reset): the connect fails
with \"connection refused\". First the host's curl to tapstack's port 81, where nothing listens:"
    start_stack
    host curl -sS -m 5 http://10.0.0.2:81/ || true
    stat_counters closed-port
    note "No connection block was made, so there is no trace line: only the counter of segments
to a port with no listener (each answered with a RST) went up."
    para "Then tapstack connects to the host's port 7001, where nothing listens: the host's
kernel answers the SYN with a RST."
    sock "connect 10.0.0.1 7001"
    wait_trace 'SYN_SENT -> CLOSE \(rcvd RST\)'
    new_trace
    para "A RST also ends an established connection at once, with no FIN exchange and no
TIME_WAIT. Linux sends one when a program closes a socket that still has unread data: the data
would be lost, so the peer must learn that the close was not a clean one."
    sock "listen 80"
    sock_send "accept"
    printf '  %shost$%s exec {h}<>/dev/tcp/10.0.0.2/80\n' "$C" "$N"
    local h
    exec {h}<>/dev/tcp/10.0.0.2/80
    sock_result
    sock 'send data the host will never read\n'
    for _ in $(seq 100); do
        ss -tan | grep -qE '^ESTAB +[1-9]' && break
        sleep 0.05
    done
    show unread
    note "The host's Recv-Q holds the bytes its program has not read. It closes the socket:"
    printf '  %shost$%s exec {h}<&-\n' "$C" "$N"
    exec {h}<&-
    wait_trace 'ESTABLISHED -> CLOSE \(rcvd RST\)'
    sock "recv"
    show reset
    para "And the other way: tapstack's application aborts (SO_LINGER with a zero timeout, then
close), which sends a RST instead of a FIN:"
    sock_send "accept"
    exec {h}<>/dev/tcp/10.0.0.2/80
    sock_result
    sock "abort"
    wait_trace 'ESTABLISHED -> CLOSE \(app abort\)'
    local line
    if read -r -t 5 -u "$h" line 2>"$TOUR_STEP_DIR/host-read.err"; then
        die "the host read '$line' instead of a reset"
    fi
    printf '  %shost$%s read <&$h   # %s\n' "$C" "$N" "$(sed 's/^.*: //' "$TOUR_STEP_DIR/host-read.err")"
    exec {h}<&-
    new_trace
    pause 1
    stop_stack
}
