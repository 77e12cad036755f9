#!/usr/bin/env bash
# The portable build (no -march=native: what runs on any x86-64, e.g. an AVX2-only machine): builds the CLI and
# the kernel and decoder tests and runs them: each kernel test runs with the CPU's own kernels (chosen at run
# time) and with the plain-loop fallbacks an AVX2-only CPU runs; then XFMR_ISA=generic decodes through the CLI.
# Usage: scripts/test_portable.sh   (after scripts/setup.sh has installed the dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset portable >/dev/null
cmake --build --preset portable --target xfmr test_kernels test_infer
# The kernel and decoder tests run every kernel both ways themselves (force_generic_isa_for_testing).
build/portable/tests/test_kernels --gtest_brief=1
build/portable/tests/test_infer --gtest_brief=1
build/portable/xfmr bench decode --preset stories15M --dtype q4_0 --prompt 8 --gen 8 --threads 1 >/dev/null
# XFMR_ISA=generic from the environment: stories260K's golden greedy tokens and a decode through the CLI.
XFMR_ISA=generic build/portable/tests/test_infer --gtest_brief=1 --gtest_filter='Stories*'
XFMR_ISA=generic build/portable/xfmr bench decode --preset stories15M --dtype q4_0 --prompt 8 --gen 8 --threads 1 >/dev/null
echo "portable build: tests passed with the native and the generic kernels"
