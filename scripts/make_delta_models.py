#!/usr/bin/python3
"""Makes the model updates of the delta benchmark (docs/benchmarks.md, "Delta updates").

Starting from the committed examples/fashion_mnist/fashion_cnn.onnx, writes to --out-dir:

  base.onnx        the committed weights, re-exported through the same torch module as the
                   updates below (so tensor names match; logits checked against the original)
  epoch.onnx       (a) one more epoch of training of every weight
  last_layer.onnx  (b) one more epoch with everything frozen but the final Linear

The committed ONNX has BatchNorm folded into the convolutions by the exporter, so the module
here is train.py's FashionCNN without BatchNorm (convolutions with a bias), initialized from
the ONNX initializers. Training uses train.py's data pipeline and loop (augmentation, SGD with
one-cycle schedule), with a fine-tuning peak learning rate (--lr).

Needs PyTorch, which exists only for the Debian interpreter:
    /usr/bin/python3 scripts/make_delta_models.py --out-dir build/delta-bench
"""

import argparse
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
import train as fm  # noqa: E402


class FoldedFashionCNN(nn.Module):
    """FashionCNN with BatchNorm folded away: conv(+bias)-relu-maxpool x3, Linear-ReLU-Dropout-Linear."""

    def __init__(self, widths=(32, 64, 128), hidden=128, dropout=0.3):
        super().__init__()
        layers, cin = [], 1
        for cout in widths:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=True), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * 3 * 3, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def load_from_onnx(model, path):
    """Copies the ONNX initializers into the module, in graph order (Conv W, B ... Gemm W, B)."""
    proto = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    ordered = []
    for node in proto.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            ordered += [inits[name] for name in node.input[1:]]
    params = [p for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in (m.weight, m.bias)]
    if len(params) != len(ordered):
        raise ValueError(f"{path}: {len(ordered)} initializers for {len(params)} parameters")
    with torch.no_grad():
        for p, a in zip(params, ordered):
            if tuple(p.shape) != a.shape:
                raise ValueError(f"{path}: shape {a.shape} for a parameter of shape {tuple(p.shape)}")
            p.copy_(torch.from_numpy(a.copy()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", default=os.path.join(ROOT, "examples", "fashion_mnist", "fashion_cnn.onnx"))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--data-dir", default=fm.DATA_DIR)
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate of the extra epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["epoch", "last_layer"], help="make only base.onnx and this update")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)

    train_u8, y_train = fm.load_split(args.data_dir, "train")
    test_u8, y_test = fm.load_split(args.data_dir, "t10k")
    x_train, x_test = fm.normalize(train_u8), fm.normalize(test_u8)
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)

    def fresh():
        m = FoldedFashionCNN()
        load_from_onnx(m, args.onnx)
        return m

    base = fresh()
    reference = np.load(os.path.join(os.path.dirname(args.onnx), fm.LOGITS_NAME))
    logits = fm.predict(base, x_test).numpy()
    diff = float(np.abs(logits - reference).max())
    acc = float((logits.argmax(1) == y_test.numpy()).mean())
    print(f"base: max |logits - committed torch logits| = {diff:.2e}, test acc {acc:.4f}")
    if diff > 1e-3:
        raise SystemExit("the module does not reproduce the committed model")
    fm.export_onnx(base, os.path.join(args.out_dir, "base.onnx"))

    if args.only != "last_layer":
        epoch = fresh()
        fm.train(epoch, x_train, y_train, x_test, y_test, 1, args.batch_size, args.lr, args.seed)
        fm.export_onnx(epoch, os.path.join(args.out_dir, "epoch.onnx"))
        if args.only == "epoch":
            return 0

    last = fresh()
    for p in last.parameters():
        p.requires_grad_(False)
    final = last.classifier[-1]
    for p in final.parameters():
        p.requires_grad_(True)
    fm.train(last, x_train, y_train, x_test, y_test, 1, args.batch_size, args.lr, args.seed)
    fm.export_onnx(last, os.path.join(args.out_dir, "last_layer.onnx"))
    print(f"wrote the models to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
