"""Benchmark (b): framework overhead. 16 batches through a stage that sleeps 1 s per batch, with 16
parallel slots: the ideal is about 1 s (the reference benchmark published Spark at 128.9 s and Ray
Data at 4.4 s). One command runs every variant, in this order:

  sluice_cli      `sluice run --inference-workers 16 --batch-size B` over 16 Parquet files of B images
                  (one row group each), model = tools/make_test_model.py --arch sleep: its Sleep op
                  waits 1 s per batch inside the engine's ONNX executor, so the batches go through the
                  real read -> preprocess -> infer -> write pipeline. Timed from the JSON report
                  (`seconds`, `startup_seconds`) and as the wall time of the whole process.
  pandas_udf      Spark: a scalar pandas UDF that sleeps 1 s per batch (the benchmark's shape) over
                  spark.range in 16 partitions of --rows-per-batch rows (maxRecordsPerBatch equal).
  map_in_arrow    Spark: mapInArrow sleeping 1 s per Arrow batch over the same input (the path
                  sluice.spark.predict takes, with the engine replaced by the sleep).
  sluice_spark    Spark: sluice.spark.predict with the sleep model on the same 16 files as the CLI,
                  read into 16 partitions of B images, batch_size B: each task runs the native engine,
                  whose Sleep op waits 1 s for the partition's one batch.
All Spark variants run on local[16] (16 task slots; a sleeping task needs no core), their input is
cached first and their output goes to the `noop` sink, so a run times the sleeping stage alone. A
warm-up job starts the 16 Python workers before the first timed Spark run (reported separately).

Prints one JSON line per measurement, then a Markdown table of the results.
    PYTHONPATH=build/python python3 bench/spark/bench_sleep_overhead.py [--sluice-bin build/sluice]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def emit(record):
    print(json.dumps(record), flush=True)


def make_inputs(sluice_bin, work, batches, batch_images, sleep):
    """`batches` seed-format files of `batch_images` images (one row group each) and the sleep model."""
    images = os.path.join(work, "images")
    shutil.rmtree(images, ignore_errors=True)
    subprocess.run([sluice_bin, "datagen", "--out", images, "--images", str(batches * batch_images),
                    "--images-per-file", str(batch_images), "--rows-per-group", str(batch_images)],
                   check=True, capture_output=True)
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import make_test_model
    import onnx

    model = os.path.join(work, "sleep.onnx")
    onnx.save(make_test_model.build_model("sleep", seed=0, num_classes=10, sleep_seconds=sleep), model)
    return images, model


def run_cli(sluice_bin, images, model, work, args):
    """Times `sluice run` with one inference worker per batch; None when the binary lacks the flag."""
    help_text = subprocess.run([sluice_bin, "run", "--help"], capture_output=True, text=True).stdout
    if "--inference-workers" not in help_text:
        emit({"variant": "sluice_cli", "skipped": f"{sluice_bin} run has no --inference-workers"})
        return None
    runs = []
    for _ in range(args.repeats):
        out, report = os.path.join(work, "cli-out"), os.path.join(work, "cli-report.json")
        shutil.rmtree(out, ignore_errors=True)
        begin = time.perf_counter()
        subprocess.run([sluice_bin, "run", "--input", images, "--output", out, "--model", model,
                        "--device", "cpu", "--batch-size", str(args.batch_images),
                        "--inference-workers", str(args.batches), "--report", report, "--no-progress"],
                       check=True, capture_output=True)
        wall = time.perf_counter() - begin
        with open(report) as f:
            job = json.load(f)
        assert job["images"] == args.batches * args.batch_images and job["errors"] == 0, job
        runs.append({"process_wall_seconds": wall, "seconds": job["seconds"],
                     "startup_seconds": job["startup_seconds"],
                     "first_batch_seconds": job["first_batch_seconds"]})
    best = min(runs, key=lambda run: run["seconds"])
    record = {"variant": "sluice_cli", "batches": args.batches, "slots": args.batches,
              "runs": [{k: round(v, 3) for k, v in run.items()} for run in runs],
              "best_seconds": round(best["seconds"], 3),
              "overhead_above_ideal_seconds": round(best["seconds"] - args.sleep, 3),
              "best_after_startup_seconds": round(best["seconds"] - best["startup_seconds"], 3),
              "overhead_after_startup_seconds": round(best["seconds"] - best["startup_seconds"] - args.sleep, 3),
              "best_process_wall_seconds": round(min(run["process_wall_seconds"] for run in runs), 3)}
    emit(record)
    return record


def time_spark_runs(name, build, args, extra=None):
    timings = []
    for _ in range(args.repeats):
        begin = time.perf_counter()
        build().write.format("noop").mode("overwrite").save()
        timings.append(time.perf_counter() - begin)
    best = min(timings)
    record = {"variant": name, "batches": args.batches, "slots": args.batches,
              "seconds_each_run": [round(t, 2) for t in timings], "best_seconds": round(best, 2),
              "overhead_above_ideal_seconds": round(best - args.sleep, 2), **(extra or {})}
    emit(record)
    return record


def run_spark(images, model, args):
    from sluice import spark as sluice_spark

    begin = time.perf_counter()
    spark = (sluice_spark.session_builder(f"local[{args.batches}]", "bench-sleep")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.rows_per_batch))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    emit({"session_startup_seconds": round(time.perf_counter() - begin, 2)})

    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    sleep = args.sleep

    @pandas_udf("long")
    def sleep_udf(values: pd.Series) -> pd.Series:
        time.sleep(sleep)
        return values

    def sleep_batches(batches):
        for batch in batches:
            time.sleep(sleep)
            yield batch

    def pass_batches(batches):
        yield from batches

    records = []
    try:
        numbers = spark.range(0, args.batches * args.rows_per_batch, numPartitions=args.batches).cache()
        numbers.count()  # materialize the input so that only the sleeping stage is timed
        begin = time.perf_counter()
        numbers.mapInArrow(pass_batches, numbers.schema).write.format("noop").mode("overwrite").save()
        emit({"python_worker_warmup_seconds": round(time.perf_counter() - begin, 2)})

        # The CLI's files, one partition each, with the source columns the output's path/row need.
        photos = (spark.read.parquet(images)
                  .select("image", "label", F.col("_metadata.file_path").alias("source_path"),
                          F.col("_metadata.row_index").alias("source_row"))
                  .cache())
        photos.count()
        sizes = photos.rdd.glom().map(len).collect()
        if sizes != [args.batch_images] * args.batches:
            raise SystemExit(f"expected {args.batches} partitions of {args.batch_images} images, got {sizes}")

        records.append(time_spark_runs("pandas_udf", lambda: numbers.select(sleep_udf(F.col("id")).alias("id")), args))
        records.append(time_spark_runs("map_in_arrow", lambda: numbers.mapInArrow(sleep_batches, numbers.schema), args))
        records.append(time_spark_runs(
            "sluice_spark",
            lambda: sluice_spark.predict(photos, model=model, batch_size=args.batch_images, topk=1,
                                         pass_through=["label"], path_col="source_path", row_col="source_row",
                                         device="cpu"),
            args, {"images_per_batch": args.batch_images}))
    finally:
        spark.stop()
    return records


def seconds_cells(best, sleep):
    """The best time and its overhead above the ideal, rounded alike so that the two cells agree."""
    best = round(best, 2)
    return f"{best:.2f} | {best - sleep:.2f} s"


def markdown(records, sleep):
    names = {
        "sluice_cli": "sluice CLI, `--inference-workers 16` (sleep model in the engine)",
        "sluice_cli_after_startup": "sluice CLI, same runs, after start-up (report `seconds - startup_seconds`)",
        "pandas_udf": "Spark, pandas UDF sleeping 1 s per batch (the benchmark's shape)",
        "map_in_arrow": "Spark, mapInArrow sleeping 1 s per batch (sluice.spark.predict's path, engine replaced)",
        "sluice_spark": "Spark + sluice (`sluice.spark.predict`, sleep model in the engine)",
    }
    lines = ["| variant | runs (s) | best (s) | overhead above 1 s |", "|---|---|---|---|"]
    for record in records:
        name = record["variant"]
        if name == "sluice_cli":
            runs = ", ".join(f"{run['seconds']:.2f}" for run in record["runs"])
            lines.append(f"| {names[name]} | {runs} | {seconds_cells(record['best_seconds'], sleep)} |")
            after = ", ".join(f"{run['seconds'] - run['startup_seconds']:.2f}" for run in record["runs"])
            lines.append(f"| {names['sluice_cli_after_startup']} | {after} | "
                         f"{seconds_cells(record['best_after_startup_seconds'], sleep)} |")
        else:
            runs = ", ".join(f"{t:.2f}" for t in record["seconds_each_run"])
            lines.append(f"| {names[name]} | {runs} | {seconds_cells(record['best_seconds'], sleep)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sluice-bin", default=os.environ.get("SLUICE_BIN", os.path.join(REPO, "build", "sluice")))
    parser.add_argument("--work", default=None, help="folder for the generated data (default: a temporary one)")
    parser.add_argument("--batches", type=int, default=16, help="batches, and parallel slots (default 16)")
    parser.add_argument("--batch-images", type=int, default=8,
                        help="images per batch in the sluice variants (default 8)")
    parser.add_argument("--rows-per-batch", type=int, default=1000,
                        help="rows per batch in the pandas_udf and map_in_arrow variants (default 1000)")
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds per batch (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-spark", action="store_true", help="only the sluice CLI")
    args = parser.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="sluice-sleep-bench-")
    os.makedirs(work, exist_ok=True)
    images, model = make_inputs(args.sluice_bin, work, args.batches, args.batch_images, args.sleep)
    records = []
    cli = run_cli(args.sluice_bin, images, model, work, args)
    if cli:
        records.append(cli)
    if not args.skip_spark:
        records += run_spark(images, model, args)
    print(markdown(records, args.sleep))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
