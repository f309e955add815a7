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
