"""Encoded (JPEG/PNG) images end to end: `sluice preprocess` and `sluice run` on real photographs
re-encoded the way datasets store them, checked against Pillow doing torchvision's
Resize(256) + CenterCrop(224) (PIL backend), and onnxruntime on those Pillow crops."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_sluice

pytest.importorskip("skimage.data")

from encoded_reference import (encode, large_jpegs, make_encoded_set, onnxruntime_on_pillow_crops,  # noqa: E402
                               photo, reference_crops)


def in_child(function, *args):
    """Runs function(*args) in a fresh Python process and returns its result. Pillow and onnxruntime
    work on large images would otherwise raise this pytest process's peak RSS, which Linux hands on to
    every `sluice` it starts (ru_maxrss survives vfork + exec) and so skews other tests' memory checks."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def read_crops(path, count):
    blobs = pq.read_table(path, columns=["image"]).column("image").to_pylist()
    return np.frombuffer(b"".join(blobs), np.uint8).reshape(count, 224, 224, 3)


def write_encoded_parquet(path, blobs, row_group_size=16):
    table = pa.table({"image": pa.array(blobs, type=pa.binary()),
                      "label": pa.array(range(len(blobs)), type=pa.int32())})
    pq.write_table(table, path, row_group_size=row_group_size)


def sluice_crops(tmp_path, blobs, *flags):
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops", *flags, check=0)
    errors = pq.read_table(tmp_path / "crops" / "in.parquet", columns=["error"]).column("error").to_pylist()
    assert all(error is None for error in errors), [e for e in errors if e]
    return read_crops(tmp_path / "crops" / "in.parquet", len(blobs))


@pytest.fixture(scope="module")
def encoded_set():
    return in_child(make_encoded_set, 60, 11)


def differences(crops, blobs):
    reference = in_child(reference_crops, blobs)
    return np.abs(crops.astype(np.int32) - reference.astype(np.int32))


def test_crops_match_pillow_resize_and_center_crop(tmp_path, encoded_set):
    delta = differences(sluice_crops(tmp_path, encoded_set), encoded_set)
    per_image_mean = delta.reshape(len(encoded_set), -1).mean(axis=1)
    print(f"\nencoded fidelity: mean |d| {delta.mean():.4f}, worst image mean {per_image_mean.max():.4f}, "
          f"max |d| {delta.max()}")
    assert per_image_mean.max() <= 1.0
    assert delta.max() <= 8


def test_full_size_decoding_matches_pillow_almost_exactly(tmp_path, encoded_set):
    # Without DCT-domain scaling, only the JPEG decoders' rounding (libjpeg-turbo in both) and the
    # pass order can differ.
    delta = differences(sluice_crops(tmp_path, encoded_set, "--dct-scaling-margin", "0"), encoded_set)
    print(f"\nfull-size fidelity: mean |d| {delta.mean():.4f}, max |d| {delta.max()}")
    assert delta.mean() <= 0.05
    assert delta.max() <= 2


def test_dct_scaled_decoding_of_very_large_jpegs_stays_within_tolerance(tmp_path):
    blobs = in_child(large_jpegs)
    delta = differences(sluice_crops(tmp_path, blobs), blobs)
    per_image_mean = delta.reshape(len(blobs), -1).mean(axis=1)
    print(f"\nDCT-scaled fidelity: mean |d| {delta.mean():.4f}, worst image mean {per_image_mean.max():.4f}, "
          f"max |d| {delta.max()}")
    assert delta.max() > 0  # they were decoded downscaled, not at full size
    assert per_image_mean.max() <= 1.0
    assert delta.max() <= 8


def test_resize_size_flag_changes_the_crop_scale(tmp_path, encoded_set):
    blobs = encoded_set[:6]
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops",
               "--resize-size", "320", "--dct-scaling-margin", "0", check=0)
    crops = read_crops(tmp_path / "crops" / "in.parquet", len(blobs))
    reference = in_child(reference_crops, blobs, 320)
    assert np.abs(crops.astype(np.int32) - reference).mean() <= 0.05


def test_crops_are_one_binary_value_a_row_without_dictionary_encoding(tmp_path, encoded_set):
    # As 150,528 uint8 values a row (INT32 in Parquet) crops cost the writer more CPU than decoding
    # the image; dictionary-encoding them costs more still.
    crops = sluice_crops(tmp_path, encoded_set[:20])
    parquet = pq.ParquetFile(tmp_path / "crops" / "in.parquet")
    assert parquet.schema_arrow.field("image").type == pa.binary()
    metadata = parquet.metadata
    groups = [group for group in range(metadata.num_row_groups) if metadata.row_group(group).num_rows > 0]
    assert groups
    for group in groups:
        columns = {metadata.row_group(group).column(i).path_in_schema: metadata.row_group(group).column(i)
                   for i in range(metadata.num_columns)}
        assert columns["image"].physical_type == "BYTE_ARRAY"
        assert not columns["image"].has_dictionary_page
        assert "RLE_DICTIONARY" not in columns["image"].encodings
        assert "PLAIN_DICTIONARY" not in columns["image"].encodings
    assert crops.shape == (20, 224, 224, 3) and crops.std() > 10


def test_crop_larger_than_resize_is_a_usage_error(tmp_path, encoded_set):
    write_encoded_parquet(tmp_path / "in.parquet", encoded_set[:2])
    result = run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops",
                        "--resize-size", "200", check=2)
    assert "--crop-size 224 is larger than --resize-size 200" in result.stderr


def test_top1_agrees_with_onnxruntime_on_pillow_crops(tmp_path, models):
    blobs = in_child(make_encoded_set, 200, 23)
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
               tmp_path / "out", "--logits", "--device", "cpu", check=0)
    out = pq.read_table(tmp_path / "out" / "in.parquet").to_pydict()
    assert all(error is None for error in out["error"])
    logits = np.array(out["logits"], dtype=np.float32)
    expected = in_child(onnxruntime_on_pillow_crops, models["resnet18"], blobs)

    # An image's top-1 is only meaningful when its top two classes are further apart than what a
    # one-level pixel difference moves the logits (estimated from the logit differences here).
    top2 = np.sort(expected, axis=1)[:, -2:]
    noise = np.abs(logits - expected).max(axis=1)
    clear = (top2[:, 1] - top2[:, 0]) > 2 * np.median(noise)
    agree = out["label"] == expected.argmax(axis=1)
    agreement = agree[clear].mean()
    print(f"\ntop-1 agreement {agreement:.4f} on {clear.sum()} of {len(blobs)} images with a clear top-2 gap "
          f"({agree.mean():.4f} on all)")
    assert clear.sum() >= len(blobs) // 2
    assert agreement >= 0.995


def test_corrupt_truncated_empty_and_non_image_bytes_become_error_rows(tmp_path, models):
    good = encode(photo("chelsea.png"), "jpeg", 90)
    png = encode(photo("coffee.png"), "png")
    broken_png = bytearray(png)
    idat = broken_png.find(b"IDAT")
    broken_png[idat + 8:idat + 400] = bytes(392)
    rows = [good, good[:len(good) // 2], b"", b"definitely not an image", good[:2] + b"\xff" * 5,
            png[:100], bytes(broken_png), png, b"\xff\xd8\xff" + bytes(50)]
    write_encoded_parquet(tmp_path / "in.parquet", rows)
    result = run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--device", "cpu", check=0, timeout=120)
    out = pq.read_table(tmp_path / "out" / "in.parquet").to_pydict()
    errors = out["error"]
    assert errors[0] is None and errors[7] is None
    assert all(error for error in errors[1:7]) and errors[8], errors
    assert "JPEG" in errors[1]
    assert "not a JPEG or PNG image" in errors[3]
    assert "PNG" in errors[5] and "PNG" in errors[6]
    assert f"images: {len(rows)} (7 errors)" in result.stdout
    # Preprocessed, a failed row's crop is zeroes, whatever its decoder wrote before it failed.
    run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops", check=0, timeout=120)
    crops = pq.read_table(tmp_path / "crops" / "in.parquet").to_pydict()
    assert crops["error"] == errors
    for crop, error in zip(crops["image"], crops["error"]):
        assert len(crop) == 224 * 224 * 3
        assert (not any(crop)) == (error is not None), error
