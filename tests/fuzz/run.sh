#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS DRIVER...: runs each libFuzzer driver of BUILD_DIR
# (a -Dfuzz=true build) for SECONDS over a copy of its seed corpus (tests/fuzz/corpus/<driver>/,
# copied to a temporary folder so that nothing is written into the checkout), under ASan, UBSan
# (halting on the first report) and LeakSanitizer. Prints one line per driver:
#   <driver> <executions> execs <crashes> crashes <seconds> s [<artifact>]
# and exits non-zero when any driver crashed, leaked, timed out on an input or did not run.
# The crashing input is kept in FUZZ_ARTIFACT_DIR (default: a folder under /tmp, printed).
# FUZZ_RUNS, when set, also stops each driver after that many executions (whichever comes first).
# Used by deploy/test.sh (a short budget) and tests/fuzz/soak.sh (a long one).
set -uo pipefail

build="$1"
seconds="$2"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d /tmp/latch-fuzz.XXXXXX)"
artifacts="${FUZZ_ARTIFACT_DIR:-$work/artifacts}"
mkdir -p "$artifacts"
trap 'rm -rf "$work/corpus" "$work/logs"' EXIT

status=0
for driver in "$@"; do
    exe="$build/tests/fuzz/$driver"
    corpus="$work/corpus/$driver"
    log="$work/logs/$driver.log"
    mkdir -p "$corpus" "$work/logs"
    if [[ -d "$here/corpus/$driver" ]]; then
        cp -R "$here/corpus/$driver/." "$corpus/"
    fi
    if [[ ! -x "$exe" ]]; then
        echo "$driver 0 execs 1 crashes 0 s (not built: $exe)"
        status=1
        continue
    fi
    start=$SECONDS
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
        "$exe" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$driver-" "$corpus" >"$log" 2>&1
    rc=$?
    elapsed=$((SECONDS - start))
    execs="$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$log")"
    if [[ "$rc" -eq 0 && "$execs" -gt 0 ]]; then
        echo "$driver $execs execs 0 crashes $elapsed s"
    else
        artifact=""
        for f in "$artifacts/$driver-"*; do
            [[ -e "$f" ]] && artifact="$f"
        done
        echo "$driver $execs execs 1 crashes $elapsed s ${artifact:-(no artifact)}"
        # What the sanitizer or libFuzzer said, for the CI log.
        grep -m 1 -B 2 -A 30 -E '^==[0-9]+==ERROR|runtime error|deadly signal|timeout after' \
            "$log" >&2 || tail -n 40 "$log" >&2
        status=1
    fi
done
exit "$status"
