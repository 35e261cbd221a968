#!/usr/bin/env bash
# Persistence figures of redoubt-server next to the real redis-server, for
# one of two shapes of dataset (SHAPE):
#   strings  KEYS keys (one million by default) of VALUE_BYTES bytes each;
#   zset     one sorted set of ZSET_MEMBERS members (one million by
#            default), plus KEYS (1000 by default) string keys for the GETs:
#            a snapshot must not stall the event loop on one large value.
# For each server:
#   * memory after loading the data (INFO used_memory);
#   * GET latency (p50/p99/max, redis-benchmark) with no background work,
#     and while a BGSAVE runs (the zset shape starts one BGSAVE after
#     another for as long as the GETs run, so they overlap the whole
#     measurement), and the ratio of the two;
#   * time to load the dump at start, and an AOF whose BASE is RESP
#     (aof-use-rdb-preamble no), from each server's own "DB loaded" log line.
#
#   bench/persistence.sh
#   KEYS=200000 bench/persistence.sh     # a quicker run
#   SHAPE=zset bench/persistence.sh      # one sorted set of 1M members
#   SHAPE=zset ZSET_MEMBERS=200000 bench/persistence.sh
#
# Servers run on core 0 and the clients on core 1 when there are two cores.
set -euo pipefail

SHAPE=${SHAPE:-strings}
case "$SHAPE" in
strings) KEYS=${KEYS:-1000000} ;;
zset) KEYS=${KEYS:-1000} ;;
*) echo "SHAPE is strings or zset, not $SHAPE" >&2; exit 1 ;;
esac
ZSET_MEMBERS=${ZSET_MEMBERS:-1000000}
ZSET_KEY=bench:zset
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

# One sorted set of ZSET_MEMBERS members with random integer scores, in
# ZADD commands of 100 members each.
fill_zset() { # port
    awk -v n="$ZSET_MEMBERS" -v key="$ZSET_KEY" 'BEGIN {
        srand(1)
        for (i = 0; i < n; i += 100) {
            count = (n - i < 100) ? n - i : 100
            printf "*%d\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n", 2 + 2 * count, length(key), key
            for (j = i; j < i + count; j++) {
                score = sprintf("%d", rand() * 1000000000)
                member = "member:" j
                printf "$%d\r\n%s\r\n$%d\r\n%s\r\n", length(score), score, length(member), member
            }
        }
    }' | cli "$1" --pipe >/dev/null
    local members
    members=$(cli "$1" zcard "$ZSET_KEY")
    if [ "$members" != "$ZSET_MEMBERS" ]; then
        echo "$ZSET_KEY has $members members, not $ZSET_MEMBERS" >&2
        exit 1
    fi
}

# "p50 p99 max" of GETs on the filled keys.
get_latency() { # port
    "${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$GETS" -r "$KEYS" \
        -t get --csv 2>/dev/null |
        awk -F, 'NR == 2 { gsub(/"/, ""); print $5, $7, $8 }'
}

# The largest used_memory seen while a BGSAVE runs (sampled every 20 ms,
# at least once); with a stop file, until it exists and no BGSAVE runs.
peak_memory() { # port [stop-file]
    local peak=0 value
    while true; do
        value=$(cli "$1" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
        if [ "${value:-0}" -gt "$peak" ]; then peak=$value; fi
        if ! cli "$1" info persistence | grep -q '^rdb_bgsave_in_progress:1'; then
            if [ -z "${2:-}" ] || [ -e "$2" ]; then break; fi
        fi
        sleep 0.02
    done
    echo "$peak"
}

wait_bgsave() { # port
    while cli "$1" info persistence | grep -q '^rdb_bgsave_in_progress:1'; do sleep 0.05; done
}

# Starts one BGSAVE after another until the stop file exists, then waits
# for the last; prints how many it started.
bgsave_until() { # port stop-file
    local started=0
    until [ -e "$2" ]; do
        if cli "$1" bgsave | grep -q 'started'; then started=$((started + 1)); fi
        wait_bgsave "$1"
    done
    echo "$started"
}

# during / idle for each of "p50 p99 max" given as six numbers.
ratios() { # idle_p50 idle_p99 idle_max during_p50 during_p99 during_max
    awk -v i1="$1" -v i2="$2" -v i3="$3" -v d1="$4" -v d2="$5" -v d3="$6" 'BEGIN {
        printf "%s/%s/%s\n", r(d1, i1), r(d2, i2), r(d3, i3)
    }
    function r(during, idle) { return idle > 0 ? sprintf("%.1f", during / idle) : "-" }'
}

loaded_seconds() { # log pattern
    grep -o "$2: [0-9.]* seconds" "$1" | tail -n 1 | awk '{ print $(NF-1) }'
}

measure() { # name port program
    local name=$1 port=$2 program=$3
    start "$name" "$port" "$program" --save '' --appendonly no
    fill "$port"
    if [ "$SHAPE" = zset ]; then fill_zset "$port"; fi
    local memory
    memory=$(cli "$port" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
    local idle during peak bgsaves=1
    idle=$(get_latency "$port")
    local stop="$WORK/$name.stop" saver=""
    if [ "$SHAPE" = zset ]; then
        bgsave_until "$port" "$stop" >"$WORK/$name.bgsaves" &
        saver=$!
        peak_memory "$port" "$stop" >"$WORK/$name.peak" &
    else
        cli "$port" bgsave >/dev/null
        peak_memory "$port" >"$WORK/$name.peak" &
    fi
    local sampler=$!
    during=$(get_latency "$port")
    touch "$stop"
    if [ -n "$saver" ]; then
        wait "$saver"
        bgsaves=$(cat "$WORK/$name.bgsaves")
    fi
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
    # shellcheck disable=SC2086
    echo "$name $memory $peak $idle $during $(ratios $idle $during) $bgsaves $rdb_load $aof_load"
}

case "$SHAPE" in
strings) echo "$KEYS keys of $VALUE_BYTES bytes; GET latency over $GETS requests from $CLIENTS clients (ms)" ;;
zset) echo "one sorted set of $ZSET_MEMBERS members and $KEYS keys of $VALUE_BYTES bytes; GET latency over $GETS requests from $CLIENTS clients (ms), BGSAVE after BGSAVE while they run" ;;
esac
redis_row=$(measure redis "$REDIS_PORT" redis-server)
redoubt_row=$(measure redoubt "$REDOUBT_PORT" "$REDOUBT_BIN")
printf '%-8s %12s %14s | %22s | %22s | %14s %8s | %10s %10s\n' server used_memory "peak in BGSAVE" "GET p50/p99/max idle" "GET p50/p99/max BGSAVE" "BGSAVE / idle" BGSAVEs "RDB load s" "AOF load s"
for row in "$redis_row" "$redoubt_row"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '%-8s %12s %14s | %22s | %22s | %14s %8s | %10s %10s\n' "$1" "$2" "$3" "$4/$5/$6" "$7/$8/$9" "${10}" "${11}" "${12}" "${13}"
done
echo "(redis-server's BGSAVE runs in a forked child: its copy-on-write memory is not in used_memory)"
