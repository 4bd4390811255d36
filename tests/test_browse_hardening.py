"""`data browse` as safe as a local dev server should be, probed over raw sockets on 127.0.0.1:
DNS rebinding (Host), request size and time limits, a bounded pool with a deep listen queue,
a cross-process lock on flags.json, a 4xx/5xx with a body for every bad request, streamed media."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc

import pandas as pd
import pytest

from fault_harness import _env, read_only
from vsgrpo.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from vsgrpo.sources.synthetic import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("browse-hard") / "root"
    generate_dataset(root, SynthConfig(scenes=1, seed=5, frames=8, width=64, height=48, fps=4.0, workers=1),
                     show_progress=False)
    assert main(["data", "build", "--meta", str(root / "meta"), "--out", str(root / "q")]) == 0
    return root


@pytest.fixture
def server(root):
    from vsgrpo.browse import make_server

    (root / "flags.json").unlink(missing_ok=True)
    srv = make_server(root, root / "q" / "questions.parquet", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _ids(root) -> list[int]:
    return [int(i) for i in pd.read_parquet(root / "q" / "questions.parquet")["id"]]


def _exchange(port: int, raw: bytes, *, wait: float = 30.0) -> tuple[int, dict, bytes]:
    """Send ``raw``; return the reply's status, headers and body. A dropped connection fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"connection dropped without a reply to {raw[:80]!r}"
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            chunk = s.recv(65536)
            assert chunk, "reply cut short"
            body += chunk
        return int(lines[0].split()[1]), headers, body


def _post(port, body: bytes, *, host=None, origin=None, length=None, extra="") -> tuple[int, dict, bytes]:
    host = host or f"127.0.0.1:{port}"
    head = f"POST /api/flag HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    if origin:
        head += f"Origin: {origin}\r\n"
    head += f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n{extra}\r\n"
    return _exchange(port, head.encode() + body)


def _get(port, path, *, host=None, extra="") -> tuple[int, dict, bytes]:
    host = host or f"127.0.0.1:{port}"
    return _exchange(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode())


def _get_digest(port, path) -> tuple[int, int, str]:
    """GET ``path`` and hash the body as it arrives (the client holds no copy): status, size, sha256."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            assert chunk
            head += chunk
        head, first = head.split(b"\r\n\r\n", 1)
        h, size = hashlib.sha256(first), len(first)
        while chunk := s.recv(65536):
            h.update(chunk)
            size += len(chunk)
        return int(head.split()[1]), size, h.hexdigest()


def _error_body(body: bytes) -> str:
    obj = json.loads(body)
    assert isinstance(obj.get("error"), str) and obj["error"]
    return obj["error"]


# --- DNS rebinding -----------------------------------------------------------------------------


def test_dns_rebinding_is_refused(server, root):
    """evil.example resolved to 127.0.0.1: the browser sends Host = Origin = evil.example."""
    port = server.server_address[1]
    evil = f"evil.example:{port}"
    status, _, body = _get(port, "/api/scenes", host=evil)
    assert 400 <= status < 500 and _error_body(body)
    status, _, body = _post(port, json.dumps({"id": _ids(root)[0], "flagged": True}).encode(), host=evil,
                            origin=f"http://{evil}")
    assert 400 <= status < 500 and _error_body(body)
    assert not (root / "flags.json").exists()
    assert _get(port, "/api/scenes")[0] == 200  # its own address works
    assert _get(port, "/api/scenes", host=f"localhost:{port}")[0] == 200


# --- size and time limits ------------------------------------------------------------------------


@pytest.mark.parametrize("length", ["-1", "99999999999", "12abc"])
def test_bad_or_huge_content_length_is_refused_unread(server, root, length):
    port = server.server_address[1]
    status, _, body = _post(port, b'{"id": 0}', length=length)
    assert status in (400, 411, 413) and _error_body(body)
    assert not (root / "flags.json").exists()


def test_a_silent_client_is_cut_off(server, monkeypatch):
    import vsgrpo.browse as browse

    monkeypatch.setattr(browse, "REQUEST_SECONDS", 1.0, raising=False)  # (main has none: it never cuts off)
    port = server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"GET /api/scenes HTTP/1.1\r\nHost: 127.0.0.1")  # and then nothing
        t0 = time.monotonic()
        assert s.recv(100) == b""  # the server hung up (a test failure, not a hang, if it never does)
        assert time.monotonic() - t0 < 60


def test_pool_is_bounded_and_the_listen_queue_is_deep(server):
    from vsgrpo.browse import WORKERS

    assert server.request_queue_size >= 200 and WORKERS >= 4
    assert server.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_200_simultaneous_connections_are_all_answered(server):
    port = server.server_address[1]
    socks = [socket.socket() for _ in range(200)]
    for s in socks:
        s.settimeout(60)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    request = f"GET /api/scenes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    failures = 0
    for s in socks:
        s.setblocking(True)
        s.settimeout(60)
        try:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            failures += not data.startswith(b"HTTP/1.1 200") and not data.startswith(b"HTTP/1.0 200")
        except OSError:
            failures += 1
        finally:
            s.close()
    assert failures == 0


# --- every bad request: a 4xx (5xx) with a body ------------------------------------------------

BAD_BODIES = [
    ("Infinity", b'{"id": Infinity}'),
    ("NaN", b'{"id": NaN, "flagged": true}'),
    ("1e999", b'{"id": 1e999}'),
    ("deep", b"[" * 30000 + b"]" * 30000),
    ("flagged as text", None),
    ("id as text", b'{"id": "7"}'),
    ("id as bool", b'{"id": true}'),
    ("id past int64", b'{"id": 99999999999999999999}'),
    ("not an object", b"[1, 2]"),
    ("not UTF-8", b'{"id": "\xff\xfe"}'),
    ("not JSON", b"id=1"),
]


@pytest.mark.parametrize("name,body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_are_a_400_with_a_body(server, root, name, body):
    port = server.server_address[1]
    if body is None:
        body = json.dumps({"id": _ids(root)[0], "flagged": "false"}).encode()
    if len(body) > 65536:
        body = b"[" * 30000 + b"]" * 30000  # 60 kB: under the body limit, so the parser meets it
    status, _, reply = _post(port, body)
    assert status == 400, reply
    _error_body(reply)
    assert not (root / "flags.json").exists()


def test_flags_json_that_is_a_folder_is_an_error_with_a_body(server, root):
    port = server.server_address[1]
    (root / "flags.json").mkdir()
    try:
        status, _, body = _post(port, json.dumps({"id": _ids(root)[0], "flagged": True}).encode())
        assert status >= 400 and "flags" in _error_body(body)
        status, _, body = _get(port, "/api/scenes")
        assert status >= 400 and _error_body(body)
    finally:
        (root / "flags.json").rmdir()


def test_read_only_root_is_an_error_with_a_body(server, root):
    port = server.server_address[1]
    with read_only(root):
        status, _, body = _post(port, json.dumps({"id": _ids(root)[0], "flagged": True}).encode())
        assert 400 <= status < 600 and _error_body(body)
        assert _get(port, "/api/scenes")[0] == 200  # reading still works
    assert not (root / "flags.json").exists()


def test_flagged_must_be_a_json_bool(server, root):
    port = server.server_address[1]
    qid = _ids(root)[0]
    assert _post(port, json.dumps({"id": qid, "flagged": "false"}).encode())[0] == 400
    assert _post(port, json.dumps({"id": qid, "flagged": 0}).encode())[0] == 400
    status, _, body = _post(port, json.dumps({"id": qid, "flagged": False}).encode())
    assert status == 200 and json.loads(body)["flagged"] is False


# --- media --------------------------------------------------------------------------------------


def test_media_is_streamed_not_read_whole(server, root):
    """A 24 MB video is served in chunks: the server's Python allocations stay far below its size."""
    port = server.server_address[1]
    big = root / "videos" / "synthetic" / "big.mp4"
    data = bytes(range(256)) * (24 * 4096)
    big.write_bytes(data)
    try:
        tracemalloc.start()
        try:
            status, size, digest = _get_digest(port, "/media/videos/synthetic/big.mp4")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert status == 200 and size == len(data) and digest == hashlib.sha256(data).hexdigest()
        assert peak < 4 << 20  # server and client together; reading the file whole would take 24 MB
        status, headers, body = _get(port, "/media/videos/synthetic/big.mp4", extra="Range: bytes=1000-1999\r\n")
        assert status == 206 and body == data[1000:2000] and headers["content-range"] == f"bytes 1000-1999/{len(data)}"
        status, _, body = _get(port, "/media/videos/synthetic/big.mp4", extra="Range: bytes=-10\r\n")
        assert status == 206 and body == data[-10:]
        assert _get(port, "/media/videos/synthetic/big.mp4", extra="Range: bytes=abc-\r\n")[0] == 416
    finally:
        big.unlink()


# --- two servers, one root ----------------------------------------------------------------------

SERVE = """
import sys
from vsgrpo.browse import make_server
srv = make_server(sys.argv[1], sys.argv[2], port=0)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def test_two_servers_on_one_root_lose_no_acknowledged_flag(root):
    (root / "flags.json").unlink(missing_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", SERVE, str(root), str(root / "q" / "questions.parquet")],
                              env=_env(), stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        ports = [int(p.stdout.readline()) for p in procs]
        ids = _ids(root)[:60]
        acked, lock = [], threading.Lock()

        def flag(port, mine):
            for qid in mine:
                status, _, _ = _post(port, json.dumps({"id": qid, "flagged": True}).encode())
                if status == 200:
                    with lock:
                        acked.append(qid)

        threads = [threading.Thread(target=flag, args=(ports[k % 2], ids[k::4])) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        flags = json.loads((root / "flags.json").read_text())["flags"]
        saved = {f["id"] for f in flags.values()}
        assert len(acked) == len(ids) and set(acked) <= saved
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        (root / "flags.json").unlink(missing_ok=True)
