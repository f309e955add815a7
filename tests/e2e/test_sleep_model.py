"""The sleep benchmarking model (tools/make_test_model.py --arch sleep) through `sluice run`: every
batch waits its seconds inside the model, and the values pass the Sleep op unchanged (the logits
are the model's classifier applied to the crops' channel means)."""
import json

import numpy as np
import onnx
import pyarrow.parquet as pq
from onnx import numpy_helper

from conftest import reference_inputs, run_sluice, smooth_images, write_seed_parquet

SLEEP_SECONDS = 0.2
BATCH_SIZE = 4
BATCHES = 3


def test_every_batch_sleeps_and_the_logits_are_the_classifier_of_the_channel_means(tmp_path):
    import make_test_model

    model = make_test_model.build_model("sleep", seed=4, num_classes=10, sleep_seconds=SLEEP_SECONDS)
    model_path = tmp_path / "sleep.onnx"
    onnx.save(model, str(model_path))
    images = smooth_images(BATCHES * BATCH_SIZE, seed=5)
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "part-00000.parquet", images, row_group_size=BATCH_SIZE)
    out, report_path = tmp_path / "out", tmp_path / "report.json"
    run_sluice("run", "--input", folder, "--model", model_path, "--output", out, "--logits", "--device", "cpu",
               "--batch-size", BATCH_SIZE, "--report", report_path, "--no-progress", check=0)

    report = json.loads(report_path.read_text())
    # One-sided: however many inference workers share the batches, each batch slept in one of them.
    assert report["stages"]["inference"]["busy_seconds"] >= BATCHES * SLEEP_SECONDS
    assert report["seconds"] >= SLEEP_SECONDS

    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    means = reference_inputs(images).mean(axis=(2, 3))
    expected = means @ weights["fc.weight"].T + weights["fc.bias"]
    rows = pq.read_table(out / "part-00000.parquet").to_pydict()
    logits = np.array(rows["logits"], dtype=np.float32)
    assert logits.shape == expected.shape
    assert np.abs(logits - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    assert rows["label"] == expected.argmax(axis=1).tolist()


def test_an_interrupted_job_keeps_complete_files_leaves_no_temporary_ones_and_resume_finishes_it(tmp_path):
    import signal
    import subprocess
    import time

    import make_test_model
    from conftest import sluice_binary

    model_path = tmp_path / "sleep.onnx"
    onnx.save(make_test_model.build_model("sleep", seed=4, num_classes=10, sleep_seconds=SLEEP_SECONDS),
              str(model_path))
    folder = tmp_path / "in"
    folder.mkdir()
    write_seed_parquet(folder / "a.parquet", smooth_images(4, seed=6), row_group_size=2)
    # 40 batches of 0.2 s: still running when the signal comes.
    write_seed_parquet(folder / "b.parquet", smooth_images(80, seed=7), row_group_size=2)
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    command = [sluice_binary(), "run", "--input", str(folder), "--model", str(model_path), "--output", str(out),
               "--device", "cpu", "--batch-size", "2", "--cpu-workers", "1", "--no-progress"]
    job = subprocess.Popen(command + ["--report", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 60
    while not (out / "a.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (out / "a.parquet").exists()
    job.send_signal(signal.SIGINT)
    _, stderr = job.communicate(timeout=60)
    assert job.returncode == -signal.SIGINT, stderr  # it ends by the signal, as a shell loop expects
    assert "the job was interrupted" in stderr and "--resume" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.parquet"]  # b's temporary file is gone
    assert pq.read_table(out / "a.parquet").num_rows == 4
    data = json.loads(report.read_text())  # what was done before the stop
    assert data["status"] == "failed" and "interrupted" in data["failure"], data
    assert (data["files"], data["images"]) == (1, 4), data

    result = run_sluice(*command[1:], "--resume", check=0)
    assert "images: 80 (0 errors) in 1 files" in result.stdout
    assert pq.read_table(out / "b.parquet").num_rows == 80
