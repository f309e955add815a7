"""Tests for tools/make_test_model.py: the random-weight ResNet the engine's tests run against,
and the sleep benchmarking model (--arch sleep).

Checks the graph against torchvision's layout (ops, counts, names, shapes, strides), that
onnxruntime runs it with a dynamic batch, that its activations and logits are usable (finite,
spread, different classes for different images), determinism per seed, and the command line.
ResNet18 carries the heavier checks; ResNet50 is built once.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "make_test_model.py"

ALLOWED_OPS = {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool",
               "Flatten", "Gemm"}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_test_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_test_model"] = module
    spec.loader.exec_module(module)
    return module


mtm = _load_tool()


# ----------------------------------------------------------------------------------------------
# Independent description of torchvision's ResNet state dict (what the model must match)


def _torchvision_state_dict_shapes(arch: str, num_classes: int = 1000) -> dict[str, tuple]:
    """Name -> shape of torchvision's resnet state dict, without num_batches_tracked."""
    bottleneck = arch == "resnet50"
    depths = [3, 4, 6, 3] if bottleneck else [2, 2, 2, 2]
    expansion = 4 if bottleneck else 1
    shapes: dict[str, tuple] = {}

    def conv_bn(conv: str, bn: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{conv}.weight"] = (cout, cin, k, k)
        for suffix in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{suffix}"] = (cout,)

    conv_bn("conv1", "bn1", 3, 64, 7)
    inplanes = 64
    for stage, (planes, depth) in enumerate(zip([64, 128, 256, 512], depths), start=1):
        for i in range(depth):
            p = f"layer{stage}.{i}"
            if bottleneck:
                conv_bn(f"{p}.conv1", f"{p}.bn1", inplanes, planes, 1)
                conv_bn(f"{p}.conv2", f"{p}.bn2", planes, planes, 3)
                conv_bn(f"{p}.conv3", f"{p}.bn3", planes, planes * expansion, 1)
            else:
                conv_bn(f"{p}.conv1", f"{p}.bn1", inplanes, planes, 3)
                conv_bn(f"{p}.conv2", f"{p}.bn2", planes, planes, 3)
            if i == 0 and (stage > 1 or inplanes != planes * expansion):
                conv_bn(f"{p}.downsample.0", f"{p}.downsample.1", inplanes, planes * expansion, 1)
            inplanes = planes * expansion
    shapes["fc.weight"] = (num_classes, inplanes)
    shapes["fc.bias"] = (num_classes,)
    return shapes


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def resnet18() -> onnx.ModelProto:
    return mtm.build_model("resnet18", seed=0, num_classes=1000, opset=17)


@pytest.fixture(scope="module")
def resnet50() -> onnx.ModelProto:
    return mtm.build_model("resnet50", seed=0, num_classes=1000, opset=17)


@pytest.fixture(scope="module")
def models(resnet18, resnet50) -> dict[str, onnx.ModelProto]:
    return {"resnet18": resnet18, "resnet50": resnet50}


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def resnet18_session(resnet18) -> ort.InferenceSession:
    return _session(resnet18)


def _smooth_noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    """[224, 224, 3] in [0, 1]: a random cells x cells grid, nearest-upsampled then box-blurred."""
    grid = rng.uniform(0.0, 1.0, (cells, cells, 3))
    reps = -(-224 // cells)
    img = np.repeat(np.repeat(grid, reps, axis=0), reps, axis=1)[:224, :224]
    kernel = np.ones(9) / 9.0
    for axis in (0, 1):
        img = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, img)
    return img


def _photo_crops(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Random 224x224 crops of scikit-image's bundled photos, [224, 224, 3] in [0, 1]."""
    try:
        from skimage import data
    except ImportError:
        return []
    crops = []
    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
             "immunohistochemistry", "camera", "coins", "retina", "clock"]
    for name in names:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:  # a dataset that would need a download; the others suffice
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        img = img[..., :3].astype(np.float64) / 255.0
        if img.shape[0] < 224 or img.shape[1] < 224:
            continue
        top = rng.integers(0, img.shape[0] - 223)
        left = rng.integers(0, img.shape[1] - 223)
        crops.append(img[top:top + 224, left:left + 224])
        if len(crops) == count:
            break
    return crops


@pytest.fixture(scope="module")
def varied_inputs() -> np.ndarray:
    """16 images [16, 3, 224, 224] float32, ImageNet-normalised: photo crops, then noise."""
    rng = np.random.default_rng(2024)
    images = _photo_crops(rng, 8)
    while len(images) < 16:
        images.append(_smooth_noise(rng, int(rng.choice([4, 8, 16, 32, 56]))))
    x = (np.stack(images) - IMAGENET_MEAN) / IMAGENET_STD
    return x.transpose(0, 3, 1, 2).astype(np.float32)


@pytest.fixture(scope="module")
def resnet18_logits(resnet18_session, varied_inputs) -> np.ndarray:
    return resnet18_session.run(["logits"], {"input": varied_inputs})[0]


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _nodes_by_name(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {n.name: n for n in model.graph.node}


def _attr(node: onnx.NodeProto, name: str):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


# ----------------------------------------------------------------------------------------------
# Graph structure


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_model_passes_onnx_checker(models, arch):
    onnx.checker.check_model(models[arch], full_check=True)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_ops_are_exactly_the_allowed_set(models, arch):
    assert {n.op_type for n in models[arch].graph.node} == ALLOWED_OPS


@pytest.mark.parametrize("arch,convs,bns,adds", [("resnet18", 20, 20, 8),
                                                 ("resnet50", 53, 53, 16)])
def test_layer_counts_match_torchvision(models, arch, convs, bns, adds):
    ops = [n.op_type for n in models[arch].graph.node]
    assert ops.count("Conv") == convs
    assert ops.count("BatchNormalization") == bns
    assert ops.count("Add") == adds
    assert ops.count("MaxPool") == 1 and ops.count("Gemm") == 1
    assert ops.count("GlobalAveragePool") == 1 and ops.count("Flatten") == 1


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_initializers_are_torchvision_state_dict(models, arch):
    got = {name: tuple(v.shape) for name, v in _initializers(models[arch]).items()}
    assert got == _torchvision_state_dict_shapes(arch)
    assert all(v.dtype == np.float32 for v in _initializers(models[arch]).values())


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_nodes_are_named_after_their_modules(models, arch):
    nodes = _nodes_by_name(models[arch])
    assert len(nodes) == len(models[arch].graph.node), "node names must be unique"
    for name in ("conv1", "bn1", "maxpool", "layer1.0.conv1", "layer4.1.bn2",
                 "layer2.0.downsample.0", "layer2.0.downsample.1", "avgpool", "fc"):
        assert name in nodes, name
    for node in models[arch].graph.node:
        if node.op_type in ("Conv", "BatchNormalization"):
            assert node.input[1].startswith(node.name + "."), (node.name, node.input[1])
    assert nodes["fc"].input[1:] == ["fc.weight", "fc.bias"]


def test_stem_is_7x7_stride2_conv_then_3x3_stride2_maxpool(resnet50):
    nodes = _nodes_by_name(resnet50)
    conv1 = nodes["conv1"]
    assert conv1.input[0] == "input" and len(conv1.input) == 2  # no bias
    assert _attr(conv1, "kernel_shape") == [7, 7]
    assert _attr(conv1, "strides") == [2, 2]
    assert _attr(conv1, "pads") == [3, 3, 3, 3]
    pool = nodes["maxpool"]
    assert _attr(pool, "kernel_shape") == [3, 3]
    assert _attr(pool, "strides") == [2, 2]
    assert _attr(pool, "pads") == [1, 1, 1, 1]


def test_resnet50_strides_on_the_3x3_conv_as_in_v1_5(resnet50):
    nodes = _nodes_by_name(resnet50)
    for stage in (2, 3, 4):
        p = f"layer{stage}.0"
        assert _attr(nodes[f"{p}.conv1"], "strides") == [1, 1]
        assert _attr(nodes[f"{p}.conv2"], "strides") == [2, 2]
        assert _attr(nodes[f"{p}.downsample.0"], "strides") == [2, 2]
    assert _attr(nodes["layer1.0.downsample.0"], "strides") == [1, 1]
    for node in resnet50.graph.node:
        if node.op_type == "Conv" and node.name != "conv1":
            assert len(node.input) == 2, f"{node.name} must have no bias"


def test_resnet18_basic_blocks_stride_on_first_conv(resnet18):
    nodes = _nodes_by_name(resnet18)
    assert _attr(nodes["layer2.0.conv1"], "strides") == [2, 2]
    assert _attr(nodes["layer2.0.conv2"], "strides") == [1, 1]
    assert "layer1.0.downsample.0" not in nodes


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_classifier_is_gemm_with_transposed_fc_weight(models, arch):
    nodes = _nodes_by_name(models[arch])
    fc = nodes["fc"]
    assert fc.op_type == "Gemm"
    assert _attr(fc, "transB") == 1
    assert fc.output == ["logits"]
    assert nodes["avgpool"].op_type == "GlobalAveragePool"
    assert nodes["flatten"].op_type == "Flatten"


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_batchnorm_parameters_are_sane(models, arch):
    model = models[arch]
    inits = _initializers(model)
    for node in model.graph.node:
        if node.op_type != "BatchNormalization":
            continue
        assert _attr(node, "epsilon") == pytest.approx(1e-5)
        var = inits[f"{node.name}.running_var"]
        assert np.all(np.isfinite(var)) and np.all(var > 0), node.name
        assert np.all(np.isfinite(inits[f"{node.name}.running_mean"])), node.name
        gamma = inits[f"{node.name}.weight"]
        assert np.all(gamma > 0) and np.all(gamma < 2), node.name


def test_input_and_output_have_dynamic_batch(resnet50):
    def dims(value_info):
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    (inp,), (out,) = resnet50.graph.input, resnet50.graph.output
    assert inp.name == "input" and dims(inp) == ["batch", 3, 224, 224]
    assert out.name == "logits" and dims(out) == ["batch", 1000]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [(o.domain, o.version) for o in resnet50.opset_import] == [("", 17)]


# ----------------------------------------------------------------------------------------------
# Numerics in onnxruntime


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_runs_any_batch(resnet18_session, varied_inputs, batch):
    logits = resnet18_session.run(["logits"], {"input": varied_inputs[:batch]})[0]
    assert logits.shape == (batch, 1000)
    assert logits.dtype == np.float32


def _check_logits_usable(logits: np.ndarray) -> None:
    assert np.all(np.isfinite(logits))
    spread = logits.std(axis=1)
    assert np.all(spread > 0.5), f"logits nearly constant over classes: std {spread}"
    assert np.all(spread < 100), f"logits exploded: std {spread}"
    top2 = np.sort(logits, axis=1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    assert np.median(gaps) > 0.01, f"top-1 and top-2 nearly tied everywhere: {gaps}"


def test_resnet50_runs_in_onnxruntime_with_usable_logits(resnet50, varied_inputs):
    # One ResNet50 run: two photo crops and one noise image.
    x = varied_inputs[[0, 1, -1]]
    logits = _session(resnet50).run(["logits"], {"input": x})[0]
    assert logits.shape == (3, 1000)
    _check_logits_usable(logits)
    assert not np.allclose(logits[0], logits[1], atol=1e-3)


def test_resnet18_logits_are_finite_and_spread(resnet18_logits):
    _check_logits_usable(resnet18_logits)


def test_top1_differs_across_varied_inputs(resnet18_logits):
    # Seed 0 gives 13 distinct classes over these 16 images; without the fc centring on the
    # calibration features it gives 4, so 6 catches that regression.
    top1 = resnet18_logits.argmax(axis=1)
    assert len(set(top1.tolist())) >= 6, f"top-1 classes: {top1}"


def test_activations_stay_in_range_through_all_layers(resnet18, varied_inputs):
    # Expose every block output (the Relu after each Add) and every BN output.
    model = onnx.ModelProto()
    model.CopyFrom(resnet18)
    probed = [n.output[0] for n in model.graph.node if n.op_type in ("Relu", "BatchNormalization")]
    for name in probed:
        model.graph.output.append(helper.make_empty_tensor_value_info(name))
    outputs = _session(model).run(probed, {"input": varied_inputs[:4]})
    for name, value in zip(probed, outputs):
        assert np.all(np.isfinite(value)), name
        assert np.abs(value).max() < 1e3, f"{name} exploded: max {np.abs(value).max()}"
        assert value.std() > 1e-2, f"{name} collapsed: std {value.std()}"


# ----------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_identical_bytes(resnet18):
    again = mtm.build_model("resnet18", seed=0, num_classes=1000, opset=17)
    assert again.SerializeToString() == resnet18.SerializeToString()


def test_different_seed_gives_different_weights(resnet18):
    other = _initializers(mtm.build_model("resnet18", seed=1, num_classes=1000, opset=17))
    base = _initializers(resnet18)
    for name in ("conv1.weight", "layer3.1.conv2.weight", "bn1.running_mean", "fc.weight"):
        assert not np.array_equal(base[name], other[name]), name


def test_build_model_rejects_bad_arguments():
    with pytest.raises(ValueError):
        mtm.build_model("resnet34")
    with pytest.raises(ValueError):
        mtm.build_model("resnet18", num_classes=0)
    with pytest.raises(ValueError):
        mtm.build_model("resnet18", opset=7)
    with pytest.raises(ValueError):
        mtm.build_model("resnet18", seed=-1)
    with pytest.raises(ValueError):
        mtm.build_model("resnet18", sleep_seconds=1.0)  # sleep_seconds is for arch "sleep" only
    for seconds in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            mtm.build_model("sleep", sleep_seconds=seconds)


# ----------------------------------------------------------------------------------------------
# The sleep benchmarking model


def test_sleep_model_sleeps_then_classifies_the_channel_means():
    model = mtm.build_model("sleep", seed=3, num_classes=10, opset=17, sleep_seconds=0.25)
    onnx.checker.check_model(model, full_check=True)
    assert [(n.op_type, n.domain) for n in model.graph.node] == [
        ("Sleep", "sluice"), ("GlobalAveragePool", ""), ("Flatten", ""), ("Gemm", "")]
    sleep = model.graph.node[0]
    assert sleep.input == ["input"]
    assert _attr(sleep, "seconds") == pytest.approx(0.25)
    assert model.graph.node[1].input == list(sleep.output)
    assert sorted((o.domain, o.version) for o in model.opset_import) == [("", 17), ("sluice", 1)]
    assert _initializers(model)["fc.weight"].shape == (10, 3)
    assert _initializers(model)["fc.bias"].shape == (10,)

    def dims(value_info):
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    assert dims(model.graph.input[0]) == ["batch", 3, 224, 224]
    assert dims(model.graph.output[0]) == ["batch", 10]


def test_sleep_model_defaults_to_one_second_and_is_deterministic():
    model = mtm.build_model("sleep", seed=0, num_classes=4)
    assert _attr(model.graph.node[0], "seconds") == pytest.approx(1.0)
    assert model.SerializeToString() == mtm.build_model("sleep", seed=0, num_classes=4).SerializeToString()
    other = mtm.build_model("sleep", seed=1, num_classes=4)
    assert not np.array_equal(_initializers(model)["fc.weight"], _initializers(other)["fc.weight"])


# ----------------------------------------------------------------------------------------------
# Command line


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def test_help_documents_every_option():
    result = _run_cli("--help")
    assert result.returncode == 0
    for flag in ("--arch", "--out", "--seed", "--num-classes", "--opset", "--sleep-seconds",
                 "resnet50", "resnet18", "sleep"):
        assert flag in result.stdout, flag


@pytest.mark.parametrize("args", [
    [],
    ["--arch", "resnet50"],
    ["--out", "x.onnx"],
    ["--arch", "resnet34", "--out", "x.onnx"],
    ["--arch", "resnet18", "--out", "x.onnx", "--num-classes", "0"],
    ["--arch", "resnet18", "--out", "x.onnx", "--seed", "-1"],
    ["--arch", "resnet18", "--out", "x.onnx", "--seed", "abc"],
    ["--arch", "resnet18", "--out", "x.onnx", "--opset", "5"],
    ["--arch", "resnet18", "--out", "x.onnx", "--opset", "999"],
    ["--arch", "resnet18", "--out", "/nonexistent-dir/x.onnx"],
    ["--arch", "resnet18", "--out", "x.onnx", "--bogus"],
    ["--arch", "resnet18", "--out", "x.onnx", "--sleep-seconds", "1"],
    ["--arch", "sleep", "--out", "x.onnx", "--sleep-seconds", "-1"],
    ["--arch", "sleep", "--out", "x.onnx", "--sleep-seconds", "nan"],
    ["--arch", "sleep", "--out", "x.onnx", "--sleep-seconds", "soon"],
])
def test_bad_arguments_are_usage_errors(args, tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_cli_writes_the_same_model_as_build_model(tmp_path):
    out = tmp_path / "small.onnx"
    result = _run_cli("--arch", "resnet18", "--out", str(out), "--seed", "5",
                      "--num-classes", "10", "--opset", "13")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == mtm.build_model("resnet18", 5, 10, 13).SerializeToString()
    model = onnx.load(str(out))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    assert _initializers(model)["fc.weight"].shape == (10, 512)
    logits = _session(model).run(["logits"], {"input": np.zeros((2, 3, 224, 224), np.float32)})[0]
    assert logits.shape == (2, 10) and np.all(np.isfinite(logits))
    assert list(tmp_path.iterdir()) == [out], "no temporary files left behind"


def test_cli_writes_the_same_sleep_model_as_build_model(tmp_path):
    out = tmp_path / "sleep.onnx"
    result = _run_cli("--arch", "sleep", "--sleep-seconds", "0.5", "--out", str(out), "--seed", "2",
                      "--num-classes", "10")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == mtm.build_model("sleep", 2, 10, 17, 0.5).SerializeToString()
    assert "0.5 s per batch" in result.stdout
