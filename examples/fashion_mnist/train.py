#!/usr/bin/python3
"""Train a small CNN on Fashion-MNIST and export it to ONNX for edgeloop.

Reads the IDX files of the Debian package `dataset-fashion-mnist` (no download), trains a
conv-bn-relu CNN with a fixed seed on CPU, and writes to --out-dir:

  fashion_cnn.onnx          opset 13, static batch 1, input `input` [1,1,28,28] float32,
                            output `logits` [1,10]; metadata_props carry the preprocessing
                            (edgeloop.input.scale/mean/std) and the class names (edgeloop.labels)
  torch_test_logits.npy     float32 [10000,10]: the eval-mode PyTorch logits of all 10,000 test
                            images in file order, for checking the C++ runtime against PyTorch

The model expects already-normalized input: x = (raw / 255 - MEAN) / STD.

Needs PyTorch, which exists only for the Debian interpreter:
    /usr/bin/python3 examples/fashion_mnist/train.py --epochs 6
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SCALE = 1.0 / 255.0
MEAN = 0.2860  # mean of the 60,000 training images' pixels after scaling to [0, 1]
STD = 0.3530  # their standard deviation
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
ONNX_NAME = "fashion_cnn.onnx"
LOGITS_NAME = "torch_test_logits.npy"


def read_idx(path):
    """Returns the contents of a gzipped IDX file as a uint8 numpy array of its stated shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(data) != header + count:
        raise ValueError(f"{path}: expected {header + count} bytes, found {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_split(data_dir, split):
    """Returns (images uint8 [N,28,28], labels int64 [N]) of split 'train' or 't10k'."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{split}: inconsistent shapes {images.shape} / {labels.shape}")
    return images, labels.astype(np.int64)


def normalize(images_u8):
    """uint8 [N,28,28] -> float32 tensor [N,1,28,28] = (raw/255 - MEAN) / STD."""
    x = torch.from_numpy(images_u8.astype(np.float32) * np.float32(SCALE))
    return ((x - MEAN) / STD).unsqueeze(1)


class FashionCNN(nn.Module):
    """Three conv-bn-relu + 2x2 max-pool stages (28 -> 14 -> 7 -> 3), then a small classifier.

    With the default widths (32, 64, 128) and hidden=128: 241,770 parameters, ~7.5 M MACs.
    """

    def __init__(self, widths=(32, 64, 128), hidden=128, dropout=0.3):
        super().__init__()
        layers, cin = [], 1
        for cout in widths:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        side = 28
        for _ in widths:
            side //= 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cin * side * side, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def augment(x, generator, max_shift=2):
    """Random horizontal flip and a random translation of up to max_shift pixels per image.

    Pixels shifted in take the value of the background (raw 0, i.e. -MEAN/STD).
    """
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    background = -MEAN / STD
    padded = F.pad(x, (max_shift,) * 4, value=background)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, None, :, None].expand(n, 1, 28, 28 + 2 * max_shift)
    padded = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, None, :].expand(n, 1, 28, 28)
    return padded.gather(3, cols)


@torch.no_grad()
def predict(model, x, batch_size=1000):
    """Eval-mode logits of x [N,1,28,28] as a float32 tensor [N,10], in order."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def train(model, x_train, y_train, x_test, y_test, epochs, batch_size, lr, seed):
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    steps_per_epoch = (x_train.shape[0] + batch_size - 1) // batch_size
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25)
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.time()
        order = torch.randperm(x_train.shape[0], generator=generator)
        total_loss, correct = 0.0, 0
        for i in range(0, x_train.shape[0], batch_size):
            idx = order[i:i + batch_size]
            xb, yb = augment(x_train[idx], generator), y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * yb.shape[0]
            correct += (logits.argmax(1) == yb).sum().item()
        test_acc = (predict(model, x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch}/{epochs}: loss {total_loss / x_train.shape[0]:.4f} "
              f"train acc {correct / x_train.shape[0]:.4f} test acc {test_acc:.4f} "
              f"({time.time() - start:.1f} s)", flush=True)


def export_onnx(model, path, opset_version=13, extra_metadata=None):
    """Exports the eval-mode model (batch 1) and adds edgeloop's metadata (plus extra_metadata)."""
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    torch.onnx.export(model, dummy, path, opset_version=opset_version, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(path)
    metadata = {
        "edgeloop.input.scale": repr(SCALE),
        "edgeloop.input.mean": f"{MEAN:.4f}",
        "edgeloop.input.std": f"{STD:.4f}",
        "edgeloop.labels": ",".join(LABELS),
        **(extra_metadata or {}),
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return proto


def main(argv=None, make_model=FashionCNN, onnx_name=ONNX_NAME, doc=__doc__,
         out_dir=os.path.dirname(os.path.abspath(__file__)), opset_version=13, extra_metadata=None,
         epochs=6):
    """Trains make_model() and writes onnx_name and LOGITS_NAME; other examples reuse it."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    parser.add_argument("--out-dir", default=out_dir,
                        help=f"where to write {onnx_name} and {LOGITS_NAME}")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--data-dir", default=DATA_DIR, help="folder with the four IDX .gz files")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate (one-cycle SGD)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    train_u8, y_train = load_split(args.data_dir, "train")
    test_u8, y_test = load_split(args.data_dir, "t10k")
    measured = train_u8.astype(np.float64) / 255.0
    print(f"input preprocessing: x = (raw * {SCALE!r} - {MEAN:.4f}) / {STD:.4f} "
          f"(training pixels measured: mean {measured.mean():.4f}, std {measured.std():.4f})")
    del measured
    x_train, x_test = normalize(train_u8), normalize(test_u8)
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")

    model = make_model()
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params} parameters")

    start = time.time()
    train(model, x_train, y_train, x_test, y_test, args.epochs, args.batch_size, args.lr,
          args.seed)
    print(f"training took {time.time() - start:.1f} s")

    logits = predict(model, x_test)
    accuracy = (logits.argmax(1) == y_test).float().mean().item()
    print(f"test accuracy (top-1, 10000 images): {accuracy:.4f}")

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, onnx_name)
    logits_path = os.path.join(args.out_dir, LOGITS_NAME)
    proto = export_onnx(model, onnx_path, opset_version, extra_metadata)
    np.save(logits_path, logits.numpy().astype(np.float32))
    ops = sorted({node.op_type for node in proto.graph.node})
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes; ops: {', '.join(ops)})")
    print(f"wrote {logits_path} ({os.path.getsize(logits_path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
