#!/usr/bin/env bash
# Installs dependencies, builds xfmr (release) and runs the main job, `xfmr icl`, on its embedded default
# (extra arguments go to `xfmr icl`, e.g. scripts/demo.sh --threads 2 --out runs/mine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target xfmr
exec build/release/xfmr icl "$@"
