"""Tests for bench/gpu/report.py, which turns the GPU session's JSON lines into the results tables:
the ratios against the peer measured in the same run, the issues' goals marked met or not, and a
line missing figures (a run that failed part-way) reported as "-" instead of stopping the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "bench" / "gpu" / "report.py"


def report(tmp_path, lines):
    path = tmp_path / "gpu.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json, as a failed step leaves\n")
    result = subprocess.run([sys.executable, REPORT, path], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def row(text, *cells):
    """The table line holding every one of `cells`."""
    found = [line for line in text.splitlines() if all(cell in line for cell in cells)]
    assert len(found) == 1, (cells, text)
    return found[0]


def model_line(precision, batch, rate, peer=False):
    line = {"precision": precision, "batch_size": batch, "iterations": 10, "images_per_second": rate}
    if peer:
        line["peer"] = "pytorch eager channels_last"
    else:
        line.update(cudnn_algorithms="heuristic", setup_seconds=1.5)
    return line


def test_model_only_fp16_is_held_to_1_8x_pytorch_eager(tmp_path):
    text = report(tmp_path, [model_line("fp16", 256, 27000), model_line("fp16", 256, 13500, peer=True),
                             model_line("fp16", 1000, 20000), model_line("fp16", 1000, 14000, peer=True),
                             model_line("tf32", 256, 7000), model_line("tf32", 256, 6200, peer=True)])
    assert "2.00x (met: >= 1.8x)" in row(text, "| 256 | fp16 | heuristic | 27,000 |")
    assert "1.43x (NOT met: >= 1.8x)" in row(text, "| 1000 | fp16 |")
    assert row(text, "| 256 | tf32 |").endswith("| 1.13x |")


def test_end_to_end_ratios_use_whole_job_wall_time_and_the_matching_precision(tmp_path):
    text = report(tmp_path, [
        model_line("fp16", 256, 20000),
        {"sluice": "run", "precision": "fp16", "images": 16000, "seconds": 1.8, "whole_job_seconds": 2.0,
         "first_batch_seconds": 1.0, "images_per_second": 8889, "steady_images_per_second": 19000,
         "gpu_utilization_mean": 60, "bottleneck": "inference"},
        {"sluice": "run", "precision": "tf32", "images": 16000, "seconds": 3.0, "whole_job_seconds": 3.2,
         "first_batch_seconds": None, "images_per_second": 5333, "steady_images_per_second": None},
        {"peer": "pytorch DataLoader (15 workers), tuned", "variant": "tuned", "precision": "fp16",
         "images": 16000, "seconds": 8.0, "whole_job_seconds": 16.0, "first_batch_seconds": 6.0,
         "images_per_second": 2000},
        {"peer": "pytorch DataLoader (15 workers), as-written", "variant": "as-written", "precision": "fp32",
         "images": 16000, "seconds": 20.0, "whole_job_seconds": 32.0, "first_batch_seconds": 9.0,
         "images_per_second": 800},
    ])
    # 16000 / 2.0 s against 16000 / 16.0 s: 8x the tuned pipeline, above the 5x goal.
    assert "8.00x (met: >= 5.0x)" in row(text, "| run fp16 | pytorch DataLoader (15 workers), tuned fp16 |")
    # sluice's tf32 against PyTorch's fp32, which runs TF32 convolutions: 32.0 / 3.2.
    assert "10.00x" in row(text, "| run tf32 | pytorch DataLoader (15 workers), as-written fp32 |")
    assert "0.95x (met: >= 0.9x)" in row(text, "| run fp16, steady state |")
    # No first batch (a run that failed part-way): dashes, and the rest of the report still comes.
    assert "| - |" in row(text, "| sluice run | tf32 |")
    assert "| - |" in row(text, "| run tf32, steady state |")


def test_jpeg_runs_are_held_to_4x_the_pil_pipeline_and_10000_images_per_second(tmp_path):
    text = report(tmp_path, [
        {"sluice": "run-jpeg", "decode": "auto", "images": 16232, "errors": 3, "seconds": 1.5,
         "whole_job_seconds": 1.6, "images_per_second": 10821, "decoded": {"cpu": 8000, "gpu": 8232},
         "bottleneck": "inference"},
        {"sluice": "run-jpeg", "decode": "cpu", "images": 16232, "errors": 3, "seconds": 2.0,
         "images_per_second": 8116, "decoded": {"cpu": 16232, "gpu": 0}},
        {"peer": "pytorch DataLoader (15 workers, PIL), as-specified", "jpeg": True, "variant": "as-specified",
         "images": 16232, "seconds": 6.6, "images_per_second": 2460},
    ])
    auto = row(text, "| sluice run --decode auto |")
    assert "4.40x (met: >= 4.0x) (>= 10,000 images/s: met)" in auto and "| 8000 / 8232 |" in auto
    assert "3.30x (NOT met: >= 4.0x) (>= 10,000 images/s: NOT met)" in row(text, "| sluice run --decode cpu |")


def test_a_profiled_run_says_where_the_model_time_goes(tmp_path):
    profiled = model_line("fp16", 256, 20000.0)
    profiled["device"] = "cuda:0 (NVIDIA H200, fp16, 54 of 54 convolutions fused), CUDA graph"
    profiled["profile"] = {"runs": 5, "ops_ms": 14.0, "forward_ms": 12.8, "flops": 2 * 256 * 4.089e9,
                           "file": "results-a/profile-fp16-256-heuristic.json",
                           "by_kind": [{"kind": "Conv 3x3", "ops": 16, "ms": 7.0, "share": 0.5, "flops": 1e12,
                                        "bytes": 4e9},
                                       {"kind": "MaxPool", "ops": 1, "ms": 0.5, "share": 0.5 / 14, "flops": 0,
                                        "bytes": 1e9}]}
    failed = model_line("tf32", 256, 9000.0)
    failed["profile_error"] = "CUDA error in cudaEventRecord: invalid resource handle"
    text = report(tmp_path, [profiled, failed, model_line("fp16", 256, 13000.0, peer=True)])
    assert "Where sluice's model time goes: fp16, batch 256, cuDNN algorithms heuristic" in text
    # 2 * 256 * 4.089e9 FLOPs in 12.8 ms: 163.6 TFLOP/s.
    assert "12.800 ms per pass as benchmarked (CUDA graph); 163.6 TFLOP/s at the benchmarked pass" in text
    # 1e12 FLOPs in 7 ms = 142.9 TFLOP/s, 4e9 bytes in 7 ms = 571.4 GB/s; a pool counts no FLOPs.
    assert row(text, "| Conv 3x3 |") == "| Conv 3x3 | 16 | 7.000 | 50.0% | 142.9 | 571.4 |"
    assert row(text, "| MaxPool |") == "| MaxPool | 1 | 0.500 | 3.6% | - | 2,000.0 |"
    assert "No profile: CUDA error in cudaEventRecord" in text
    # The profile does not disturb the model-only ratio: 20,000 / 13,000.
    assert "1.54x (NOT met: >= 1.8x)" in text


def test_a_profiled_peer_says_where_pytorchs_time_goes_by_aten_op(tmp_path):
    # As torch_model.py --profile prints it: a line of its own, after every throughput line.
    peer = {"peer": "pytorch eager channels_last", "precision": "fp16", "batch_size": 256}
    peer["profile"] = {"runs": 5, "ops_ms": 19.0, "forward_ms": 18.7,
                       "by_kind": [{"kind": "aten::cudnn_convolution", "ops": 53.0, "ms": 12.0, "share": 12 / 19},
                                   {"kind": "aten::cudnn_batch_norm", "ops": 53.0, "ms": 4.0, "share": 4 / 19}]}
    text = report(tmp_path, [model_line("fp16", 256, 20000.0), model_line("fp16", 256, 13000.0, peer=True), peer])
    assert "Where PyTorch's model time goes: fp16, batch 256, pytorch eager channels_last" in text
    assert "19.000 ms per pass in the ops, 18.700 ms per pass as benchmarked" in text
    assert row(text, "| aten::cudnn_convolution |") == "| aten::cudnn_convolution | 53 | 12.000 | 63.2% | - | - |"
    assert "Where sluice's model time goes" not in text  # sluice's line carried no profile
    assert "1.54x (NOT met: >= 1.8x)" in text  # the profile line is not taken for a throughput


def test_a_timed_run_from_the_cache_is_a_row_of_its_own(tmp_path):
    cold = model_line("fp16", 256, 21000.0)
    cold.update(cudnn_algorithms="timed", setup_seconds=9.5,
                device="cuda:0 (NVIDIA H200, fp16, 54 of 54 convolutions (23 signatures) fused with bias/add/ReLU, "
                       "algorithms of 0 of 23 signatures from the cache), CUDA graph")
    warm = dict(cold, setup_seconds=1.25,
                device=cold["device"].replace("algorithms of 0 of", "algorithms of 23 of"))
    # A rerun that found nothing in the cache (e.g. it could not be saved) keeps a row of its own.
    broken = dict(cold, setup_seconds=9.75)
    text = report(tmp_path, [cold, warm, broken, model_line("fp16", 256, 14000.0, peer=True)])
    assert "| 9.50 |" in row(text, "| 256 | fp16 | timed | 21,000 |")
    assert "| 1.25 |" in row(text, "| 256 | fp16 | timed, 23 of 23 signatures from the cache | 21,000 |")
    assert "| 9.75 |" in row(text, "| 256 | fp16 | timed (again) | 21,000 |")
