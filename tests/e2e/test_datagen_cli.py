"""`sluice datagen` from the command line: flags that do not apply are refused, progress in a log is
one line per tenth, and files left by an earlier, larger run are pointed out."""
import pyarrow.parquet as pq

from conftest import run_sluice


def test_size_flags_with_jpeg_are_a_usage_error(tmp_path):
    result = run_sluice("datagen", "--out", tmp_path / "d", "--images", "5", "--format", "jpeg", "--height", "64",
                        check=2)
    assert "--format jpeg draws ImageNet-like sizes" in result.stderr
    assert not (tmp_path / "d").exists()


def test_progress_in_a_log_is_whole_lines_and_older_files_are_pointed_out(tmp_path):
    out = tmp_path / "d"
    result = run_sluice("datagen", "--out", out, "--images", "20", "--images-per-file", "5", "--height", "32",
                        "--width", "32", "--progress", check=0)
    lines = [line for line in result.stderr.splitlines() if line.startswith("datagen: ")]
    # At most one line per tenth (how many depends on how the generator threads finish), the last the total.
    assert "\r" not in result.stderr and 1 <= len(lines) <= 11 and lines[-1] == "datagen: 20 / 20 images"
    assert "warning" not in result.stderr

    result = run_sluice("datagen", "--out", out, "--images", "5", "--images-per-file", "5", "--height", "32",
                        "--width", "32", check=0)
    assert "also holds 3 older file(s) from part-00001.parquet on" in result.stderr
    assert pq.read_table(out / "part-00000.parquet").num_rows == 5
