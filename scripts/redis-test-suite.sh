#!/usr/bin/env bash
# Runs Redis's own Tcl test suite (7.0.15) against redoubt-server, or against
# the real redis-server for a baseline, one unit at a time, and prints
# passed/failed counts per unit. Two modes:
#   external (default)  one server started here per unit; the suite talks to
#                       it and skips the tests tagged external:skip
#   spawn (--spawn)     the suite starts src/redis-server itself, as many
#                       times as a unit asks (restarts, loading files it
#                       wrote or planted), and runs Debian's redis-check-aof,
#                       redis-check-rdb, redis-cli and redis-benchmark from
#                       src/; for the persistence units
#
#   scripts/redis-test-suite.sh [options] [unit ...] [-- runtest-args ...]
#
#   --server redoubt|redis  which server to test (default: redoubt, built here
#                           in release mode; redis is /usr/bin/redis-server)
#   --logs DIR              where the logs go (default: a new directory under
#                           ${TMPDIR:-/tmp}, named at the start and at the end)
#   --unit-timeout SECS     wall-clock bound per unit (default 600)
#   --no-debug              skip the tests tagged needs:debug
#   --no-durable            let a Tcl exception abort the unit, as runtest
#                           does by default
#   --spawn                 spawn mode (above)
#   --no-patches            spawn mode: run the suite exactly as released,
#                           without the documented adjustments (see
#                           patch_suite)
#
# Units default to the collections: lists, hashes, sets, sorted sets, SORT and
# the keyspace commands; in spawn mode to integration/aof,
# integration/aof-multi-part and integration/rdb. Every run works on a private
# copy of the suite beside its logs: the cache is only read, never written,
# so runs in either mode may share it at the same time. This is a measurement, not a gate: it exits 0 however
# many tests fail, and non-zero only when it could not run at all.
#
# The suite is never committed: it comes from Debian's source package for
# redis (bookworm ships 7.0.15), downloaded with `apt-get source` into a cache
# directory and unpacked there once. That needs a deb-src entry, which this
# adds when missing, and Debian's tcl package, which this installs when tclsh
# is missing; both need root, as scripts/install-redis.sh does.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REDIS_VERSION=7.0.15
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/redoubt/redis-src
SUITE=$CACHE/redis-$REDIS_VERSION
DEFAULT_UNITS=(unit/type/list unit/type/list-2 unit/type/list-3 unit/type/hash
    unit/type/set unit/type/zset unit/sort unit/keyspace)
DEFAULT_SPAWN_UNITS=(integration/aof integration/aof-multi-part integration/rdb)
# What spawn mode puts in src/ besides the server: Debian's tools.
SPAWN_TOOLS=(redis-check-aof redis-check-rdb redis-cli redis-benchmark)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

server_kind=redoubt
logs=""
unit_timeout=600
no_debug=0
durable=1
spawn=0
patches=1
units=()
extra_args=()

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit "${1:-0}"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --server) server_kind=${2:?--server needs redoubt or redis}; shift 2 ;;
            --logs) logs=${2:?--logs needs a directory}; shift 2 ;;
            --unit-timeout) unit_timeout=${2:?--unit-timeout needs seconds}; shift 2 ;;
            --no-debug) no_debug=1; shift ;;
            --no-durable) durable=0; shift ;;
            --spawn) spawn=1; shift ;;
            --no-patches) patches=0; shift ;;
            -h|--help) usage 0 ;;
            --) shift; extra_args=("$@"); break ;;
            -*) echo "unknown option: $1" >&2; usage 2 ;;
            *) units+=("$1"); shift ;;
        esac
    done
    case "$server_kind" in redoubt|redis) ;; *) echo "--server: redoubt or redis" >&2; exit 2 ;; esac
    if [ ${#units[@]} = 0 ]; then
        if [ "$spawn" = 1 ]; then units=("${DEFAULT_SPAWN_UNITS[@]}"); else units=("${DEFAULT_UNITS[@]}"); fi
    fi
}

# apt-get source needs a deb-src entry for bookworm's main component. Ask apt
# itself (it reads both the one-line and the deb822 formats) and add only what
# is missing: a stanza appended to debian-src.sources when that file exists
# without it, the file itself otherwise. The URI is the one the existing deb
# entry for bookworm uses, so the sources stay side by side.
ensure_deb_src() {
    local have
    have=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT)' 'Identifier: Sources' 2>/dev/null || true)
    if ! grep -qx 'bookworm main' <<<"$have"; then
        local uri file=/etc/apt/sources.list.d/debian-src.sources
        uri=$(apt-get indextargets --format '$(REPO_URI)' \
            'Identifier: Packages' 'Release: bookworm' 2>/dev/null | head -n1 || true)
        uri=${uri:-http://deb.debian.org/debian/}
        echo "== adding deb-src for bookworm main ($uri) to $file"
        {
            if [ -s "$file" ]; then echo; fi
            echo "Types: deb-src"
            echo "URIs: ${uri%/}"
            echo "Suites: bookworm"
            echo "Components: main"
            if [ -e /usr/share/keyrings/debian-archive-keyring.gpg ]; then
                echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
            fi
        } | $SUDO tee -a "$file" >/dev/null
    fi
    # The entry may exist while its index was never downloaded.
    local index
    index=$(apt-get indextargets --format '$(FILENAME)' \
        'Identifier: Sources' 'Release: bookworm' 'Component: main' 2>/dev/null | head -n1 || true)
    if [ -z "$index" ] || [ ! -e "$index" ]; then
        $SUDO apt-get update -q
    fi
}

# Downloads Debian's source package into the cache and unpacks the upstream
# tarball once; later runs reuse it. Only redis_7.0.15.orig.tar.gz is used,
# the suite exactly as Redis released it; Debian's patches (packaging, and
# security fixes that bring tests of their own) are left out.
ensure_suite() {
    if [ -e "$SUITE/.unpacked" ]; then return; fi
    mkdir -p "$CACHE"
    local tarball=$CACHE/redis_$REDIS_VERSION.orig.tar.gz
    if [ ! -e "$tarball" ]; then
        ensure_deb_src
        echo "== apt-get source --download-only redis (into $CACHE)"
        (cd "$CACHE" && apt-get source -q --download-only redis)
    fi
    if [ ! -e "$tarball" ]; then
        echo "Debian's source package did not bring redis $REDIS_VERSION:" >&2
        ls "$CACHE" >&2
        exit 1
    fi
    local tmp
    tmp=$(mktemp -d "$CACHE/unpack.XXXXXX")
    tar -xzf "$tarball" -C "$tmp"
    local version
    version=$(sed -n 's/^#define REDIS_VERSION "\(.*\)"$/\1/p' "$tmp/redis-$REDIS_VERSION/src/version.h" 2>/dev/null || true)
    if [ "$version" != "$REDIS_VERSION" ]; then
        echo "$tarball holds redis '${version:-?}', not $REDIS_VERSION" >&2
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$SUITE"
    mv "$tmp/redis-$REDIS_VERSION" "$SUITE"
    rmdir "$tmp"
    touch "$SUITE/.unpacked"
}

ensure_tcl() {
    if command -v tclsh >/dev/null 2>&1; then return; fi
    echo "== installing tcl"
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends tcl
}

# Each run works on its own copy of the suite (runtest writes under
# tests/tmp, and spawn mode adds src/ and may patch tests), kept beside the
# logs. The shared cache is only read.
prepare_workdir() {
    work=$logs/suite
    rm -rf "$work"
    mkdir -p "$work"
    cp -r "$SUITE/tests" "$SUITE/runtest" "$work/"
}

# Spawn mode's src/: the server under test as src/redis-server (a copy, so
# a rebuild during the run changes nothing), Debian's tools beside it.
# redis-check-aof and redis-check-rdb choose their mode from argv[0], which
# a symbolic link keeps.
prepare_spawn_bin() {
    mkdir -p "$work/src"
    cp "$bin" "$work/src/redis-server"
    local tool
    for tool in "${SPAWN_TOOLS[@]}"; do
        if [ ! -x "/usr/bin/$tool" ]; then
            echo "/usr/bin/$tool is missing (Debian's redis-tools)" >&2
            exit 1
        fi
        ln -sf "/usr/bin/$tool" "$work/src/$tool"
    done
}

# The documented adjustments to the private copy of the suite, applied in
# spawn mode against redoubt only (--no-patches runs the suite as released).
# Each one changes an expectation that redoubt deliberately does not meet,
# and says why; DESIGN.md §2 has the reasoning.
#
# 1. redoubt's manifest starts with a `#CK:<crc32c>` comment line and its
#    AOF files carry `#CK:` checksum trailers (DESIGN.md §2); Redis's loader
#    and redis-check-aof skip `#` lines, but the suite's own readers of
#    those files (the manifest helpers in support/aofmanifest.tcl and
#    read_from_aof in support/util.tcl) count every line. The patch makes
#    them skip `#CK:` lines, and only those: `#TS:` lines still count.
patch_suite() {
    if [ "$patches" = 0 ] || [ "$server_kind" != redoubt ]; then return; fi
    local manifest_helpers=$work/tests/support/aofmanifest.tcl util=$work/tests/support/util.tcl
    sed -i 's/^\( *\)lappend lines \$line$/\1if {![string match "#CK:*" $line]} {lappend lines $line}/' \
        "$manifest_helpers"
    sed -i 's/^\( *\)if {\[gets \$fp count\] == -1} return ""$/\1while {[gets $fp count] != -1 \&\& [string match "#CK:*" $count]} {}\n\1if {[eof $fp]} return ""/' \
        "$util"
    if [ "$(grep -c 'string match "#CK:\*"' "$manifest_helpers")" != 3 ] ||
        ! grep -q 'string match "#CK:\*" \$count' "$util"; then
        echo "patch_suite: the suite's AOF readers are not where they were expected" >&2
        exit 1
    fi
    echo "== patched the suite's AOF readers to skip #CK: lines (see patch_suite)"
}

server_bin() {
    if [ "$server_kind" = redis ]; then
        [ -x /usr/bin/redis-server ] || "$REPO/scripts/install-redis.sh"
        echo /usr/bin/redis-server
        return
    fi
    echo "== cargo build --release -p redoubt-server" >&2
    (cd "$REPO" && cargo build --release -q -p redoubt-server) >&2
    local target
    target=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
    echo "$target/release/redoubt-server"
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sends PING on a fresh connection and waits briefly for +PONG.
# (A subshell, so that a refused connection cannot end this shell.)
server_answers() {
    local reply
    reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'PING\r\n' >&3 &&
        read -r -t 2 line <&3 && echo "$line") 2>/dev/null) || return 1
    [ "${reply%$'\r'}" = "+PONG" ]
}

# Starts a server for one unit on a free loopback port in a scratch directory
# of its own, without snapshots (the suite's own servers run with save "" too).
# Each unit gets a fresh server, as it would in the suite's normal mode: a unit
# whose test fails before restoring a CONFIG SET would otherwise leave that
# setting to the units after it. Real Redis gets DEBUG enabled so that
# Both servers allow DEBUG (enable-debug-command yes): the needs:debug
# tests and the suite's DEBUG DIGEST checks run. A port taken between the
# probe and the bind just moves on to another port.
start_server() {
    local name=$1 attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$((30000 + RANDOM % 20000))
        port_is_free "$port" || continue
        server_dir=$logs/server-$name
        rm -rf "$server_dir"
        mkdir -p "$server_dir"
        local args=(--port "$port" --bind 127.0.0.1 --dir "$server_dir" --save ""
            --appendonly no --logfile "$server_dir/server.log")
        args+=(--enable-debug-command yes)
        if [ "$server_kind" = redis ]; then args+=(--daemonize no); fi
        "$bin" "${args[@]}" >"$server_dir/stdout.log" 2>&1 &
        server_pid=$!
        local i
        for i in $(seq 50); do
            if server_answers; then return 0; fi
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        stop_server
    done
    echo "could not start $bin on a free port; see $server_dir" >&2
    exit 1
}

stop_server() {
    if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        local i
        for i in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# runtest listens for its test clients just below --baseport and, in spawn
# mode, starts servers from it upward; its defaults (21079, 21111) collide
# when two runs share the machine. Each unit gets a block of its own, drawn
# at random among 100 below the kernel's ephemeral ports; the suite steps
# over a port found busy within the block (it also needs the port 10000
# above each one free, for a cluster bus, so the block stays low).
suite_ports() {
    local base=$((21200 + (RANDOM % 100) * 100))
    rt_args+=(--baseport "$base" --portcount 64)
}

# The runtest flags for a spawn run: no --host/--port; --clients 1 because
# the machine is shared and the units start servers of their own anyway.
# A server that does not start within the suite's wait is reported by the
# suite itself.
spawn_runtest_args() {
    rt_args=(--clients 1 --timeout "$((unit_timeout / 2))")
    suite_ports
    if [ "$no_debug" = 1 ]; then rt_args+=(--tags -needs:debug); fi
    if [ "$durable" = 1 ]; then rt_args+=(--durable); fi
    rt_args+=("${extra_args[@]}")
}

# The runtest flags for an external run:
#   --host/--port   external mode; it skips the tests tagged external:skip
#   --single        one unit per runtest, so that an abort hides nothing else
#   --tags -needs:debug
#                   only with --no-debug: those tests check internals (encoding
#                   conversions after DEBUG RELOAD, quicklist packing, digests)
#                   rather than command behaviour
#   --durable       a Tcl exception in a test (an error reply where none was
#                   expected, such as an unknown command) fails that test
#                   instead of aborting the whole unit
#   --timeout       the suite's own no-progress bound, below the wall-clock one
#   --clients 1     external mode uses one client anyway; said for clarity
runtest_args() {
    rt_args=(--host 127.0.0.1 --port "$port" --clients 1 --timeout "$((unit_timeout / 2))")
    suite_ports
    if [ "$no_debug" = 1 ]; then rt_args+=(--tags -needs:debug); fi
    if [ "$durable" = 1 ]; then rt_args+=(--durable); fi
    rt_args+=("${extra_args[@]}")
}

# Runs one unit against a fresh server and appends its row to the summary.
#   passed, failed  the suite's [ok] and [err] lines for tests
#   ignored         tests or whole blocks skipped by tag
#   aborted         why the unit, or part of it, did not run: a Tcl exception
#                   (runtest ends the unit), the suite's or our timeout, the
#                   server dying under it, a runtest without its closing line,
#                   or "N block(s)": errors outside any test (in a
#                   start_server block's own code), which --durable reports as
#                   an [err] without a test name and which skip the rest of
#                   that block
run_unit() {
    local unit=$1 name log rc=0
    name=$(tr / _ <<<"$unit")
    log=$logs/$name.log
    if [ "$spawn" = 1 ]; then
        echo "== $unit, servers spawned by the suite (log: $log)"
        spawn_runtest_args
    else
        start_server "$name"
        echo "== $unit on 127.0.0.1:$port (log: $log)"
        runtest_args
    fi
    (cd "$work" && TERM=dumb timeout -k 10 "$unit_timeout" ./runtest "${rt_args[@]}" --single "$unit") \
        >"$log" 2>&1 || rc=$?
    local passed failed blocks ignored aborted=()
    passed=$(grep -c '^\[ok\]: ' "$log" || true)
    failed=$(grep -c '^\[err\]: .* in tests/.*\.tcl$' "$log" || true)
    blocks=$(grep '^\[err\]: ' "$log" | grep -vc ' in tests/.*\.tcl$' || true)
    ignored=$(grep -c '^\[ignore\]: ' "$log" || true)
    if grep -q '^\[exception\]: ' "$log"; then aborted+=("exception")
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then aborted+=("timeout ${unit_timeout}s")
    elif grep -q 'TIMEOUT\]' "$log"; then aborted+=("suite timeout")
    elif ! grep -qE 'All tests passed without errors|The following tests failed' "$log"; then
        aborted+=("no end (rc $rc)")
    fi
    if [ "$blocks" != 0 ]; then aborted+=("$blocks block(s)"); fi
    if [ "$spawn" = 0 ] && ! kill -0 "$server_pid" 2>/dev/null; then aborted+=("server died"); fi
    stop_server
    local why=no
    if [ ${#aborted[@]} -gt 0 ]; then
        why=$(printf '%s, ' "${aborted[@]}")
        why=${why%, }
    fi
    printf '%-26s %7s %7s %8s  %s\n' "$unit" "$passed" "$failed" "$ignored" "$why" >>"$logs/summary.txt"
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
}

main() {
    parse_args "$@"
    if [ -z "$logs" ]; then
        logs=$(mktemp -d "${TMPDIR:-/tmp}/redis-test-suite.$server_kind.XXXX")
    fi
    mkdir -p "$logs"
    logs=$(cd "$logs" && pwd)
    echo "== logs: $logs"

    ensure_tcl
    ensure_suite
    prepare_workdir
    bin=$(server_bin)
    if [ "$spawn" = 1 ]; then
        prepare_spawn_bin
        patch_suite
    fi
    server_pid=""
    # Whatever happens, the server started here is stopped.
    trap stop_server EXIT
    trap 'exit 130' INT TERM
    echo "== $server_kind ($bin), suite $SUITE"

    printf '%-26s %7s %7s %8s  %s\n' unit passed failed ignored aborted >"$logs/summary.txt"
    total_passed=0 total_failed=0
    local unit
    for unit in "${units[@]}"; do run_unit "$unit"; done
    printf '%-26s %7s %7s\n' total "$total_passed" "$total_failed" >>"$logs/summary.txt"

    stop_server
    echo
    local mode=external
    if [ "$spawn" = 1 ]; then mode=spawn; fi
    echo "Redis $REDIS_VERSION test suite against $server_kind ($mode mode):"
    cat "$logs/summary.txt"
    echo "(ignored: tests or blocks skipped by tag; logs in $logs)"
}

main "$@"
