#!/usr/bin/env bash
# A whole GPU session in one device command, sized for today's lease: 15 minutes of device time a
# session, a machine's start taking 1-2 of them and one command at most 10. Steps run most telling
# first, each under its own time limit and all under BUDGET seconds, so that a step that hangs or
# fails costs only its own limit and what ran still comes back:
#   smoke   sluice model-bench fp16 (does the CUDA backend load ResNet50 and run at all)
#   gtest   sluice_cuda_tests (every kernel and fused path against the CPU reference)
#   a, b    bench/gpu/run.sh sections a (model-only vs PyTorch eager) and b (end-to-end, seed format)
#   c       section c (end-to-end from JPEG bytes, --decode cpu|gpu|auto vs PIL)
#   pytest  tests/e2e/test_devices.py and test_gpu_decode.py (the real binary, GPU vs CPU)
#   d       section d (torch.compile), only when enough time is left
# The datasets of b and c are generated in the background from the start (run.sh section data), so
# that they are ready when b begins. After every step the results so far are in $OUT (gpu.jsonl,
# gpu.md), so a command cut short still returns what it measured.
# Use: scripts/gpu_bundle.sh here, then the device tool's run with carry [".gpu"], timeout_s 600 and
# the command `bash bench/gpu/device_check.sh` (env: BUDGET=540 seconds, STEPS="smoke gtest a b c
# pytest d"). With the machine still warm, a second, shorter command can run what the first had no
# time for, e.g. `STEPS="pytest" BUDGET=200 bash bench/gpu/device_check.sh` (the data stays in DATA).
# Comes back in $OUT: summary.txt (a line per step: status and seconds, then the results tables),
# log.txt (every step's output), gpu.jsonl, gpu.md, details.tar.gz (job reports, GPU utilization
# samples, gtest and pytest XML, cuDNN's logs of the smoke and gtest steps).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/sluice-device-out}
BUDGET=${BUDGET:-540}
STEPS=${STEPS:-smoke gtest a b c pytest d}
WORK=/tmp/sluice-device-work
DATA=${DATA:-/tmp/sluice-bench}
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK" "$DATA"
deadline=$((SECONDS + BUDGET))
SUMMARY="$OUT/summary.txt" LOG="$OUT/log.txt"
: >"$SUMMARY"
: >"$LOG"
source scripts/gpu_env.sh >>"$LOG" 2>&1
# cuDNN's log only where it tells why a call was refused (smoke, gtest): with every process writing
# one file, the benchmarks' logs would overwrite each other and swell what comes back.
unset CUDNN_LOGLEVEL_DBG CUDNN_LOGDEST_DBG
export PYTHONUNBUFFERED=1 DATA WORK

# The results so far, into $OUT: called after every step.
collect() {
  cat "$WORK"/results-*/gpu.jsonl >"$OUT/gpu.jsonl" 2>/dev/null
  python bench/gpu/report.py "$OUT/gpu.jsonl" >"$OUT/gpu.md" 2>>"$LOG"
}

# step NAME LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds (less when the budget is nearly
# spent; skipped when under 20 s are left), appending its output to the log.
step() {
  local name=$1 limit=$2
  shift 2
  [[ " $STEPS " == *" $name "* ]] || return 0
  local left=$((deadline - SECONDS - 10))
  if ((left < 20)); then
    echo "$name: skipped, out of time" | tee -a "$SUMMARY"
    return 0
  fi
  ((limit > left)) && limit=$left
  local start=$SECONDS
  echo "===== $name (limit ${limit}s): $*" >>"$LOG"
  timeout --kill-after=5 "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  local status="ok"
  ((rc == 124 || rc == 137)) && status="TIMED OUT after ${limit}s"
  ((rc != 0 && rc != 124 && rc != 137)) && status="FAILED (exit $rc)"
  echo "$name: $status in $((SECONDS - start))s" | tee -a "$SUMMARY"
  collect
}

# The steps run under timeout(1), which takes a command, not a shell function: pytest_gpu is exported.
pytest_gpu() {
  local parallel=()
  python -c 'import xdist' 2>/dev/null && parallel=(-n 4)
  python -m pytest -q -rs "${parallel[@]}" -p no:cacheprovider --junitxml="$WORK/pytest.xml" \
    tests/e2e/test_devices.py tests/e2e/test_gpu_decode.py
}
export -f pytest_gpu

{
  date -u
  nvidia-smi
  df -h /dev/shm "$DATA"
  "$SLUICE_BIN" info
} >>"$LOG" 2>&1
[ -f "$DATA/resnet50.onnx" ] ||
  python tools/make_test_model.py --arch resnet50 --out "$DATA/resnet50.onnx" --seed 0 >>"$LOG" 2>&1
datagen_pid=
if [[ " $STEPS " == *" b "* || " $STEPS " == *" c "* ]]; then
  # In its own session, so that stopping it at the end stops datagen too, lock and all.
  setsid nice -n 5 env SECTIONS=data RESULTS_DIR="$WORK/results-data" bash bench/gpu/run.sh \
    >"$WORK/datagen.log" 2>&1 &
  datagen_pid=$!
fi

step smoke 90 env CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG="$WORK/cudnn-smoke.log" \
  "$SLUICE_BIN" model-bench --model "$DATA/resnet50.onnx" --device cuda --precision fp16 \
  --batch-size 256 --iterations 20 --warmup 3 --json
step gtest 150 env CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG="$WORK/cudnn-gtest.log" \
  "$SLUICE_GPU/bin/sluice_cuda_tests" --gtest_output="xml:$WORK/gtest.xml"
step a 150 env SECTIONS=a RESULTS_DIR="$WORK/results-a" bash bench/gpu/run.sh
step b 150 env SECTIONS=b RESULTS_DIR="$WORK/results-b" bash bench/gpu/run.sh
step c 120 env SECTIONS=c RESULTS_DIR="$WORK/results-c" bash bench/gpu/run.sh
step pytest 200 bash -c pytest_gpu
((deadline - SECONDS > 240)) && step d 200 env SECTIONS=d RESULTS_DIR="$WORK/results-d" bash bench/gpu/run.sh
[ -n "$datagen_pid" ] && { kill -- -"$datagen_pid" 2>/dev/null || kill "$datagen_pid" 2>/dev/null; }

collect
cp "$DATA"/run-*.json "$DATA"/util-*.txt "$WORK"/ 2>/dev/null
tar -C "$WORK" -czf "$OUT/details.tar.gz" . 2>>"$LOG"
{
  echo
  cat "$OUT/gpu.md"
} >>"$SUMMARY"
echo "===== summary"
cat "$SUMMARY"
grep -E "^\[  FAILED  \]|^FAILED|^ERROR|gpu_env:|run.sh: " "$LOG" | head -40
