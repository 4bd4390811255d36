#!/usr/bin/env bash
# vsGRPO-2B with verl 0.9.1 on SEVERAL nodes (Ray). Run this script on every node, with the same EXPORT:
#
#   node 0:      NNODES=4 NODE_RANK=0 HEAD_ADDR=<node0 address> EXPORT=EXPORT bash recipes/verl/multi_node.sh
#   nodes 1..N:  NNODES=4 NODE_RANK=i HEAD_ADDR=<node0 address> EXPORT=EXPORT bash recipes/verl/multi_node.sh
#
# Node 0 starts the Ray head, waits until NNODES nodes have joined, then runs verl's trainer (the same settings
# as single_node.sh: recipes/verl/vsgrpo-2b.overrides + the export's verl_overrides.txt); the other nodes join
# the Ray cluster and serve as workers until the head stops. Under SLURM, set NODE_RANK=$SLURM_NODEID,
# NNODES=$SLURM_NNODES and HEAD_ADDR to the first host of $SLURM_JOB_NODELIST.
#
# Every node must see the export folder, the videos and the model at the same paths (a shared filesystem;
# `vsgrpo data export --root-as /shared/videos` writes the video paths as the nodes see them).
# The batch stays the paper recipe's 32 questions x 14 rollouts per step (448 sequences, divisible by 8, 16, 32
# and 64 GPUs); to use more GPUs per step, raise data.train_batch_size and actor_rollout_ref.actor.ppo_mini_batch_size
# together (e.g. append data.train_batch_size=64 actor_rollout_ref.actor.ppo_mini_batch_size=64).
#
# Environment: EXPORT, NNODES, NODE_RANK, HEAD_ADDR (required); RAY_PORT (6379), GPUS per node (8), MODEL, OUT,
# PYTHON, JOIN_TIMEOUT (seconds the head waits for the nodes, 600), DRY_RUN=1 (node 0: print the overrides only).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${EXPORT:?set EXPORT to the folder written by vsgrpo data export --format verl}"
: "${NNODES:?set NNODES (number of nodes)}"
: "${NODE_RANK:?set NODE_RANK (0 on the head node)}"
GPUS=${GPUS:-8}
RAY_PORT=${RAY_PORT:-6379}

if [[ "${DRY_RUN:-0}" == 1 ]]; then
  exec env GPUS="$GPUS" bash "$HERE/single_node.sh" "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS" "$@"
fi
: "${HEAD_ADDR:?set HEAD_ADDR (address of node 0)}"
if [[ "$NODE_RANK" != 0 ]]; then
  exec ray start --address="$HEAD_ADDR:$RAY_PORT" --num-gpus="$GPUS" --block
fi

ray start --head --node-ip-address="$HEAD_ADDR" --port="$RAY_PORT" --num-gpus="$GPUS"
trap 'ray stop' EXIT
deadline=$(( $(date +%s) + ${JOIN_TIMEOUT:-600} ))
while :; do
  alive=$("${PYTHON:-python3}" -c "import ray; ray.init(address='auto', logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))")
  [[ "$alive" -ge "$NNODES" ]] && break
  (( $(date +%s) > deadline )) && { echo "only $alive of $NNODES nodes joined the Ray cluster" >&2; exit 1; }
  sleep 10
done
# single_node.sh sets nnodes=1; the later values win.
bash "$HERE/single_node.sh" "trainer.nnodes=$NNODES" "trainer.n_gpus_per_node=$GPUS" "$@"
