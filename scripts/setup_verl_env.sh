#!/usr/bin/env bash
# Build the verl side environment: a separate virtualenv with verl 0.9.1, so the data that
# `vsgrpo data export --format verl` writes and the reward file it copies are tested against
# verl's own code (its RLHFDataset + qwen-vl-utils video path, its custom-reward loader and
# reward manager) on a CPU machine. tests/test_verl_export.py finds it by itself.
#
# verl 0.9.1 pins transformers >=5.5.3,<5.11 (vsgrpo's main environment has 5.24.0), so it lives
# in its own environment, as users run it. vsgrpo is NOT installed here on purpose: the reward
# file the export writes must work without it.
#
# What is installed: torch 2.13.0 (pip takes the local CPU build where one is on find-links; verl
# itself has no torch pin outside its GPU extras), torchvision 0.28.0 (Qwen-VL video processors and
# qwen-vl-utils import it), verl 0.9.1 with its base dependencies (ray, tensordict, hydra, datasets,
# ...; not its GPU extras: no vLLM/SGLang, flash-attn, megatron), transformers 5.10.4,
# qwen-vl-utils 0.0.14 (verl's video reader) and decord 0.6.0 (the video backend qwen-vl-utils
# picks; its wheel bundles FFmpeg, so no system FFmpeg is needed).
# GPU training with verl needs its [vllm] or [sglang] extra on a CUDA machine (see docs/scaling.md).
#
# Usage: bash scripts/setup_verl_env.sh [DIR]      (default: .venv-verl in the repository root)
# Idempotent: a stamp file records the pins; a second run with the same pins does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR=${1:-$ROOT/.venv-verl}
PY_BASE=${PYTHON:-python}

VERL_PIN="verl==0.9.1"
TORCH_PIN="torch==2.13.0"
TV_PIN="torchvision==0.28.0"
TF_PIN="transformers==5.10.4"        # verl 0.9.1: >=5.5.3,<5.11,!=5.6.0
EXTRA_PINS="qwen-vl-utils==0.0.14 decord==0.6.0"
STAMP_TEXT="$VERL_PIN $TORCH_PIN $TV_PIN $TF_PIN $EXTRA_PINS hook=1"
STAMP="$DIR/.vsgrpo-side-env"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] && "$DIR/bin/python" -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('verl', 'qwen_vl_utils', 'decord', 'torchvision')))" 2>/dev/null; then
  echo "setup_verl_env: $DIR is up to date"
  exit 0
fi
t0=$(date +%s)
rm -f "$STAMP"
[[ -x "$DIR/bin/python" ]] || "$PY_BASE" -m venv "$DIR"
PY="$DIR/bin/python"
pip_() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

# 1. torch first, so nothing below can pull another (multi-GB CUDA) build.
pip_ "$TORCH_PIN"

# 2. A CPU build of torch has no torchvision partner on PyPI: torchvision 0.28.0's compiled ops do
#    not load, and its Python side then fails at import ("operator torchvision::nms does not exist").
#    Registering those op schemas before torchvision loads fixes it (same hook as
#    scripts/setup_vllm_env.sh); a .pth hook that acts only on `import torchvision`.
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
if "$PY" -c "import torch, sys; sys.exit(0 if '+cpu' in torch.__version__ else 1)" 2>/dev/null; then
  cp scripts/torchvision_ops_hook.py "$SITE/_vsgrpo_tv_ops.py"
  echo "import _vsgrpo_tv_ops; _vsgrpo_tv_ops.install()" > "$SITE/_vsgrpo_tv_ops.pth"
fi

# 3. verl with its base dependencies; torch/torchvision repeated so the resolver keeps them.
pip_ "$VERL_PIN" "$TF_PIN" "$TORCH_PIN" "$TV_PIN" $EXTRA_PINS

"$PY" -c "import torch, torchvision, transformers, verl, qwen_vl_utils, decord; from verl.utils.dataset.rl_dataset import RLHFDataset; from verl.trainer.ppo.reward import load_reward_manager; print('verl env:', 'verl', verl.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__, '| transformers', transformers.__version__)"
echo "$STAMP_TEXT" > "$STAMP"
echo "setup_verl_env: built $DIR in $(( $(date +%s) - t0 )) s ($(du -sm "$DIR" | cut -f1) MB)"
