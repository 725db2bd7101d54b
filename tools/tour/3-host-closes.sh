# shellcheck shell=bash
# Step 3: the host closes first. tapstack ESTABLISHED -> CLOSE_WAIT (held: its application has not
# closed) -> LAST_ACK -> CLOSE; the host FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT.
step_3() {
    heading "3. The host closes first: CLOSE_WAIT and LAST_ACK on tapstack, FIN_WAIT and TIME_WAIT on the host"
    para "curl connects again and sends its request. tapstack answers, but its application does
not close the connection. tapstack holds back the frames it sends for 0.6 s again (--delay-out
600), so the host's FIN-WAIT-1 lasts long enough to see."
    start_stack --delay-out 600
    sock "listen 80"
    sock_send "accept"
    printf '  %shost$%s curl http://10.0.0.2/ &\n' "$C" "$N"
    curl -s -m 15 -o "$TOUR_STEP_DIR/curl.out" http://10.0.0.2/ &
    local curl_pid=$!
    TOUR_PIDS+=("$curl_pid")
    sock_result
    sock "recv"
    sock 'send HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nhello, curl!\r\n'
    para "curl reads the answer and exits: the host's kernel sends its FIN. tapstack tells its
application (end of stream) and acknowledges the FIN after its delayed-ACK timer, 40 ms, as Linux
does: an application that closed at once would have sent its own FIN with the ACK on it, one
segment instead of two. The ACK reaches the host 0.6 s later."
    wait_trace 'ESTABLISHED -> CLOSE_WAIT \(rcvd FIN\)'
    wait_host FIN-WAIT-1
    show fin
    explain FIN_WAIT1 "the host"
    explain CLOSE_WAIT tapstack
    wait_host FIN-WAIT-2
    show close-wait
    explain FIN_WAIT2 "the host"
    para "tapstack stays in CLOSE_WAIT for as long as its application keeps the socket open: here
for a few seconds. On a real server, a pile of connections in CLOSE_WAIT that never goes away is an
application that forgets to close its sockets (often on an error path): the peers are long gone,
each one holds a file descriptor and memory, and only fixing the program (or restarting it) ends
it. TCP cannot close them for the application."
    pause 3
    show still-close-wait
    para "Now the application reads the end of the stream and closes:"
    sock "recv"
    sock "close"
    wait_trace 'CLOSE_WAIT -> LAST_ACK \(app close\)'
    show last-ack
    explain LAST_ACK tapstack
    wait_trace 'LAST_ACK -> CLOSE \(rcvd ACK of FIN\)'
    wait_host TIME-WAIT
    show closed
    explain TIME_WAIT "the host"
    note "The host's TIME-WAIT lasts 60 s (Linux's fixed 2*MSL); tapstack's side is gone, only
its listener is left."
    para "The connection is gone from tapstack's table, but not forgotten: tapstack-stat --history
keeps the last connections that ended, each with its whole path, the time spent in each state and
the causes:"
    stat_history
    wait "$curl_pid" || die "curl failed (exit status $?)"
    pause 1
    stop_stack
}
