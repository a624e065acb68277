#!/usr/bin/env bash
# Benchmark of organization tokens (Logto RFC 0001): refresh-token grants with organization_id
# per second against plain refresh grants of the same refresh token, in the same run. A user is
# a member of an organization with a role that grants an organization scope, signs in once
# without a browser (tests/bench/signin.mjs once, asking for the organization scopes), and wrk
# replays the refresh token (the app has rotateRefreshToken false): plain, organization, three
# times over (BENCH_ROUNDS), after a short warm-up of each. Before that, one organization refresh by hand must
# give an access token for urn:logto:organization:<id> carrying the organization scope. Prints
# each run, the means, and the target:
#   organization refresh grants/s >= 80% of plain refresh grants/s (same run)
# The signing key is rotated to EC-P256 first (BENCH_KEY), so that signing, the same for both,
# does not hide what the organization costs. Exits non-zero when a request failed (or nothing was
# measured); BENCH_STRICT=1 also makes a missed target fail. Not part of the test command.
#
# Usage: bash tests/bench/orgs.sh [duration_s]   (each of the six runs; default 10, about 80 s
#        in all once build/ is up to date)
# Needs: a release build in build/ (brought up to date), Node >= 20, wrk, curl, openssl, python3,
# PostgreSQL 15.
# Knobs: BENCH_DURATION (10, or the argument), BENCH_WARMUP (2 s per kind), BENCH_ROUNDS (3 pairs
# of runs: this machine's speed drifts, so the pairs are alternated), BENCH_WRK_THREADS (2),
# BENCH_WRK_CONNECTIONS (64), BENCH_KEY (EC-P256; EC keeps the tenant's ES384 key),
# BENCH_CSRF_HEADER (x-csrf-token), BENCH_STRICT.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/lib.sh

duration=${1:-${BENCH_DURATION:-10}}
warmup=${BENCH_WARMUP:-2}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_WRK_THREADS:-2}
conns=${BENCH_WRK_CONNECTIONS:-64}
key=${BENCH_KEY:-EC-P256}

latch_install_packages wrk curl openssl python3
latch_ensure_node20
. tests/bench/lib.sh
mgmt_login

# ---- the Traditional app, the user and the organization ----------------------------------------
# The redirect URI is never contacted: signin.mjs reads the code from the Location header.
redirect_uri="http://127.0.0.1:9/api/auth/callback/logto"
app_json=$(api POST /applications "{\"name\":\"bench-web\",\"type\":\"Traditional\",
  \"oidcClientMetadata\":{\"redirectUris\":[\"$redirect_uri\"],\"postLogoutRedirectUris\":[\"http://127.0.0.1:9/\"]},
  \"customClientMetadata\":{\"rotateRefreshToken\":false}}")
app_id=$(json 'd["id"]' <<<"$app_json")
app_secret=$(json 'd["secret"]' <<<"$app_json")

username="bench_org_user"
password="Bench-$(openssl rand -hex 8)-Pw!"
user_json=$(api POST /users "{\"username\":\"$username\",\"password\":\"$password\",\"name\":\"Bench member\",
  \"primaryEmail\":\"member@example.com\"}")
user_id=$(json 'd["id"]' <<<"$user_json")
printf '%s %s\n' "$username" "$password" >"$tmp/users.txt"

org_scope="read:projects"
scope_json=$(api POST /organization-scopes "{\"name\":\"$org_scope\",\"description\":\"Read the projects\"}")
org_scope_id=$(json 'd["id"]' <<<"$scope_json")
role_json=$(api POST /organization-roles "{\"name\":\"bench-viewer\",\"organizationScopeIds\":[\"$org_scope_id\"]}")
org_role_id=$(json 'd["id"]' <<<"$role_json")
org_json=$(api POST /organizations '{"name":"Bench Corp"}')
org_id=$(json 'd["id"]' <<<"$org_json")
api POST "/organizations/$org_id/users" "{\"userIds\":[\"$user_id\"]}" >/dev/null
api POST "/organizations/$org_id/users/$user_id/roles" "{\"organizationRoleIds\":[\"$org_role_id\"]}" >/dev/null

# ---- the refresh token -------------------------------------------------------------------------
export BENCH_BASE="$public" BENCH_CLIENT_ID="$app_id" BENCH_CLIENT_SECRET="$app_secret"
export BENCH_REDIRECT_URI="$redirect_uri" BENCH_USERS="$tmp/users.txt"
export BENCH_SCOPE="openid offline_access profile email urn:logto:scope:organizations urn:logto:scope:organization_roles $org_scope"
once=$(node tests/bench/signin.mjs once) || fail "the sign-in failed"
refresh_token=$(json 'd.get("refresh_token", "")' <<<"$once")
[ -n "$refresh_token" ] || fail "no refresh token with offline_access: $once"

if [ "$key" != EC ]; then
  api POST /configs/oidc/private-keys/rotate "{\"signingKeyAlgorithm\":\"$key\",\"gracePeriod\":600}" >/dev/null
  sleep 1
fi

BENCH_AUTH="Basic $(printf '%s:%s' "$app_id" "$app_secret" | base64 -w0)"
plain_body="grant_type=refresh_token&refresh_token=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$refresh_token")"
org_body="$plain_body&organization_id=$org_id"
export BENCH_AUTH

# refresh_once BODY: one refresh grant by hand; prints the token response; fails unless 200.
refresh_once() {
  local code
  code=$(curl -sS -o "$tmp/refresh.json" -w '%{http_code}' -H "Authorization: $BENCH_AUTH" \
    --data "$1" "$public/oidc/token") || fail "refresh: curl failed"
  [ "$code" = 200 ] || fail "refresh (${1##*&}) answered $code: $(cat "$tmp/refresh.json")"
  cat "$tmp/refresh.json"
}

# Sanity: the plain grant works twice (rotation is off), and the organization grant gives an
# access token for the organization with its scope, signed with the key being measured.
refresh_once "$plain_body" >/dev/null
plain_resp=$(refresh_once "$plain_body")
org_resp=$(refresh_once "$org_body")
org_token=$(json 'd["access_token"]' <<<"$org_resp")
org_claims=$(jwt_payload "$org_token") || fail "the organization access token is not a JWT: $org_token"
org_aud=$(json 'd["aud"] if isinstance(d["aud"], str) else " ".join(d["aud"])' <<<"$org_claims")
[ "$org_aud" = "urn:logto:organization:$org_id" ] ||
  fail "organization token aud is '$org_aud', not urn:logto:organization:$org_id: $org_claims"
org_token_scope=$(json 'd.get("scope", "")' <<<"$org_claims")
[[ " $org_token_scope " == *" $org_scope "* ]] || fail "organization token scope lacks $org_scope: $org_claims"
org_alg=$(python3 -c 'import base64, json, sys
h = sys.argv[1].split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$org_token")
# What each grant answers (an ID token too costs one more signature).
issued='" ".join(k for k in ("access_token", "id_token", "refresh_token") if k in d)'
echo "organization grant: $(json "$issued" <<<"$org_resp"); access token aud $org_aud," \
  "scope '$org_token_scope', $org_alg"
echo "plain grant: $(json "$issued" <<<"$plain_resp"); scope '$(json 'd.get("scope", "")' <<<"$plain_resp")'"

echo "latchd $(build/core/latchd --version | cut -d' ' -f2), $(nproc) cores, wrk -t$threads -c$conns, ${duration}s per run" \
  "(warm-up ${warmup}s per kind), plain and organization refresh grants alternated"

# ---- the runs ----------------------------------------------------------------------------------
# measure KIND SECONDS: wrk on the token endpoint with KIND's body (plain or org); prints a line
# and appends the rate to rates_KIND unless it is the warm-up.
rates_plain=()
rates_org=()
measure() {
  local kind=$1 seconds=$2 label
  if [ "$kind" = org ]; then
    BENCH_BODY=$org_body
    label="refresh + organization_id"
  else
    BENCH_BODY=$plain_body
    label="refresh"
  fi
  export BENCH_BODY
  bench_wrk "$public/oidc/token" "$seconds" "$threads" "$conns"
  [ "${wrk_other:-1}" = 0 ] || fail "$label: ${wrk_other:-?} answers were not 200"
  [ "${wrk_ok200:-0}" -gt 0 ] || fail "$label: no 200 answer"
  if [ "${3:-}" = warmup ]; then
    return
  fi
  printf '%-44s %10s req/s   p50 %-9s p99 %-9s%s\n' "POST /oidc/token ($label)" "$wrk_rate" \
    "$wrk_p50" "$wrk_p99" "${wrk_sockerr:+   socket errors: $wrk_sockerr}"
  if [ "$kind" = org ]; then rates_org+=("$wrk_rate"); else rates_plain+=("$wrk_rate"); fi
}

if [ "$warmup" -gt 0 ]; then
  measure plain "$warmup" warmup
  measure org "$warmup" warmup
fi
for _ in $(seq 1 "$rounds"); do
  measure plain "$duration"
  measure org "$duration"
done

echo "latchd peak RSS: $(awk '/VmHWM/ {print $2 " kB"}' "/proc/$latchd_pid/status")"

# ---- ratio and target --------------------------------------------------------------------------
python3 - "${BENCH_STRICT:-0}" "${rates_plain[*]}" "${rates_org[*]}" <<'EOF'
import sys
strict = sys.argv[1] == "1"
plain = [float(x) for x in sys.argv[2].split()]
org = [float(x) for x in sys.argv[3].split()]
mp, mo = sum(plain) / len(plain), sum(org) / len(org)
ratio = mo / mp
pairs = ", ".join(f"{o / p:.2f}" for p, o in zip(plain, org))
print()
print(f"plain refresh grants/s: mean {mp:.0f} ({', '.join(f'{x:.0f}' for x in plain)}); "
      f"organization: mean {mo:.0f} ({', '.join(f'{x:.0f}' for x in org)}); run by run {pairs}")
ok = ratio >= 0.80
print(f"{'organization / plain refresh grants/s':40s} {ratio:>10.2f}   target >= 0.80     "
      f"{'ok' if ok else 'BELOW TARGET'}")
if not ok and strict:
    sys.exit(1)
EOF
