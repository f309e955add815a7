#!/usr/bin/env python3
"""Write a randomly initialised ResNet (torchvision layer layout) as an ONNX model.

The model stands in for torchvision's pretrained ResNet50/ResNet18 where the real weights are not
available (no network, no torch): it has the same graph, the same tensor shapes and the same
state-dict names (conv1.weight, bn1.running_mean, layer1.0.downsample.0.weight, fc.bias, ...), so
the engine's ONNX import, BatchNorm folding and kernels see what they will see with the real
model. Only the numbers differ.

Random weights alone make a useless test model: activations grow or collapse through fifty layers
and every image gets the same top-1 class. So the BatchNorm statistics are chosen data-dependently:
a numpy forward pass over a few seeded synthetic images sets each BatchNorm's running_mean and
running_var to the per-channel mean and variance of its actual input, so every BN output is
gamma * (unit-variance signal) + beta. The last BN of each residual branch gets a small gamma so
the residual stream grows slowly, and the fc layer is centred on the calibration features and
scaled so logits spread over a few units. Everything derives from numpy's default_rng(seed): the
same arguments give the same file, byte for byte.

Ops used: Conv, BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm.
Input `input` [batch, 3, 224, 224] float32 (ImageNet-normalised RGB), output `logits`
[batch, num_classes] float32; `batch` is a dynamic dimension.

`--arch sleep` writes a benchmarking model instead, for measuring a pipeline's own overhead: the
same input and output, but the graph is input -> Sleep -> GlobalAveragePool -> Flatten -> Gemm,
where Sleep (op_type "Sleep", domain "sluice", float attribute `seconds`) is sluice's benchmarking
op: every executor run (one batch) waits `seconds`, then passes its input on unchanged. Inference
then takes a known time per batch without using a core. Only sluice runs it (onnxruntime has no
such op).

Usage:
  tools/make_test_model.py --arch resnet50 --out resnet50.onnx [--seed 0] [--num-classes 1000]
                           [--opset 17]
  tools/make_test_model.py --arch sleep --sleep-seconds 1.0 --num-classes 10 --out sleep.onnx

Importable: build_model(arch, seed, num_classes, opset, sleep_seconds) returns the onnx.ModelProto.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper

# Block kind and blocks per stage, as in torchvision.models.resnet{18,50}.
ARCHS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}
SLEEP_ARCH = "sleep"
SLEEP_DOMAIN = "sluice"  # sluice's own ops; the engine reads the node as "sluice.Sleep"
DEFAULT_SLEEP_SECONDS = 1.0
STAGE_WIDTHS = (64, 128, 256, 512)
IMAGE_SIZE = 224
BN_EPSILON = 1e-5
# Every op used has had its current signature since opset 13 or earlier.
MIN_OPSET = 13

# Calibration batch for the data-dependent BatchNorm statistics: enough varied images for stable
# per-channel statistics down to layer4's 7x7 maps, few enough to keep ResNet50 at a few seconds.
CALIBRATION_IMAGES = 8
# Target root-mean-square deviation of the logits from their calibration-batch mean.
LOGIT_SPREAD = 3.0
# Gamma ranges: ordinary BNs, and the last BN of each residual branch (keeps the stream tame).
GAMMA_RANGE = (0.5, 1.5)
RESIDUAL_GAMMA_RANGE = (0.1, 0.3)
BETA_SCALE = 0.1
# Running statistics are rounded to this many mantissa bits (float32 has 23), so that last-bit
# differences another BLAS build may produce in the calibration pass almost never reach the file.
STAT_MANTISSA_BITS = 16

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


# ----------------------------------------------------------------------------------------------
# Parameters


@dataclass
class _Conv:
    name: str  # state-dict prefix, e.g. "layer1.0.conv1" or "layer1.0.downsample.0"
    weight: np.ndarray  # [out, in, kh, kw] float32, as written
    stride: int
    pad: int


@dataclass
class _BatchNorm:
    name: str  # state-dict prefix, e.g. "bn1" or "layer1.0.downsample.1"
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray | None = None  # set by the calibration pass
    var: np.ndarray | None = None


@dataclass
class _Block:
    prefix: str  # e.g. "layer2.0"
    convs: list[_Conv]  # conv1, conv2 (, conv3)
    bns: list[_BatchNorm]  # bn1, bn2 (, bn3); the last one closes the residual branch
    downsample: tuple[_Conv, _BatchNorm] | None


@dataclass
class _ResNet:
    arch: str
    conv1: _Conv
    bn1: _BatchNorm
    blocks: list[_Block] = field(default_factory=list)
    fc_weight: np.ndarray | None = None  # [classes, features], set by the calibration pass
    fc_bias: np.ndarray | None = None


def _he_conv(rng: np.random.Generator, name: str, cin: int, cout: int, k: int, stride: int,
             pad: int) -> _Conv:
    std = np.sqrt(2.0 / (cin * k * k))
    weight = (rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32)
    return _Conv(name, weight, stride, pad)


def _bn(rng: np.random.Generator, name: str, channels: int, residual_end: bool) -> _BatchNorm:
    low, high = RESIDUAL_GAMMA_RANGE if residual_end else GAMMA_RANGE
    gamma = rng.uniform(low, high, channels).astype(np.float32)
    beta = rng.uniform(-BETA_SCALE, BETA_SCALE, channels).astype(np.float32)
    return _BatchNorm(name, gamma, beta)


def _make_params(arch: str, rng: np.random.Generator) -> _ResNet:
    kind, depths = ARCHS[arch]
    expansion = 4 if kind == "bottleneck" else 1
    net = _ResNet(arch, _he_conv(rng, "conv1", 3, 64, 7, 2, 3), _bn(rng, "bn1", 64, False))
    cin = 64
    for stage, (width, depth) in enumerate(zip(STAGE_WIDTHS, depths)):
        for index in range(depth):
            prefix = f"layer{stage + 1}.{index}"
            stride = 2 if (stage > 0 and index == 0) else 1
            cout = width * expansion
            if kind == "bottleneck":
                # torchvision v1.5: the stride sits on the 3x3 conv.
                convs = [
                    _he_conv(rng, f"{prefix}.conv1", cin, width, 1, 1, 0),
                    _he_conv(rng, f"{prefix}.conv2", width, width, 3, stride, 1),
                    _he_conv(rng, f"{prefix}.conv3", width, cout, 1, 1, 0),
                ]
            else:
                convs = [
                    _he_conv(rng, f"{prefix}.conv1", cin, width, 3, stride, 1),
                    _he_conv(rng, f"{prefix}.conv2", width, width, 3, 1, 1),
                ]
            bns = [_bn(rng, f"{prefix}.bn{i + 1}", conv.weight.shape[0], i == len(convs) - 1)
                   for i, conv in enumerate(convs)]
            downsample = None
            if stride != 1 or cin != cout:
                downsample = (_he_conv(rng, f"{prefix}.downsample.0", cin, cout, 1, stride, 0),
                              _bn(rng, f"{prefix}.downsample.1", cout, False))
            net.blocks.append(_Block(prefix, convs, bns, downsample))
            cin = cout
    return net


# ----------------------------------------------------------------------------------------------
# Calibration forward pass (numpy, NHWC, float64 activations)


def _conv_nhwc(x: np.ndarray, conv: _Conv) -> np.ndarray:
    """x [N, H, W, C] -> [N, Ho, Wo, O] with zero padding: the arithmetic of ONNX Conv."""
    out_ch, in_ch, kh, kw = conv.weight.shape
    s, p = conv.stride, conv.pad
    if kh == 1 and kw == 1 and p == 0:
        return x[:, ::s, ::s, :] @ conv.weight.reshape(out_ch, in_ch).T.astype(np.float64)
    x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    # View [N, Ho, Wo, C, kh, kw], then one copy into im2col rows ordered (C, kh, kw): the order
    # of the flattened OIHW weight.
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::s, ::s]
    n, ho, wo = windows.shape[:3]
    cols = windows.reshape(n * ho * wo, in_ch * kh * kw)
    out = cols @ conv.weight.reshape(out_ch, -1).T.astype(np.float64)
    return out.reshape(n, ho, wo, out_ch)


def _max_pool_3x3_s2(x: np.ndarray) -> np.ndarray:
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    return sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))


def _round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    """Rounds to float32 with only `bits` mantissa bits kept (ties away from zero)."""
    as_int = values.astype(np.float32).view(np.uint32)
    drop = np.uint32(23 - bits)
    half = np.uint32(1) << (drop - np.uint32(1))
    return (((as_int + half) >> drop) << drop).view(np.float32)


def _calibrated_bn(x: np.ndarray, bn: _BatchNorm) -> np.ndarray:
    """Sets bn's running statistics to x's per-channel statistics, then applies bn to x."""
    flat = x.reshape(-1, x.shape[-1])
    bn.mean = _round_mantissa(flat.mean(axis=0), STAT_MANTISSA_BITS)
    bn.var = _round_mantissa(flat.var(axis=0), STAT_MANTISSA_BITS)
    scale = bn.gamma / np.sqrt(bn.var.astype(np.float64) + BN_EPSILON)
    return (x - bn.mean) * scale + bn.beta


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _features(net: _ResNet, images_nhwc: np.ndarray) -> np.ndarray:
    """Runs the network up to the global average pool, calibrating every BN on the way."""
    x = _relu(_calibrated_bn(_conv_nhwc(images_nhwc, net.conv1), net.bn1))
    x = _max_pool_3x3_s2(x)
    for block in net.blocks:
        y = x
        last = len(block.convs) - 1
        for i, (conv, bn) in enumerate(zip(block.convs, block.bns)):
            y = _calibrated_bn(_conv_nhwc(y, conv), bn)
            if i != last:
                y = _relu(y)
        identity = x
        if block.downsample is not None:
            conv, bn = block.downsample
            identity = _calibrated_bn(_conv_nhwc(x, conv), bn)
        x = _relu(y + identity)
    return x.mean(axis=(1, 2))


def _upsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Linear interpolation matrix [n_out, n_in] (corners aligned), for separable upsampling."""
    pos = np.linspace(0.0, n_in - 1, n_out)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] = 1.0 - frac
    m[np.arange(n_out), lo + 1] = frac
    return m


def calibration_images(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random RGB images [count, 224, 224, 3], ImageNet-normalised (NHWC, float64).

    Each image sums value-noise octaves (grids of 4..112 cells, linearly upsampled) with its own
    spectral falloff, then goes through tanh with its own gain (0.5: smooth shading; 6: flat
    regions with sharp edges), contrast and colour cast, so the batch spans blurry to detailed,
    dull to saturated, dark to bright.
    """
    images = np.empty((count, IMAGE_SIZE, IMAGE_SIZE, 3))
    for i in range(count):
        falloff = rng.uniform(0.3, 0.9)
        noise = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3))
        for octave, cells in enumerate((4, 7, 14, 28, 56, 112)):
            up = _upsample_matrix(IMAGE_SIZE, cells)
            grid = rng.standard_normal((3, cells, cells))
            noise += (up @ grid @ up.T).transpose(1, 2, 0) * falloff**octave
        noise /= noise.std() + 1e-12
        gain = np.exp(rng.uniform(np.log(0.5), np.log(6.0)))
        pixels = np.tanh(gain * noise) * rng.uniform(0.05, 0.4)
        pixels += rng.uniform(0.1, 0.9, 3)  # brightness and colour cast
        pixels = np.clip(pixels, 0.0, 1.0)
        images[i] = (pixels - IMAGENET_MEAN) / IMAGENET_STD
    return images


def _calibrate(net: _ResNet, rng: np.random.Generator, num_classes: int) -> None:
    """Sets every BN's running statistics and the fc layer from a forward pass."""
    features = _features(net, calibration_images(rng, CALIBRATION_IMAGES))  # [N, F]
    weight = rng.standard_normal((num_classes, features.shape[1]))
    # Random nets give every image nearly the same pooled features; centring fc on the batch mean
    # removes that shared part, which would otherwise pick the same class for every image.
    centre = features.mean(axis=0)
    deviation = np.sqrt(np.mean(np.sum((features - centre) ** 2, axis=1)))
    # A logit is w . (f - centre) with w ~ N(0, I): its spread over classes is |f - centre|.
    weight = (weight * (LOGIT_SPREAD / max(deviation, 1e-12))).astype(np.float32)
    bias = -(weight.astype(np.float64) @ centre)
    bias += rng.uniform(-0.1, 0.1, num_classes) * LOGIT_SPREAD
    net.fc_weight = weight
    net.fc_bias = bias.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# ONNX graph


class _GraphWriter:
    """Collects nodes and initializers; each node's output tensor is named after the node."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def initializer(self, name: str, values: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(values.astype(np.float32), name))
        return name

    def conv(self, x: str, conv: _Conv) -> str:
        k = conv.weight.shape[2]
        weight = self.initializer(f"{conv.name}.weight", conv.weight)
        return self.op("Conv", [x, weight], conv.name, kernel_shape=[k, k],
                       strides=[conv.stride] * 2, pads=[conv.pad] * 4, dilations=[1, 1], group=1)

    def bn(self, x: str, bn: _BatchNorm) -> str:
        params = [self.initializer(f"{bn.name}.{suffix}", values) for suffix, values in (
            ("weight", bn.gamma), ("bias", bn.beta), ("running_mean", bn.mean),
            ("running_var", bn.var))]
        return self.op("BatchNormalization", [x] + params, bn.name, epsilon=BN_EPSILON)

    def op(self, op_type: str, inputs: list[str], name: str, output: str | None = None,
           **attrs) -> str:
        output = output or name
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output


def _to_onnx(net: _ResNet, num_classes: int, opset: int, seed: int) -> onnx.ModelProto:
    g = _GraphWriter()
    x = g.op("Relu", [g.bn(g.conv("input", net.conv1), net.bn1)], "relu")
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for block in net.blocks:
        y = x
        last = len(block.convs) - 1
        for i, (conv, bn) in enumerate(zip(block.convs, block.bns)):
            y = g.bn(g.conv(y, conv), bn)
            if i != last:
                y = g.op("Relu", [y], f"{block.prefix}.relu{i + 1}")
        identity = x
        if block.downsample is not None:
            conv, bn = block.downsample
            identity = g.bn(g.conv(x, conv), bn)
        y = g.op("Add", [y, identity], f"{block.prefix}.add")
        x = g.op("Relu", [y], f"{block.prefix}.relu{last + 2}")
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    fc_weight = g.initializer("fc.weight", net.fc_weight)
    fc_bias = g.initializer("fc.bias", net.fc_bias)
    g.op("Gemm", [x, fc_weight, fc_bias], "fc", output="logits", alpha=1.0, beta=1.0, transA=0,
         transB=1)
    graph = helper.make_graph(
        g.nodes, f"{net.arch}_test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_classes])],
        initializer=g.initializers)
    opset_ids = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph, opset_imports=opset_ids, producer_name="sluice tools/make_test_model.py",
        doc_string=(f"Randomly initialised {net.arch} in torchvision's layout, seed {seed}, "
                    "BatchNorm statistics calibrated on synthetic images. Not a trained model."))
    # The oldest IR version that carries this opset: readable by the widest range of parsers.
    model.ir_version = helper.find_min_ir_version_for(opset_ids)
    helper.set_model_props(model, {"arch": net.arch, "seed": str(seed),
                                   "num_classes": str(num_classes)})
    return model


def _sleep_model(rng: np.random.Generator, num_classes: int, opset: int, seed: int,
                 sleep_seconds: float) -> onnx.ModelProto:
    """input -> sluice Sleep -> GlobalAveragePool -> Flatten -> Gemm: logits from the per-channel
    means, after a wait of sleep_seconds per executor run."""
    g = _GraphWriter()
    g.nodes.append(helper.make_node("Sleep", ["input"], ["sleep"], name="sleep",
                                    domain=SLEEP_DOMAIN, seconds=float(sleep_seconds)))
    x = g.op("GlobalAveragePool", ["sleep"], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    fc_weight = g.initializer("fc.weight", rng.standard_normal((num_classes, 3)))
    fc_bias = g.initializer("fc.bias", rng.uniform(-0.1, 0.1, num_classes))
    g.op("Gemm", [x, fc_weight, fc_bias], "fc", output="logits", alpha=1.0, beta=1.0, transA=0,
         transB=1)
    graph = helper.make_graph(
        g.nodes, "sleep_test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", num_classes])],
        initializer=g.initializers)
    opset_ids = [helper.make_opsetid("", opset), helper.make_opsetid(SLEEP_DOMAIN, 1)]
    model = helper.make_model(
        graph, opset_imports=opset_ids, producer_name="sluice tools/make_test_model.py",
        doc_string=(f"Benchmarking model: sleeps {sleep_seconds} s per batch (sluice's Sleep op), "
                    f"then a seeded random linear classifier on the channel means, seed {seed}."))
    model.ir_version = helper.find_min_ir_version_for(opset_ids, ignore_unknown=True)
    helper.set_model_props(model, {"arch": SLEEP_ARCH, "seed": str(seed),
                                   "num_classes": str(num_classes),
                                   "sleep_seconds": repr(float(sleep_seconds))})
    return model


def build_model(arch: str = "resnet50", seed: int = 0, num_classes: int = 1000,
                opset: int = 17, sleep_seconds: float | None = None) -> onnx.ModelProto:
    """Builds the test model; the same arguments give the same model, byte for byte.

    sleep_seconds: arch "sleep" only (default 1.0), the wait per executor run.
    Raises ValueError on an unknown arch, an out-of-range seed, num_classes, opset or
    sleep_seconds, or sleep_seconds with another arch.
    """
    if arch not in ARCHS and arch != SLEEP_ARCH:
        raise ValueError(f"unknown arch {arch!r}; expected one of {sorted([*ARCHS, SLEEP_ARCH])}")
    if sleep_seconds is not None and arch != SLEEP_ARCH:
        raise ValueError(f"sleep_seconds applies to arch {SLEEP_ARCH!r} only, not {arch!r}")
    if sleep_seconds is not None and not (math.isfinite(sleep_seconds) and sleep_seconds >= 0):
        raise ValueError(f"sleep_seconds must be a finite number >= 0, got {sleep_seconds}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    max_opset = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"opset must be in [{MIN_OPSET}, {max_opset}], got {opset}")
    rng = np.random.default_rng(seed)
    if arch == SLEEP_ARCH:
        seconds = DEFAULT_SLEEP_SECONDS if sleep_seconds is None else sleep_seconds
        model = _sleep_model(rng, num_classes, opset, seed, seconds)
        onnx.checker.check_model(model)
        return model
    net = _make_params(arch, rng)
    _calibrate(net, rng, num_classes)
    model = _to_onnx(net, num_classes, opset, seed)
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------------------
# Command line


def _int_at_least(minimum: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}, got {value}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"sleep-seconds must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"sleep-seconds must be a finite number >= 0, got {text}")
    return value


def _opset(text: str) -> int:
    value = _int_at_least(MIN_OPSET, "opset")(text)
    if value > onnx.defs.onnx_opset_version():
        raise argparse.ArgumentTypeError(
            f"opset {value} is newer than this onnx package knows "
            f"({onnx.defs.onnx_opset_version()})")
    return value


def _parser() -> argparse.ArgumentParser:
    max_opset = onnx.defs.onnx_opset_version()
    parser = argparse.ArgumentParser(
        prog="make_test_model.py",
        description=(
            "Write a randomly initialised ResNet in torchvision's layer layout as ONNX. Input "
            "'input' [batch,3,224,224] float32 (ImageNet-normalised RGB, dynamic batch), output "
            "'logits' [batch,num_classes] float32. Ops: Conv, BatchNormalization, Relu, MaxPool, "
            "Add, GlobalAveragePool, Flatten, Gemm. Initializer and node names follow "
            "torchvision's state dict (conv1.weight, bn1.running_var, "
            "layer1.0.downsample.0.weight, fc.weight, ...). BatchNorm statistics are calibrated "
            "on seeded synthetic images so activations stay in range and different inputs get "
            "different top-1 classes. Not a trained model: for testing graph import, kernels "
            "and plumbing, not accuracy. --arch sleep writes a benchmarking model instead "
            "(see --arch)."),
        epilog="Deterministic: the same arguments write the same bytes (on the same numpy/BLAS; "
               "see the module docstring).")
    parser.add_argument("--arch", required=True, choices=sorted([*ARCHS, SLEEP_ARCH]),
                        help="resnet50 (Bottleneck blocks [3,4,6,3], v1.5: stride on the 3x3 "
                             "conv), resnet18 (BasicBlock [2,2,2,2]), or sleep (a benchmarking "
                             "model for sluice only: sluice's Sleep op waits --sleep-seconds per "
                             "batch, then GlobalAveragePool, Flatten and a random Gemm give "
                             "logits)")
    parser.add_argument("--out", required=True, metavar="FILE.onnx",
                        help="output path; its directory must exist; replaced atomically")
    parser.add_argument("--seed", type=_int_at_least(0, "seed"), default=0,
                        help="seed for numpy.random.default_rng; weights, BN parameters and "
                             "calibration images all derive from it (default: 0)")
    parser.add_argument("--num-classes", type=_int_at_least(1, "num-classes"), default=1000,
                        help="number of output classes, the rows of fc.weight (default: 1000)")
    parser.add_argument("--opset", type=_opset, default=17,
                        help=f"ONNX default-domain opset, {MIN_OPSET}..{max_opset}; the model's "
                             "IR version is the oldest that carries it (default: 17)")
    parser.add_argument("--sleep-seconds", type=_seconds, default=None, metavar="SECONDS",
                        help="--arch sleep only: seconds the model waits per batch (default: "
                             f"{DEFAULT_SLEEP_SECONDS})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        parser.error(f"--out: directory {out_dir} does not exist")
    if args.sleep_seconds is not None and args.arch != SLEEP_ARCH:
        parser.error(f"--sleep-seconds applies to --arch {SLEEP_ARCH} only")
    model = build_model(args.arch, args.seed, args.num_classes, args.opset, args.sleep_seconds)
    data = model.SerializeToString()
    fd, tmp_path = tempfile.mkstemp(prefix=".make_test_model.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, args.out)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    what = args.arch
    if args.arch == SLEEP_ARCH:
        seconds = DEFAULT_SLEEP_SECONDS if args.sleep_seconds is None else args.sleep_seconds
        what += f" ({seconds} s per batch)"
    print(f"wrote {args.out}: {what}, seed {args.seed}, {args.num_classes} classes, "
          f"opset {args.opset}, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
