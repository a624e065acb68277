# shellcheck shell=bash
# deploy/lib.sh: shared functions of deploy/run.sh and deploy/test.sh. Source it; it defines
# functions and a few variables and runs nothing by itself.
#
#   latch_install_packages PKG...       apt-get install what dpkg says is missing (root or sudo)
#   latch_ensure_node20                 node >= 20 on PATH (from the npm registry if need be)
#   latch_build DIR [-Dopt=value...]    npm ci of the console's UI library when needed (latch_console_deps),
#                                       meson setup / reconfigure when needed, then ninja
#   latch_pg_start DATADIR PORT SOCKDIR [throwaway]
#   latch_pg_stop DATADIR
#   latch_pg_ensure_db PORT SOCKDIR DBNAME...   role `latch` (no superuser, no BYPASSRLS) + dbs
#   latch_free_port                     a free TCP port on 127.0.0.1
#   latch_port_in_use HOST PORT         true when something accepts connections there
#   latch_fuzz_build DIR                the libFuzzer build (clang, -Dfuzz=true) of tests/fuzz/
#   latch_fuzz_drivers                  the names of the libFuzzer drivers (tests/fuzz/meson.build)

LATCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LATCH_PG_BIN="${LATCH_PG_BIN:-/usr/lib/postgresql/15/bin}"

# Debian 12 packages needed to build and run Latch.
# shellcheck disable=SC2034 # used by the scripts that source this file
LATCH_BUILD_PACKAGES=(
    build-essential pkg-config meson ninja-build
    libevent-dev libssl-dev libpq-dev libyajl-dev libcurl4-openssl-dev libargon2-dev libcmocka-dev
    libcbor-dev
    postgresql-15 postgresql-client-15
    openssl ca-certificates python3
)
# Added for the test command (Node itself comes from latch_ensure_node20): the browser, the load
# balancers the cluster tests put in front of latchd (deploy/haproxy.cfg, deploy/nginx.conf) and
# systemd-analyze, which verifies deploy/latchd.service; pgbouncer for the transaction-pooling tests;
# clang with its sanitizer and libFuzzer runtimes for the fuzz build (tests/fuzz/); libabigail's
# abidw/abidiff for the connector ABI check (tests/abi/).
# shellcheck disable=SC2034
LATCH_TEST_PACKAGES=(chromium fonts-liberation haproxy nginx-light systemd pgbouncer
    clang libclang-rt-14-dev abigail-tools)

latch_log() {
    printf '==> %s\n' "$*" >&2
}

latch_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

latch_is_root() {
    [[ "$(id -u)" -eq 0 ]]
}

# Runs a command as root: directly when we are root, else through sudo.
latch_as_root() {
    if latch_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        latch_die "need root to run: $* (run as root, or install sudo)"
    fi
}

latch_pkg_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

# Installs the packages that are not installed yet; runs apt-get only when something is missing.
latch_install_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! latch_pkg_installed "$pkg"; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    latch_log "installing missing Debian packages: ${missing[*]}"
    latch_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 update -q
    latch_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
}

# Prints the major version of the given node binary, 0 when it does not run.
latch_node_major() {
    local bin="${1:-node}" v
    v="$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)"
    if [[ "$v" =~ ^[0-9]+$ ]]; then
        printf '%s\n' "$v"
    else
        printf '0\n'
    fi
}

# Makes `node` (>= 20) and `npm` available on PATH. Debian 12's own nodejs is 18: then Node 20 is
# taken from the npm registry's `node` package into <repo>/.tools/node and put first on PATH.
latch_ensure_node20() {
    local tools="$LATCH_ROOT/.tools/node" bin="" cand arch

    if command -v node >/dev/null 2>&1 && [[ "$(latch_node_major node)" -ge 20 ]]; then
        if ! command -v npm >/dev/null 2>&1; then
            latch_install_packages npm
        fi
        return 0
    fi

    # A Node 20 installed by an earlier run.
    if [[ -x "$tools/bin/node" ]] && [[ "$(latch_node_major "$tools/bin/node")" -ge 20 ]]; then
        export PATH="$tools/bin:$PATH"
        command -v npm >/dev/null 2>&1 || latch_install_packages npm
        return 0
    fi

    latch_log "node is missing or older than 20: installing Node 20 from the npm registry into $tools"
    if ! command -v npm >/dev/null 2>&1; then
        latch_install_packages npm
    fi
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error node@20 >&2

    for cand in "$tools/node_modules/node/bin/node" "$tools/node_modules/.bin/node"; do
        if [[ -x "$cand" ]] && [[ "$(latch_node_major "$cand")" -ge 20 ]]; then
            bin="$cand"
            break
        fi
    done
    if [[ -z "$bin" ]]; then
        # The `node` package fetches its binary in a preinstall script; when scripts did not run,
        # take the platform package it would have installed.
        case "$(uname -m)" in
            x86_64) arch=x64 ;;
            aarch64 | arm64) arch=arm64 ;;
            *) latch_die "no Node 20 package for $(uname -m); install Node.js 20 yourself" ;;
        esac
        npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "node-linux-$arch@20" >&2
        cand="$tools/node_modules/node-linux-$arch/bin/node"
        if [[ -x "$cand" ]] && [[ "$(latch_node_major "$cand")" -ge 20 ]]; then
            bin="$cand"
        fi
    fi
    [[ -n "$bin" ]] || latch_die "could not install Node 20 into $tools"

    mkdir -p "$tools/bin"
    ln -sfn "$bin" "$tools/bin/node"
    export PATH="$tools/bin:$PATH"
    latch_log "using node $(node --version) from $tools/bin"
}

# latch_build DIR [-Dname=value ...]: configures DIR with meson when it is not configured, or when
# one of the given options differs from its current value, then builds it with ninja. Returns
# non-zero on failure (also when called where `set -e` does not apply, e.g. in an `if`).
latch_build() {
    local dir="$1"
    shift
    local opt name want need_reconf=0

    latch_console_deps || return 1
    if [[ -d "$dir" && ! -f "$dir/build.ninja" ]]; then
        # A setup that failed half-way: start over.
        rm -rf "$dir"
    fi
    if [[ ! -f "$dir/build.ninja" ]]; then
        latch_log "meson setup $dir $*"
        meson setup "$dir" "$LATCH_ROOT" "$@" >&2 || return 1
    else
        local current
        current="$(meson introspect --buildoptions "$dir" 2>/dev/null || true)"
        for opt in "$@"; do
            if [[ "$opt" != -D*=* ]]; then
                need_reconf=1
                break
            fi
            name="${opt#-D}"
            name="${name%%=*}"
            want="${opt#*=}"
            if ! LATCH_OPT_NAME="$name" LATCH_OPT_WANT="$want" python3 -c '
import json, os, sys
name, want = os.environ["LATCH_OPT_NAME"], os.environ["LATCH_OPT_WANT"]
try:
    opts = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for o in opts:
    if o.get("name") == name:
        v = o.get("value")
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            v = ",".join(str(x) for x in v)
        sys.exit(0 if str(v) == want else 1)
sys.exit(1)
' <<<"$current"; then
                need_reconf=1
                break
            fi
        done
        if [[ "$need_reconf" -eq 1 ]]; then
            latch_log "meson setup --reconfigure $dir $*"
            meson setup --reconfigure "$dir" "$LATCH_ROOT" "$@" >&2 || return 1
        fi
    fi
    latch_log "ninja -C $dir"
    ninja -C "$dir" >&2 || return 1
}

# The admin console's UI library (core/console/package.json, pinned by its package-lock.json):
# `npm ci` there whenever node_modules is missing or older than the lock file. meson copies the
# library from there into latchd (core/meson.build); nothing is fetched at run time.
latch_console_deps() {
    local dir="$LATCH_ROOT/core/console"
    if [[ -f "$dir/node_modules/.package-lock.json" &&
          ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || latch_ensure_node20 || return 1
    latch_log "npm ci (core/console)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || return 1
}

# Runs a command as the postgres user when we are root (initdb refuses to run as root), else as
# ourselves. Runs from / so that an unreadable current directory does not matter.
latch_as_pg() {
    if latch_is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Prints a free TCP port on 127.0.0.1.
latch_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# True when something accepts TCP connections on HOST:PORT.
latch_port_in_use() {
    local host="$1" port="$2"
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

latch_pg_running() {
    local datadir="$1"
    [[ -f "$datadir/PG_VERSION" ]] || return 1
    latch_as_pg "$LATCH_PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# Writes stdin to FILE as the user that owns the cluster.
latch_pg_write_file() {
    latch_as_pg tee "$1" >/dev/null
}

# latch_pg_start DATADIR PORT SOCKDIR [throwaway]: creates the cluster when DATADIR holds none,
# then starts it listening on 127.0.0.1:PORT and on a Unix socket in SOCKDIR, trusting local
# connections only. "throwaway" turns durability off (for test clusters).
latch_pg_start() {
    local datadir="$1" port="$2" sockdir="$3" mode="${4:-}"
    local initdb="$LATCH_PG_BIN/initdb" pg_ctl="$LATCH_PG_BIN/pg_ctl"

    [[ -x "$initdb" && -x "$pg_ctl" ]] ||
        latch_die "PostgreSQL 15 server binaries not found in $LATCH_PG_BIN (package postgresql-15)"

    mkdir -p "$datadir" "$sockdir"
    if latch_is_root; then
        id postgres >/dev/null 2>&1 || latch_die "user postgres does not exist (package postgresql-15)"
        chown postgres:postgres "$datadir" "$sockdir"
        chmod 700 "$datadir"
        if ! latch_as_pg test -w "$datadir" || ! latch_as_pg test -w "$sockdir"; then
            latch_die "the postgres user cannot reach $datadir or $sockdir: a parent folder is not \
searchable by other users (for example /root). Put the data elsewhere, e.g. \
LATCH_DATA_DIR=/var/lib/latch bash deploy/run.sh"
        fi
    fi

    if [[ ! -f "$datadir/PG_VERSION" ]]; then
        latch_log "initdb $datadir"
        latch_as_pg "$initdb" -D "$datadir" -U postgres -A trust --encoding=UTF8 \
            --locale=C.UTF-8 --no-instructions >&2
        printf '%s\n' \
            '# Written by deploy/lib.sh: trust local connections only.' \
            'local all all trust' \
            'host  all all 127.0.0.1/32 trust' |
            latch_pg_write_file "$datadir/pg_hba.conf"
    fi
    if ! grep -q "^include_if_exists = 'latch.conf'" "$datadir/postgresql.conf"; then
        printf "\ninclude_if_exists = 'latch.conf'\n" |
            latch_as_pg tee -a "$datadir/postgresql.conf" >/dev/null
    fi

    if latch_pg_running "$datadir"; then
        latch_log "a PostgreSQL left running on $datadir by an earlier run: restarting it"
        latch_pg_stop "$datadir"
    fi

    {
        printf '%s\n' '# Written by deploy/lib.sh at each start.'
        printf "listen_addresses = '127.0.0.1'\n"
        printf 'port = %s\n' "$port"
        printf "unix_socket_directories = '%s'\n" "$sockdir"
        printf 'max_connections = 200\n'
        if [[ "$mode" == throwaway ]]; then
            printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
        fi
    } | latch_pg_write_file "$datadir/latch.conf"

    if latch_port_in_use 127.0.0.1 "$port"; then
        latch_die "port $port on 127.0.0.1 is already in use: choose another one (LATCH_PG_PORT)"
    fi

    latch_log "starting PostgreSQL on 127.0.0.1:$port (data: $datadir)"
    # In its own session, so that a Ctrl-C meant for the script does not reach the postmaster
    # (SIGINT would make it shut down at once, under latchd's feet).
    if ! latch_as_pg setsid -w "$pg_ctl" -D "$datadir" -l "$datadir/postgresql.log" -w -t 60 \
        start >&2; then
        tail -n 30 "$datadir/postgresql.log" >&2 || true
        latch_die "PostgreSQL did not start (log: $datadir/postgresql.log)"
    fi
}

# Stops the cluster in DATADIR if it runs (fast mode: sessions are ended, then a clean shutdown).
latch_pg_stop() {
    local datadir="$1"
    if latch_pg_running "$datadir"; then
        latch_log "stopping PostgreSQL ($datadir)"
        latch_as_pg "$LATCH_PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >&2
    fi
}

# latch_pg_psql PORT SOCKDIR DB [psql args...]: psql as postgres through the Unix socket.
latch_pg_psql() {
    local port="$1" sockdir="$2" db="$3"
    shift 3
    psql -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d "$db" "$@"
}

# latch_pg_ensure_db PORT SOCKDIR DBNAME...: creates the LOGIN role `latch` (not a superuser and
# without BYPASSRLS, so row-level security applies to it) and each database owned by it.
latch_pg_ensure_db() {
    local port="$1" sockdir="$2"
    shift 2
    local db exists

    exists="$(latch_pg_psql "$port" "$sockdir" postgres -At \
        -c "SELECT 1 FROM pg_roles WHERE rolname = 'latch'")"
    if [[ "$exists" != 1 ]]; then
        latch_log "creating role latch"
        latch_pg_psql "$port" "$sockdir" postgres \
            -c 'CREATE ROLE latch LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'
    else
        latch_pg_psql "$port" "$sockdir" postgres \
            -c 'ALTER ROLE latch LOGIN NOSUPERUSER NOBYPASSRLS'
    fi
    for db in "$@"; do
        [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || latch_die "bad database name: $db"
        exists="$(latch_pg_psql "$port" "$sockdir" postgres -At \
            -c "SELECT 1 FROM pg_database WHERE datname = '$db'")"
        if [[ "$exists" != 1 ]]; then
            latch_log "creating database $db owned by latch"
            latch_pg_psql "$port" "$sockdir" postgres -c "CREATE DATABASE $db OWNER latch"
        fi
    done
}

# latch_fuzz_drivers: prints the libFuzzer drivers' names, as tests/fuzz/meson.build lists them.
latch_fuzz_drivers() {
    sed -n "s/^ *'\\(fuzz_[a-z0-9_]*\\)',\\{0,1\\}\$/\\1/p" "$LATCH_ROOT/tests/fuzz/meson.build" | tr '\n' ' '
}

# latch_fuzz_build DIR: the fuzz build of tests/fuzz/ in DIR: clang, every driver and core/
# instrumented for libFuzzer, ASan and UBSan (the top-level meson.build), no unit tests; -O1 with
# line tables only (quicker to compile than -O2 -g, with the same stack traces); only the
# drivers and what they link are built.
latch_fuzz_build() {
    local dir="$1"
    latch_console_deps || return 1 # core/meson.build reads core/console/node_modules
    if [[ ! -f "$dir/build.ninja" ]]; then
        rm -rf "$dir"
        latch_log "meson setup $dir (clang, -Dfuzz=true)"
        CC=clang meson setup "$dir" "$LATCH_ROOT" -Dfuzz=true -Dtests=false \
            -Dbuildtype=plain -Doptimization=1 -Dc_args=-gline-tables-only -Db_lundef=false >&2 ||
            return 1
    fi
    local targets=() d
    for d in $(latch_fuzz_drivers); do
        targets+=("tests/fuzz/$d")
    done
    latch_log "ninja -C $dir (${#targets[@]} fuzz drivers)"
    ninja -C "$dir" "${targets[@]}" >&2 || return 1
}
