"""PyTorch's model-only throughput on the GPU, the peer of `sluice model-bench --device cuda`:
torchvision's ResNet50 (same architecture as tools/make_test_model.py's), input already on the GPU.
Every --config (PRECISION:BATCH, e.g. fp16:256) runs in this one process, so torch is imported and
CUDA started once. Prints one JSON line per configuration."""
import argparse
import json
import time

import torch
import torchvision

from peer_device import add_device_argument, synchronize


def measure(device, precision, batch_size, iterations, warmup, compile_mode):
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
    peer = "pytorch " + (f"torch.compile {compile_mode}" if compile_mode else "eager") + " channels_last"
    return {"peer": peer, "precision": precision, "batch_size": batch_size, "iterations": iterations,
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
    add_device_argument(parser)
    args = parser.parse_args()
    for config in args.config or ["fp16:256"]:
        precision, batch = config.split(":")
        if precision not in ("fp32", "tf32", "fp16"):
            parser.error(f"unknown precision in --config {config}")
        batch_size = int(batch)
        iterations = args.iterations * 256 // batch_size + 1
        result = measure(args.device, precision, batch_size, iterations, args.warmup, args.compile)
        print(json.dumps(result), flush=True)
        if args.device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
