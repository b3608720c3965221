#!/usr/bin/env bash
# Installs the Debian packages edgeloop needs. Idempotent: installs only what is missing and
# runs `apt-get update` at most once. Usage: scripts/install-deps.sh [build|fuzz|models|bench|all]
#   build  (default) everything `make`, `make test`, `make demo`, `make bench` need
#   fuzz             also clang 16 and its libFuzzer runtime (`make fuzz`)
#   models           also PyTorch, for the scripts that (re)generate models (`make models`)
#   bench            also Node.js and npm, for ONNX Runtime in `make bench-compare` (bench/compare.sh
#                    calls this only when node or npm is not on PATH)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  flatbuffers-compiler libflatbuffers-dev
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libsodium-dev libzstd-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
)
fuzz_pkgs=(clang-16 libclang-rt-16-dev)
model_pkgs=(python3 python3-torch python3-torchvision python3-onnx python3-numpy)
bench_pkgs=(nodejs npm zstd bsdiff)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  models) want+=("${model_pkgs[@]}") ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  all) want+=("${fuzz_pkgs[@]}" "${model_pkgs[@]}") ;;  # not bench: a Node.js from elsewhere may already be there
  *) echo "usage: $0 [build|fuzz|models|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
