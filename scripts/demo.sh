#!/usr/bin/env bash
# `make demo`: a few hundred generated images in the benchmark's format, a seeded ResNet50, one
# `sluice run`, then the summary and the first predictions.
set -euo pipefail
BUILD_DIR=${1:-build}
SLUICE="$BUILD_DIR/sluice"
DEMO=demo-data
mkdir -p "$DEMO"

if [ ! -f "$DEMO/images/part-00002.parquet" ]; then
  echo "== generating 300 images (3 files) from real photos"
  "$SLUICE" datagen --out "$DEMO/images" --images 300 --images-per-file 100 --seed 1
fi
if [ ! -f "$DEMO/resnet50.onnx" ]; then
  echo "== writing a seeded ResNet50 (torchvision layout) to $DEMO/resnet50.onnx"
  python3 tools/make_test_model.py --arch resnet50 --out "$DEMO/resnet50.onnx" --seed 1
fi

rm -rf "$DEMO/predictions"
echo "== sluice run"
"$SLUICE" run --input "$DEMO/images" --model "$DEMO/resnet50.onnx" --output "$DEMO/predictions" \
  --report "$DEMO/report.json" --progress

echo "== first predictions ($DEMO/predictions/part-00000.parquet)"
python3 - "$DEMO/predictions/part-00000.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
rows = pq.read_table(sys.argv[1]).slice(0, 5).to_pylist()
print(f"{'row':>4} {'label':>6}  top-5 labels (softmax scores)")
for r in rows:
    pairs = ", ".join(f"{l} ({s:.3f})" for l, s in zip(r["topk_labels"], r["topk_scores"]))
    print(f"{r['row']:>4} {r['label']:>6}  {pairs}")
print("(a seeded, untrained ResNet50: the classes are arbitrary; the pipeline is real)")
PY
echo "== report: $DEMO/report.json"
