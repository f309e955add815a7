"""`--decode cpu|gpu|auto`: JPEGs decoded by nvJPEG on the GPU next to (or instead of) the CPU
workers. Without a GPU, `gpu` is a usage error and `auto` is the CPU path byte for byte; on a GPU,
GPU-decoded crops are checked against Pillow (torchvision's Resize + CenterCrop) and GPU-decoded
predictions against CPU-decoded ones. The GPU tests skip, saying why, where no GPU is visible."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_sluice

pytest.importorskip("skimage.data")

from encoded_reference import encode, make_encoded_set, photo, reference_crops  # noqa: E402
from test_devices import needs_gpu, needs_no_gpu  # noqa: E402
from test_encoded_images import in_child, read_crops, write_encoded_parquet  # noqa: E402


@pytest.fixture(scope="module")
def mixed_rows():
    """JPEGs (colour and grey), a PNG, and rows no decoder can use."""
    blobs = in_child(make_encoded_set, 24, 5)
    good = encode(photo("chelsea.png"), "jpeg", 90)
    return blobs + [encode(photo("coffee.png"), "png"), good[: len(good) // 2], b"not an image",
                    b"\xff\xd8\xff" + bytes(50)]


def preprocess(tmp_path, name, blobs, *flags, check=0, row_group_size=16):
    write_encoded_parquet(tmp_path / "in.parquet", blobs, row_group_size)
    report = tmp_path / f"{name}.json"
    result = run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / name,
                        "--report", report, *flags, check=check)
    if check != 0:
        return result, None, None
    # Everything but the crops (read_crops reads those): pyarrow 25 cannot read back a crop column
    # whose error rows are empty lists ("Expected all lists to be of size=150528").
    path = tmp_path / name / "in.parquet"
    columns = [column for column in pq.read_schema(path).names if column != "image"]
    return result, pq.read_table(path, columns=columns), json.loads(report.read_text())


@needs_no_gpu
@pytest.mark.parametrize("command", ["preprocess", "run"])
def test_decode_gpu_without_a_gpu_is_a_usage_error_that_says_what_to_do(tmp_path, mixed_rows, models, command):
    write_encoded_parquet(tmp_path / "in.parquet", mixed_rows[:2])
    model = ["--model", models["resnet18"]] if command == "run" else []
    result = run_sluice(command, "--input", tmp_path / "in.parquet", "--output", tmp_path / "out", *model,
                        "--decode", "gpu", check=2)
    assert "--decode gpu cannot run: " in result.stderr
    assert "use --decode cpu, or auto, which decodes on the CPU when no GPU is usable" in result.stderr
    assert not (tmp_path / "out" / "in.parquet").exists()


def test_unknown_decode_value_is_a_usage_error(tmp_path, mixed_rows):
    result, _, _ = preprocess(tmp_path, "out", mixed_rows[:1], "--decode", "fpga", check=2)
    assert "--decode" in result.stderr


@needs_no_gpu
def test_decode_auto_without_a_gpu_is_the_cpu_path_byte_for_byte(tmp_path, mixed_rows):
    _, cpu, cpu_report = preprocess(tmp_path, "cpu", mixed_rows, "--decode", "cpu")
    _, auto, auto_report = preprocess(tmp_path, "auto", mixed_rows, "--decode", "auto")
    assert cpu.equals(auto)
    # The crops too: the writer is deterministic, so the same rows give the same file.
    assert (tmp_path / "cpu" / "in.parquet").read_bytes() == (tmp_path / "auto" / "in.parquet").read_bytes()
    assert sum(error is not None for error in auto.column("error").to_pylist()) == 3
    for report in (cpu_report, auto_report):
        assert report["decoded"] == {"cpu": len(mixed_rows), "gpu": 0}
        assert report["gpu_decoder"] == ""
        assert report["gpu_decode_refusals"] == 0
        assert "gpu_decode" not in report["stages"]
    assert auto_report["configuration"]["decode"] == "auto"


# --- on a GPU ---------------------------------------------------------------------------------


@needs_gpu
@pytest.mark.parametrize("mode", ["gpu", "auto"])
def test_gpu_decoded_crops_meet_the_fidelity_bounds_against_pillow(tmp_path, mode):
    blobs = in_child(make_encoded_set, 60, 11)
    # auto: one CPU worker and 15 row groups, or the CPU workers (started first, 16 on the GPU
    # machine) would take every row group before a GPU decode worker asks for one.
    flags = ("--cpu-workers", "1") if mode == "auto" else ()
    _, table, report = preprocess(tmp_path, mode, blobs, "--decode", mode, *flags, row_group_size=4)
    assert all(error is None for error in table.column("error").to_pylist())
    assert report["decoded"]["cpu"] + report["decoded"]["gpu"] == len(blobs)
    assert report["decoded"]["gpu"] > 0, report["decoded"]
    assert report["gpu_decoder"].startswith("nvJPEG")
    crops = read_crops(tmp_path / mode / "in.parquet", len(blobs))
    reference = in_child(reference_crops, blobs)
    delta = np.abs(crops.astype(np.int32) - reference.astype(np.int32))
    per_image_mean = delta.reshape(len(blobs), -1).mean(axis=1)
    print(f"\nGPU-decoded fidelity ({mode}, {report['gpu_decoder']}, {report['decoded']}): mean |d| "
          f"{delta.mean():.4f}, worst image mean {per_image_mean.max():.4f}, max |d| {delta.max()}")
    assert per_image_mean.max() <= 1.0
    assert delta.max() <= 8


@needs_gpu
def test_gpu_decode_turns_the_same_rows_into_errors_as_the_cpu(tmp_path, mixed_rows):
    _, cpu, _ = preprocess(tmp_path, "cpu", mixed_rows, "--decode", "cpu")
    _, gpu, report = preprocess(tmp_path, "gpu", mixed_rows, "--decode", "gpu")
    cpu_errors = cpu.column("error").to_pylist()
    gpu_errors = gpu.column("error").to_pylist()
    assert [e is None for e in gpu_errors] == [e is None for e in cpu_errors]
    assert gpu_errors == cpu_errors  # declined rows are decoded, and worded, by the CPU decoder
    # The PNG and the three bad rows at least went to the CPU decoder.
    assert report["decoded"]["cpu"] >= 4 and report["decoded"]["gpu"] >= 1, report["decoded"]


@needs_gpu
def test_gpu_decoded_predictions_agree_with_cpu_decoded_ones(tmp_path, models):
    blobs = in_child(make_encoded_set, 200, 23)
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    outputs = {}
    for mode in ("cpu", "gpu"):
        run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
                   tmp_path / mode, "--logits", "--device", "cuda", "--precision", "fp32", "--decode", mode, check=0)
        outputs[mode] = pq.read_table(tmp_path / mode / "in.parquet").to_pydict()
        assert all(error is None for error in outputs[mode]["error"])
    cpu_logits = np.array(outputs["cpu"]["logits"], dtype=np.float32)
    gpu_logits = np.array(outputs["gpu"]["logits"], dtype=np.float32)
    # As in test_encoded_images: top-1 is only meaningful where the top two classes are further apart
    # than what the decoders' pixel differences move the logits.
    top2 = np.sort(cpu_logits, axis=1)[:, -2:]
    noise = np.abs(gpu_logits - cpu_logits).max(axis=1)
    clear = (top2[:, 1] - top2[:, 0]) > 2 * np.median(noise)
    agree = np.array(outputs["gpu"]["label"]) == np.array(outputs["cpu"]["label"])
    print(f"\nGPU vs CPU decode top-1 agreement {agree[clear].mean():.4f} on {clear.sum()} clear images "
          f"({agree.mean():.4f} on all {len(blobs)})")
    assert clear.sum() >= len(blobs) // 2
    assert agree[clear].mean() >= 0.995
