"""A whole sluice job on Spark: read Parquet images, predict (or preprocess), write Parquet.

    python3 -m sluice.spark_job --input DIR_OR_URI --model resnet50.onnx --output DIR_OR_URI [--master URL]
    python3 -m sluice.spark_job --preprocess-only --input images/ --output crops/
    python3 -m sluice.spark_job --predict-only --input crops/ --model resnet50.onnx --output predictions/

Also runs under spark-submit (leave --master out; spark-submit's --master applies).

By default the job runs file by file (sluice.spark.run_files): one Spark task per input file runs
the native engine's whole job on it, so the output is what `sluice run` / `sluice preprocess` /
`sluice predict` write: one file per input file, same relative path, committed atomically (a
retried task rewrites its file; nothing is duplicated). s3:// input and output are read and written
by the engine itself (--s3-endpoint or AWS_ENDPOINT_URL; executors need S3 credentials in their
environment), so no hadoop-aws jars are needed. --pass-through defaults to none, as the CLI.

--dataframe reads the input with Spark's Parquet reader and writes Spark part files through
Spark's commit protocol (sluice.spark.predict); preprocessed crops are then binary (H*W*C raw
bytes, Spark has no unsigned byte type), which --dataframe --predict-only (or `sluice predict
--image-shape 224,224,3`) reads; --pass-through defaults to every input column but the image;
s3:// URIs go to Spark as s3a://, which needs the hadoop-aws jars on the cluster.

Prints a JSON summary (images, errors, seconds, images_per_second, ...) on stdout; --report FILE
also writes it, with each file's engine report in file-by-file mode.
Exit codes as the CLI: 0 done, 1 the job failed, 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def _spark_uri(uri: str) -> str:
    return "s3a://" + uri[len("s3://"):] if uri.startswith("s3://") else uri


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python3 -m sluice.spark_job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="Parquet file, folder, glob or s3://bucket/prefix")
    parser.add_argument("--output", required=True, help="output folder or s3://bucket/prefix")
    parser.add_argument("--model", help="ONNX model file (not needed with --preprocess-only)")
    parser.add_argument("--master", help="Spark master URL, e.g. local[4] or local-cluster[2,1,2048]")
    stage = parser.add_mutually_exclusive_group()
    stage.add_argument("--preprocess-only", action="store_true", help="stage 1 of 2: write crops, no model")
    stage.add_argument("--predict-only", action="store_true", help="stage 2 of 2: predict from written crops")
    parser.add_argument("--image-column", default="image")
    parser.add_argument("--image-shape", help="H,W,C of raw images (default 256,256,3; crops: 224,224,3)")
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--normalize", choices=("imagenet", "seed"), default="imagenet")
    parser.add_argument("--topk", type=int, default=5)
    parser.add_argument("--logits", action="store_true")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--precision", choices=("auto", "fp32", "tf32", "fp16", "bf16"), default="auto")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--gpus-per-task", type=int, default=0,
                        help="ask Spark for GPUs per task with a stage-level resource profile")
    parser.add_argument("--pass-through", default=None,
                        help="comma-separated input columns copied to the output (default: none; with "
                             "--dataframe: every column but the image)")
    parser.add_argument("--s3-endpoint", default=None,
                        help="S3 endpoint URL for the engine (default: $AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--files-per-task", type=int, default=1, help="input files run by one Spark task")
    parser.add_argument("--skip-bad-files", action="store_true",
                        help="skip unreadable input files (listed in the summary) instead of failing")
    parser.add_argument("--resume", action="store_true", help="skip input files whose output file exists")
    parser.add_argument("--report", help="write the JSON summary, with each file's report, to this file")
    parser.add_argument("--dataframe", action="store_true",
                        help="Spark reads the input and writes part files (sluice.spark.predict); the options "
                             "below apply to it only")
    parser.add_argument("--max-records-per-batch", type=int, default=1000,
                        help="spark.sql.execution.arrow.maxRecordsPerBatch: rows per Arrow batch to a task")
    parser.add_argument("--partitions", type=int, default=0, help="repartition the input into N partitions first")
    parser.add_argument("--mode", choices=("errorifexists", "overwrite"), default="errorifexists",
                        help="what to do when the output exists (file by file, outputs are replaced as the CLI does)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark settings")
    args = parser.parse_args(argv)
    if not args.preprocess_only and not args.model:
        parser.error("--model is required unless --preprocess-only")
    return args


def _stage_mode(args) -> str:
    return "preprocess" if args.preprocess_only else "predict" if args.predict_only else "run"


def _image_shape(args):
    return tuple(int(v) for v in args.image_shape.split(",")) if args.image_shape else None


def run_file_by_file(spark, args) -> dict:
    from sluice import spark as sluice_spark

    pass_through = [c for c in args.pass_through.split(",") if c] if args.pass_through else []
    return sluice_spark.run_files(
        spark, args.input, args.output, args.model, mode=_stage_mode(args), image_column=args.image_column,
        image_shape=_image_shape(args), crop_size=args.crop_size, normalize=args.normalize, topk=args.topk,
        logits=args.logits, batch_size=args.batch_size, precision=args.precision, device=args.device,
        pass_through=pass_through, skip_bad_files=args.skip_bad_files, resume=args.resume,
        s3_endpoint=args.s3_endpoint, files_per_task=args.files_per_task, gpus_per_task=args.gpus_per_task)


def run(args) -> dict:
    from sluice import spark as sluice_spark

    builder = sluice_spark.session_builder(args.master, "sluice-spark-job").config(
        "spark.sql.execution.arrow.maxRecordsPerBatch", str(args.max_records_per_batch))
    for item in args.conf:
        key, _, value = item.partition("=")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        if not args.dataframe:
            return run_file_by_file(spark, args)
        start = time.time()
        df = spark.read.parquet(_spark_uri(args.input))
        if args.partitions > 0:
            # Repartitioning loses the file of each row: keep it first.
            from pyspark.sql import functions as F
            df = df.withColumn("__source_path", F.col("_metadata.file_path")).withColumn(
                "__source_row", F.col("_metadata.row_index")).repartition(args.partitions)
        mode = _stage_mode(args)
        shape = _image_shape(args)
        pass_through = None
        if args.pass_through is not None:
            pass_through = [c for c in args.pass_through.split(",") if c]
        elif args.partitions > 0:
            pass_through = [c for c in df.columns if c not in (args.image_column, "__source_path", "__source_row")
                            and not (mode == "predict" and c in ("path", "row", "error"))]
        source = {}
        if args.partitions > 0 and mode != "predict":
            source = {"path_col": "__source_path", "row_col": "__source_row"}
        out = sluice_spark.predict(
            df, args.model, image_col=args.image_column, batch_size=args.batch_size, precision=args.precision,
            topk=args.topk, normalize=args.normalize, image_shape=shape, crop_size=args.crop_size,
            logits=args.logits, pass_through=pass_through, mode=mode, device=args.device,
            gpus_per_task=args.gpus_per_task, **source)
        if source:
            from pyspark.sql import functions as F
            out = out.withColumn("path", F.regexp_replace(F.regexp_replace("path", "^file:(//)?", ""),
                                                          "^s3a://", "s3://"))
        out.write.mode(args.mode).parquet(_spark_uri(args.output))
        seconds = time.time() - start
        written = spark.read.parquet(_spark_uri(args.output))
        images = written.count()
        errors = written.filter(written.error.isNotNull()).count()
        return {"mode": mode, "images": images, "errors": errors, "seconds": round(seconds, 3),
                "images_per_second": round(images / seconds, 2) if seconds > 0 else None,
                "partitions": df.rdd.getNumPartitions(), "output": args.output}
    finally:
        spark.stop()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = run(args)
    except ValueError as error:
        print(f"sluice.spark_job: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # Spark's errors: say what failed, exit 1
        print(f"sluice.spark_job: the job failed: {error}", file=sys.stderr)
        return 1
    if args.report:
        with open(args.report, "w") as out:
            json.dump(summary, out, indent=2)
    print(json.dumps({key: value for key, value in summary.items() if key != "per_file"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
