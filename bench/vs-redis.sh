#!/usr/bin/env bash
# Throughput of redoubt-server next to the real redis-server, measured with
# redis-benchmark on loopback: SET, GET, INCR, MSET and ZRANGE, without and
# with pipelining, both servers without persistence (--save '' --appendonly
# no); then SET with the AOF on under appendfsync everysec and always; then
# the simulator's speed (simulated commands per wall second on one core).
#
#   bench/vs-redis.sh              # 200000 requests per test, 50 clients
#   N=20000 bench/vs-redis.sh      # a quicker run
#   TESTS='ping_mbulk set' bench/vs-redis.sh   # other redis-benchmark tests
#   TESTS='zrange' POLICIES= bench/vs-redis.sh # ZRANGE only
#
# zrange is no redis-benchmark test: it runs `ZRANGE bench:zset 0 99` on a
# sorted set of ZRANGE_MEMBERS members (1000 by default, the skiplist
# encoding) loaded into each server first.
#
# On a machine with two or more cores the server runs on core 0 and
# redis-benchmark on core 1 (taskset), one server at a time, so the two do
# not fight for a core. Ports: REDIS_PORT (default 16379), REDOUBT_PORT
# (default 16380).
set -euo pipefail

N=${N:-200000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-set get incr mset zrange}
ZRANGE_MEMBERS=${ZRANGE_MEMBERS:-1000}
REDIS_PORT=${REDIS_PORT:-16379}
REDOUBT_PORT=${REDOUBT_PORT:-16380}
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

wait_ready() { # port
    for _ in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}

start() { # name port program [directives...]
    local name=$1 port=$2
    shift 2
    rm -rf "${WORK:?}/$name"
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && exec "${SERVER_CPU[@]}" "$@" --port "$port" --bind 127.0.0.1 \
        --save '' >"$WORK/$name.log" 2>&1) &
    PIDS+=($!)
    wait_ready "$port"
}

stop_all() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

table() { # tests...
    printf '%-11s %8s %14s %14s %7s\n' test pipeline "redis ops/s" "redoubt ops/s" ratio
    for test in "$@"; do
        for pipeline in 1 16; do
            redis_rate=$(rate "$REDIS_PORT" "$test" "$pipeline")
            redoubt_rate=$(rate "$REDOUBT_PORT" "$test" "$pipeline")
            ratio=$(awk -v a="${redoubt_rate:-0}" -v b="${redis_rate:-0}" \
                'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
            printf '%-11s %8s %14s %14s %7s\n' "$test" "$pipeline" "${redis_rate:--}" "${redoubt_rate:--}" "$ratio"
        done
    done
}

# Requests per second of one redis-benchmark test, or of the command a
# test of ours names.
rate() { # port test pipeline
    local what=(-t "$2")
    case "$2" in
    zrange) what=(ZRANGE bench:zset 0 99) ;;
    esac
    "${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$N" \
        -P "$3" --csv "${what[@]}" 2>/dev/null | awk -F'"' 'NR == 2 { print $4 }' || true
}

# Loads what our tests among TESTS read.
prefill() { # port
    case " $TESTS " in
    *" zrange "*)
        # shellcheck disable=SC2046
        redis-cli -h 127.0.0.1 -p "$1" zadd bench:zset $(awk -v n="$ZRANGE_MEMBERS" \
            'BEGIN { for (i = 0; i < n; i++) printf "%d member:%d ", i, i }') >/dev/null
        ;;
    esac
}

echo "redis-benchmark -c $CLIENTS -n $N (redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'))"
echo
echo "no persistence (--appendonly no --save '')"
start redis "$REDIS_PORT" redis-server --appendonly no
start redoubt "$REDOUBT_PORT" "$REDOUBT_BIN" --appendonly no
prefill "$REDIS_PORT"
prefill "$REDOUBT_PORT"
# shellcheck disable=SC2086
table $TESTS
stop_all

for policy in ${POLICIES-everysec always}; do
    echo
    echo "AOF on (--appendonly yes --appendfsync $policy)"
    start redis "$REDIS_PORT" redis-server --appendonly yes --appendfsync "$policy"
    start redoubt "$REDOUBT_PORT" "$REDOUBT_BIN" --appendonly yes --appendfsync "$policy"
    table set
    stop_all
done

echo
echo "simulator speed (one core, ${SIM_SEEDS:-0..300}):"
(cd "$ROOT" && cargo build --release -q -p redoubt-sim)
"$TARGET/release/redoubt-sim" swarm --jobs 1 --seeds "${SIM_SEEDS:-0..300}" 2>&1 | tail -n 4
