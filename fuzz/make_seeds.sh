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
# tensor wire seeds (docs/split-inference.md): one activation, every dtype, an empty message.
/usr/bin/python3 - "$root/fuzz/corpus/tensor_wire" <<'PY'
import os, struct, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
def tensor(name, dtype, shape, data):
    b = struct.pack("<H", len(name)) + name.encode() + struct.pack("<BB", dtype, len(shape))
    b += b"".join(struct.pack("<q", d) for d in shape)
    return b + struct.pack("<Q", len(data)) + data
def message(tensors):
    return b"ELTW" + struct.pack("<BBH", 1, 0, len(tensors)) + b"".join(tensors)
sizes = {0: 4, 1: 2, 2: 1, 3: 1, 4: 4, 5: 8, 6: 1}
every = [tensor("t%d" % d, d, [2, 3], bytes(range(6 * s))) for d, s in sizes.items()] + [tensor("q", 7, [3], b"\x21\x07")]
seeds = {"activation_f32.bin": message([tensor("/conv2/Relu_output_0", 0, [1, 4, 2, 2], bytes(range(64)))]),
         "every_dtype.bin": message(every), "empty.bin": message([]), "scalar_unnamed.bin": message([tensor("", 0, [], b"\0\0\x80\x3f")])}
for name, data in seeds.items():
    open(os.path.join(out, name), "wb").write(data)
PY
