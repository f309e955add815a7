"""sluice: offline batch inference over image datasets, native engine with Python and Spark front ends.

    import sluice
    predictor = sluice.BatchPredictor(model="resnet50.onnx", batch_size=64)
    out = predictor.predict(record_batch)            # one pyarrow.RecordBatch in, predictions out
    for out in predictor.map_batches(batches): ...   # pipelined: preprocessing overlaps inference

Spark: `sluice.spark.predict(df, model=...)`; a whole job: `python3 -m sluice.spark_job`.
"""
from sluice.predictor import BatchPredictor, has_cuda

__all__ = ["BatchPredictor", "has_cuda"]
