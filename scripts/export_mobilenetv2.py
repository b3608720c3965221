#!/usr/bin/python3
"""Export torchvision's MobileNetV2 (random weights, fixed seed) to ONNX with a reference pair.

No download: the architecture comes from torchvision with weights=None and is initialized
from --seed, so the output is reproducible on this machine but the model classifies nothing.
It exists to exercise the importer, runtimes and benchmarks on a realistic graph.

torchvision's own initialization leaves every BatchNorm as the identity (gamma 1, beta 0,
running mean 0, variance 1); in eval mode the activations then shrink layer by layer and the
logits come out near 1e-9, which makes a useless reference (any tolerance passes). So the
BatchNorm affine parameters are drawn at random too, and the running statistics are estimated
on random-normal batches (train-mode forward passes, no gradient step): activations stay near
unit scale, logits are O(0.1-1), and the folded BatchNorms are not trivial. Writes to
--out-dir:

  mobilenetv2.onnx          opset 13, eval mode, static batch 1, input `input` [1,3,224,224]
                            float32, output `logits` [1,1000], constants folded
  mobilenetv2_input.npy     float32 [1,3,224,224], standard normal from --seed
  mobilenetv2_output.npy    float32 [1,1000], the PyTorch (eval-mode) output for that input

Needs PyTorch, which exists only for the Debian interpreter:
    /usr/bin/python3 scripts/export_mobilenetv2.py --out-dir build/models
"""

import argparse
import os
import sys
import time

import numpy as np
import onnx
import torch
import torchvision

ONNX_NAME = "mobilenetv2.onnx"
INPUT_NAME = "mobilenetv2_input.npy"
OUTPUT_NAME = "mobilenetv2_output.npy"


def randomize_batchnorm(model, generator, batches=4, batch_size=8):
    """Random BatchNorm affine parameters, then running statistics from random inputs."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(torch.empty_like(bn.weight).uniform_(0.5, 1.5, generator=generator))
            bn.bias.copy_(torch.empty_like(bn.bias).normal_(0.0, 0.1, generator=generator))
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(batches):
            model(torch.randn(batch_size, 3, 224, 224, generator=generator))
    model.eval()
    return len(bns)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out-dir", default="build/models", help="output folder")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weight initialization and of the reference input")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    model = torchvision.models.mobilenet_v2(weights=None)
    params = sum(p.numel() for p in model.parameters())
    n_bn = randomize_batchnorm(model, torch.Generator().manual_seed(args.seed + 1))

    # The input comes from its own generator so it does not depend on how many random numbers
    # the initialization drew.
    generator = torch.Generator().manual_seed(args.seed)
    x = torch.randn(1, 3, 224, 224, generator=generator, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, ONNX_NAME)
    torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    np.save(os.path.join(args.out_dir, INPUT_NAME), x.numpy().astype(np.float32))
    np.save(os.path.join(args.out_dir, OUTPUT_NAME), y.numpy().astype(np.float32))

    ops = sorted({node.op_type for node in proto.graph.node})
    print(f"mobilenet_v2: {params} parameters, {n_bn} BatchNorms calibrated, seed {args.seed}, "
          f"{time.time() - start:.1f} s")
    print(f"output: mean {float(y.mean()):.4f}, std {float(y.std()):.4f}, "
          f"max |y| {float(y.abs().max()):.4f}, argmax {int(y.argmax())}")
    print(f"ONNX: {len(proto.graph.node)} nodes; ops: {', '.join(ops)}")
    for name in (ONNX_NAME, INPUT_NAME, OUTPUT_NAME):
        path = os.path.join(args.out_dir, name)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
