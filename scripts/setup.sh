#!/usr/bin/env bash
# Set up vsgrpo on a fresh machine: everything the project needs, from its own files.
# Usage: bash scripts/setup.sh           developer: editable install + test tools (pytest, build, chromium,
#                                        lmms-eval) - what CI runs
#        bash scripts/setup.sh --user    user: `pip install .` (a regular install of the package and its
#                                        dependencies) + Mesa EGL for `vsgrpo data synth`; no test tools
# (--no-dev is the old name of --user.)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="[dev]"
user=0
case "${1:-}" in
  --user|--no-dev) user=1; extras="" ;;
  "") ;;
  *) echo "setup.sh: unknown option ${1}; use --user or nothing" >&2; exit 2 ;;
esac
# Headless OpenGL (EGL + Mesa llvmpipe) for the procedural-room renderer (vsgrpo data synth).
if ! ldconfig -p 2>/dev/null | grep "libEGL.so.1" >/dev/null || ! ls /usr/lib/*/dri/*swrast* >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1-mesa-dri >/dev/null
  else
    echo "setup.sh: install libegl1 and libgl1-mesa-dri (Mesa EGL) for 'vsgrpo data synth'" >&2
  fi
fi
# Test-only: a headless browser for the `vsgrpo data browse` test (Debian's chromium, driven over
# the DevTools protocol with websocket-client from the dev extra).
if [[ -n "$extras" ]] && ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup.sh: install chromium for the browser test of 'vsgrpo data browse' (it is skipped without)" >&2
  fi
fi
if [[ $user == 1 ]]; then
  python -m pip install --upgrade-strategy only-if-needed .
else
  python -m pip install --upgrade-strategy only-if-needed -e ".${extras}"
fi
# Test-only: lmms-eval's own VSI-Bench scoring, to check `--parser lmms-eval` against it. Its
# dependencies conflict with our pins (av<16), and the tests load only lmms_eval/tasks/vsibench/utils.py.
if [[ -n "$extras" ]]; then python -m pip install --no-deps "lmms-eval==0.7.3"; fi
python -c "import vsgrpo, torch, transformers, trl; print('vsgrpo', vsgrpo.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__, '| trl', trl.__version__)"
