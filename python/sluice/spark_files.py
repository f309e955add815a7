"""sluice on Spark, file by file: each Spark task runs the whole native job on its input file(s).

    from sluice import spark as sluice_spark
    spark = sluice_spark.session_builder().getOrCreate()
    summary = sluice_spark.run_files(spark, "s3://images/seed", "s3://predictions/run1",
                                     model="resnet50.onnx", s3_endpoint="http://127.0.0.1:9000")

The driver lists the input files exactly as `sluice run` does (a folder, a file, a glob or
s3://bucket/prefix; the engine's own listing). Spark runs one task per group of `files_per_task`
files; a task runs the engine's job (`sluice run`, or `preprocess`/`predict`) on each of its files,
which reads the file and writes its output under the same relative path as `sluice run` would
(same base name), committed atomically: renamed into place locally, a completed multipart upload
on S3. Spark only schedules, places and retries tasks; the data never passes through Spark, and
storage is reached by the engine (Arrow's S3 filesystem), so S3 needs no hadoop-aws jars.

A retried (or speculative) task writes the same files again under the same names: every input
file has exactly one output file and every row appears once, whatever failed on the way.

S3: the endpoint (s3_endpoint, else the driver's AWS_ENDPOINT_URL) travels with the tasks; the
credentials do not: executors take them from their own environment (an instance role, or
spark.executorEnv.AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION).
"""
from __future__ import annotations

import atexit
import glob
import json
import os
import posixpath
import time
from typing import Callable, Sequence

# Columns of the DataFrame the tasks return: one row per input file (output: None when the file
# was skipped as unreadable).
# gpu: the GPU assigned to the task and by whom ("1 (spark)", "0 (local)"), None without one.
# model_loaded: False when the file ran on backends an earlier file of the same Python worker loaded.
RESULT_SCHEMA = ("input string, output string, images long, errors long, seconds double, device string, "
                 "gpu string, attempt int, model_loaded boolean, report string")


def _result_arrow_schema():
    import pyarrow as pa

    return pa.schema([("input", pa.string()), ("output", pa.string()), ("images", pa.int64()),
                      ("errors", pa.int64()), ("seconds", pa.float64()), ("device", pa.string()),
                      ("gpu", pa.string()), ("attempt", pa.int32()), ("model_loaded", pa.bool_()),
                      ("report", pa.string())])

_storage_finalizer_registered = False


def _is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def _join(root: str, relative: str) -> str:
    return posixpath.join(root, relative) if _is_s3(root) else os.path.join(root, relative)


def list_files(input_uri: str, s3_endpoint: str = "") -> list[tuple[str, str]]:
    """(file URI, path relative to the input root) for every file a job on input_uri reads, listed
    by the engine as `sluice run` lists them (sorted; hidden and non-Parquet files left out)."""
    from sluice import _native

    return [(uri, relative) for uri, relative, _ in _native.list_input_files(input_uri, s3_endpoint)]


def _register_storage_finalizer() -> None:
    """Arrow's S3 client must be finalized before the process exits: once per process."""
    global _storage_finalizer_registered
    if not _storage_finalizer_registered:
        from sluice import _native

        atexit.register(_native.finalize_storage)
        _storage_finalizer_registered = True


def tasks_per_machine(spark) -> int | None:
    """How many tasks of this job run at once on one machine, as far as the driver can tell: in
    local and local-cluster mode every executor shares this machine; elsewhere
    spark.executor.cores / spark.task.cpus (one executor per machine), or None when not set."""
    context = spark.sparkContext
    task_cpus = max(int(context.getConf().get("spark.task.cpus", "1")), 1)
    if context.master.startswith("local"):
        return max(context.defaultParallelism // task_cpus, 1)
    cores = context.getConf().get("spark.executor.cores")
    return max(int(cores) // task_cpus, 1) if cores else None


MIN_TASK_MEMORY_BUDGET = 1 << 30


def task_memory_budget(machine_budget: int, tasks: int | None, task_cpus: int) -> int:
    """The memory budget of one task when the user gave none: the engine's default for a whole
    machine shared by the tasks running on it at once (when the driver could not tell, one per
    group of task_cpus cores), but at least 1 GiB."""
    if tasks is None:
        tasks = max((os.cpu_count() or 1) // max(task_cpus, 1), 1)
    return max(machine_budget // max(tasks, 1), MIN_TASK_MEMORY_BUDGET)


def _job_options(config: dict, input_uri: str, output_dir: str, device: str, cpus: int):
    from sluice import _native
    from sluice.spark import model_on_executor

    options = _native.JobOptions()
    options.mode = config["mode"]
    options.input = input_uri
    options.output = output_dir
    options.model = model_on_executor(config["model"])
    options.image_column = config["image_column"]
    options.image_shape = config["image_shape"]
    options.crop_size = config["crop_size"]
    options.resize_size = config["resize_size"]
    options.normalize = config["normalize"]
    options.topk = config["topk"]
    options.logits = config["logits"]
    options.device = device
    options.precision = config["precision"]
    options.batch_size = config["batch_size"]
    options.cpu_workers = cpus
    options.threads = cpus
    options.memory_budget_bytes = config["memory_budget_bytes"] or task_memory_budget(
        _native.default_memory_budget(), config["tasks_per_machine"], cpus)
    options.skip_bad_files = config["skip_bad_files"]
    options.resume = config["resume"]
    options.pass_through = config["pass_through"]
    options.s3_endpoint = config["s3_endpoint"]
    return options


def _run_group(task_ids, config: dict):
    """The body of each Spark task: the engine's job on every file of the task's group(s); one
    result row per file."""
    import pyarrow as pa
    from pyspark import TaskContext

    import sluice
    from sluice import _native
    from sluice.device_assignment import assign_device, visible_gpus

    context = TaskContext.get()
    partition = context.partitionId() if context else 0
    attempt = context.attemptNumber() if context else 0
    cpus = max(int(context.cpus()) if context and hasattr(context, "cpus") else 1, 1)
    resources = context.resources() if context else {}
    choice = assign_device(config["device"], resources, partition,
                           visible_gpus() if config["device"] != "cpu" else [], sluice.has_cuda())
    gpu = f"{choice.gpu_address} ({choice.source})" if choice.gpu_address is not None else None
    on_progress = config["on_progress"]
    for batch in task_ids:
        for task_id in batch.column(0).to_pylist():
            rows = []
            for input_uri, relative in config["groups"][task_id]:
                if _is_s3(input_uri) or _is_s3(config["output"]):
                    _register_storage_finalizer()
                output_dir = _join(config["output"], posixpath.dirname(relative))
                options = _job_options(config, input_uri, output_dir, choice.device, cpus)
                progress = None
                if on_progress is not None:
                    def progress(done, total, seconds, input_uri=input_uri):
                        on_progress(input_uri, done, total, seconds)
                made_before = _native.backend_cache_counts()[0]
                report = json.loads(_native.run_job(options, progress, config["reuse_model"]))
                written = report["files"] > 0 or report["resumed_files"]
                rows.append({"input": input_uri, "output": _join(config["output"], relative) if written else None,
                             "images": report["images"], "errors": report["errors"], "seconds": report["seconds"],
                             "device": report["device"], "gpu": gpu, "attempt": attempt,
                             "model_loaded": (not config["reuse_model"] and config["mode"] != "preprocess")
                                             or _native.backend_cache_counts()[0] > made_before,
                             "report": json.dumps(report)})
            yield pa.RecordBatch.from_pylist(rows, schema=_result_arrow_schema())


def _remove_stale_temporaries(outputs: Sequence[str]) -> None:
    """Removes the hidden temporary files (".NAME.tmp-PID-N") that killed task attempts left beside
    local output files; the committed files are whole. On S3 an unfinished upload is never visible."""
    for output in outputs:
        if output is None or _is_s3(output):
            continue
        folder, name = os.path.split(output)
        for stale in glob.glob(os.path.join(glob.escape(folder), "." + glob.escape(name) + ".tmp-*")):
            try:
                os.remove(stale)
            except FileNotFoundError:  # a concurrent attempt renamed or removed it
                pass


def run_files(spark, input: str, output: str, model: str | None = None, *, mode: str = "run",
              image_column: str = "image", image_shape: Sequence[int] | None = None, crop_size: int = 224,
              resize_size: int = 0, normalize: str = "imagenet", topk: int = 5, logits: bool = False,
              batch_size: int = 0, precision: str = "auto", device: str = "auto",
              pass_through: Sequence[str] = (), skip_bad_files: bool = False, resume: bool = False,
              memory_budget_bytes: int = 0, s3_endpoint: str | None = None, files_per_task: int = 1,
              gpus_per_task: int = 0, reuse_model: bool = True,
              on_progress: Callable[[str, int, int, float], None] | None = None) -> dict:
    """Runs `sluice run` (mode "run"), `sluice preprocess` or `sluice predict` over the files of
    `input` as Spark tasks; each input file gives exactly one output file under `output`, with the
    same relative path and the columns `sluice run` writes. Returns a summary: images, errors,
    seconds, images_per_second, files, tasks, model_loads, devices, and one entry per file
    ("per_file", with the engine's report of each).

    input: a local folder, file or glob, or s3://bucket/prefix (local paths must be readable by
    every executor at the same path, e.g. a shared filesystem). output: a local folder or
    s3://bucket/prefix. model: ONNX file (shipped to executors with addFile), not needed in mode
    "preprocess". Options as the CLI's flags: image_shape None = (256, 256, 3), or in mode "predict"
    the shape the preprocess stage recorded; resize_size 0 = the CLI's default; pass_through: input
    columns copied to the output (none by default, as the CLI); memory_budget_bytes: per task; 0 =
    the engine's default for a machine (a quarter of RAM, at most 16 GiB) divided among the tasks
    that run at once on one machine (local modes: all of them; clusters: spark.executor.cores /
    spark.task.cpus, or the machine's cores / spark.task.cpus when spark.executor.cores is not set),
    at least 1 GiB per task.
    device: "auto", "cpu" or "cuda": each task runs on the GPU Spark assigned it (gpus_per_task > 0
    asks for one through a stage-level resource profile) or, without Spark GPU scheduling, a visible
    GPU chosen by partition (sluice.device_assignment). Each task's engine uses spark.task.cpus
    threads. s3_endpoint: default $AWS_ENDPOINT_URL on the driver.
    files_per_task: files run one after another in one task. A Python worker keeps the model it
    loaded (on its GPU: weights, plans, CUDA graphs) for the next file with the same model and options,
    in this task or a later one (Spark reuses Python workers); per_file's "model_loaded" says where
    it was loaded, the summary's "model_loads" how often. reuse_model=False loads it for every file
    and frees it after.
    on_progress(input_uri, images_done, images_total, seconds): called inside the tasks about twice
    a second per file. A job that fails after Spark's retries raises; its committed files stay.
    """
    from sluice.predictor import check_arguments
    from sluice.spark import gpu_profile, ship_model

    check_arguments(mode, precision, model)
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    if files_per_task < 1:
        raise ValueError(f"files_per_task must be at least 1, not {files_per_task}")
    endpoint = s3_endpoint if s3_endpoint is not None else os.environ.get("AWS_ENDPOINT_URL", "")
    for uri in (input, output):
        if "://" in uri and not _is_s3(uri):
            raise ValueError(f"{uri!r} uses a scheme sluice does not read; use a local path or s3://bucket/prefix")
    # Executors do not share the driver's working directory: local paths go out absolute.
    output_root = output.rstrip("/") if _is_s3(output) else os.path.abspath(output)
    files = list_files(input if _is_s3(input) else os.path.abspath(input), endpoint)
    for input_uri, relative in files:
        if _join(output_root, relative) == input_uri:
            raise ValueError(f"output {input_uri} would overwrite its input; choose another output")
    groups = [files[i:i + files_per_task] for i in range(0, len(files), files_per_task)]
    if mode != "preprocess":
        ship_model(spark, model)

    config = {
        "mode": mode, "model": str(model or ""), "image_column": image_column,
        "image_shape": tuple(int(v) for v in image_shape) if image_shape else None,
        "crop_size": int(crop_size), "resize_size": int(resize_size), "normalize": normalize, "topk": int(topk),
        "logits": bool(logits), "batch_size": int(batch_size or 0), "precision": precision, "device": device,
        "pass_through": list(pass_through), "skip_bad_files": bool(skip_bad_files), "resume": bool(resume),
        "memory_budget_bytes": int(memory_budget_bytes or 0), "s3_endpoint": endpoint, "output": output_root,
        "groups": groups, "on_progress": on_progress, "reuse_model": bool(reuse_model),
        "tasks_per_machine": tasks_per_machine(spark),
    }

    def run(task_ids):
        return _run_group(task_ids, config)

    start = time.time()
    # One partition per group: spark.range(n, numPartitions=n) puts task id i alone in partition i.
    tasks = spark.range(0, len(groups), 1, len(groups))
    profile = gpu_profile(spark, gpus_per_task)
    results = (tasks.mapInArrow(run, RESULT_SCHEMA, profile=profile) if profile is not None
               else tasks.mapInArrow(run, RESULT_SCHEMA)).collect()
    seconds = time.time() - start
    _remove_stale_temporaries([r.output for r in results])
    per_file = sorted(({**r.asDict(), "report": json.loads(r.report)} for r in results), key=lambda r: r["input"])
    images = sum(r["images"] for r in per_file)
    return {
        "mode": mode, "images": images, "errors": sum(r["errors"] for r in per_file), "files": len(per_file),
        "tasks": len(groups), "model_loads": sum(1 for r in per_file if r["model_loaded"]),
        "seconds": round(seconds, 3),
        "images_per_second": round(images / seconds, 2) if seconds > 0 else None,
        "devices": sorted({r["device"] for r in per_file}),
        "skipped_files": [s for r in per_file for s in r["report"].get("skipped_files", [])],
        "output": output_root, "per_file": per_file,
    }
