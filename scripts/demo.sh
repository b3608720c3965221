#!/usr/bin/env bash
# The main job, end to end on this machine. For now: the model half of the loop and its
# distribution — import the Fashion-MNIST CNN, inspect it, smoke-test it, evaluate it on the
# 10,000 test images, build its variant matrix (FP16, INT8, INT4, mixed precision to
# FP32 − 0.5 pp) with tiers, benchmark it, publish the variants in a signed repository, let
# devices of each tier verify it and install their model into A/B slots, then ship version 2
# as a delta through a staged rollout, recall it with a pin (a flip, no download), and watch
# the watchdog revert a version 2 that crashes at every start.
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

step "7. Publish the variants in a signed repository (docs/repository.md): one release per tier"
repo="$work/repo"
rm -rf "$repo" "$work/devices"
"$edgeloop" repo init "$repo"
"$edgeloop" repo add "$repo" "$work"/variants/{fp32,int8,w4a8}.edge --variants "$work/variants/variants.json"
for tier in flagship mid low; do
  "$edgeloop" repo rollout "$repo" --model fashion-cnn --tier "$tier" --target 1 --percent 100
done

device() {  # device ID TIER: verify the repository as that device and print what it runs
  "$edgeloop" device check --repo "$repo/public" --data-dir "$work/devices/$1" --device-id "$1" --tier "$2" "${@:3}"
}
update() {  # device ID TIER: one update cycle of that device (check, download, verify, smoke test, switch)
  "$edgeloop" device update --repo "$repo/public" --data-dir "$work/devices/$1" --device-id "$1" --tier "$2" "${@:3}"
}
step "8. A device of each tier verifies the metadata (root, timestamp, snapshot, targets, rollout), resolves its model, downloads, verifies, smoke-tests and installs it"
for tier in flagship mid low; do
  update "cam-$tier-1" "$tier" --root "$repo/public/metadata/1.root.json"
done

step "9. Version 2 (INT8 re-calibrated on other images) to 10% of tier mid: the repository makes a delta from version 1; the cohort is a keyed hash of device id and rollout id"
"$edgeloop" model import "$root/examples/fashion_mnist/fashion_cnn.onnx" -o "$work/fashion_cnn_v2.edge" \
  --name fashion-cnn --version 2 > /dev/null
"$edgeloop" model quantize "$work/fashion_cnn_v2.edge" --scheme int8 --calib fashion-mnist:train:1000-2000 \
  -o "$work/fashion_cnn_v2_int8.edge" > /dev/null
"$edgeloop" repo add "$repo" "$work/fashion_cnn_v2_int8.edge" --tiers mid
"$edgeloop" repo rollout "$repo" --model fashion-cnn --tier mid --target 2 --percent 10
runs_v2=0
for i in $(seq 1 100); do
  first=(); [ -d "$work/devices/mid-$i" ] || first=(--root "$repo/public/metadata/1.root.json")
  v=$(device "mid-$i" mid "${first[@]}" --json | sed -n 's/.*"model_version": "\([0-9.]*\)".*/\1/p')
  [ "$v" = 2 ] && runs_v2=$((runs_v2 + 1))
done
echo "$runs_v2 of 100 mid devices run version 2 (expected about 10); the others stay on version 1"

step "10. Widen to all of tier mid: cam-mid-1 downloads the delta, not the model, and runs version 2 on trial"
"$edgeloop" repo rollout "$repo" --model fashion-cnn --tier mid --target 2 --percent 100
update cam-mid-1 mid

step "11. Kill switch: pin the whole fleet to version 1; cam-mid-1 flips back to its last-known-good, downloading nothing"
"$edgeloop" repo pin "$repo" --model fashion-cnn --version 1
update cam-mid-1 mid
"$edgeloop" repo status "$repo"

step "12. Unpin: version 2 again, on trial; this time it crashes the app at every start, so nobody marks it good"
"$edgeloop" repo pin "$repo" --model fashion-cnn --unpin
update cam-mid-1 mid
for start in 1 2 3 4; do  # each start stands for an app process that dies once the model runs
  "$edgeloop" device start --data-dir "$work/devices/cam-mid-1"
done
"$edgeloop" device status --data-dir "$work/devices/cam-mid-1"
update cam-mid-1 mid

step "Done"
echo "The artifact is $work/fashion_cnn.edge, its variants and variants.json are in $work/variants/,"
echo "the signed repository is in $repo/public; run '$edgeloop --help' to explore."
