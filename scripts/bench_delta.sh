#!/usr/bin/env bash
# The delta benchmark of docs/benchmarks.md ("Delta updates"): edgeloop delta vs
# `zstd -19 --long=27 --patch-from` vs bsdiff on three model updates, sizes, apply time and
# apply peak memory (max RSS from /usr/bin/time -v), side by side in one run.
#   scripts/bench_delta.sh build/bin/edgeloop MODELS_DIR WORK_DIR
# MODELS_DIR holds base.onnx, last_layer.onnx and one or more (a) updates epoch*.onnx, e.g. a
# learning-rate sweep (scripts/make_delta_models.py --epoch ...); each epoch*.onnx is a row
# "a NAME". WORK_DIR gets the .edge files, every patch, and pairs.tsv for the in-process
# benchmark (EDGELOOP_DELTA_BENCH_DIR=WORK_DIR build/bin/edgeloop_bench --benchmark_filter=DeltaApply).
set -euo pipefail
edgeloop=$(realpath "$1"); models=$(realpath "$2"); work=$3
mkdir -p "$work"; cd "$work"

"$edgeloop" model import "$models/base.onnx" -o base.edge > /dev/null
pairs=()
for m in "$models"/epoch*.onnx; do
  [ -e "$m" ] || { echo "no epoch*.onnx in $models" >&2; exit 1; }
  stem=$(basename "$m" .onnx)
  "$edgeloop" model import "$m" -o "$stem.edge" > /dev/null
  pairs+=("a-$stem:base.edge:$stem.edge")
done
"$edgeloop" model import "$models/last_layer.onnx" -o last_layer.edge > /dev/null
pairs+=("b:base.edge:last_layer.edge" "c:int8_a.edge:int8_b.edge")
"$edgeloop" model quantize base.edge --scheme int8 --calib fashion-mnist:train:1000 -o int8_a.edge > /dev/null
"$edgeloop" model quantize base.edge --scheme int8 --calib fashion-mnist:train:1000-2000 -o int8_b.edge > /dev/null

# best of 10 wall times (ms, from date +%s%N) and the largest max RSS (KiB, /usr/bin/time -v)
measure() {  # measure OUT_PREFIX CMD...
  local prefix=$1; shift
  local best=999999 rss=0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local s e t m
    s=$(date +%s%N); "$@" > /dev/null 2>&1; e=$(date +%s%N)
    t=$(( (e - s) / 10000 ))  # 10 µs units
    if [ "$t" -lt "$best" ]; then best=$t; fi
    /usr/bin/time -f "%M" -o "$prefix.time" "$@" > /dev/null 2>&1
    m=$(cat "$prefix.time")
    if [ "$m" -gt "$rss" ]; then rss=$m; fi
  done
  echo "$(awk "BEGIN{printf \"%.2f\", $best/100}") $rss"
}

# What the edgeloop binary costs before it does anything (it links the whole toolchain).
read -r vt vm <<< "$(measure version "$edgeloop" --version)"
echo "edgeloop --version: $vt ms, max RSS $vm KiB (the process baseline)"
echo

printf '| update | target bytes | tool | patch bytes | %% of target | make s | apply ms (best of 10) | apply max RSS KiB |\n'
printf '|---|---|---|---|---|---|---|---|\n'
: > pairs.tsv
for pair in "${pairs[@]}"; do
  IFS=: read -r name base target <<< "$pair"
  printf '%s\t%s\t%s\n' "$name" "$base" "$target" >> pairs.tsv
  tbytes=$(stat -c %s "$target")
  sha=$(sha256sum "$target" | cut -d' ' -f1)
  row() {  # row TOOL PATCH MAKE_S APPLY_S RSS OUT
    cmp -s "$6" "$target" || { echo "$1 did not rebuild $target" >&2; exit 1; }
    local p; p=$(stat -c %s "$2")
    printf '| %s | %d | %s | %d | %.2f | %s | %s | %s |\n' "$name" "$tbytes" "$1" "$p" \
      "$(awk "BEGIN{print 100*$p/$tbytes}")" "$3" "$4" "$5"
  }
  s=$(date +%s.%N); "$edgeloop" delta make "$base" "$target" -o "$name.edelta" > /dev/null; e=$(date +%s.%N)
  read -r at am <<< "$(measure "$name.el" "$edgeloop" delta apply "$base" "$name.edelta" -o "$name.el.out" --expect-sha256 "$sha")"
  row "edgeloop delta (zstd 19)" "$name.edelta" "$(awk "BEGIN{printf \"%.2f\", $e-$s}")" "$at" "$am" "$name.el.out"
  s=$(date +%s.%N); zstd -q -f -19 --long=27 --patch-from="$base" "$target" -o "$name.zst" 2> /dev/null; e=$(date +%s.%N)
  read -r zt zm <<< "$(measure "$name.z" zstd -q -f -d --long=27 --patch-from="$base" "$name.zst" -o "$name.z.out")"
  row "zstd -19 --long=27 --patch-from" "$name.zst" "$(awk "BEGIN{printf \"%.2f\", $e-$s}")" "$zt" "$zm" "$name.z.out"
  s=$(date +%s.%N); bsdiff "$base" "$target" "$name.bsdiff"; e=$(date +%s.%N)
  read -r bt bm <<< "$(measure "$name.b" bspatch "$base" "$name.b.out" "$name.bsdiff")"
  row "bsdiff" "$name.bsdiff" "$(awk "BEGIN{printf \"%.2f\", $e-$s}")" "$bt" "$bm" "$name.b.out"
  s=$(date +%s.%N); zstd -q -f -19 "$target" -o "$name.full.zst"; e=$(date +%s.%N)
  printf '| %s | %d | %s | %d | %.2f | %s | | |\n' "$name" "$tbytes" "full target, zstd -19" "$(stat -c %s "$name.full.zst")" \
    "$(awk "BEGIN{print 100*$(stat -c %s "$name.full.zst")/$tbytes}")" "$(awk "BEGIN{printf \"%.2f\", $e-$s}")"
done

if [ -f "$models/models.tsv" ]; then
  echo
  echo "models (scripts/make_delta_models.py, $models/models.tsv):"
  column -t "$models/models.tsv"
fi
