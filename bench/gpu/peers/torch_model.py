"""PyTorch's model-only throughput on the GPU, the peer of `sluice model-bench --device cuda`:
torchvision's ResNet50 (same architecture as tools/make_test_model.py's), input already on the GPU.
Every --config (PRECISION:BATCH, e.g. fp16:256) runs in this one process, so torch is imported and
CUDA started once. Prints one JSON line per configuration. With --profile, the batch-256 configurations
are then profiled, after every throughput is measured (the profiler must not slow a measurement): a
further line each with its time per aten op (torch.profiler's self device time over 5 passes), the
counterpart of `sluice model-bench --profile`."""
import argparse
import json
import time

import torch
import torchvision

from peer_device import add_device_argument, synchronize
from profile_summary import op_times


PROFILE_RUNS = 5


def prepare(device, precision, batch_size, compile_mode):
    """The model and a random input batch for one configuration."""
    # fp32 is true FP32; tf32 lets cuDNN and cuBLAS use TF32 tensor cores; fp16 needs neither.
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    dtype = torch.float16 if precision == "fp16" else torch.float32
    model = torchvision.models.resnet50().eval().to(device).to(dtype=dtype, memory_format=torch.channels_last)
    if compile_mode:
        model = torch.compile(model, mode=compile_mode)
    x = torch.randn(batch_size, 3, 224, 224, device=device, dtype=dtype).to(memory_format=torch.channels_last)
    return model, x


def peer_name(compile_mode):
    return "pytorch " + (f"torch.compile {compile_mode}" if compile_mode else "eager") + " channels_last"


def profile(device, precision, batch_size, warmup, compile_mode, forward_ms):
    """One JSON line: the mean self time per pass of each aten op over PROFILE_RUNS passes, largest
    first (device time on the GPU, CPU time in a dry run), or why there is none."""
    line = {"peer": peer_name(compile_mode), "precision": precision, "batch_size": batch_size}
    try:
        model, x = prepare(device, precision, batch_size, compile_mode)
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.inference_mode():
            for _ in range(warmup):
                model(x)
            synchronize(device)
            with torch.profiler.profile(activities=activities) as profiler:
                for _ in range(PROFILE_RUNS):
                    model(x)
                synchronize(device)
    except Exception as error:  # e.g. no CUPTI: the throughput measured before stands without it
        line["profile_error"] = f"{type(error).__name__}: {error}"
        return line
    kinds, total = op_times(profiler.key_averages(), PROFILE_RUNS, on_gpu=device == "cuda")
    line["profile"] = {"runs": PROFILE_RUNS, "ops_ms": total, "forward_ms": forward_ms, "by_kind": kinds}
    return line


def measure(device, precision, batch_size, iterations, warmup, compile_mode):
    model, x = prepare(device, precision, batch_size, compile_mode)
    with torch.inference_mode():
        setup_start = time.perf_counter()
        for _ in range(warmup):
            model(x)
        synchronize(device)
        warmup_seconds = time.perf_counter() - setup_start
        start = time.perf_counter()
        for _ in range(iterations):
            model(x)
        synchronize(device)
        seconds = time.perf_counter() - start
    return {"peer": peer_name(compile_mode), "precision": precision, "batch_size": batch_size, "iterations": iterations,
            "seconds": seconds, "warmup_seconds": warmup_seconds,
            "images_per_second": batch_size * iterations / seconds,
            "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", action="append", default=[],
                        help="PRECISION:BATCH (fp32, tf32 or fp16); repeatable; default fp16:256")
    parser.add_argument("--iterations", type=int, default=50, help="at batch 256; scaled to keep the images equal")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--compile", nargs="?", const="max-autotune", default=None,
                        help="torch.compile with this mode (default max-autotune)")
    parser.add_argument("--profile", action="store_true",
                        help="then profile the batch-256 configurations: each aten op's time over 5 passes")
    add_device_argument(parser)
    args = parser.parse_args()
    profiles = []
    for config in args.config or ["fp16:256"]:
        precision, batch = config.split(":")
        if precision not in ("fp32", "tf32", "fp16"):
            parser.error(f"unknown precision in --config {config}")
        batch_size = int(batch)
        iterations = args.iterations * 256 // batch_size + 1
        result = measure(args.device, precision, batch_size, iterations, args.warmup, args.compile)
        print(json.dumps(result), flush=True)
        if args.profile and batch_size == 256:
            profiles.append((precision, batch_size, result["seconds"] * 1000 / iterations))
        if args.device == "cuda":
            torch.cuda.empty_cache()
    for precision, batch_size, forward_ms in profiles:
        print(json.dumps(profile(args.device, precision, batch_size, args.warmup, args.compile, forward_ms)),
              flush=True)
        if args.device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
