#!/usr/bin/env bash
# Builds tollgate (Release) and runs it on the embedded defaults; extra arguments go to tollgate.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target tollgate
exec build/release/tollgate "$@"
