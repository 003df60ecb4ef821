#!/usr/bin/env bash
# Builds tollgate and its tests, then runs every test (unit and integration) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
dir=${BUILD_DIR:-build/test}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${TOLLGATE_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
# Sanitizer builds (TOLLGATE_SANITIZE=ON): any finding fails the test that caused it.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
ctest --test-dir "$dir" --output-on-failure "$@"
