"""The Python module (sluice.BatchPredictor) against the CLI: same data, same predictions."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .cli_comparison import assert_same_predictions, run_sluice

BATCH = 16


def cli_predictions(folder, model, out, *extra):
    run_sluice("run", "--input", folder, "--output", out, "--model", model, "--device", "cpu", "--batch-size", BATCH,
               "--pass-through", "label", "--no-progress", *extra, check=0)
    return pq.read_table(out).sort_by([("path", "ascending"), ("row", "ascending")])


def module_predictions(sluice, folder, model, **options):
    tables = []
    for name in ("a.parquet", "b.parquet"):
        path = str(folder / name)
        predictor = sluice.BatchPredictor(model, batch_size=BATCH, source_path=path, pass_through=["label"], **options)
        table = pq.read_table(path)
        tables.append(pa.Table.from_batches(list(predictor.map_batches(table.to_batches(), max_rows=BATCH))))
    return pa.concat_tables(tables)


def test_predict_on_pyarrow_batches_matches_the_cli(sluice_module, image_dataset, resnet18, tmp_path):
    folder, _ = image_dataset
    expected = cli_predictions(folder, resnet18, tmp_path / "cli")
    actual = module_predictions(sluice_module, folder, resnet18)
    assert actual.schema.names == expected.schema.names
    assert_same_predictions(expected, actual)


def test_logits_and_seed_normalization_match_the_cli(sluice_module, image_dataset, resnet18, tmp_path):
    folder, _ = image_dataset
    expected = cli_predictions(folder, resnet18, tmp_path / "cli", "--logits", "--normalize", "seed", "--topk", "3")
    actual = module_predictions(sluice_module, folder, resnet18, logits=True, normalize="seed", topk=3)
    assert_same_predictions(expected, actual)
    np.testing.assert_allclose(np.array(actual.column("logits").to_pylist()),
                               np.array(expected.column("logits").to_pylist()), rtol=1e-4, atol=1e-4)


def test_int16_pixels_as_spark_reads_them_give_the_same_predictions(sluice_module, image_dataset, resnet18):
    folder, _ = image_dataset
    table = pq.read_table(folder / "b.parquet")
    as_int16 = table.cast(pa.schema([pa.field("image", pa.list_(pa.int16())), pa.field("label", pa.int32())]))
    predictor = sluice_module.BatchPredictor(resnet18, batch_size=BATCH, pass_through=["label"])
    expected = predictor.predict(table.combine_chunks().to_batches()[0])
    actual = predictor.predict(as_int16.combine_chunks().to_batches()[0])
    assert actual.column("topk_labels").equals(expected.column("topk_labels"))
    assert actual.column("topk_scores").equals(expected.column("topk_scores"))


def test_preprocess_then_predict_from_crops_matches_one_pass(sluice_module, image_dataset, resnet18):
    folder, _ = image_dataset
    batch = pq.read_table(folder / "a.parquet").combine_chunks().to_batches()[0]
    one_pass = sluice_module.BatchPredictor(resnet18, batch_size=BATCH, source_path="a").predict(batch)
    crops = sluice_module.BatchPredictor(mode="preprocess", source_path="a", pass_through=["label"]).predict(batch)
    assert crops.schema.field("image").type == pa.binary()  # one HWC uint8 crop a row
    predicted = sluice_module.BatchPredictor(resnet18, mode="predict", image_shape=(224, 224, 3), batch_size=BATCH,
                                             path_column="path", row_column="row", error_column="error").predict(crops)
    assert predicted.column("path").to_pylist() == ["a"] * batch.num_rows
    assert predicted.column("row").to_pylist() == one_pass.column("row").to_pylist()
    assert predicted.column("topk_labels").equals(one_pass.column("topk_labels"))
    assert predicted.column("topk_scores").equals(one_pass.column("topk_scores"))


def test_bad_rows_become_error_rows_and_the_others_are_predicted(sluice_module, resnet18):
    images = [np.full((256, 256, 3), 100, np.uint8).reshape(-1), None, np.zeros(10, np.uint8),
              np.full((256, 256, 3), 50, np.uint8).reshape(-1)]
    batch = pa.record_batch({"image": pa.array(images, pa.list_(pa.uint8())), "id": pa.array([1, 2, 3, 4])})
    out = sluice_module.BatchPredictor(resnet18, batch_size=2, pass_through=["id"], source_path="mem").predict(batch)
    errors = out.column("error").to_pylist()
    assert errors[0] is None and errors[3] is None
    assert "null" in errors[1] and "values" in errors[2]
    assert out.column("label").null_count == 2
    assert out.column("id").to_pylist() == [1, 2, 3, 4]
    assert out.column("row").to_pylist() == [0, 1, 2, 3]


def test_a_missing_image_column_is_a_value_error(sluice_module, resnet18):
    predictor = sluice_module.BatchPredictor(resnet18)
    with pytest.raises(ValueError, match="no column 'image'"):
        predictor.predict(pa.record_batch({"pixels": pa.array([1, 2])}))


def test_an_unreadable_model_is_a_value_error_and_a_missing_one_file_not_found(sluice_module, tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError):
        sluice_module.BatchPredictor(tmp_path / "broken.onnx")
    with pytest.raises(FileNotFoundError, match="missing.onnx does not exist"):
        sluice_module.BatchPredictor(tmp_path / "missing.onnx")


def test_errors_name_keyword_arguments_not_cli_flags(sluice_module, resnet18):
    with pytest.raises(ValueError, match="set crop_size to match the model") as raised:
        sluice_module.BatchPredictor(resnet18, crop_size=112)
    assert "--" not in str(raised.value)


def test_predict_takes_a_table_and_refuses_what_is_not_arrow(sluice_module, image_dataset, resnet18):
    folder, _ = image_dataset
    table = pq.read_table(folder / "a.parquet")
    predictor = sluice_module.BatchPredictor(resnet18, batch_size=BATCH, source_path="a")
    from_table = predictor.predict(table)
    # A fresh predictor: `row` counts on from one call to the next.
    from_batch = sluice_module.BatchPredictor(resnet18, batch_size=BATCH, source_path="a").predict(
        table.combine_chunks().to_batches()[0])
    assert isinstance(from_table, pa.Table)
    for column in ("path", "row", "label"):
        assert from_table.column(column).to_pylist() == from_batch.column(column).to_pylist()
    with pytest.raises(TypeError, match="expected a pyarrow.RecordBatch, got builtins.str"):
        predictor.predict("images.parquet")


def test_output_schema_is_known_before_any_batch(sluice_module, resnet18):
    predictor = sluice_module.BatchPredictor(resnet18, pass_through=["label"], logits=True, variable_size_lists=True)
    schema = predictor.output_schema(pa.schema([("image", pa.list_(pa.uint8())), ("label", pa.int32())]))
    assert schema.names == ["path", "row", "label", "topk_labels", "topk_scores", "logits", "error", "input_label"]
    assert schema.field("logits").type == pa.list_(pa.field("item", pa.float32(), False))


def run_job_on(sluice, path, model, out, reuse):
    from sluice import _native

    options = _native.JobOptions()
    options.input, options.output, options.model = str(path), str(out), str(model)
    options.device, options.batch_size, options.pass_through = "cpu", BATCH, ["label"]
    return json.loads(_native.run_job(options, reuse_backends=reuse))


def test_jobs_in_one_process_reuse_the_loaded_model_with_the_same_predictions(sluice_module, image_dataset,
                                                                             resnet18, tmp_path):
    from sluice import _native

    folder, _ = image_dataset
    _native.release_backends()
    made, reused, _ = _native.backend_cache_counts()
    fresh = [run_job_on(sluice_module, folder / name, resnet18, tmp_path / "fresh", reuse=False)
             for name in ("a.parquet", "b.parquet")]
    assert _native.backend_cache_counts()[:2] == (made, reused), "reuse_backends=False bypasses the cache"
    kept = [run_job_on(sluice_module, folder / name, resnet18, tmp_path / "kept", reuse=True)
            for name in ("a.parquet", "b.parquet")]
    assert _native.backend_cache_counts() == (made + 1, reused + 1, 1)
    assert [r["images"] for r in kept] == [r["images"] for r in fresh] == [48, 20]
    for name in ("a.parquet", "b.parquet"):
        assert_same_predictions(pq.read_table(tmp_path / "fresh" / name), pq.read_table(tmp_path / "kept" / name))

    # Another model (a changed file counts as one) is loaded, and the old one is let go.
    other = tmp_path / "other.onnx"
    other.write_bytes(resnet18.read_bytes())
    run_job_on(sluice_module, folder / "b.parquet", other, tmp_path / "other", reuse=True)
    assert _native.backend_cache_counts() == (made + 2, reused + 1, 1)
    _native.release_backends()
    assert _native.backend_cache_counts()[2] == 0
