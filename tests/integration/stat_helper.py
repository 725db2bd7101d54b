#!/usr/bin/env python3
"""Host-side helpers of test_stat.sh.

hold HOST PORT OUTFILE
    Opens four connections to tapstack-httpd and holds the stack's ends in known states:
      est   a keep-alive request answered, then idle           -> ESTABLISHED
      cw    a 1 GB download, our side shut, nothing read       -> CLOSE_WAIT (its app is stuck
                                                                  sending: it has not closed)
      fw2   "Connection: close" answered; we keep our side open -> FIN_WAIT2
      tw    "Connection: close" answered; we close              -> TIME_WAIT
    Writes "NAME LOCALPORT" lines to OUTFILE, then "ready", and sleeps until killed.

abuse PATH STARTED STOP
    Misbehaving control clients: a never-reading client, then rounds of garbage, clients that
    leave mid-request and 100 clients at once (each must get an "ok" answer), until the file STOP
    exists; creates STARTED after the first round. Prints one summary line; exit status 0 when
    every round's 100 were all answered. Keeps the never-reading client connected for
    NEVER_READ_S seconds so that the server has to drop it.
"""
import os
import socket
import sys
import time

NEVER_READ_S = 14


def http_conn(host, port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, port))
    return s


def read_response(s):
    """Read one response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            raise RuntimeError("connection closed before the head")
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        d = s.recv(4096)
        if not d:
            raise RuntimeError("connection closed inside the body")
        body += d


def hold(host, port, out):
    conns = {}
    est = http_conn(host, port)
    est.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n")
    read_response(est)
    conns["est"] = est

    cw = http_conn(host, port, rcvbuf=4096)
    cw.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: x\r\n\r\n")
    cw.shutdown(socket.SHUT_WR)
    conns["cw"] = cw

    for name in ("fw2", "tw"):
        s = http_conn(host, port)
        s.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):  # until the server's FIN
            pass
        conns[name] = s
    ports = {name: s.getsockname()[1] for name, s in conns.items()}
    # Our ACK of the server's FIN goes out alone (delayed ACK, 40 ms) before our own FIN, so the
    # stack's end passes FIN_WAIT2 on its way to TIME_WAIT (a FIN riding on that ACK would take
    # it from FIN_WAIT1 straight to TIME_WAIT).
    time.sleep(0.5)
    conns["tw"].close()

    with open(out + ".tmp", "w") as f:
        for name, p in ports.items():
            f.write("%s %d\n" % (name, p))
        f.write("ready\n")
    os.rename(out + ".tmp", out)
    time.sleep(600)


def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def answer(s):
    """One control answer: ("ok", body) or ("error", text)."""
    f = s.makefile("rb")
    line = f.readline().decode()
    if line.startswith("ok "):
        n = int(line[3:])
        return "ok", f.read(n)
    return "error", line


def one_round(path):
    """Garbage, clients that leave mid-request, then 100 at once; returns how many of the 100
    got an "ok" answer."""
    for junk in (os.urandom(3000), os.urandom(500) + b"\n", b"x" * 5000):
        s = unix(path)
        try:
            s.sendall(junk)
            s.recv(4096)
        except OSError:
            pass
        s.close()
    for i in range(30):
        s = unix(path)
        s.sendall(b"sock" if i % 2 else b"sockets all info\n")
        s.close()
    many = [unix(path) for _ in range(100)]  # all connected first, then all ask, then all read
    for s in many:
        s.sendall(b"sockets all info\n")
    ok = 0
    for s in many:
        kind, _ = answer(s)
        ok += kind == "ok"
        s.close()
    return ok


def abuse(path, started, stop):
    # The never-reading client: thousands of requests, not one answer read.
    t0 = time.time()
    slow = unix(path)
    slow.setblocking(False)
    sent = 0
    try:
        for _ in range(200):
            sent += slow.send(b"help\n" * 1000)
    except BlockingIOError:
        pass
    rounds = bad = 0
    while True:
        ok = one_round(path)
        rounds += 1
        bad += ok != 100
        if rounds == 1:
            open(started, "w").close()
        if os.path.exists(stop):
            break
    print("abuse: a never-reader (%d bytes of requests sent), then %d rounds of garbage x3, 30 "
          "clients leaving mid-request and 100 at once; rounds with fewer than 100 answered: %d"
          % (sent, rounds, bad))
    sys.stdout.flush()
    time.sleep(max(0, t0 + NEVER_READ_S - time.time()))  # until the server has dropped it
    slow.close()
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "abuse":
        sys.exit(abuse(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit("usage: stat_helper.py hold HOST PORT OUT | abuse PATH STARTED STOP")
