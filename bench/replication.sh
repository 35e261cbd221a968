#!/usr/bin/env bash
# Replication figures of redoubt-server next to the real redis-server, each
# as a master with one replica of its own kind, on loopback, without
# persistence:
#   * throughput: redis-benchmark SETs (random keys, pipelined) against
#     the master, timed until the replica's offset has caught up with the
#     master's: replicated writes per second, the master's own rate, and
#     how long the replica lagged after the benchmark ended;
#   * full-sync time of KEYS keys (one million by default, key:N = value:N):
#     from REPLICAOF until the replica reports master_link_status:up and no
#     sync in progress, diskless (the EOF format) and through an RDB file;
#   * WAIT latency: p50/p99/max of ROUNDS rounds of SET then WAIT 1 0
#     (bench/wait-latency.py);
# then the ratio redoubt/redis of each (above 1: redoubt has more writes/s,
# or takes longer).
#
#   bench/replication.sh
#   KEYS=200000 SETS=50000 bench/replication.sh    # a quicker run
#   SERVERS=redis bench/replication.sh             # the real Redis only
#   SYNC_MODES=diskless bench/replication.sh       # no disk-based full sync
#
# A redoubt replica that does not reach master_link_status:up within
# LINK_TIMEOUT seconds is reported, and redoubt's figures are skipped.
# Every wait has a bound (LINK_TIMEOUT, SYNC_TIMEOUT, CATCH_UP_TIMEOUT).
# The master runs on core 0, the replica and the clients on core 1, when
# there are two cores. Ports: MASTER_PORT (default 16391), REPLICA_PORT
# (default 16392).
set -euo pipefail

SETS=${SETS:-200000}
SET_KEYS=${SET_KEYS:-100000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
KEYS=${KEYS:-1000000}
ROUNDS=${ROUNDS:-2000}
SYNC_MODES=${SYNC_MODES:-diskless disk}
SERVERS=${SERVERS:-redis redoubt}
LINK_TIMEOUT=${LINK_TIMEOUT:-30}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-120}
CATCH_UP_TIMEOUT=${CATCH_UP_TIMEOUT:-120}
MASTER_PORT=${MASTER_PORT:-16391}
REPLICA_PORT=${REPLICA_PORT:-16392}
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"
command -v python3 >/dev/null || { echo "missing python3 (bench/wait-latency.py)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
stop_all() {
    for port in "$MASTER_PORT" "$REPLICA_PORT"; do
        redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cli() { # port args...
    local port=$1
    shift
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}

now() { date +%s.%N; }

# Seconds from $1 to $2.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# $1 / $2 with two decimals, or - when either is missing.
ratio() {
    awk -v a="${1:--}" -v b="${2:--}" \
        'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# Starts a server as `role` (master on SERVER_CPU, replica on CLIENT_CPU)
# in a directory of its own; waits until it answers PING.
start() { # role name port program directives...
    local role=$1 name=$2 port=$3 program=$4
    shift 4
    local pin=("${SERVER_CPU[@]}")
    if [ "$role" = replica ]; then pin=("${CLIENT_CPU[@]}"); fi
    local dir="$WORK/$name-$role"
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && exec "${pin[@]}" "$program" --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --save '' --appendonly no --repl-diskless-sync-delay 0 "$@" >"$dir.log" 2>&1) &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        if cli "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.1
    done
    echo "$name $role on port $port did not start; its log:" >&2
    cat "$dir.log" >&2
    exit 1
}

info_field() { # port section field
    cli "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}

# Succeeds once the replica on `port` reports its link up and no sync in
# progress; fails after `timeout` seconds.
wait_link_up() { # port timeout
    local deadline=$((SECONDS + $2)) info
    while [ "$SECONDS" -lt "$deadline" ]; do
        info=$(cli "$1" info replication 2>/dev/null | tr -d '\r')
        if grep -q '^master_link_status:up$' <<<"$info" && grep -q '^master_sync_in_progress:0$' <<<"$info"; then
            return 0
        fi
        sleep 0.01
    done
    return 1
}

# Succeeds once the replica's master_repl_offset reaches `target`.
wait_offset() { # port target timeout
    local deadline=$((SECONDS + $3)) offset
    while [ "$SECONDS" -lt "$deadline" ]; do
        offset=$(info_field "$1" replication master_repl_offset)
        if [ "${offset:-0}" -ge "$2" ]; then return 0; fi
        sleep 0.01
    done
    return 1
}

# KEYS keys key:N = value:N: DEBUG POPULATE where the server has it,
# otherwise the same keys through a pipelined loader.
populate() { # port
    if [ "$(cli "$1" debug populate "$KEYS" 2>&1)" != OK ]; then
        awk -v n="$KEYS" 'BEGIN {
            for (i = 0; i < n; i++) {
                key = "key:" i; value = "value:" i
                printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, length(value), value
            }
        }' | "${CLIENT_CPU[@]}" redis-cli -h 127.0.0.1 -p "$1" --pipe >/dev/null
    fi
    local keys
    keys=$(cli "$1" dbsize)
    if [ "$keys" != "$KEYS" ]; then
        echo "the master holds $keys keys, not $KEYS" >&2
        exit 1
    fi
}

# "master-SETs/s replicated-writes/s catch-up-s wait-p50 wait-p99 wait-max",
# or "skip" when the replica's link never came up.
measure_stream() { # name program
    local name=$1 program=$2
    start master "$name" "$MASTER_PORT" "$program"
    start replica "$name" "$REPLICA_PORT" "$program" --replicaof 127.0.0.1 "$MASTER_PORT"
    if ! wait_link_up "$REPLICA_PORT" "$LINK_TIMEOUT"; then
        echo "$name: the replica did not reach master_link_status:up within ${LINK_TIMEOUT}s; skipping $name" >&2
        echo "  (its log: $(tail -n 3 "$WORK/$name-replica.log" | tr '\n' ' '))" >&2
        stop_all
        echo skip
        return
    fi
    local started ended caught_up master_rate target
    started=$(now)
    master_rate=$("${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$MASTER_PORT" -c "$CLIENTS" \
        -n "$SETS" -P "$PIPELINE" -r "$SET_KEYS" -t set --csv 2>/dev/null | awk -F'"' 'NR == 2 { print $4 }')
    ended=$(now)
    target=$(info_field "$MASTER_PORT" replication master_repl_offset)
    if ! wait_offset "$REPLICA_PORT" "$target" "$CATCH_UP_TIMEOUT"; then
        echo "$name: the replica did not reach offset $target within ${CATCH_UP_TIMEOUT}s" >&2
        stop_all
        echo skip
        return
    fi
    caught_up=$(now)
    local replicated lag latency
    replicated=$(awk -v n="$SETS" -v a="$started" -v b="$caught_up" 'BEGIN { printf "%.0f", n / (b - a) }')
    lag=$(elapsed "$ended" "$caught_up")
    latency=$("${CLIENT_CPU[@]}" python3 "$ROOT/bench/wait-latency.py" "$MASTER_PORT" "$ROUNDS")
    stop_all
    echo "${master_rate:--} $replicated $lag $latency"
}

# Seconds from REPLICAOF until the link is up, or "-" past SYNC_TIMEOUT.
measure_full_sync() { # name program mode
    local name=$1 program=$2 diskless=yes
    if [ "$3" = disk ]; then diskless=no; fi
    start master "$name" "$MASTER_PORT" "$program" --repl-diskless-sync "$diskless" \
        --enable-debug-command local
    populate "$MASTER_PORT"
    start replica "$name" "$REPLICA_PORT" "$program"
    local started finished seconds=-
    started=$(now)
    cli "$REPLICA_PORT" replicaof 127.0.0.1 "$MASTER_PORT" >/dev/null
    if wait_link_up "$REPLICA_PORT" "$SYNC_TIMEOUT"; then
        finished=$(now)
        seconds=$(elapsed "$started" "$finished")
        local keys
        keys=$(cli "$REPLICA_PORT" dbsize)
        if [ "$keys" != "$KEYS" ]; then
            echo "$name ($3): the replica holds $keys keys after the sync, not $KEYS" >&2
            seconds=-
        fi
    else
        echo "$name ($3): no full sync within ${SYNC_TIMEOUT}s" >&2
    fi
    stop_all
    echo "$seconds"
}

declare -A STREAM SYNC
for name in $SERVERS; do
    case "$name" in
    redis) program=redis-server ;;
    redoubt) program=$REDOUBT_BIN ;;
    *) echo "SERVERS lists redis and redoubt, not $name" >&2; exit 1 ;;
    esac
    echo "measuring $name..." >&2
    # Results go through files, not $(...), so that the servers are started
    # by this shell and the exit trap stops them.
    measure_stream "$name" "$program" >"$WORK/$name.stream"
    STREAM[$name]=$(cat "$WORK/$name.stream")
    if [ "${STREAM[$name]}" = skip ]; then continue; fi
    for mode in $SYNC_MODES; do
        measure_full_sync "$name" "$program" "$mode" >"$WORK/$name-$mode.sync"
        SYNC[$name-$mode]=$(cat "$WORK/$name-$mode.sync")
    done
done

# Field `index` (from 1) of a server's throughput and latency row, or -.
field() { # name index
    local row=${STREAM[$1]:-skip} index=$2
    if [ "$row" = skip ]; then echo -; return; fi
    # shellcheck disable=SC2086
    set -- $row
    echo "${!index:--}"
}

echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), one replica of each server's own kind"
for name in $SERVERS; do
    if [ "${STREAM[$name]}" = skip ]; then
        echo "$name: skipped, its replica never reached master_link_status:up or never caught up (see above)"
    fi
done
echo
echo "throughput: $SETS SETs on $SET_KEYS keys, $CLIENTS clients, pipeline $PIPELINE (redis-benchmark against the master)"
printf '%-8s %14s %20s %18s\n' server "master SET/s" "replicated writes/s" "replica lag s"
for name in redis redoubt; do
    printf '%-8s %14s %20s %18s\n' "$name" "$(field "$name" 1)" "$(field "$name" 2)" "$(field "$name" 3)"
done
printf '%-8s %14s %20s %18s\n' ratio "$(ratio "$(field redoubt 1)" "$(field redis 1)")" \
    "$(ratio "$(field redoubt 2)" "$(field redis 2)")" "$(ratio "$(field redoubt 3)" "$(field redis 3)")"
echo
echo "full sync of $KEYS keys: seconds from REPLICAOF to master_link_status:up"
printf '%-8s %10s %10s %8s\n' mode redis redoubt ratio
for mode in $SYNC_MODES; do
    redis_s=${SYNC[redis-$mode]:--}
    redoubt_s=${SYNC[redoubt-$mode]:--}
    printf '%-8s %10s %10s %8s\n' "$mode" "$redis_s" "$redoubt_s" "$(ratio "$redoubt_s" "$redis_s")"
done
echo
echo "WAIT 1 0 after a SET, $ROUNDS rounds: ms from sending the SET to WAIT's reply"
printf '%-8s %8s %8s %8s\n' server p50 p99 max
for name in redis redoubt; do
    printf '%-8s %8s %8s %8s\n' "$name" "$(field "$name" 4)" "$(field "$name" 5)" "$(field "$name" 6)"
done
printf '%-8s %8s %8s %8s\n' ratio "$(ratio "$(field redoubt 4)" "$(field redis 4)")" \
    "$(ratio "$(field redoubt 5)" "$(field redis 5)")" "$(ratio "$(field redoubt 6)" "$(field redis 6)")"
