#!/usr/bin/env bash
# edgeloop vs ONNX Runtime, side by side (docs/benchmarks.md, "edgeloop vs ONNX Runtime").
#
#   bench/compare.sh [--runs 50] [--rounds 5] [--warmup 10] [--threads "1 2"] [--models cnn,mobilenetv2]
#
# For the Fashion-MNIST CNN and MobileNetV2 224x224 at each thread count it times ONNX Runtime
# FP32 (npm onnxruntime-node, bench/ort/bench.js) and edgeloop FP32, INT8 and W4A8
# (`edgeloop bench`). Interleaved: R rounds, each running every configuration once with N timed
# inferences after the warm-up (the order reversed every other round); a configuration's figure
# is the median of its R p50s (the min beside it), which cancels drift on a shared, noisy machine.
# Prints a markdown table on stdout and writes build/bench-compare.{json,md}; progress on stderr.
# edgeloop runs with --no-verify: an output that misses the artifact's golden vector is marked in
# the table (‡) instead of stopping the comparison.
#
# Environment: BUILD, the edgeloop build folder (default: build/ of this checkout).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${BUILD:-$root/build}")
runs=50 rounds=5 warmup=10 threads="1 2" models="cnn,mobilenetv2"

usage() {  # usage STATUS: the header comment, on stderr when STATUS is an error
  if [ "$1" -eq 0 ]; then help_text; else help_text >&2; fi
  exit "$1"
}
help_text() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "compare.sh: error: $*" >&2; exit 1; }
positive() { [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || die "$1 must be an integer >= $3, got '$2'"; }

while [ $# -gt 0 ]; do
  case $1 in
    --runs) [ $# -ge 2 ] || die "--runs needs a value"; positive --runs "$2" 1; runs=$2; shift 2 ;;
    --rounds) [ $# -ge 2 ] || die "--rounds needs a value"; positive --rounds "$2" 1; rounds=$2; shift 2 ;;
    --warmup) [ $# -ge 2 ] || die "--warmup needs a value"; positive --warmup "$2" 0; warmup=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a value"; threads=${2//,/ }; shift 2
      for t in $threads; do positive --threads "$t" 1; done ;;
    --models) [ $# -ge 2 ] || die "--models needs a value"; models=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done

log() { echo "compare: $*" >&2; }
edgeloop=$build/bin/edgeloop
[ -x "$edgeloop" ] || die "$edgeloop is missing: build first (make)"

# ONNX Runtime from npm, pinned by bench/ort/package-lock.json; bench-only.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  log "node/npm missing: installing them (scripts/install-deps.sh bench)"
  "$root/scripts/install-deps.sh" bench
fi
ort_dir=$root/bench/ort
if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ] ||
   [ "$ort_dir/package-lock.json" -nt "$ort_dir/node_modules/.package-lock.json" ]; then
  log "installing onnxruntime-node into bench/ort/node_modules (npm ci --ignore-scripts)"
  # --ignore-scripts: the package ships the CPU runtime; its install script only fetches GPU files.
  (cd "$ort_dir" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi

# Artifacts, cached in build/bench-models and regenerated when their source or the edgeloop that
# made them (importer, quantizer, golden tolerances) is newer, or when they no longer load.
cache=$build/bench-models
mkdir -p "$cache"
stale() { [ ! -s "$1" ] || [ "$2" -nt "$1" ] || [ "$edgeloop" -nt "$1" ] || ! "$edgeloop" model inspect "$1" > /dev/null 2>&1; }
declare -A onnx_of calib_of label_of
onnx_of[cnn]=$root/examples/fashion_mnist/fashion_cnn.onnx
calib_of[cnn]=fashion-mnist:train:500
label_of[cnn]="Fashion-MNIST CNN"
onnx_of[mobilenetv2]=$build/models/mobilenetv2.onnx
calib_of[mobilenetv2]=random:16
label_of[mobilenetv2]="MobileNetV2 224×224"

selected=()
for m in ${models//,/ }; do
  [ -n "${onnx_of[$m]:-}" ] || die "unknown model '$m' (cnn, mobilenetv2)"
  onnx=${onnx_of[$m]}
  if [ ! -f "$onnx" ]; then
    log "skipping $m: $onnx is missing; \`make models\` makes it (PyTorch, a few minutes)"
    continue
  fi
  if stale "$cache/$m-fp32.edge" "$onnx"; then
    log "importing $onnx → $cache/$m-fp32.edge"
    "$edgeloop" model import "$onnx" -o "$cache/$m-fp32.edge" --name "$m" > /dev/null
  fi
  for scheme in int8 w4a8; do
    if stale "$cache/$m-$scheme.edge" "$cache/$m-fp32.edge"; then
      log "quantizing $m to $scheme (calibration ${calib_of[$m]})"
      "$edgeloop" model quantize "$cache/$m-fp32.edge" --scheme "$scheme" --calib "${calib_of[$m]}" \
        -o "$cache/$m-$scheme.edge" > /dev/null
    fi
  done
  selected+=("$m")
done
[ ${#selected[@]} -gt 0 ] || die "no model to compare"

# Static facts: weight bytes of each variant (edgeloop model inspect --json).
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for m in "${selected[@]}"; do
  for v in fp32 int8 w4a8; do
    printf '{"kind":"inspect","model":"%s","variant":"%s","inspect":%s}\n' "$m" "$v" \
      "$("$edgeloop" model inspect "$cache/$m-$v.edge" --json | tr -d '\n')" >> "$raw"
  done
done

# The interleaved rounds.
read -r load1 _ < /proc/loadavg
cores=$(nproc)
if awk -v l="$load1" -v c="$cores" 'BEGIN { exit !(l > c / 2) }'; then
  log "load average $load1 on $cores cores: other work is running, expect noisy figures (multi-threaded ones most)"
fi
configs=(ort-fp32 edgeloop-fp32 edgeloop-int8 edgeloop-w4a8)
total=$(( rounds * ${#selected[@]} * $(wc -w <<< "$threads") * ${#configs[@]} ))
done_count=0
started=$SECONDS
for ((round = 1; round <= rounds; ++round)); do
  order=("${configs[@]}")
  if (( round % 2 == 0 )); then order=(); for ((i = ${#configs[@]} - 1; i >= 0; --i)); do order+=("${configs[$i]}"); done; fi
  for m in "${selected[@]}"; do
    for t in $threads; do
      for c in "${order[@]}"; do
        done_count=$((done_count + 1))
        if [ "$c" = ort-fp32 ]; then
          out=$(node "$ort_dir/bench.js" "${onnx_of[$m]}" --threads "$t" --runs "$runs" --warmup "$warmup") ||
            die "ONNX Runtime failed on ${onnx_of[$m]}"
        else
          # --no-verify: a golden mismatch is flagged in the table, not a reason to stop the comparison.
          out=$("$edgeloop" bench "$cache/$m-${c#edgeloop-}.edge" --threads "$t" --runs "$runs" --warmup "$warmup" --no-verify --json) ||
            die "edgeloop bench failed on $cache/$m-${c#edgeloop-}.edge"
        fi
        note=$(node -e 'const j = JSON.parse(process.argv[1]);
          console.log(`p50 ${j.latency_ms.p50.toFixed(3)} ms` + (j.golden === "mismatch" ? ", output does NOT match the golden vector" : ""))' "$out")
        log "[$done_count/$total, round $round/$rounds, $((SECONDS - started)) s] $m ${t}t $c: $note"
        printf '{"kind":"run","round":%d,"model":"%s","threads":%d,"config":"%s","result":%s}\n' \
          "$round" "$m" "$t" "$c" "$(tr -d '\n' <<< "$out")" >> "$raw"
      done
    done
  done
done

labels=$(for m in "${selected[@]}"; do printf '%s=%s\n' "$m" "${label_of[$m]}"; done)
command_line="bench/compare.sh --runs $runs --rounds $rounds --warmup $warmup --threads \"$threads\" --models $(IFS=,; echo "${selected[*]}")"
node "$root/bench/compare_report.js" --raw "$raw" --json "$build/bench-compare.json" --md "$build/bench-compare.md" \
  --labels "$labels" --command "$command_line" --runs "$runs" --rounds "$rounds" --warmup "$warmup" \
  --commit "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "wrote $build/bench-compare.json and $build/bench-compare.md ($((SECONDS - started)) s)"
