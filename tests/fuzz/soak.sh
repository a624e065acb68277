#!/usr/bin/env bash
# tests/fuzz/soak.sh: builds the fuzz build (build-fuzz/, clang, -Dfuzz=true) and runs every
# libFuzzer driver for SOAK_SECONDS each (default 600) over a copy of its seed corpus, one after
# the other, then prints executions and crashes per driver and a total. The goal for a release
# is at least 10 million executions per driver and no crash.
#
# Optional: SOAK_SECONDS, SOAK_DRIVERS (space separated, default all of tests/fuzz/meson.build),
# LATCH_FUZZ_BUILD_DIR (default build-fuzz), FUZZ_ARTIFACT_DIR (where crashing inputs are kept).
set -euo pipefail

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
cd "$LATCH_ROOT"

seconds="${SOAK_SECONDS:-600}"
dir="${LATCH_FUZZ_BUILD_DIR:-$LATCH_ROOT/build-fuzz}"
read -r -a drivers <<<"${SOAK_DRIVERS:-$(latch_fuzz_drivers)}"

latch_fuzz_build "$dir"
latch_log "soak: ${#drivers[@]} drivers, ${seconds} s each"
set +e
bash tests/fuzz/run.sh "$dir" "$seconds" "${drivers[@]}" | tee /dev/stderr |
    awk '{ printf "%-22s %14d executions %3d crashes %6d s\n", $1, $2, $4, $6; e += $2; c += $4 }
         END { printf "%-22s %14d executions %3d crashes\n", "total", e, c }'
status=${PIPESTATUS[0]}
exit "$status"
