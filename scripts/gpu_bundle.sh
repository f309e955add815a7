#!/usr/bin/env bash
# Packs what the lent GPU machine lacks into .gpu/bundle.tar.xz (git-ignored): the sluice binary and
# the CUDA tests built here for Hopper (H100, H200: sm_90), the Debian libraries they link (oneDNN,
# OpenCL loader, libjpeg-turbo, libspng, libgomp), scikit-image's photos for `sluice datagen`, the
# pytest wheels, and in fallback/ the nvJPEG and Arrow 25 libraries the binary was linked with, which
# gpu_env.sh puts last on the loader's path (used only where the machine has none of its own). The
# GPU machine has CUDA, cuDNN, and pyarrow 25.0.1 + torch in /opt/torch/.venv, but no apt and no
# network. Use: scripts/gpu_bundle.sh here; then carry `.gpu` in the device run and either start the
# command with `source scripts/gpu_env.sh`, or run the whole prepared session: bench/gpu/device_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
# The digest of the sources before the build: an edit made while it builds makes the bundle stale.
sources=$(bash scripts/source_digest.sh)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target sluice sluice_cuda_tests
rm -rf .gpu && mkdir -p .gpu/stage/bin .gpu/stage/lib .gpu/stage/wheels .gpu/stage/fallback
cp "$BUILD/sluice" "$BUILD/tests/sluice_cuda_tests" .gpu/stage/bin/
for lib in libdnnl.so.2 libOpenCL.so.1 libjpeg.so.62 libspng.so.0 libgomp.so.1; do
  # awk reads to the end: stopping at the first match would kill ldconfig with SIGPIPE, which
  # pipefail turns into a silent exit of this script.
  path=$(ldconfig -p | awk -v name="$lib" '$1 == name && !found { print $NF; found = 1 }')
  [ -n "$path" ] || { echo "gpu_bundle: $lib not found (run scripts/bootstrap.sh)" >&2; exit 1; }
  cp -L "$path" .gpu/stage/lib/
done
for lib in libnvjpeg.so.13 libarrow.so.2500 libparquet.so.2500; do
  path=$(ldd "$BUILD/sluice" | awk -v name="$lib" '$1 == name { print $3 }')
  [ -f "$path" ] || { echo "gpu_bundle: $BUILD/sluice does not link $lib" >&2; exit 1; }
  cp -L "$path" .gpu/stage/fallback/
done
cp -r "$(python3 -c 'import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), "data"))')" \
  .gpu/stage/photos
python3 -m pip download -q --only-binary=:all: --python-version 3.12 -d .gpu/stage/wheels pytest
echo "$sources" >.gpu/stage/SOURCES
XZ_OPT=-T0 tar -C .gpu/stage -cJf .gpu/bundle.tar.xz . && rm -rf .gpu/stage
echo "gpu_bundle: .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1))"
