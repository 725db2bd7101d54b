#!/usr/bin/env python3
"""The tour in watch mode (make demo WATCH=1, steps 2 and 3), watched: run by test_tour_watch.sh
inside the tour's namespace while the tour runs. Two watchers at once, each asserting what it saw:

  the endpoints, polled every 0.2 s with urllib (as curl would): while step 2's stack serves, its
    /api/connections shows the host's connection to port 80 (in whatever state a poll finds it), its
    transitions have LISTEN -> SYN_RECV (rcvd SYN) and SYN_RECV -> ESTABLISHED for it, and its
    ladder has the SYN in, the SYN-ACK out and the ACK in (recorded from the stack's start);
    then step 3's stack answers at the same address with another "instance", its trace starts at
    1 and names none of step 2's connections, and its own connection shows;
  a headless Chromium on the page, left open across both steps (the DOM): the title says step 2
    and the transitions list has step 2's connection; when step 3's stack comes, the page says
    "A new server" with step 3's title, and from then on no row and no token is step 2's, and
    step 3's connection appears in the list; the page's own connections (to port 8080 of a server
    that serves nothing else) are hidden from the start.

usage: tour_watch_browser.py URL ARTIFACT_DIR
"""

import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, BrowserError  # noqa: E402

BASE = None
DEADLINE_S = 240

DOM = r"""(() => {
  const note = document.getElementById('server-note');
  return {
    title: (document.getElementById('title') || {}).textContent || '',
    note: note && !note.hidden ? note.textContent : '',
    rows: [...document.querySelectorAll('#transitions tbody tr')].filter((r) => !r.hidden).map((r) => r.cells[1].textContent + ' ' + r.cells[2].textContent),
    tokens: [...document.querySelectorAll('#tokens .token')].map((t) => t.dataset.tuple || ''),
    hideSelf: document.getElementById('hide-self').checked,
  };
})()"""


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def say(msg):
    print(f"[tour_watch_browser] {msg}", flush=True)


def api(path):
    try:
        with urllib.request.urlopen(BASE + path, timeout=3) as r:
            return json.loads(r.read())
    except Exception:
        return None  # between two steps nobody answers


def port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])


def lesson_events(events):
    """The events of connections to tapstack's port 80 (not the viewers' on the page's port)."""
    return [e for e in events if e["local"] == "10.0.0.2:80" and e["remote"] != "0.0.0.0:*"]


def main():
    global BASE
    url, artifacts = sys.argv[1], sys.argv[2]
    BASE = url.rsplit("/tcp", 1)[0]
    os.makedirs(artifacts, exist_ok=True)
    seen = {}  # instance -> {"title", "events", "states": {port: set}, "ladder"}
    order = []  # instances in the order they answered
    doms = []  # (instance answering at the time, DOM snapshot)
    with Browser(width=1440, height=900) as b:
        b.goto(url)
        b.wait("document.readyState === 'complete' && !!document.getElementById('tokens')", 30,
               "the page and its diagram")
        say("the page is loaded; watching")
        end = time.time() + DEADLINE_S
        done_at = None
        last_answer = time.time()
        while time.time() < end:
            st = api("/api/states")
            if st is None and time.time() - last_answer > 20:
                break  # the tour is over
            if st:
                last_answer = time.time()
                inst = st["instance"]
                if inst not in seen:
                    seen[inst] = {"title": st["title"], "events": [], "states": {}, "ladder": None}
                    order.append(inst)
                    say(f"a server: {st['program']} '{st['title']}' ({inst})")
                s = seen[inst]
                tr = api("/api/transitions?since=0&max=1000")
                if tr and tr["instance"] == inst:
                    s["events"] = tr["events"]
                    s["first"] = tr["first"]
                cn = api("/api/connections")
                if cn and cn["instance"] == inst:
                    for r in cn["sockets"]["tcp"]:
                        if r["local"] == "10.0.0.2:80" and r["state"] != "LISTEN":
                            s["states"].setdefault(r["rport"], set()).add(r["state"])
                lev = lesson_events(s["events"])
                if lev and s["ladder"] is None:
                    lad = api(f"/api/segments?conn={lev[0]['conn_id']}")
                    if lad and lad["instance"] == inst and sum(1 for i in lad["list"] if i["kind"] == "segment") >= 3:
                        s["ladder"] = lad["list"]
            try:
                doms.append((order[-1] if order else None, b.eval(DOM)))
            except BrowserError as e:
                say(f"the page did not answer: {e}")
            # Done once step 3's connection is on the page too (and a little more was watched).
            if done_at is None and len(order) and seen[order[-1]]["title"].startswith("tour step 3"):
                s3 = seen[order[-1]]
                p3 = {port_of(e["remote"]) for e in lesson_events(s3["events"])}
                if p3 and any(any(f":{p} " in r for p in p3) for r in doms[-1][1]["rows"]):
                    done_at = time.time() + 2
            if done_at and time.time() > done_at:
                break
            time.sleep(0.2)
        b.screenshot(os.path.join(artifacts, "tour-watch.png"))
        console = b.console

    # ---- what the endpoints showed
    titles = [seen[i]["title"] for i in order]
    say(f"servers seen, in order: {titles}")
    s2 = [i for i in order if seen[i]["title"].startswith("tour step 2")]
    s3 = [i for i in order if seen[i]["title"].startswith("tour step 3")]
    if len(s2) != 1 or len(s3) != 1:
        fail(f"expected one server for step 2 and one for step 3, saw {titles}")
    i2, i3 = s2[0], s3[0]
    if order.index(i3) != order.index(i2) + 1:
        fail(f"step 3's server did not follow step 2's: {titles}")
    a, c = seen[i2], seen[i3]
    ev2 = lesson_events(a["events"])
    if not ev2:
        fail(f"step 2's transitions have no connection to port 80: {a['events']}")
    p2 = port_of(ev2[0]["remote"])
    chain2 = [(e["from"], e["to"], e["cause"]) for e in ev2 if port_of(e["remote"]) == p2]
    for want in (("LISTEN", "SYN_RECV", "rcvd SYN"), ("SYN_RECV", "ESTABLISHED", "rcvd ACK of SYN")):
        if want not in chain2:
            fail(f"step 2: no {want[0]} -> {want[1]} ({want[2]}) for port {p2}: {chain2}")
    # Which states a poll catches depends on the machine's speed (a loaded one may first see the
    # connection in FIN_WAIT1); the transitions above prove the states, this that the table has it.
    if not a["states"].get(p2):
        fail(f"step 2: /api/connections never showed the connection of port {p2}: {a['states']}")
    lad = [(i["dir"], i["flags"]) for i in (a["ladder"] or []) if i["kind"] == "segment"]
    if lad[:3] != [("in", "SYN"), ("out", "SYN,ACK"), ("in", "ACK")]:
        fail(f"step 2: the ladder does not begin SYN in, SYN,ACK out, ACK in: {lad}")
    say(f"step 2: port {p2}: {chain2}; seen in {sorted(a['states'][p2])}; ladder {lad[:3]}")
    ev3 = lesson_events(c["events"])
    if c.get("first") != 1:
        fail(f"step 3's trace does not start at 1: first={c.get('first')}")
    if any(port_of(e["remote"]) == p2 for e in c["events"] if e["remote"] != "0.0.0.0:*") or p2 in c["states"]:
        fail(f"step 3's server shows step 2's connection (port {p2})")
    p3 = {port_of(e["remote"]) for e in ev3}
    if not p3 or not any(("LISTEN", "SYN_RECV") == (e["from"], e["to"]) for e in ev3):
        fail(f"step 3's transitions have no connection to port 80: {c['events']}")
    say(f"step 3: a new instance ({i3} after {i2}), trace from 1, its connection(s) {sorted(p3)}")

    # ---- what the page showed
    def has_p(rows, p):
        return any(f":{p} " in r or r.endswith(f":{p}") for r in rows)

    during2 = [d for inst, d in doms if inst == i2]
    if not any("tour step 2" in d["title"] and any(f":{p2} " in r and "SYN_RECV" in r for r in d["rows"])
               for d in during2):
        fail(f"the page never showed step 2's title and its connection (port {p2}) with SYN_RECV")
    switched = [k for k, (_, d) in enumerate(doms) if "tour step 3" in d["title"]]
    if not switched:
        fail(f"the page never showed step 3's title; last: {doms[-1][1] if doms else None}")
    first3 = doms[switched[0]][1]
    if "A new server" not in first3["note"] or "tour step 3" not in first3["note"]:
        fail(f"when step 3's server came, the page did not say so: note {first3['note']!r}")
    for _, d in doms[switched[0]:]:
        if has_p(d["rows"], p2) or any(t.endswith(f":{p2}") for t in d["tokens"]):
            fail(f"after the switch the page still shows step 2's connection (port {p2}): {d}")
        # tapstack-sock serves only the page: its own connections (port 8080) start hidden.
        if not d["hideSelf"] or any(t.startswith("10.0.0.2:8080 ") for t in d["tokens"]) or \
                any(r.startswith(":8080 ") for r in d["rows"]):
            fail(f"the page's own connections (port 8080) are not hidden: {d}")
    if not any(any(has_p(d["rows"], p) for p in p3) for _, d in doms[switched[0]:]):
        fail(f"the page never showed step 3's connection {sorted(p3)} after the switch")
    say(f"the page: step 2's connection listed, then '{first3['note'][:60]}...', then step 3's only")
    errors = [m for m in console if m.startswith("exception")]
    if errors:
        fail(f"the page threw: {errors}")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
