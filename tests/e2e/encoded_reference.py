"""Pillow reference for encoded images, kept apart from the tests so that a child process can import
it (tests/e2e/test_encoded_images.py runs this heavy work in one): test photos re-encoded as datasets
store them, and torchvision's Resize + CenterCrop (PIL backend) written with Pillow."""
import io
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

PHOTOS = ["astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
          "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png", "motorcycle_left.png", "retina.jpg",
          "rocket.jpg"]


def photo(name):
    return Image.open(Path(skimage.data.__file__).parent / name).convert("RGB")


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


def reference_crops(blobs, resize=256):
    return np.stack([reference_crop(blob, resize=resize) for blob in blobs])


def large_jpegs():
    # Short sides >= 8 * 256 * 2 = 4096 px: the default margin decodes these at 1/2 scale.
    return [encode(photo(name).resize(size, Image.BICUBIC), "jpeg", 90)
            for name, size in (("gravel.png", (4400, 4150)), ("camera.png", (4150, 4600)),
                               ("chelsea.png", (6000, 4100)))]


def onnxruntime_on_pillow_crops(model_path, blobs):
    import onnxruntime as ort

    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    inputs = np.stack([((reference_crop(blob).astype(np.float32) / np.float32(255.0) - mean) / std).transpose(2, 0, 1)
                       for blob in blobs]).astype(np.float32)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]
