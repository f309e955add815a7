#!/usr/bin/env bash
# Issue 3's GPU measurements, sluice and PyTorch in the same run on the same GPU and data. Run it on
# the GPU machine after `source scripts/gpu_env.sh` (see scripts/gpu_bundle.sh):
#  (a) model-only ResNet50, batch 256 and 1000: `sluice model-bench --device cuda` (fp16, tf32,
#      fp32; fp16 and tf32 also with --cudnn-algorithms timed) vs PyTorch eager channels_last (fp16,
#      tf32, fp32);
#  (b) end-to-end on 16,232 seed-format images: `sluice run` (fp16, fp32) with GPU utilization
#      sampled by nvidia-smi, vs the PyTorch DataLoader pipelines (as written, tuned);
#  (c) end-to-end from JPEG bytes (issue 4): `sluice run --decode cpu|gpu|auto` (fp16) on 16,232
#      images from `sluice datagen --format jpeg`, vs the PyTorch DataLoader with 15 PIL workers
#      (bench/gpu/peers/torch_jpeg_pipeline.py, fp16);
#  (d) model-only fp16, batch 256: sluice vs torch.compile(mode="max-autotune"), whose compilation
#      takes minutes (not in the default SECTIONS; run it alone: SECTIONS=d).
# Results: JSON lines and a Markdown table in RESULTS_DIR (default bench/results/gpu).
# Usage: bench/gpu/run.sh   (env: RESULTS_DIR, DATA=/tmp/sluice-bench, ITERATIONS=50, IMAGES=16232,
#        SECTIONS="a b c" to run only some of them)
set -euo pipefail
SLUICE=${SLUICE_BIN:-build/sluice}
DATA=${DATA:-/tmp/sluice-bench}
RESULTS_DIR=${RESULTS_DIR:-bench/results/gpu}
ITERATIONS=${ITERATIONS:-50}
IMAGES=${IMAGES:-16232}
PHOTOS=${SLUICE_PHOTOS:+--photos $SLUICE_PHOTOS}
SECTIONS=${SECTIONS:-a b c}
section() { [[ " $SECTIONS " == *" $1 "* ]]; }
mkdir -p "$DATA" "$RESULTS_DIR"
LINES="$RESULTS_DIR/gpu.jsonl"
: >"$LINES"

"$SLUICE" info | tee "$RESULTS_DIR/info.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee -a "$RESULTS_DIR/info.txt"
[ -f "$DATA/resnet50.onnx" ] || python tools/make_test_model.py --arch resnet50 --out "$DATA/resnet50.onnx" --seed 0
if section b; then
  [ -d "$DATA/seed" ] || "$SLUICE" datagen --out "$DATA/seed" --images "$IMAGES" --seed 0 $PHOTOS
fi

record() { echo "$1" | tee -a "$LINES"; }

section a && echo "== (a) model-only"
section a && for batch in 256 1000; do
  for precision in fp16 tf32 fp32; do
    iterations=$((ITERATIONS * 256 / batch + 1))
    record "$("$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision "$precision" \
      --batch-size "$batch" --iterations "$iterations" --warmup 5 --json)"
    record "$(python bench/gpu/peers/torch_model.py --precision "$precision" --batch-size "$batch" \
      --iterations "$iterations")"
  done
done
# cuDNN's algorithms timed at start-up instead of the heuristics' first that runs: last, since timing
# every candidate of every convolution makes the longest start-ups.
section a && for batch in 256 1000; do
  for precision in fp16 tf32; do
    iterations=$((ITERATIONS * 256 / batch + 1))
    record "$("$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision "$precision" \
      --batch-size "$batch" --iterations "$iterations" --warmup 5 --cudnn-algorithms timed --json)"
  done
done

section b && echo "== (b) end-to-end, $IMAGES images"
# precision:inference workers. Two workers on one GPU split the copies into pinned memory between
# two threads and interleave two streams of batches.
section b && for variant in fp16:1 fp32:1 fp16:2; do
  precision=${variant%:*} workers=${variant#*:}
  name=$precision-$workers
  rm -rf "$DATA/out-$name"
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$DATA/util-$name.txt" &
  sampler=$!
  "$SLUICE" run --input "$DATA/seed" --model "$DATA/resnet50.onnx" --output "$DATA/out-$name" \
    --device cuda --precision "$precision" --inference-workers "$workers" --normalize seed \
    --report "$DATA/run-$name.json" --no-progress || echo "run.sh: sluice run $name failed" >&2
  kill "$sampler"
  record "$(python - "$DATA/run-$name.json" "$DATA/util-$name.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
samples = [float(v) for v in open(sys.argv[2]).read().split() if v.strip().isdigit()]
busy = [s for s in samples if s > 0]
print(json.dumps({"sluice": "run", "precision": report["configuration"]["precision"],
                  "inference_workers": report["configuration"]["inference_workers"], "images": report["images"],
                  "seconds": report["seconds"], "startup_seconds": report["startup_seconds"],
                  "first_batch_seconds": report["first_batch_seconds"],
                  "startup_preprocessed_images": report.get("startup_preprocessed_images"),
                  "backend_startup": report.get("backend_startup"),
                  "images_per_second": report["images_per_second"],
                  "steady_images_per_second": report["images"] / (report["seconds"] - report["first_batch_seconds"]),
                  "gpu_utilization_mean": sum(samples) / max(len(samples), 1),
                  "gpu_utilization_while_busy": sum(busy) / max(len(busy), 1),
                  "stages": report["stages"], "bottleneck": report.get("bottleneck")}))
PY
)"
done
section b && for variant in as-written tuned; do
  for precision in fp32 fp16; do
    [ "$variant" = tuned ] && [ "$precision" = fp32 ] && continue
    record "$(python bench/gpu/peers/torch_pipeline.py --input "$DATA/seed" --variant "$variant" \
      --precision "$precision" --workers 15)"
  done
done

if section c; then
  echo "== (c) end-to-end from JPEG bytes, $IMAGES images: --decode cpu, gpu, auto vs PyTorch DataLoader (PIL)"
  [ -d "$DATA/jpeg" ] || "$SLUICE" datagen --format jpeg --out "$DATA/jpeg" --images "$IMAGES" --seed 0 $PHOTOS
  for decode in cpu gpu auto; do
    rm -rf "$DATA/out-jpeg-$decode"
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$DATA/util-jpeg-$decode.txt" &
    sampler=$!
    "$SLUICE" run --input "$DATA/jpeg" --model "$DATA/resnet50.onnx" --output "$DATA/out-jpeg-$decode" \
      --device cuda --precision fp16 --decode "$decode" --report "$DATA/run-jpeg-$decode.json" --no-progress ||
      echo "run.sh: sluice run --decode $decode failed" >&2
    kill "$sampler"
    record "$(python - "$DATA/run-jpeg-$decode.json" "$DATA/util-jpeg-$decode.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
samples = [float(v) for v in open(sys.argv[2]).read().split() if v.strip().isdigit()]
print(json.dumps({"sluice": "run-jpeg", "decode": report["configuration"]["decode"],
                  "precision": report["configuration"]["precision"], "images": report["images"],
                  "errors": report["errors"], "seconds": report["seconds"],
                  "first_batch_seconds": report["first_batch_seconds"],
                  "startup_seconds": report["startup_seconds"],
                  "startup_preprocessed_images": report.get("startup_preprocessed_images"),
                  "backend_startup": report.get("backend_startup"),
                  "images_per_second": report["images_per_second"], "decoded": report["decoded"],
                  "gpu_decoder": report["gpu_decoder"],
                  "gpu_utilization_mean": sum(samples) / max(len(samples), 1),
                  "stages": report["stages"], "bottleneck": report.get("bottleneck")}))
PY
)"
  done
  record "$(python bench/gpu/peers/torch_jpeg_pipeline.py --input "$DATA/jpeg" --precision fp16 --workers 15)"
fi

if section d; then
  echo "== (d) model-only fp16, batch 256: sluice vs torch.compile max-autotune"
  record "$("$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision fp16 \
    --batch-size 256 --iterations "$ITERATIONS" --warmup 5 --json)"
  record "$(python bench/gpu/peers/torch_model.py --precision fp16 --batch-size 256 --iterations "$ITERATIONS" \
    --compile)"
fi

python bench/gpu/report.py "$LINES" >"$RESULTS_DIR/gpu.md"
cat "$RESULTS_DIR/gpu.md"
