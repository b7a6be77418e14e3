#!/usr/bin/env bash
# The main job: installs dependencies, builds edgellm, and runs it on a model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
CC=gcc CXX=g++ scripts/build.sh build -DEDGELLM_BUILD_TESTS=OFF -DEDGELLM_BUILD_BENCH=OFF
cli=build/bin/edgellm
hf=../shared/models/tinystories-656k
if [ ! -d "$hf" ]; then
  echo "run.sh: $hf is absent; nothing to run (build is in build/bin/edgellm)" >&2
  exit 0
fi
mkdir -p build/models
"$cli" convert "$hf" build/models/tinystories-656k-f32.gguf --type f32
"$cli" info build/models/tinystories-656k-f32.gguf
"$cli" run -m build/models/tinystories-656k-f32.gguf -p "${1:-Once upon a time}" -n 64 --temp 0
