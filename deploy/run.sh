#!/usr/bin/env bash
# shellcheck disable=SC2317 # (functions that run from traps)
# deploy/run.sh: THE run command. Installs what is missing, builds Latch (build/, release), starts
# a private PostgreSQL in the data directory (.data/ in the checkout, or LATCH_DATA_DIR), applies
# the migrations and runs latchd in the foreground on http://localhost:3001.
# Ctrl-C (or SIGTERM) stops latchd gracefully, then PostgreSQL. Running it again reuses the data.
#
# With LATCH_DATABASE_URL set, that database is used and no PostgreSQL is started; its role must
# not be a superuser and must not have BYPASSRLS (latchd refuses such a role).
#
# Variables of this script: LATCH_DATA_DIR (default <repo>/.data), LATCH_PG_PORT (default 54329).
# Every LATCH_* variable of latchd is passed through (see README.md).
set -euo pipefail

# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LATCH_ROOT"

data_dir="${LATCH_DATA_DIR:-$LATCH_ROOT/.data}"
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"
pg_port="${LATCH_PG_PORT:-54329}"
build_dir="$LATCH_ROOT/build"

pg_dir="$data_dir/postgresql"
pg_started=0
sock_dir=""
latchd_pid=""
signals=0

cleanup() {
    local rc=$?
    set +e
    if [[ -n "$latchd_pid" ]] && kill -0 "$latchd_pid" 2>/dev/null; then
        kill -TERM "$latchd_pid" 2>/dev/null
        wait "$latchd_pid" 2>/dev/null
    fi
    if [[ "$pg_started" -eq 1 ]]; then
        latch_pg_stop "$pg_dir"
    fi
    if [[ -n "$sock_dir" ]]; then
        rm -rf "$sock_dir"
    fi
    exit "$rc"
}
trap cleanup EXIT

on_signal() {
    signals=$((signals + 1))
    if [[ -z "$latchd_pid" ]]; then
        # Still setting up: stop here; cleanup runs on EXIT.
        exit 130
    fi
    case "$signals" in
        1)
            latch_log "stopping latchd (it finishes requests in flight first)"
            kill -TERM "$latchd_pid" 2>/dev/null || true
            ;;
        2) latch_log "still stopping; press Ctrl-C once more to kill latchd" ;;
        *) kill -KILL "$latchd_pid" 2>/dev/null || true ;;
    esac
}
trap on_signal INT TERM

latch_install_packages "${LATCH_BUILD_PACKAGES[@]}"
latch_build "$build_dir" -Dbuildtype=release

latchd="$build_dir/core/latchd"
latchctl="$build_dir/core/latchctl"
[[ -x "$latchd" && -x "$latchctl" ]] || latch_die "the build did not produce $latchd and $latchctl"

# One run per data directory at a time (latchd binds with SO_REUSEPORT, so a second one would
# silently share the port instead of failing).
exec 9>"$data_dir/run.lock"
flock -n 9 || latch_die "another deploy/run.sh is using $data_dir"

# The key-encryption key: generated once, kept with the data.
if [[ -z "${LATCH_SECRET_KEY:-}" ]]; then
    key_file="$data_dir/secret.key"
    if [[ ! -s "$key_file" ]]; then
        latch_log "generating $key_file"
        (umask 077 && openssl rand -base64 32 >"$key_file.tmp" && mv "$key_file.tmp" "$key_file")
    fi
    chmod 600 "$key_file"
    LATCH_SECRET_KEY="$(tr -d '\n' <"$key_file")"
fi
export LATCH_SECRET_KEY

if [[ -z "${LATCH_DATABASE_URL:-}" ]]; then
    # postgres must be able to reach the cluster through $data_dir (but not read secret.key).
    chmod 711 "$data_dir"
    sock_dir="$(mktemp -d /tmp/latch-pg.XXXXXX)"
    chmod 755 "$sock_dir"
    pg_started=1
    latch_pg_start "$pg_dir" "$pg_port" "$sock_dir"
    latch_pg_ensure_db "$pg_port" "$sock_dir" latch
    LATCH_DATABASE_URL="postgresql://latch@127.0.0.1:$pg_port/latch"
    db_note="private PostgreSQL on 127.0.0.1:$pg_port (data: $pg_dir)"
else
    db_note="LATCH_DATABASE_URL (your database)"
fi
export LATCH_DATABASE_URL

export LATCH_LISTEN="${LATCH_LISTEN:-127.0.0.1:3001}"
export LATCH_PUBLIC_URL="${LATCH_PUBLIC_URL:-http://localhost:3001}"
export LATCH_AUTO_MIGRATE="${LATCH_AUTO_MIGRATE:-1}"
# The connectors of this build (latchd's compiled-in default is where `meson install` puts them).
export LATCH_CONNECTOR_DIR="${LATCH_CONNECTOR_DIR-$build_dir/connectors}"
# Prometheus metrics on a loopback port of their own; LATCH_METRICS_LISTEN= (empty) turns them off.
export LATCH_METRICS_LISTEN="${LATCH_METRICS_LISTEN-127.0.0.1:9464}"

latch_log "latchctl migrate"
"$latchctl" migrate

# The first migration seeds tenant `default`; make sure it is there.
if ! "$latchctl" tenant list --json | python3 -c '
import json, sys
data = json.load(sys.stdin)
if isinstance(data, dict):
    data = data.get("tenants", [])
sys.exit(0 if any(isinstance(t, dict) and t.get("id") == "default" for t in data) else 1)
'; then
    latch_log "creating tenant default"
    "$latchctl" tenant create default --name Default
fi

listen_host="${LATCH_LISTEN%:*}"
listen_port="${LATCH_LISTEN##*:}"
listen_host="${listen_host#[}"
listen_host="${listen_host%]}"
probe_host="$listen_host"
if [[ "$probe_host" == 0.0.0.0 || "$probe_host" == "::" || -z "$probe_host" ]]; then
    probe_host=127.0.0.1
fi
if latch_port_in_use "$probe_host" "$listen_port"; then
    latch_die "$LATCH_LISTEN is already in use: stop what listens there or set LATCH_LISTEN"
fi
metrics_note="off (LATCH_METRICS_LISTEN is empty)"
if [[ -n "$LATCH_METRICS_LISTEN" ]]; then
    metrics_host="${LATCH_METRICS_LISTEN%:*}"
    metrics_port="${LATCH_METRICS_LISTEN##*:}"
    metrics_host="${metrics_host#[}"
    metrics_host="${metrics_host%]}"
    metrics_probe="$metrics_host"
    if [[ "$metrics_probe" == 0.0.0.0 || "$metrics_probe" == "::" || -z "$metrics_probe" ]]; then
        metrics_probe=127.0.0.1
    fi
    if latch_port_in_use "$metrics_probe" "$metrics_port"; then
        latch_die "$LATCH_METRICS_LISTEN (metrics) is already in use: set LATCH_METRICS_LISTEN to another host:port, or to nothing to turn metrics off"
    fi
    if [[ "$metrics_probe" == *:* ]]; then
        metrics_note="http://[$metrics_probe]:$metrics_port/metrics"
    else
        metrics_note="http://$metrics_probe:$metrics_port/metrics"
    fi
fi

latch_log "starting latchd on $LATCH_LISTEN"
# Its own session, so that Ctrl-C reaches only this script, which then sends one SIGTERM.
setsid "$latchd" </dev/null &
latchd_pid=$!

# Tell what to do next once it answers.
if python3 - "$probe_host" "$listen_port" "$latchd_pid" <<'EOF'; then
import os, sys, time, urllib.request
host, port, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = "http://%s:%s/healthz" % ("[%s]" % host if ":" in host else host, port)
deadline = time.time() + 30
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.2)
sys.exit(1)
EOF
    cat >&2 <<EOF

  Latch is running: $LATCH_PUBLIC_URL
  Database: $db_note

    $LATCH_PUBLIC_URL/healthz           alive
    $LATCH_PUBLIC_URL/readyz            ready for traffic (schema current, not draining)
    $LATCH_PUBLIC_URL/readyz/database   PostgreSQL reachable right now (for monitoring)
    $LATCH_PUBLIC_URL/api/status        tenant "default" (204)
    $LATCH_PUBLIC_URL/t/<tenant>/...    any other tenant
    Metrics (Prometheus): $metrics_note

  Admin console: $LATCH_PUBLIC_URL/console   (tenant <id>: $LATCH_PUBLIC_URL/t/<id>/console)
    Make yourself its first administrator (in another terminal); open the link it prints,
    set your password there, then sign in:
    LATCH_DATABASE_URL=$LATCH_DATABASE_URL LATCH_PUBLIC_URL=$LATCH_PUBLIC_URL \\
      LATCH_SECRET_KEY=\$(cat ${key_file:-<your LATCH_SECRET_KEY file>}) \\
      $latchctl admin create --tenant default --username admin

  Create a tenant (in another terminal):
    LATCH_DATABASE_URL=$LATCH_DATABASE_URL \\
      $latchctl tenant create acme --name "Acme Inc."
    LATCH_DATABASE_URL=$LATCH_DATABASE_URL $latchctl tenant list --json

  Get a Management API token (tenant "default"):
    export LATCH_DATABASE_URL=$LATCH_DATABASE_URL LATCH_PUBLIC_URL=$LATCH_PUBLIC_URL
    export LATCH_SECRET_KEY=\$(cat ${key_file:-<your LATCH_SECRET_KEY file>})
    $latchctl app create --tenant default --type MachineToMachine --name ops --management
    curl -s -u '<id>:<secret>' -d grant_type=client_credentials \\
      -d resource=$LATCH_PUBLIC_URL/api -d scope=all $LATCH_PUBLIC_URL/oidc/token
  then call e.g. $LATCH_PUBLIC_URL/api/applications with "Authorization: Bearer <access_token>".
  (Or start with LATCH_BOOTSTRAP_CLIENT_ID and LATCH_BOOTSTRAP_CLIENT_SECRET set.)

  Binaries: $latchd, $latchctl
  Ctrl-C stops latchd and the PostgreSQL this command started. Logs below are JSON lines.

EOF
fi

rc=0
while :; do
    set +e
    wait "$latchd_pid"
    rc=$?
    set -e
    if kill -0 "$latchd_pid" 2>/dev/null; then
        continue # wait was interrupted by a signal; latchd is still draining
    fi
    break
done
latchd_pid=""

if [[ "$signals" -gt 0 && "$rc" -eq 0 ]]; then
    latch_log "latchd stopped"
    exit 0
fi
if [[ "$rc" -ne 0 ]]; then
    latch_log "latchd exited with status $rc"
fi
exit "$rc"
