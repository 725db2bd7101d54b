"""A small Chrome DevTools Protocol client for the browser tests: Debian's chromium, headless,
driven over --remote-debugging-pipe (file descriptors 3 and 4, NUL-separated JSON messages), so
that nothing beyond python3 and chromium is needed (no websocket library, no open port).

    with Browser() as b:
        b.goto("http://10.0.0.2/tcp")
        b.wait("document.querySelectorAll('.token').length > 0", 10)
        b.screenshot("shot.png")
"""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=Translate,MediaRouter",
    "--remote-debugging-pipe",
]


def find_chromium():
    for c in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or ""):
        if c and os.access(c, os.X_OK):
            return c
    return None


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, exe=None, width=1440, height=900, dark=False):
        self.exe = exe or find_chromium()
        if not self.exe:
            raise BrowserError("chromium is not installed (apt-get install chromium)")
        self.width, self.height, self.dark = width, height, dark
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        self.console = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *a):
        self.close()

    def start(self):
        self.udd = tempfile.mkdtemp(prefix="ts-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(self.udd, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [self.exe, *CHROMIUM_FLAGS, "--user-data-dir=" + self.udd,
             f"--window-size={self.width},{self.height}", "about:blank"],
            preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next((t for t in targets if t["type"] == "page"), None)
        if page is None:
            page_id = self.call("Target.createTarget", url="about:blank")["targetId"]
        else:
            page_id = page["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=page_id, flatten=True)["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        self.page("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        if self.dark:
            self.page("Emulation.setEmulatedMedia",
                      features=[{"name": "prefers-color-scheme", "value": "dark"}])

    def close(self):
        try:
            if self.proc.poll() is None:
                self._send({"id": 999999, "method": "Browser.close"})
                self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            for fd in (self.to_chrome, self.from_chrome):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.udd, ignore_errors=True)

    # ---- the protocol

    def _send(self, msg):
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")

    def _recv(self, timeout):
        end = time.time() + timeout
        p = select.poll()  # not select(): a test may hold more than 1024 descriptors
        p.register(self.from_chrome, select.POLLIN)
        while b"\0" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            if not p.poll(int(left * 1000) + 1):
                continue
            data = os.read(self.from_chrome, 1 << 16)
            if not data:
                raise BrowserError("chromium went away (see its log)")
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, timeout=30, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._send(msg)
        while True:
            m = self._recv(timeout)
            if m.get("id") == mid:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error'].get('message')}")
                return m.get("result", {})
            if m.get("method") == "Runtime.consoleAPICalled":
                args = m["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif m.get("method") == "Runtime.exceptionThrown":
                d = m["params"]["exceptionDetails"]
                self.console.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            else:
                self.events.append(m)

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    # ---- what the tests use

    def goto(self, url):
        self.page("Page.navigate", url=url)

    def eval(self, expr):
        r = self.page("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise BrowserError(f"{expr}: {r['exceptionDetails'].get('exception', {}).get('description', r['exceptionDetails'].get('text'))}")
        return r["result"].get("value")

    def wait(self, expr, timeout, what=None):
        """Poll expr until it is truthy; returns its value, or raises naming what was awaited."""
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                last = self.eval(expr)
                if last:
                    return last
            except BrowserError as e:
                last = str(e)
            time.sleep(0.2)
        raise BrowserError(f"waited {timeout} s for {what or expr} (last value: {last!r})")

    def screenshot(self, path, full=False):
        params = {"format": "png"}
        if full:
            h = self.eval("Math.ceil(document.documentElement.scrollHeight)")
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": h, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.page("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
