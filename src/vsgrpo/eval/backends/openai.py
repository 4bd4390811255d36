"""``openai`` backend: any OpenAI-compatible ``/chat/completions`` endpoint, over plain HTTP.

How the sampled frames travel (``--video-as``):

- ``video``: exactly the frames vsgrpo sampled (the same uniform indices as ``hf``), as one
  lossless mp4 (``video_url`` part, a base64 data URL) whose frame rate is the sampled rate, so
  the server sees one video with the frames' real timestamps, as the model was trained. A server
  may still re-sample a clip (vLLM's loader keeps at most 32 frames, and at most duration x 2 fps
  by default): each request also carries vLLM's per-request settings for "every frame, no
  re-sampling" (:func:`video_hints`). A server that refuses them (vLLM without
  ``--trust-request-mm-kwargs``) gets the video without them and a warning naming the server
  flags that do the same (:data:`SERVER_FLAGS`).
- ``frames``: one JPEG ``image_url`` part per frame, for APIs that take only images (the model
  then sees still images, not a video: other visual tokens and positions).
- ``auto`` (default): ``video``; when the server answers the first video request with a 4xx
  (it does not take video), the run switches to ``frames`` and records that in its config.

One user turn per question, the parts before the prompt text, ``temperature=0``. The API key is
read from an environment variable (default ``OPENAI_API_KEY``), never from the command line, so it
does not land in shell history or in the run's config file. Requests of a batch run concurrently
(``--batch-size`` = parallel requests).

Transient failures (connection errors, 429, 5xx) are retried with backoff; when they persist the
run stops (resume it later). A 4xx answer to one request is recorded as that sample's error.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor

from ...errors import VsgrpoError
from .base import Request

DEFAULT_BASE_URL = "https://api.openai.com/v1"
VIDEO_AS = ("auto", "video", "frames")
# vLLM's per-request settings that make it use exactly the frames sent: every frame of the clip
# (its loader keeps at most 32, and at most duration x fps, with fps 2 by default) and no
# re-sampling by the processor. A vLLM server accepts them only when started with
# --trust-request-mm-kwargs; SERVER_FLAGS set the same server-wide.
def video_hints(fps: float) -> dict:
    """vLLM's per-request settings for one clip of sampled rate ``fps`` (a hair above it, so float
    rounding of duration x fps never drops the last frame)."""
    return {"media_io_kwargs": {"video": {"num_frames": -1, "fps": float(fps) * 1.01}},
            "mm_processor_kwargs": {"do_sample_frames": False}}


SERVER_FLAGS = ("--media-io-kwargs '{\"video\": {\"num_frames\": -1, \"fps\": 1000}}' "
                "--mm-processor-kwargs '{\"do_sample_frames\": false}'")


class EndpointError(VsgrpoError):
    """The endpoint is unreachable or keeps failing; the run stops and can be resumed."""


def video_to_data_url(frames, fps: float) -> str:
    """Sampled frames as one ``data:video/mp4;base64,...`` URL (lossless, see :func:`vsgrpo.video.encode_clip`)."""
    from ...video import encode_clip

    return "data:video/mp4;base64," + base64.b64encode(encode_clip(frames, fps)).decode("ascii")


def frame_to_data_url(frame, *, quality: int = 85) -> str:
    """One RGB uint8 frame as a ``data:image/jpeg;base64,...`` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, max_retries: int = 4, jpeg_quality: int = 85,
                 image_detail: str | None = None, concurrency: int | None = None, video_as: str = "auto"):
        if video_as not in VIDEO_AS:
            raise VsgrpoError(f"--video-as must be one of {', '.join(VIDEO_AS)}, got {video_as!r}")
        self.video_as = video_as
        self.hints: bool | None = None  # the server takes video_hints(); None until the first video is sent
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise VsgrpoError(f"--base-url must start with http:// or https://, got {self.base_url!r}")
        self.api_key_env = api_key_env
        self.api_key = os.environ.get(api_key_env)
        if not self.api_key and self.base_url == DEFAULT_BASE_URL:
            raise VsgrpoError(f"set the API key in the environment variable {api_key_env} "
                              "(or point --base-url at a server that needs none)")
        self.timeout, self.max_retries = timeout, max_retries
        self.jpeg_quality, self.image_detail = jpeg_quality, image_detail
        self.concurrency = concurrency

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url,
                "api_key_env": self.api_key_env, "video_as": self.video_as, "video_hints": self.hints}

    def payload(self, req: Request, max_new_tokens: int, *, as_video: bool | None = None,
                hints: bool | None = None) -> dict:
        """The request body. ``as_video`` overrides the mode (``None``: video unless ``frames``);
        ``hints`` adds vLLM's per-request video settings (``None``: unless the server refused them)."""
        as_video = self.video_as != "frames" if as_video is None else as_video
        hints = self.hints is not False if hints is None else hints
        content = []
        body: dict = {"model": self.model, "temperature": 0, "max_tokens": max_new_tokens}
        if req.frames is not None and as_video:  # (no frames: blind, text only)
            content.append({"type": "video_url", "video_url": {"url": video_to_data_url(req.frames, req.fps or 1.0)}})
            if hints:
                body.update(video_hints(req.fps or 1.0))
        elif req.frames is not None:
            for frame in req.frames:
                image = {"url": frame_to_data_url(frame, quality=self.jpeg_quality)}
                if self.image_detail:
                    image["detail"] = self.image_detail
                content.append({"type": "image_url", "image_url": image})
        content.append({"type": "text", "text": req.prompt})
        body["messages"] = [{"role": "user", "content": content}]
        return body

    def _post(self, body: dict) -> str | Exception:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url + "/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    reply = json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:300]
                if e.code in (401, 403):
                    raise EndpointError(f"{url} refused the API key (HTTP {e.code}); check ${self.api_key_env}") from None
                if e.code == 429 or e.code >= 500:
                    last = f"HTTP {e.code}: {detail}"
                    continue
                return RuntimeError(f"HTTP {e.code} from {url}: {detail}")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = str(getattr(e, "reason", e))
                continue
            except ValueError as e:
                return RuntimeError(f"{url} sent a reply that is not JSON: {e}")
            try:
                text = reply["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                return RuntimeError(f"{url} sent no choices[0].message.content: {str(reply)[:300]}")
            return text if isinstance(text, str) else ""
        raise EndpointError(f"{url} kept failing after {self.max_retries + 1} attempts ({last}); "
                            "rerun the same command to resume")

    def generate(self, requests: list[Request], *, max_new_tokens: int) -> list[str | Exception]:
        probe = next((i for i, r in enumerate(requests) if r.frames is not None), None)
        if probe is None or self.video_as == "frames" or self.hints is not None:
            return self._generate_bodies([self.payload(r, max_new_tokens) for r in requests])
        first = self._probe(requests[probe], max_new_tokens)
        rest = [i for i in range(len(requests)) if i != probe]
        outputs = dict(zip(rest, self._generate_bodies([self.payload(requests[i], max_new_tokens) for i in rest])))
        outputs[probe] = first
        return [outputs[i] for i in range(len(requests))]

    def _probe(self, req: Request, max_new_tokens: int) -> str | Exception:
        """Send the run's first video and settle what this server takes: video with the per-request
        hints, video without them (the server may re-sample the clip: warn), or (``auto``) frames."""
        def refused(out) -> bool:
            return isinstance(out, RuntimeError) and str(out).startswith("HTTP 4")

        out = self._post(self.payload(req, max_new_tokens, as_video=True, hints=True))
        if not refused(out):
            self.hints = True
            self.video_as = "video"
            return out
        out = self._post(self.payload(req, max_new_tokens, as_video=True, hints=False))
        if not refused(out):
            self.hints = False
            self.video_as = "video"
            warnings.warn(f"{self.base_url} takes video but not per-request video settings, so it may re-sample "
                          "the clip at its own frame rate. For vLLM start the server with " + SERVER_FLAGS +
                          " (or --trust-request-mm-kwargs) so it uses exactly the frames vsgrpo sampled.",
                          stacklevel=2)
            return out
        if self.video_as == "video":
            self.hints = False
            return out  # the sample's error; the user asked for video
        self.video_as, self.hints = "frames", False
        return self._post(self.payload(req, max_new_tokens))

    def _generate_bodies(self, bodies: list[dict]) -> list[str | Exception]:
        if not bodies:
            return []
        if len(bodies) == 1:
            return [self._post(bodies[0])]
        with ThreadPoolExecutor(max_workers=self.concurrency or len(bodies)) as pool:
            return list(pool.map(self._post, bodies))

    def close(self) -> None:
        pass
