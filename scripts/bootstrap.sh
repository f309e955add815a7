#!/usr/bin/env bash
# Installs everything sluice needs to build, test and run its demo. Idempotent: a second run
# installs nothing and takes a second or two.
set -euo pipefail

PYTHON=${PYTHON:-python3}

apt_packages=(
  build-essential cmake
  libdnnl-dev            # CPU executor (oneDNN)
  libjpeg62-turbo-dev libspng-dev   # photo decoding
  libcli11-dev nlohmann-json3-dev   # CLI and JSON report
  libgtest-dev           # unit tests
  openjdk-17-jre-headless  # Spark (pyspark) runs on Java 17
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# pyarrow is pinned to the GPU machine's version: its wheel carries the Arrow/Parquet C++ headers
# and libraries that sluice links against.
pip_requirements=(
  "pyarrow==25.0.1"
  "numpy>=1.26"
  "onnx>=1.16"
  "onnxruntime>=1.18"
  "moto[server]>=5.2.5"  # older servers answer CompleteMultipartUpload in a way Arrow 25 rejects
  "pytest>=8"
  "scikit-image>=0.22"   # ships the real photographs that `sluice datagen` derives images from
  "nanobind>=2.0"        # the Python module (sluice._native)
  "pyspark>=4.0,<5"      # sluice on Spark (bundles Spark; runs on the installed Java 17)
  "pandas>=2.2,<3"       # the benchmark's pandas-UDF Spark pipeline (bench/spark)
  "nvidia-nvjpeg==13.0.*"  # nvJPEG headers + library (3.7 MB) so the GPU JPEG decoder compiles where the CUDA
                           # toolkit lacks nvJPEG; matches CUDA 13.0 (the GPU machine's toolkit has its own)
)
if ! "$PYTHON" - "${pip_requirements[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "bootstrap: installing Python packages: ${pip_requirements[*]}"
  "$PYTHON" -m pip install -q --disable-pip-version-check "${pip_requirements[@]}"
fi
