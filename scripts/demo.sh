#!/usr/bin/env bash
# The main job, end to end on this machine: the model half of the loop, its distribution, and
# the device half. Import the Fashion-MNIST CNN, inspect, verify and evaluate it, build its
# variant matrix (FP16, INT8, INT4, mixed precision to FP32 - 0.5 pp) with tiers, benchmark it,
# publish the variants in a signed repository, let devices of each tier install their model into
# A/B slots; ship version 2 as a delta through a staged rollout and run it on a simulated camera
# in the shadow of version 1 until it has earned its trust; then ship a deliberately bad version 3
# (100x the work per frame) and watch the devices catch it on their own: in the shadow, by the
# watchdog when it crashes the app, and by a fleet-wide pin that costs no download.
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
for cam in flagship-1:flagship mid-1:mid mid-2:mid mid-3:mid low-1:low; do
  update "cam-${cam%%:*}" "${cam##*:}" --root "$repo/public/metadata/1.root.json"
done

step "9. Version 2 (re-calibrated on other images: INT8 for tier mid, W4A8 for tier low) to 10% of tier mid: the repository makes deltas from version 1; the cohort is a keyed hash of device id and rollout id"
"$edgeloop" model import "$root/examples/fashion_mnist/fashion_cnn.onnx" -o "$work/fashion_cnn_v2.edge" \
  --name fashion-cnn --version 2 > /dev/null
for scheme in int8 w4a8; do
  "$edgeloop" model quantize "$work/fashion_cnn_v2.edge" --scheme $scheme --calib fashion-mnist:train:1000-2000 \
    -o "$work/fashion_cnn_v2_$scheme.edge" > /dev/null
done
"$edgeloop" repo add "$repo" "$work/fashion_cnn_v2_int8.edge" --tiers mid
"$edgeloop" repo add "$repo" "$work/fashion_cnn_v2_w4a8.edge" --tiers low
"$edgeloop" repo rollout "$repo" --model fashion-cnn --tier mid --target 2 --percent 10
runs_v2=0
for i in $(seq 1 100); do
  first=(); [ -d "$work/devices/mid-$i" ] || first=(--root "$repo/public/metadata/1.root.json")
  v=$(device "mid-$i" mid "${first[@]}" --json | sed -n 's/.*"model_version": "\([0-9.]*\)".*/\1/p')
  [ "$v" = 2 ] && runs_v2=$((runs_v2 + 1))
done
echo "$runs_v2 of 100 mid devices run version 2 (expected about 10); the others stay on version 1"

step "10. Widen to all of tier mid: cam-mid-1 downloads the delta, not the model, runs version 2 on trial, and keeps version 2's smallest variant (W4A8) beside it for the ladder's L1"
"$edgeloop" repo rollout "$repo" --model fashion-cnn --tier mid --target 2 --percent 100
update cam-mid-1 mid | tee "$work/update-v2.txt"

camera() {  # camera ID ARGS...: the simulated camera on that device, its installed models answering (docs/engine.md)
  "$edgeloop" device simulate-camera --data-dir "$work/devices/$1" "${@:2}"
}
step "11. cam-mid-1's camera, 60 s at 30 fps in a 35 °C room: version 1 (last-known-good) answers, version 2 runs in its shadow on every 5th frame and earns its 100 successes there"
camera cam-mid-1 --seconds 60 --ambient 35 --shadow-rate 0.2 | tee "$work/camera-v2.txt"

step "12. A bad release: version 3 (examples/bad_release/wide_cnn.onnx: same input and output, 100x the work per frame) to all of tier mid; it passes every check a release gets"
"$edgeloop" model import "$root/examples/bad_release/wide_cnn.onnx" -o "$work/wide_cnn_v3.edge" --name fashion-cnn --version 3 > /dev/null
"$edgeloop" repo add "$repo" "$work/wide_cnn_v3.edge" --tiers mid
"$edgeloop" repo rollout "$repo" --model fashion-cnn --tier mid --target 3 --percent 100
for cam in mid-1 mid-2 mid-3; do
  update "cam-$cam" mid | tee "$work/update-v3-cam-$cam.txt"
done

step "13. cam-mid-1's camera, 10 s in real time: version 2 answers, version 3 runs in its shadow, blows the 50 ms budget, and is reverted without a download"
camera cam-mid-1 --seconds 10 --ambient 35 --shadow-rate 0.2 --realtime | tee "$work/camera-v3.txt"
"$edgeloop" device status --data-dir "$work/devices/cam-mid-1"
update cam-mid-1 mid | tee "$work/update-v3-again.txt"

step "14. cam-mid-2: version 3 crashes the app at every start before anyone marks it good; the watchdog reverts it on the 4th start, offline"
for start in 1 2 3 4; do  # each start stands for an app process that dies once the model runs
  "$edgeloop" device start --data-dir "$work/devices/cam-mid-2" | tee "$work/start-cam-mid-2-$start.txt"
done
"$edgeloop" device status --data-dir "$work/devices/cam-mid-2"

step "15. Kill switch: the operator pins fashion-cnn to version 1 fleet-wide; cam-mid-3, still on trial with version 3, flips back to its last-known-good, downloading nothing"
"$edgeloop" repo pin "$repo" --model fashion-cnn --version 1
update cam-mid-3 mid | tee "$work/update-pin-cam-mid-3.txt"

step "What happened"
line() { sed -n "s/^$2 *//p" "$work/$1" | head -1; }  # line FILE PREFIX: the rest of the first line starting with PREFIX
cat << SUMMARY
- The model: the Fashion-MNIST CNN, imported, verified, measured on 10,000 test images and
  quantized into a variant matrix; each tier installed the variant chosen for it, into slot a.
- Version 2 reached cam-mid-1 as a $(line update-v2.txt download)
- On cam-mid-1's camera version 2 answered nobody until it had proved itself in the shadow of
  version 1: $(line camera-v2.txt shadow)
  Then: $(line camera-v2.txt trial)
- Heat: $(line camera-v2.txt '           ' | sed 's/^die/the die/'). Ladder: $(line camera-v2.txt ladder)
- Version 3 passed the signatures, the hashes and the smoke test, then failed where it runs.
  cam-mid-1: $(line camera-v3.txt trial)
  Asked to install it again: $(line update-v3-again.txt refused)
- cam-mid-2, whose app died with version 3 at every start: $(line start-cam-mid-2-4.txt start)
- cam-mid-3, on the operator's kill switch: $(grep -h '^download\|^switch\|^recall' "$work/update-pin-cam-mid-3.txt" | tr -s ' ' | tr '\n' ' ')
The artifacts are in $work (variants and variants.json in $work/variants/), the signed repository in
$repo/public, each device's slots in $work/devices/; run '$edgeloop --help' to explore.
SUMMARY
