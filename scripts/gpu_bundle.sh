#!/usr/bin/env bash
# Packs what the lent GPU machine lacks into .gpu/bundle.tar.xz (git-ignored): the sluice binary and
# the CUDA tests built here for the H100 (sm_90), the Debian libraries they link (oneDNN, OpenCL
# loader, libjpeg-turbo, libspng, libgomp), scikit-image's photos for `sluice datagen`, and the
# pytest wheels. The GPU machine has CUDA, cuDNN, and pyarrow 25.0.1 + torch in /opt/torch/.venv,
# but no apt and no network. Use: scripts/gpu_bundle.sh here; then in the device run, carry `.gpu`
# and start the command with `source scripts/gpu_env.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target sluice sluice_cuda_tests
rm -rf .gpu && mkdir -p .gpu/stage/bin .gpu/stage/lib .gpu/stage/wheels
cp "$BUILD/sluice" "$BUILD/tests/sluice_cuda_tests" .gpu/stage/bin/
for lib in libdnnl.so.2 libOpenCL.so.1 libjpeg.so.62 libspng.so.0 libgomp.so.1; do
  path=$(ldconfig -p | awk -v name="$lib" '$1 == name { print $NF; exit }')
  [ -n "$path" ] || { echo "gpu_bundle: $lib not found (run scripts/bootstrap.sh)" >&2; exit 1; }
  cp -L "$path" .gpu/stage/lib/
done
cp -r "$(python3 -c 'import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), "data"))')" \
  .gpu/stage/photos
python3 -m pip download -q --only-binary=:all: --python-version 3.12 -d .gpu/stage/wheels pytest
tar -C .gpu/stage -cJf .gpu/bundle.tar.xz . && rm -rf .gpu/stage
echo "gpu_bundle: .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1))"
