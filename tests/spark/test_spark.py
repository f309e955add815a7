"""sluice on a Spark local-cluster (two executor JVMs, one core each), CPU backend, ResNet18."""
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .cli_comparison import PACKAGE_DIR, assert_same_predictions, run_sluice

BATCH = 8


@pytest.fixture(scope="module")
def cli_predictions(image_dataset, resnet18, tmp_path_factory):
    folder, _ = image_dataset
    out = tmp_path_factory.mktemp("cli")
    run_sluice("run", "--input", folder, "--output", out, "--model", resnet18, "--device", "cpu", "--batch-size", BATCH,
               "--pass-through", "label", "--no-progress", check=0)
    return pq.read_table(out).sort_by([("path", "ascending"), ("row", "ascending")])


def sorted_table(df):
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False).sort_by([("path", "ascending"), ("row", "ascending")])


def read_sorted(folder):
    return pq.read_table(folder).sort_by([("path", "ascending"), ("row", "ascending")])


def assert_every_row_once(table, image_dataset):
    folder, images = image_dataset
    keys = list(zip(table.column("path").to_pylist(), table.column("row").to_pylist()))
    expected = [(str(folder / name), row) for name in sorted(images) for row in range(len(images[name]))]
    assert sorted(keys) == expected


def test_predictions_on_spark_match_the_cli_with_every_row_once(spark, image_dataset, resnet18, cli_predictions):
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    df = spark.read.parquet(str(folder))
    assert df.rdd.getNumPartitions() >= 3  # files split across partitions: per-file row indices still hold
    predictions = sluice_spark.predict(df, model=str(resnet18), batch_size=BATCH)
    assert predictions.columns == ["path", "row", "label", "topk_labels", "topk_scores", "error", "input_label"]
    table = sorted_table(predictions)
    assert_every_row_once(table, image_dataset)
    assert_same_predictions(cli_predictions, table)


def test_a_killed_python_worker_is_retried_and_every_row_appears_once(spark, image_dataset, resnet18, tmp_path,
                                                                      cli_predictions):
    from pyspark import TaskContext
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    marker = tmp_path / "killed"

    def die_once_mid_partition(batches):
        # Runs in the same Python worker as the predictions, after the first batch went out.
        context = TaskContext.get()
        for index, batch in enumerate(batches):
            yield batch
            if index == 0 and context.partitionId() == 0 and context.attemptNumber() == 0:
                marker.write_text(f"stage {context.stageId()} attempt {context.attemptNumber()}")
                os._exit(1)

    predictions = sluice_spark.predict(spark.read.parquet(str(folder)), model=str(resnet18), batch_size=BATCH)
    killed = predictions.mapInArrow(die_once_mid_partition, predictions.schema)
    out = tmp_path / "out"
    killed.write.parquet(str(out))
    assert marker.exists(), "the fault was not injected"
    table = read_sorted(out)
    assert_every_row_once(table, image_dataset)
    assert_same_predictions(cli_predictions, table)


def test_two_stages_on_spark_give_the_one_pass_predictions(spark, image_dataset, resnet18, tmp_path, cli_predictions):
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    crops = tmp_path / "crops"
    sluice_spark.predict(spark.read.parquet(str(folder)), mode="preprocess").write.parquet(str(crops))
    crop_table = pq.read_table(crops)
    assert crop_table.schema.field("image").type == pa.binary()
    assert set(len(v) for v in crop_table.column("image").to_pylist()) == {224 * 224 * 3}
    predictions = sluice_spark.predict(spark.read.parquet(str(crops)), model=str(resnet18), mode="predict",
                                       batch_size=BATCH)
    table = sorted_table(predictions)
    assert_every_row_once(table, image_dataset)
    assert_same_predictions(cli_predictions, table)


def test_a_dataframe_not_read_from_files_gets_partition_paths_and_row_indices(spark, image_dataset, resnet18):
    from sluice import spark as sluice_spark

    folder, images = image_dataset
    table = pq.read_table(folder / "b.parquet")  # Spark has no uint8: pixels as smallint, as its reader does
    table = table.cast(pa.schema([pa.field("image", pa.list_(pa.int16())), pa.field("label", pa.int32())]))
    df = spark.createDataFrame(table).repartition(2)
    predictions = sluice_spark.predict(df, model=str(resnet18), batch_size=BATCH, pass_through=["label"])
    rows = predictions.select("path", "row", "input_label", "error").collect()
    assert sorted(r.input_label for r in rows) == list(range(200, 220))
    assert all(r.path.startswith("spark-partition-") and r.error is None for r in rows)
    per_path = {}
    for r in rows:
        per_path.setdefault(r.path, []).append(r.row)
    assert all(sorted(v) == list(range(len(v))) for v in per_path.values())


@pytest.mark.parametrize("layout", [[], ["--dataframe"]], ids=["file-by-file", "dataframe"])
def test_the_job_entry_point_runs_both_stages(layout, image_dataset, resnet18, tmp_path, cli_predictions, spark):
    folder, _ = image_dataset
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR), os.environ.get("PYTHONPATH", "")]))

    def job(*args):
        result = subprocess.run([sys.executable, "-m", "sluice.spark_job", "--master", "local[2]", *map(str, args)],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    job(*layout, "--preprocess-only", "--input", folder, "--output", tmp_path / "crops", "--max-records-per-batch", 8,
        "--pass-through", "label")
    summary = json.loads(job(*layout, "--predict-only", "--input", tmp_path / "crops", "--output",
                             tmp_path / "predictions", "--model", resnet18, "--batch-size", BATCH, "--device", "cpu",
                             "--pass-through", "label"))
    assert (summary["images"], summary["errors"]) == (68, 0)
    written = sorted(n for n in os.listdir(tmp_path / "predictions") if n.endswith(".parquet"))
    if layout:
        assert all(n.startswith("part-") for n in written)
    else:
        assert written == ["a.parquet", "b.parquet"]
    assert_same_predictions(cli_predictions, read_sorted(tmp_path / "predictions"))
