#!/usr/bin/env bash
# Per-core reading of seed-format images: streamed pages vs Arrow's list reader, same files, same
# run (bench/cpu_read/compare.py), on the images as `sluice datagen` writes them (dictionary pages,
# as pyarrow and Spark write by default, then Snappy) and on a plain-encoded copy (INT32 pages then
# Snappy). Results: bench/results/cpu_read.md.
# Usage: bench/cpu_read/run.sh [BUILD_DIR] [IMAGES]    (no timings belong in tests)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
images=${2:-4000}
data=$repo/bench/data/cpu_read_seed
mkdir -p "$repo/bench/results"
# Generated every time: data left by an older datagen would be measured silently.
rm -rf "$data"
"$build/sluice" datagen --images "$images" --seed 0 --out "$data/dictionary"
python3 - "$data" <<'PY'
import glob, os, sys
import pyarrow.parquet as pq
data = sys.argv[1]
os.makedirs(f"{data}/plain")
for path in sorted(glob.glob(f"{data}/dictionary/*.parquet")):
    pq.write_table(pq.read_table(path), f"{data}/plain/{os.path.basename(path)}", row_group_size=100,
                   compression="snappy", use_dictionary=False, write_statistics=False)
PY
python3 "$repo/tools/make_test_model.py" --arch sleep --sleep-seconds 0 --num-classes 1000 --out "$data/sleep0.onnx"
python3 "$repo/bench/cpu_read/compare.py" --sluice "$build/sluice" --data "dictionary + Snappy (datagen)=$data/dictionary" \
  --data "plain + Snappy=$data/plain" --model "$data/sleep0.onnx" --images "$images" \
  --out "$repo/bench/results/cpu_read.md"
