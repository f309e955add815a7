#!/usr/bin/env bash
# Issue 3's GPU measurements, sluice and PyTorch in the same run on the same GPU and data. Run it on
# the GPU machine after `source scripts/gpu_env.sh` (see scripts/gpu_bundle.sh):
#  (a) model-only ResNet50, batch 256 and 1000: `sluice model-bench --device cuda` (fp16, tf32,
#      fp32) vs PyTorch eager channels_last (fp16, tf32, fp32);
#  (b) end-to-end on 16,232 seed-format images: `sluice run` (fp16, fp32) with GPU utilization
#      sampled by nvidia-smi, vs the PyTorch DataLoader pipelines (as written, tuned).
# Results: JSON lines and a Markdown table in RESULTS_DIR (default bench/results/gpu).
# Usage: bench/gpu/run.sh   (env: RESULTS_DIR, DATA=/tmp/sluice-bench, ITERATIONS=50, IMAGES=16232)
set -euo pipefail
SLUICE=${SLUICE_BIN:-build/sluice}
DATA=${DATA:-/tmp/sluice-bench}
RESULTS_DIR=${RESULTS_DIR:-bench/results/gpu}
ITERATIONS=${ITERATIONS:-50}
IMAGES=${IMAGES:-16232}
PHOTOS=${SLUICE_PHOTOS:+--photos $SLUICE_PHOTOS}
mkdir -p "$DATA" "$RESULTS_DIR"
LINES="$RESULTS_DIR/gpu.jsonl"
: >"$LINES"

"$SLUICE" info | tee "$RESULTS_DIR/info.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee -a "$RESULTS_DIR/info.txt"
[ -f "$DATA/resnet50.onnx" ] || python tools/make_test_model.py --arch resnet50 --out "$DATA/resnet50.onnx" --seed 0
[ -d "$DATA/seed" ] || "$SLUICE" datagen --out "$DATA/seed" --images "$IMAGES" --seed 0 $PHOTOS

record() { echo "$1" | tee -a "$LINES"; }

echo "== (a) model-only"
for batch in 256 1000; do
  for precision in fp16 tf32 fp32; do
    iterations=$((ITERATIONS * 256 / batch + 1))
    record "$("$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision "$precision" \
      --batch-size "$batch" --iterations "$iterations" --warmup 5 --json)"
    record "$(python bench/gpu/peers/torch_model.py --precision "$precision" --batch-size "$batch" \
      --iterations "$iterations")"
  done
done

echo "== (b) end-to-end, $IMAGES images"
for precision in fp16 fp32; do
  rm -rf "$DATA/out-$precision"
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$DATA/util-$precision.txt" &
  sampler=$!
  "$SLUICE" run --input "$DATA/seed" --model "$DATA/resnet50.onnx" --output "$DATA/out-$precision" \
    --device cuda --precision "$precision" --normalize seed --report "$DATA/run-$precision.json" --no-progress
  kill "$sampler"
  record "$(python - "$DATA/run-$precision.json" "$DATA/util-$precision.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
samples = [float(v) for v in open(sys.argv[2]).read().split() if v.strip().isdigit()]
busy = [s for s in samples if s > 0]
print(json.dumps({"sluice": "run", "precision": report["configuration"]["precision"], "images": report["images"],
                  "seconds": report["seconds"], "startup_seconds": report["startup_seconds"],
                  "first_batch_seconds": report["first_batch_seconds"],
                  "images_per_second": report["images_per_second"],
                  "steady_images_per_second": report["images"] / (report["seconds"] - report["first_batch_seconds"]),
                  "gpu_utilization_mean": sum(samples) / max(len(samples), 1),
                  "gpu_utilization_while_busy": sum(busy) / max(len(busy), 1),
                  "stages": report["stages"], "bottleneck": report.get("bottleneck")}))
PY
)"
done
for variant in as-written tuned; do
  for precision in fp32 fp16; do
    [ "$variant" = tuned ] && [ "$precision" = fp32 ] && continue
    record "$(python bench/gpu/peers/torch_pipeline.py --input "$DATA/seed" --variant "$variant" \
      --precision "$precision" --workers 15)"
  done
done

python bench/gpu/report.py "$LINES" >"$RESULTS_DIR/gpu.md"
cat "$RESULTS_DIR/gpu.md"
