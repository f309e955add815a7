#!/usr/bin/env bash
# Issue 3's and 4's GPU measurements, sluice and PyTorch in the same run on the same GPU and data. Run
# it on the GPU machine after `source scripts/gpu_env.sh` (see scripts/gpu_bundle.sh):
#  (data) generate the datasets only: 16,232 seed-format images and 16,232 JPEGs (what b and c need;
#      bench/gpu/device_check.sh runs it in the background while the first steps run);
#  (a) model-only ResNet50, batch 256 and 1000: `sluice model-bench --device cuda` (fp16, tf32,
#      fp32; fp16 and tf32 also with --cudnn-algorithms timed, then fp16 batch 256 once more with the
#      timed choices from --cudnn-cache) vs PyTorch eager channels_last (fp16,
#      tf32, fp32), every PyTorch configuration in one process; the batch-256 runs of both also
#      time each op (sluice's --profile: profile-*.json here; PyTorch's torch.profiler by aten op;
#      the tables in the report);
#  (b) end-to-end on the seed-format images: `sluice run` fp16 and tf32 with GPU utilization sampled
#      by nvidia-smi, vs the PyTorch DataLoader pipelines: as written (fp32, which PyTorch runs with
#      TF32 convolutions by default, hence sluice's tf32; and fp16) and tuned (fp16);
#  (c) end-to-end from JPEG bytes: `sluice run --decode cpu|gpu|auto` (fp16) vs the PyTorch
#      DataLoader with 15 PIL workers, torchvision's transforms as specified and tuned (fp16);
#  (d) model-only fp16, batch 256: sluice vs torch.compile(mode="max-autotune"), whose compilation
#      takes minutes (not in the default SECTIONS; run it alone: SECTIONS=d).
# Every command's wall time is taken from outside too (whole_job_seconds: process start to exit,
# PyTorch's import and CUDA start included), beside the times each side reports itself.
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
PEERS=bench/gpu/peers
section() { [[ " $SECTIONS " == *" $1 "* ]]; }
mkdir -p "$DATA" "$RESULTS_DIR"
LINES="$RESULTS_DIR/gpu.jsonl"
: >"$LINES"

record() { echo "$1" | tee -a "$LINES"; }

# The PyTorch peers run with the loader path they had before gpu_env.sh put sluice's libraries (and a
# cuDNN it found) first: torch must load the cuDNN and cuBLAS it ships with.
peer() { env LD_LIBRARY_PATH="${SLUICE_PEER_LD_LIBRARY_PATH-${LD_LIBRARY_PATH:-}}" python "$@"; }

# walled COMMAND...: runs it and passes its JSON lines on as they come, each with whole_job_seconds
# added: the wall time from the command's start to the line, taken from outside (for a command that
# prints its result as it ends, its whole run; for one that prints several, cumulative). Lines that
# are not JSON are dropped; a failed command says so on stderr.
walled() {
  local start
  start=$(date +%s.%N)
  "$@" | START=$start python -u -c '
import json, os, sys, time
start = float(os.environ["START"])
for line in sys.stdin:
    if line.strip().startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        record["whole_job_seconds"] = time.time() - start
        print(json.dumps(record), flush=True)
' || echo "run.sh: failed: $*" >&2
}

# dataset DIR DATAGEN_ARGS...: generates DIR once; a marker written after datagen succeeds tells a
# complete dataset from one a stopped run left half-written. A lock makes a second caller wait for
# the first (device_check.sh generates in the background while other steps run).
dataset() {
  local dir=$1
  shift
  local made="images $IMAGES, seed 0, $PHOTOS $*"
  (
    flock 9
    [ -d "$dir" ] && [ "$(cat "$dir.complete" 2>/dev/null)" = "$made" ] && exit 0
    rm -rf "$dir" "$dir.tmp" "$dir.complete"
    echo "run.sh: generating $dir ($made)"
    "$SLUICE" datagen --out "$dir.tmp" --images "$IMAGES" --seed 0 --no-progress $PHOTOS "$@"
    mv "$dir.tmp" "$dir" && echo "$made" >"$dir.complete"
  ) 9>"$dir.lock"
}

[ -f "$DATA/resnet50.onnx" ] || python tools/make_test_model.py --arch resnet50 --out "$DATA/resnet50.onnx" --seed 0
if section data; then
  dataset "$DATA/seed"
  dataset "$DATA/jpeg" --format jpeg
  exit 0
fi
"$SLUICE" info | tee "$RESULTS_DIR/info.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee -a "$RESULTS_DIR/info.txt"

# sluice_run NAME SUMMARY_KIND RUN_ARGS...: `sluice run` with GPU utilization sampled every 100 ms,
# then one JSON line from its report.
sluice_run() {
  local name=$1 kind=$2
  shift 2
  rm -rf "$DATA/out-$name" "$DATA/run-$name.json"  # no earlier run's report for this one's
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$DATA/util-$name.txt" &
  local sampler=$!
  local start end
  start=$(date +%s.%N)
  "$SLUICE" run --model "$DATA/resnet50.onnx" --output "$DATA/out-$name" --device cuda \
    --report "$DATA/run-$name.json" --no-progress "$@" || echo "run.sh: sluice run $name failed" >&2
  end=$(date +%s.%N)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  [ -f "$DATA/run-$name.json" ] || return 0
  record "$(python - "$DATA/run-$name.json" "$DATA/util-$name.txt" "$kind" "$(python -c "print($end - $start)")" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
samples = [float(v) for v in open(sys.argv[2]).read().split() if v.strip().isdigit()]
busy = [s for s in samples if s > 0]
configuration = report["configuration"]
first = report.get("first_batch_seconds")
batch = configuration.get("batch_size", 256)
steady = None
if first is not None and first >= 0 and report["seconds"] > first and report["images"] > batch:
    steady = (report["images"] - batch) / (report["seconds"] - first)  # the images after the first batch
line = {"sluice": sys.argv[3], "precision": configuration["precision"],
        "inference_workers": configuration.get("inference_workers"), "images": report["images"],
        "errors": report.get("errors"), "seconds": report["seconds"], "whole_job_seconds": float(sys.argv[4]),
        "startup_seconds": report.get("startup_seconds"), "first_batch_seconds": first,
        "startup_preprocessed_images": report.get("startup_preprocessed_images"),
        "backend_startup": report.get("backend_startup"), "images_per_second": report["images_per_second"],
        "steady_images_per_second": steady, "gpu_utilization_mean": sum(samples) / max(len(samples), 1),
        "gpu_utilization_while_busy": sum(busy) / max(len(busy), 1), "stages": report["stages"],
        "bottleneck": report.get("bottleneck"), "device": report.get("device")}
if sys.argv[3] == "run-jpeg":
    line.update(decode=configuration.get("decode"), decoded=report.get("decoded"),
                gpu_decoder=report.get("gpu_decoder"), gpu_decode_refusals=report.get("gpu_decode_refusals"))
print(json.dumps(line))
PY
)"
}

# profile PRECISION BATCH ALGORITHMS: model-bench's --profile flag for batch 256 (every op timed on
# its own after the timed batches, the file kept in RESULTS_DIR, the table in the log), else nothing.
profile() {
  ((${2} == 256)) && echo "--profile $RESULTS_DIR/profile-$1-$2-$3.json"
  return 0
}

if section a; then
  echo "== (a) model-only"
  configs=()
  for batch in 256 1000; do
    for precision in fp16 tf32 fp32; do
      configs+=(--config "$precision:$batch")
      iterations=$((ITERATIONS * 256 / batch + 1))
      record "$(walled "$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision "$precision" \
        --batch-size "$batch" --iterations "$iterations" --warmup 5 --json $(profile "$precision" "$batch" heuristic))"
    done
  done
  while read -r line; do record "$line"; done < <(walled peer "$PEERS/torch_model.py" "${configs[@]}" \
    --iterations "$ITERATIONS" --profile)
  # cuDNN's algorithms timed at start-up instead of the heuristics' first that runs: last, since timing
  # every candidate of every convolution makes the longest start-ups. The choices go to a cache that
  # starts empty; fp16 at batch 256 then runs once more, from the cache, to show that start-up.
  cache="$RESULTS_DIR/cudnn-algorithms.tsv"
  rm -f "$cache"
  timed() {
    local precision=$1 batch=$2
    record "$(walled "$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision "$precision" \
      --batch-size "$batch" --iterations $((ITERATIONS * 256 / batch + 1)) --warmup 5 --cudnn-algorithms timed \
      --cudnn-cache "$cache" --json ${3-$(profile "$precision" "$batch" timed)})"
  }
  for batch in 256 1000; do
    for precision in fp16 tf32; do timed "$precision" "$batch"; done
  done
  timed fp16 256 ""  # not profiled again: the same algorithms
fi

if section b; then
  echo "== (b) end-to-end, $IMAGES seed-format images"
  dataset "$DATA/seed"
  for precision in fp16 tf32; do
    sluice_run "$precision" run --input "$DATA/seed" --precision "$precision" --normalize seed
  done
  for variant in as-written:fp32 as-written:fp16 tuned:fp16; do
    record "$(walled peer "$PEERS/torch_pipeline.py" --input "$DATA/seed" --variant "${variant%:*}" \
      --precision "${variant#*:}" --workers 15)"
  done
fi

if section c; then
  echo "== (c) end-to-end from JPEG bytes, $IMAGES images: --decode cpu, gpu, auto vs PyTorch DataLoader (PIL)"
  dataset "$DATA/jpeg" --format jpeg
  for decode in cpu gpu auto; do
    sluice_run "jpeg-$decode" run-jpeg --input "$DATA/jpeg" --precision fp16 --decode "$decode"
  done
  for variant in as-specified tuned; do
    record "$(walled peer "$PEERS/torch_jpeg_pipeline.py" --input "$DATA/jpeg" --variant "$variant" \
      --precision fp16 --workers 15)"
  done
fi

if section d; then
  echo "== (d) model-only fp16, batch 256: sluice vs torch.compile max-autotune"
  record "$(walled "$SLUICE" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision fp16 \
    --batch-size 256 --iterations "$ITERATIONS" --warmup 5 --json)"
  record "$(walled peer "$PEERS/torch_model.py" --config fp16:256 --iterations "$ITERATIONS" --compile)"
fi

python bench/gpu/report.py "$LINES" >"$RESULTS_DIR/gpu.md"
cat "$RESULTS_DIR/gpu.md"
