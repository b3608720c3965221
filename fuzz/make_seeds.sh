#!/usr/bin/env bash
# Regenerates the committed seed corpora in fuzz/corpus/ (small, so they are committed).
set -euo pipefail
edgeloop=${1:-build/bin/edgeloop}
root=$(cd "$(dirname "$0")/.." && pwd)
data=/usr/share/libonnx-testdata/data
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/fuzz/make_seed_models.py" "$tmp"
for m in "$tmp"/*.onnx; do
  cp "$m" "$root/fuzz/corpus/onnx_import/"
  "$edgeloop" model import "$m" -o "$root/fuzz/corpus/artifact/$(basename "${m%.onnx}").edge" > /dev/null
  "$edgeloop" model run "$root/fuzz/corpus/artifact/$(basename "${m%.onnx}").edge" --input "$root/fuzz/corpus/npy/x_1x3x8x8.npy" \
    --output-dir "$tmp/out" > /dev/null 2>&1 || true
done
for t in node/test_conv_with_strides_padding node/test_gemm_all_attributes node/test_maxpool_2d_pads node/test_softmax_axis_1 \
         pytorch-converted/test_Conv2d_depthwise_padded pytorch-converted/test_ConvTranspose2d pytorch-operator/test_operator_flatten \
         node/test_slice_neg_steps node/test_constant_pad node/test_concat_2d_axis_0 node/test_batchnorm_epsilon node/test_qlinearconv \
         node/test_resize_upsample_scales_linear; do
  cp "$data/$t/model.onnx" "$root/fuzz/corpus/onnx_import/$(echo "$t" | tr / _).onnx"
done
# .npz seeds: the fixtures numpy writes for the tests (stored, deflated, data descriptors).
mkdir -p "$root/fuzz/corpus/npz"
/usr/bin/python3 "$root/tests/data/make_npz_fixtures.py" "$root/fuzz/corpus/npz"
