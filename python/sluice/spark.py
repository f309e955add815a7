"""sluice on Apache Spark: each Spark task runs the native engine on its partition's Arrow batches.

    from sluice import spark as sluice_spark
    spark = sluice_spark.session_builder("local-cluster[2,1,2048]").getOrCreate()
    predictions = sluice_spark.predict(spark.read.parquet("images/"), model="resnet50.onnx")
    summary = sluice_spark.run_files(spark, "s3://images/seed", "s3://predictions/run1", model="resnet50.onnx")

Two modes. `run_files` (module sluice.spark_files) is for data in files: each task runs the whole
native job on its input file(s) and writes one output file per input file, as `sluice run` does,
reading and writing S3 through the engine (no hadoop-aws). `predict` is for DataFrames.

`predict` is built on DataFrame.mapInArrow: Spark hands each task's Python worker Arrow record
batches, which go to the engine through the Arrow C Data Interface; no row passes through Python.

Output columns (DESIGN.md): path, row, label, topk_labels, topk_scores, [logits], error, then the
passed-through columns (every input column but the image by default; a name that clashes with one
of the output's own columns gets an input_ prefix, as in the CLI). `path` and `row`, in this order of preference:
  1. the columns named by path_col/row_col;
  2. in mode "predict", the input's own path/row columns (crops written by a preprocess stage);
  3. for a DataFrame read straight from Parquet files, the file and the row's index in that file
     (Spark's _metadata.file_path / _metadata.row_index; "file:" is dropped and "s3a://" written
     "s3://", so the values are what `sluice run` writes);
  4. otherwise "spark-partition-<id>" and the row's index in its partition.
"""
from __future__ import annotations

import glob
import os
import sys
from typing import Iterator, Sequence

PATH_COLUMN = "__sluice_path"
ROW_COLUMN = "__sluice_row"

# Predictors kept per Python worker process: Spark reuses workers across tasks
# (spark.python.worker.reuse), so the model is loaded once per worker, not once per task.
_predictors: dict = {}


def scala_version() -> str:
    """The Scala version of the Spark bundled in the pyspark wheel ("2.13"), from its jars.
    A pip-installed Spark needs it in SPARK_SCALA_VERSION to launch local-cluster executors."""
    import pyspark

    jars = glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "scala-library-*.jar"))
    if not jars:
        raise RuntimeError("no scala-library jar in the pyspark wheel; set SPARK_SCALA_VERSION yourself")
    version = os.path.basename(jars[0])[len("scala-library-"):-len(".jar")]
    return ".".join(version.split(".")[:2])


def package_path() -> str:
    """The folder holding the sluice package (executors need it on their PYTHONPATH)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def session_builder(master: str | None = None, app_name: str = "sluice"):
    """A SparkSession builder whose executors can import sluice: sets SPARK_SCALA_VERSION and the
    executors' PYTHONPATH and Python, reads Parquet in batches of 256 rows (images are large), and
    turns the UI off. Add your own .config() and getOrCreate()."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_SCALA_VERSION", scala_version())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    python_path = [package_path()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    # Spark's Parquet reader decodes 4,096 rows at a time by default: 1.6 GB of 256x256x3 images as
    # smallints, more than a default heap. 256 rows keep it near 100 MB.
    return (builder.config("spark.executorEnv.PYTHONPATH", os.pathsep.join(dict.fromkeys(python_path)))
            .config("spark.sql.parquet.columnarReaderBatchSize", "256")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false"))


def _has_column(df, name: str) -> bool:
    return name in df.columns


def _with_source_columns(df, path_col, row_col, mode):
    """Adds PATH_COLUMN/ROW_COLUMN (see the module docstring); returns (df, found)."""
    from pyspark.sql import functions as F
    from pyspark.errors import AnalysisException

    if path_col or row_col:
        if not (path_col and row_col):
            raise ValueError("give both path_col and row_col, or neither")
        return df.withColumn(PATH_COLUMN, F.col(path_col).cast("string")).withColumn(
            ROW_COLUMN, F.col(row_col).cast("long")), True
    if mode == "predict" and _has_column(df, "path") and _has_column(df, "row"):
        return df.withColumn(PATH_COLUMN, F.col("path").cast("string")).withColumn(
            ROW_COLUMN, F.col("row").cast("long")), True
    try:
        path = F.regexp_replace(F.regexp_replace(F.col("_metadata.file_path"), "^file:(//)?", ""), "^s3a://", "s3://")
        with_source = df.withColumn(PATH_COLUMN, path).withColumn(ROW_COLUMN, F.col("_metadata.row_index"))
        with_source.schema  # resolves: fails here when df is not a file scan
        return with_source, True
    except AnalysisException:
        return df, False


def _spark_output_schema(df_schema, mode: str, pass_through: Sequence[str], logits: bool):
    from pyspark.sql import types as T

    fields = [T.StructField("path", T.StringType(), False), T.StructField("row", T.LongType(), False)]
    if mode == "preprocess":
        fields.append(T.StructField("image", T.BinaryType(), True))
    else:
        fields += [T.StructField("label", T.IntegerType(), True),
                   T.StructField("topk_labels", T.ArrayType(T.IntegerType(), False), True),
                   T.StructField("topk_scores", T.ArrayType(T.FloatType(), False), True)]
        if logits:
            fields.append(T.StructField("logits", T.ArrayType(T.FloatType(), False), True))
    fields.append(T.StructField("error", T.StringType(), True))
    own = {f.name for f in fields}
    for name in pass_through:
        field = df_schema[name]
        out_name = f"input_{name}" if name in own else name  # as the engine names it
        fields.append(T.StructField(out_name, field.dataType, field.nullable))
    return T.StructType(fields)


def ship_model(spark, model: str | None) -> None:
    """Sends the model file to every executor (SparkContext.addFile); model_on_executor finds it there."""
    if not model:
        return
    try:
        spark.sparkContext.addFile(os.path.abspath(model) if "://" not in model else model)
    except Exception:  # already added, or a path executors read directly
        pass


def model_on_executor(model: str) -> str:
    """Inside a task: the copy ship_model sent, else `model` as given (a path every executor reads)."""
    if not model:
        return model
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(model))
        if os.path.exists(shipped):
            return shipped
    except Exception:  # no SparkFiles outside a task: use the path as given
        pass
    return model


def _task_predictor(config: dict, device: str, cpus: int):
    import sluice

    key = (tuple(sorted((k, repr(v)) for k, v in config.items())), device, cpus)
    predictor = _predictors.get(key)
    if predictor is None:
        _predictors.clear()  # one model per worker at a time
        model = model_on_executor(config["model"])
        predictor = sluice.BatchPredictor(
            model, mode=config["mode"], image_column=config["image_col"], image_shape=config["image_shape"],
            crop_size=config["crop_size"], normalize=config["normalize"], topk=config["topk"],
            logits=config["logits"], device="cpu" if device == "cpu" else device, batch_size=config["batch_size"],
            precision=config["precision"], cpu_workers=cpus, threads=cpus, pass_through=config["pass_through"],
            path_column=PATH_COLUMN, row_column=ROW_COLUMN, error_column=config["error_col"],
            variable_size_lists=True)
        _predictors[key] = predictor
    return predictor


def _run_partition(batches: Iterator, config: dict) -> Iterator:
    """The body of each Spark task: the engine over the partition's batches."""
    import numpy as np
    import pyarrow as pa
    from pyspark import TaskContext

    import sluice
    from sluice.device_assignment import assign_device, visible_gpus

    context = TaskContext.get()
    partition = context.partitionId() if context else 0
    cpus = int(context.cpus()) if context and hasattr(context, "cpus") else 1
    resources = context.resources() if context else {}
    choice = assign_device(config["device"], resources, partition, visible_gpus() if config["device"] != "cpu" else [],
                           sluice.has_cuda())
    predictor = _task_predictor(config, choice.device, max(cpus, 1))
    target = config["arrow_schema"]
    next_row = 0

    def with_fallback_source(batch):
        nonlocal next_row
        if config["has_source"]:
            return batch
        rows = batch.num_rows
        paths = pa.array([f"spark-partition-{partition}"] * rows, pa.string())
        indices = pa.array(np.arange(next_row, next_row + rows, dtype=np.int64))
        next_row += rows
        return batch.append_column(PATH_COLUMN, paths).append_column(ROW_COLUMN, indices)

    for output in predictor.map_batches((with_fallback_source(b) for b in batches), max_rows=predictor.batch_size):
        yield output.cast(target) if output.schema != target else output


def predict(df, model: str | None = None, *, image_col: str = "image", batch_size: int = 0,
            precision: str = "auto", topk: int = 5, normalize: str = "imagenet",
            image_shape: Sequence[int] | None = None, crop_size: int = 224, logits: bool = False,
            pass_through: Sequence[str] | None = None, mode: str = "run", path_col: str | None = None,
            row_col: str | None = None, device: str = "auto", gpus_per_task: int = 0):
    """Predictions (or, with mode="preprocess", crops) for every row of `df`, as a DataFrame.

    model: ONNX file, readable where the driver runs (it is shipped to executors with addFile).
    image_col: the images: raw HWC uint8 pixels (array of integers, or binary), or JPEG/PNG binary.
    batch_size: images per inference batch (0: the device default). precision: "fp32", "tf32", "fp16",
    "bf16" or "auto" (fp16 on a GPU, fp32 on the CPU, which runs fp32 only). topk: classes kept per image. normalize: "imagenet" or "seed" (mean/std on
    0-255 values, as the reference benchmark). image_shape: (H, W, C) of raw images; default
    (256, 256, 3), or (crop, crop, 3) in mode "predict". logits: also return the raw outputs.
    pass_through: input columns copied to the output (default: all but the image and, in mode
    "predict", the path/row/error columns the output recomputes).
    mode: "run" (images in, predictions out), "preprocess" (images in; `image` column of binary
    crop_size x crop_size x 3 raw pixels out), "predict" (crops in, predictions out).
    device: "auto" (the task's GPU when this build has the CUDA backend, else the CPU), "cpu" or "cuda".
    gpus_per_task: > 0 asks Spark for that many GPUs per task through a stage-level resource profile
    (cluster managers that support them; the GPU address comes from TaskContext.resources()).
    Inside a task the engine uses spark.task.cpus threads for preprocessing and inference.
    """
    from sluice.predictor import check_arguments

    check_arguments(mode, precision, model)
    if image_col not in df.columns:
        raise ValueError(f"no image column {image_col!r}; the columns are {df.columns}")
    from pyspark.sql.pandas.types import to_arrow_schema

    if image_shape is None:
        image_shape = (crop_size, crop_size, 3) if mode == "predict" else (256, 256, 3)
    error_col = "error" if mode == "predict" and _has_column(df, "error") else None
    if pass_through is None:
        recomputed = {image_col, PATH_COLUMN, ROW_COLUMN}
        if mode == "predict":
            recomputed |= {"path", "row", "error"}
        pass_through = [c for c in df.columns if c not in recomputed]
    for name in pass_through:
        if name not in df.columns:
            raise ValueError(f"pass-through column {name!r} is not in the DataFrame; its columns are {df.columns}")
    with_source, has_source = _with_source_columns(df, path_col, row_col, mode)
    keep = [image_col] + [c for c in pass_through if c != image_col]
    if error_col and error_col not in keep:
        keep.append(error_col)
    if has_source:
        keep += [PATH_COLUMN, ROW_COLUMN]
    source = with_source.select(*keep)
    schema = _spark_output_schema(df.schema, mode, list(pass_through), logits)

    if mode != "preprocess":
        ship_model(df.sparkSession, model)
    config = {
        "model": str(model or ""), "mode": mode, "image_col": image_col, "image_shape": tuple(image_shape),
        "crop_size": crop_size, "normalize": normalize, "topk": topk, "logits": logits,
        "batch_size": batch_size, "precision": precision, "pass_through": list(pass_through),
        "error_col": error_col, "device": device, "has_source": has_source,
        "arrow_schema": to_arrow_schema(schema),
    }

    def run(batches):
        return _run_partition(batches, config)

    profile = gpu_profile(df.sparkSession, gpus_per_task)
    if profile is not None:
        return source.mapInArrow(run, schema, profile=profile)
    return source.mapInArrow(run, schema)


def gpu_profile(spark, gpus_per_task: int):
    """A stage-level resource profile asking for gpus_per_task GPUs (and spark.task.cpus CPUs) per
    task, or None when gpus_per_task is 0."""
    if gpus_per_task <= 0:
        return None
    from pyspark.resource import ResourceProfileBuilder, TaskResourceRequests

    cpus = int(spark.conf.get("spark.task.cpus", "1"))
    requests = TaskResourceRequests().cpus(cpus).resource("gpu", gpus_per_task)
    return ResourceProfileBuilder().require(requests).build


# The file-by-file mode (one task per input file, one output file per input file), beside predict.
from sluice.spark_files import run_files  # noqa: E402
