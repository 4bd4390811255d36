"""``vsgrpo data fetch vsibench``: VSI-Bench from the Hugging Face hub, laid out as ``eval run`` reads it.

Contract. ``fetch_vsibench(out, config="full")`` writes::

    OUT/full.parquet (or debiased.parquet)   the questions of that configuration, as released
    OUT/{dataset}/{scene_name}.mp4           every video those questions name (arkitscenes/, scannet/, scannetpp/)
    OUT/fetch.json                           provenance: repository, commit, files with sha256, per configuration
    OUT/.fetch/                              downloads in progress and their verification records

so that ``vsgrpo eval run --questions OUT/full.parquet`` runs the benchmark (``fetch.json`` beside
the parquet tells :func:`vsgrpo.questions_parquet.video_root` that the videos are in OUT).

- Which parquet files make a configuration is read from the dataset card's ``configs:`` (the
  hub's own convention; a card without it: ``test-*.parquet`` is ``full``). The videos come from
  one zip per dataset (``{dataset}.zip``), downloaded for the datasets the questions name.
- Every file is pinned to the commit the hub reports first, so a repository updated mid-fetch
  cannot mix versions, and checked after download: LFS files against the hub's sha256, others
  against their git blob id. A mismatch deletes the file and fails.
- Resumable: a killed fetch reruns with the same command. Bytes already downloaded are kept
  (``.part`` files, continued with an HTTP Range request), verified files are not downloaded
  again, videos already unpacked are not unpacked again; everything lands under its final name
  atomically (vsgrpo.io). Archives are deleted once unpacked (``keep_archives`` keeps them).
- The hub is asked with one short timeout and no retries (vsgrpo.hub): offline, or with a
  wrong ``HF_ENDPOINT``, it fails in seconds with one line. With ``HF_HUB_OFFLINE=1`` a
  configuration fetched before is accepted as it is.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import hub
from .errors import VsgrpoError
from .io import atomic_path, commit, ensure_writable_dir, run_lock, write_json
from .progress import LineProgress, progress
from .questions_parquet import FETCH_RECORD_FILE

VSIBENCH_REPO = "nyu-visionx/VSI-Bench"
CONFIGS = ("full", "debiased")
# A card without ``configs:`` (VSI-Bench's first release) has one default configuration: the full set.
FALLBACK_PATTERNS = {"full": ("test-*.parquet", "test.parquet"), "debiased": ("test_debiased.parquet",)}
WORK_DIR = ".fetch"
RECORD_FILE = FETCH_RECORD_FILE  # also what makes ``eval run`` find the videos here without --videos
CHUNK = 1 << 20


@dataclass
class FetchResult:
    out: Path
    config: str
    questions: Path
    count: int
    videos: int
    missing: list[str] = field(default_factory=list)
    commit: str = ""


# --------------------------------------------------------------------------- the repository's files

@dataclass
class RemoteFile:
    name: str
    size: int | None
    sha256: str | None  # LFS files
    blob_id: str | None  # git object id (sha1 of "blob {size}\0" + content)


def _repo_files(repo: str, revision: str) -> tuple[str, dict[str, RemoteFile]]:
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=hub.endpoint()).dataset_info(repo, revision=revision, files_metadata=True,
                                                           timeout=hub.timeout())
    except Exception as e:  # noqa: BLE001 - one line for every way the hub can fail
        raise hub.hub_error(e, f"fetching {repo}") from None
    files = {}
    for s in info.siblings or []:
        lfs = s.lfs or {}
        files[s.rfilename] = RemoteFile(s.rfilename, s.size, lfs.get("sha256") if lfs else None, s.blob_id)
    if not info.sha:
        raise VsgrpoError(f"fetching {repo}: the hub did not say which commit it serves")
    return info.sha, files


def config_files(card: str, config: str, names: list[str]) -> list[str]:
    """The repository files of ``config`` named by the dataset card's ``configs:`` (or the fallback)."""
    import yaml

    patterns: list[str] = []
    if card.startswith("---"):
        try:
            meta = yaml.safe_load(card.split("---", 2)[1]) or {}
        except yaml.YAMLError:
            meta = {}
        for c in meta.get("configs") or []:
            if isinstance(c, dict) and c.get("config_name") == config:
                data = c.get("data_files")
                for d in data if isinstance(data, list) else [data]:
                    paths = d.get("path") if isinstance(d, dict) else d
                    patterns += [paths] if isinstance(paths, str) else list(paths or [])
    if not patterns:
        patterns = list(FALLBACK_PATTERNS[config])
    matched = sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})
    return [n for n in matched if n.endswith(".parquet")]


# --------------------------------------------------------------------------- download + verify

def _git_blob_id(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(f: RemoteFile) -> str:
    return f"sha256:{f.sha256}" if f.sha256 else f"git:{f.blob_id}"


def _verify(path: Path, f: RemoteFile) -> None:
    if f.sha256:
        got, want = _sha256(path), f.sha256
    elif f.blob_id:
        got, want = _git_blob_id(path), f.blob_id
    else:
        raise VsgrpoError(f"{f.name}: the hub gave no checksum to verify it against")
    if got != want:
        path.unlink(missing_ok=True)
        raise VsgrpoError(f"{f.name}: checksum mismatch (expected {want}, got {got}); the download was deleted, "
                          "rerun to fetch it again")


def download(repo: str, commit_sha: str, f: RemoteFile, work: Path) -> Path:
    """``work/{name}``, downloaded (resuming ``work/{name}.part``) and verified; a no-op once verified."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    dest = work / f.name
    stamp = work / f"{f.name}.verified"
    if dest.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == _expected(f):
        return dest
    url = hf_hub_url(repo, f.name, repo_type="dataset", revision=commit_sha, endpoint=hub.endpoint())
    try:
        meta = get_hf_file_metadata(url, timeout=hub.timeout())
    except Exception as e:  # noqa: BLE001
        raise hub.hub_error(e, f"fetching {repo}/{f.name}") from None
    size = meta.size if meta.size is not None else f.size
    part = work / f"{f.name}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:  # not a prefix of this file: start over
        part.unlink()
        have = 0
    headers = build_hf_headers()
    if urlsplit(meta.location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a CDN on another host gets no hub token
    if size is not None and size < 8 * CHUNK:  # a small file: its progress lines would be noise
        bar = LineProgress(desc=f.name, total=size, unit="B", initial=have, silent=True)
    else:
        bar = progress(desc=f"download {f.name}", total=size, unit="B", initial=have)
    try:
        if size is None or have < size:
            if have:
                headers["Range"] = f"bytes={have}-"
            with get_session().stream("GET", meta.location, headers=headers, timeout=hub.timeout(),
                                      follow_redirects=True) as r:
                if r.status_code >= 400:
                    raise VsgrpoError(f"fetching {repo}/{f.name}: the hub answered HTTP {r.status_code}")
                mode = "ab" if have and r.status_code == 206 else "wb"  # 200: the server ignored Range
                if mode == "wb" and have:
                    bar.update(-have)
                with open(part, mode) as out:
                    for chunk in r.iter_bytes():  # as received: a dropped connection keeps what came
                        out.write(chunk)
                        bar.update(len(chunk))
    except VsgrpoError:
        raise
    except Exception as e:  # noqa: BLE001 - network loss mid-file: keep the bytes, say how to go on
        kept = part.stat().st_size if part.is_file() else 0
        if hub.is_network_error(e):
            raise VsgrpoError(f"downloading {f.name}: the connection broke ({hub.reason(e)}); {kept} bytes kept, "
                              "rerun the same command to resume") from None
        raise VsgrpoError(f"{hub.hub_error(e, f'downloading {f.name}')} ({kept} bytes kept; rerun the same command "
                          "to resume)") from None
    finally:
        bar.close()
    if size is not None and part.stat().st_size != size:
        raise VsgrpoError(f"{f.name}: got {part.stat().st_size} of {size} bytes; rerun the same command to resume")
    _verify(part, f)
    commit(part, dest)
    with atomic_path(stamp) as tmp:
        tmp.write_text(_expected(f) + "\n", encoding="utf-8")
    return dest


# --------------------------------------------------------------------------- videos

def _video_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    out = []
    for m in zf.infolist():
        base = os.path.basename(m.filename)
        if m.is_dir() or not base.lower().endswith(".mp4") or base.startswith("._") or "__MACOSX" in m.filename:
            continue
        out.append(m)
    return out


def unpack_videos(archive: Path, dest: Path) -> int:
    """Each ``*.mp4`` of ``archive`` as ``dest/{basename}`` (atomic; ones already complete are kept)."""
    ensure_writable_dir(dest)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _video_members(zf)
            bar = progress(desc=f"unpack {archive.name}", total=len(members), unit="video")
            try:
                for m in members:
                    target = dest / os.path.basename(m.filename)  # basename only: no path leaves dest
                    if not (target.is_file() and target.stat().st_size == m.file_size):
                        with zf.open(m) as src, atomic_path(target) as tmp, open(tmp, "wb") as out:
                            shutil.copyfileobj(src, out, CHUNK)  # zipfile checks each member's CRC
                    bar.update(1)
            finally:
                bar.close()
    except zipfile.BadZipFile as e:
        raise VsgrpoError(f"{archive.name}: not a valid zip archive ({e}); delete {archive} and rerun") from None
    return len(members)


# --------------------------------------------------------------------------- the command

def _previous(out: Path, config: str) -> FetchResult | None:
    import json

    try:
        record = json.loads((out / RECORD_FILE).read_text(encoding="utf-8"))
        entry = record["configs"][config]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    questions = out / f"{config}.parquet"
    if not questions.is_file():
        return None
    return FetchResult(out, config, questions, entry.get("questions", 0), entry.get("videos", 0),
                       commit=record.get("commit", ""))


def fetch_vsibench(out: str | os.PathLike, config: str = "full", *, revision: str = "main",
                   keep_archives: bool = False, repo: str = VSIBENCH_REPO) -> FetchResult:
    """Fetch one configuration of VSI-Bench into ``out`` (see the module doc)."""
    if config not in CONFIGS:
        raise VsgrpoError(f"unknown --config {config!r}; choose one of {', '.join(CONFIGS)}")
    out = ensure_writable_dir(out)
    if hub.offline():
        done = _previous(out, config)
        if done is None:
            raise VsgrpoError(f"HF_HUB_OFFLINE is set and {out} holds no fetched {config} configuration; "
                              "fetch it once with network access")
        return done
    with run_lock(out, "data fetch"):
        return _fetch_locked(out, config, revision, keep_archives, repo)


def _fetch_locked(out: Path, config: str, revision: str, keep_archives: bool, repo: str) -> FetchResult:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    commit_sha, files = _repo_files(repo, revision)
    work = ensure_writable_dir(out / WORK_DIR)
    card = ""
    if "README.md" in files:
        card = download(repo, commit_sha, files["README.md"], work).read_text(encoding="utf-8", errors="replace")
    shards = config_files(card, config, sorted(files))
    if not shards:
        raise VsgrpoError(f"{repo}@{commit_sha[:7]}: no parquet files for configuration {config!r}")
    tables = [pq.read_table(download(repo, commit_sha, files[s], work)) for s in shards]
    table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    missing_cols = {"id", "dataset", "scene_name", "question_type"} - set(table.column_names)
    if missing_cols:
        raise VsgrpoError(f"{repo}: {', '.join(shards)} lacks the VSI-Bench columns {sorted(missing_cols)}")
    questions = out / f"{config}.parquet"
    with atomic_path(questions) as tmp:
        pq.write_table(table, tmp)

    rows = table.select(["dataset", "scene_name"]).to_pylist()
    datasets = sorted({str(r["dataset"]) for r in rows})
    for ds in datasets:
        name = f"{ds}.zip"
        if name not in files:
            raise VsgrpoError(f"{repo}@{commit_sha[:7]}: no video archive {name} for dataset {ds!r}")
        done = work / f"{name}.unpacked"
        if done.is_file() and done.read_text(encoding="utf-8").strip() == _expected(files[name]):
            continue
        archive = download(repo, commit_sha, files[name], work)
        unpack_videos(archive, out / ds)
        with atomic_path(done) as tmp:
            tmp.write_text(_expected(files[name]) + "\n", encoding="utf-8")
        if not keep_archives:
            archive.unlink(missing_ok=True)

    missing = sorted({f"{r['dataset']}/{r['scene_name']}.mp4" for r in rows
                      if not (out / str(r["dataset"]) / f"{r['scene_name']}.mp4").is_file()})
    videos = len({(r["dataset"], r["scene_name"]) for r in rows}) - len(missing)
    record = {}
    try:
        record = json.loads((out / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    configs = record.get("configs") if isinstance(record.get("configs"), dict) else {}
    configs[config] = {"questions": table.num_rows, "videos": videos, "shards": shards}
    write_json(out / RECORD_FILE, {
        "repo": repo, "commit": commit_sha, "endpoint": hub.endpoint(), "configs": configs,
        "files": {n: _expected(files[n]) for n in [*shards, *(f"{d}.zip" for d in datasets)]},
    })
    return FetchResult(out, config, questions, table.num_rows, videos, missing, commit_sha)
