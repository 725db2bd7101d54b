#!/usr/bin/env bash
# The reference for tapstack's loss recovery: Linux's own TCP over the same random loss.
#
# Two network namespaces made for this run, joined by a veth pair (10.0.0.1 <-> 10.0.0.2, nothing
# else is reachable from them); each drops a random LOSS fraction of the TCP segments it receives
# (iptables -m statistic, or nft numgen when iptables is missing), so both directions lose as with
# tapstack's `--drop LOSS`. A SIZE-byte download over HTTP (a few lines of python3 as server, curl) is timed,
# and the sender's retransmission figures from `ss -ti` and nstat are printed. Nothing is asserted.
#
#   tests/bench/loss_reference.sh [SIZE_BYTES [LOSS [CC]]]   (root; default 100 MB, 0.05, cubic)
#
# CC is the sender's congestion control (Linux's usual default, cubic; `reno` compares with
# tapstack's default NewReno; the kernel's own default may be something else, e.g. bbr).
#
# Called by nothing in CI; tests/bench/run.sh runs it at the end when root.
#
# Measured on the 2-core CI machine (kernel 6.18, loaded), 100 MB, 5% loss each way:
#   Linux reno 70 s (1.4 MB/s, 213 RTOs), Linux cubic 60 s (1.7 MB/s, 187 RTOs);
#   tapstack-httpd -> curl with --drop 0.05 --seed 1..3: 114 s before the loss-recovery fixes of
#   commit 22e18ce and 1efa3b3/9582a67, 14-18 s after (23-39 RTOs, nearly all a tail loss probe
#   whose probe or answer was lost too after the flight's last ACK was lost).
set -uo pipefail
SIZE=${1:-100000000}
LOSS=${2:-0.05}
CC=${3:-cubic}

[[ $(id -u) -eq 0 ]] || {
    echo "loss_reference: skipped, needs root"
    exit 0
}
for tool in ip curl python3; do
    command -v "$tool" >/dev/null || {
        echo "loss_reference: skipped, no $tool"
        exit 0
    }
done

tag=$$-$RANDOM
NS_S=ts-lossref-s-$tag # the sender (HTTP server)
NS_C=ts-lossref-c-$tag # the receiver (curl)
VETH_S=lrs${tag//-/}
VETH_C=lrc${tag//-/}
VETH_S=${VETH_S:0:15}
VETH_C=${VETH_C:0:15}
TMP=$(mktemp -d /tmp/ts-lossref.XXXXXX)
SRV_PID=

cleanup() {
    if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    fi
    ip netns del "$NS_S" 2>/dev/null
    ip netns del "$NS_C" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$NS_S" || exit 1
ip netns add "$NS_C" || exit 1
# Created inside the sender's namespace, one end moved to the receiver's: never in the host's.
ip -n "$NS_S" link add "$VETH_S" type veth peer name "$VETH_C" || exit 1
ip -n "$NS_S" link set "$VETH_C" netns "$NS_C" || exit 1
ip -n "$NS_S" addr add 10.0.0.2/24 dev "$VETH_S"
ip -n "$NS_C" addr add 10.0.0.1/24 dev "$VETH_C"
for ns in "$NS_S" "$NS_C"; do
    ip -n "$ns" link set lo up
done
# One MSS per packet, as on tapstack's tap: with GSO the filter would see (and drop) 64 KB
# aggregates, a far lower loss rate per segment.
ip -n "$NS_S" link set "$VETH_S" gso_max_segs 1 up
ip -n "$NS_C" link set "$VETH_C" gso_max_segs 1 up
if command -v ethtool >/dev/null; then
    ip netns exec "$NS_S" ethtool -K "$VETH_S" tso off gso off gro off >/dev/null 2>&1
    ip netns exec "$NS_C" ethtool -K "$VETH_C" tso off gso off gro off >/dev/null 2>&1
fi

# Drop LOSS of the TCP segments arriving in namespace $1.
add_loss() {
    local ns=$1
    if command -v iptables >/dev/null &&
        ip netns exec "$ns" iptables -A INPUT -p tcp -m statistic --mode random \
            --probability "$LOSS" -j DROP 2>/dev/null; then
        return 0
    fi
    if command -v nft >/dev/null; then
        local per_mille
        per_mille=$(awk -v p="$LOSS" 'BEGIN { printf "%d", p * 1000 + 0.5 }')
        ip netns exec "$ns" nft -f - <<EOF && return 0
table inet lossref {
    chain input {
        type filter hook input priority 0;
        meta l4proto tcp numgen random mod 1000 < $per_mille drop
    }
}
EOF
    fi
    echo "loss_reference: skipped, neither iptables -m statistic nor nft numgen works here"
    exit 0
}
add_loss "$NS_S"
add_loss "$NS_C"

# A minimal HTTP server: one GET, SIZE bytes of zeros, the socket set to congestion control CC
# (TCP_CONGESTION; the namespace's default cannot be changed here).
cat >"$TMP/srv.py" <<'EOF'
import socket, sys
size, cc = int(sys.argv[1]), sys.argv[2].encode()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
except OSError:
    pass
print(ls.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode(), flush=True)
ls.bind(("10.0.0.2", 8080))
ls.listen(8)
chunk = bytes(65536)
while True:
    c, _ = ls.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d:
            break
        req += d
    n = size if req.startswith(b"GET /blob") else 0
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
    while n > 0:
        k = min(n, len(chunk))
        c.sendall(chunk[:k])
        n -= k
    c.close()
EOF
ip netns exec "$NS_S" python3 "$TMP/srv.py" "$SIZE" "$CC" >"$TMP/server.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 50); do
    ip netns exec "$NS_C" curl -s -o /dev/null --max-time 1 "http://10.0.0.2:8080/" && break
    sleep 0.1
done

ip netns exec "$NS_S" nstat -n >/dev/null 2>&1 # zero the counters of the sender's namespace
# Sample the sender's socket once a second while the download runs (its final state is gone
# with the connection): the last sample shows cwnd, RTO, retransmissions.
(
    while sleep 1; do
        ip netns exec "$NS_S" ss -tinH state established "( sport = :8080 )" 2>/dev/null |
            tr -s ' \n' ' ' >"$TMP/ss.new" && [[ -s $TMP/ss.new ]] && mv "$TMP/ss.new" "$TMP/ss.last"
    done
) &
SAMPLER=$!
t0=$(date +%s.%N)
got=$(ip netns exec "$NS_C" curl -sS --max-time 900 -o /dev/null -w '%{size_download}' \
    "http://10.0.0.2:8080/blob")
t1=$(date +%s.%N)
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
rate=$(awk -v n="$got" -v s="$secs" 'BEGIN { printf "%.2f", n / s / 1e6 }')
CC=$(head -n 1 "$TMP/server.log")
echo "Linux TCP reference ($CC): $got of $SIZE bytes in $secs s ($rate MB/s), ${LOSS} loss each way (veth, $(uname -r))"
[[ -s $TMP/ss.last ]] && echo "  sender socket (last sample):$(grep -oE ' (rto|cwnd|ssthresh|lost):[0-9.]+| rtt:[0-9.]+/[0-9.]+| retrans:[0-9]+/[0-9]+' "$TMP/ss.last" | tr -d '\n')"
ip netns exec "$NS_S" nstat -a 2>/dev/null |
    awk '$1 ~ /^(TcpOutSegs|TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPLossProbes|TcpExtTCPLossProbeRecovery|TcpExtTCPFastRetrans|TcpExtTCPSackRecovery|TcpExtTCPLostRetransmit|TcpExtTCPSpuriousRTOs|TcpExtTCPDelivered)$/ { printf "  %s %s\n", $1, $2 }'
exit 0
