#!/usr/bin/env bash
# tests/fuzz/soak.sh: builds the fuzz build (build-fuzz/, clang, -Dfuzz=true) and runs every
# libFuzzer driver over a copy of its seed corpus until it has made SOAK_RUNS executions (default
# 10 million, the goal for a release) or SOAK_SECONDS have passed (default 1800), whichever comes
# first, then prints executions and crashes per driver and a total. SOAK_JOBS drivers run at once
# (default: the number of cores), each on its own copy of the corpus.
#
# Optional: SOAK_RUNS (0 = no execution target, time only), SOAK_SECONDS, SOAK_JOBS, SOAK_DRIVERS
# (space separated, default all of tests/fuzz/meson.build), LATCH_FUZZ_BUILD_DIR (default
# build-fuzz), FUZZ_ARTIFACT_DIR (where crashing inputs are kept).
set -euo pipefail

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/lib.sh"
cd "$LATCH_ROOT"

seconds="${SOAK_SECONDS:-1800}"
runs="${SOAK_RUNS:-10000000}"
jobs="${SOAK_JOBS:-$(nproc)}"
dir="${LATCH_FUZZ_BUILD_DIR:-$LATCH_ROOT/build-fuzz}"
read -r -a drivers <<<"${SOAK_DRIVERS:-$(latch_fuzz_drivers)}"
[[ "$runs" == 0 ]] && runs=""

latch_fuzz_build "$dir"
latch_log "soak: ${#drivers[@]} drivers, ${jobs} at once, until ${runs:-unbounded} executions" \
    "or ${seconds} s each"

# Deal the drivers round-robin into one queue per job; each queue runs its drivers one after
# the other, so at most $jobs fuzzers share the cores.
out="$(mktemp -d /tmp/latch-soak.XXXXXX)"
trap 'rm -rf "$out"' EXIT
declare -a queues=()
for i in "${!drivers[@]}"; do
    queues[i % jobs]+="${drivers[i]} "
done
pids=()
for q in "${!queues[@]}"; do
    # shellcheck disable=SC2086 # the queue is a space-separated list of driver names
    FUZZ_RUNS="$runs" bash tests/fuzz/run.sh "$dir" "$seconds" ${queues[q]} >"$out/$q" &
    pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
cat "$out"/* | tee /dev/stderr |
    awk '{ printf "%-22s %14d executions %3d crashes %6d s\n", $1, $2, $4, $6; e += $2; c += $4 }
         END { printf "%-22s %14d executions %3d crashes\n", "total", e, c }'
exit "$status"
