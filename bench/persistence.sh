#!/usr/bin/env bash
# Persistence figures of redoubt-server next to the real redis-server, with
# KEYS keys (one million by default) of VALUE_BYTES bytes each:
#   * memory after loading the keys (INFO used_memory);
#   * GET latency (p50/p99/max, redis-benchmark) with no background work,
#     and while a BGSAVE of the whole dataset runs;
#   * time to load the dump at start, and an AOF whose BASE is RESP
#     (aof-use-rdb-preamble no), from each server's own "DB loaded" log line.
#
#   bench/persistence.sh
#   KEYS=200000 bench/persistence.sh     # a quicker run
#
# Servers run on core 0 and the clients on core 1 when there are two cores.
set -euo pipefail

KEYS=${KEYS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-32}
GETS=${GETS:-200000}
CLIENTS=${CLIENTS:-50}
REDIS_PORT=${REDIS_PORT:-16381}
REDOUBT_PORT=${REDOUBT_PORT:-16382}
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

WORK=$(mktemp -d)
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cli() { # port args...
    local port=$1
    shift
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}

start() { # name port program directives...
    local name=$1 port=$2 program=$3
    shift 3
    mkdir -p "$WORK/$name"
    (cd "$WORK/$name" && exec "${SERVER_CPU[@]}" "$program" --port "$port" --bind 127.0.0.1 \
        --dir "$WORK/$name" "$@" >>"$WORK/$name.log" 2>&1) &
    PID=$!
    for _ in $(seq 1 3000); do
        if cli "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
        sleep 0.1
    done
    echo "$name did not start" >&2
    exit 1
}

stop() { # port
    cli "$1" shutdown nosave >/dev/null 2>&1 || true
    wait "$PID" 2>/dev/null || true
    PID=""
}

fill() { # port
    awk -v n="$KEYS" -v size="$VALUE_BYTES" 'BEGIN {
        value = sprintf("%*s", size, ""); gsub(/ /, "x", value)
        for (i = 0; i < n; i++) {
            key = "key:" i
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, size, value
        }
    }' | cli "$1" --pipe >/dev/null
}

# "p50 p99 max" of GETs on the filled keys.
get_latency() { # port
    "${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$GETS" -r "$KEYS" \
        -t get --csv 2>/dev/null |
        awk -F, 'NR == 2 { gsub(/"/, ""); print $5, $7, $8 }'
}

# The largest used_memory seen while a BGSAVE runs (sampled every 20 ms,
# at least once).
peak_memory() { # port
    local peak=0 value
    while true; do
        value=$(cli "$1" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
        if [ "${value:-0}" -gt "$peak" ]; then peak=$value; fi
        cli "$1" info persistence | grep -q '^rdb_bgsave_in_progress:1' || break
        sleep 0.02
    done
    echo "$peak"
}

wait_bgsave() { # port
    while cli "$1" info persistence | grep -q '^rdb_bgsave_in_progress:1'; do sleep 0.05; done
}

loaded_seconds() { # log pattern
    grep -o "$2: [0-9.]* seconds" "$1" | tail -n 1 | awk '{ print $(NF-1) }'
}

measure() { # name port program
    local name=$1 port=$2 program=$3
    start "$name" "$port" "$program" --save '' --appendonly no
    fill "$port"
    local memory
    memory=$(cli "$port" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
    local idle during peak
    idle=$(get_latency "$port")
    cli "$port" bgsave >/dev/null
    peak_memory "$port" >"$WORK/$name.peak" &
    local sampler=$!
    during=$(get_latency "$port")
    wait_bgsave "$port"
    wait "$sampler"
    peak=$(cat "$WORK/$name.peak")
    cli "$port" save >/dev/null
    stop "$port"
    start "$name" "$port" "$program" --save '' --appendonly no
    local rdb_load
    rdb_load=$(loaded_seconds "$WORK/$name.log" "DB loaded from disk")
    cli "$port" config set aof-use-rdb-preamble no >/dev/null
    cli "$port" config set appendonly yes >/dev/null
    sleep 1
    while cli "$port" info persistence | grep -q '^aof_rewrite_in_progress:1'; do sleep 0.05; done
    stop "$port"
    start "$name" "$port" "$program" --save '' --appendonly yes --aof-use-rdb-preamble no
    local aof_load
    aof_load=$(loaded_seconds "$WORK/$name.log" "DB loaded from append only file")
    stop "$port"
    echo "$name $memory $peak $idle $during $rdb_load $aof_load"
}

echo "$KEYS keys of $VALUE_BYTES bytes; GET latency over $GETS requests from $CLIENTS clients (ms)"
redis_row=$(measure redis "$REDIS_PORT" redis-server)
redoubt_row=$(measure redoubt "$REDOUBT_PORT" "$REDOUBT_BIN")
printf '%-8s %12s %14s | %22s | %22s | %10s %10s\n' server used_memory "peak in BGSAVE" "GET p50/p99/max idle" "GET p50/p99/max BGSAVE" "RDB load s" "AOF load s"
for row in "$redis_row" "$redoubt_row"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '%-8s %12s %14s | %22s | %22s | %10s %10s\n' "$1" "$2" "$3" "$4/$5/$6" "$7/$8/$9" "${10}" "${11}"
done
echo "(redis-server's BGSAVE runs in a forked child: its copy-on-write memory is not in used_memory)"
