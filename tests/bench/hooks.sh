#!/usr/bin/env bash
# Benchmark of webhook deliveries (issue 14): signed deliveries per second from one latchd to a
# local HTTPS receiver (tests/bench/hooks.mjs: node:https with a test CA made here, reached as
# hooks.bench.test through LATCH_OUTBOUND_CONNECT_TO, so the outbound policy, TLS verification and
# the I/O lane are all on the path). BENCH_HOOKS hooks subscribe to Organization.Created; BENCH_EVENTS
# organizations are created through the Management API (BENCH_CONCURRENCY at a time), each change
# writing one outbox row per hook in its transaction; the clock runs from the first creation to the
# last delivery. Every delivery's signature is checked and every (hook, event) must arrive; each hook
# has one delivery in flight at a time, so the rate grows with the number of hooks. Prints the
# creation rate, the delivery rate and latency percentiles (commit to receipt). Exits non-zero when a
# delivery is missing or badly signed. Not part of the test command.
#
# Usage: bash tests/bench/hooks.sh
# Needs: a release build in build/ (brought up to date), Node >= 20, curl, openssl, python3,
# PostgreSQL 15.
# Knobs: BENCH_HOOKS (8), BENCH_EVENTS (500), BENCH_CONCURRENCY (8), BENCH_TIMEOUT_S (120).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/lib.sh

latch_install_packages curl openssl python3
latch_ensure_node20

# The receiver's test CA and certificate, and its port, before latchd starts with them.
certs=$(mktemp -d /tmp/latch-bench-hooks.XXXXXX)
rport=$(latch_free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$certs/ca.key" \
  -out "$certs/ca.pem" -days 2 -subj '/CN=Latch bench CA' \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$certs/leaf.key" \
  -out "$certs/leaf.csr" -subj '/CN=hooks.bench.test' 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:hooks.bench.test\n' \
  >"$certs/leaf.ext"
openssl x509 -req -in "$certs/leaf.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
  -out "$certs/leaf.pem" -days 2 -sha256 -extfile "$certs/leaf.ext" 2>/dev/null
export LATCH_OUTBOUND_CA_FILE="$certs/ca.pem"
export LATCH_OUTBOUND_CONNECT_TO="hooks.bench.test:443:127.0.0.1:$rport"

. tests/bench/lib.sh
lib_cleanup_hooks() {
  cleanup
  rm -rf "$certs"
}
trap lib_cleanup_hooks EXIT
mgmt_login

export BENCH_BASE="$public" BENCH_TOKEN="$mgmt_token" BENCH_RECEIVER_PORT="$rport"
export BENCH_CERT="$certs/leaf.pem" BENCH_KEY="$certs/leaf.key" BENCH_HOST=hooks.bench.test
echo "latchd $(build/core/latchd --version | cut -d' ' -f2), $(nproc) cores," \
  "${BENCH_HOOKS:-8} hooks x ${BENCH_EVENTS:-500} events"
summary=$(node tests/bench/hooks.mjs) || fail "the webhook run failed"
python3 - "$summary" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print(f"organizations created           {d['created_rate']:>10.1f} /s   ({d['events']} in {d['create_s']:.2f} s)")
print(f"webhook deliveries (signed, 2xx) {d['delivery_rate']:>10.1f} /s   ({d['deliveries']} in {d['total_s']:.2f} s,"
      f" {d['hooks']} hooks)")
print(f"commit to receipt                p50 {d['p50_ms']} ms  p99 {d['p99_ms']} ms  max {d['max_ms']} ms")
print(f"duplicates {d['duplicates']}, bad signatures {d['bad_signatures']}, missing {d['missing']}")
PY
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(1 if d["missing"] or d["bad_signatures"] else 0)' \
  "$summary" || fail "deliveries missing or badly signed"
echo "latchd peak RSS: $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$latchd_pid/status")"
