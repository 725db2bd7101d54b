#!/usr/bin/env bash
# The foundation end to end: the host pings the stack over a real tap (small and 8000-byte,
# fragmented, echoes; with -R the reply's Record Route holds our address), sees its ARP entry, the --pcap file shows the ARP exchange and the echo
# frames, and malformed frames sent into the tap are dropped (and counted) without harm.
. "$(dirname "$0")/lib.sh"

ts_ns_setup
pcap=$TS_TMP/ping.pcap
ts_start_app "$TS_BIN/tapstack-echo-server" --tap "$TS_TAP" --pcap "$pcap" --stats

# Every reply, small and large (8000 bytes of data: six fragments each way at MTU 1500).
out=$(ts_ns_exec ping -c 3 -i 0.2 -W 2 "$TS_STACK_IP" 2>&1) || ts_fail "ping -c 3 failed: $out"
grep -q " 0% packet loss" <<<"$out" || ts_fail "ping -c 3 lost replies: $out"
out=$(ts_ns_exec ping -c 3 -i 0.2 -W 2 -s 8000 "$TS_STACK_IP" 2>&1) ||
    ts_fail "ping -s 8000 failed: $out"
grep -q " 0% packet loss" <<<"$out" || ts_fail "ping -s 8000 lost replies: $out"
grep -q "8008 bytes from $TS_STACK_IP" <<<"$out" || ts_fail "no full-size 8000-byte echo: $out"

# RFC 1122 3.2.2.6: ping -R (Record Route) gets its option back with our address in the list.
out=$(ts_ns_exec ping -c 1 -W 2 -R "$TS_STACK_IP" 2>&1) || ts_fail "ping -R failed: $out"
rr=$(sed -n '/^RR:/,/^$/p' <<<"$out")
[[ -n $rr ]] || ts_fail "ping -R: the reply carried no Record Route: $out"
grep -qF "$TS_STACK_IP" <<<"$rr" || ts_fail "ping -R: our address is not recorded: $out"

# The host learnt our MAC through ARP.
neigh=$(ts_ns_exec ip neigh show "$TS_STACK_IP" dev "$TS_TAP")
grep -qi "lladdr $TS_STACK_MAC" <<<"$neigh" || ts_fail "ip neigh has no entry with our MAC: '$neigh'"

# Malformed frames into the tap. The stack must drop them, stay up and keep answering.
py=$(ts_scapy_python) || ts_skip "python3 with scapy is not installed (apt-get install python3-scapy)"
hostmac=$(ts_ns_exec cat "/sys/class/net/$TS_TAP/address")
rss_before=$(ts_rss_kb "$TS_APP_PID")
ts_ns_exec "$py" - "$TS_TAP" "$hostmac" "$TS_STACK_MAC" "$TS_HOST_IP" "$TS_STACK_IP" <<'EOF' ||
import sys
from scapy.all import Ether, IP, ICMP, ARP, Raw, sendp, conf
conf.verb = 0
iface, hmac, smac, hip, sip = sys.argv[1:6]
eth = Ether(src=hmac, dst=smac, type=0x0800)
echo = ICMP(type=8, id=0x4242, seq=1)
frames = []
# A runt frame (shorter than an Ethernet header: the kernel may refuse to pass it on) and a
# truncated ARP packet.
frames.append(bytes(eth)[:10])
frames.append(bytes(Ether(src=hmac, dst=smac) / ARP(op=1, hwsrc=hmac, psrc=hip, pdst=sip))[:30])
# IPv4: truncated header, bad version, header length past the datagram, total length past the
# frame, total length shorter than the header, bad header checksum.
good = bytes(IP(src=hip, dst=sip) / echo / Raw(b"x" * 32))
frames.append(bytes(eth) + good[:12])
frames.append(bytes(eth) + bytes([0x65]) + good[1:])
frames.append(bytes(eth / IP(src=hip, dst=sip, ihl=15) / echo))
frames.append(bytes(eth / IP(src=hip, dst=sip, len=1400) / echo))
frames.append(bytes(eth / IP(src=hip, dst=sip, len=12) / echo))
frames.append(bytes(eth / IP(src=hip, dst=sip, chksum=0x1234) / echo))
# ICMP with a bad checksum, and a truncated ICMP header.
frames.append(bytes(eth / IP(src=hip, dst=sip) / ICMP(type=8, chksum=0x4321) / Raw(b"y" * 8)))
frames.append(bytes(eth / IP(src=hip, dst=sip, proto=1) / Raw(b"\x08\x00")))
# Overlapping fragments of one datagram with different data in the overlap (RFC 5722-style
# attack), then a fragment whose offset + length passes 65535.
payload = bytes(echo / Raw(b"A" * 64))
frames.append(bytes(eth / IP(src=hip, dst=sip, id=777, flags="MF", frag=0, proto=1) / Raw(payload[:48])))
frames.append(bytes(eth / IP(src=hip, dst=sip, id=777, flags="MF", frag=4, proto=1) / Raw(b"B" * 40)))
frames.append(bytes(eth / IP(src=hip, dst=sip, id=777, frag=6, proto=1) / Raw(b"C" * 24)))
frames.append(bytes(eth / IP(src=hip, dst=sip, id=778, frag=8190, proto=1) / Raw(b"D" * 64)))
# Fragments that never complete: first fragments only, many datagram ids.
for i in range(300):
    frames.append(bytes(eth / IP(src=hip, dst=sip, id=1000 + i, flags="MF", frag=0, proto=1) / Raw(b"E" * 1400)))
sendp([Raw(f) for f in frames], iface=iface)
EOF
    ts_fail "scapy could not send the malformed frames"

sleep 0.5
kill -0 "$TS_APP_PID" 2>/dev/null || ts_fail "the app died on malformed frames"
out=$(ts_ns_exec ping -c 2 -i 0.2 -W 2 "$TS_STACK_IP" 2>&1) || ts_fail "no ping after malformed frames: $out"
out=$(ts_ns_exec ping -c 1 -W 2 -s 8000 "$TS_STACK_IP" 2>&1) ||
    ts_fail "no 8000-byte ping after malformed frames: $out"
if [[ $TS_SAN != 1 ]]; then
    # 300 incomplete 1.4 kB datagrams: reassembly must stay bounded (ASan's quarantine would
    # make this meaningless in the sanitizer build).
    rss_after=$(ts_rss_kb "$TS_APP_PID")
    ((rss_after - rss_before < 4096)) ||
        ts_fail "memory grew by $((rss_after - rss_before)) KiB after malformed frames"
fi

ts_stop_app
log=$TS_APP_LOG

# The drops were counted with their reasons (the --stats dump at exit).
for c in arp_drop_truncated ip_drop_truncated ip_drop_bad_version ip_drop_bad_hdrlen \
    ip_drop_bad_len ip_drop_bad_csum icmp_drop_bad_csum; do
    grep -qE "^$c +[1-9]" "$log" || ts_fail "counter $c did not count the malformed frame"
done
grep -qE "^ip_reass_drop_(overlap|too_big|bad_frag) +[1-9]" "$log" ||
    ts_fail "no reassembly drop counted for the overlapping/oversize fragments"

# The capture: readable by tcpdump, with the ARP exchange and both echo directions.
command -v tcpdump >/dev/null || ts_skip "tcpdump is not installed"
dump=$(tcpdump -n -e -r "$pcap" 2>&1) || ts_fail "tcpdump -r cannot read the capture: $dump"
grep -q "Request who-has $TS_STACK_IP tell $TS_HOST_IP" <<<"$dump" ||
    ts_fail "capture has no ARP request for $TS_STACK_IP"
grep -q "Reply $TS_STACK_IP is-at $TS_STACK_MAC" <<<"$dump" ||
    ts_fail "capture has no ARP reply from the stack"
grep -q "$TS_HOST_IP > $TS_STACK_IP: ICMP echo request" <<<"$dump" ||
    ts_fail "capture has no echo request"
grep -q "$TS_STACK_IP > $TS_HOST_IP: ICMP echo reply" <<<"$dump" ||
    ts_fail "capture has no echo reply"
grep -q "$TS_STACK_IP > $TS_HOST_IP: ip-proto-1" <<<"$dump" ||
    grep -q "frag" <<<"$dump" || ts_fail "capture has no fragments of the 8000-byte reply"

ts_pass "ping, ping -s 8000, ping -R (our address recorded), ARP entry, pcap, malformed frames"
