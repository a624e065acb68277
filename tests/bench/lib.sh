# tests/bench/lib.sh: what the benchmarks share, sourced after deploy/lib.sh from the checkout
# root: a throwaway PostgreSQL, a release latchd with a bootstrap management application
# (admin_id / admin_secret) at $public, cleanup on exit, fail(), and json() to read answers.
# Sets: tmp, pgport, port, public, latchd_pid, admin_id, admin_secret.
[ -x build/core/latchd ] || latch_build build -Dbuildtype=release

tmp=$(mktemp -d /tmp/latch-bench.XXXXXX)
chmod 755 "$tmp"
pgport=$(latch_free_port)
port=$(latch_free_port)
latchd_pid=""
cleanup() {
  if [ -n "$latchd_pid" ]; then
    kill -TERM "$latchd_pid" 2>/dev/null && wait "$latchd_pid" 2>/dev/null || true
  fi
  latch_pg_stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -s "$tmp/latchd.log" ]; then
    echo "--- latchd log (tail) ---" >&2
    tail -n 20 "$tmp/latchd.log" >&2
  fi
  exit 1
}

latch_pg_start "$tmp/pg" "$pgport" "$tmp" throwaway
latch_pg_ensure_db "$pgport" "$tmp" latch_bench

public="http://127.0.0.1:$port"
admin_id="benchadmin"
admin_secret=$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')
export LATCH_DATABASE_URL="postgresql://latch@127.0.0.1:$pgport/latch_bench"
LATCH_SECRET_KEY=$(openssl rand -base64 32)
export LATCH_SECRET_KEY
export LATCH_AUTO_MIGRATE=1 LATCH_LISTEN="127.0.0.1:$port" LATCH_PUBLIC_URL="$public"
export LATCH_LOG_LEVEL=warn
export LATCH_BOOTSTRAP_CLIENT_ID="$admin_id" LATCH_BOOTSTRAP_CLIENT_SECRET="$admin_secret"
build/core/latchd 2>"$tmp/latchd.log" &
latchd_pid=$!
ready=0
for _ in $(seq 1 200); do
  if curl -fs "$public/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$latchd_pid" 2>/dev/null || fail "latchd exited during start-up"
  sleep 0.1
done
[ "$ready" = 1 ] || fail "latchd not ready after 20 s"

# ---- helpers -----------------------------------------------------------------------------------
# json EXPR: evaluates a Python expression over the JSON document on stdin, bound to `d`.
json() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
