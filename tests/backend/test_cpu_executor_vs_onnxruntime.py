"""`sluice model-run` against onnxruntime on small ONNX models covering every supported op.

The binary comes from $SLUICE_BIN (default build/sluice). Each model is built with onnx.helper,
run by both on the same random input, and compared: max|delta| <= 1e-4 * max|reference|.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
SLUICE_BIN = Path(os.environ.get("SLUICE_BIN", REPO / "build" / "sluice"))
TOLERANCE = 1e-4

pytestmark = pytest.mark.skipif(not SLUICE_BIN.exists(),
                                reason=f"sluice binary not built at {SLUICE_BIN}")


def _weight(rng, name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _model(nodes, initializers, input_shape, output_dims, opset=17):
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", *output_dims])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _run_both(tmp_path, model, batch=3, seed=0):
    model_path = tmp_path / "model.onnx"
    onnx.save(model, model_path)
    input_shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    x = np.random.default_rng(seed).standard_normal([batch, *input_shape]).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run(
        [str(SLUICE_BIN), "model-run", "--model", str(model_path), "--input",
         str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ours = np.load(tmp_path / "y.npy")
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {model.graph.input[0].name: x})[0].reshape(batch, -1)
    assert ours.shape == reference.shape
    return ours, reference


def _assert_close(ours, reference):
    error = np.max(np.abs(ours - reference))
    assert error <= TOLERANCE * np.max(np.abs(reference)), f"max |delta| {error}"


def _bn(rng, prefix, channels, input_name, output_name):
    params = [
        numpy_helper.from_array(rng.uniform(0.5, 1.5, channels).astype(np.float32), prefix + "_s"),
        numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), prefix + "_b"),
        numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), prefix + "_m"),
        numpy_helper.from_array(rng.uniform(0.5, 2.0, channels).astype(np.float32), prefix + "_v"),
    ]
    node = helper.make_node("BatchNormalization", [input_name] + [p.name for p in params],
                            [output_name], name=prefix, epsilon=1e-3)
    return node, params


def test_conv_with_groups_strides_and_pads_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(1)
    inits = [_weight(rng, "w1", [8, 3, 3, 3]), _weight(rng, "b1", [8]),
             _weight(rng, "w2", [8, 2, 3, 3]), _weight(rng, "w3", [6, 8, 1, 1])]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", strides=[2, 2],
                         pads=[1, 0, 2, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], name="conv2", group=4, pads=[1, 1, 1, 1],
                         dilations=[2, 1]),
        helper.make_node("Conv", ["c2", "w3"], ["y"], name="conv3", auto_pad="SAME_UPPER",
                         strides=[2, 2]),
    ]
    _assert_close(*_run_both(tmp_path, _model(nodes, inits, [3, 17, 15], [6, 5, 4])))


def test_conv_with_valid_auto_pad_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", auto_pad="VALID",
                              strides=[2, 3])]
    _assert_close(*_run_both(tmp_path, _model(nodes, [_weight(rng, "w", [4, 3, 3, 3])],
                                              [3, 11, 13], [4, 5, 4])))


def test_batchnorm_after_conv_and_standalone_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(3)
    bn1, p1 = _bn(rng, "bn1", 8, "c1", "n1")
    bn2, p2 = _bn(rng, "bn2", 8, "r1", "y")  # after a Relu: not folded, runs on its own
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
             bn1, helper.make_node("Relu", ["n1"], ["r1"], name="relu"), bn2]
    inits = [_weight(rng, "w", [8, 3, 3, 3])] + p1 + p2
    _assert_close(*_run_both(tmp_path, _model(nodes, inits, [3, 9, 9], [8, 9, 9])))


@pytest.mark.parametrize("ceil_mode", [0, 1])
def test_max_and_average_pooling_match_onnxruntime(tmp_path, ceil_mode):
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("MaxPool", ["c"], ["p1"], name="maxpool", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=ceil_mode),
        helper.make_node("AveragePool", ["p1"], ["p2"], name="avgpool", kernel_shape=[3, 2],
                         strides=[2, 2], pads=[1, 0, 1, 0], ceil_mode=ceil_mode),
        helper.make_node("AveragePool", ["p2"], ["y"], name="avgpool_incl", kernel_shape=[2, 2],
                         pads=[1, 1, 1, 1], count_include_pad=1),
    ]
    model = _model(nodes, [_weight(rng, "w", [8, 3, 1, 1])], [3, 20, 18], ["h", "w"])
    model = onnx.shape_inference.infer_shapes(model)
    _assert_close(*_run_both(tmp_path, model))


def test_residual_add_relu_gap_flatten_gemm_softmax_match_onnxruntime(tmp_path):
    rng = np.random.default_rng(5)
    bn, params = _bn(rng, "bn", 8, "c2", "n2")
    inits = [_weight(rng, "w1", [8, 3, 3, 3]), _weight(rng, "w2", [8, 8, 3, 3]),
             _weight(rng, "fc_w", [10, 8]), _weight(rng, "fc_b", [10])] + params
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        bn,
        helper.make_node("Add", ["n2", "r1"], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc", transB=1,
                         alpha=0.7, beta=1.3),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    _assert_close(*_run_both(tmp_path, _model(nodes, inits, [3, 8, 8], [10]), batch=5))


def test_add_with_channel_and_scalar_broadcast_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(6)
    inits = [_weight(rng, "w", [4, 3, 1, 1]), _weight(rng, "bias", [4, 1, 1]),
             _weight(rng, "s", [])]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),  # keeps the Add out of the conv
        helper.make_node("Add", ["r", "bias"], ["a"], name="add_channel"),
        helper.make_node("Add", ["s", "a"], ["y"], name="add_scalar"),
    ]
    _assert_close(*_run_both(tmp_path, _model(nodes, inits, [3, 5, 6], [4, 5, 6])))


def test_reshape_matmul_identity_constant_and_gemm_without_transpose_match_onnxruntime(tmp_path):
    rng = np.random.default_rng(7)
    shape = helper.make_node("Constant", [], ["shape"], name="shape_const",
                             value=numpy_helper.from_array(np.array([0, 4, -1], np.int64)))
    inits = [_weight(rng, "w", [4, 3, 1, 1]), _weight(rng, "m", [12, 6]),
             _weight(rng, "g", [24, 5]), _weight(rng, "gc", [])]
    nodes = [
        shape,
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Identity", ["c"], ["i"], name="identity"),
        helper.make_node("Reshape", ["i", "shape"], ["r"], name="reshape"),  # [N,4,12]
        helper.make_node("MatMul", ["r", "m"], ["mm"], name="matmul"),       # [N,4,6]
        helper.make_node("Flatten", ["mm"], ["f"], name="flatten"),          # [N,24]
        helper.make_node("Gemm", ["f", "g", "gc"], ["y"], name="gemm"),      # [N,5]
    ]
    _assert_close(*_run_both(tmp_path, _model(nodes, inits, [3, 3, 4], [5])))


def test_softmax_over_a_middle_axis_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Softmax", ["c"], ["y"], name="softmax", axis=1)]
    _assert_close(*_run_both(tmp_path, _model(nodes, [_weight(rng, "w", [5, 3, 1, 1])],
                                              [3, 4, 4], [5, 4, 4])))


def test_unsupported_op_exits_with_code_2_naming_the_node(tmp_path):
    nodes = [helper.make_node("Sigmoid", ["x"], ["y"], name="Foo_12")]
    onnx.save(_model(nodes, [], [3, 4, 4], [3, 4, 4]), tmp_path / "m.onnx")
    np.save(tmp_path / "x.npy", np.zeros([1, 3, 4, 4], np.float32))
    result = subprocess.run(
        [str(SLUICE_BIN), "model-run", "--model", str(tmp_path / "m.onnx"), "--input",
         str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")],
        capture_output=True, text=True)
    assert result.returncode == 2
    assert "node 'Foo_12' uses op 'Sigmoid'" in result.stderr


@pytest.mark.parametrize("arch", ["resnet18"])
def test_generated_resnet_matches_onnxruntime(tmp_path, arch):
    generator = REPO / "tools" / "make_test_model.py"
    if not generator.exists():
        pytest.skip("tools/make_test_model.py is not in this checkout yet")
    model_path = tmp_path / f"{arch}.onnx"
    subprocess.run([sys.executable, str(generator), "--arch", arch, "--out", str(model_path),
                    "--seed", "3"], check=True)
    _assert_close(*_run_both(tmp_path, onnx.load(model_path), batch=2))
