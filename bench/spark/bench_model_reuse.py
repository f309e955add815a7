"""Benchmark: sluice.spark.run_files over many small files, keeping the model loaded between files
(reuse_model=True, the default) vs loading it for every file (reuse_model=False, what each task did
before). Same data, same model, same Spark session, variants alternated and each run --repeats times.

Each file is one Spark task (files_per_task=1); Spark reuses its Python workers, so with reuse a
worker loads the model for its first file only. On a GPU that start-up (weights, convolution plans,
CUDA graphs) costs more than predicting a file of a thousand images; on the CPU it is oneDNN's
weight reordering. Prints one JSON line per run, then a Markdown table (best run per variant).

    PYTHONPATH=build/python python3 bench/spark/bench_model_reuse.py [--files 12 --images-per-file 32]
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_bench_data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--images-per-file", type=int, default=32)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", default=None, help="folder for data and outputs (default: a temporary one)")
    args = parser.parse_args()

    from sluice import spark as sluice_spark

    work = args.work or tempfile.mkdtemp(prefix="sluice-model-reuse-")
    images = os.path.join(work, "images")
    if not os.path.isdir(images):
        make_bench_data.write_images(images, args.files * args.images_per_file, per_file=args.images_per_file)
    model = os.path.join(work, f"{args.arch}.onnx")
    if not os.path.exists(model):
        sys.path.insert(0, os.path.join(make_bench_data.REPO, "tools"))
        import make_test_model
        import onnx

        onnx.save(make_test_model.build_model(args.arch, seed=7, num_classes=1000, opset=17), model)

    spark = sluice_spark.session_builder(args.master, "sluice-model-reuse").getOrCreate()
    # Warm-up: starts the Python workers, so neither variant pays for that.
    spark.range(0, 8, 1, 8).rdd.map(lambda x: x).count()
    results = {}
    for repeat in range(args.repeats):
        for reuse in (False, True):
            out = os.path.join(work, f"out-{reuse}-{repeat}")
            start = time.time()
            summary = sluice_spark.run_files(spark, images, out, model, device=args.device,
                                             batch_size=args.batch_size, reuse_model=reuse)
            wall = time.time() - start
            startup = sum(f["report"]["startup_seconds"] for f in summary["per_file"])
            row = {"reuse_model": reuse, "repeat": repeat, "seconds": round(wall, 3), "images": summary["images"],
                   "images_per_second": round(summary["images"] / wall, 2), "model_loads": summary["model_loads"],
                   "startup_seconds_total": round(startup, 3), "devices": summary["devices"]}
            print(json.dumps(row), flush=True)
            best = results.get(reuse)
            if best is None or row["seconds"] < best["seconds"]:
                results[reuse] = row
    spark.stop()

    fresh, kept = results[False], results[True]
    print(f"\n{args.files} files x {args.images_per_file} images, {args.arch}, {args.master}, "
          f"device {', '.join(kept['devices'])}; best of {args.repeats}\n")
    print("| variant | whole job s | images/s | model loads | engine start-up s (sum over files) |")
    print("|---|---|---|---|---|")
    for name, row in (("load per file (reuse_model=False)", fresh), ("keep the model (reuse_model=True)", kept)):
        print(f"| {name} | {row['seconds']} | {row['images_per_second']} | {row['model_loads']} | "
              f"{row['startup_seconds_total']} |")
    print(f"\nkeep / load per file: {fresh['seconds'] / kept['seconds']:.2f}x images/s")


if __name__ == "__main__":
    main()
