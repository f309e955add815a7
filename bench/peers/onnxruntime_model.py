#!/usr/bin/env python3
"""Peer for model-only throughput: onnxruntime (CPU provider) on the same ONNX model and batch size
as `sluice model-bench`. Prints one JSON line in the same shape."""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = np.random.default_rng(0).standard_normal((args.batch_size, 3, 224, 224), dtype=np.float32)
    for _ in range(args.warmup):
        session.run(None, {name: batch})
    start = time.perf_counter()
    for _ in range(args.iterations):
        session.run(None, {name: batch})
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": "onnxruntime " + ort.__version__, "model": args.model, "batch_size": args.batch_size,
                      "iterations": args.iterations, "seconds": seconds,
                      "images_per_second": args.batch_size * args.iterations / seconds}))


if __name__ == "__main__":
    main()
