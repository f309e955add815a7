"""Writes a seed corpus for the decode fuzzer: small JPEGs (baseline, progressive, greyscale, CMYK,
4:4:4) and PNGs (RGB, RGBA, palette, greyscale, 16-bit) cut from a smooth synthetic picture."""
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def picture(width, height):
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), (xx * yy) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def main(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = picture(48, 40)
    variants = {
        "baseline.jpg": (base, dict(format="JPEG", quality=85)),
        "progressive.jpg": (base, dict(format="JPEG", quality=85, progressive=True)),
        "grey.jpg": (base.convert("L"), dict(format="JPEG", quality=90)),
        "cmyk.jpg": (base.convert("CMYK"), dict(format="JPEG", quality=90)),
        "444.jpg": (base, dict(format="JPEG", quality=95, subsampling=0)),
        "tall.jpg": (picture(9, 70), dict(format="JPEG", quality=80)),
        "rgb.png": (base, dict(format="PNG")),
        "rgba.png": (base.convert("RGBA"), dict(format="PNG")),
        "palette.png": (base.convert("P"), dict(format="PNG")),
        "grey.png": (base.convert("L"), dict(format="PNG")),
        "grey16.png": (base.convert("I;16"), dict(format="PNG")),
    }
    for name, (image, options) in variants.items():
        buffer = io.BytesIO()
        image.save(buffer, **options)
        (folder / name).write_bytes(buffer.getvalue())


if __name__ == "__main__":
    main(sys.argv[1])
