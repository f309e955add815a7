"""Encoded (JPEG/PNG) images end to end: `sluice preprocess` and `sluice run` on real photographs
re-encoded the way datasets store them, checked against Pillow doing torchvision's
Resize(256) + CenterCrop(224) (PIL backend), and onnxruntime on those Pillow crops."""
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import run_sluice

skimage_data = pytest.importorskip("skimage.data")

PHOTOS = ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
          "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg",
          "rocket.jpg"]


def photo(name):
    return Image.open(Path(skimage_data.__file__).parent / name).convert("RGB")


def encode(image, kind, quality=90, **extra):
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=quality, **extra)
    return buffer.getvalue()


def make_encoded_set(count, seed):
    """`count` images cut from the photographs at ImageNet-like sizes (200-1000 px a side, mixed
    aspect ratios, a few larger ones that take DCT-domain downscaling), JPEG at qualities 75-95,
    plus PNGs, greyscale, RGBA, one CMYK and one progressive JPEG."""
    rng = np.random.default_rng(seed)
    sources = [photo(name) for name in PHOTOS]
    images = []
    for index in range(count):
        source = sources[index % len(sources)]
        aspect = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))
        long_side = int(rng.integers(1100, 1400)) if index % 10 == 9 else int(rng.integers(200, 1000))
        width, height = (long_side, max(8, int(long_side / aspect))) if aspect >= 1 else (
            max(8, int(long_side * aspect)), long_side)
        crop_w = int(source.width * rng.uniform(0.5, 1.0))
        crop_h = int(source.height * rng.uniform(0.5, 1.0))
        left = int(rng.integers(0, source.width - crop_w + 1))
        top = int(rng.integers(0, source.height - crop_h + 1))
        image = source.crop((left, top, left + crop_w, top + crop_h)).resize((width, height), Image.BICUBIC)
        quality = int(rng.integers(75, 96))
        if index == 1:
            data = encode(image.convert("CMYK"), "jpeg", quality)
        elif index == 2:
            data = encode(image, "jpeg", quality, progressive=True)
        elif index % 17 == 3:
            data = encode(image, "png")
        elif index % 17 == 5:
            data = encode(image.convert("L"), "jpeg", quality)
        elif index % 17 == 7:
            data = encode(image.convert("L"), "png")
        elif index % 17 == 11:
            rgba = image.convert("RGBA")
            rgba.putalpha(128)
            data = encode(rgba, "png")
        else:
            data = encode(image, "jpeg", quality)
        images.append(data)
    return images


def reference_crop(data, resize=256, crop=224):
    """torchvision's Resize(resize) + CenterCrop(crop) on a PIL image, written with Pillow."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    short, long = min(width, height), max(width, height)
    new_short, new_long = resize, int(resize * long / short)
    size = (new_short, new_long) if width <= height else (new_long, new_short)
    if size != (width, height):
        image = image.resize(size, Image.BILINEAR)
    pixels = np.asarray(image)
    top = int(round((size[1] - crop) / 2.0))
    left = int(round((size[0] - crop) / 2.0))
    return pixels[top:top + crop, left:left + crop]


def write_encoded_parquet(path, blobs):
    table = pa.table({"image": pa.array(blobs, type=pa.binary()),
                      "label": pa.array(range(len(blobs)), type=pa.int32())})
    pq.write_table(table, path, row_group_size=16)


def sluice_crops(tmp_path, blobs, *flags):
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops", *flags, check=0)
    table = pq.read_table(tmp_path / "crops" / "in.parquet").to_pydict()
    assert all(error is None for error in table["error"]), [e for e in table["error"] if e]
    return np.array(table["image"], dtype=np.uint8).reshape(len(blobs), 224, 224, 3)


@pytest.fixture(scope="module")
def encoded_set():
    return make_encoded_set(60, seed=11)


def differences(crops, blobs):
    reference = np.stack([reference_crop(blob) for blob in blobs])
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
    # Short sides >= 8 * 256 * 2 = 4096 px: the default margin decodes these at 1/2 scale.
    blobs = [encode(photo(name).resize(size, Image.BICUBIC), "jpeg", 90)
             for name, size in (("gravel.png", (4400, 4150)), ("camera.png", (4150, 4600)),
                                ("chelsea.png", (6000, 4100)))]
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
    table = pq.read_table(tmp_path / "crops" / "in.parquet").to_pydict()
    crops = np.array(table["image"], dtype=np.uint8).reshape(len(blobs), 224, 224, 3)
    reference = np.stack([reference_crop(blob, resize=320) for blob in blobs])
    assert np.abs(crops.astype(np.int32) - reference).mean() <= 0.05


def test_crop_larger_than_resize_is_a_usage_error(tmp_path, encoded_set):
    write_encoded_parquet(tmp_path / "in.parquet", encoded_set[:2])
    result = run_sluice("preprocess", "--input", tmp_path / "in.parquet", "--output", tmp_path / "crops",
                        "--resize-size", "200", check=2)
    assert "--crop-size 224 is larger than --resize-size 200" in result.stderr


def test_top1_agrees_with_onnxruntime_on_pillow_crops(tmp_path, models):
    import onnxruntime as ort

    blobs = make_encoded_set(200, seed=23)
    write_encoded_parquet(tmp_path / "in.parquet", blobs)
    run_sluice("run", "--input", tmp_path / "in.parquet", "--model", models["resnet18"], "--output",
               tmp_path / "out", "--logits", "--device", "cpu", check=0)
    out = pq.read_table(tmp_path / "out" / "in.parquet").to_pydict()
    assert all(error is None for error in out["error"])
    logits = np.array(out["logits"], dtype=np.float32)

    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    inputs = np.stack([((reference_crop(blob).astype(np.float32) / np.float32(255.0) - mean) / std).transpose(2, 0, 1)
                       for blob in blobs]).astype(np.float32)
    session = ort.InferenceSession(str(models["resnet18"]), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: inputs})[0]

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
