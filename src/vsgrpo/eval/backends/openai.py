"""``openai`` backend: any OpenAI-compatible ``/chat/completions`` endpoint, over plain HTTP.

Frames go as base64 JPEG data URLs (``image_url`` parts) before the prompt text, one user turn
per question, ``temperature=0``. The API key is read from an environment variable (default
``OPENAI_API_KEY``), never from the command line, so it does not land in shell history or in the
run's config file. Requests of a batch run concurrently (``--batch-size`` = parallel requests).

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
from concurrent.futures import ThreadPoolExecutor

from ...errors import VsgrpoError
from .base import Request

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class EndpointError(VsgrpoError):
    """The endpoint is unreachable or keeps failing; the run stops and can be resumed."""


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
                 image_detail: str | None = None, concurrency: int | None = None):
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
                "api_key_env": self.api_key_env}

    def payload(self, req: Request, max_new_tokens: int) -> dict:
        content = []
        for frame in (req.frames if req.frames is not None else ()):  # None: blind, text only
            image = {"url": frame_to_data_url(frame, quality=self.jpeg_quality)}
            if self.image_detail:
                image["detail"] = self.image_detail
            content.append({"type": "image_url", "image_url": image})
        content.append({"type": "text", "text": req.prompt})
        return {"model": self.model, "messages": [{"role": "user", "content": content}],
                "temperature": 0, "max_tokens": max_new_tokens}

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
        bodies = [self.payload(r, max_new_tokens) for r in requests]
        if len(bodies) == 1:
            return [self._post(bodies[0])]
        with ThreadPoolExecutor(max_workers=self.concurrency or len(bodies)) as pool:
            return list(pool.map(self._post, bodies))

    def close(self) -> None:
        pass
