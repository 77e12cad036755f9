#!/usr/bin/env bash
# The portable build (no -march=native: what runs on any x86-64, e.g. an AVX2-only machine): builds the CLI and
# the kernel and decoder tests, runs them with the CPU's own kernels (chosen at run time) and with
# XFMR_ISA=generic (the plain-loop fallbacks an AVX2-only CPU runs), then decodes with each.
# Usage: scripts/test_portable.sh   (after scripts/setup.sh has installed the dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset portable >/dev/null
cmake --build --preset portable --target xfmr test_kernels test_infer
for isa in native generic; do
  echo "== portable build, XFMR_ISA=$isa"
  if [ $isa = generic ]; then export XFMR_ISA=generic; else unset XFMR_ISA; fi
  build/portable/tests/test_kernels --gtest_brief=1
  build/portable/tests/test_infer --gtest_brief=1
  build/portable/xfmr bench decode --preset stories15M --dtype q4_0 --prompt 8 --gen 8 --threads 1 >/dev/null
done
echo "portable build: tests passed with the native and the generic kernels"
