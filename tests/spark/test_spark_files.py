"""sluice.spark.run_files on a Spark local-cluster: one task per input file runs the native job, each
input file gives exactly one output file, the same as `sluice run` writes (locally and on S3)."""
import io
import json
import os
import time

import pyarrow.parquet as pq
import pytest

from .cli_comparison import assert_same_predictions, e2e, run_sluice

BATCH = 8
NAMES = ["a.parquet", "b.parquet"]

moto_endpoint = e2e.moto_endpoint  # the e2e tests' moto S3 server fixture


def cli_output(command, folder, out, *args):
    run_sluice(command, "--input", folder, "--output", out, "--no-progress", *map(str, args), check=0)
    return out


@pytest.fixture(scope="module")
def cli_run(image_dataset, resnet18, tmp_path_factory):
    folder, _ = image_dataset
    return cli_output("run", folder, tmp_path_factory.mktemp("cli-run"), "--model", resnet18, "--device", "cpu",
                      "--batch-size", BATCH, "--pass-through", "label")


def assert_same_files_as_the_cli(out, cli_out):
    """Exactly the CLI's files, nothing else (no part files, no leftover temporaries); per file the
    CLI's columns, rows (each once, in order) and predictions."""
    assert sorted(os.listdir(out)) == sorted(os.listdir(cli_out)) == NAMES
    for name in NAMES:
        expected, actual = pq.read_table(cli_out / name), pq.read_table(out / name)
        assert actual.schema.names == expected.schema.names
        assert_same_predictions(expected, actual)


def test_file_by_file_output_is_the_clis_one_file_per_input(spark, image_dataset, resnet18, cli_run, tmp_path):
    from sluice import spark as sluice_spark

    folder, images = image_dataset
    summary = sluice_spark.run_files(spark, str(folder), str(tmp_path / "out"), str(resnet18), batch_size=BATCH,
                                     pass_through=["label"], device="cpu")
    assert (summary["files"], summary["tasks"], summary["errors"]) == (2, 2, 0)
    assert summary["images"] == sum(len(v) for v in images.values())
    assert [r["input"] for r in summary["per_file"]] == [str(folder / name) for name in NAMES]
    assert summary["devices"] == ["cpu (oneDNN, 1 threads)"]  # spark.task.cpus threads per task
    assert_same_files_as_the_cli(tmp_path / "out", cli_run)
    # Two executors of one core each share this machine: each task gets half the machine's budget.
    from sluice import _native
    from sluice.spark_files import task_memory_budget

    assert {r["report"]["memory_budget_bytes"] for r in summary["per_file"]} == {
        task_memory_budget(_native.default_memory_budget(), 2, 1)}


def test_a_tasks_default_memory_budget_is_its_share_of_the_machines(sluice_module, monkeypatch):
    from sluice.spark_files import MIN_TASK_MEMORY_BUDGET, task_memory_budget

    gib = 1 << 30
    assert task_memory_budget(8 * gib, 4, 1) == 2 * gib
    assert task_memory_budget(8 * gib, 16, 1) == MIN_TASK_MEMORY_BUDGET == gib
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert task_memory_budget(8 * gib, None, 2) == 2 * gib  # unknown: one task per 2 cores


def test_several_files_per_task_and_a_glob_give_the_same_files(spark, image_dataset, resnet18, cli_run, tmp_path):
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    summary = sluice_spark.run_files(spark, str(folder / "*.parquet"), str(tmp_path / "out"), str(resnet18),
                                     batch_size=BATCH, pass_through=["label"], device="cpu", files_per_task=2)
    assert (summary["files"], summary["tasks"]) == (2, 1)
    # The task's second file runs on the model its first file loaded (or an earlier task left).
    assert summary["model_loads"] <= 1
    assert [r["model_loaded"] for r in summary["per_file"]][1] is False
    assert_same_files_as_the_cli(tmp_path / "out", cli_run)


def test_preprocess_only_writes_the_clis_crops_and_predict_only_reads_them(spark, image_dataset, resnet18, cli_run,
                                                                           tmp_path):
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    sluice_spark.run_files(spark, str(folder), str(tmp_path / "crops"), mode="preprocess", pass_through=["label"])
    cli_crops = cli_output("preprocess", folder, tmp_path / "cli-crops", "--pass-through", "label")
    for name in NAMES:
        assert pq.read_table(tmp_path / "crops" / name).equals(pq.read_table(cli_crops / name)), name
    sluice_spark.run_files(spark, str(tmp_path / "crops"), str(tmp_path / "predictions"), str(resnet18),
                           mode="predict", batch_size=BATCH, pass_through=["label"], device="cpu")
    assert_same_files_as_the_cli(tmp_path / "predictions", cli_run)


def test_a_task_killed_mid_file_is_retried_and_each_input_still_has_one_output(spark, image_dataset, tmp_path,
                                                                               tmp_path_factory):
    import make_test_model
    import onnx
    from sluice import spark as sluice_spark

    folder, images = image_dataset
    # A model that sleeps 0.3 s per batch: a.parquet takes 6 batches, long enough to be killed mid-file.
    model = tmp_path_factory.mktemp("sleep") / "sleep.onnx"
    onnx.save(make_test_model.build_model("sleep", seed=3, num_classes=10, opset=17, sleep_seconds=0.3), str(model))
    out, marker = tmp_path / "out", tmp_path / "killed"

    def die_once_mid_file(input_uri, done, total, seconds):
        # Inside the task: once a.parquet's output is being written (its hidden temporary exists),
        # end the Python worker as a crash would.
        if marker.exists() or not input_uri.endswith("a.parquet") or not 0 < done < total:
            return
        deadline = time.time() + 10
        while time.time() < deadline:
            temporaries = [n for n in os.listdir(out) if n.startswith(".a.parquet.tmp")] if out.exists() else []
            if temporaries:
                marker.write_text(json.dumps({"done": done, "total": total, "temporaries": temporaries}))
                os._exit(1)
            time.sleep(0.02)

    summary = sluice_spark.run_files(spark, str(folder), str(out), str(model), batch_size=BATCH,
                                     pass_through=["label"], device="cpu", on_progress=die_once_mid_file)
    assert marker.exists(), "the fault was not injected"
    killed = json.loads(marker.read_text())
    assert 0 < killed["done"] < killed["total"] and killed["temporaries"]
    attempts = {os.path.basename(r["input"]): r["attempt"] for r in summary["per_file"]}
    assert attempts["a.parquet"] >= 1
    cli_out = cli_output("run", folder, tmp_path / "cli", "--model", model, "--device", "cpu", "--batch-size", BATCH,
                         "--pass-through", "label")
    assert_same_files_as_the_cli(out, cli_out)
    rows = pq.read_table(out / "a.parquet").column("row").to_pylist()
    assert rows == list(range(len(images["a.parquet"])))


def test_file_by_file_reads_and_writes_s3_on_a_moto_server(spark, image_dataset, resnet18, cli_run, moto_endpoint):
    import boto3
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="spark-images")
    s3.create_bucket(Bucket="spark-predictions")
    for name in NAMES:
        s3.upload_file(str(folder / name), "spark-images", f"seed/{name}")
    s3.put_object(Bucket="spark-images", Key="seed/_SUCCESS", Body=b"")

    # The executors get the endpoint with the tasks (here from the argument, as from AWS_ENDPOINT_URL).
    summary = sluice_spark.run_files(spark, "s3://spark-images/seed", "s3://spark-predictions/run1", str(resnet18),
                                     batch_size=BATCH, pass_through=["label"], device="cpu",
                                     s3_endpoint=moto_endpoint)
    assert (summary["files"], summary["images"]) == (2, 68)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="spark-predictions")["Contents"])
    assert keys == [f"run1/{name}" for name in NAMES]
    for name in NAMES:
        body = s3.get_object(Bucket="spark-predictions", Key=f"run1/{name}")["Body"].read()
        remote, local = pq.read_table(io.BytesIO(body)), pq.read_table(cli_run / name)
        assert remote.column("path").to_pylist() == [f"s3://spark-images/seed/{name}"] * local.num_rows
        assert_same_predictions(local, remote.set_column(0, "path", local.column("path")))


def test_usage_errors_are_found_on_the_driver(spark, image_dataset, resnet18, tmp_path):
    from sluice import spark as sluice_spark

    folder, _ = image_dataset
    with pytest.raises(ValueError, match="no Parquet files"):
        sluice_spark.run_files(spark, str(tmp_path), str(tmp_path / "out"), str(resnet18))
    with pytest.raises(ValueError, match="overwrite its input"):
        sluice_spark.run_files(spark, str(folder), str(folder), str(resnet18))
    with pytest.raises(ValueError, match="model"):
        sluice_spark.run_files(spark, str(folder), str(tmp_path / "out"))
