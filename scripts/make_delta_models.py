#!/usr/bin/python3
"""Makes the model updates of the delta benchmark (docs/benchmarks.md, "Delta updates").

Starting from the committed examples/fashion_mnist/fashion_cnn.onnx, writes to --out-dir:

  base.onnx        the committed weights, re-exported through the same torch module as the
                   updates below (so tensor names match; logits checked against the original)
  epoch.onnx       (a) one more epoch of training of every weight (one-cycle, peak --lr)
  NAME.onnx        (a) variants, one per --epoch NAME=SCHEDULE:LR (e.g. a learning-rate sweep)
  last_layer.onnx  (b) one more epoch with everything frozen but the final Linear
  models.tsv       per update: schedule, lr, test accuracy, and how far the weights moved

The committed ONNX has BatchNorm folded into the convolutions by the exporter, so the module
here is train.py's FashionCNN without BatchNorm (convolutions with a bias), initialized from
the ONNX initializers. Training uses train.py's data pipeline and loop (augmentation, SGD with
momentum 0.9, weight decay 5e-4) with either train.py's one-cycle schedule up to a peak
learning rate or a constant learning rate. The committed model's own one-cycle schedule ended
at lr 0.1 / 25 / 1e4 = 4e-7 (train.py --lr 0.1 with OneCycleLR's default div factors), so "one
more epoch" continuing that schedule runs at a constant 4e-7: the gentle end of the range;
one-cycle at peak 0.01 is the harsh end (the sweep of docs/benchmarks.md):

    /usr/bin/python3 scripts/make_delta_models.py --out-dir D \
        --epoch epoch_c4e-7=constant:4e-7 --epoch epoch_c2e-6=constant:2e-6 \
        --epoch epoch_c1e-5=constant:1e-5 --epoch epoch_c1e-4=constant:1e-4 --epoch epoch=onecycle:0.01

Needs PyTorch, which exists only for the Debian interpreter:
    /usr/bin/python3 scripts/make_delta_models.py --out-dir build/delta-bench
"""

import argparse
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
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


def train_one_epoch(model, x_train, y_train, x_test, y_test, batch_size, schedule, lr, seed):
    """One epoch of train.py's loop (same augmentation, loss, optimizer) with a one-cycle
    (peak lr, as train.train) or a constant learning rate. Returns the test accuracy."""
    if schedule == "onecycle":
        fm.train(model, x_train, y_train, x_test, y_test, 1, batch_size, lr, seed)
        return float((fm.predict(model, x_test).argmax(1) == y_test).float().mean())
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    start = time.time()
    order = torch.randperm(x_train.shape[0], generator=generator)
    total_loss, correct = 0.0, 0
    for i in range(0, x_train.shape[0], batch_size):
        idx = order[i:i + batch_size]
        xb, yb = fm.augment(x_train[idx], generator), y_train[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * yb.shape[0]
        correct += (logits.argmax(1) == yb).sum().item()
    acc = float((fm.predict(model, x_test).argmax(1) == y_test).float().mean())
    print(f"epoch (constant lr {lr:g}): loss {total_loss / x_train.shape[0]:.4f} "
          f"train acc {correct / x_train.shape[0]:.4f} test acc {acc:.4f} ({time.time() - start:.1f} s)", flush=True)
    return acc


def weight_change(before, after):
    """Median relative change |w' - w| / |w| over every weight, and the share of f32 weights
    whose bits changed at all."""
    rel, changed, total = [], 0, 0
    for a, b in zip(before.parameters(), after.parameters()):
        a, b = a.detach().numpy().ravel(), b.detach().numpy().ravel()
        nz = a != 0
        rel.append(np.abs(b[nz] - a[nz]) / np.abs(a[nz]))
        changed += int((a.view(np.uint32) != b.view(np.uint32)).sum())
        total += a.size
    return float(np.median(np.concatenate(rel))), changed / total


def parse_epoch_spec(text):
    """NAME=SCHEDULE:LR, e.g. epoch_c1e-4=constant:1e-4."""
    try:
        name, rest = text.split("=", 1)
        schedule, lr = rest.split(":", 1)
        lr = float(lr)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=SCHEDULE:LR, e.g. epoch_c1e-4=constant:1e-4")
    if schedule not in ("onecycle", "constant") or not name or "/" in name or lr <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: SCHEDULE is onecycle or constant, LR > 0, NAME a file name")
    return name, schedule, lr


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", default=os.path.join(ROOT, "examples", "fashion_mnist", "fashion_cnn.onnx"))
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--data-dir", default=fm.DATA_DIR)
    parser.add_argument("--lr", type=float, default=0.01, help="peak learning rate of the extra epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epoch", type=parse_epoch_spec, action="append", metavar="NAME=SCHEDULE:LR",
                        help="an (a) update NAME.onnx: one epoch with SCHEDULE onecycle (peak LR) or constant "
                             "(LR); repeat for a sweep (default: epoch=onecycle:--lr)")
    parser.add_argument("--only", choices=["epoch", "last_layer"], help="make only base.onnx and these updates")
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

    # models.tsv keeps the rows of models made by earlier runs into the same folder (one run per
    # sweep point is fine: each update starts from the same seed).
    table = os.path.join(args.out_dir, "models.tsv")
    header = "model\tschedule\tlr\ttest_acc\tmedian_rel_change\tshare_changed\n"

    def record(name, schedule, lr, a, med, share):
        rows = {}
        if os.path.exists(table):
            with open(table) as f:
                for line in f.read().splitlines()[1:]:
                    rows[line.split("\t", 1)[0]] = line
        rows[name] = f"{name}\t{schedule}\t{lr:g}\t{a:.4f}\t{med:.3e}\t{share:.4f}"
        with open(table, "w") as f:
            f.write(header + "".join(rows[k] + "\n" for k in sorted(rows)))

    record("base", "-", 0.0, acc, 0.0, 0.0)

    def finish(name, schedule, lr, model, acc):
        med, share = weight_change(base, model)
        print(f"{name}: {schedule} lr {lr:g}: test acc {acc:.4f}, median relative weight change {med:.3e}, "
              f"{100 * share:.2f} % of the weights changed", flush=True)
        fm.export_onnx(model, os.path.join(args.out_dir, f"{name}.onnx"))
        record(name, schedule, lr, acc, med, share)

    # Each update starts from the same seed, so it does not depend on which others are made.
    if args.only != "last_layer":
        for name, schedule, lr in args.epoch or [("epoch", "onecycle", args.lr)]:
            torch.manual_seed(args.seed)
            epoch = fresh()
            acc = train_one_epoch(epoch, x_train, y_train, x_test, y_test, args.batch_size, schedule, lr, args.seed)
            finish(name, schedule, lr, epoch, acc)

    if args.only != "epoch":
        torch.manual_seed(args.seed)
        last = fresh()
        for p in last.parameters():
            p.requires_grad_(False)
        final = last.classifier[-1]
        for p in final.parameters():
            p.requires_grad_(True)
        fm.train(last, x_train, y_train, x_test, y_test, 1, args.batch_size, args.lr, args.seed)
        acc = float((fm.predict(last, x_test).argmax(1) == y_test).float().mean())
        finish("last_layer", "onecycle", args.lr, last, acc)

    print(f"wrote the models and models.tsv to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
