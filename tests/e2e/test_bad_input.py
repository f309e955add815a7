"""Bad input: bad rows become error rows, bad files fail the job with a message naming them (or are
skipped), bad flags and models are usage errors, and no partial output file is ever left."""
import json
import os

import numpy as np
import onnx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from onnx import TensorProto, helper

from conftest import run_sluice, smooth_images, write_seed_parquet


def all_files(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_bad_rows_become_error_rows_and_the_job_goes_on(tmp_path, models):
    images = smooth_images(5, seed=1)
    rows = [images[0], None, np.zeros(1000, dtype=np.uint8), images[3], images[4]]
    write_seed_parquet(tmp_path / "in.parquet", rows)
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--report", report, "--device", "cpu", check=0)
    assert "images: 5 (2 errors)" in result.stdout
    assert f"first error: {tmp_path / 'in.parquet'} row 1: image is null" in result.stdout
    out = pq.read_table(tmp_path / "out" / "in.parquet").to_pydict()
    assert out["row"] == [0, 1, 2, 3, 4]
    assert out["error"][0] is None and out["error"][3] is None
    assert out["error"][1] == "image is null"
    assert "has 1000 values; expected 196608" in out["error"][2]
    assert out["label"][1] is None and out["topk_labels"][2] is None
    assert out["label"][0] is not None
    data = json.loads(report.read_text())
    assert data["errors"] == 2 and data["first_error"].endswith("row 1: image is null")


def test_bad_rows_with_logits_leave_a_file_pyarrow_reads_with_nan_logits(tmp_path, models):
    # Arrow 25 cannot read a null fixed-size list back from Parquet (apache/arrow GH-35692): a failed
    # row's logits are NaN, not null, and its error says why.
    images = smooth_images(3, seed=2)
    write_seed_parquet(tmp_path / "in.parquet", [images[0], None, images[2]])
    run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
               tmp_path / "out", "--logits", "--device", "cpu", check=0)
    out = pq.read_table(tmp_path / "out" / "in.parquet").to_pydict()
    assert out["error"] == [None, "image is null", None]
    assert np.isnan(out["logits"][1]).all()
    assert np.isfinite(out["logits"][0]).all() and np.isfinite(out["logits"][2]).all()
    assert out["label"][1] is None


def test_file_that_is_not_parquet_fails_the_job_naming_it(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "a.parquet", smooth_images(3))
    (folder / "b.parquet").write_bytes(b"this is not parquet at all" * 10)
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--device", "cpu", check=1)
    assert "b.parquet" in result.stderr and "not a readable Parquet file" in result.stderr
    assert all_files(tmp_path / "out") == []


def test_skip_bad_files_skips_and_lists_them(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "a.parquet", smooth_images(3))
    good = (folder / "a.parquet").read_bytes()
    (folder / "b.parquet").write_bytes(good[: len(good) // 2])  # truncated
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--skip-bad-files", "--report", report, "--device", "cpu", check=0)
    assert "skipped files: 1\n  " + str(folder / "b.parquet") + " is not a readable Parquet file" in result.stdout
    assert all_files(tmp_path / "out") == ["a.parquet"]
    skipped = json.loads(report.read_text())["skipped_files"]
    assert len(skipped) == 1 and "b.parquet" in skipped[0]


def test_footers_read_concurrently_keep_the_listing_order_for_skips_and_errors(tmp_path):
    # Planning reads footers on several threads; what it reports must not depend on which finished first.
    folder = tmp_path / "in"
    folder.mkdir()
    bad = {7, 23, 31}
    for index in range(40):
        path = folder / f"part-{index:02d}.parquet"
        if index in bad:
            path.write_bytes(b"not parquet" * (index + 1))
        else:
            write_seed_parquet(path, smooth_images(1, height=32, width=32, seed=index))
    flags = ("--image-shape", "32,32,3", "--resize-size", "32", "--crop-size", "16", "--no-progress")
    failed = run_sluice("preprocess", "--input", folder, "--output", tmp_path / "failed", *flags, check=1)
    assert "part-07.parquet" in failed.stderr and "part-23" not in failed.stderr
    report = tmp_path / "report.json"
    run_sluice("preprocess", "--input", folder, "--output", tmp_path / "out", "--skip-bad-files", "--report",
               report, *flags, check=0)
    skipped = json.loads(report.read_text())["skipped_files"]
    assert [name.split(" ")[0].rsplit("/", 1)[1] for name in skipped] == [
        f"part-{index:02d}.parquet" for index in sorted(bad)]
    assert all_files(tmp_path / "out") == [f"part-{index:02d}.parquet" for index in range(40) if index not in bad]


def corrupt_middle(path):
    """Zeroes 4 KB in the middle of a Parquet file: its data pages break, its footer stays valid."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


def write_multi_group_file(path):
    table = pa.table({"image": pa.array([i.reshape(-1) for i in smooth_images(6, seed=9)], type=pa.list_(pa.uint8()))})
    pq.write_table(table, path, row_group_size=2, compression="snappy")


def test_skip_bad_files_also_skips_files_that_break_while_being_read(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "a.parquet", smooth_images(4))
    write_multi_group_file(folder / "b.parquet")
    corrupt_middle(folder / "b.parquet")
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--skip-bad-files", "--report", report, "--device", "cpu", check=0)
    assert "images: 4 (0 errors) in 1 files" in result.stdout
    assert all_files(tmp_path / "out") == ["a.parquet"]
    data = json.loads(report.read_text())
    assert data["images"] == 4
    assert len(data["skipped_files"]) == 1 and "b.parquet" in data["skipped_files"][0]


def test_truncated_file_fails_the_job_naming_it(tmp_path, models):
    write_seed_parquet(tmp_path / "good.parquet", smooth_images(3))
    data = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[:-100])
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", tmp_path / "cut.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cpu", "--report", report, check=1)
    assert "cut.parquet" in result.stderr and "pass --skip-bad-files" in result.stderr
    data = json.loads(report.read_text())  # failed while planning: nothing done, the reason kept
    assert data["status"] == "failed" and "cut.parquet" in data["failure"] and data["files"] == 0, data


def test_corrupt_data_pages_leave_no_partial_output(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "a.parquet", smooth_images(4))
    write_multi_group_file(folder / "b.parquet")
    corrupt_middle(folder / "b.parquet")
    report = tmp_path / "report.json"
    result = run_sluice("run", "--input", folder, "--model", models["resnet18"], "--output", tmp_path / "out",
                        "--device", "cpu", "--cpu-workers", "1", "--report", report)
    assert result.returncode == 1, result.stderr
    assert "b.parquet" in result.stderr and "pass --skip-bad-files" in result.stderr
    files = all_files(tmp_path / "out")
    assert "b.parquet" not in files
    assert not any(name.startswith(".") for name in files), files
    # The report of a failed job says why, and what was done before it failed (a.parquet, if its
    # predictions were written before b's broken row group was read).
    data = json.loads(report.read_text())
    assert data["status"] == "failed" and "b.parquet" in data["failure"], data
    assert data["files"] == len(files) and data["images"] == 4 * len(files), data
    assert data["configuration"]["input"] == str(folder) and "inference" in data["stages"]


def test_missing_image_column_is_a_usage_error(tmp_path, models):
    pq.write_table(pa.table({"pixels": pa.array([[1, 2, 3]], type=pa.list_(pa.uint8()))}), tmp_path / "x.parquet")
    result = run_sluice("run", "--input", tmp_path / "x.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cpu", check=2)
    assert "no column 'image'" in result.stderr and "--image-column" in result.stderr


def test_missing_model_is_a_usage_error(tmp_path):
    write_seed_parquet(tmp_path / "in.parquet", smooth_images(1))
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", tmp_path / "nope.onnx", "--output",
                        tmp_path / "out", "--device", "cpu", check=2)
    assert "nope.onnx" in result.stderr


def test_invalid_model_file_is_a_usage_error(tmp_path):
    write_seed_parquet(tmp_path / "in.parquet", smooth_images(1))
    (tmp_path / "junk.onnx").write_bytes(b"\xff\xfe garbage")
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", tmp_path / "junk.onnx", "--output",
                        tmp_path / "out", "--device", "cpu", check=2)
    assert "junk.onnx" in result.stderr


def save_one_node_model(path, op, name, input_shape, output_shape):
    node = helper.make_node(op, ["input"], ["output"], name=name)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_unsupported_op_is_a_usage_error_naming_op_and_node(tmp_path):
    write_seed_parquet(tmp_path / "in.parquet", smooth_images(1))
    save_one_node_model(tmp_path / "sig.onnx", "Sigmoid", "odd_sigmoid", ["n", 3, 224, 224], ["n", 3, 224, 224])
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", tmp_path / "sig.onnx", "--output",
                        tmp_path / "out", "--device", "cpu", check=2)
    assert "Sigmoid" in result.stderr and "odd_sigmoid" in result.stderr


def test_a_model_that_is_not_for_rgb_input_is_a_usage_error_that_says_so(tmp_path):
    write_seed_parquet(tmp_path / "in.parquet", smooth_images(1))
    save_one_node_model(tmp_path / "gray.onnx", "GlobalAveragePool", "pool", ["n", 1, 224, 224], ["n", 1, 1, 1])
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", tmp_path / "gray.onnx", "--output",
                        tmp_path / "out", "--device", "cpu", check=2)
    assert "expects images of 1 channel(s); sluice feeds 3-channel RGB crops" in result.stderr


def test_bad_flags_are_usage_errors(tmp_path, models):
    assert run_sluice("run", "--bogus").returncode == 2
    # A misspelt name is reported as such, not as the missing option it was meant to be.
    result = run_sluice("run", "--inptu", "x", "--output", "y", "--model", models["resnet18"], check=2)
    assert "unknown option --inptu for 'run'" in result.stderr
    result = run_sluice("bogus", check=2)
    assert "unknown command 'bogus'; the commands are" in result.stderr and "predict" in result.stderr
    assert run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--topk", "0").returncode == 2
    assert run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--normalize",
                      "weird").returncode == 2
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--image-shape",
                        "256x256")
    assert result.returncode == 2 and "H,W,C" in result.stderr
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--memory-budget",
                        "lots")
    assert result.returncode == 2 and "not a size" in result.stderr
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--cudnn-algorithms",
                        "fastest")
    assert result.returncode == 2 and "heuristic" in result.stderr
    for flag, value, message in [("--batch-size", "0", "--batch-size: must be at least 1, got 0"),
                                 ("--limit", "-5", "--limit: must be at least 0, got -5"),
                                 ("--limit", "abc", "--limit: 'abc' is not a whole number")]:
        result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], flag, value)
        assert result.returncode == 2 and message in result.stderr, result.stderr
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--pass-through",
                        "label", "--pass-through", "label")
    assert result.returncode == 2 and "--pass-through names the column 'label' twice" in result.stderr
    # An unwritable --report is found before the job runs, not after it.
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--report",
                        tmp_path / "missing" / "report.json")
    assert result.returncode == 2 and "the folder " + str(tmp_path / "missing") + " does not exist" in result.stderr
    result = run_sluice("run", "--input", "x", "--output", "y", "--model", models["resnet18"], "--report", tmp_path)
    assert result.returncode == 2 and "is a folder; give a file name" in result.stderr


def test_cuda_device_without_cuda_is_a_usage_error(tmp_path, models):
    write_seed_parquet(tmp_path / "in.parquet", smooth_images(1))
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cuda", check=2)
    assert "cuda" in result.stderr.lower()


def test_missing_input_is_a_usage_error(tmp_path, models):
    result = run_sluice("run", "--input", tmp_path / "nothing-here", "--model", models["resnet18"], "--output",
                        tmp_path / "out", check=2)
    assert "nothing-here" in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, where every write fails")
def test_a_failed_job_whose_report_cannot_be_written_says_both(tmp_path):
    # The job's failure decides the exit code; the report asked for and lost is said too.
    result = run_sluice("preprocess", "--input", tmp_path / "missing", "--output", tmp_path / "out", "--report",
                        "/dev/full", check=2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("sluice: error:")]
    assert len(errors) == 2, result.stderr
    assert "does not exist" in errors[0]
    assert "cannot write the report to /dev/full" in errors[1]
