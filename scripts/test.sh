#!/usr/bin/env bash
# Builds everything and runs the whole test suite with CTest (labels unit, golden, recipe,
# gpu, multigpu; GPU tests report "skipped" on machines without a GPU).
# Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

total_start=$(date +%s)
tt_install_system_packages
tt_ensure_venv
TTCPP_CMAKE_ARGS="-DTT_WERROR=ON ${TTCPP_CMAKE_ARGS:-}" tt_configure_and_build
test_start=$(date +%s)
status=0
ctest --test-dir "$tt_build" --output-on-failure -j "$(nproc)" "$@" || status=$?
tt_log "tests finished in $(( $(date +%s) - test_start )) s; whole run $(( $(date +%s) - total_start )) s"
exit $status
