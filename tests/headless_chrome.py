"""Open a page in headless Chromium and read it back over the DevTools protocol, on a pipe.

`--remote-debugging-pipe` makes Chromium read protocol commands from fd 3 and write replies and
events to fd 4, each a JSON message ended by a NUL byte: no port, no websocket library. Used by
the embedding-map test (console errors, points drawn, a screenshot) and its benchmark (load
time). `ensure_chromium()` installs Debian's `chromium` package when it is missing and we are
root, and raises with the reason when it cannot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class ChromeUnavailable(RuntimeError):
    pass


def ensure_chromium() -> str:
    """The path of a Chromium binary, installing Debian's package (as root) when none is found."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    if os.geteuid() != 0:
        raise ChromeUnavailable("chromium is not installed: run `apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # One installer at a time (test workers, a benchmark): apt-get fails on a held lock.
    with open(Path(tempfile.gettempdir()) / "strata-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if found := shutil.which("chromium"):  # installed while we waited
            return found
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
            if done.returncode != 0:
                tail = done.stderr.strip()[-500:]
                raise ChromeUnavailable(f"`{' '.join(command)}` failed ({done.returncode}): {tail}")
    if found := shutil.which("chromium"):
        return found
    raise ChromeUnavailable("apt-get installed chromium but no chromium binary is on PATH")


class Page:
    """One headless Chromium with one page; `errors` collects uncaught exceptions, console
    errors and error log entries as they arrive."""

    def __init__(self, width: int = 1200, height: int = 800, binary: str | None = None):
        binary = binary or ensure_chromium()
        # The child's pipe ends become its fds 3 and 4 by bash's redirections before it execs
        # Chromium: no preexec_fn, which would force a plain fork() of this (JAX-threaded)
        # process and run Python in the child.
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        redirect = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self._profile = tempfile.mkdtemp(prefix="strata-chrome-")
        self._process = subprocess.Popen(
            [
                "/bin/bash",  # dash reads only one-digit descriptors in redirections
                "-c",
                redirect,
                binary,
                "--headless",
                "--no-sandbox",  # root in a container: Chromium's sandbox refuses to start
                "--remote-debugging-pipe",
                "--enable-unsafe-swiftshader",  # software WebGL: plotly's scattergl draws
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self.errors: list[str] = []
        self.requests: list[str] = []  # every URL the page asked for
        targets = self._call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self._call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")

    # -- protocol

    def _send(self, message: dict) -> None:
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no message from Chromium in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise ChromeUnavailable("Chromium closed the DevTools pipe (did it crash?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        out = json.loads(message)
        if "method" in out:
            self._note(out)
        return out

    def _note(self, event: dict) -> None:
        self._events.append(event)
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"uncaught: {text}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"log: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])

    def _call(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float = 60.0) -> dict:  # fmt: skip
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def call(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        return self._call(method, params, self._session, timeout)

    # -- page

    def open(self, url: str, timeout: float = 60.0) -> float:
        """Navigate and wait for the load event; returns the seconds it took."""
        start = time.monotonic()
        self._events.clear()
        self.call("Page.navigate", {"url": url})
        deadline = start + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self._events):
            self._receive(deadline)
        return time.monotonic() - start

    def evaluate(self, expression: str, timeout: float = 60.0) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll `expression` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still falsy after {timeout:.0f} s")
            time.sleep(0.05)

    def screenshot(self, path: str | Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self._call("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError, ChromeUnavailable):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for fd in (self._to_chrome, self._from_chrome):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
