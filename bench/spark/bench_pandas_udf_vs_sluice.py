"""Benchmark (a): the reference benchmark's Spark pipeline vs Spark + sluice, same data, cores, model.

Reference ("Standard" configuration, written as the benchmark did): read Parquet, a pandas UDF that
crops 224x224 from the centre of each 256x256x3 image and normalizes it with numpy (Resize(256) is a
no-op on 256x256; ImageNet mean/std on 0-255 values, the benchmark's quirk), then a pandas UDF that
runs the model (onnxruntime, CPU) and returns raw logits; both UDFs in one fused stage, with
spark.sql.execution.arrow.maxRecordsPerBatch = 1000. On CPU the model runs on chunks of
--model-batch images (1000 fp32 ResNet50 activations at once do not fit a small machine).

sluice: the same read, then sluice.spark.predict(..., normalize="seed", logits=True) (the native
engine in each task, fed Arrow batches), written the same way.

Both write Parquet (logits included) and run on local[N] with one core per task. Prints a JSON line
per pipeline and the ratio.
"""
import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def reference_pipeline(spark, images, model_path, out, model_batch, threads):
    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    @pandas_udf(ArrayType(FloatType()))
    def preprocess_udf(image_series: pd.Series) -> pd.Series:
        def preprocess(flat):
            image = np.asarray(flat, dtype=np.float32).reshape(256, 256, 3)   # Resize(256): no-op
            top = left = (256 - 224) // 2
            crop = image[top:top + 224, left:left + 224]                       # CenterCrop(224)
            normalized = (crop - mean) / std                                   # Normalize on 0-255 values
            return normalized.transpose(2, 0, 1).reshape(-1)                   # CHW, as the tensor
        return image_series.map(preprocess)

    @pandas_udf(ArrayType(FloatType()))
    def predict_udf(preprocessed: pd.Series) -> pd.Series:
        import onnxruntime as ort

        global _session
        if "_session" not in globals():
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            _session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        batch = np.stack(preprocessed.to_numpy()).reshape(-1, 3, 224, 224).astype(np.float32)
        name = _session.get_inputs()[0].name
        logits = [_session.run(None, {name: batch[i:i + model_batch]})[0] for i in range(0, len(batch), model_batch)]
        return pd.Series(list(np.concatenate(logits)))

    df = spark.read.parquet(images)
    result = df.withColumn("preprocessed", preprocess_udf(F.col("image"))).withColumn(
        "logits", predict_udf(F.col("preprocessed"))).select("label", "logits")
    result.write.mode("overwrite").parquet(out)


def sluice_pipeline(spark, images, model_path, out, model_batch):
    from sluice import spark as sluice_spark

    df = spark.read.parquet(images)
    sluice_spark.predict(df, model=model_path, batch_size=model_batch, normalize="seed", logits=True,
                         pass_through=["label"]).write.mode("overwrite").parquet(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder from make_bench_data.py (images/, resnet50.onnx)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--model-batch", type=int, default=64)
    parser.add_argument("--only", choices=("reference", "sluice"))
    args = parser.parse_args()
    from sluice import spark as sluice_spark
    import pyarrow.parquet as pq

    images = os.path.join(args.data, "images")
    model = os.path.join(args.data, "resnet50.onnx")
    count = sum(pq.ParquetFile(os.path.join(images, f)).metadata.num_rows for f in os.listdir(images))
    spark = (sluice_spark.session_builder(f"local[{args.cores}]", "bench-spark")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
             .config("spark.driver.memory", "8g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    try:
        for name in ("reference", "sluice"):
            if args.only and args.only != name:
                continue
            out = os.path.join(args.data, f"out-{name}")
            shutil.rmtree(out, ignore_errors=True)
            start = time.time()
            if name == "reference":
                reference_pipeline(spark, images, model, out, args.model_batch, threads=1)
            else:
                sluice_pipeline(spark, images, model, out, args.model_batch)
            seconds = time.time() - start
            rows = pq.read_table(out, columns=["label"]).num_rows
            assert rows == count, f"{name} wrote {rows} rows of {count}"
            results[name] = {"pipeline": name, "images": count, "seconds": round(seconds, 2),
                             "images_per_second": round(count / seconds, 2), "cores": args.cores}
            print(json.dumps(results[name]), flush=True)
    finally:
        spark.stop()
    if len(results) == 2:
        print(json.dumps({"ratio_sluice_over_reference": round(results["sluice"]["images_per_second"] /
                                                               results["reference"]["images_per_second"], 2)}))


if __name__ == "__main__":
    sys.exit(main())
