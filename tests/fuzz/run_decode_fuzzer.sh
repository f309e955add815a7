#!/usr/bin/env bash
# Builds the decode fuzzer with clang (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs it for a bounded time on a seed corpus generated here. Fails on any crash, hang
# (-timeout), leak or sanitizer report.
#   run_decode_fuzzer.sh CLANGXX SOURCE_DIR WORK_DIR [SECONDS]
set -euo pipefail
clangxx=$1
source_dir=$2
work=$3
seconds=${4:-20}

mkdir -p "$work/seeds" "$work/corpus"
probe="$work/probe.cc"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe"
if [ -z "$clangxx" ] || ! "$clangxx" -fsanitize=fuzzer "$probe" -o "$work/probe" 2>/dev/null; then
  echo "skipped: no clang++ with libFuzzer (-fsanitize=fuzzer) found"
  exit 77
fi
python3 "$source_dir/tests/fuzz/make_seed_corpus.py" "$work/seeds"
image_sources=()
for name in image_decoder jpeg_decoder png_decoder bilinear_resampler encoded_image_preprocessor preprocess; do
  image_sources+=("$source_dir/src/image/$name.cc")
done
# Rebuild only when a source is newer than the binary.
fuzzer="$work/decode_fuzzer"
if [ ! -x "$fuzzer" ] || [ -n "$(find "$source_dir/src/image" "$source_dir/tests/fuzz" "$source_dir/src/core/status.cc" -newer "$fuzzer" -print -quit)" ]; then
  "$clangxx" -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$source_dir/src" -I"$source_dir/include" \
    "$source_dir/tests/fuzz/decode_fuzzer.cc" "${image_sources[@]}" "$source_dir/src/core/status.cc" \
    -ljpeg -lspng -o "$fuzzer"
fi
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -print_final_stats=1 \
  "$work/corpus" "$work/seeds"
