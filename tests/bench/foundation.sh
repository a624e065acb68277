#!/usr/bin/env bash
# Benchmark of the foundation (issue 2): wrk against /healthz (no I/O) and against
# /api/status (one PostgreSQL round trip per request: the tenant lookup, uncached), 10 s each,
# printing req/s, p50/p99 latency and latchd's peak RSS. Not part of the test command.
#
# Usage: bash tests/bench/foundation.sh [duration_s]
# Needs: a release build in build/ (bash deploy/run.sh makes one, or meson setup build
# -Dbuildtype=release && ninja -C build), wrk (apt-get install wrk), PostgreSQL 15 binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. deploy/lib.sh

duration=${1:-10}
threads=${BENCH_WRK_THREADS:-2}
conns=${BENCH_WRK_CONNECTIONS:-64}

latch_install_packages wrk curl
[ -x build/core/latchd ] || latch_build build -Dbuildtype=release

tmp=$(mktemp -d /tmp/latch-bench.XXXXXX)
chmod 755 "$tmp"
pgport=$(latch_free_port)
port=$(latch_free_port)
cleanup() {
  [ -n "${latchd_pid:-}" ] && kill -TERM "$latchd_pid" 2>/dev/null && wait "$latchd_pid" 2>/dev/null || true
  latch_pg_stop "$tmp/pg" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

latch_pg_start "$tmp/pg" "$pgport" "$tmp" throwaway
latch_pg_ensure_db "$pgport" "$tmp" latch_bench

export LATCH_DATABASE_URL="postgresql://latch@127.0.0.1:$pgport/latch_bench"
export LATCH_SECRET_KEY=$(openssl rand -base64 32)
export LATCH_AUTO_MIGRATE=1 LATCH_LISTEN="127.0.0.1:$port" LATCH_PUBLIC_URL="http://127.0.0.1:$port"
export LATCH_LOG_LEVEL=warn
build/core/latchd 2>"$tmp/latchd.log" &
latchd_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

peak_rss() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$latchd_pid/status"; }

run() {
  local name=$1 url=$2
  local out
  out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$url")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '%-40s %12s req/s   p50 %-9s p99 %-9s errors %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo "latchd $(build/core/latchd --version | cut -d' ' -f2), $(nproc) cores, wrk -t$threads -c$conns -d${duration}s"
run "GET /healthz" "http://127.0.0.1:$port/healthz"
run "GET /api/status (PostgreSQL each request)" "http://127.0.0.1:$port/api/status"
echo "latchd peak RSS: $(peak_rss)"
