"""A headless Chromium driven over the DevTools protocol (websocket-client), for browser tests.

Debian's ``chromium`` package; real mouse events (``Input.dispatchMouseEvent``), so a "click"
goes through the page's own event handlers exactly as a user's would.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--hide-scrollbars")


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    def __init__(self, profile: Path, *, timeout: float = 60.0):
        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium not found (apt-get install chromium)")
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a previous run's port
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "--remote-debugging-address=127.0.0.1", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ws = None
        try:
            self._connect(profile, timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, profile: Path, timeout: float) -> None:
        import websocket

        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        pages = []
        while not pages:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                    pages = [t for t in json.loads(r.read()) if t.get("type") == "page"]
            except OSError:
                if time.time() > deadline:
                    raise
            if not pages:
                time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=timeout,
                                              suppress_origin=True)
        self._id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page error: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied: {expression}")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def click(self, selector: str) -> None:
        """A real left click in the middle of the first element matching ``selector``."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                            " if (!e) return null; e.scrollIntoView({block: 'center'});"
                            " const r = e.getBoundingClientRect();"
                            " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if box is None:
            raise RuntimeError(f"nothing matches {selector}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)


def type_into(browser: Chromium, selector: str, text: str) -> None:
    """Focus ``selector`` with a real click, select what it holds, and type ``text`` as keyboard input."""
    browser.click(selector)
    browser.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
    browser.send("Input.insertText", text=text)


def press(browser: Chromium, key: str, *, code: str | None = None, ctrl: bool = False) -> None:
    """A real key press (down and up), e.g. press(b, "Enter", ctrl=True) or press(b, "j")."""
    mods = 2 if ctrl else 0
    text = key if len(key) == 1 else ("\r" if key == "Enter" else "")
    for kind in ("keyDown", "keyUp"):
        params = {"type": kind, "key": key, "code": code or (f"Key{key.upper()}" if len(key) == 1 else key),
                  "modifiers": mods, "windowsVirtualKeyCode": 13 if key == "Enter" else ord(key.upper()[0])}
        if kind == "keyDown" and text and not ctrl:
            params["text"] = text
        browser.send("Input.dispatchKeyEvent", **params)
