#!/usr/bin/env bash
# Per-core reading of seed-format images: streamed pages vs Arrow's list reader, same files, same
# run (bench/cpu_read/compare.py). Results: bench/results/cpu_read.md.
# Usage: bench/cpu_read/run.sh [BUILD_DIR] [IMAGES]    (no timings belong in tests)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
images=${2:-4000}
data=$repo/bench/data/cpu_read_seed
mkdir -p "$repo/bench/results"
# Generated every time: data left by an older datagen would be measured silently. Files of 1,000
# images in row groups of 100, as `sluice datagen` writes the benchmark's format (Snappy).
rm -rf "$data"
"$build/sluice" datagen --images "$images" --seed 0 --out "$data"
python3 "$repo/tools/make_test_model.py" --arch sleep --sleep-seconds 0 --num-classes 1000 --out "$data/sleep0.onnx"
python3 "$repo/bench/cpu_read/compare.py" --sluice "$build/sluice" --data "$data" --model "$data/sleep0.onnx" \
  --images "$images" --out "$repo/bench/results/cpu_read.md"
