#!/usr/bin/python3
"""Train a small MobileNetV2-style network on Fashion-MNIST and export it to ONNX for edgeloop.

The second architecture of the compression examples: depthwise-separable inverted-residual
blocks (1x1 expand, 3x3 depthwise, 1x1 linear projection), residual Adds, ReLU6 and HardSwish.
Depthwise convolutions are where per-tensor INT8 quantization breaks down.

Everything but the model comes from examples/fashion_mnist/train.py: the same IDX reading,
preprocessing (x = (raw / 255 - MEAN) / STD), augmentation, fixed seeds, training loop, ONNX
metadata and logits export. Writes to --out-dir:

  fashion_mobilenet.onnx    opset 14 (HardSwish is one op), static batch 1, input `input`
                            [1,1,28,28] float32, output `logits` [1,10]; BatchNorm folded
                            into the convolutions; metadata_props as the CNN's plus
                            edgeloop.input.layout
  torch_test_logits.npy     float32 [10000,10]: the eval-mode PyTorch logits of all 10,000 test
                            images in file order

Needs PyTorch, which exists only for the Debian interpreter (the committed files: see README.md):
    /usr/bin/python3 examples/fashion_mobilenet/train.py --epochs 8 --threads 1
"""

import importlib.util
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_NAME = "fashion_mobilenet.onnx"


def _load_cnn_script():
    path = os.path.join(HERE, os.pardir, "fashion_mnist", "train.py")
    spec = importlib.util.spec_from_file_location("fashion_mnist_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cnn = _load_cnn_script()


def conv_bn(cin, cout, kernel, stride=1, groups=1, act=nn.ReLU6):
    """Conv (no bias) + BatchNorm (+ act): the exporter folds the BN into the Conv."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return layers


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + act (skipped when expand == 1), 3x3 depthwise + act,
    1x1 linear projection; a residual Add when the shape is kept (stride 1, cin == cout)."""

    def __init__(self, cin, cout, stride, expand, act):
        super().__init__()
        hidden = cin * expand
        layers = conv_bn(cin, hidden, 1, act=act) if expand != 1 else []
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden, act=act)
        layers += conv_bn(hidden, cout, 1, act=None)
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


# (expand ratio, output channels, repeats, stride of the first, activation), as in the
# MobileNetV2 paper's table; ReLU6 at 28x28 and 14x14, HardSwish (MobileNetV3) at 7x7.
BLOCKS = [
    (1, 16, 1, 1, nn.ReLU6),  # 28x28
    (4, 24, 2, 2, nn.ReLU6),  # 14x14
    (6, 96, 3, 2, nn.Hardswish),  # 7x7
]


class FashionMobileNet(nn.Module):
    """Stem conv 3x3 (1 -> 16) + BN + ReLU6 at 28x28, the inverted-residual BLOCKS
    (28 -> 14 -> 7), a 1x1 conv to `head` channels + BN + HardSwish, global average pool,
    Linear(head -> 10)."""

    def __init__(self, stem=16, blocks=BLOCKS, head=1024):
        super().__init__()
        layers, cin = conv_bn(1, stem, 3), stem
        for expand, cout, repeats, stride, act in blocks:
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand, act))
                cin = cout
        layers += conv_bn(cin, head, 1, act=nn.Hardswish)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, 10)

    def forward(self, x):
        if not torch.onnx.is_in_onnx_export():
            # Channels-last halves PyTorch's CPU training time here (depthwise convs, BN); the
            # values are the same, so the exported graph leaves it out.
            x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def count_macs(model):
    """Multiply-adds of one 28x28 image through the Conv and Linear layers."""
    total = 0

    def hook(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * (module.in_channels // module.groups) * \
                module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total


def make_model():
    model = FashionMobileNet().to(memory_format=torch.channels_last)
    adds = sum(isinstance(m, InvertedResidual) and m.residual for m in model.modules())
    print(f"model: {count_macs(model)} multiply-adds per image, {adds} residual adds")
    return model


def main(argv=None):
    return cnn.main(argv, make_model=make_model, onnx_name=ONNX_NAME, doc=__doc__, out_dir=HERE,
                    opset_version=14, extra_metadata={"edgeloop.input.layout": "NCHW"}, epochs=8)


if __name__ == "__main__":
    sys.exit(main())
