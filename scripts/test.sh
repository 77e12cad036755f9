#!/usr/bin/env bash
# Installs dependencies, builds xfmr with warnings as errors, and runs the whole test suite through CTest.
# Usage: scripts/test.sh [--debug]   (--debug: also build and run the suite under ASan + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci
if [ "${1:-}" = "--debug" ]; then
  cmake --preset debug >/dev/null
  cmake --build --preset debug
  ctest --preset debug
fi
