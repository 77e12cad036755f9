#!/usr/bin/env bash
# Installs every dependency xfmr needs from Debian 12 packages. Idempotent: packages already present are skipped.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build pkg-config git
  ccache                     # compiler cache: rebuilds after a branch switch or clean clone reuse objects
  libopenblas-dev libopenblas-openmp-dev  # BLAS for matmul; the OpenMP build shares xfmr's thread pool
  libgtest-dev libgmock-dev  # unit tests
  libbenchmark-dev           # benchmarks
  nlohmann-json3-dev         # JSON for configs, results and fixtures
  libcpp-httplib-dev         # HTTP server of `xfmr serve`
  clang libclang-rt-14-dev libomp-dev  # libFuzzer targets for the file parsers (scripts/fuzz.sh)
  python3-torch python3-numpy  # PyTorch parity oracle, run as /usr/bin/python3
  chromium fonts-dejavu-core  # report.html browser test (headless --dump-dom/--screenshot), fixed fonts
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all dependencies present"
fi
