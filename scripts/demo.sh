#!/usr/bin/env bash
# Installs dependencies, builds xfmr (release) and runs the main job on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target xfmr
exec build/release/xfmr demo "$@"
