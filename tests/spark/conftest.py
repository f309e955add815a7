"""Fixtures for the Python module and Spark tests: the built package (build/python), data and a
ResNet18 test model, and one Spark local-cluster (two executor JVMs) shared by the Spark tests."""
import os
import shutil

import pytest

from .cli_comparison import PACKAGE_DIR, smooth_images, write_seed_parquet


@pytest.fixture(scope="session")
def sluice_module():
    if not (PACKAGE_DIR / "sluice").is_dir():
        pytest.fail(f"{PACKAGE_DIR}/sluice is missing: build with `make build` (needs nanobind)")
    import sluice

    return sluice


@pytest.fixture(scope="session")
def resnet18(tmp_path_factory):
    import make_test_model
    import onnx

    path = tmp_path_factory.mktemp("models") / "resnet18.onnx"
    onnx.save(make_test_model.build_model("resnet18", seed=7, num_classes=1000, opset=17), str(path))
    return path


@pytest.fixture(scope="session")
def image_dataset(tmp_path_factory):
    """Two seed-format files (48 and 20 images, row groups of 16 and one) plus their images."""
    folder = tmp_path_factory.mktemp("images")
    images = {"a.parquet": smooth_images(48, seed=11), "b.parquet": smooth_images(20, seed=12)}
    write_seed_parquet(folder / "a.parquet", images["a.parquet"], labels=list(range(100, 148)), row_group_size=16)
    write_seed_parquet(folder / "b.parquet", images["b.parquet"], labels=list(range(200, 220)))
    return folder, images


def spark_unavailable_reason():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (install openjdk-17)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (scripts/bootstrap.sh installs it)"
    return None


@pytest.fixture(scope="session")
def spark(sluice_module):
    """A local-cluster with two executor JVMs of one core each; small Arrow batches and small file
    splits so that partitions hold several batches and files span several partitions."""
    reason = spark_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from sluice import spark as sluice_spark

    session = (sluice_spark.session_builder("local-cluster[2,1,2048]", "sluice-tests")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "8")
               .config("spark.sql.files.maxPartitionBytes", str(3 << 20))
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.task.maxFailures", "4")
               # Executors take S3 credentials from their environment, as on a real cluster: the moto
               # server's fake ones (never real credentials from the developer's shell).
               .config("spark.executorEnv.AWS_ACCESS_KEY_ID", "testing")
               .config("spark.executorEnv.AWS_SECRET_ACCESS_KEY", "testing")
               .config("spark.executorEnv.AWS_REGION", "us-east-1")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
