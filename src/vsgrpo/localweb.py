"""A local web app server as safe as a dev server should be (used by ``data annotate``).

The page and its API are served on 127.0.0.1 only, and a request is refused (4xx with a JSON
body, never a dropped connection or a traceback) when:

- its ``Host`` is not the address the server is bound to (DNS rebinding: a page on another site
  whose name resolves to 127.0.0.1 sends ``Host: attacker``);
- a POST comes from another ``Origin``, is not ``application/json``, has no, a negative or a too
  large ``Content-Length``, or holds JSON with NaN/Infinity, numbers past float range or nesting
  deeper than :data:`MAX_DEPTH`;
- it takes longer than :data:`REQUEST_TIMEOUT` seconds to arrive.

At most :data:`MAX_WORKERS` requests are handled at once (others wait in a listen backlog of
:data:`BACKLOG`); media files are streamed in chunks, with byte ranges so a video can seek.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from .errors import VsgrpoError

MAX_BODY = 64 * 1024
MAX_DEPTH = 32
REQUEST_TIMEOUT = 30.0
MAX_WORKERS = 16
BACKLOG = 256
CHUNK = 256 * 1024


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _depth(obj, limit: int) -> int:
    stack, deepest = [(obj, 1)], 1
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            break
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest


def parse_json_body(body: bytes):
    """Strict JSON: UTF-8, no NaN/Infinity, floats in range, at most MAX_DEPTH levels (else HttpError 400)."""
    if body.count(b"[") + body.count(b"{") > MAX_BODY // 2:
        raise HttpError(400, "JSON nests too deeply")
    try:
        text = body.decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant,
                         parse_float=lambda s: _finite(float(s)))
    except RecursionError:
        raise HttpError(400, "JSON nests too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise HttpError(400, f"the request body is not valid JSON ({str(e)[:100]})") from None
    if _depth(obj, MAX_DEPTH) > MAX_DEPTH:
        raise HttpError(400, f"JSON nests deeper than {MAX_DEPTH} levels")
    return obj


def _finite(x: float) -> float:
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("numbers must be finite")
    return x


class LocalHandler(BaseHTTPRequestHandler):
    """Base handler: subclasses implement ``get(path, query)`` and ``post(path, obj)`` returning JSON-able
    objects (or call :meth:`send_bytes` / :meth:`send_file`) and raise :class:`HttpError` to refuse."""

    timeout = REQUEST_TIMEOUT  # socket timeout for the whole exchange (StreamRequestHandler)
    protocol_version = "HTTP/1.1"
    server_version = "vsgrpo"

    def log_message(self, fmt, *args):  # the terminal shows the URL, not every request
        pass

    # ---- responses
    def send_bytes(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, obj, status: int = 200) -> None:
        self.send_bytes(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def send_file(self, path: Path, ctype: str) -> None:
        """Stream ``path`` in chunks, honouring a single ``Range: bytes=a-b``."""
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        extra = {"Accept-Ranges": "bytes"}
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, _, b = rng[6:].split(",")[0].strip().partition("-")
            try:
                if a:
                    start, end = int(a), min(int(b), size - 1) if b else size - 1
                else:
                    start = max(0, size - int(b))
            except ValueError:
                raise HttpError(416, "malformed Range header") from None
            if start < 0 or start > end or start >= size:
                return self.send_bytes(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(end - start + 1))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    # ---- checks
    def _allowed_hosts(self) -> set[str]:
        host, port = self.server.server_address[:2]
        return {f"{h}:{port}" for h in (host, "127.0.0.1", "localhost", "[::1]")}

    def _check_host(self) -> None:
        if self.headers.get("Host", "") not in self._allowed_hosts():
            raise HttpError(421, "this server answers only requests addressed to it by its own address")

    def _read_json(self):
        origin = self.headers.get("Origin")
        if origin is not None and urlparse(origin).netloc not in self._allowed_hosts():
            raise HttpError(403, "changes can only be made from the page itself")
        if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, "send the request body as application/json")
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            raise HttpError(411, "a POST needs a valid Content-Length")
        if int(length) > MAX_BODY:
            raise HttpError(413, f"request body over {MAX_BODY} bytes")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise HttpError(400, "the request body ended early")
        return parse_json_body(body)

    # ---- dispatch
    def _handle(self, post: bool) -> None:
        url = urlparse(self.path)
        try:
            with self.server.slots:  # type: ignore[attr-defined]
                self._check_host()
                if post:
                    result = self.post(url.path, self._read_json())
                else:
                    result = self.get(url.path, url.query)
                if result is not None:
                    self.send_json(result)
        except HttpError as e:
            self._error(e.status, str(e))
        except VsgrpoError as e:
            self._error(400 if post else 404, str(e))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except OSError as e:
            self._error(500, f"the server could not complete the request ({e.strerror or e})")

    def _error(self, status: int, message: str, **extra) -> None:
        try:
            self.send_json({"error": message, **extra}, status)
        except OSError:
            self.close_connection = True

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._handle(post=False)

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        self._handle(post=True)

    def get(self, path: str, query: str):  # pragma: no cover - subclasses
        raise HttpError(404, f"no such page: {path}")

    def post(self, path: str, obj):  # pragma: no cover - subclasses
        raise HttpError(404, f"no such endpoint: {path}")


class LocalServer(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(MAX_WORKERS)


def make_local_server(handler: type[LocalHandler], *, host: str = "127.0.0.1", port: int = 0) -> LocalServer:
    """A ready (not yet serving) server; ``port=0`` picks a free port."""
    if not 0 <= port <= 65535:
        raise VsgrpoError(f"--port must be between 0 and 65535, not {port}")
    try:
        return LocalServer((host, port), handler)
    except OSError as e:
        raise VsgrpoError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port") from None


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


def media_path(root: Path, rel: str) -> Path:
    """``rel`` (URL-decoded, POSIX) under ``root``, refusing anything that leaves it."""
    from .io import safe_join

    parts = [p for p in rel.split("/") if p]
    if not parts:
        raise HttpError(404, "no file named")
    try:
        path = safe_join(root, *parts)
    except VsgrpoError as e:
        raise HttpError(403, str(e)) from None
    if not path.is_file():
        raise HttpError(404, f"{'/'.join(parts)} not found")
    return path

