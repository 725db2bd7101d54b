#!/usr/bin/env python3
"""The live TCP page (/tcp) in a real headless Chromium, against tapstack-httpd, run inside the
test's namespace by test_tcpviz.sh. The host opens and closes connections with curl and nc (and
python sockets for many at once); every assertion is read from the page's DOM:

  1. the listener's token sits in LISTEN;
  2. an nc connection (source port P1) appears in ESTABLISHED;
  3. a request with "Connection: close" sent with nc (port P2) makes tapstack close first: its
     token appears in TIME_WAIT; a curl request shows in the transitions list;
  4. the transition counters on the arrows rise (LISTEN->SYN_RECV, SYN_RECV->ESTABLISHED,
     ESTABLISHED->FIN_WAIT1, ... ->TIME_WAIT);
  5. clicking the TIME_WAIT token opens its ladder: SYN in, SYN,ACK out, ACK in, ..., tapstack's
     FIN out, the peer's FIN in, in that order, with the SYN marked as causing SYN_RECV and the
     last FIN as causing TIME_WAIT; a screenshot is saved;
  6. killing nc closes its connection: CLOSE_WAIT, LAST_ACK and CLOSE counters rise, its token
     leaves, and its ladder (an ended connection, chosen from the list) shows the peer's FIN
     before tapstack's;
  7. the page's own connections are marked (★) and the checkbox hides them;
  8. 300 connections at once: ESTABLISHED shows 7 tokens and a "+N" token, and the page says so;
  9. during a 20 GB download (stopped after the checks) the page keeps updating and shows a new
     connection.

usage: tcpviz_browser.py URL ARTIFACT_DIR
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, BrowserError  # noqa: E402

STACK = "10.0.0.2"
P_NC, P_CLOSE, P_CURL, P_BULK = 40001, 40002, 40003, 40004

HELPERS = r"""
window.T = {
  tokens: (st) => [...document.querySelectorAll(`#tokens .token[data-state="${st}"]:not(.agg)`)]
      .map((e) => ({conn: +e.dataset.conn, tuple: e.dataset.tuple, self: e.classList.contains('self')})),
  has: (st, port) => T.tokens(st).some((t) => t.tuple.endsWith(':' + port)),
  conn: (st, port) => (T.tokens(st).find((t) => t.tuple.endsWith(':' + port)) || {}).conn,
  count: (k) => { const e = document.querySelector(`.edge[data-edge="${k}"] tspan.n`); return e ? parseInt(e.textContent) : -1; },
  counts: (ks) => Object.fromEntries(ks.map((k) => [k, T.count(k)])),
  ladder: () => [...document.querySelectorAll('#ladder g.seg, #ladder g.chg')].map((e) => e.classList.contains('seg')
      ? {n: +e.dataset.n, dir: e.dataset.dir, flags: e.dataset.flags, caused: [...e.querySelectorAll('text.caused')].map((t) => t.textContent).join(' ')}
      : {n: +e.dataset.n, to: e.dataset.to, by: e.dataset.by}),
  click: (sel) => { const e = document.querySelector(sel); if (!e) return false; e.dispatchEvent(new MouseEvent('click', {bubbles: true})); return true; },
};
true
"""

KEYS = ["LISTEN>SYN_RECV", "SYN_RECV>ESTABLISHED", "ESTABLISHED>FIN_WAIT1", "FIN_WAIT1>FIN_WAIT2",
        "FIN_WAIT2>TIME_WAIT", "FIN_WAIT1>TIME_WAIT", "ESTABLISHED>CLOSE_WAIT",
        "CLOSE_WAIT>LAST_ACK", "LAST_ACK>CLOSE"]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def step(msg):
    print(f"[tcpviz_browser] {msg}", flush=True)


def curl(*args):
    """The HTTP status curl got; on a failure (000) curl's own error is printed, so a failed run
    says why (refused, reset, timed out) instead of only "000"."""
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args],
                       capture_output=True, text=True, timeout=30)
    if r.stdout != "200":
        print(f"[tcpviz_browser] curl {' '.join(args)}: exit {r.returncode}, {r.stderr.strip()}", flush=True)
    return r.stdout


def subsequence(items, wanted):
    """Indices of items matching each predicate of wanted, in order; None if they do not all."""
    out, i = [], 0
    for pred in wanted:
        while i < len(items) and not pred(items[i]):
            i += 1
        if i == len(items):
            return None
        out.append(i)
        i += 1
    return out


def flags(it):
    return set(it.get("flags", "").split(","))


def main():
    url, artifacts = sys.argv[1], sys.argv[2]
    os.makedirs(artifacts, exist_ok=True)
    with Browser(width=1440, height=900) as b:
        b.goto(url)
        b.wait("document.readyState === 'complete' && !!document.getElementById('tokens')", 20,
               "the page and its diagram")
        b.eval(HELPERS)

        step("1. the listener in LISTEN")
        b.wait("T.tokens('LISTEN').some((t) => t.tuple === '10.0.0.2:80 0.0.0.0:*')", 10,
               "the listener's token in LISTEN")
        for st in ("CLOSE", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1",
                   "FIN_WAIT2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK"):
            if not b.eval(f"!!document.querySelector('.state[data-state=\"{st}\"]')"):
                fail(f"the diagram has no box for {st}")
        labels = b.eval("[...document.querySelectorAll('.edge')].map((e) => e.dataset.label)")
        for want in ("rcv SYN / snd SYN,ACK", "close / snd FIN", "timeout 2MSL / delete TCB",
                     "rcv FIN / snd ACK", "rcv ACK of FIN / x"):
            if want not in labels:
                fail(f"no arrow labelled '{want}' (labels: {labels})")
        c0 = b.eval(f"T.counts({json.dumps(KEYS)})")

        step("2. nc from the host: a token in ESTABLISHED")
        nc = subprocess.Popen(["nc", "-p", str(P_NC), STACK, "80"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b.wait(f"T.has('ESTABLISHED', {P_NC})", 10, f"nc's connection (port {P_NC}) in ESTABLISHED")

        step("3. a request with Connection: close over nc: tapstack closes first, a token in TIME_WAIT")
        # nc keeps its socket open after its input ends and leaves when the server closes, so
        # tapstack's FIN is always first (curl may close as soon as it has the body: a race).
        req = b"GET /bytes/5000 HTTP/1.1\r\nHost: tapstack\r\nConnection: close\r\n\r\n"
        r = subprocess.run(["nc", "-p", str(P_CLOSE), STACK, "80"], input=req, capture_output=True, timeout=20)
        if not r.stdout.startswith(b"HTTP/1.1 200"):
            fail(f"nc's request got {r.stdout[:60]!r}")
        b.wait(f"T.has('TIME_WAIT', {P_CLOSE})", 10, f"the connection of port {P_CLOSE} in TIME_WAIT")
        code = curl("--local-port", str(P_CURL), f"http://{STACK}/bytes/100")
        if code != "200":
            fail(f"curl got HTTP {code}")
        b.wait(f"[...document.querySelectorAll('#transitions tbody tr')].some((r) => r.cells[1].textContent.endsWith(':{P_CURL}'))",
               10, f"curl's connection (port {P_CURL}) in the transitions list")

        step("4. the counters on the arrows rose")
        expr = (f"(() => {{ const c = T.counts({json.dumps(KEYS)}), o = {json.dumps(c0)};"
                " return c['LISTEN>SYN_RECV'] >= o['LISTEN>SYN_RECV'] + 2"
                " && c['SYN_RECV>ESTABLISHED'] >= o['SYN_RECV>ESTABLISHED'] + 2"
                " && c['ESTABLISHED>FIN_WAIT1'] >= o['ESTABLISHED>FIN_WAIT1'] + 1"
                " && c['FIN_WAIT2>TIME_WAIT'] + c['FIN_WAIT1>TIME_WAIT'] >="
                " o['FIN_WAIT2>TIME_WAIT'] + o['FIN_WAIT1>TIME_WAIT'] + 1 ? c : null; })()")
        b.wait(expr, 10, f"counters above {c0}")

        step("5. the TIME_WAIT connection's ladder")
        if not b.eval(f"T.click('#tokens .token[data-state=\"TIME_WAIT\"][data-tuple$=\":{P_CLOSE}\"]')"):
            fail("no TIME_WAIT token to click")
        b.wait("T.ladder().filter((i) => i.dir).length >= 6 && T.ladder().some((i) => i.to === 'TIME_WAIT')",
               10, "a ladder with the handshake, the close and TIME_WAIT")
        lad = b.eval("T.ladder()")
        segs = [i for i in lad if "dir" in i]
        order = subsequence(segs, [
            lambda i: i["dir"] == "in" and flags(i) == {"SYN"},
            lambda i: i["dir"] == "out" and flags(i) >= {"SYN", "ACK"},
            lambda i: i["dir"] == "in" and "ACK" in flags(i) and "SYN" not in flags(i),
            lambda i: i["dir"] == "out" and "FIN" in flags(i),
            lambda i: i["dir"] == "in" and "FIN" in flags(i),
        ])
        if order is None:
            fail(f"the ladder does not show SYN, SYN-ACK, ACK, FIN (ours), FIN (peer's) in order: {segs}")
        syn, fin_in = segs[order[0]], segs[order[4]]
        if "SYN_RECV" not in syn["caused"]:
            fail(f"the SYN is not marked as causing SYN_RECV: {syn}")
        if "TIME_WAIT" not in fin_in["caused"]:
            fail(f"the peer's FIN is not marked as causing TIME_WAIT: {fin_in}")
        chg = [i["to"] for i in lad if "to" in i]
        if subsequence(chg, [lambda s: s == "SYN_RECV", lambda s: s == "ESTABLISHED",
                             lambda s: s == "FIN_WAIT1", lambda s: s == "TIME_WAIT"]) is None:
            fail(f"the ladder's state changes are not SYN_RECV, ESTABLISHED, FIN_WAIT1, TIME_WAIT: {chg}")
        # The whole ladder in the picture, after the arrows' animations.
        b.eval("document.getElementById('ladder-wrap').style.maxHeight = 'none'; window.scrollTo(0, 0); true")
        time.sleep(1.5)
        shot = os.path.join(artifacts, "tcpviz.png")
        b.screenshot(shot, full=True)
        step(f"   screenshot: {shot}")

        step("6. nc killed: its connection closes (CLOSE_WAIT, LAST_ACK, CLOSE)")
        nc_id = b.eval(f"T.conn('ESTABLISHED', {P_NC})")
        c1 = b.eval(f"T.counts({json.dumps(KEYS)})")
        nc.terminate()
        nc.wait(timeout=10)
        b.wait(f"!T.has('ESTABLISHED', {P_NC}) && !T.has('CLOSE_WAIT', {P_NC}) && !T.has('LAST_ACK', {P_NC})",
               15, "nc's token to leave")
        b.wait(f"(() => {{ const c = T.counts({json.dumps(KEYS)}), o = {json.dumps(c1)};"
               " return ['ESTABLISHED>CLOSE_WAIT', 'CLOSE_WAIT>LAST_ACK', 'LAST_ACK>CLOSE']"
               ".every((k) => c[k] >= o[k] + 1); })()", 10, "CLOSE_WAIT, LAST_ACK, CLOSE counters to rise")
        b.wait(f"[...document.querySelectorAll('#ladder-pick option')].some((o) => o.value === '{nc_id}')",
               10, "nc's ended connection in the ladder list")
        b.eval(f"(() => {{ const s = document.getElementById('ladder-pick'); s.value = '{nc_id}';"
               " s.dispatchEvent(new Event('change')); return true; })()")
        b.wait("T.ladder().some((i) => i.to === 'CLOSE') && T.ladder().some((i) => i.to === 'LAST_ACK')", 10,
               "nc's ladder with LAST_ACK and CLOSE")
        segs = [i for i in b.eval("T.ladder()") if "dir" in i]
        if subsequence(segs, [lambda i: i["dir"] == "in" and "FIN" in flags(i),
                              lambda i: i["dir"] == "out" and "FIN" in flags(i)]) is None:
            fail(f"nc's ladder does not show the peer's FIN before tapstack's: {segs}")

        step("7. the page's own connections are marked, and can be hidden")
        b.wait("T.tokens('ESTABLISHED').some((t) => t.self)", 5, "a ★ token (the page's own connection)")
        b.eval("document.getElementById('hide-self').click()")
        b.wait("!document.querySelector('#tokens .token.self')", 5, "the page's own tokens hidden")
        b.eval("document.getElementById('hide-self').click()")

        step("8. 300 connections at once: tokens aggregate")
        socks = []
        for _ in range(300):
            socks.append(socket.create_connection((STACK, 80), timeout=10))
        n = b.wait("(() => { const a = document.querySelector('#tokens .token.agg[data-state=\"ESTABLISHED\"]');"
                   " return a && +a.dataset.more >= 293 && T.tokens('ESTABLISHED').length === 7"
                   " && /at most 8/.test(document.getElementById('cap-note').textContent) ? +a.dataset.more : 0; })()",
                   15, "ESTABLISHED with 7 tokens and a +N token, and the note")
        step(f"   +{n} shown as a count")
        for s in socks:
            s.close()

        step("9. during a 20 GB download the page keeps up")
        bulk = subprocess.Popen(["curl", "-s", "-o", "/dev/null", f"http://{STACK}/bytes/20000000000"])
        time.sleep(1.5)
        s1 = b.eval("document.getElementById('status').textContent")
        code = curl("--local-port", str(P_BULK), f"http://{STACK}/bytes/10")
        if code != "200":
            fail(f"curl during the download got HTTP {code}")
        b.wait(f"[...document.querySelectorAll('#transitions tbody tr')].some((r) => r.cells[1].textContent.endsWith(':{P_BULK}'))",
               10, "the connection made during the download in the transitions list")
        b.wait(f"document.getElementById('status').textContent !== {json.dumps(s1)}", 5,
               "the status line to move on")
        if bulk.poll() is not None:
            fail("the download ended before the page was checked: nothing was proven")
        bulk.terminate()
        bulk.wait(timeout=10)
        step("   the page updated while the download ran")

        errors = [c for c in b.console if c.startswith("exception")]
        if errors:
            fail(f"the page threw: {errors}")
    print("PASS: the page showed every step")


if __name__ == "__main__":
    try:
        main()
    except BrowserError as e:
        fail(str(e))
