"""``vsgrpo data browse ROOT``: look at a data root in the browser and flag wrong questions.

A small local web app (standard library ``http.server``, bound to 127.0.0.1 only) that shows,
per scene: the contact sheet and the video, the floor plan with every object's box (an SVG
drawn here from the meta info and ``floorplans/``), and the questions with their answers,
filterable by question type. With ``--run`` (``runs``: ``eval run`` folders, read by
:mod:`vsgrpo.browse_runs`) each question also shows every run's raw answer, parsed value and
score, filterable by right/wrong per run and by disagreement between runs; choosing a question
marks the boxes it names. The page itself (URL per scene and question, label layout) is
:mod:`vsgrpo.browse_page`. "Flag as wrong" saves the question to ``ROOT/flags.json``
(:mod:`vsgrpo.flags`, replaced atomically), which ``data build`` and ``train`` honour by
leaving it out.

Routes: ``/`` (the page), ``/api/scenes`` (scenes, question types, runs, notices and a brief
``index`` of every question for the filters), ``/api/scene?dataset=&scene=`` (objects, and the
questions with their runs' answers and the floor-plan boxes they name: ``marks``),
``/floorplan.svg?dataset=&scene=``, ``/media/previews/...png``, ``/media/videos/...mp4``
(byte ranges, so the video can seek), and ``POST /api/flag`` ``{"id", "flagged", "note"}``.
Paths from requests are joined with :func:`vsgrpo.io.safe_join`, so nothing outside the root's
``previews/`` and ``videos/`` folders is served (nothing of a run folder is served as a file: its
samples reach the page as JSON); a POST from another origin is refused.

Hardened as a local dev server should be (docs/questions.md, "Flagging wrong questions"): a request whose ``Host``
is not the address the server is bound to is refused (DNS rebinding: a page of another site
whose name resolves to 127.0.0.1 sends its own name as Host); a request must arrive within
:data:`REQUEST_SECONDS` (headers and body) and a body must declare a ``Content-Length`` of at most
:data:`MAX_BODY`; at most :data:`WORKERS` requests are served at once (the others wait in a
:data:`BACKLOG`-deep listen queue); every bad request gets a 4xx (or a 5xx when the root cannot be
written) with a JSON body, never a dropped connection or a traceback; media is streamed in
:data:`CHUNK`-byte pieces.
"""

from __future__ import annotations

import html
import json
import math
import os
import socket
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .browse_page import PAGE
from .errors import VsgrpoError
from .flags import FLAGS_FILE, load_flags, row_key, set_flag

MAX_BODY = 1 << 16  # bytes of a POST body (a flag is ~100)
REQUEST_SECONDS = 20.0  # to send a request's line, headers and body
SOCKET_SECONDS = 10.0  # of silence on a connection
WORKERS = 16  # requests served at once
BACKLOG = 256  # connections waiting to be accepted
CHUNK = 1 << 16  # bytes per write when streaming media


class NotFound(VsgrpoError):
    """No such scene or question."""


class BadRequest(Exception):
    """A request the server answers with ``status`` and a one-line JSON error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _plain(value):
    """JSON-friendly copy of a parquet cell (numpy arrays and scalars, NaN -> None)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class BrowseData:
    """The scenes of a data root and (optionally) a questions file, indexed for the page."""

    def __init__(self, root: str | os.PathLike, questions: str | os.PathLike | None = None,
                 runs: list[str | os.PathLike] = ()):
        from .browse_runs import load_runs, recorded_questions
        from .dataset import load_scenes, read_questions

        self.root = Path(root)
        meta = self.root / "meta"
        if not meta.is_dir():
            raise VsgrpoError(f"{self.root} is not a data root: it has no meta/ folder (write one with "
                              "`vsgrpo data synth` or `vsgrpo data ingest`)")
        self.index = load_scenes(meta)
        if questions is None and (self.root / "questions.parquet").is_file():
            questions = self.root / "questions.parquet"
        if questions is None and runs:  # the questions the first run answered, as its config.json names them
            questions = recorded_questions(runs[0])
            if questions is None:
                raise VsgrpoError(f"--run {runs[0]}: pass --questions, the questions file the run answered")
        self.questions_path = Path(questions) if questions is not None else None
        self.rows: list[dict] = []
        if self.questions_path is not None:
            df = read_questions(self.questions_path)
            self.rows = [{k: _plain(v) for k, v in rec.items()} for rec in df.to_dict("records")]
        self.by_id = {int(r["id"]): r for r in self.rows}
        self.by_scene: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in self.rows:
            self.by_scene[(str(r["dataset"]), str(r["scene_name"]))].append(r)
        self.runs = load_runs(list(runs), self.by_id, self.questions_path)
        self.lock = threading.Lock()

    def notices(self) -> list[str]:
        from .browse_runs import notices

        return notices(self.runs, len(self.rows))

    def _compare(self, qid: int) -> dict:
        from .browse_runs import compare

        return compare([run.samples.get(qid) for run in self.runs])

    def question_index(self) -> list[dict]:
        """Every question in brief (scene, type, per-run verdicts), so the page can filter the scene list."""
        out = []
        for r in self.rows:
            c = self._compare(int(r["id"]))
            out.append({"id": int(r["id"]), "dataset": str(r["dataset"]), "scene_name": str(r["scene_name"]),
                        "type": str(r["question_type"]), "verdicts": c["verdicts"], "disagree": c["disagree"],
                        "split": c["split"]})
        return out

    def flags(self) -> dict[str, dict]:
        return load_flags(self.root)

    def scenes(self) -> list[dict]:
        from .scene_files import preview_path, video_path

        flags = self.flags()
        out = []
        for dataset, name in sorted(self.index):
            qs = self.by_scene.get((dataset, name), [])
            out.append({"dataset": dataset, "scene_name": name, "questions": len(qs),
                        "flagged": sum(row_key(q) in flags for q in qs),
                        "room_size": round(float(self.index[(dataset, name)].room_size), 2),
                        "preview": preview_path(self.root, dataset, name).is_file(),
                        "video": video_path(self.root, dataset, name).is_file()})
        return out

    def scene(self, dataset: str, name: str) -> dict:
        from .browse_runs import shown
        from .questions.aliases import to_question

        scene = self._scene(dataset, name)
        flags = self.flags()
        objects = [{"k": k, "category": c, "name": to_question(c), "index": i,
                    "centroid": [round(float(v), 3) for v in b.centroid],
                    "extents": [round(float(v), 3) for v in b.extents]}
                   for k, (c, i, b) in enumerate(_boxes(scene))]
        questions = [dict(q, flagged=row_key(q) in flags, answer_text=_answer_text(q), marks=_marks(q, scene),
                          runs=[shown(run.samples.get(int(q["id"]))) for run in self.runs],
                          **self._compare(int(q["id"])))
                     for q in self.by_scene.get((dataset, name), [])]
        return {"dataset": dataset, "scene_name": name, "room_size": float(scene.room_size),
                "object_counts": dict(scene.object_counts), "objects": objects, "questions": questions}

    def _scene(self, dataset: str, name: str):
        try:
            return self.index[(dataset, name)]
        except KeyError:
            raise NotFound(f"no scene {dataset}/{name} in {self.root / 'meta'}") from None

    def question_types(self) -> list[str]:
        from .dataset import task_names

        present = {str(r["question_type"]) for r in self.rows}
        known = [t for t in task_names() if t in present]
        return known + sorted(present - set(known))

    def flag(self, qid: int, flagged: bool, note: str = "") -> dict:
        row = self.by_id.get(qid)
        if row is None:
            raise NotFound(f"no question with id {qid} in {self.questions_path}")
        with self.lock:
            flags = set_flag(self.root, row, flagged, note)
        return {"id": qid, "flagged": row_key(row) in flags, "flags": len(flags)}

    def floorplan_svg(self, dataset: str, name: str) -> str:
        return floorplan_svg(self._scene(dataset, name))


def _boxes(scene) -> list[tuple[str, int, object]]:
    """``(category, index, box)`` of every object, in the order the floor plan numbers them (``data-k``)."""
    return [(c, i, b) for c, bs in sorted(scene.objects.items()) for i, b in enumerate(bs)]


def _marks(q: dict, scene) -> list[int]:
    """The floor-plan numbers of the boxes a question names (every box of each named category)."""
    from .questions.aliases import to_meta

    raw = q.get("objects")
    names = [] if raw is None or isinstance(raw, (str, float)) else [str(o) for o in raw]
    named = {to_meta(n, scene) for n in names}
    return [k for k, (c, _, _) in enumerate(_boxes(scene)) if c in named]


def _answer_text(q: dict) -> str:
    """The answer as words: the text of the ground-truth option, else the ground truth."""
    gt = str(q.get("ground_truth"))
    for opt in q.get("options") or []:
        letter, sep, text = str(opt).partition(". ")
        if sep and letter == gt:
            return text
    return str(q.get("answer") or gt)


def floorplan_svg(scene, *, size: int = 420) -> str:
    """Top view (x right, y up) of the room outline and every object's box footprint, labelled.

    Box ``k`` (in :func:`_boxes` order) is ``<polygon class="box" data-k=k>`` with a hover title; its
    label is ``<text class="label" data-k=k>`` at the box's centre (the page moves or hides labels
    that would overlap and marks the boxes a chosen question names)."""
    import numpy as np

    from .questions.aliases import to_question

    polys = [np.asarray(p, float) for p in (scene.floor_plan.polygons if scene.floor_plan else [])]
    boxes = _boxes(scene)
    feet = []
    for c, i, b in boxes:
        pts = b.corners()[:, :2]
        feet.append((c, i, _hull(pts)))
    allpts = np.concatenate([p for p in polys] + [f for _, _, f in feet]) if (polys or feet) else np.zeros((1, 2))
    lo, hi = allpts.min(0), allpts.max(0)
    span = float(max(hi - lo)) or 1.0
    pad = 0.05 * span
    scale = (size - 2 * 10) / (span + 2 * pad)

    def xy(p):
        return (10 + (p[0] - lo[0] + pad) * scale, size - 10 - (p[1] - lo[1] + pad) * scale)

    def path(pts):
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(p) for p in pts))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
             f'class="floorplan" data-objects="{len(boxes)}">',
             f'<rect width="{size}" height="{size}" fill="#fafafa"/>']
    for p in polys:
        parts.append(f'<polygon points="{path(p)}" fill="#eef2f7" stroke="#445" stroke-width="2"/>')
    for k, (c, i, f) in enumerate(feet):
        hue = (k * 47) % 360
        name = html.escape(to_question(c))
        parts.append(f'<polygon class="box" data-k="{k}" data-category="{html.escape(c)}" data-name="{name}" '
                     f'points="{path(f)}" fill="hsla({hue},60%,55%,0.35)" stroke="hsl({hue},60%,35%)" '
                     f'stroke-width="1"><title>{name} #{i}</title></polygon>')
        cx, cy = xy(f.mean(0))
        parts.append(f'<text class="label" data-k="{k}" x="{cx:.1f}" y="{cy:.1f}" font-size="9" '
                     f'text-anchor="middle" font-family="sans-serif">{name}</text>')
    metres = 1.0 if span < 8 else 2.0
    parts.append(f'<line x1="12" y1="{size - 4}" x2="{12 + metres * scale:.1f}" y2="{size - 4}" stroke="#000" '
                 f'stroke-width="2"/><text x="14" y="{size - 7}" font-size="9" font-family="sans-serif">'
                 f'{metres:g} m</text>')
    parts.append("</svg>")
    return "".join(parts)


def _hull(points):
    """Convex hull (counter-clockwise) of 2D points: Andrew's monotone chain."""
    import numpy as np

    pts = sorted(set(map(tuple, np.round(points, 6).tolist())))
    if len(pts) <= 2:
        return np.asarray(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.asarray(lower[:-1] + upper[:-1])


def _strict_json(raw: bytes):
    """A JSON value with no NaN/Infinity and no number too large for a float (nesting is bounded by
    the body's size and Python's recursion limit: too deep is a ``RecursionError``)."""

    def constant(name):
        raise ValueError(f"{name} is not JSON")

    def number(text):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text} is out of range")
        return value

    return json.loads(raw.decode("utf-8"), parse_constant=constant, parse_float=number)


def _flag_request(body) -> tuple[int, bool, str]:
    """``(id, flagged, note)`` of a ``POST /api/flag`` body, strictly typed."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    qid, flagged, note = body.get("id"), body.get("flagged", True), body.get("note", "")
    if isinstance(qid, bool) or not isinstance(qid, int) or not -(1 << 63) <= qid < (1 << 63):
        raise ValueError("id must be an integer question id")
    if not isinstance(flagged, bool):
        raise ValueError("flagged must be true or false (a JSON boolean)")
    if not isinstance(note, str):
        raise ValueError("note must be text")
    return qid, flagged, note[:500]


class _Handler(BaseHTTPRequestHandler):
    data: BrowseData  # set on the subclass made by make_server
    server_version = "vsgrpo-browse"
    timeout = SOCKET_SECONDS  # socket timeout (StreamRequestHandler): a silent client is dropped

    def log_message(self, fmt, *args):  # quiet: the terminal shows the URL, not every request
        pass

    # ---- time limit on receiving a request: a watchdog, since the socket timeout is per read

    def handle_one_request(self):
        self._watchdog = threading.Timer(REQUEST_SECONDS, self._cut)
        self._watchdog.daemon = True
        self._watchdog.start()
        try:
            super().handle_one_request()
        except (OSError, ValueError):  # the client went away, or was cut off by the watchdog
            self.close_connection = True
        finally:
            self._watchdog.cancel()

    def _cut(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _received(self):
        """The request is read in full: what follows (a long video download) is not timed."""
        self._watchdog.cancel()

    # ---- who may ask

    def _allowed_host(self) -> bool:
        host, port = self.server.server_address[:2]
        names = {f"{host}:{port}"}
        if host in ("127.0.0.1", "::1"):
            names |= {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"}
        return self.headers.get("Host", "").strip().lower() in names

    def _check_host(self) -> bool:
        if self._allowed_host():
            return True
        self._error(421 if self.headers.get("Host") else 400,
                    "this server answers only requests addressed to it by its own address (Host header)")
        return False

    # ---- responses

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # ---- GET

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._received()
        if not self._check_host():
            return
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/":
                self._send(200, PAGE.encode("utf-8"), "text/html; charset=utf-8")
            elif url.path == "/api/scenes":
                d = self.data
                self._json({"root": str(d.root), "questions_file": str(d.questions_path or ""),
                            "flags_file": str(d.root / FLAGS_FILE), "question_types": d.question_types(),
                            "scenes": d.scenes(), "runs": [run.describe() for run in d.runs],
                            "notices": d.notices(), "index": d.question_index()})
            elif url.path == "/api/scene":
                self._json(self.data.scene(q.get("dataset", ""), q.get("scene", "")))
            elif url.path == "/floorplan.svg":
                svg = self.data.floorplan_svg(q.get("dataset", ""), q.get("scene", ""))
                self._send(200, svg.encode("utf-8"), "image/svg+xml")
            elif url.path.startswith("/media/"):
                self._media(url.path[len("/media/"):])
            else:
                self._error(404, f"no such page: {url.path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 (every failure is an answer with a body, never a dropped connection)
            self._fail(e)

    do_HEAD = do_GET

    def _fail(self, e: Exception) -> None:
        if isinstance(e, BadRequest):
            status = e.status
        elif isinstance(e, NotFound):
            status = 404
        elif isinstance(e, VsgrpoError):
            status = 500  # a damaged flags file, a root that cannot be locked or written
        else:
            status = 500
        message = str(e) if isinstance(e, (BadRequest, VsgrpoError)) else _os_message(e)
        try:
            self._error(status, message)
        except OSError:
            self.close_connection = True

    def _media(self, rel: str) -> None:
        from urllib.parse import unquote

        from .io import safe_join

        parts = [unquote(p) for p in rel.split("/") if p]
        kinds = {"previews": ("image/png", ".png"), "videos": ("video/mp4", ".mp4")}
        if len(parts) != 3 or parts[0] not in kinds or not parts[2].endswith(kinds[parts[0]][1]):
            return self._error(404, "media paths are previews/{dataset}/{scene}.png or videos/{dataset}/{scene}.mp4")
        try:
            path = safe_join(self.data.root / parts[0], parts[1], parts[2])
        except VsgrpoError as e:  # a path leaving the root
            raise BadRequest(404, str(e)) from None
        if not path.is_file():
            return self._error(404, f"{parts[0]}/{parts[1]}/{parts[2]} not found")
        size = path.stat().st_size
        start, end = 0, size - 1
        status, extra = 200, {"Accept-Ranges": "bytes"}
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, _, b = rng[6:].split(",")[0].strip().partition("-")
            if not (a.isdigit() or b.isdigit()) or (a and not a.isdigit()) or (b and not b.isdigit()):
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            start = int(a) if a else max(0, size - int(b))
            end = min(int(b), size - 1) if a and b else end
            if start > end or start >= size:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        with open(path, "rb") as f:
            f.seek(start)
            self.send_response(status)
            self.send_header("Content-Type", kinds[parts[0]][0])
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Cache-Control", "no-store")
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command == "HEAD":
                return
            left = end - start + 1
            while left > 0:  # streamed: a large video is never held in memory
                chunk = f.read(min(CHUNK, left))
                if not chunk:  # the file shrank under us; the client sees a short reply
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                left -= len(chunk)

    # ---- POST

    def do_POST(self):  # noqa: N802
        try:
            raw = self._read_body()  # always read (or refused) first, so the connection stays in step
            self._received()
            if not self._check_host():
                return
            url = urlparse(self.path)
            origin = self.headers.get("Origin")
            host = self.headers.get("Host", "")
            if origin and urlparse(origin).netloc.lower() != host.strip().lower():
                return self._error(403, "flags can only be changed from the browse page itself")
            if url.path != "/api/flag":
                return self._error(404, f"no such endpoint: {url.path}")
            try:
                qid, flagged, note = _flag_request(_strict_json(raw or b"{}"))
            except (ValueError, RecursionError, UnicodeDecodeError) as e:
                raise BadRequest(400, f'{e}; send JSON {{"id": <question id>, "flagged": true|false, '
                                      '"note": "..."}') from None
            self._json(self.data.flag(qid, flagged, note))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 (see do_GET)
            self._fail(e)

    def _read_body(self) -> bytes:
        """The body, by its ``Content-Length`` (required, 0..MAX_BODY); anything else is refused unread."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise BadRequest(411, "send the body with a Content-Length, not chunked")
        text = self.headers.get("Content-Length")
        if text is None:
            return b""
        if not text.strip().isdigit():
            self.close_connection = True
            raise BadRequest(400, f"bad Content-Length {text[:40]!r}")
        length = int(text)
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be taken for the next request
            raise BadRequest(413, f"a body of {length} bytes is over the {MAX_BODY}-byte limit")
        raw = self.rfile.read(length)
        if len(raw) != length:
            self.close_connection = True
            raise BadRequest(400, "the body ended before its Content-Length")
        return raw


def make_server(root: str | os.PathLike, questions: str | os.PathLike | None = None, *, port: int = 8765,
                host: str = "127.0.0.1", runs: list[str | os.PathLike] = ()) -> ThreadingHTTPServer:
    """A ready (not yet serving) server for ``root``; ``port=0`` picks a free port; ``runs``: eval run
    folders whose predictions the page shows beside each question (:mod:`vsgrpo.browse_runs`)."""
    data = BrowseData(root, questions, runs)
    handler = type("BrowseHandler", (_Handler,), {"data": data})
    try:
        server = _BoundedServer((host, port), handler)
    except OSError as e:
        raise VsgrpoError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port") from None
    server.data = data  # type: ignore[attr-defined]
    return server


class _BoundedServer(ThreadingHTTPServer):
    """A thread per request, but at most :data:`WORKERS` at once; the rest wait in the listen queue."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, *args, **kwargs):
        self._slots = threading.BoundedSemaphore(WORKERS)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _os_message(e: BaseException) -> str:
    if isinstance(e, OSError):
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return f"cannot write the flags: {e.strerror or e}{where}"
    return f"internal error: {type(e).__name__}: {e}"


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
