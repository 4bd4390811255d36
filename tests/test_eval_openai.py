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
    """Records each request; answers with ``replies[(model, prompt text)]``, else ``replies[prompt text]`` (or a
    scripted HTTP status)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: dict[str, str] = {}
        self.statuses: list[int] = []  # consumed first, one per request
        self.reject_video = False      # answer 400 to video_url parts, as an image-only API does
        self.reject_hints = False      # answer 400 to vLLM's per-request settings, as vLLM does by default
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
                if status == 200 and server.reject_hints and "mm_processor_kwargs" in body:
                    status = 400
                if status == 200 and server.reject_video and any(
                        p["type"] == "video_url" for p in body["messages"][0]["content"]):
                    status = 400
                text = server.replies.get((body.get("model"), prompt), server.replies.get(prompt, ""))
                payload = ({"choices": [{"message": {"role": "assistant", "content": text}}]}
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
    assert main(_args(root, server, tmp_path / "run", "--mode", "think", "--batch-size", "2",
                      "--video-as", "frames")) == 0

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
    assert main(_args(root, server, tmp_path / "run", "--limit", "2", "--video-as", "frames")) == 0
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert rows[0]["error"].startswith("generation: HTTP 400") and rows[0]["score"] is None
    assert rows[1]["error"] is None
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["errors"], results["count"]) == (1, 1)
    # --retry-errors runs the failed sample again; the file still has each id once.
    assert main(_args(root, server, tmp_path / "run", "--limit", "2", "--retry-errors", "--video-as", "frames")) == 0
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
    from vsgrpo.eval.backends.base import Request
    from vsgrpo.eval.backends.openai import OpenAIBackend

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
    with pytest.raises(VsgrpoError, match="setup_vllm_env.sh"):
        run_eval(model="some/model", questions=str(root / "q.parquet"), videos=str(root / "videos"),
                 out=str(tmp_path / "v"), backend="vllm", limit=1)


def _decode_video_part(part) -> tuple[np.ndarray, float]:
    import av

    url = part["video_url"]["url"]
    assert url.startswith("data:video/mp4;base64,")
    with av.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def test_openai_video_mode_sends_exactly_the_sampled_frames_as_one_video(server, data, tmp_path, monkeypatch):
    from vsgrpo.video import read_frames

    root, sub = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "k")
    assert main(_args(root, server, tmp_path / "run", "--video-as", "video")) == 0
    assert len(server.requests) == len(sub)
    for req, _q in zip(sorted(server.requests, key=lambda r: r["body"]["messages"][0]["content"][-1]["text"]),
                      sorted(sub.itertuples(), key=lambda q: q.question)):
        parts = req["body"]["messages"][0]["content"]
        assert [p["type"] for p in parts] == ["video_url", "text"]
        assert req["body"]["mm_processor_kwargs"] == {"do_sample_frames": False}  # the server must not re-sample
    for req in server.requests:
        sent, rate = _decode_video_part(req["body"]["messages"][0]["content"][0])
        matches = []
        for q in sub.itertuples():
            frames, fps = read_frames(root / "videos" / q.dataset / f"{q.scene_name}.mp4", FRAMES)
            if frames.shape == sent.shape and np.array_equal(frames, sent):
                matches.append(fps)
        assert matches, "the video sent is not the frames hf would sample"
        assert rate == pytest.approx(matches[0], rel=1e-3)  # the sampled rate: the frames keep their timestamps
    info = json.loads((tmp_path / "run" / "config.json").read_text())["backend_info"]
    assert info["video_as"] == "video"


def test_openai_auto_mode_falls_back_to_frames_when_the_server_refuses_video(server, data, tmp_path, monkeypatch):
    root, sub = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "k")
    server.reject_video = True
    assert main(_args(root, server, tmp_path / "run", "--batch-size", "4")) == 0
    kinds = [[p["type"] for p in r["body"]["messages"][0]["content"]] for r in server.requests]
    assert kinds[:2] == [["video_url", "text"]] * 2  # the probe: with vLLM's settings, then without
    assert all(k == ["image_url"] * FRAMES + ["text"] for k in kinds[2:]) and len(kinds) == len(sub) + 2
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(sub["id"]) and all(r["error"] is None for r in rows)
    info = json.loads((tmp_path / "run" / "config.json").read_text())["backend_info"]
    assert info["video_as"] == "frames"


def test_openai_video_without_per_request_settings_warns_and_keeps_video(server, data, tmp_path, monkeypatch):
    """A server that takes video but refuses vLLM's per-request settings (vLLM without
    --trust-request-mm-kwargs) still gets the video, without them, and the user is told which
    server flags keep it from re-sampling the clip."""
    root, sub = data
    monkeypatch.setenv("VSGRPO_TEST_KEY", "k")
    server.reject_hints = True
    with pytest.warns(UserWarning, match="do_sample_frames"):
        assert main(_args(root, server, tmp_path / "run", "--batch-size", "4")) == 0
    bodies = [r["body"] for r in server.requests]
    assert "mm_processor_kwargs" in bodies[0] and all("mm_processor_kwargs" not in b for b in bodies[1:])
    assert all(b["messages"][0]["content"][0]["type"] == "video_url" for b in bodies)
    info = json.loads((tmp_path / "run" / "config.json").read_text())["backend_info"]
    assert (info["video_as"], info["video_hints"]) == ("video", False)


def test_openai_blind_and_bad_mode():
    from vsgrpo.eval.backends.base import Request
    from vsgrpo.eval.backends.openai import OpenAIBackend

    backend = OpenAIBackend("m", base_url="http://127.0.0.1:1/v1", video_as="video")
    blind = backend.payload(Request(0, "q", None, None), 8)
    assert [p["type"] for p in blind["messages"][0]["content"]] == ["text"] and "mm_processor_kwargs" not in blind
    with pytest.raises(VsgrpoError, match="video-as"):
        OpenAIBackend("m", base_url="http://127.0.0.1:1/v1", video_as="gif")
