"""What the Spark and Python-module tests share besides fixtures: the e2e helpers (data generator,
`sluice` runner), where the built package is, and the comparison of predictions with the CLI's.
A module of its own (not conftest) so that imports are unambiguous beside tests/e2e/conftest.py."""
import importlib.util
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))


def _load_e2e_helpers():
    spec = importlib.util.spec_from_file_location("sluice_e2e_helpers", REPO / "tests" / "e2e" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


e2e = _load_e2e_helpers()
smooth_images = e2e.smooth_images
write_seed_parquet = e2e.write_seed_parquet
run_sluice = e2e.run_sluice
sluice_binary = e2e.sluice_binary


def python_package_dir() -> Path:
    """build/python (next to the sluice binary the tests run) holds the importable package."""
    return Path(sluice_binary()).resolve().parent / "python"


PACKAGE_DIR = python_package_dir()
if str(PACKAGE_DIR) not in sys.path:
    sys.path.insert(0, str(PACKAGE_DIR))


def assert_same_predictions(expected, actual, scores_tolerance=1e-5):
    """Same rows, labels and errors; top-k scores within a relative tolerance (batch composition and
    thread counts change float summation order); top-k labels equal except between near-equal scores."""
    assert actual.num_rows == expected.num_rows
    for column in ("path", "row", "label", "error", "input_label"):
        assert actual.column(column).to_pylist() == expected.column(column).to_pylist(), column
    np.testing.assert_allclose(np.array(actual.column("topk_scores").to_pylist()),
                               np.array(expected.column("topk_scores").to_pylist()), rtol=scores_tolerance, atol=1e-7)
    expected_labels = expected.column("topk_labels").to_pylist()
    scores = expected.column("topk_scores").to_pylist()
    for row, (got, want) in enumerate(zip(actual.column("topk_labels").to_pylist(), expected_labels)):
        for i, (a, b) in enumerate(zip(got, want)):
            near_tie = any(abs(scores[row][i] - scores[row][j]) < 1e-5 for j in range(len(want)) if j != i)
            assert a == b or near_tie, f"row {row}: top-k {got} vs {want}"
