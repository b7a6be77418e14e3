#!/usr/bin/env bash
# The main job: installs dependencies, builds edgellm, and runs it on a model.
#   scripts/run.sh ["PROMPT"]
# Ends with the bundled default model (models/default.gguf, a small Llama trained on the King
# James Bible, see models/README.md) continuing PROMPT, printing its text and speed. Needs no
# network and no ../shared; when ../shared has the TinyStories checkpoint, it is converted and
# run first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
CC=gcc CXX=g++ scripts/build.sh build -DEDGELLM_BUILD_TESTS=OFF -DEDGELLM_BUILD_BENCH=OFF
cli=build/bin/edgellm
hf=../shared/models/tinystories-656k
if [ -d "$hf" ]; then
  mkdir -p build/models
  "$cli" convert "$hf" build/models/tinystories-656k-f32.gguf --type f32
  "$cli" run -m build/models/tinystories-656k-f32.gguf -p "Once upon a time" -n 48 --temp 0
  echo
fi
# No -m: the bundled default model. Sampling at temperature 0.7 with a fixed seed (repeatable).
"$cli" run -p "${1:-And God said}" -n 96 --temp 0.7 --seed 1611
