"""Benchmark (b): framework overhead. 16 batches through a stage that sleeps 1 s per batch, with 16
parallel slots: the ideal is about 1 s (the reference benchmark measured Spark at 128.9 s and Ray
Data at 4.4 s).

Two Spark variants, both on local[16] (16 task slots; sleeping needs no core, so a 2-core machine
can hold them), 16 partitions of 1,000 rows, maxRecordsPerBatch 1,000, so exactly 16 batches:
  pandas_udf  the benchmark's shape: a scalar pandas UDF that sleeps 1 s per batch;
  map_in_arrow  the path sluice.spark.predict takes (mapInArrow over Arrow batches), with the engine
              replaced by a 1 s sleep per batch: Spark's overhead on sluice's path, not the engine's.
The sluice CLI is not measured: its only model stage is the ONNX executor, which has no sleep op, and
adding one to the engine for a benchmark is not allowed; see bench/results/spark.md.

Prints one JSON line per variant: seconds for the job (session already up) and overhead above 1 s.
"""
import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--rows-per-batch", type=int, default=1000)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from sluice import spark as sluice_spark

    start = time.time()
    spark = (sluice_spark.session_builder(f"local[{args.batches}]", "bench-sleep")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.rows_per_batch))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(json.dumps({"session_startup_seconds": round(time.time() - start, 2)}), flush=True)

    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    sleep = args.sleep

    @pandas_udf("long")
    def sleep_udf(values: pd.Series) -> pd.Series:
        time.sleep(sleep)
        return values

    def sleep_batches(batches):
        for batch in batches:
            time.sleep(sleep)
            yield batch

    df = spark.range(0, args.batches * args.rows_per_batch, numPartitions=args.batches).cache()
    df.count()  # materialize the input so that only the sleep stage is timed
    variants = {
        "pandas_udf": lambda: df.select(sleep_udf(F.col("id")).alias("id")),
        "map_in_arrow": lambda: df.mapInArrow(sleep_batches, df.schema),
    }
    try:
        for name, build in variants.items():
            timings = []
            for _ in range(args.repeats):
                begin = time.time()
                build().write.format("noop").mode("overwrite").save()
                timings.append(time.time() - begin)
            best = min(timings)
            print(json.dumps({"variant": name, "batches": args.batches, "slots": args.batches,
                              "seconds_each_run": [round(t, 2) for t in timings], "best_seconds": round(best, 2),
                              "overhead_above_ideal_seconds": round(best - sleep, 2)}), flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
