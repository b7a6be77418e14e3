#!/usr/bin/env bash
# Measures what each quantization costs on one model and prints the markdown table of
# docs/QUANTIZATION.md: size, bits per weight, decode speed and the KL-divergence statistics
# against the unquantized model, without and with an importance matrix.
#
# usage: scripts/quant_quality.sh EDGELLM MODEL.gguf EVAL.txt CALIB.txt CTX WORKDIR [--chunks N]
#        [--threads N] [--prompt TEXT] [--speed-runs N] [SCHEME ...]
# MODEL is the reference (F32 or F16). Default schemes: the llama.cpp mixtures we write.
set -euo pipefail

if [[ $# -lt 6 ]]; then
  sed -n '2,8p' "$0"
  exit 2
fi
EDGELLM=$1 MODEL=$2 EVAL=$3 CALIB=$4 CTX=$5 WORK=$6
shift 6
CHUNKS=0 THREADS=2 PROMPT="Once upon a time" SPEED_RUNS=5
SCHEMES=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --chunks) CHUNKS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;;
    --speed-runs) SPEED_RUNS=$2; shift 2 ;;
    *) SCHEMES+=("$1"); shift ;;
  esac
done
[[ ${#SCHEMES[@]} -gt 0 ]] || SCHEMES=(Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S IQ4_NL Q4_0 Q3_K_L Q3_K_M Q3_K_S Q2_K)
mkdir -p "$WORK"

field() {  # field LABEL TEXT: the first number after LABEL
  awk -v label="$1" 'i = index($0, label) { print substr($0, i + length(label)); exit }' <<<"$2" |
    grep -Eo -- '-?[0-9]+(\.[0-9]+)?' | head -1
}

decode_speed() {  # best of SPEED_RUNS runs (the machine may be shared), tokens/s of the decode phase
  local best=0 s
  for ((run = 0; run < SPEED_RUNS; ++run)); do
    s=$("$EDGELLM" run -m "$1" -p "$PROMPT" -n 128 --temp 0 -t "$THREADS" 2>&1 >/dev/null | grep -Eo 'generation: [0-9]+ tokens, [0-9.]+' | awk '{print $4}')
    best=$(awk -v a="$best" -v b="${s:-0}" 'BEGIN { print (b > a) ? b : a }')
  done
  echo "$best"
}

"$EDGELLM" perplexity -m "$MODEL" -f "$EVAL" -c "$CTX" --chunks "$CHUNKS" -t "$THREADS" --kl-base "$WORK/base.bin" >"$WORK/base.log" 2>&1
"$EDGELLM" imatrix -m "$MODEL" -f "$CALIB" -c "$CTX" -t "$THREADS" -o "$WORK/imatrix.dat" >"$WORK/imatrix.log" 2>&1
BASE_PPL=$(field "PPL = " "$(cat "$WORK/base.log")")
MODEL_MIB=$(awk -v b="$(stat -c %s "$MODEL")" 'BEGIN { printf "%.2f", b / 1048576 }')
echo "| type | bits/weight | file MiB | decode tok/s | PPL | PPL ratio | mean KLD | 99% KLD | same top-1 | KLD, imatrix | 99% KLD, imatrix | same top-1, imatrix |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| reference | $(field "(" "$("$EDGELLM" quantize "$MODEL" "$WORK/ref-copy.gguf" F32 2>/dev/null | grep 'model size')" ) | $MODEL_MIB | $(decode_speed "$MODEL") | $BASE_PPL | 1 | 0 | 0 | 100% | | | |"
rm -f "$WORK/ref-copy.gguf"
for s in "${SCHEMES[@]}"; do
  q=$("$EDGELLM" quantize "$MODEL" "$WORK/$s.gguf" "$s" -t "$THREADS" 2>&1)
  "$EDGELLM" quantize "$MODEL" "$WORK/$s-imatrix.gguf" "$s" -t "$THREADS" --imatrix "$WORK/imatrix.dat" >/dev/null 2>&1
  bpw=$(grep -Eo 'quantized: [0-9.]+ MiB \([0-9.]+' <<<"$q" | awk '{print $4}' | tr -d '(')
  mib=$(awk -v b="$(stat -c %s "$WORK/$s.gguf")" 'BEGIN { printf "%.2f", b / 1048576 }')
  a=$("$EDGELLM" perplexity -m "$WORK/$s.gguf" --kl-compare "$WORK/base.bin" --chunks "$CHUNKS" -t "$THREADS" 2>&1)
  b=$("$EDGELLM" perplexity -m "$WORK/$s-imatrix.gguf" --kl-compare "$WORK/base.bin" --chunks "$CHUNKS" -t "$THREADS" 2>&1)
  echo "| $s | $bpw | $mib | $(decode_speed "$WORK/$s.gguf") | $(field "PPL(Q)                :" "$a") |" \
       "$(field "PPL(Q)/PPL(base)      :" "$a") | $(field "Mean KLD              :" "$a") |" \
       "$(field "99.0% KLD             :" "$a") | $(field "Same top token        :" "$a")% |" \
       "$(field "Mean KLD              :" "$b") | $(field "99.0% KLD             :" "$b") |" \
       "$(field "Same top token        :" "$b")% |"
done
