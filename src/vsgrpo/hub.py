"""Talking to the Hugging Face hub: fail in seconds with one line, never minutes of retries.

Contract:

- :func:`model_location` turns a hub model id into something that loads without surprises:
  the id itself when the hub answers; the cached snapshot folder when the hub cannot be reached
  (or ``HF_HUB_OFFLINE=1``) but the model was downloaded before; otherwise a
  :class:`~vsgrpo.errors.VsgrpoError` that says what to do. The check is one request with
  :func:`timeout` seconds and no retries, so an offline machine fails at once instead of
  going through transformers' per-file backoff (about 25 s per file, minutes per model).
- :func:`hub_error` turns any error of huggingface_hub / its HTTP client into one line.
- ``HF_ENDPOINT`` (a mirror, or the test server) is honoured everywhere; :func:`endpoint` reads it
  at call time.
"""

from __future__ import annotations

import functools
import os
import sys

from .errors import VsgrpoError

DEFAULT_TIMEOUT = 10.0  # seconds: connect/read timeout of one hub request (HF_HUB_ETAG_TIMEOUT overrides)


def endpoint() -> str:
    """The hub's base URL (``HF_ENDPOINT``, else https://huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def timeout() -> float:
    try:
        return float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT


def offline() -> bool:
    """``HF_HUB_OFFLINE`` (or transformers' ``TRANSFORMERS_OFFLINE``) set to a true value."""
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def is_network_error(e: BaseException) -> bool:
    """A failure to reach the hub at all (DNS, refused, timeout, reset), as opposed to an HTTP answer."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"TransportError", "TimeoutException", "NetworkError", "ConnectError", "ConnectionError",
                         "ReadTimeout", "ConnectTimeout", "RemoteProtocolError", "ProxyError"})


def reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def hub_error(e: BaseException, what: str) -> VsgrpoError:
    """One line for an error met while ``what`` (e.g. "fetching nyu-visionx/VSI-Bench")."""
    from huggingface_hub import errors

    if isinstance(e, errors.GatedRepoError):
        return VsgrpoError(f"{what}: the repository is gated; accept its terms on the hub and log in "
                           "(`hf auth login` or HF_TOKEN)")
    if isinstance(e, errors.RepositoryNotFoundError):
        return VsgrpoError(f"{what}: no such repository at {endpoint()} (or it is private: log in with "
                           "`hf auth login` or HF_TOKEN)")
    if isinstance(e, errors.RevisionNotFoundError):
        return VsgrpoError(f"{what}: no such revision")
    if isinstance(e, errors.HfHubHTTPError):
        status = getattr(getattr(e, "response", None), "status_code", None)
        return VsgrpoError(f"{what}: the hub answered HTTP {status}: {reason(e)}")
    if is_network_error(e):
        return VsgrpoError(f"{what}: cannot reach the hub at {endpoint()} ({reason(e)}); check the network, "
                           "or HF_ENDPOINT for a mirror")
    return VsgrpoError(f"{what}: {reason(e)}")


def _cached_snapshot(repo_id: str) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception:  # not cached, or cached incompletely: either way not usable offline
        return None


@functools.lru_cache(maxsize=None)
def model_location(repo_id: str) -> str:
    """A hub model id, or its cached snapshot folder when the hub cannot be reached (see the module doc)."""
    if offline():
        local = _cached_snapshot(repo_id)
        if local is None:
            raise VsgrpoError(f"model {repo_id} is not in the local hub cache and HF_HUB_OFFLINE is set: download "
                              "it once with network access, or pass a local model folder")
        return local
    from huggingface_hub import HfApi

    try:
        HfApi(endpoint=endpoint()).model_info(repo_id, timeout=timeout())
    except Exception as e:  # noqa: BLE001 - every hub failure becomes one line or a cached copy
        if not is_network_error(e):
            raise hub_error(e, f"model {repo_id}") from None
        local = _cached_snapshot(repo_id)
        if local is None:
            raise VsgrpoError(f"model {repo_id}: cannot reach the hub at {endpoint()} ({reason(e)}) and the model "
                              "is not in the local cache; pass a local model folder, or connect (HF_ENDPOINT for a "
                              "mirror)") from None
        print(f"vsgrpo: warning: the hub at {endpoint()} cannot be reached; using the cached copy of {repo_id}",
              file=sys.stderr)
        return local
    return repo_id
