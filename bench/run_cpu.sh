#!/usr/bin/env bash
# Issue 2's CPU measurements, sluice and its peers in the same run on the same data:
#  (a) model-only: `sluice model-bench` vs onnxruntime, same ResNet50 ONNX, same batch size;
#  (b) end-to-end `sluice run` vs sluice's own model-only rate (the pipeline should hide reading and
#      preprocessing: goal >= 0.9x);
#  (c) peak RSS of a whole 16,232-image run against its --memory-budget (FULL=1; ~15 min on 2 cores).
# Usage: bench/run_cpu.sh [BUILD_DIR]   (env: BATCH=32 ITERATIONS=8 E2E_IMAGES=1024 FULL=0 BUDGET=2G)
set -euo pipefail
BUILD_DIR=${1:-build}
SLUICE="$BUILD_DIR/sluice"
BATCH=${BATCH:-32}
ITERATIONS=${ITERATIONS:-8}
E2E_IMAGES=${E2E_IMAGES:-1024}
FULL=${FULL:-0}
BUDGET=${BUDGET:-2G}
DATA=bench/data
RESULTS=bench/results/cpu_pipeline.md
mkdir -p "$DATA" bench/results

[ -f "$DATA/resnet50.onnx" ] || python3 tools/make_test_model.py --arch resnet50 --out "$DATA/resnet50.onnx" --seed 0
[ -f "$DATA/seed10g/part-00016.parquet" ] || "$SLUICE" datagen --out "$DATA/seed10g" --images 16232 --seed 0

json_field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['$2'], 2))" "$1"; }

echo "== (a) model-only, batch $BATCH, $ITERATIONS iterations (sluice, onnxruntime, sluice, onnxruntime)"
sluice_rates=(); peer_rates=()
for round in 1 2; do
  s=$("$SLUICE" model-bench --model "$DATA/resnet50.onnx" --batch-size "$BATCH" --iterations "$ITERATIONS" --json)
  p=$(python3 bench/peers/onnxruntime_model.py --model "$DATA/resnet50.onnx" --batch-size "$BATCH" --iterations "$ITERATIONS")
  sluice_rates+=("$(json_field "$s" images_per_second)"); peer_rates+=("$(json_field "$p" images_per_second)")
  echo "round $round: sluice ${sluice_rates[-1]} img/s, onnxruntime ${peer_rates[-1]} img/s"
done
best() { printf '%s\n' "$@" | sort -g | tail -1; }
sluice_model=$(best "${sluice_rates[@]}"); peer_model=$(best "${peer_rates[@]}")

echo "== (b) end-to-end sluice run on $E2E_IMAGES images"
rm -rf "$DATA/out-e2e"
"$SLUICE" run --input "$DATA/seed10g" --model "$DATA/resnet50.onnx" --output "$DATA/out-e2e" --device cpu \
  --batch-size "$BATCH" --limit "$E2E_IMAGES" --report "$DATA/e2e.json" --no-progress
e2e=$(python3 -c "
import json; d = json.load(open('$DATA/e2e.json'))
steady = d['images'] / (d['seconds'] - d['first_batch_seconds']) if d['seconds'] > d['first_batch_seconds'] else 0
print(round(d['images_per_second'], 2), round(steady, 2), d['bottleneck'], round(d['first_batch_seconds'], 2))")
read -r e2e_rate e2e_steady e2e_bottleneck e2e_first <<<"$e2e"

full_line="not run (FULL=1 runs it)"
if [ "$FULL" = 1 ]; then
  echo "== (c) whole 16,232-image run with --memory-budget $BUDGET"
  rm -rf "$DATA/out-full"
  "$SLUICE" run --input "$DATA/seed10g" --model "$DATA/resnet50.onnx" --output "$DATA/out-full" --device cpu \
    --batch-size "$BATCH" --memory-budget "$BUDGET" --report "$DATA/full.json" --progress
  full_line=$(python3 -c "
import json; d = json.load(open('$DATA/full.json'))
print(f\"{d['images']} images in {d['seconds']:.0f} s ({d['images_per_second']:.1f} img/s), peak RSS {d['peak_rss_bytes']/2**30:.2f} GiB, budget {d['memory_budget_bytes']/2**30:.2f} GiB, under budget: {d['peak_rss_bytes'] < d['memory_budget_bytes']}\")")
fi

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
{
  echo "# CPU pipeline measurements (issue 2)"
  echo
  echo "Machine: $(nproc) cores, $(python3 -c 'import os; print(round(os.sysconf("SC_PHYS_PAGES")*os.sysconf("SC_PAGE_SIZE")/2**30))') GiB; $(date -u +%Y-%m-%d); command: \`bench/run_cpu.sh\` (BATCH=$BATCH ITERATIONS=$ITERATIONS E2E_IMAGES=$E2E_IMAGES FULL=$FULL)"
  echo "Model: seeded ResNet50 from tools/make_test_model.py, fp32. Data: \`sluice datagen\` (benchmark format, 256x256 raw)."
  echo
  echo "| measurement | sluice | peer | ratio | goal |"
  echo "|---|---|---|---|---|"
  echo "| (a) model-only img/s, batch $BATCH (best of 2 alternating rounds: ${sluice_rates[*]} vs ${peer_rates[*]}) | $sluice_model | onnxruntime $peer_model | $(ratio "$sluice_model" "$peer_model") | >= 1.0 |"
  echo "| (b) end-to-end \`sluice run\`, $E2E_IMAGES images, whole job img/s | $e2e_rate | sluice model-only $sluice_model | $(ratio "$e2e_rate" "$sluice_model") | >= 0.9 |"
  echo "| (b) same, steady state after the first batch (${e2e_first} s) | $e2e_steady | sluice model-only $sluice_model | $(ratio "$e2e_steady" "$sluice_model") | >= 0.9 |"
  echo
  echo "Bottleneck named by the report in (b): $e2e_bottleneck."
  echo
  echo "(c) whole dataset: $full_line"
} > "$RESULTS"
cat "$RESULTS"
