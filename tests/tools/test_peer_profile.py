"""Tests for bench/gpu/peers/profile_summary.py, which sums the PyTorch peer's torch.profiler rows
into time per aten op (the counterpart of sluice's model-bench --profile)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "gpu" / "peers"))

from profile_summary import op_times  # noqa: E402


def event(key, device, count, self_device_us, self_cpu_us=0, annotation=False):
    """A stand-in for torch's FunctionEventAvg: device_type is an enum whose .name is CPU or CUDA."""
    return SimpleNamespace(key=key, device_type=SimpleNamespace(name=device), count=count,
                           self_device_time_total=self_device_us, self_cpu_time_total=self_cpu_us,
                           is_user_annotation=annotation)


def kineto_rows():
    # 5 passes. Each kernel appears twice: in the op that launched it and as a CUDA row of its own.
    return [event("aten::cudnn_convolution", "CPU", 265, 60_000, 9_000),
            event("sm90_xmma_fprop_implicit_gemm", "CUDA", 265, 60_000),
            event("aten::cudnn_batch_norm", "CPU", 265, 20_000, 4_000),
            event("bn_fw_inf_kernel", "CUDA", 265, 20_000),
            event("aten::conv2d", "CPU", 265, 0, 1_000),  # its kernels belong to its child
            event("forward", "CPU", 5, 80_000, annotation=True)]


def test_gpu_time_counts_each_kernel_once_under_the_op_that_launched_it():
    kinds, total = op_times(kineto_rows(), runs=5, on_gpu=True)
    assert [kind["kind"] for kind in kinds] == ["aten::cudnn_convolution", "aten::cudnn_batch_norm"]
    assert total == 16.0  # (60 + 20 ms) / 5 passes, not twice that
    assert kinds[0]["ops"] == 53 and kinds[0]["ms"] == 12.0 and kinds[0]["share"] == 0.75


def test_a_dry_run_on_the_cpu_sums_cpu_self_time():
    kinds, total = op_times(kineto_rows(), runs=5, on_gpu=False)
    assert [kind["kind"] for kind in kinds] == ["aten::cudnn_convolution", "aten::cudnn_batch_norm", "aten::conv2d"]
    assert abs(total - 2.8) < 1e-9  # (9 + 4 + 1 ms) / 5


def test_older_torch_names_device_time_cuda():
    old = SimpleNamespace(key="aten::addmm", device_type=SimpleNamespace(name="CPU"), count=5,
                          self_cuda_time_total=500, self_cpu_time_total=0)
    kinds, total = op_times([old], runs=5, on_gpu=True)
    assert kinds == [{"kind": "aten::addmm", "ops": 1, "ms": 0.1, "share": 1.0}] and total == 0.1
