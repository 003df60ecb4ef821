#!/usr/bin/env bash
# Builds tollgate and its tests, then runs every test (unit and integration) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
dir=${BUILD_DIR:-build/test}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${TOLLGATE_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
ctest --test-dir "$dir" --output-on-failure "$@"
