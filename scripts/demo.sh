#!/usr/bin/env bash
# The main job, end to end on this machine. For now: the model half of the loop —
# import the Fashion-MNIST CNN, inspect it, smoke-test it, evaluate it on the 10,000 test images,
# and build its variant matrix (FP16, INT8, INT4, mixed precision to FP32 − 0.5 pp) with tiers.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
edgeloop="$build/bin/edgeloop"
work="$build/demo"
mkdir -p "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Import the ONNX model (examples/fashion_mnist/fashion_cnn.onnx) into a .edge artifact"
"$edgeloop" model import "$root/examples/fashion_mnist/fashion_cnn.onnx" -o "$work/fashion_cnn.edge" \
  --name fashion-cnn --version 1

step "2. Inspect the artifact"
"$edgeloop" model inspect "$work/fashion_cnn.edge"

step "3. Verify it as a device would before activating it (loader checks + golden test vector)"
"$edgeloop" model verify "$work/fashion_cnn.edge"

step "4. Evaluate on the Fashion-MNIST test split (10,000 images, on the backends this CPU supports)"
"$edgeloop" model eval "$work/fashion_cnn.edge" --dataset fashion-mnist --split test

step "5. Build the variant matrix: quantize, measure on the 10,000 test images, pick a variant per tier"
rm -rf "$work/variants"
"$edgeloop" model variants "$work/fashion_cnn.edge" --calib fashion-mnist:train:1000 --eval fashion-mnist:test \
  --max-drop 0.5 --out-dir "$work/variants"

step "6. Benchmark the FP32 model and its INT8 and W4A8 variants on this CPU's backends (docs/backends.md)"
for v in "$work/fashion_cnn.edge" "$work/variants/int8.edge" "$work/variants/w4a8.edge"; do
  "$edgeloop" bench "$v" --runs 200
done

step "Done"
echo "The artifact is $work/fashion_cnn.edge, its variants and variants.json are in $work/variants/;"
echo "run '$edgeloop --help' to explore."
