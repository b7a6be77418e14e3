#!/usr/bin/env bash
# scripts/test-arm64.sh [BUILD_DIR [CMAKE_ARGS...]]: cross-builds the engine's kernel/model/runtime libraries and
# their unit tests for aarch64 (tests/arm64/CMakeLists.txt with cmake/aarch64-linux-gnu.cmake)
# and runs them under qemu-aarch64-static: every test once at the best kernel level (qemu's
# default CPU has dotprod and i8mm), then the SIMD kernel tests again with each lower NEON level
# forced through EDGELLM_ISA. Installs what it needs (Debian): the cross compiler, qemu, and
# libpcre2-dev for arm64 (multiarch). Exit status: non-zero when a build or test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-arm64}"
shift || true
start=$SECONDS
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
[ -d /usr/src/googletest ] || need+=(googletest)
[ -d /usr/include/fmt ] || need+=(libfmt-dev)
[ -d /usr/include/nlohmann ] || need+=(nlohmann-json3-dev)
command -v ninja >/dev/null || need+=(ninja-build)
[ -f /usr/lib/aarch64-linux-gnu/libpcre2-8.a ] || need+=(libpcre2-dev:arm64)
if ((${#need[@]})); then
  echo "test-arm64: installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
launcher=()  # ccache, when installed, makes rebuilds cheap
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S tests/arm64 -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
file "$dir/simd_dot_test" | grep -q aarch64 || { echo "test-arm64: not an aarch64 build" >&2; exit 1; }
echo "test-arm64: built in $((SECONDS - start)) s"
status=0
echo "== aarch64 under qemu, best kernel level: all arm64 tests"
(cd "$dir" && ctest --output-on-failure -j "$(nproc)" -L arm64) || status=1
# The scalar level is portable C++ that the x86 run already tests against the same reference.
for level in neon_dotprod neon; do
  echo "== aarch64 under qemu, EDGELLM_ISA=$level: SIMD kernel tests"
  (cd "$dir" && EDGELLM_ISA="$level" ctest --output-on-failure -j "$(nproc)" -L simd) || status=1
done
echo "test-arm64: $((SECONDS - start)) s in all"
exit "$status"
