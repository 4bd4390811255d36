"""A small Hugging Face hub on 127.0.0.1 for tests: one dataset repository in the hub's HTTP layout.

It answers the requests huggingface_hub makes, with the headers it reads:

- ``GET /api/datasets/{repo}/revision/{rev}``: repository info with ``sha`` and ``siblings``
  (``rfilename``, ``size``, ``blobId``, and ``lfs: {sha256, size, pointerSize}`` for LFS files).
- ``HEAD|GET /datasets/{repo}/resolve/{rev}/{file}``: a small (git) file is served directly with
  ``ETag`` = its git blob id; an LFS file answers 302 with ``X-Linked-Etag`` = its sha256,
  ``X-Linked-Size`` and a ``Location`` on a second server (the "CDN", another origin, as on the hub).
  Both carry ``X-Repo-Commit``.
- ``GET /blobs/{sha256}`` on the CDN, with ``Range: bytes=N-`` support (206 + ``Content-Range``).

Faults for tests: ``cut[name] = n`` sends the full Content-Length but only ``n`` bytes of the
next download of that file, then drops the connection; ``corrupt`` serves a file with one byte
changed. ``requests`` records (method, path, Range header) of every request.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repo: str, files: dict[str, bytes], lfs: set[str], commit: str = "c0ffee" * 6 + "abcd"):
        self.repo, self.files, self.lfs, self.commit = repo, dict(files), set(lfs), commit
        self.cut: dict[str, int] = {}
        self.corrupt: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []
        self._by_sha = {hashlib.sha256(d).hexdigest(): n for n, d in self.files.items()}
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=False))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=True))
        self.endpoint = f"http://127.0.0.1:{self.hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self.cdn.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.cdn)]

    def __enter__(self) -> FakeHub:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    # ------------------------------------------------------------------ content
    def served(self, name: str) -> bytes:
        data = self.files[name]
        if name in self.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def info(self) -> dict:
        siblings = []
        for name, data in sorted(self.files.items()):
            row = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
            if name in self.lfs:
                row["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(row)
        return {"id": self.repo, "sha": self.commit, "private": False, "siblings": siblings}

    # ------------------------------------------------------------------ HTTP
    def _handler(self, cdn: bool):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet test output
                pass

            def _send(self, status: int, headers: dict, body: bytes = b"", *, limit: int | None = None):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, str(v))
                self.end_headers()
                if self.command != "HEAD" and body:
                    self.wfile.write(body if limit is None else body[:limit])
                    if limit is not None:  # drop the connection mid-body, as a network loss would
                        self.wfile.flush()
                        self.close_connection = True

            def _not_found(self, code: str):
                body = json.dumps({"error": code}).encode()
                self._send(404, {"X-Error-Code": code, "Content-Type": "application/json",
                                 "Content-Length": len(body)}, body)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Range")))
                if cdn:
                    return self._blob(path)
                api = f"/api/datasets/{hub.repo}/revision/"
                resolve = f"/datasets/{hub.repo}/resolve/"
                if path.startswith(api):
                    body = json.dumps(hub.info()).encode()
                    return self._send(200, {"Content-Type": "application/json", "Content-Length": len(body)}, body)
                if path.startswith(resolve):
                    rev, _, name = path[len(resolve):].partition("/")
                    if rev not in ("main", hub.commit):
                        return self._not_found("RevisionNotFound")
                    if name not in hub.files:
                        return self._not_found("EntryNotFound")
                    data = hub.files[name]
                    common = {"X-Repo-Commit": hub.commit}
                    if name in hub.lfs:
                        sha = hashlib.sha256(data).hexdigest()
                        return self._send(302, {**common, "Location": f"{hub.cdn_url}/blobs/{sha}",
                                                "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": len(data),
                                                "ETag": f'"{git_blob_id(b"pointer " + sha.encode())}"',
                                                "Content-Length": 0})
                    body = hub.served(name)
                    return self._send(200, {**common, "ETag": f'"{git_blob_id(data)}"', "Content-Length": len(body)},
                                      body)
                return self._not_found("RepoNotFound")

            def _blob(self, path: str):
                sha = path.rsplit("/", 1)[-1]
                name = hub._by_sha.get(sha)
                if not path.startswith("/blobs/") or name is None:
                    return self._not_found("EntryNotFound")
                data = hub.served(name)
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes="):-1])
                limit = hub.cut.pop(name, None) if self.command == "GET" else None
                if limit is not None:
                    limit = max(0, limit - start)
                headers = {"Content-Length": len(data) - start, "ETag": f'"{sha}"', "Accept-Ranges": "bytes"}
                if start:
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                    return self._send(206, headers, data[start:], limit=limit)
                return self._send(200, headers, data, limit=limit)

        return Handler
