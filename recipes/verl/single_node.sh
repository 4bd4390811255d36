#!/usr/bin/env bash
# vsGRPO-2B with verl 0.9.1 on ONE node (8 GPUs by default): the paper recipe (recipes/paper/vsgrpo-2b.yaml)
# mapped onto verl's settings in recipes/verl/vsgrpo-2b.overrides (each line says what it stands for).
#
#   1. Export the data (any machine with vsgrpo; video paths are written as absolute paths):
#        vsgrpo data export --format verl --config recipes/paper/vsgrpo-2b.yaml \
#            --questions DATA/questions.parquet --root DATA/videos --out EXPORT
#   2. On the GPU node, in verl's own environment (verl pins transformers<5.11, so not vsgrpo's):
#        pip install 'verl[vllm]==0.9.1'
#        EXPORT=EXPORT bash recipes/verl/single_node.sh [more key=value overrides]
#
# Environment: EXPORT (required: the export folder), MODEL (default Qwen/Qwen2-VL-2B-Instruct), GPUS (8),
# OUT (checkpoint folder, default runs/verl-vsgrpo-2b), PYTHON (python3), DRY_RUN=1 (print the overrides, run nothing).
# Later arguments win over earlier ones (Hydra: the last value of a key is used).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${EXPORT:?set EXPORT to the folder written by vsgrpo data export --format verl}"
[[ -f "$EXPORT/verl_overrides.txt" ]] || { echo "no $EXPORT/verl_overrides.txt; run vsgrpo data export first" >&2; exit 2; }
MODEL=${MODEL:-Qwen/Qwen2-VL-2B-Instruct}
GPUS=${GPUS:-8}
OUT=${OUT:-runs/verl-vsgrpo-2b}

mapfile -t RECIPE < <(grep -v '^[[:space:]]*#' "$HERE/vsgrpo-2b.overrides" | grep -v '^[[:space:]]*$')
mapfile -t DATA < <(grep -v '^[[:space:]]*$' "$EXPORT/verl_overrides.txt")
ARGS=("${RECIPE[@]}" "${DATA[@]}"
      "actor_rollout_ref.model.path=$MODEL"
      "trainer.nnodes=1" "trainer.n_gpus_per_node=$GPUS"
      "trainer.default_local_dir=$OUT"
      "$@")
if [[ "${DRY_RUN:-0}" == 1 ]]; then printf '%s\n' "${ARGS[@]}"; exit 0; fi
exec "${PYTHON:-python3}" -m verl.trainer.main_ppo "${ARGS[@]}"
