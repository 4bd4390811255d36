"""lmms-eval 0.7.3's own code, loaded from the installed PyPI package for tests.

lmms-eval is installed with ``--no-deps`` (its requirements conflict with our pins, see
``scripts/setup.sh``), so ``lmms_eval.evaluator`` and ``lmms_eval.loggers`` cannot be imported:
they pull in sacrebleu, pytz and the whole harness. The few functions the tests need are taken
from the installed source files instead, unchanged: each function's definition is cut out of its
file with ``ast`` (decorators such as tenacity's ``@retry`` and type annotations dropped, since
their names live in modules we cannot import) and executed with the module-level names it uses.
Its body is lmms-eval's, so the tests run lmms-eval's logic, not a copy of it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace


def package_root() -> Path:
    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("lmms-eval is not installed; run `bash scripts/setup.sh` (it installs lmms-eval==0.7.3)")
    from importlib.metadata import version

    assert version("lmms-eval") == "0.7.3", version("lmms-eval")
    return Path(list(spec.submodule_search_locations)[0])


def vsibench_utils() -> ModuleType:
    """``lmms_eval/tasks/vsibench/utils.py`` (needs only numpy, pandas, datasets, pyyaml, loguru)."""
    path = package_root() / "tasks" / "vsibench" / "utils.py"
    spec = importlib.util.spec_from_file_location("lmms_eval_vsibench_utils", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function(relpath: str, name: str, *, cls: str | None = None, **names):
    """The function ``name`` (a method of class ``cls``) defined in ``lmms_eval/<relpath>``, compiled
    from the installed source with ``names`` as its module globals."""
    path = package_root() / relpath
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    body = tree.body
    if cls is not None:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == cls).body
    node = next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == name)
    node.decorator_list = []
    node.returns = None
    for arg in node.args.args + node.args.kwonlyargs:
        arg.annotation = None
    module = ast.Module(body=[node], type_ignores=[])
    scope = {"__name__": f"lmms_eval_source.{name}", **names}
    exec(compile(module, str(path), "exec"), scope)
    return scope[name]


_QUIET = SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None, debug=lambda *a, **k: None)


def log_samples(questions: list[dict], responses: dict[int, str], out_dir: Path, *, task: str = "vsibench"):
    """Score ``responses`` (by question id) through lmms-eval's evaluator path and write its
    ``--log_samples`` JSONL under ``out_dir``, as ``lmms_eval --log_samples`` does.

    Per question: ``ConfigurableTask.process_results`` (strip, then the task's
    ``vsibench_process_results``) inside ``evaluator._process_document_results`` (the logged
    sample), then ``EvaluationTracker.save_results_samples`` (the JSONL line). Returns
    ``(path of the JSONL, {metric name: lmms-eval's aggregated value})``.
    """
    import copy
    import hashlib

    import numpy as np
    import torch

    utils = vsibench_utils()
    helpers = {"np": np, "torch": torch, "json": json, "hashlib": hashlib, "Path": Path, "eval_logger": _QUIET,
               "Any": object}
    is_multimodal_content = function("utils.py", "is_multimodal_content", **helpers)
    hash_string = function("utils.py", "hash_string", **helpers)
    handle_non_serializable = function("utils.py", "handle_non_serializable", **helpers)
    sanitize_list = function("utils.py", "sanitize_list", **helpers)
    process_results = function("api/task.py", "process_results", cls="ConfigurableTask", **helpers)
    process_document = function(
        "evaluator.py", "_process_document_results", is_multimodal_content=is_multimodal_content,
        hash_string=hash_string, handle_non_serializable=handle_non_serializable, json=json,
        _collect_input_media=lambda doc, args: [],  # image sources for the log viewer; a video task has none
        _ProcessedDocument=lambda **kw: SimpleNamespace(**kw), strip_reasoning_tags=None)
    save_samples = function("loggers/evaluation_tracker.py", "save_results_samples", cls="EvaluationTracker",
                            Path=Path, json=json, sanitize_list=sanitize_list, eval_logger=_QUIET,
                            handle_non_serializable=handle_non_serializable)

    task_obj = SimpleNamespace(OUTPUT_TYPE="generate_until",
                               config=SimpleNamespace(process_results=utils.vsibench_process_results, repeats=1))
    task_obj.process_results = lambda doc, results, full_docs=None: process_results(task_obj, doc, results, full_docs)
    task_obj.doc_to_target = lambda doc: doc["ground_truth"]
    samples, by_metric = [], {}
    for doc_id, q in enumerate(questions):
        if q["id"] not in responses:
            continue
        doc = {k: v for k, v in q.items()}
        context = utils.vsibench_doc_to_text(doc, {})
        gen_kwargs = {"max_new_tokens": 16, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False}
        request = SimpleNamespace(args=(context, copy.deepcopy(gen_kwargs), utils.vsibench_doc_to_visual, doc_id,
                                        task, "test"),
                                  resps=[responses[q["id"]]], filtered_resps={"none": responses[q["id"]]},
                                  raw_filtered_resps={}, token_counts=[], doc=doc)
        done = process_document((doc_id, doc, [request]), task=task_obj, filter_key="none", reasoning_tags=None,
                                log_samples=True)
        samples.append(done.logged_sample)
        for metric, value in done.metrics.items():
            by_metric.setdefault(metric, []).append(value)
    tracker = SimpleNamespace(output_path=str(out_dir), date_id="20261206T000000",
                              general_config_tracker=SimpleNamespace(model_name_sanitized="model"), api=None,
                              push_samples_to_hub=False)
    save_samples(tracker, task, samples)
    path = Path(out_dir) / "model" / f"20261206T000000_samples_{task}.jsonl"
    if not path.is_file():
        raise RuntimeError("lmms-eval's save_results_samples wrote nothing (it logs and swallows errors)")
    aggregated = {metric: getattr(utils, f"vsibench_aggregate_{metric.removeprefix('vsibench_')}")(docs)
                  for metric, docs in by_metric.items()}
    return path, aggregated
