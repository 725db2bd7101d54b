"""Hand-crafted hostile traffic against tapstack, for tests/integration/test_hostile.sh.

Runs inside the test's network namespace (ip netns exec), sends only on tap0 and only to the
stack (10.0.0.2) or to addresses of 10.0.0.0/24 inside that namespace. Each subcommand prints
"name value" lines for the shell to check, says what went wrong on stderr and exits 1 on a
failure it can see itself.

  flood N            N SYNs to port 80: from random ports of 10.0.0.1 and from addresses of
                     10.0.0.0/24 that nobody answers ARP for
  blind              RFC 5961 blind RST/SYN/ACK attacks on a live keep-alive connection
  icmp               RFC 5927 forged ICMP errors against a live connection
  garbage N          malformed TCP, IPv4 fragments, ARP, ICMP and Ethernet frames
"""

import random
import socket
import sys
import time

from scapy.all import (  # noqa: E402  (scapy prints warnings on import otherwise)
    ARP,
    ICMP,
    IP,
    TCP,
    UDP,
    Ether,
    Raw,
    conf,
    get_if_hwaddr,
    raw,
)

IFACE = "tap0"
STACK_IP = "10.0.0.2"
HOST_IP = "10.0.0.1"
STACK_MAC = "02:00:00:00:00:02"
GHOSTS = ["10.0.0.%d" % i for i in (50, 51, 52, 53)]  # nobody answers ARP for these

conf.verb = 0
HOST_MAC = get_if_hwaddr(IFACE)
rng = random.Random(5961)


def say(name, value):
    print("%s %s" % (name, value), flush=True)


def fail(msg):
    print("hostile.py: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


class Wire:
    """A raw socket on tap0: sending prebuilt frames is much faster than sendp()."""

    def __init__(self):
        self.sock = conf.L2socket(iface=IFACE)

    def send(self, frame):
        try:
            self.sock.send(frame if isinstance(frame, (bytes, bytearray)) else raw(frame))
        except OSError:
            pass  # the kernel refuses some malformed frames (e.g. shorter than a header)

    def close(self):
        self.sock.close()


def eth(src_mac=None):
    return Ether(src=src_mac or HOST_MAC, dst=STACK_MAC)


# ---------------------------------------------------------------- SYN flood
def flood(n):
    w = Wire()
    t0 = time.time()
    for i in range(n):
        if i % 4 == 0:
            src, mac = rng.choice(GHOSTS), "02:66:00:00:00:%02x" % (i % 200)
        else:
            src, mac = HOST_IP, HOST_MAC
        f = eth(mac) / IP(src=src, dst=STACK_IP) / TCP(
            sport=rng.randint(1024, 65535),
            dport=80,
            flags="S",
            seq=rng.getrandbits(32),
            options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)],
        )
        w.send(f)
    w.close()
    say("flood_sent", n)
    say("flood_seconds", "%.1f" % (time.time() - t0))


# ---------------------------------------------------------------- a live connection
class Capture:
    """Every frame on tap0, both directions, from a packet socket read without blocking (scapy's
    AsyncSniffer only hands its results over when stopped)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((IFACE, 0))
        try:  # floods would overrun the default buffer (root may exceed rmem_max)
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.setblocking(False)
        self.got = []

    def packets(self):
        while True:
            try:
                self.got.append(Ether(self.sock.recv(65536)))
            except BlockingIOError:
                return self.got

    def close(self):
        self.sock.close()


class Live:
    """A kernel TCP connection to the stack's httpd, with its sequence numbers learnt by
    sniffing the tap (the attacks below are "blind" only in that they do not use them exactly)."""

    def __init__(self):
        self.cap = Capture()
        self.s = socket.create_connection((STACK_IP, 80), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cport = self.s.getsockname()[1]
        if not self.request("/bytes/100", 100):
            fail("the live connection got no first answer")
        time.sleep(0.3)
        self.learn()

    def request(self, path, n):
        """GET path on the kept-alive connection; True when the n-byte body arrives."""
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        buf = b""
        deadline = time.time() + 10
        while time.time() < deadline:
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep and len(body) >= n:
                return head.startswith(b"HTTP/1.1 200")
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            if not d:
                return False
            buf += d
        return False

    def packets(self):
        return [
            p for p in self.cap.packets() if TCP in p and self.cport in (p[TCP].sport, p[TCP].dport)
        ]

    def learn(self):
        """rcv_nxt: the next byte the stack expects; snd_nxt: the next byte it sends."""
        from_host = [p for p in self.packets() if p[TCP].sport == self.cport]
        from_stack = [p for p in self.packets() if p[TCP].sport == 80]
        if not from_host or not from_stack:
            fail("sniffed nothing of the live connection")
        h = from_host[-1][TCP]
        self.rcv_nxt = (h.seq + len(h.payload)) & 0xFFFFFFFF
        st = max(from_stack, key=lambda p: p.time)[TCP]
        self.snd_nxt = (st.seq + len(st.payload) + (1 if st.flags & 0x01 else 0)) & 0xFFFFFFFF
        self.wnd = max(1, from_stack[-1][TCP].window)

    def seg(self, flags, seq, ack, payload=b"", **kw):
        p = eth() / IP(src=HOST_IP, dst=STACK_IP) / TCP(
            sport=self.cport, dport=80, flags=flags, seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF, **kw
        )
        return p / Raw(payload) if payload else p

    def acks_since(self, mark):
        """Pure ACKs the stack sent on this connection after sniffed-packet index mark."""
        return [
            p
            for p in self.packets()[mark:]
            if p[TCP].sport == 80 and p[TCP].flags == 0x10 and len(p[TCP].payload) == 0
        ]

    def mark(self):
        return len(self.packets())

    def alive(self, path="/bytes/2000", n=2000):
        return self.request(path, n)

    def close(self):
        self.cap.close()
        self.s.close()


def blind():
    c = Live()
    w = Wire()
    say("live_port", c.cport)
    exact = (c.snd_nxt, c.rcv_nxt)

    # RFC 5961 3.2: a RST in the window but not at RCV.NXT gets a challenge ACK, no reset.
    m = c.mark()
    for off in (1, 100, 1000, 20000):
        w.send(c.seg("R", c.rcv_nxt + off, 0))
    time.sleep(0.5)
    ch = [p for p in c.acks_since(m) if (p[TCP].seq, p[TCP].ack) == exact]
    say("rst_in_window_challenge_acks", len(ch))
    if len(ch) < 4:
        fail("in-window RSTs got %d challenge ACKs, want 4" % len(ch))

    # RSTs outside the window: silently ignored.
    m = c.mark()
    for off in (-100000, 1 << 30, 3 << 30):
        w.send(c.seg("R", c.rcv_nxt + off, 0))
        w.send(c.seg("RA", c.rcv_nxt + off, c.snd_nxt))
    time.sleep(0.3)
    say("rst_out_of_window_answers", len(c.acks_since(m)))

    # RFC 5961 4.2: any SYN in a synchronized state (in window or not) gets a challenge ACK.
    m = c.mark()
    for off in (0, 77, 1 << 31):
        w.send(c.seg("S", c.rcv_nxt + off, 0))
    w.send(c.seg("SA", c.rcv_nxt, c.snd_nxt))
    time.sleep(0.5)
    ch = [p for p in c.acks_since(m) if (p[TCP].seq, p[TCP].ack) == exact]
    say("syn_challenge_acks", len(ch))
    if len(ch) < 4:
        fail("SYNs on a live connection got %d challenge ACKs, want 4" % len(ch))

    # RFC 5961 5.2: ACKs of data never sent or far too old are dropped (with an ACK back), and
    # data riding on them is not delivered: httpd would answer the smuggled request.
    m = c.mark()
    for off in (1 << 20, 1 << 30, -(1 << 30), -(1 << 31) + 5):
        w.send(c.seg("A", c.rcv_nxt, c.snd_nxt + off))
    smuggled = b"GET /bytes/77777 HTTP/1.1\r\nHost: x\r\n\r\n"
    w.send(c.seg("PA", c.rcv_nxt, c.snd_nxt + (1 << 30), smuggled))
    time.sleep(0.5)
    data = [p for p in c.packets()[m:] if p[TCP].sport == 80 and len(p[TCP].payload) > 0]
    say("bad_ack_data_answers", len(data))
    if data:
        fail("data riding on an ACK far out of window reached httpd (it answered)")
    # The kernel never saw the smuggled bytes; nothing should be queued for us.
    c.s.setblocking(False)
    try:
        junk = c.s.recv(65536)
    except BlockingIOError:
        junk = b""
    c.s.setblocking(True)
    c.s.settimeout(10)
    if junk:
        fail("the live connection received %d unexpected bytes" % len(junk))

    # Hundreds of in-window RSTs at once (a blind attacker sweeping the window).
    for i in range(300):
        w.send(c.seg("R", c.rcv_nxt + 1 + rng.randint(0, 60000), 0))
    time.sleep(0.3)

    ok = c.alive()
    say("live_survived", 1 if ok else 0)
    w.close()
    c.close()
    if not ok:
        fail("the live connection did not survive the blind attacks")


# ---------------------------------------------------------------- forged ICMP errors
def icmp():
    c = Live()
    w = Wire()
    say("live_port", c.cport)

    def err(icmp_type, code, seq, mtu=0):
        quoted = raw(
            IP(src=STACK_IP, dst=HOST_IP, flags="DF")
            / TCP(sport=80, dport=c.cport, seq=seq & 0xFFFFFFFF, ack=c.rcv_nxt, flags="PA")
        )[:28]
        kw = {"nexthopmtu": mtu} if mtu else {}
        return eth() / IP(src=HOST_IP, dst=STACK_IP) / ICMP(type=icmp_type, code=code, **kw) / quoted

    # RFC 5927 4.1: errors quoting a sequence number we do not have in flight are ignored.
    for off in (1000, 1 << 20, -(1 << 20), 1 << 31):
        w.send(err(3, 3, c.snd_nxt + off))  # port unreachable (a hard error)
        w.send(err(3, 2, c.snd_nxt + off))  # protocol unreachable
        w.send(err(3, 4, c.snd_nxt + off, mtu=296))  # fragmentation needed, tiny MTU
    time.sleep(0.3)
    ok = c.alive("/bytes/5000", 5000)
    say("icmp_out_of_window_survived", 1 if ok else 0)
    if not ok:
        fail("the connection did not survive ICMP errors quoting out-of-window sequence numbers")

    # In window (nothing in flight: SND.UNA itself), frag-needed with MTU 1000 lowers the MSS
    # (RFC 1191) but keeps the connection; datagrams, TCP options included, fit in 1000 bytes.
    c.learn()
    w.send(err(3, 4, c.snd_nxt, mtu=1000))
    time.sleep(0.3)
    m = c.mark()
    ok = c.alive("/bytes/30000", 30000)
    time.sleep(0.2)
    big = max_datagram(c, m)
    say("icmp_fragneeded_survived", 1 if ok else 0)
    say("largest_datagram_after_fragneeded", big)
    if not ok:
        fail("the connection died after an in-window frag-needed")

    # RFC 5927 7.1: a frag-needed with a tiny MTU (68) cannot shrink the path MTU below 552 (as
    # Linux): full-sized datagrams are then exactly 552 bytes, options included (RFC 6691).
    c.learn()
    w.send(err(3, 4, c.snd_nxt, mtu=68))
    time.sleep(0.3)
    m = c.mark()
    ok = c.alive("/bytes/20000", 20000)
    time.sleep(0.2)
    small = max_datagram(c, m)
    say("largest_datagram_after_tiny_mtu", small)
    if not ok or small != 552:
        fail("after frag-needed with MTU 68: alive %s, largest datagram %d (want 552)" % (ok, small))

    # RFC 5927 7.2: in a synchronized state even port/protocol unreachable quoting SND.UNA is
    # soft: the connection lives on.
    c.learn()
    w.send(err(3, 3, c.snd_nxt))
    w.send(err(3, 2, c.snd_nxt))
    time.sleep(0.3)
    ok = c.alive("/bytes/3000", 3000)
    say("icmp_hard_in_window_survived", 1 if ok else 0)
    w.close()
    c.close()
    if not ok:
        fail("an in-window port unreachable killed an established connection")
    if big < 900 or big > 1000:
        fail("after frag-needed (MTU 1000) the largest datagram was %d bytes, want 900..1000" % big)


def max_datagram(c, mark):
    return max([p[IP].len for p in c.packets()[mark:] if p[TCP].sport == 80] or [0])


# ---------------------------------------------------------------- raw connections
PATTERN = bytes(range(251))


def pattern_ok(body, n):
    want = (PATTERN * (n // 251 + 1))[:n]
    return body == want


class RawConn:
    """A TCP connection whose client side is scapy (the caller makes the kernel drop its own RSTs
    for these ports), so every segment can be bent: SACK blocks, urgent pointers, overlaps."""

    def __init__(self, w, sport):
        self.w, self.sport = w, sport
        self.cap = Capture()
        self.seen = 0
        self.iss = rng.getrandbits(32)
        self.tsval = 1000
        self.ts_recent = 0
        self.tx(
            "S",
            self.iss,
            0,
            opts=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (self.tsval, 0)), ("NOP", None), ("WScale", 7)],
            ts=False,
        )
        sa = self.wait(lambda t: t.flags & 0x12 == 0x12, 3)
        if sa is None:
            fail("raw connection from port %d: no SYN-ACK" % sport)
        self.snd_nxt = (self.iss + 1) & 0xFFFFFFFF
        self.rcv_nxt = (sa.seq + 1) & 0xFFFFFFFF
        self.note_ts(sa)
        self.tx("A", self.snd_nxt, self.rcv_nxt)

    def note_ts(self, t):
        for o in t.options:
            if o[0] == "Timestamp":
                self.ts_recent = o[1][0]

    def tx(self, flags, seq, ack, payload=b"", opts=None, ts=True, **kw):
        o = list(opts or [])
        if ts:
            self.tsval += 1
            o = [("NOP", None), ("NOP", None), ("Timestamp", (self.tsval, self.ts_recent))] + o
        p = eth() / IP(src=HOST_IP, dst=STACK_IP) / TCP(
            sport=self.sport,
            dport=80,
            flags=flags,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            window=kw.pop("window", 65535),
            options=o,
            **kw,
        )
        self.w.send(p / Raw(payload) if payload else p)

    def segs(self):
        out = []
        for p in self.cap.packets()[self.seen :]:
            if TCP in p and p[IP].src == STACK_IP and p[TCP].dport == self.sport:
                out.append(p[TCP])
        self.seen = len(self.cap.got)
        return out

    def wait(self, pred, secs):
        end = time.time() + secs
        while time.time() < end:
            for t in self.segs():
                if pred(t):
                    return t
            time.sleep(0.01)
        return None

    def request(self, path, flags="PA", **kw):
        data = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
        self.tx(flags, self.snd_nxt, self.rcv_nxt, data, **kw)
        self.snd_nxt = (self.snd_nxt + len(data)) & 0xFFFFFFFF
        return data

    def receive(self, n, secs=10, sack_garbage=False):
        """Read an HTTP answer with an n-byte body, ACKing in order (the stack's data beyond a
        hole waits for its retransmission). With sack_garbage, every ACK carries a SACK block
        that is nonsense: below SND.UNA, beyond SND.NXT, reversed, or 2 GiB away."""
        buf = b""
        ooo = {}
        end = time.time() + secs
        k = 0
        while time.time() < end:
            got = False
            for t in self.segs():
                self.note_ts(t)
                pl = bytes(t.payload)
                if t.flags & 0x04:
                    fail("raw connection reset by the stack while reading")
                if pl:
                    ooo[t.seq] = pl
                    got = True
            while self.rcv_nxt in ooo:
                pl = ooo.pop(self.rcv_nxt)
                buf += pl
                self.rcv_nxt = (self.rcv_nxt + len(pl)) & 0xFFFFFFFF
            if got:
                k += 1
                opts = []
                if sack_garbage:
                    a = self.rcv_nxt
                    left, right = [
                        (a - 200000, a - 100000),
                        (a + 10**8, a + 10**8 + 1460),
                        (a + 2920, a + 1460),
                        (a + (1 << 31), a + (1 << 31) + 100),
                        (a - 1, a + 5000000),
                        (a, a),
                    ][k % 6]
                    opts = [("SAck", (left & 0xFFFFFFFF, right & 0xFFFFFFFF))]
                self.tx("A", self.snd_nxt, self.rcv_nxt, opts=opts)
                if sack_garbage and k % 5 == 0:  # and duplicate ACKs with them
                    for _ in range(3):
                        self.tx("A", self.snd_nxt, self.rcv_nxt, opts=opts)
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep and len(body) >= n:
                return head, body
            if not got:
                time.sleep(0.005)
        return buf.partition(b"\r\n\r\n")[0], None

    def close(self):
        self.tx("R", self.snd_nxt, 0, ts=False)
        self.cap.close()


def raw_attacks():
    w = Wire()
    # 1. A download whose ACKs carry nonsense SACK blocks and duplicate ACKs: the scoreboard must
    #    not believe them (RFC 2018 / RFC 6675: blocks are only taken inside [SND.UNA, SND.NXT]).
    c = RawConn(w, 40001)
    n = 300000
    c.request("/bytes/%d" % n)
    head, body = c.receive(n, secs=20, sack_garbage=True)
    ok = body is not None and pattern_ok(body[:n], n)
    say("raw_sack_garbage_download_ok", 1 if ok else 0)
    if not ok:
        fail("download with nonsense SACK blocks: got %s bytes, head %r" % (None if body is None else len(body), head[:40]))

    # 2. Urgent pointer far beyond the data, and URG with pointer 0: the data is ordinary data
    #    (RFC 9293 3.8.5, RFC 6093: no out-of-band byte is taken out of the stream).
    for urp in (0xFFFF, 0, 1):
        c.request("/bytes/17", flags="PAU", urgptr=urp)
        head, body = c.receive(17)
        if body is None or not pattern_ok(body[:17], 17):
            fail("a request with URG and urgent pointer %d was not answered right" % urp)
    say("raw_urgent_ok", 1)

    # 3. Overlapping segments with different data. In order: the first copy stays (later bytes
    #    that overlap data already taken are trimmed, RFC 9293 3.10.7.4). Out of order: whatever
    #    the stack keeps, the stream must be one of the two and the request answered.
    s0 = c.snd_nxt
    a = b"GET /bytes/12 HT"
    b = b"XXXX/bytes/13 HTTP/1.1\r\nHost: x\r\n\r\n"
    c.tx("PA", s0, c.rcv_nxt, a)
    c.tx("PA", s0, c.rcv_nxt, b)  # overlaps all of a, and goes on
    c.snd_nxt = (s0 + len(b)) & 0xFFFFFFFF
    head, body = c.receive(12)
    if body is None or len(body) != 12 or not pattern_ok(body, 12):
        fail("overlap in order: want the first copy kept (12 bytes), got %r" % (body,))
    s0 = c.snd_nxt
    c.tx("PA", (s0 + 4), c.rcv_nxt, b"/bytes/14 HTTP/1.1\r\nHost: x\r\n\r\n")  # ahead of a hole
    c.tx("PA", s0, c.rcv_nxt, b"GET /bytes/15 HTTP/1.1\r\nHo")  # fills it, overlapping with other data
    c.snd_nxt = (s0 + 4 + len(b"/bytes/14 HTTP/1.1\r\nHost: x\r\n\r\n")) & 0xFFFFFFFF
    head, body = c.receive(14, secs=3)
    if body is None:
        head, body = c.receive(15, secs=3)
    if body is None or not pattern_ok(body, len(body)) or len(body) not in (14, 15):
        fail("overlap out of order: answer %r" % (body,))
    say("raw_overlap_ok", 1)

    # 4. Out-of-order flood: 1-byte segments with a hole before each, all inside the window and
    #    never completed. The queue must stay bounded and in-order data keep flowing.
    s0 = c.snd_nxt
    for i in range(3000):
        c.tx("A", s0 + 2 + 2 * i, c.rcv_nxt, b"Z", ts=(i % 2 == 0))
    time.sleep(0.3)
    say("raw_ooo_flood_sent", 3000)
    c.close()

    # 5. A fresh connection still downloads after all that.
    c = RawConn(w, 40002)
    c.request("/bytes/5000")
    head, body = c.receive(5000)
    c.close()
    if body is None or not pattern_ok(body[:5000], 5000):
        fail("a fresh raw connection did not get its answer after the attacks")
    say("raw_after_ok", 1)
    w.close()


def conn_flood(n):
    """n complete handshakes that then say nothing (an attacker with a real address): they take
    accept-queue places and httpd threads; the stack must hold them within its bounds."""
    w = Wire()
    cap = Capture()
    iss = {}
    for i in range(n):
        sp = 41000 + i
        iss[sp] = rng.getrandbits(32)
        w.send(eth() / IP(src=HOST_IP, dst=STACK_IP) / TCP(sport=sp, dport=80, flags="S", seq=iss[sp],
                                                           options=[("MSS", 1460)]))
    done = set()
    end = time.time() + 5
    while time.time() < end and len(done) < n:
        for p in cap.packets():
            if TCP not in p or p[IP].src != STACK_IP:
                continue
            t = p[TCP]
            if t.flags & 0x12 == 0x12 and t.dport in iss and t.dport not in done:
                done.add(t.dport)
                w.send(eth() / IP(src=HOST_IP, dst=STACK_IP) / TCP(sport=t.dport, dport=80, flags="A",
                                                                   seq=iss[t.dport] + 1, ack=t.seq + 1))
        cap.got = [p for p in cap.got if TCP in p and p[IP].src == STACK_IP and p[TCP].dport not in done]
        time.sleep(0.05)
    cap.close()
    w.close()
    say("conn_flood_established", len(done))


# ---------------------------------------------------------------- garbage
def garbage(n):
    w = Wire()
    ip = IP(src=HOST_IP, dst=STACK_IP)
    sent = 0

    def tx(f):
        nonlocal sent
        w.send(f)
        sent += 1

    # TCP with random flags, options, data offsets, urgent pointers and lengths, to the listener
    # and to closed ports, with correct checksums (so they reach the TCP code) and without.
    for i in range(n):
        opts = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 4, 8, 12, 20, 40))))
        t = TCP(
            sport=rng.randint(1, 65535),
            dport=rng.choice((80, 80, 81, 0, rng.randint(1, 65535))),
            seq=rng.getrandbits(32),
            ack=rng.getrandbits(32),
            flags=rng.getrandbits(8),
            window=rng.getrandbits(16),
            urgptr=rng.getrandbits(16),
        )
        payload = bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 10, 600))))
        seg = bytearray(raw(t / Raw(opts + payload)) if (opts or payload) else raw(t))
        # data offset: sometimes the truth (options included), sometimes a lie either way
        doff = rng.choice((5 + len(opts) // 4, rng.randint(0, 15)))
        seg[12] = (doff << 4) | (seg[12] & 0x0F)
        pkt = ip / Raw(bytes(seg))
        pkt[IP].proto = 6
        frame = bytearray(raw(eth() / pkt))
        if i % 2 == 0:  # a correct checksum over the lying header
            fix_tcp_csum(frame)
        if i % 7 == 0:  # IP total length shorter or longer than the frame
            tl = rng.choice((0, 19, 21, 39, 40, 1500, 65535))
            frame[16:18] = tl.to_bytes(2, "big")
            fix_ip_csum(frame)
        tx(bytes(frame))

    # The same kinds, deterministically: closed port, impossible flag sets, lying data offsets.
    for i in range(10):
        sp = 20000 + i
        tx(eth() / ip / TCP(sport=sp, dport=81, flags="S"))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="SF"))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags=0))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="SR"))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="S", dataofs=15))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="S", dataofs=3))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="S", chksum=0xBEEF))
        tx(eth() / ip / TCP(sport=sp, dport=80, flags="S", options=[(2, b"\x05")]))

    # IPv4 fragments: overlapping with different data, duplicated, never completed, past 64 KiB.
    for k in range(max(8, n // 20)):
        fid = 1000 + k
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid, flags="MF", frag=0, proto=1) / Raw(b"A" * 64))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid, flags="MF", frag=4, proto=1) / Raw(b"B" * 64))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid, flags="MF", frag=4, proto=1) / Raw(b"B" * 64))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid, flags="MF", frag=6, proto=1) / Raw(b"C" * 64))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid + 50000, flags="MF", frag=8191, proto=17) / Raw(b"D" * 64))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, id=fid + 60000, flags="MF", frag=3, proto=6) / Raw(b"E" * 13))
    # Many never-completing datagrams: the reassembly bound must hold.
    for k in range(max(20, n // 4)):
        tx(eth() / IP(src=rng.choice([HOST_IP] + GHOSTS), dst=STACK_IP, id=rng.getrandbits(16), flags="MF",
                      frag=rng.randint(0, 8000), proto=17) / Raw(b"F" * 1400))

    # ARP: broadcast or multicast sender MAC, our own IP as sender (a conflict), our MAC, opcodes
    # that do not exist, truncated.
    bc = "ff:ff:ff:ff:ff:ff"
    for i in range(20):
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(op=1, hwsrc=bc, psrc="10.0.0.60", pdst=STACK_IP))
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(op=2, hwsrc="01:00:5e:00:00:01", psrc=HOST_IP, pdst=STACK_IP))
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(op=1, hwsrc=HOST_MAC, psrc=STACK_IP, pdst=STACK_IP))
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(op=2, hwsrc=STACK_MAC, psrc="10.0.0.61", pdst=STACK_IP))
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(op=rng.randint(3, 65535), psrc="10.0.0.62", pdst=STACK_IP))
        tx(Ether(src=HOST_MAC, dst=bc, type=0x0806) / Raw(raw(ARP(pdst=STACK_IP))[: rng.randint(0, 27)]))
        tx(Ether(src=HOST_MAC, dst=bc) / ARP(hwlen=rng.randint(0, 255), plen=rng.choice((0, 2, 16)), pdst=STACK_IP))

    # ICMP with bad checksums (echo and errors), truncated, unknown types, to broadcast.
    for i in range(50):
        tx(eth() / ip / ICMP(type=8, chksum=rng.getrandbits(16) | 1) / Raw(b"bad" * 10))
        tx(eth() / ip / ICMP(type=3, code=3, chksum=0x1234) / Raw(raw(IP(src=STACK_IP, dst=HOST_IP) / UDP())))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, proto=1) / Raw(bytes([8, 0])))
        tx(eth() / ip / ICMP(type=rng.randint(0, 255), code=rng.randint(0, 255)) / Raw(b"x" * rng.randint(0, 40)))
        tx(eth() / IP(src=HOST_IP, dst="10.0.0.255") / ICMP(type=8) / Raw(b"smurf"))
        # errors quoting garbage: too short, a header length of 0, an unknown protocol
        q = bytearray(raw(IP(src=STACK_IP, dst=HOST_IP, proto=6) / TCP(sport=80, dport=1)))[:rng.randint(0, 28)]
        if len(q) > 0:
            q[0] = rng.choice((0x45, 0x40, 0x4F, 0x65))
        tx(eth() / ip / ICMP(type=3, code=rng.randint(0, 15)) / Raw(bytes(q)))
    # IPv4 options that lie: a length of 0 or 1 (a naive parser loops for ever), a length past
    # the header, a record-route pointer past its option; plus well-formed NOP/EOL padding.
    for opt in (b"\x07\x00\x00\x00", b"\x83\x01\x00\x00", b"\x44\x28\x05\x00",
                b"\x07\x07\xff\x00\x00\x00\x00\x00", b"\x01\x01\x01\x00"):
        for _ in range(3):
            tx(eth() / IP(src=HOST_IP, dst=STACK_IP, options=[]) / ICMP() / Raw(b"opt"))
            f = bytearray(raw(eth() / IP(src=HOST_IP, dst=STACK_IP) / ICMP() / Raw(b"opt")))
            ihl = 5 + len(opt) // 4
            f = f[:34] + bytearray(opt) + f[34:]
            f[14] = 0x40 | ihl
            f[16:18] = (len(f) - 14).to_bytes(2, "big")
            fix_ip_csum(f)
            tx(bytes(f))

    # UDP: to closed ports faster than the ICMP error budget, with bad checksums and lengths;
    # TCP to the subnet's broadcast address.
    burst = [raw(eth() / ip / UDP(sport=5000 + i, dport=9000 + i) / Raw(b"udp")) for i in range(300)]
    for f in burst:  # prebuilt: sent faster than 1000 per second
        tx(f)
    for i in range(10):
        tx(eth() / ip / UDP(sport=1, dport=7, chksum=0xDEAD) / Raw(b"bad csum"))
        tx(eth() / ip / UDP(sport=1, dport=7, len=rng.choice((0, 7, 200))) / Raw(b"bad len"))
        tx(eth() / IP(src=HOST_IP, dst="10.0.0.255") / TCP(sport=1000 + i, dport=80, flags="S"))

    # IP headers that lie: version, header length, bad checksum, our own or broadcast source.
    for i in range(50):
        f = bytearray(raw(eth() / ip / UDP(sport=1, dport=7) / Raw(b"u" * 8)))
        which = i % 5
        if which == 0:
            f[14] = (rng.choice((0, 6, 15)) << 4) | 5
        elif which == 1:
            f[14] = 0x40 | rng.choice((0, 1, 4, 15))
        elif which == 2:
            f[24] ^= 0xFF
        elif which == 3:
            f[26:30] = socket.inet_aton(STACK_IP)
            fix_ip_csum(f)
        else:
            f[26:30] = socket.inet_aton("10.0.0.255")
            fix_ip_csum(f)
        tx(bytes(f))

    # Ethernet: short frames (the kernel refuses to send less than a header on a tap, so the
    # stack's ETH_DROP_TRUNCATED path is left to the unit tests and fuzzers), frames for other MACs,
    # from broadcast sources, unknown EtherTypes, and frames beyond the MTU (the tap's MTU was
    # raised by the caller for these).
    for ln in (0, 1, 6, 13, 14, 15, 20, 33, 34):
        tx(raw(eth() / ip / Raw(b"z" * 30))[:ln])
    for i in range(20):
        tx(Ether(src=HOST_MAC, dst="02:00:00:00:00:99") / ip / ICMP())
        tx(Ether(src="ff:ff:ff:ff:ff:ff", dst=STACK_MAC) / ip / ICMP())
        tx(Ether(src=HOST_MAC, dst=STACK_MAC, type=rng.choice((0x86DD, 0x8100, 0x88CC, 0x1234))) / Raw(b"q" * 50))
    for ln in (1515, 1600, 4000, 9000):
        tx(eth() / ip / ICMP() / Raw(b"o" * (ln - 14 - 28)))
        tx(eth() / IP(src=HOST_IP, dst=STACK_IP, len=ln - 14) / TCP(dport=80, flags="S") / Raw(b"o" * (ln - 54)))
    w.close()
    say("garbage_sent", sent)


def fix_ip_csum(f):
    f[24:26] = b"\0\0"
    ihl = (f[14] & 0x0F) * 4 or 20
    f[24:26] = csum(bytes(f[14 : 14 + ihl])).to_bytes(2, "big")


def fix_tcp_csum(f):
    ihl = (f[14] & 0x0F) * 4
    tcp = bytearray(f[14 + ihl :])
    tcp[16:18] = b"\0\0"
    pseudo = bytes(f[26:34]) + bytes([0, 6]) + len(tcp).to_bytes(2, "big")
    f[14 + ihl + 16 : 14 + ihl + 18] = csum(pseudo + bytes(tcp)).to_bytes(2, "big")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "flood":
        flood(int(sys.argv[2]))
    elif cmd == "blind":
        blind()
    elif cmd == "icmp":
        icmp()
    elif cmd == "connflood":
        conn_flood(int(sys.argv[2]))
    elif cmd == "raw":
        raw_attacks()
    elif cmd == "garbage":
        garbage(int(sys.argv[2]))
    else:
        fail("unknown command " + cmd)
