"""The `openai` backend against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vsgrpo.cli import main
from vsgrpo.errors import VsgrpoError

FRAMES = 3


class ChatServer:
    """Records each request; answers with ``replies[prompt text]`` (or a scripted HTTP status)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: dict[str, str] = {}
        self.statuses: list[int] = []  # consumed first, one per request
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = server.statuses.pop(0) if server.statuses else 200
                prompt = body["messages"][0]["content"][-1]["text"]
                if status == 200 and prompt.startswith("REJECT"):
                    status = 400
                payload = ({"choices": [{"message": {"role": "assistant", "content": server.replies.get(prompt, "")}}]}
                           if status == 200 else {"error": {"message": f"scripted {status}"}})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory, vsibench_dir):
    from vsgrpo.video import write_video

    root = tmp_path_factory.mktemp("openai")
    df = pd.read_parquet(vsibench_dir / "test-dev.parquet")
    sub = pd.concat([df[df.question_type == t].head(1) for t in
                     ("object_counting", "object_abs_distance", "object_rel_direction_hard", "route_planning")])
    sub.to_parquet(root / "q.parquet")
    rng = np.random.default_rng(1)
    for ds, scene in set(zip(sub.dataset, sub.scene_name)):
        write_video(root / "videos" / ds / f"{scene}.mp4", rng.integers(0, 256, (6, 40, 56, 3), dtype=np.uint8), fps=3)
    return root, sub


def _args(root, server, out, *extra):
    return ["eval", "run", "--backend", "openai", "--model", "served-model", "--base-url", server.url,
            "--api-key-env", "VSGRPO_TEST_KEY", "--questions", str(root / "q.parquet"), "--videos",
            str(root / "videos"), "--frames", str(FRAMES), "--out", str(out), *extra]


def test_openai_backend_sends_frames_and_key_and_scores_replies(server, data, tmp_path, monkeypatch):
    from vsgrpo.prompts import build_prompt

    root, sub = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "sk-test-123")
    correct = {}
    for q in sub.itertuples():
        prompt = build_prompt(q.question, list(q.options) if q.options is not None else None, mode="think")
        # Right answers for counting and routes (in tags), a wrong one for the others.
        right = q.question_type in ("object_counting", "route_planning")
        answer = q.ground_truth if right else ("999" if q.options is None else "Z")
        server.replies[prompt] = f"<think>looking</think><answer>{answer}</answer>"
        correct[q.question_type] = right
    server.statuses = [503]  # first request fails transiently: retried
    assert main(_args(root, server, tmp_path / "run", "--mode", "think", "--batch-size", "2")) == 0

    assert len(server.requests) == len(sub) + 1
    for req in server.requests:
        assert req["path"] == "/v1/chat/completions"
        assert req["headers"]["Authorization"] == "Bearer sk-test-123"
        body = req["body"]
        assert body["model"] == "served-model" and body["temperature"] == 0 and body["max_tokens"] == 1024
        parts = body["messages"][0]["content"]
        images = [p for p in parts if p["type"] == "image_url"]
        assert len(images) == FRAMES and parts[-1]["type"] == "text"
        for image in images:
            url = image["image_url"]["url"]
            assert url.startswith("data:image/jpeg;base64,")
            decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
            assert decoded.format == "JPEG" and decoded.size == (56, 40)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["errors"] == 0 and results["count"] == len(sub)
    assert results["scores"]["object_counting"] == 100.0 and results["scores"]["route_planning"] == 100.0
    assert results["scores"]["object_abs_distance"] == 0.0 and results["scores"]["object_rel_direction"] == 0.0
    config = (tmp_path / "run" / "config.json").read_text()
    assert "sk-test-123" not in config  # the key never lands on disk


def test_openai_request_errors_are_recorded_per_sample(server, data, tmp_path, monkeypatch):
    root, sub = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "k")
    server.statuses = [400]
    assert main(_args(root, server, tmp_path / "run", "--limit", "2")) == 0
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert rows[0]["error"].startswith("generation: HTTP 400") and rows[0]["score"] is None
    assert rows[1]["error"] is None
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["errors"], results["count"]) == (1, 1)
    # --retry-errors runs the failed sample again; the file still has each id once.
    assert main(_args(root, server, tmp_path / "run", "--limit", "2", "--retry-errors")) == 0
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert [r["error"] for r in rows] == [None, None] and len({r["id"] for r in rows}) == 2


def test_openai_rejected_key_stops_the_run(server, data, tmp_path, monkeypatch, capsys):
    root, _ = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "bad")
    server.statuses = [401]
    assert main(_args(root, server, tmp_path / "run", "--limit", "1")) == 2
    assert "VSGRPO_TEST_KEY" in capsys.readouterr().err
    assert (tmp_path / "run" / "samples.jsonl").read_text() == ""


def test_unreachable_endpoint_is_a_clear_error(data, tmp_path):
    from vsgrpo.eval.backends.openai import OpenAIBackend
    from vsgrpo.eval.backends.base import Request

    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", max_retries=1, timeout=2)
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(VsgrpoError, match="resume"):
        backend.generate([Request(0, "q", frames, 1.0)], max_new_tokens=4)


def test_vllm_backend_absent_gives_clear_error(data, tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    from vsgrpo.eval import run_eval

    root, _ = data
    with pytest.raises(VsgrpoError, match="pip install 'vsgrpo\\[vllm\\]'"):
        run_eval(model="some/model", questions=str(root / "q.parquet"), videos=str(root / "videos"),
                 out=str(tmp_path / "v"), backend="vllm", limit=1)
