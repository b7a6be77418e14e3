#!/usr/bin/env bash
# scripts/test-arm64.sh [BUILD_DIR]: cross-builds the SIMD kernels and their unit tests for
# aarch64 (tests/kernels/simd/standalone with cmake/aarch64-linux-gnu.cmake) and runs them under
# qemu-aarch64-static, once per kernel level: qemu's default CPU has dotprod and i8mm, so each
# lower level is also forced with EDGELLM_ISA (every level's kernels are tested against scalar
# in each run anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-arm64}"
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
[ -d /usr/src/googletest ] || need+=(googletest)
[ -d /usr/include/fmt ] || need+=(libfmt-dev)
command -v ninja >/dev/null || need+=(ninja-build)
if ((${#need[@]})); then
  echo "test-arm64: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
cmake -S tests/kernels/simd/standalone -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" >/dev/null
cmake --build "$dir" -j "$(nproc)"
file "$dir/simd_dot_test" | grep -q aarch64 || { echo "test-arm64: not an aarch64 build" >&2; exit 1; }
status=0
for level in "" neon_dotprod neon scalar; do
  echo "== aarch64 under qemu, EDGELLM_ISA=${level:-<best>}"
  (cd "$dir" && EDGELLM_ISA="$level" ctest --output-on-failure) || status=1
done
exit "$status"
