"""PyTorch's model-only throughput on the GPU, the peer of `sluice model-bench --device cuda`:
torchvision's ResNet50 (same architecture as tools/make_test_model.py's), input already on the GPU.
Prints one JSON line."""
import argparse
import json
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--precision", choices=("fp32", "tf32", "fp16"), default="fp16")
    parser.add_argument("--compile", action="store_true", help="torch.compile(mode='max-autotune')")
    args = parser.parse_args()

    tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet50().eval().cuda()
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    model = model.to(dtype=dtype, memory_format=torch.channels_last)
    if args.compile:
        model = torch.compile(model, mode="max-autotune")
    x = torch.randn(args.batch_size, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.iterations):
            model(x)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    print(json.dumps({"peer": "pytorch " + ("torch.compile" if args.compile else "eager") + " channels_last",
                      "precision": args.precision, "batch_size": args.batch_size, "iterations": args.iterations,
                      "seconds": seconds, "images_per_second": args.batch_size * args.iterations / seconds}))


if __name__ == "__main__":
    main()
