# Helpers for the app integration tests (test_tcp_host, test_http, test_echo, test_faults).
# Source after lib.sh:   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/apps_lib.sh"

# SHA-256 of the first N bytes of tapstack-httpd's /bytes pattern (byte i = i mod 251, see
# apps/common/pattern.h): 251*4096 bytes is a whole number of periods, so the stream is that block
# repeated.
ts_pattern_sha256() {
    python3 -c 'import sys,hashlib
n=int(sys.argv[1]); c=bytes(range(251))*4096; h=hashlib.sha256()
for i in range(0, n, len(c)): h.update(c[:min(len(c), n-i)])
print(h.hexdigest())' "$1"
}

ts_sha() { sha256sum "$@" | cut -d' ' -f1; }

# ts_trace_chain LOG LOCAL REMOTE: the states one connection passed through, from the --trace lines
# "T LOCAL > REMOTE FROM -> TO (cause)", as "FROM1 TO1 TO2 ...".
ts_trace_chain() {
    grep -F " $2 > $3 " "$1" | sed -nE 's/.* ([A-Z_0-9]+) -> ([A-Z_0-9]+) \(.*/\1 \2/p' |
        awk 'NR == 1 { printf "%s", $1 } { printf " %s", $2 } END { print "" }'
}

# Number of TCP segments with RST in a capture.
ts_pcap_rsts() {
    tcpdump -n -r "$1" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l
}

# ts_bg CMD... [<IN]: run CMD inside the namespace in the background, killed by the cleanup trap.
# Sets TS_BG_PID.
ts_bg() {
    # <&0: a background command's stdin would otherwise be /dev/null, not the caller's redirection.
    ip netns exec "$TS_NS" "$@" <&0 &
    TS_BG_PID=$!
    TS_PIDS+=("$TS_BG_PID")
}

# ts_host_echo PORT RESULT [CLOSE_DELAY]: a one-connection TCP echo server on the host side
# ($TS_HOST_IP:PORT), in the background. At the peer's FIN it waits CLOSE_DELAY seconds (default 0)
# and closes; before that it writes "BYTES SHA256" of what it received to RESULT. (socat's PIPE echo can
# deadlock on large transfers: it blocks writing a full pipe that only it drains.)
ts_host_echo() {
    ts_bg python3 -c 'import socket, sys, hashlib, time
ip, port, out, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(1)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(262144)
    if not d:
        break
    h.update(d)
    n += len(d)
    c.sendall(d)
open(out, "w").write("%d %s\n" % (n, h.hexdigest()))
time.sleep(delay)
c.close()' "$TS_HOST_IP" "$1" "$2" "${3:-0}"
}

# ts_wait_port PORT [udp]: wait until something on the host side listens on TCP (or UDP) PORT
# (5 s).
ts_wait_port() {
    local i flags=-Htln
    [[ ${2:-} == udp ]] && flags=-Huln
    for i in $(seq 50); do
        ts_ns_exec ss "$flags" "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# ts_app_alive: the app started last is still running.
ts_app_alive() { kill -0 "$TS_APP_PID" 2>/dev/null; }

# Sizes for the big transfers: the sanitizer build is several times slower.
if [[ $TS_SAN == 1 ]]; then
    TS_BIG=$((16 * 1024 * 1024))
    TS_MID=$((8 * 1024 * 1024))
else
    TS_BIG=$((100 * 1024 * 1024))
    TS_MID=$((50 * 1024 * 1024))
fi

# ts_need_bin NAME...: skip (not fail) while an app is not built yet; `make` reports build errors.
ts_need_bin() {
    local b
    for b in "$@"; do
        [[ -x $TS_BIN/$b ]] || ts_skip "$TS_BIN/$b is not built"
    done
}
