#!/usr/bin/env bash
# One digest of the sources the GPU bundle's binaries are built from (the C++ and CUDA code and its
# build files), so that the GPU machine can tell a bundle built from this tree from a stale one: it
# has the working tree but not .git. Prints the digest.
set -euo pipefail
cd "$(dirname "$0")/.."
find CMakeLists.txt cmake include src tests -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.txt' \
  -o -name '*.cmake' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
