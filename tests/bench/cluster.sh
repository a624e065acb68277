#!/usr/bin/env bash
# Benchmark of a cluster under faults (issue 10): two release latchd nodes of one throwaway
# PostgreSQL behind haproxy running deploy/haproxy.cfg, wrk sending client-credentials token
# requests through haproxy (lib.sh's post.lua, which counts 200 and other answers), and during
# each wrk run one fault:
#   rolling   SIGTERM node 1, start it again, then the same for node 2
#   kill9     kill -9 node 1, start it again
#   pgrestart PostgreSQL stopped for BENCH_PG_DOWN_S seconds, then started again
# Prints, per fault, the requests that failed (answers other than 200, plus wrk's socket errors)
# and, after PostgreSQL returns, the recovery time of each node: polled every 50 ms from the
# moment pg_ctl says it accepts connections until a token request and a Management API read
# (which needs the database) answer 200 on that node directly. Not part of the test command.
#
# Usage: bash tests/bench/cluster.sh [seconds per fault run]        (default 20)
# Knobs: BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (32), BENCH_PG_DOWN_S (5),
#        BENCH_FAULT_AT_S (5: when in the run the fault starts), BENCH_FAULTS (which faults to
#        run, default "rolling kill9 pgrestart"), BENCH_HAPROXY_CFG (default deploy/haproxy.cfg:
#        try your own load balancer settings), and any LATCH_* variable for the nodes (e.g.
#        LATCH_DRAIN_DELAY_MS, default 5000). The rolling restart also prints how long each node
#        took from SIGTERM to its exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/lib.sh

duration=${1:-20}
threads=${BENCH_WRK_THREADS:-2}
conns=${BENCH_WRK_CONNECTIONS:-32}
pg_down=${BENCH_PG_DOWN_S:-5}
fault_at=${BENCH_FAULT_AT_S:-5}
faults=" ${BENCH_FAULTS:-rolling kill9 pgrestart} "
haproxy_cfg=${BENCH_HAPROXY_CFG:-deploy/haproxy.cfg}

latch_install_packages wrk curl openssl python3 haproxy
# Starts PostgreSQL and a first latchd (node 1 below is started anew with the cluster's settings).
. tests/bench/lib.sh

lbport=$(latch_free_port)
port2=$(latch_free_port)
while [ "$port2" = "$port" ] || [ "$port2" = "$lbport" ]; do port2=$(latch_free_port); done
ports=("$port" "$port2")
pids=("" "")
haproxy_pid=""

cluster_cleanup() {
  local p
  for p in "${pids[@]}" "$haproxy_pid"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
  latchd_pid=""
  cleanup
}
trap cluster_cleanup EXIT

# Every node's public URL is the load balancer's.
kill -TERM "$latchd_pid" && wait "$latchd_pid" || true
latchd_pid=""
public="http://127.0.0.1:$lbport"
export LATCH_PUBLIC_URL="$public" LATCH_TRUSTED_PROXIES=127.0.0.1/32

# start_node I: starts node I (0 or 1) on its port, waits for /readyz.
start_node() {
  local i=$1 n
  LATCH_LISTEN="127.0.0.1:${ports[$i]}" build/core/latchd 2>>"$tmp/node$i.log" &
  pids[i]=$!
  for n in $(seq 1 200); do
    curl -fs "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${pids[$i]}" 2>/dev/null || fail "node $i exited during start-up: $(tail -n 5 "$tmp/node$i.log")"
    sleep 0.1
  done
  fail "node $i not ready after 20 s"
}

# lb_state NAME: haproxy's check status of server NAME (node1, node2).
lb_state() {
  python3 - "$tmp/haproxy.sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
lines = data.decode().strip().split("\n")
cols = lines[0].lstrip("# ").split(",")
for line in lines[1:]:
    f = line.split(",")
    if f[cols.index("pxname")] == "latchd" and f[cols.index("svname")] == sys.argv[2]:
        print(f[cols.index("status")])
EOF
}

# wait_up NAME: until haproxy has server NAME UP (at most 15 s).
wait_up() {
  local n
  for n in $(seq 1 300); do
    [ "$(lb_state "$1")" = UP ] && return 0
    sleep 0.05
  done
  fail "haproxy did not put $1 UP"
}

start_node 0
start_node 1
LATCH_LB_BIND="127.0.0.1:$lbport" LATCH_LB_NODE1="127.0.0.1:${ports[0]}" \
  LATCH_LB_NODE2="127.0.0.1:${ports[1]}" LATCH_LB_ADMIN_SOCKET="$tmp/haproxy.sock" \
  haproxy -db -f "$haproxy_cfg" >"$tmp/haproxy.log" 2>&1 &
haproxy_pid=$!
for _ in $(seq 1 100); do
  [ -S "$tmp/haproxy.sock" ] && break
  sleep 0.1
done
wait_up node1
wait_up node2

mgmt_login
indicator="$public/api"
BENCH_AUTH="Basic $(printf '%s:%s' "$admin_id" "$admin_secret" | base64 -w0)"
BENCH_BODY="grant_type=client_credentials&resource=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$indicator")&scope=all"
export BENCH_AUTH BENCH_BODY

# wrk's script: lib.sh's post.lua (POST $BENCH_BODY with $BENCH_AUTH) with the answers counted by
# status: 200, 500, 503 (latchd's, or haproxy's own when no node is up) and any other.
sed -e '/^local threads/,$d' "$tmp/post.lua" >"$tmp/cluster.lua"
cat >>"$tmp/cluster.lua" <<'EOF'
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  s200, s500, s503, sother = 0, 0, 0, 0
end
function response(status, headers, body)
  if status == 200 then s200 = s200 + 1
  elseif status == 500 then s500 = s500 + 1
  elseif status == 503 then s503 = s503 + 1
  else sother = sother + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, th in ipairs(threads) do
    t[1] = t[1] + th:get("s200")
    t[2] = t[2] + th:get("s500")
    t[3] = t[3] + th:get("s503")
    t[4] = t[4] + th:get("sother")
  end
  io.write(string.format("lua-status: 200=%d 500=%d 503=%d other=%d\n", t[1], t[2], t[3], t[4]))
end
EOF

# wrk_start SECONDS: wrk through haproxy in the background; wrk_finish NAME prints one line:
# failed = answers other than 200 + wrk's socket errors (connect, read, write, timeout).
wrk_start() {
  wrk -t"$threads" -c"$conns" -d"${1}s" --timeout 30s -s "$tmp/cluster.lua" \
    "$public/oidc/token" >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
}
wrk_finish() {
  local name=$1 out rps sock sockn=0 s200 s500 s503 sother
  kill -0 "$wrk_pid" 2>/dev/null || echo "  (the fault outlasted the wrk run: give it more seconds)"
  wait "$wrk_pid" || fail "wrk failed: $(cat "$tmp/wrk.out")"
  out=$(cat "$tmp/wrk.out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  read -r s200 s500 s503 sother < <(sed -n \
    's/^lua-status: 200=\([0-9]*\) 500=\([0-9]*\) 503=\([0-9]*\) other=\([0-9]*\)/\1 \2 \3 \4/p' <<<"$out")
  sock=$(sed -n 's/.*Socket errors: //p' <<<"$out")
  if [ -n "$sock" ]; then
    sockn=$(awk -F'[ ,]+' '{n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print n}' <<<"$sock")
  fi
  printf '%-10s %9s req/s %8s ok   failed %6s: 500=%s 503=%s other=%s socket errors: %s\n' \
    "$name" "$rps" "${s200:-?}" "$((${s500:-0} + ${s503:-0} + ${sother:-0} + sockn))" \
    "${s500:-?}" "${s503:-?}" "${sother:-?}" "${sock:-none}"
}

# recovery: prints, for each node, the time from now until a token request and a Management
# API read both answer 200 on it (polls every 50 ms, gives up after 30 s).
recovery() {
  python3 - "$public" "$BENCH_AUTH" "$BENCH_BODY" "$mgmt_token" "127.0.0.1:${ports[0]}" \
    "127.0.0.1:${ports[1]}" <<'EOF'
import sys, time, urllib.request
public, auth, body, token, nodes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def ok(req):
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status == 200
    except Exception:
        return False
t0 = time.monotonic()
pending = dict.fromkeys(nodes)
while any(v is None for v in pending.values()) and time.monotonic() - t0 < 30:
    for n in nodes:
        if pending[n] is not None:
            continue
        tok = urllib.request.Request("http://%s/oidc/token" % n, data=body.encode(),
                                     headers={"Authorization": auth,
                                              "Content-Type": "application/x-www-form-urlencoded"})
        api = urllib.request.Request("http://%s/api/applications?page_size=1" % n,
                                     headers={"Authorization": "Bearer " + token})
        if ok(tok) and ok(api):
            pending[n] = time.monotonic() - t0
    time.sleep(0.05)
for i, n in enumerate(nodes):
    v = pending[n]
    print("  node %d recovered %s after PostgreSQL accepted connections" %
          (i + 1, "in %.0f ms" % (v * 1000) if v is not None else "NOT within 30 s"))
EOF
}

echo "latchd $(build/core/latchd --version | cut -d' ' -f2), $(nproc) cores, 2 nodes behind haproxy $(haproxy -v | awk 'NR==1 {print $3}'), wrk -t$threads -c$conns -d${duration}s per fault, fault after ${fault_at}s"

wrk_start "$duration"
wrk_finish baseline

# Rolling restart: each node in turn gets SIGTERM, is started again, and is back in haproxy.
if [[ "$faults" == *" rolling "* ]]; then
  wrk_start "$duration"
  sleep "$fault_at"
  : >"$tmp/stops.out"
  for i in 0 1; do
    t0=$(date +%s%N)
    kill -TERM "${pids[$i]}"
    wait "${pids[$i]}" || echo "  node $((i + 1)) exited with status $?"
    echo "  node $((i + 1)) exited $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM" \
      "(drain delay ${LATCH_DRAIN_DELAY_MS:-5000} ms)" >>"$tmp/stops.out"
    start_node "$i"
    wait_up "node$((i + 1))"
  done
  wrk_finish rolling
  cat "$tmp/stops.out"
fi

# kill -9 of node 1, then started again.
if [[ "$faults" == *" kill9 "* ]]; then
  wrk_start "$duration"
  sleep "$fault_at"
  kill -KILL "${pids[0]}"
  wait "${pids[0]}" 2>/dev/null || true
  sleep 2
  start_node 0
  wait_up node1
  wrk_finish kill9
fi

[[ "$faults" == *" pgrestart "* ]] || exit 0
# PostgreSQL stopped for $pg_down s, then started again (wrk goes on while recovery is measured).
wrk_start "$((fault_at + pg_down + duration + 10))"
sleep "$fault_at"
latch_pg_stop "$tmp/pg" >/dev/null 2>&1
sleep "$pg_down"
latch_pg_start "$tmp/pg" "$pgport" "$tmp" throwaway >/dev/null 2>&1
recovery >"$tmp/recovery.out"
wrk_finish pgrestart
cat "$tmp/recovery.out"
grep -c '" 500 ' "$tmp/haproxy.log" | sed 's/^/  500 answers logged by haproxy over all runs: /' || true
