"""The ``data annotate`` web page and its API, on :mod:`vsgrpo.localweb` (127.0.0.1 only).

Routes: ``/`` (the page), ``GET /api/state`` (videos, templates, saved questions),
``/media/<video>`` (streamed, seekable), ``POST /api/save`` (a question; returns the stored row
or ``{"error", "field"}`` with status 400), ``POST /api/delete`` ``{"id"}``.
"""

from __future__ import annotations

import os
from urllib.parse import unquote

from .annotate import AnnotationError, AnnotationStore
from .localweb import HttpError, LocalHandler, LocalServer, make_local_server, media_path

_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4"}


class AnnotateHandler(LocalHandler):
    store: AnnotationStore  # set on the subclass made by make_server
    server_version = "vsgrpo-annotate"

    def get(self, path: str, query: str):
        if path == "/":
            self.send_bytes(200, PAGE.encode("utf-8"), "text/html; charset=utf-8",
                            {"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                                        "script-src 'unsafe-inline'; media-src 'self'"})
            return None
        if path == "/api/state":
            return self.store.state()
        if path.startswith("/media/"):
            rel = unquote(path[len("/media/"):])
            if rel not in self.store.videos:
                raise HttpError(404, "only the listed videos are served")
            file = media_path(self.store.videos_dir, rel)
            self.send_file(file, _TYPES.get(file.suffix.lower(), "application/octet-stream"))
            return None
        raise HttpError(404, f"no such page: {path}")

    def post(self, path: str, obj):
        try:
            if path == "/api/save":
                return self.store.save(obj)
            if path == "/api/delete":
                if not isinstance(obj, dict):
                    raise AnnotationError("id", "send {\"id\": N}")
                self.store.delete(obj.get("id"))
                return {"deleted": obj.get("id")}
        except AnnotationError as e:
            self._error(400, str(e), field=e.field)
            return None
        raise HttpError(404, f"no such endpoint: {path}")


def make_server(videos: str | os.PathLike, out: str | os.PathLike, *, port: int = 8766,
                host: str = "127.0.0.1") -> LocalServer:
    """A ready (not yet serving) annotation server; ``port=0`` picks a free port."""
    store = AnnotationStore(out, videos)
    handler = type("Handler", (AnnotateHandler,), {"store": store})
    server = make_local_server(handler, host=host, port=port)
    server.store = store  # type: ignore[attr-defined]
    return server


PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsgrpo data annotate</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222;font-size:14px}
#side{width:240px;overflow:auto;border-right:1px solid #ddd;padding:8px;box-sizing:border-box;background:#f7f7f9}
#side h1{font-size:15px;margin:4px 0 8px} .small{font-size:11px;color:#666;word-break:break-all}
#videos{list-style:none;padding:0;margin:8px 0} #videos li{padding:4px 6px;cursor:pointer;border-radius:4px}
#videos li{display:flex;justify-content:space-between;gap:4px} #videos li.on{background:#dde6f5;font-weight:600}
#videos li .p{overflow:hidden;text-overflow:ellipsis;white-space:nowrap} #videos li .n{color:#666}
#main{flex:1;overflow:auto;padding:12px;display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
#player{flex:1 1 480px;max-width:720px} video{width:100%;background:#000;max-height:60vh}
#controls{display:flex;gap:6px;align-items:center;margin:6px 0} #scrub{flex:1}
#form{flex:1 1 360px;max-width:520px} label{display:block;margin:8px 0 2px;font-weight:600}
input[type=text],textarea,select{width:100%;box-sizing:border-box;font:inherit;padding:4px}
textarea{height:90px} .bad{outline:2px solid #c33} #msg{min-height:18px;margin:6px 0;color:#c33}
#msg.ok{color:#272} .opt{display:flex;gap:4px;align-items:center;margin:2px 0} .opt input[type=text]{flex:1}
button{font:inherit;padding:4px 10px;cursor:pointer} #saved{list-style:none;padding:0}
#saved li{border:1px solid #ddd;border-radius:4px;padding:6px;margin:6px 0}
#saved li .a{color:#275;font-weight:600} kbd{background:#eee;border:1px solid #ccc;border-radius:3px;padding:0 3px}
</style></head><body>
<div id="side"><h1>vsgrpo annotate</h1><div class="small" id="file"></div><ul id="videos"></ul>
<div class="small">Keys: <kbd>Space</kbd> play/pause, <kbd>,</kbd>/<kbd>.</kbd> frame back/forward,
<kbd>j</kbd>/<kbd>k</kbd> next/previous video, <kbd>n</kbd> new question, <kbd>Ctrl</kbd>+<kbd>Enter</kbd> save,
<kbd>Esc</kbd> leave a field</div></div>
<div id="main">
<div id="player"><video id="video" preload="metadata"></video>
<div id="controls"><button id="play" title="Space">play</button><button id="back" title=",">&lt; frame</button>
<button id="fwd" title=".">frame &gt;</button><input id="scrub" type="range" min="0" max="1000" value="0">
<span id="time" class="small">0.00 s</span></div>
<h3>Saved questions for this video</h3><ul id="saved"></ul></div>
<div id="form"><h3 id="formtitle">New question</h3>
<label for="template">Template</label><select id="template"></select>
<label for="qtype">Question type</label><input id="qtype" type="text" placeholder="e.g. site_distance">
<label for="kind">Kind</label><select id="kind"><option value="numeric">numeric (scored by relative accuracy)</option>
<option value="choice">multiple choice (one correct option)</option></select>
<label for="question">Question</label><textarea id="question"></textarea>
<div id="numeric"><label for="answer">Answer</label><div class="opt"><input id="answer" type="text" inputmode="decimal">
<input id="unit" type="text" style="max-width:70px" placeholder="unit"></div></div>
<div id="choice" hidden><label>Options (mark the correct one)</label><div id="options"></div>
<button id="addopt" type="button">+ option</button> <button id="delopt" type="button">- option</button></div>
<div id="msg"></div><button id="save">Save (Ctrl+Enter)</button> <button id="cancel">New</button></div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let state = null, current = null, editing = null;
const FPS = 30;
function esc(s){return String(s).replace(/[&<>"']/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));}
async function api(path, body){
  const r = await fetch(path, body === undefined ? {} : {method:"POST", headers:{"Content-Type":"application/json"},
                                                       body: JSON.stringify(body)});
  const j = await r.json(); if (!r.ok) { const e = new Error(j.error || r.statusText); e.field = j.field; throw e; }
  return j;
}
async function load(){
  state = await api("/api/state");
  $("file").textContent = "saving to " + state.file;
  const sel = $("template"); sel.innerHTML = "";
  state.templates.forEach((t, i) => { const o = document.createElement("option"); o.value = i;
    o.textContent = t.own ? "your own type (" + t.kind + ")" : t.question_type; sel.appendChild(o); });
  const want = decodeURIComponent(location.hash.slice(1));
  renderVideos(); select(state.videos.some(v => v.path === want) ? want : state.videos[0].path);
  applyTemplate();
}
function renderVideos(){
  const ul = $("videos"); ul.innerHTML = "";
  const n = {}; state.questions.forEach(q => n[q.video] = (n[q.video] || 0) + 1);
  state.videos.forEach(v => { const li = document.createElement("li"); li.dataset.path = v.path;
    li.title = v.path; li.innerHTML = '<span class="p">' + esc(v.path) + '</span><span class="n">' + (n[v.path] || 0) + "</span>";
    if (v.path === current) li.className = "on"; li.onclick = () => select(v.path); ul.appendChild(li); });
}
function select(path){
  current = path; location.hash = encodeURIComponent(path);
  $("video").src = "/media/" + path.split("/").map(encodeURIComponent).join("/");
  renderVideos(); renderSaved(); newQuestion();
}
function renderSaved(){
  const ul = $("saved"); ul.innerHTML = "";
  state.questions.filter(q => q.video === current).forEach(q => {
    const li = document.createElement("li"); li.dataset.id = q.id;
    const ans = q.question_kind === "numeric" ? q.answer + (q.unit ? " " + q.unit : "") :
      q.answer + " (" + (q.options.find(o => o.startsWith(q.answer + ".")) || "") + ")";
    li.innerHTML = '<div class="small">#' + q.id + " " + esc(q.question_type) + " · " + q.question_kind + "</div>" +
      "<div>" + esc(q.question) + '</div><div class="a">' + esc(ans) + "</div>" +
      '<button class="edit">edit</button> <button class="del">delete</button>';
    li.querySelector(".edit").onclick = () => edit(q); li.querySelector(".del").onclick = () => del(q.id);
    ul.appendChild(li); });
}
function optionRow(text, checked){
  const d = document.createElement("div"); d.className = "opt";
  const k = $("options").children.length;
  d.innerHTML = '<input type="radio" name="correct"' + (checked ? " checked" : "") + '><b>' +
    String.fromCharCode(65 + k) + '.</b><input type="text">';
  d.querySelector("input[type=text]").value = text || ""; $("options").appendChild(d);
}
function setOptions(texts, correct){ $("options").innerHTML = ""; texts.forEach((t, i) => optionRow(t, i === correct)); }
function setKind(kind){ $("kind").value = kind; $("numeric").hidden = kind !== "numeric"; $("choice").hidden = kind !== "choice";
  if (kind === "choice" && !$("options").children.length) setOptions(["", "", "", ""], -1); }
function applyTemplate(){
  const t = state.templates[+$("template").value];
  $("qtype").value = t.question_type; $("qtype").readOnly = !t.own; $("kind").disabled = !t.own;
  $("question").value = t.text; $("unit").value = t.unit; setKind(t.kind); validateLive();
}
function newQuestion(){ editing = null; $("formtitle").textContent = "New question"; $("answer").value = "";
  setOptions(["", "", "", ""], -1); if (state) applyTemplate(); msg(""); }
function edit(q){
  editing = q.id; $("formtitle").textContent = "Edit question #" + q.id;
  const ti = state.templates.findIndex(t => !t.own && t.question_type === q.question_type);
  $("template").value = ti >= 0 ? ti : state.templates.findIndex(t => t.own && t.kind === q.question_kind);
  $("qtype").value = q.question_type; $("qtype").readOnly = ti >= 0; $("kind").disabled = ti >= 0;
  $("question").value = q.question; setKind(q.question_kind);
  if (q.question_kind === "numeric") { $("answer").value = q.answer; $("unit").value = q.unit || ""; }
  else setOptions(q.options.map(o => o.slice(3)), q.answer.charCodeAt(0) - 65);
  validateLive();
}
function gather(){
  const rec = {video: current, question_type: $("qtype").value.trim(), question_kind: $("kind").value,
               question: $("question").value};
  if (editing !== null) rec.id = editing;
  if (rec.question_kind === "numeric") { rec.answer = $("answer").value; rec.unit = $("unit").value; }
  else { const rows = [...$("options").children]; rec.options = rows.map(r => r.querySelector("input[type=text]").value);
         rec.answer = rows.findIndex(r => r.querySelector("input[type=radio]").checked); }
  return rec;
}
function problem(rec){
  if (!rec.question_type) return ["qtype", "give the question a type"];
  if (!rec.question.trim() || /\{\w+\}/.test(rec.question)) return ["question", "write the question (fill every {blank})"];
  if (rec.question_kind === "numeric") { const v = Number(String(rec.answer).replace(",", "."));
    if (!String(rec.answer).trim() || !isFinite(v) || v <= 0) return ["answer", "the answer must be a positive number"]; }
  else { if (rec.options.some(o => !o.trim())) return ["options", "fill every option or remove it"];
    if (rec.answer < 0) return ["options", "mark the correct option"]; }
  const dup = state.questions.find(q => q.video === rec.video && q.id !== editing &&
    q.question.trim().toLowerCase() === rec.question.trim().toLowerCase());
  if (dup) return ["question", "this video already has that question (#" + dup.id + ")"];
  return null;
}
function validateLive(){
  ["qtype", "question", "answer", "options"].forEach(id => $(id).classList.remove("bad"));
  const p = problem(gather()); if (p) { $(p[0]).classList.add("bad"); msg(p[1]); } else msg("");
  return !p;
}
function msg(text, ok){ $("msg").textContent = text; $("msg").className = ok ? "ok" : ""; }
async function save(){
  if (!validateLive()) return;
  try { const row = await api("/api/save", gather());
    state.questions = state.questions.filter(q => q.id !== row.id).concat([row]).sort((a, b) => a.id - b.id);
    renderVideos(); renderSaved(); newQuestion(); msg("saved #" + row.id, true);
  } catch (e) { msg(e.message); const f = {question_type: "qtype", question_kind: "kind"}[e.field] || e.field;
                if (f && $(f)) $(f).classList.add("bad"); }
}
async function del(id){
  try { await api("/api/delete", {id}); state.questions = state.questions.filter(q => q.id !== id);
        renderVideos(); renderSaved(); if (editing === id) newQuestion(); msg("deleted #" + id, true);
  } catch (e) { msg(e.message); }
}
const v = $("video");
function step(n){ v.pause(); v.currentTime = Math.max(0, Math.min(v.duration || 0, v.currentTime + n / FPS)); }
v.ontimeupdate = () => { $("time").textContent = v.currentTime.toFixed(2) + " s";
  if (v.duration) $("scrub").value = Math.round(1000 * v.currentTime / v.duration); };
$("scrub").oninput = () => { if (v.duration) v.currentTime = v.duration * $("scrub").value / 1000; };
$("play").onclick = () => v.paused ? v.play() : v.pause();
v.onplay = () => $("play").textContent = "pause"; v.onpause = () => $("play").textContent = "play";
$("back").onclick = () => step(-1); $("fwd").onclick = () => step(1);
$("template").onchange = applyTemplate; $("kind").onchange = () => { setKind($("kind").value); validateLive(); };
$("addopt").onclick = () => { if ($("options").children.length < 6) optionRow("", false); };
$("delopt").onclick = () => { if ($("options").children.length > 2) $("options").lastChild.remove(); };
$("form").addEventListener("input", validateLive); $("form").addEventListener("change", validateLive);
$("save").onclick = save; $("cancel").onclick = newQuestion;
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); return; }
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (e.key === "Escape") { document.activeElement.blur(); return; }
  if (typing) return;
  const i = state.videos.findIndex(x => x.path === current);
  if (e.key === " ") { e.preventDefault(); $("play").click(); }
  else if (e.key === ",") step(-1); else if (e.key === ".") step(1);
  else if (e.key === "j" && i + 1 < state.videos.length) select(state.videos[i + 1].path);
  else if (e.key === "k" && i > 0) select(state.videos[i - 1].path);
  else if (e.key === "n") { newQuestion(); $("question").focus(); }
});
load().catch(e => msg("could not load: " + e.message));
</script></body></html>
"""
