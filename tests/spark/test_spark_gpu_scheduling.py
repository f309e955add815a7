"""Spark GPU scheduling end to end, without a GPU: a local-cluster whose workers advertise one GPU
each through a discovery script (address "0"), and the job entry point with --gpus-per-task 1, so
Spark schedules the stage through a stage-level resource profile and hands every task its GPU.
Where this build has no usable GPU the engine records the assignment and runs on the CPU; on the
GPU machine the same tests run the tasks on GPU 0."""
import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from .cli_comparison import PACKAGE_DIR
from .conftest import spark_unavailable_reason

GPU_CONF = ["spark.worker.resource.gpu.amount=1", "spark.executor.resource.gpu.amount=1"]


@pytest.fixture(scope="module")
def job(sluice_module, tmp_path_factory):
    reason = spark_unavailable_reason()
    if reason:
        pytest.skip(reason)
    script = tmp_path_factory.mktemp("gpu-discovery") / "discover_gpus.sh"
    script.write_text('#!/bin/sh\necho \'{"name": "gpu", "addresses": ["0"]}\'\n')
    script.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR), os.environ.get("PYTHONPATH", "")]))

    def run(*args):
        conf = [*GPU_CONF, f"spark.worker.resource.gpu.discoveryScript={script}"]
        command = [sys.executable, "-m", "sluice.spark_job", "--master", "local-cluster[2,1,1024]",
                   *[item for c in conf for item in ("--conf", c)], *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)

    return run


def test_each_file_task_gets_the_gpu_spark_assigned_it(job, image_dataset, resnet18, tmp_path):
    folder, images = image_dataset
    job("--input", folder, "--output", tmp_path / "out", "--model", resnet18, "--batch-size", 8,
        "--gpus-per-task", 1, "--report", tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == sum(len(v) for v in images.values())
    assert [f["gpu"] for f in report["per_file"]] == ["0 (spark)", "0 (spark)"]
    assert sorted(os.listdir(tmp_path / "out")) == ["a.parquet", "b.parquet"]

    # Without the resource profile the same cluster gives tasks no GPU of Spark's.
    job("--input", folder, "--output", tmp_path / "plain", "--model", resnet18, "--batch-size", 8,
        "--report", tmp_path / "plain.json")
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert all(f["gpu"] is None or f["gpu"].endswith("(local)") for f in plain["per_file"])


def test_a_dataframe_stage_with_a_gpu_profile_predicts_every_row_once(job, image_dataset, resnet18, tmp_path):
    folder, images = image_dataset
    summary = job("--dataframe", "--input", folder, "--output", tmp_path / "out", "--model", resnet18,
                  "--batch-size", 8, "--gpus-per-task", 1, "--max-records-per-batch", 8, "--pass-through", "label")
    assert (summary["images"], summary["errors"]) == (68, 0)
    table = pq.read_table(tmp_path / "out")
    rows = sorted(zip(table.column("path").to_pylist(), table.column("row").to_pylist()))
    expected = sorted((str(folder / name), row) for name, pixels in images.items() for row in range(len(pixels)))
    assert rows == expected
