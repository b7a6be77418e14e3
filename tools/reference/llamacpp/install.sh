#!/usr/bin/env bash
# Install the reference llama.cpp (prebuilt CPU binary shipped inside the npm package
# @node-llama-cpp/linux-x64, driven through node-llama-cpp) into a cache dir OUTSIDE the repo.
# Idempotent: a second run only verifies. Needs only the npm registry (no other downloads).
#
#   bash tools/reference/llamacpp/install.sh                # bindings only (~85 MB, ~10-20 s)
#   bash tools/reference/llamacpp/install.sh --with-tools   # + build llama-quantize, llama-perplexity, llama-bench,
#                                                           #   llama-tokenize, llama-gguf, llama-simple, llama-completion
#                                                           #   from the llama.cpp source that the npm package ships
#   bash tools/reference/llamacpp/install.sh --force        # reinstall from scratch
#   bash tools/reference/llamacpp/install.sh --check        # verify only, exit 1 if not installed
#
# Env: EDGELLM_LLAMACPP_DIR (default $HOME/.cache/edgellm/llamacpp-ref)
#      EDGELLM_LLAMACPP_JOBS (build jobs for --with-tools, default 1)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${EDGELLM_LLAMACPP_DIR:-$HOME/.cache/edgellm/llamacpp-ref}"
JOBS="${EDGELLM_LLAMACPP_JOBS:-1}"
WITH_TOOLS=0 FORCE=0 CHECK=0
for a in "$@"; do
    case "$a" in
        --with-tools) WITH_TOOLS=1 ;;
        --force) FORCE=1 ;;
        --check) CHECK=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "unknown option: $a" >&2; exit 2 ;;
    esac
done

TOOLS=(llama-quantize llama-perplexity llama-bench llama-tokenize llama-gguf llama-simple llama-completion)
log() { echo "[llamacpp-ref] $*" >&2; }

stamp_want() { cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1; }

smoke() {
    # Loads the native addon (no model) and prints package + llama.cpp versions.
    EDGELLM_LLAMACPP_DIR="$DIR" node "$HERE/llamacpp_ref.mjs" version
}

bindings_ok() {
    [[ -f "$DIR/.stamp" && "$(cat "$DIR/.stamp")" == "$(stamp_want)" ]] && smoke >/dev/null 2>&1
}

tools_ok() {
    local t
    for t in "${TOOLS[@]}"; do [[ -x "$DIR/bin/$t" ]] || return 1; done
}

if [[ $CHECK == 1 ]]; then
    if bindings_ok; then smoke; else log "bindings not installed in $DIR"; exit 1; fi
    if tools_ok; then log "tools: $DIR/bin"; elif [[ $WITH_TOOLS == 1 ]]; then log "tools not built"; exit 1; fi
    exit 0
fi

command -v node >/dev/null || { log "node (>= 20) is required"; exit 1; }
command -v npm >/dev/null || { log "npm is required"; exit 1; }

if [[ $FORCE == 1 ]]; then
    log "removing $DIR"
    rm -rf "$DIR"
fi
mkdir -p "$DIR"

if bindings_ok; then
    log "bindings up to date in $DIR"
else
    log "installing node-llama-cpp into $DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
    # --omit=optional: skip the CUDA/Vulkan/other-arch prebuilt packages (~650 MB); the CPU one is a direct dependency.
    # --ignore-scripts: node-llama-cpp's postinstall may try to download/build a binary; we only use the prebuilt one.
    (cd "$DIR" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
    smoke
    stamp_want > "$DIR/.stamp"
fi

if [[ $WITH_TOOLS == 1 ]]; then
    if tools_ok && [[ -f "$DIR/bin/.stamp" && "$(cat "$DIR/bin/.stamp")" == "$(stamp_want)" ]]; then
        log "tools up to date in $DIR/bin"
    else
        for c in git cmake c++; do command -v $c >/dev/null || { log "$c is required for --with-tools (apt-get install git cmake g++ ninja-build)"; exit 1; }; done
        BUNDLE="$DIR/node_modules/node-llama-cpp/llama/gitRelease.bundle"
        [[ -f "$BUNDLE" ]] || { log "no llama.cpp source bundle in the npm package ($BUNDLE)"; exit 1; }
        SRC="$DIR/llama.cpp"
        rm -rf "$SRC"
        git -c advice.detachedHead=false clone -q "$BUNDLE" "$SRC"
        GEN=()
        command -v ninja >/dev/null && GEN=(-G Ninja)
        log "building ${TOOLS[*]} with $JOBS job(s) (~8 min of CPU on 1 core; 20-30 min wall on a busy machine)"
        cmake -S "$SRC" -B "$SRC/build" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF \
            -DGGML_NATIVE=ON >"$SRC/cmake.log" 2>&1 || { tail -30 "$SRC/cmake.log" >&2; exit 1; }
        cmake --build "$SRC/build" -j "$JOBS" --target "${TOOLS[@]}"
        mkdir -p "$DIR/bin"
        for t in "${TOOLS[@]}"; do cp "$SRC/build/bin/$t" "$DIR/bin/$t"; done
        stamp_want > "$DIR/bin/.stamp"
        log "tools installed in $DIR/bin"
    fi
fi
log "ok: $DIR"
