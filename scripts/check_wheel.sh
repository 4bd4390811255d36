#!/usr/bin/env bash
# The package as a user gets it: build the wheel, install it into a clean virtual environment (nothing but
# the wheel and what it declares), and from a folder outside the repository run `vsgrpo --help`,
# `data synth` (1 small scene), `data build`, `model tiny` and `eval run` on that tiny model.
# Usage: bash scripts/check_wheel.sh [PYTHON_FOR_THE_VENV]   (default: python; e.g. python3.12)
# Prints how long the clean install took. The wheel is built with `python -m build` (dev extra).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${1:-python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH  # only the installed wheel may be importable
if ! python -m build --wheel --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1; then
  tail -20 "$work/build.log" >&2; exit 1
fi
wheel=("$work"/dist/vsgrpo-*.whl)
t0=$SECONDS
"$py" -m venv "$work/venv"
# --no-compile: byte-compiling torch's thousands of modules at install time costs minutes; Python does it on use
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-compile "${wheel[0]}"
echo "check_wheel: clean install of $(basename "${wheel[0]}") with $("$work/venv/bin/python" -V) took $((SECONDS - t0)) s"
v="$work/venv/bin"
cd "$work"  # away from the repository: nothing of its src/ on the path
"$v/vsgrpo" --help >/dev/null
"$v/vsgrpo" data synth --scenes 1 --frames 16 --size 160x120 --out synth
"$v/vsgrpo" data build --meta synth/meta --out q --per-scene 2
"$v/vsgrpo" model tiny --out tiny
"$v/vsgrpo" eval run --model tiny --questions q/questions.parquet --videos synth/videos --frames 4 --limit 3 --out ev
test -s ev/results.json
"$v/python" -c "import vsgrpo, pathlib; assert 'site-packages' in vsgrpo.__file__, vsgrpo.__file__"
echo "check_wheel: ok (wheel runs help, data synth, data build, model tiny, eval run; total $((SECONDS - t0)) s)"
