"""The `openai` backend against hostile servers on 127.0.0.1: redirects, silence, trickles,
floods, Retry-After, malformed replies, and resume with other backend settings.

Each server is a real TCP listener in a thread, written at the socket level so it can misbehave
in ways ``http.server`` would not (a body one byte at a time, a reply that never comes). Every
server stops on its own after a bounded time, so a client that does not cut it off fails the test
instead of hanging it.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError
from vsgrpo.eval.backends.base import Request
from vsgrpo.eval.backends.openai import OpenAIBackend

FRAMES = 2


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each, with its parsed request, to ``script``.

    ``script(conn, request, n)``: ``n`` counts connections from 0; ``request`` is
    ``{"line", "headers", "body"}``. Each record goes to ``self.requests``.
    """

    def __init__(self, script, *, life: float = 30.0):
        self.script, self.requests, self.lock = script, [], threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.stop_at = time.monotonic() + life
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        n = 0
        while time.monotonic() < self.stop_at:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._one, args=(conn, n), daemon=True).start()
            n += 1

    def _one(self, conn, n):
        conn.settimeout(10)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, body = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            while len(body) < int(headers.get("content-length", 0)):
                body += conn.recv(65536)
            request = {"line": lines[0], "headers": headers, "body": json.loads(body) if body else None,
                       "at": time.monotonic()}
            with self.lock:
                self.requests.append(request)
            self.script(conn, request, n)
        except OSError:
            pass  # the client hung up (as it should, for some scripts)
        finally:
            conn.close()

    def close(self):
        self.stop_at = 0
        self.thread.join(5)
        self.sock.close()


def reply(conn, status: int = 200, obj=None, headers: dict | None = None):
    body = json.dumps(obj if obj is not None else {}).encode()
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def completion(text):
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


@pytest.fixture
def servers():
    made = []

    def make(script, **kw):
        made.append(RawServer(script, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _request():
    return Request(0, "How many chairs?", np.zeros((FRAMES, 8, 8, 3), np.uint8), 1.0)


def _generate(backend):
    return backend.generate([_request()], max_new_tokens=8)[0]


# --- redirects ----------------------------------------------------------------------------------


def test_redirect_to_another_host_is_refused_and_the_key_never_leaves(servers, monkeypatch):
    other = servers(lambda conn, req, n: reply(conn, 200, completion("3")))
    first = servers(lambda conn, req, n: reply(conn, 302, {}, {"Location": other.url.replace("127.0.0.1", "localhost")
                                                                 + "/chat/completions"}))
    monkeypatch.setenv("VSGRPO_TEST_KEY", "sk-secret")
    backend = OpenAIBackend("m", base_url=first.url, api_key_env="VSGRPO_TEST_KEY", video_as="frames", timeout=20)
    with pytest.raises(VsgrpoError, match="redirect"):
        _generate(backend)
    assert other.requests == []  # nothing reached the other host: no key, no prediction
    assert first.requests[0]["headers"]["authorization"] == "Bearer sk-secret"


def test_redirect_on_the_same_host_is_refused_too(servers):
    """Documented choice: no redirect is followed; the message names where it pointed."""
    def script(conn, req, n):
        if req["line"].startswith("POST /v1/chat/completions"):
            reply(conn, 307, {}, {"Location": "/v2/chat/completions"})
        else:
            reply(conn, 200, completion("3"))

    s = servers(script)
    with pytest.raises(VsgrpoError, match="/v2/chat/completions"):
        _generate(OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=20))
    assert len(s.requests) == 1


def test_cli_redirect_is_one_line_and_exit_2(servers, data, tmp_path, capsys):
    other = servers(lambda conn, req, n: reply(conn, 200, completion("3")))
    first = servers(lambda conn, req, n: reply(conn, 302, {}, {"Location": other.url + "/chat/completions"}))
    root, _ = data
    assert main(_args(root, first.url, tmp_path / "run", "--limit", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vsgrpo: error:") and "redirect" in err[0]
    assert other.requests == []


# --- the total deadline -------------------------------------------------------------------------


def _trickle(conn, req, n):
    """Headers at once, then a valid reply one byte every 0.2 s (about 30 s in all; stops when the client hangs up)."""
    body = json.dumps(completion("3")).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    for b in body.ljust(150):
        conn.sendall(bytes([b]))
        time.sleep(0.2)


def _run_bounded(fn, limit: float = 60.0):
    """``fn()`` in a thread; its result or exception. Fails (instead of hanging) when it outlives ``limit``."""
    box = {}

    def go():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (handed back to the test)
            box["error"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"the request was not cut off within {limit} s"
    return box


def test_a_trickling_server_hits_the_total_deadline(servers):
    s = servers(_trickle, life=40)
    backend = OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=1.5)
    box = _run_bounded(lambda: _generate(backend))
    assert isinstance(box.get("error"), VsgrpoError), box  # each byte arrives well within a read timeout
    assert "--timeout" in str(box["error"])


def test_a_silent_server_costs_one_deadline_not_one_per_retry(servers):
    hold = threading.Event()
    s = servers(lambda conn, req, n: hold.wait(30), life=40)
    backend = OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=1.5, max_retries=4)
    try:
        box = _run_bounded(lambda: _generate(backend))
    finally:
        hold.set()
    assert isinstance(box.get("error"), VsgrpoError) and "--timeout" in str(box["error"])
    assert len(s.requests) == 1  # the deadline covers the retries: none after it is spent


def test_timeout_flag_reaches_the_backend(servers, data, tmp_path, capsys):
    hold = threading.Event()
    s = servers(lambda conn, req, n: hold.wait(30), life=40)
    root, _ = data
    try:
        box = _run_bounded(lambda: main(_args(root, s.url, tmp_path / "run", "--limit", "1", "--timeout", "1")))
    finally:
        hold.set()
    assert box.get("value") == 2, box
    assert "--timeout 1 s" in capsys.readouterr().err


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_is_honoured(servers):
    def script(conn, req, n):
        if n == 0:
            reply(conn, 429, {"error": "slow down"}, {"Retry-After": "2"})
        else:
            reply(conn, 200, completion("3"))

    s = servers(script)
    out = _generate(OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=30))
    assert out == "3"
    gap = s.requests[1]["at"] - s.requests[0]["at"]
    assert gap >= 1.9  # waited as asked (the backoff alone would be 0.5 s)


def test_retry_after_is_capped_and_never_passes_the_deadline(servers):
    from vsgrpo.eval.backends.openai import RETRY_AFTER_CAP, _retry_after

    assert _retry_after("3600") == RETRY_AFTER_CAP and _retry_after("-5") == 0.0
    assert _retry_after("nan") is None and _retry_after("soon") is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: at once
    s = servers(lambda conn, req, n: reply(conn, 503, {}, {"Retry-After": "3600"}))
    box = _run_bounded(lambda: _generate(OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=5)))
    assert isinstance(box.get("error"), VsgrpoError) and "--timeout" in str(box["error"])
    assert len(s.requests) == 1  # did not sleep through the cap and try again past the deadline


# --- reply size ---------------------------------------------------------------------------------


def _flood(declared: bool):
    def script(conn, req, n):
        size = 50 << 20
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declared:
            head += f"Content-Length: {size}\r\n"
        conn.sendall((head + "\r\n").encode() + b'{"choices": [{"message": {"content": "')
        block = b"x" * (1 << 20)
        for _ in range(50):
            conn.sendall(block)
    return script


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_a_50_mb_reply_is_not_buffered(servers, declared):
    s = servers(_flood(declared))
    out = _generate(OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=60))
    assert isinstance(out, RuntimeError) and "larger than" in str(out)


# --- malformed content: per-sample errors, counted ---------------------------------------------

BAD_REPLIES = [
    ("null", {"choices": [{"message": {"role": "assistant", "content": None}}]}),
    ("list", {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "3"}]}}]}),
    ("missing", {"choices": [{"message": {"role": "assistant"}}]}),
    ("number", {"choices": [{"message": {"role": "assistant", "content": 3}}]}),
]


@pytest.mark.parametrize("name,obj", BAD_REPLIES, ids=[b[0] for b in BAD_REPLIES])
def test_malformed_content_is_a_sample_error(servers, name, obj):
    s = servers(lambda conn, req, n: reply(conn, 200, obj))
    out = _generate(OpenAIBackend("m", base_url=s.url, video_as="frames", timeout=20))
    assert isinstance(out, RuntimeError) and "content" in str(out)


def test_malformed_content_is_reported_and_counted_in_a_run(servers, data, tmp_path):
    root, sub = data
    s = servers(lambda conn, req, n: reply(conn, 200, BAD_REPLIES[n % len(BAD_REPLIES)][1]))
    assert main(_args(root, s.url, tmp_path / "run", "--video-as", "frames")) == 1  # every sample failed
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == len(sub)
    assert all(r["error"] and "content" in r["error"] and r["score"] is None for r in rows)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["errors"] == len(sub) and results["count"] == 0


# --- resume with other backend settings ----------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory, vsibench_dir):
    from vsgrpo.video import write_video

    root = tmp_path_factory.mktemp("openai-bounds")
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in ("object_counting", "object_abs_distance")])
    sub.to_parquet(root / "q.parquet")
    rng = np.random.default_rng(1)
    for ds, scene in set(zip(sub.dataset, sub.scene_name)):
        write_video(root / "videos" / ds / f"{scene}.mp4", rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8), fps=2)
    return root, sub


def _args(root, url, out, *extra):
    return ["eval", "run", "--backend", "openai", "--model", "served-model", "--base-url", url,
            "--questions", str(root / "q.parquet"), "--videos", str(root / "videos"), "--frames", str(FRAMES),
            "--out", str(out), *extra]


@pytest.mark.parametrize("change", [("--base-url", None), ("--video-as", "video")], ids=["base-url", "video-as"])
def test_resume_with_other_backend_settings_is_refused(servers, data, tmp_path, capsys, change):
    root, _ = data
    a = servers(lambda conn, req, n: reply(conn, 200, completion("3")))
    b = servers(lambda conn, req, n: reply(conn, 200, completion("7")))
    out = tmp_path / "run"
    assert main(_args(root, a.url, out, "--limit", "1", "--video-as", "frames")) == 0
    capsys.readouterr()
    flag, value = change
    args = _args(root, b.url if flag == "--base-url" else a.url, out, "--video-as", value or "frames")
    before = (out / "samples.jsonl").read_text()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "--overwrite" in err[0]
    assert (out / "samples.jsonl").read_text() == before and b.requests == []
    assert main([*args, "--overwrite"]) == 0  # starts over with the new settings


def test_base_url_from_the_environment_is_stored_and_compared(servers, data, tmp_path, monkeypatch, capsys):
    root, _ = data
    a = servers(lambda conn, req, n: reply(conn, 200, completion("3")))
    b = servers(lambda conn, req, n: reply(conn, 200, completion("7")))
    out = tmp_path / "run"
    args = [x for x in _args(root, "", out, "--limit", "1", "--video-as", "frames") if x not in ("--base-url", "")]
    monkeypatch.setenv("OPENAI_BASE_URL", a.url)
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["backend_options"]["base_url"] == a.url
    monkeypatch.setenv("OPENAI_BASE_URL", b.url)
    assert main([*args, "--limit", "2"]) == 2
    assert "--base-url" in capsys.readouterr().err and b.requests == []


class _Echo:
    """A user-supplied backend (the documented ``backend_instance`` API): answers every question "1"."""

    def generate(self, requests, *, max_new_tokens):
        return ["1"] * len(requests)


@pytest.mark.parametrize("key,old,new", [("max_pixels", 100_000, 200_000), ("min_pixels", None, 3136),
                                         ("dtype", "auto", "bfloat16")])
def test_resume_with_other_pixels_or_dtype_is_refused(data, tmp_path, key, old, new):
    from vsgrpo.eval import run_eval

    root, _ = data
    common = dict(model="m", questions=str(root / "q.parquet"), videos=str(root / "videos"), out=str(tmp_path / "r"),
                  frames=FRAMES, limit=1)
    run_eval(backend_instance=_Echo(), backend_options={key: old} if old is not None else {}, **common)
    with pytest.raises(VsgrpoError, match=f"--{key.replace('_', '-')}"):
        run_eval(backend_instance=_Echo(), backend_options={key: new}, **common)


def test_run_stored_before_base_url_was_resolved_still_resumes(servers, data, tmp_path, capsys):
    """Older config.json files have base_url null (taken from $OPENAI_BASE_URL) and the real address in backend_info."""
    root, _ = data
    a = servers(lambda conn, req, n: reply(conn, 200, completion("3")))
    b = servers(lambda conn, req, n: reply(conn, 200, completion("7")))
    out = tmp_path / "run"
    assert main(_args(root, a.url, out, "--limit", "1", "--video-as", "frames")) == 0
    config = json.loads((out / "config.json").read_text())
    config["backend_options"]["base_url"] = None
    (out / "config.json").write_text(json.dumps(config))
    assert main(_args(root, b.url, out, "--limit", "2", "--video-as", "frames")) == 2
    assert "--base-url" in capsys.readouterr().err
    assert main(_args(root, a.url, out, "--limit", "2", "--video-as", "frames")) == 0
