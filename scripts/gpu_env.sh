# Sourced at the start of a command on the GPU machine (see scripts/gpu_bundle.sh): unpacks the
# bundle and points the loader at it, at the venv's pyarrow (Arrow 25.0.1, as linked here) and at
# cuDNN; exports SLUICE_BIN and puts the venv's python first.
SLUICE_GPU=${SLUICE_GPU:-/tmp/sluice-gpu}
VENV=${VENV:-/opt/torch/.venv}
mkdir -p "$SLUICE_GPU" && tar -C "$SLUICE_GPU" -xJf .gpu/bundle.tar.xz
ARROW_DIR=$("$VENV/bin/python" -c 'import pyarrow; print(pyarrow.get_library_dirs()[0])')
CUDNN_DIR=$(dirname "$(find /usr /opt -name 'libcudnn.so.9' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$SLUICE_GPU/lib:$ARROW_DIR:$CUDNN_DIR:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export SLUICE_BIN="$SLUICE_GPU/bin/sluice" SLUICE_PHOTOS="$SLUICE_GPU/photos" PATH="$VENV/bin:$PATH"
python -c 'import pytest' 2>/dev/null || python -m pip install -q --no-index --find-links "$SLUICE_GPU/wheels" pytest
# cuDNN's own warnings and errors (why a call was refused) go to a file that comes back with $OUT.
export CUDNN_LOGLEVEL_DBG=${CUDNN_LOGLEVEL_DBG:-2} CUDNN_LOGDEST_DBG=${CUDNN_LOGDEST_DBG:-${OUT:-/tmp}/cudnn.log}
