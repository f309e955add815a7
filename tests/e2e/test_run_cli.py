"""`sluice run`, `preprocess` and `predict` end to end: the real binary on generated data, checked
against onnxruntime on the same model and the same preprocessed inputs."""
import json

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import reference_inputs, run_sluice, smooth_images, write_seed_parquet


def onnxruntime_logits(model_path, inputs):
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def read_output(path):
    return pq.read_table(path).to_pydict()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two files of 256x256 images (21 and 14 rows, row groups of 8): batches straddle row groups
    and files, and the last batch is partial."""
    folder = tmp_path_factory.mktemp("seed")
    images = smooth_images(35, seed=3)
    write_seed_parquet(folder / "part-00000.parquet", images[:21], labels=list(range(21)), row_group_size=8)
    write_seed_parquet(folder / "part-00001.parquet", images[21:], labels=list(range(21, 35)), row_group_size=8)
    return folder, images


@pytest.mark.parametrize("arch,normalize", [("resnet50", "imagenet"), ("resnet18", "seed")])
def test_logits_match_onnxruntime(tmp_path, dataset, models, arch, normalize):
    folder, images = dataset
    out = tmp_path / "out"
    run_sluice("run", "--input", folder, "--model", models[arch], "--output", out, "--logits", "--device", "cpu",
               "--normalize", normalize, "--batch-size", "16", check=0)
    rows = read_output(out / "part-00000.parquet")
    more = read_output(out / "part-00001.parquet")
    logits = np.array(rows["logits"] + more["logits"], dtype=np.float32)
    expected = onnxruntime_logits(models[arch], reference_inputs(images, normalize))
    tolerance = 1e-4 * np.abs(expected).max()
    assert np.abs(logits - expected).max() <= tolerance
    labels = np.array(rows["label"] + more["label"])
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > tolerance
    assert clear.sum() >= len(images) // 2
    assert (labels[clear] == expected.argmax(axis=1)[clear]).all()


def test_output_follows_the_contract(tmp_path, dataset, models):
    folder, images = dataset
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--topk", "3",
                        "--pass-through", "label", "--report", report, "--device", "cpu", check=0)
    assert "images: 35 (0 errors) in 2 files" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    table = pq.read_table(out / "part-00000.parquet")
    assert table.schema.names == ["path", "row", "label", "topk_labels", "topk_scores", "error", "input_label"]
    assert str(table.schema.field("label").type) == "int32"
    assert table.schema.field("topk_scores").type.value_type == pa.float32()
    assert table.schema.field("topk_labels").type.value_type == pa.int32()
    rows = table.to_pydict()
    assert rows["row"] == list(range(21))
    assert rows["input_label"] == list(range(21))
    assert all(path.endswith("part-00000.parquet") for path in rows["path"])
    assert rows["error"] == [None] * 21
    for label, top, scores in zip(rows["label"], rows["topk_labels"], rows["topk_scores"]):
        assert len(top) == 3 and top[0] == label
        assert scores == sorted(scores, reverse=True)
        assert 0 < sum(scores) <= 1.0 + 1e-5
    data = json.loads(report.read_text())
    assert data["images"] == 35 and data["errors"] == 0 and data["files"] == 2
    assert data["images_per_second"] > 0
    assert set(data["stages"]) == {"preprocess", "inference", "write"}
    for stage in data["stages"].values():
        assert {"busy_seconds", "blocked_input_seconds", "blocked_output_seconds"} <= set(stage)
    assert data["queues"]["preprocessed"]["high_water_bytes"] > 0
    assert 0 < data["peak_rss_bytes"] < data["memory_budget_bytes"]
    assert data["device"].startswith("cpu")
    assert data["configuration"]["batch_size"] == 32 and data["configuration"]["topk"] == 3
    # The model's start-up, step by step; on the CPU it comes before any preprocessing.
    [startup] = data["backend_startup"]
    assert startup["device"] == data["device"]
    assert [step["step"] for step in startup["steps"]] == ["load model", "oneDNN executor", "buffers"]
    assert all(step["seconds"] >= 0 for step in startup["steps"])
    assert sum(step["seconds"] for step in startup["steps"]) <= data["startup_seconds"]
    assert data["startup_preprocessed_images"] == 0
    assert "model:  load model" in result.stdout


def test_predict_treats_an_empty_upstream_error_as_a_failed_row(tmp_path, dataset, models):
    # A crop row whose error is "" (not null) has no crop to run, whatever the buffer it would be
    # read from held before: it is a failed row, never a prediction.
    folder, _ = dataset
    run_sluice("preprocess", "--input", folder / "part-00000.parquet", "--output", tmp_path / "crops", check=0)
    path = tmp_path / "crops" / "part-00000.parquet"
    crops = pq.read_table(path)
    errors = [None] * crops.num_rows
    errors[3] = ""
    index = crops.schema.get_field_index("error")
    crops = crops.set_column(index, crops.schema.field(index), pa.array(errors, type=pa.string()))
    pq.write_table(crops, path, row_group_size=8)  # the schema's crop-shape metadata stays
    result = run_sluice("predict", "--input", tmp_path / "crops", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cpu", "--batch-size", "4", "--cpu-workers", "1", check=0)
    out = read_output(tmp_path / "out" / "part-00000.parquet")
    assert out["error"][3] == "failed in an earlier stage" and out["label"][3] is None
    assert all(error is None for i, error in enumerate(out["error"]) if i != 3)
    assert "images: 21 (1 errors)" in result.stdout


def test_two_stage_gives_the_same_predictions_as_one_pass(tmp_path, dataset, models):
    folder, _ = dataset
    run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "one",
               "--logits", "--device", "cpu", check=0)
    run_sluice("preprocess", "--input", folder, "--output", tmp_path / "crops", "--pass-through", "label", check=0)
    crops = pq.read_table(tmp_path / "crops" / "part-00001.parquet")
    assert crops.schema.field("image").type == pa.binary()  # one value a crop: cheap to write and read
    assert {len(crop) for crop in crops.column("image").to_pylist()} == {224 * 224 * 3}
    assert crops.num_rows == 14
    assert crops.column("label").to_pylist() == list(range(21, 35))  # no clash in crops: name kept
    run_sluice("predict", "--input", tmp_path / "crops", "--model", models["resnet18"], "--output",
               tmp_path / "two", "--logits", "--device", "cpu", "--pass-through", "label", check=0)
    assert read_output(tmp_path / "two" / "part-00001.parquet")["input_label"] == list(range(21, 35))
    for name in ("part-00000.parquet", "part-00001.parquet"):
        one = read_output(tmp_path / "one" / name)
        two = read_output(tmp_path / "two" / name)
        assert two["path"] == one["path"]  # the original source file, not the crops file
        assert two["row"] == one["row"]
        assert two["label"] == one["label"]
        np.testing.assert_array_equal(np.array(two["logits"]), np.array(one["logits"]))


def test_limit_processes_only_the_first_images(tmp_path, dataset, models):
    folder, _ = dataset
    out = tmp_path / "out"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--limit", "10",
                        "--device", "cpu", check=0)
    assert "images: 10 (0 errors) in 1 files" in result.stdout
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]
    assert read_output(out / "part-00000.parquet")["row"] == list(range(10))


def test_resume_skips_inputs_whose_output_exists(tmp_path, dataset, models):
    folder, _ = dataset
    out = tmp_path / "out"
    run_sluice("run", "--input", folder / "part-00000.parquet", "--model", models["resnet18"], "--output", out,
               "--device", "cpu", check=0)
    before = (out / "part-00000.parquet").stat().st_mtime_ns
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--resume",
                        "--device", "cpu", check=0)
    assert "images: 14 (0 errors) in 1 files" in result.stdout
    assert (out / "part-00000.parquet").stat().st_mtime_ns == before
    assert read_output(out / "part-00001.parquet")["row"] == list(range(14))


def test_resume_finishes_a_file_that_limit_cut_short(tmp_path, dataset, models):
    folder, _ = dataset
    out = tmp_path / "out"
    run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--limit", "10",
               "--device", "cpu", check=0)
    assert read_output(out / "part-00000.parquet")["row"] == list(range(10))
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--resume",
                        "--report", report, "--device", "cpu", check=0)
    assert "images: 35 (0 errors) in 2 files" in result.stdout
    assert "1 incomplete output(s) written again" in result.stdout and "10 of 21 rows" in result.stdout
    assert read_output(out / "part-00000.parquet")["row"] == list(range(21))
    assert read_output(out / "part-00001.parquet")["row"] == list(range(14))
    data = json.loads(report.read_text())
    assert data["resumed_files"] == [] and len(data["redone_files"]) == 1
    # Nothing left to do: no stage was the bottleneck.
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--resume",
                        "--device", "cpu", check=0)
    assert "images: 0 (0 errors)" in result.stdout and "bottleneck: none (no images)" in result.stdout


def test_resize_size_does_not_apply_to_raw_pixels(tmp_path, dataset, models):
    folder, _ = dataset
    result = run_sluice("run", "--input", folder / "part-00001.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--resize-size", "100", "--device", "cpu", check=0)
    assert "images: 14 (0 errors)" in result.stdout


def test_files_this_job_does_not_write_are_pointed_out(tmp_path, dataset, models):
    folder, _ = dataset
    out = tmp_path / "out"
    first = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", out, "--limit", "4",
                       "--device", "cpu", check=0)
    assert "note:" not in first.stderr
    again = run_sluice("run", "--input", folder / "part-00001.parquet", "--model", models["resnet18"], "--output", out,
                       "--limit", "4", "--device", "cpu", check=0)
    assert f"note: {out} already holds 1 Parquet file(s) this job does not write (e.g. part-00000.parquet)" in \
        again.stderr


def test_glob_input_selects_matching_files(tmp_path, dataset, models):
    folder, _ = dataset
    out = tmp_path / "out"
    run_sluice("run", "--input", folder / "*-00001.parquet", "--model", models["resnet18"], "--output", out,
               "--device", "cpu", check=0)
    assert [p.name for p in out.iterdir()] == ["part-00001.parquet"]


def test_tight_memory_budget_is_respected(tmp_path, dataset, models):
    folder, _ = dataset
    report = tmp_path / "report.json"
    run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
               "--memory-budget", "1G", "--report", report, "--device", "cpu", check=0)
    data = json.loads(report.read_text())
    assert data["memory_budget_bytes"] == 1 << 30
    assert data["peak_rss_bytes"] < 1 << 30


def test_too_small_memory_budget_is_a_usage_error(tmp_path, dataset, models):
    folder, _ = dataset
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--memory-budget", "64M", "--device", "cpu", check=2)
    assert "--memory-budget" in result.stderr and "too small" in result.stderr
    assert "the model with its batch buffers takes" in result.stderr and "a smaller --batch-size" in result.stderr
    assert not (tmp_path / "out").exists()
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--memory-budget", "0", "--device", "cpu", check=2)
    assert "--memory-budget must be more than 0" in result.stderr


def test_info_lists_backends_and_versions():
    result = run_sluice("info", check=0)
    assert "sluice 0.1.0" in result.stdout
    assert "oneDNN" in result.stdout and "arrow/parquet: 25.0.1" in result.stdout


def test_empty_input_file_gives_an_empty_output_file(tmp_path, models):
    write_seed_parquet(tmp_path / "empty.parquet", [])
    result = run_sluice("run", "--input", tmp_path / "empty.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cpu", check=0)
    assert "images: 0 (0 errors) in 1 files" in result.stdout
    table = pq.read_table(tmp_path / "out" / "empty.parquet")
    assert table.num_rows == 0 and "topk_labels" in table.schema.names


def test_two_stage_keeps_error_rows_and_crops_stay_readable(tmp_path, models):
    images = smooth_images(5, seed=9)
    flat = [images[0], None, images[2].reshape(-1)[:100], images[3], images[4]]  # a null and a short row
    pq.write_table(pa.table({"image": pa.array([None if x is None else np.asarray(x).reshape(-1) for x in flat],
                                               type=pa.list_(pa.uint8()))}), tmp_path / "in.parquet")
    run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops", check=0)
    crops = pq.read_table(tmp_path / "crops" / "in.parquet")  # every column, the crops included
    errors = crops.column("error").to_pylist()
    assert [e is None for e in errors] == [True, False, False, True, True]
    run_sluice("predict", "--input", tmp_path / "crops", "--model", models["resnet18"], "--output",
               tmp_path / "two", "--device", "cpu", check=0)
    run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
               tmp_path / "one", "--device", "cpu", check=0)
    two = read_output(tmp_path / "two" / "in.parquet")
    one = read_output(tmp_path / "one" / "in.parquet")
    assert two["error"] == one["error"] == errors
    assert two["label"] == one["label"]
