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

Bounds (a slow, broken or hostile server cannot hang, flood or redirect a run):

- ``--timeout`` (default :data:`DEFAULT_TIMEOUT` s) is the whole time one request may take,
  connecting, retries and waits included, enforced by a watchdog that closes the socket: a
  silent server or one trickling a byte a second is cut off at the deadline, not after each
  read. When it is spent the run stops (raise ``--timeout`` and rerun the same command to resume).
- Redirects are never followed, to another host or the same one: a 3xx stops the run with a
  line naming where it pointed (set ``--base-url`` to the final address). So the API key is only
  ever sent to ``--base-url``.
- ``Retry-After`` on a 429/503 is honoured, up to :data:`RETRY_AFTER_CAP` s and never past the
  deadline.
- A reply larger than :data:`MAX_REPLY_BYTES` is not read further (that sample's error).
- A reply whose ``choices[0].message.content`` is missing, null or not a string (a list of
  parts, a number) is that sample's error, reported and counted as an error, never scored.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import io
import json
import math
import os
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ...errors import VsgrpoError
from .base import Request

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 300.0  # seconds for one request, retries included (--timeout)
RETRY_AFTER_CAP = 60.0  # the longest Retry-After honoured, in seconds
MAX_REPLY_BYTES = 8 << 20  # a chat completion with text content is far smaller
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


def resolve_base_url(base_url: str | None) -> str:
    """The endpoint a run talks to: ``--base-url``, else ``$OPENAI_BASE_URL``, else OpenAI's (no trailing /)."""
    return (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


class _DeadlineSpent(Exception):
    """The request's ``--timeout`` ran out (the watchdog closed the socket)."""


class _ReplyTooLarge(Exception):
    """The reply passed :data:`MAX_REPLY_BYTES`."""


def _exchange(url: str, data: bytes, headers: dict, deadline: float) -> tuple[int, dict, bytes]:
    """POST ``data`` to ``url`` and read the whole reply by ``deadline`` (a ``time.monotonic()`` value).

    Returns the status, the headers (lower-case names) and at most :data:`MAX_REPLY_BYTES` of
    body. A watchdog shuts the socket down at the deadline, so no phase (connecting, sending,
    waiting for headers, a body trickling in) can outlast it, whatever the per-read timing.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlineSpent
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=remaining)
    expired = threading.Event()

    def cut():
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", parts.path or "/", body=data, headers=headers)
        resp = conn.getresponse()
        reply_headers = {k.lower(): v for k, v in resp.getheaders()}
        declared = reply_headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > MAX_REPLY_BYTES:
            raise _ReplyTooLarge
        chunks, size = [], 0
        while True:
            chunk = resp.read1(1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _ReplyTooLarge
            chunks.append(chunk)
        if expired.is_set():  # the watchdog's shutdown can look like a clean end of the reply
            raise _DeadlineSpent
        return resp.status, reply_headers, b"".join(chunks)
    except (OSError, http.client.HTTPException, ValueError):
        if expired.is_set() or time.monotonic() >= deadline:
            raise _DeadlineSpent from None
        raise
    finally:
        watchdog.cancel()
        conn.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped at :data:`RETRY_AFTER_CAP`."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))


def _content(raw: bytes, url: str) -> str | Exception:
    """The text of a chat completion, or the sample's error when the reply has none."""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        return RuntimeError(f"{url} sent a reply that is not JSON: {str(e)[:200]}")
    try:
        text = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return RuntimeError(f"{url} sent no choices[0].message.content: {raw[:300].decode('utf-8', 'replace')}")
    if not isinstance(text, str):
        shown = "null" if text is None else type(text).__name__
        return RuntimeError(f"{url} sent choices[0].message.content as {shown}, not text")
    return text


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
    options = ("base_url", "api_key_env", "video_as", "timeout")  # the BackendOptions fields it takes

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = DEFAULT_TIMEOUT, max_retries: int = 4, jpeg_quality: int = 85,
                 image_detail: str | None = None, concurrency: int | None = None, video_as: str = "auto"):
        if video_as not in VIDEO_AS:
            raise VsgrpoError(f"--video-as must be one of {', '.join(VIDEO_AS)}, got {video_as!r}")
        self.video_as = video_as
        self.hints: bool | None = None  # the server takes video_hints(); None until the first video is sent
        self.model = model
        self.base_url = resolve_base_url(base_url)
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise VsgrpoError(f"--base-url must be an http:// or https:// address, got {self.base_url!r}")
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError as e:
            raise VsgrpoError(f"--base-url {self.base_url!r}: {e}") from None
        if parts.query or parts.fragment:
            raise VsgrpoError(f"--base-url must not carry a query or fragment, got {self.base_url!r}")
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise VsgrpoError(f"--timeout must be a positive number of seconds, got {timeout!r}")
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
        """One question's request: its text, or its error; raises :class:`EndpointError` to stop the run."""
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url + "/chat/completions"
        deadline = time.monotonic() + self.timeout
        last, pause = "", None  # pause: the server's Retry-After, else the backoff
        for attempt in range(self.max_retries + 1):
            if attempt:
                wait = min(30.0, 0.5 * 2 ** (attempt - 1)) if pause is None else pause
                if wait >= deadline - time.monotonic():
                    raise EndpointError(f"{url} kept failing ({last}) and the next try (in {wait:g} s) would pass "
                                        f"--timeout {self.timeout:g} s; rerun the same command later to resume")
                time.sleep(wait)
            try:
                status, reply_headers, raw = _exchange(url, data, headers, deadline)
            except _DeadlineSpent:
                raise EndpointError(f"{url} gave no complete reply within --timeout {self.timeout:g} s "
                                    f"({last or 'no answer'}); raise --timeout or rerun the same command to resume") from None
            except _ReplyTooLarge:
                return RuntimeError(f"{url} sent a reply larger than {MAX_REPLY_BYTES >> 20} MiB; not read")
            except (OSError, http.client.HTTPException) as e:
                last, pause = f"{type(e).__name__}: {e}".rstrip(": "), None
                continue
            if 300 <= status < 400:
                where = reply_headers.get("location", "(no Location)")
                raise EndpointError(f"{url} answered HTTP {status} redirecting to {where}; redirects are not followed "
                                    "(the API key goes only to --base-url): set --base-url to the final address")
            detail = raw[:300].decode("utf-8", "replace")
            if status in (401, 403):
                raise EndpointError(f"{url} refused the API key (HTTP {status}); check ${self.api_key_env}")
            if status == 429 or status >= 500:
                last = f"HTTP {status}: {detail}"
                pause = _retry_after(reply_headers.get("retry-after"))
                continue
            if status >= 400 or status < 200:
                return RuntimeError(f"HTTP {status} from {url}: {detail}")
            return _content(raw, url)
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


BACKEND = OpenAIBackend
