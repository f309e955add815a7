"""Writes the benchmark's seed-format data (image: list<uint8> of 256x256x3 HWC pixels, label: int32,
~1,000 images per file) and a seeded random ResNet50 ONNX (tools/make_test_model.py), both reused
by the Spark benchmarks. Images are smooth synthetic gradients (content does not change timings)."""
import argparse
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def write_images(folder, count, per_file=1000, seed=0):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    written = 0
    for index in range((count + per_file - 1) // per_file):
        rows = min(per_file, count - written)
        flat = []
        for _ in range(rows):
            fx, fy, phase = rng.uniform(0.005, 0.05, 3), rng.uniform(0.005, 0.05, 3), rng.uniform(0, 6.3, 3)
            image = 127 + 100 * np.sin(fx * xx[..., None] + phase) * np.cos(fy * yy[..., None])
            flat.append(np.clip(image, 0, 255).astype(np.uint8).reshape(-1))
        table = pa.table({"image": pa.array(flat, pa.list_(pa.uint8())),
                          "label": pa.array(np.arange(written, written + rows, dtype=np.int32))})
        pq.write_table(table, os.path.join(folder, f"part-{index:05d}.parquet"))
        written += rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--arch", default="resnet50")
    args = parser.parse_args()
    images = os.path.join(args.out, "images")
    if not os.path.isdir(images):
        write_images(images, args.images)
    model = os.path.join(args.out, f"{args.arch}.onnx")
    if not os.path.exists(model):
        sys.path.insert(0, os.path.join(REPO, "tools"))
        import make_test_model
        import onnx

        onnx.save(make_test_model.build_model(args.arch, seed=7, num_classes=1000, opset=17), model)
    print(images, model)


if __name__ == "__main__":
    main()
