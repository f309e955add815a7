"""Shared fixtures for the end-to-end tests: the real `sluice` binary on data the tests generate."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))


def sluice_binary() -> str:
    return os.environ.get("SLUICE_BIN", str(REPO / "build" / "sluice"))


def run_sluice(*args, check=None, env=None, timeout=600):
    """Runs the binary; returns the CompletedProcess. `check` asserts the exit code."""
    merged = dict(os.environ)
    if env:
        merged.update(env)
    result = subprocess.run([sluice_binary(), *map(str, args)], capture_output=True, text=True, env=merged,
                            timeout=timeout)
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}, expected {check}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def smooth_images(count, height=256, width=256, seed=0):
    """Photo-like test images: smooth gradients and blobs, so crops and normalization are exercised
    on values spread over 0-255 (no scikit-image needed)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    images = []
    for _ in range(count):
        channels = []
        for _ in range(3):
            fx, fy, phase = rng.uniform(0.005, 0.05), rng.uniform(0.005, 0.05), rng.uniform(0, 6.3)
            base = 127 + 100 * np.sin(fx * xx + phase) * np.cos(fy * yy)
            channels.append(base + rng.normal(0, 8, size=base.shape))
        images.append(np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8))
    return images


def write_seed_parquet(path, images, labels=None, row_group_size=None, list_type=None):
    """Writes images in the benchmark's format: `image` list<uint8> of HWC pixels, `label` int32."""
    list_type = list_type or pa.list_(pa.uint8())
    flat = [None if image is None else np.asarray(image, dtype=np.uint8).reshape(-1) for image in images]
    labels = labels if labels is not None else list(range(len(images)))
    table = pa.table({"image": pa.array(flat, type=list_type), "label": pa.array(labels, type=pa.int32())})
    pq.write_table(table, path, row_group_size=row_group_size)


def reference_inputs(images, normalize="imagenet", crop=224):
    """torchvision's CenterCrop + ToTensor + Normalize, in float32 numpy, as NCHW."""
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    batch = []
    for image in images:
        height, width, _ = image.shape
        top, left = int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))
        patch = image[top:top + crop, left:left + crop].astype(np.float32)
        if normalize == "imagenet":
            patch = patch / np.float32(255.0)
        patch = (patch - mean) / std
        batch.append(patch.transpose(2, 0, 1))
    return np.stack(batch).astype(np.float32)


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """Seeded ResNet18 and ResNet50 ONNX files from tools/make_test_model.py, built once."""
    import make_test_model
    import onnx

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for arch in ("resnet18", "resnet50"):
        path = folder / f"{arch}.onnx"
        onnx.save(make_test_model.build_model(arch, seed=7, num_classes=1000, opset=17), str(path))
        paths[arch] = path
    return paths


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto S3 server on 127.0.0.1, for the S3 tests; its credentials are set in the environment."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("moto_server did not start")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    yield endpoint
    server.terminate()
    server.wait(timeout=10)
