#!/usr/bin/env bash
# Per-core decode + resize + crop: `sluice preprocess --cpu-workers 1` vs PIL on the same ~1,000
# JPEGs from `sluice datagen --format jpeg`, in the same run. Results: bench/results/cpu_decode.md.
# Usage: bench/cpu_decode/run.sh [BUILD_DIR] [IMAGES]    (no timings belong in tests)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
images=${2:-1000}
data=$repo/bench/data/cpu_decode_jpeg_$images
mkdir -p "$repo/bench/results"
# Generated every time (a few seconds): data left by an older datagen would be measured silently.
rm -rf "$data"
"$build/sluice" datagen --format jpeg --images "$images" --images-per-file "$images" --seed 0 --out "$data"
# The breakdown tool times sluice's own decode and resize functions; built like the Release build.
breakdown=$build/decode_breakdown
sources=()
for name in image_decoder jpeg_decoder png_decoder bilinear_resampler encoded_image_preprocessor preprocess; do
  sources+=("$repo/src/image/$name.cc")
done
c++ -std=c++20 -O3 -DNDEBUG -I"$repo/src" -I"$repo/include" "$repo/bench/cpu_decode/decode_breakdown.cc" \
  "${sources[@]}" "$repo/src/core/status.cc" -ljpeg -lspng -o "$breakdown"
python3 "$repo/bench/cpu_decode/compare.py" --sluice "$build/sluice" --data "$data" --breakdown "$breakdown" \
  --out "$repo/bench/results/cpu_decode.md"
