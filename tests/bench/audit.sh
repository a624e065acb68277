#!/usr/bin/env bash
# Benchmark of the audit log (issue 14): client-credentials and refresh-token grants per second
# with the audit log on against off, in the same run. Two release latchd nodes of one cluster
# (one PostgreSQL, one public URL): the one lib.sh starts records every grant
# (LATCH_AUDIT_LOG=on, the default), a second one on another port runs with LATCH_AUDIT_LOG=off.
# wrk measures each grant on each node, alternated BENCH_ROUNDS times (this machine's speed
# drifts), after a short warm-up of each. Before that, one grant of each kind by hand on each
# node; after the runs, the "on" node's metrics must show entries written (and how many were
# dropped, if any). Prints each run, the means, the
# entries written and dropped (from the "on" node's metrics) and the target:
#   grants/s with the audit log on >= 90% of grants/s with it off (each grant kind)
# Exits non-zero when a request failed (or nothing was measured); BENCH_STRICT=1 also makes a
# missed target fail. Not part of the test command.
#
# Usage: bash tests/bench/audit.sh [duration_s]   (each run; default 10: with 3 rounds of 2 grants
#        on 2 nodes, about 2 minutes once build/ is up to date)
# Needs: a release build in build/ (brought up to date), Node >= 20, wrk, curl, openssl, python3,
# PostgreSQL 15.
# Knobs: BENCH_DURATION (10, or the argument), BENCH_WARMUP (2 s per run kind), BENCH_ROUNDS (3),
# BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (64), BENCH_STRICT, BENCH_ALG (ES384, the
# tenant's default key, or ES256: an EC-P256 key rotated in first).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/lib.sh

duration=${1:-${BENCH_DURATION:-10}}
warmup=${BENCH_WARMUP:-2}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_WRK_THREADS:-2}
conns=${BENCH_WRK_CONNECTIONS:-64}

latch_install_packages wrk curl openssl python3
latch_ensure_node20
# The first node (lib.sh's) records; its metrics are read at the end.
metrics_port=$(latch_free_port)
export LATCH_METRICS_LISTEN="127.0.0.1:$metrics_port"
. tests/bench/lib.sh
mgmt_login

# ---- the second node: the same cluster, audit log off -------------------------------------------
port_off=$(latch_free_port)
while [ "$port_off" = "$port" ]; do port_off=$(latch_free_port); done
off="http://127.0.0.1:$port_off"
LATCH_AUDIT_LOG=off LATCH_METRICS_LISTEN="" LATCH_BOOTSTRAP_CLIENT_ID="" LATCH_BOOTSTRAP_CLIENT_SECRET="" \
  LATCH_LISTEN="127.0.0.1:$port_off" build/core/latchd 2>"$tmp/latchd-off.log" &
off_pid=$!
# lib.sh's cleanup stops the first node; this one too.
trap 'kill -TERM "$off_pid" 2>/dev/null && wait "$off_pid" 2>/dev/null || true; cleanup' EXIT
ready=0
for _ in $(seq 1 200); do
  if curl -fs "$off/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$off_pid" 2>/dev/null || fail "the second latchd exited during start-up: $(tail -5 "$tmp/latchd-off.log")"
  sleep 0.1
done
[ "$ready" = 1 ] || fail "the second latchd is not ready after 20 s"

# ---- the signing key: BENCH_ALG=ES256 rotates to an EC-P256 key first -------------------------
# With the default ES384 key a grant costs ~0.5 ms of signing, which hides an audit row's cost;
# ES256 grants are ten times faster, so the row weighs ten times more: the hard case.
alg=${BENCH_ALG:-ES384}
case "$alg" in
  ES384) ;;
  ES256)
    rotated=$(api POST /configs/oidc/private-keys/rotate '{"signingKeyAlgorithm":"EC-P256"}')
    json '[k.get("signingKeyAlgorithm") for k in d]' <<<"$rotated" | grep -q 'EC-P256' ||
      fail "rotation answered: $rotated"
    ;;
  *) fail "BENCH_ALG must be ES384 or ES256" ;;
esac

# ---- a machine-to-machine app, and a web app with a refresh token -------------------------------
indicator="https://bench.example/api"
bench_m2m_app "$indicator"

# The redirect URI is never contacted: signin.mjs reads the code from the Location header.
# rotateRefreshToken false: wrk replays one refresh token.
redirect_uri="http://127.0.0.1:9/api/auth/callback/logto"
web_json=$(api POST /applications "{\"name\":\"bench-web\",\"type\":\"Traditional\",
  \"oidcClientMetadata\":{\"redirectUris\":[\"$redirect_uri\"],\"postLogoutRedirectUris\":[\"http://127.0.0.1:9/\"]},
  \"customClientMetadata\":{\"rotateRefreshToken\":false}}")
web_id=$(json 'd["id"]' <<<"$web_json")
web_secret=$(json 'd["secret"]' <<<"$web_json")
username="bench_audit_user"
password="Bench-$(openssl rand -hex 8)-Pw!"
api POST /users "{\"username\":\"$username\",\"password\":\"$password\"}" >/dev/null
printf '%s %s\n' "$username" "$password" >"$tmp/users.txt"
export BENCH_BASE="$public" BENCH_CLIENT_ID="$web_id" BENCH_CLIENT_SECRET="$web_secret"
export BENCH_REDIRECT_URI="$redirect_uri" BENCH_USERS="$tmp/users.txt"
export BENCH_SCOPE="openid offline_access profile email"
once=$(node tests/bench/signin.mjs once) || fail "the sign-in failed"
refresh_token=$(json 'd.get("refresh_token", "")' <<<"$once")
[ -n "$refresh_token" ] || fail "no refresh token with offline_access: $once"

quote() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
cc_auth="Basic $(printf '%s:%s' "$m2m_id" "$m2m_secret" | base64 -w0)"
cc_body="grant_type=client_credentials&resource=$(quote "$indicator")&scope=read%3Abench"
rt_auth="Basic $(printf '%s:%s' "$web_id" "$web_secret" | base64 -w0)"
rt_body="grant_type=refresh_token&refresh_token=$(quote "$refresh_token")"

# grant_once BASE AUTH BODY: one grant by hand; fails unless 200.
grant_once() {
  local code
  code=$(curl -sS -o "$tmp/grant.json" -w '%{http_code}' -H "Authorization: $2" --data "$3" \
    "$1/oidc/token") || fail "grant: curl failed"
  [ "$code" = 200 ] || fail "grant on $1 (${3%%&*}) answered $code: $(cat "$tmp/grant.json")"
}
for base in "$public" "$off"; do
  grant_once "$base" "$cc_auth" "$cc_body"
  grant_once "$base" "$rt_auth" "$rt_body"
done

# Both nodes sign with the key the rotation made current (each reads it from the database).
for base in "$public" "$off"; do
  for _ in $(seq 1 50); do
    tok=$(curl -sS -H "Authorization: $cc_auth" --data "$cc_body" "$base/oidc/token" | json 'd["access_token"]')
    [ "$(python3 -c 'import base64, json, sys; h = sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$tok")" = "$alg" ] && break
    sleep 0.1
  done
done

echo "latchd $(build/core/latchd --version | cut -d' ' -f2), $(nproc) cores, $alg, wrk -t$threads -c$conns, ${duration}s per run" \
  "(warm-up ${warmup}s per kind); audit log on (:$port) and off (:$port_off) alternated"

# ---- the runs ----------------------------------------------------------------------------------
# measure GRANT NODE SECONDS [warmup]: wrk on NODE's token endpoint with GRANT's request; prints
# a line and appends the rate to rates_GRANT_NODE unless it is the warm-up.
rates_cc_on=()
rates_cc_off=()
rates_rt_on=()
rates_rt_off=()
measured_on=0
measure() {
  local grant=$1 node=$2 seconds=$3 base label
  if [ "$grant" = cc ]; then
    BENCH_AUTH=$cc_auth BENCH_BODY=$cc_body label="client_credentials"
  else
    BENCH_AUTH=$rt_auth BENCH_BODY=$rt_body label="refresh_token"
  fi
  export BENCH_AUTH BENCH_BODY
  if [ "$node" = on ]; then base=$public; else base=$off; fi
  bench_wrk "$base/oidc/token" "$seconds" "$threads" "$conns"
  [ "${wrk_other:-1}" = 0 ] || fail "$label ($node): ${wrk_other:-?} answers were not 200"
  [ "${wrk_ok200:-0}" -gt 0 ] || fail "$label ($node): no 200 answer"
  if [ "$node" = on ]; then measured_on=$((measured_on + wrk_ok200)); fi
  if [ "${4:-}" = warmup ]; then
    return
  fi
  printf '%-44s %10s req/s   p50 %-9s p99 %-9s%s\n' "POST /oidc/token ($label, audit $node)" \
    "$wrk_rate" "$wrk_p50" "$wrk_p99" "${wrk_sockerr:+   socket errors: $wrk_sockerr}"
  eval "rates_${grant}_${node}+=(\"\$wrk_rate\")"
}

if [ "$warmup" -gt 0 ]; then
  for g in cc rt; do
    measure "$g" on "$warmup" warmup
    measure "$g" off "$warmup" warmup
  done
fi
for _ in $(seq 1 "$rounds"); do
  for g in cc rt; do
    measure "$g" on "$duration"
    measure "$g" off "$duration"
  done
done

echo "latchd peak RSS: audit on $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$latchd_pid/status")," \
  "off $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$off_pid/status")"

# ---- what was recorded ---------------------------------------------------------------------------
# The writer flushes every LATCH_AUDIT_LOG_FLUSH_MS (250 ms): let the last batch land.
sleep 1
metric() { curl -fsS "http://127.0.0.1:$metrics_port/metrics" | awk -v n="$1" '$1 == n {s += $2} END {print s + 0}'; }
written=$(metric latch_audit_log_written_total)
dropped=$(metric 'latch_audit_log_dropped_total{reason="queue_full"}')
failed=$(metric 'latch_audit_log_dropped_total{reason="write_failed"}')
echo "audit log: $measured_on grants answered by the 'on' node in the runs; entries written" \
  "$written, dropped (queue full) $dropped, dropped (write failed) $failed"
[ "$written" -gt 0 ] || fail "the 'on' node wrote no audit-log entry"

# ---- ratios and target --------------------------------------------------------------------------
python3 - "${BENCH_STRICT:-0}" "${rates_cc_on[*]}" "${rates_cc_off[*]}" "${rates_rt_on[*]}" \
  "${rates_rt_off[*]}" <<'EOF'
import sys
strict = sys.argv[1] == "1"
rates = [[float(x) for x in a.split()] for a in sys.argv[2:6]]
mean = lambda v: sum(v) / len(v)
missed = 0
print()
for name, on, off in (("client_credentials", rates[0], rates[1]), ("refresh_token", rates[2], rates[3])):
    ratio = mean(on) / mean(off)
    pairs = ", ".join(f"{a / b:.2f}" for a, b in zip(on, off))
    print(f"{name}: audit on mean {mean(on):.0f} req/s, off mean {mean(off):.0f}; run by run {pairs}")
    ok = ratio >= 0.90
    missed += not ok
    print(f"{name + ' on / off':40s} {ratio:>10.2f}   target >= 0.90     {'ok' if ok else 'BELOW TARGET'}")
if missed and strict:
    sys.exit(1)
EOF
