#!/usr/bin/env bash
# Set up vsgrpo on a fresh machine: everything the project needs, from its own files.
# Usage: bash scripts/setup.sh            (add --no-dev to skip test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="[dev]"
[[ "${1:-}" == "--no-dev" ]] && extras=""
python -m pip install --upgrade-strategy only-if-needed -e ".${extras}"
python -c "import vsgrpo, torch, transformers, trl; print('vsgrpo', vsgrpo.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__, '| trl', trl.__version__)"
