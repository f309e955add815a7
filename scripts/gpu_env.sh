# shellcheck shell=bash
# Sourced at the start of a command on the GPU machine (see scripts/gpu_bundle.sh): unpacks the
# bundle and points the loader at it, at the venv's pyarrow (Arrow 25.0.1, as linked here) and at
# cuDNN; exports SLUICE_BIN and puts the venv's python first.
# The machine's image has changed between leases (H100 then H200, another image), so the libraries it
# is expected to hold are looked for where they were, then in the venv's nvidia wheels, and last in
# the bundle's fallback copies (nvJPEG, Arrow 25); a library still missing is named before anything runs.
SLUICE_GPU=${SLUICE_GPU:-/tmp/sluice-gpu}
VENV=${VENV:-/opt/torch/.venv}
mkdir -p "$SLUICE_GPU" && tar -C "$SLUICE_GPU" -xJf .gpu/bundle.tar.xz
# What PyTorch runs with (bench/gpu/run.sh's peers): the path as it was, so torch loads its own cuDNN.
export SLUICE_PEER_LD_LIBRARY_PATH=${SLUICE_PEER_LD_LIBRARY_PATH-${LD_LIBRARY_PATH:-}}
ARROW_DIR=$("$VENV/bin/python" -c 'import pyarrow; print(pyarrow.get_library_dirs()[0])' 2>/dev/null)
CUDNN_DIR=$(dirname "$(find /usr/local/cuda/ /usr/lib /opt -name 'libcudnn.so.9' 2>/dev/null | head -1)" 2>/dev/null)
WHEEL_DIRS=$(find "$VENV"/lib/python3*/site-packages/nvidia -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$SLUICE_GPU/lib:${ARROW_DIR:+$ARROW_DIR:}${CUDNN_DIR:+$CUDNN_DIR:}/usr/local/cuda/lib64:${WHEEL_DIRS}$SLUICE_GPU/fallback:${LD_LIBRARY_PATH:-}"
export SLUICE_BIN="$SLUICE_GPU/bin/sluice" SLUICE_PHOTOS="$SLUICE_GPU/photos" PATH="$VENV/bin:$PATH"
python -c 'import pytest' 2>/dev/null || python -m pip install -q --no-index --find-links "$SLUICE_GPU/wheels" pytest
for binary in "$SLUICE_BIN" "$SLUICE_GPU/bin/sluice_cuda_tests"; do
  missing=$(ldd "$binary" | awk '/not found/ { print $1 }' | tr '\n' ' ')
  [ -z "$missing" ] || echo "gpu_env: $binary cannot load: $missing(not in LD_LIBRARY_PATH=$LD_LIBRARY_PATH)" >&2
done
# A bundle built from other sources than this tree's would test old code.
sources=$(bash scripts/source_digest.sh)
built=$(cat "$SLUICE_GPU/SOURCES" 2>/dev/null)
if [ "$sources" = "$built" ]; then
  echo "gpu_env: the bundle was built from these sources ($sources)"
else
  echo "gpu_env: WARNING: the bundle was built from other sources (${built:-unknown}) than these" \
    "($sources): rerun scripts/gpu_bundle.sh" >&2
fi
for name in libarrow.so.2500 libcudnn.so.9 libnvjpeg.so.13; do
  echo "gpu_env: $name from $(ldd "$SLUICE_BIN" | awk -v name="$name" '$1 == name { print $3 }')"
done
# cuDNN's own warnings and errors (why a call was refused) go to a file that comes back with $OUT.
export CUDNN_LOGLEVEL_DBG=${CUDNN_LOGLEVEL_DBG:-2} CUDNN_LOGDEST_DBG=${CUDNN_LOGDEST_DBG:-${OUT:-/tmp}/cudnn.log}
