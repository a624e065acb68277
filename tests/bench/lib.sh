# tests/bench/lib.sh: what the benchmarks share, sourced after deploy/lib.sh from the checkout
# root: a throwaway PostgreSQL, a release latchd with a bootstrap management application
# (admin_id / admin_secret) at $public, cleanup on exit, fail(), json() to read answers,
# mgmt_login and api() for the Management API, jwt_payload, and bench_wrk to measure a POST.
# Sets: tmp, pgport, port, public, latchd_pid, admin_id, admin_secret.
# The release build in build/ is brought up to date first (ninja does nothing when it is), so
# that a benchmark never measures a binary older than the checkout.
latch_build build -Dbuildtype=release

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
# The build's connectors (the compiled-in default is the installed <libdir>/latch/connectors).
export LATCH_CONNECTOR_DIR="$PWD/build/connectors"
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

# mgmt_login: a Management API token (client_credentials of the bootstrap application, scope
# all) into mgmt_token.
mgmt_login() {
  local code
  code=$(curl -sS -o "$tmp/token.json" -w '%{http_code}' -u "$admin_id:$admin_secret" \
    --data-urlencode grant_type=client_credentials --data-urlencode "resource=$public/api" \
    --data-urlencode scope=all "$public/oidc/token") || fail "management token: curl failed"
  [ "$code" = 200 ] || fail "management token answered $code: $(cat "$tmp/token.json")"
  mgmt_token=$(json 'd["access_token"]' <"$tmp/token.json")
}

# api METHOD PATH [JSON]: Management API call with $mgmt_token; prints the body; fails on a
# non-2xx status.
api() {
  local code
  code=$(curl -sS -o "$tmp/api.json" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $mgmt_token" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$public/api$2") || fail "api $1 $2: curl failed"
  case "$code" in
    2??) cat "$tmp/api.json" ;;
    *) fail "api $1 $2 answered $code: $(cat "$tmp/api.json")" ;;
  esac
}

# bench_m2m_app INDICATOR: through api(), the resource INDICATOR with the scope read:bench, a
# MachineToMachine role granting it, and an application holding the role; sets m2m_id and
# m2m_secret.
bench_m2m_app() {
  local resource_json resource_id scope_json scope_id role_json role_id app_json
  resource_json=$(api POST /resources "{\"name\":\"Bench API\",\"indicator\":\"$1\",\"accessTokenTtl\":3600}")
  resource_id=$(json 'd["id"]' <<<"$resource_json")
  scope_json=$(api POST "/resources/$resource_id/scopes" '{"name":"read:bench","description":"Benchmark scope"}')
  scope_id=$(json 'd["id"]' <<<"$scope_json")
  role_json=$(api POST /roles "{\"name\":\"bench-m2m\",\"description\":\"Benchmark role\",\"type\":\"MachineToMachine\",\"scopeIds\":[\"$scope_id\"]}")
  role_id=$(json 'd["id"]' <<<"$role_json")
  app_json=$(api POST /applications '{"name":"bench-client","type":"MachineToMachine"}')
  m2m_id=$(json 'd["id"]' <<<"$app_json")
  m2m_secret=$(json 'd["secret"]' <<<"$app_json")
  api POST "/applications/$m2m_id/roles" "{\"roleIds\":[\"$role_id\"]}" >/dev/null
}

# jwt_payload TOKEN: the decoded payload (JSON text) of a JWS compact token.
jwt_payload() {
  python3 -c 'import base64, sys
p = sys.argv[1].split(".")[1]
print(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$1"
}

# ---- wrk ---------------------------------------------------------------------------------------
# wrk's script for bench_wrk: POSTs $BENCH_BODY (form-encoded) with the Authorization header
# $BENCH_AUTH; counts the answers that are 200 and those that are not.
cat >"$tmp/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  ok200 = 0
  other = 0
end
function response(status, headers, body)
  if status == 200 then ok200 = ok200 + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("ok200")
    b = b + t:get("other")
  end
  io.write(string.format("lua-status: 200=%d other=%d\n", a, b))
end
EOF

# bench_wrk URL SECONDS THREADS CONNECTIONS: wrk POSTs $BENCH_BODY to URL as post.lua says, and
# sets wrk_rate (req/s), wrk_p50, wrk_p99, wrk_ok200, wrk_other (answers that were not 200) and
# wrk_sockerr (wrk's socket errors, empty when none). Call it directly, not in $(...): the
# results are globals.
bench_wrk() {
  local out
  out=$(wrk -t"$3" -c"$4" -d"${2}s" --latency -s "$tmp/post.lua" "$1") || fail "wrk failed on $1"
  wrk_rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  wrk_p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  wrk_p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  wrk_ok200=$(sed -n 's/^lua-status: 200=\([0-9]*\) other=.*/\1/p' <<<"$out")
  wrk_other=$(sed -n 's/^lua-status: 200=[0-9]* other=\([0-9]*\)/\1/p' <<<"$out")
  wrk_sockerr=$(sed -n 's/.*Socket errors: //p' <<<"$out")
}
