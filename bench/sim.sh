#!/usr/bin/env bash
# The simulator's speed on one core (--jobs 1): for every scenario in
# scenarios/, seeds per minute, simulated commands per wall second and
# simulated seconds per wall second; then the same figures for an idle node
# (one client that thinks a second between requests: timers and cron only)
# and a busy one (eight clients pipelining sixteen deep, no think time).
#
#   bench/sim.sh               # 200 seeds per scenario
#   SEEDS=0..1000 bench/sim.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SEEDS=${SEEDS:-0..200}
PIN=()
if command -v taskset >/dev/null; then PIN=(taskset -c 0); fi

echo "building redoubt-sim (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p redoubt-sim)
SIM="$TARGET/release/redoubt-sim"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# One swarm on one core; prints a row of the table.
row() {
    local label=$1 file=$2
    local out
    out=$("${PIN[@]}" "$SIM" swarm --jobs 1 --seeds "$SEEDS" --scenario "$file" 2>&1 | tail -n 6)
    awk -v label="$label" '
        /runs_per_wall_second/ { runs = $2 }
        /simulated_commands_per_wall_second/ { cmds = $2 }
        /simulated_seconds_per_wall_second/ { secs = $2 }
        END { printf "%-16s %12.0f %14.3f %14.1f\n", label, runs * 60, cmds / 1e6, secs }
    ' <<<"$out"
}

# A variant of smoke.toml with its workload section replaced.
variant() {
    local name=$1 workload=$2
    awk -v name="$name" -v workload="$workload" '
        /^name = / { print "name = \"" name "\""; next }
        /^\[workload\]$/ { print; print workload; skip = 1; next }
        /^\[/ { skip = 0 }
        skip && /^(clients|ops_per_client|pipeline_depth|think_ms|keys) = / { next }
        { print }
    ' "$ROOT/scenarios/smoke.toml" >"$SCRATCH/$name.toml"
    echo "$SCRATCH/$name.toml"
}

printf "%-16s %12s %14s %14s\n" "scenario" "seeds/min" "M cmds/s" "sim s/wall s"
for file in "$ROOT"/scenarios/*.toml; do
    row "$(basename "$file" .toml)" "$file"
done
echo
row "idle" "$(variant idle $'clients = [1, 1]\nkeys = [8, 8]\nops_per_client = [20, 20]\npipeline_depth = [1, 1]\nthink_ms = [1000, 1000]')"
row "busy" "$(variant busy $'clients = [8, 8]\nkeys = [32, 32]\nops_per_client = [2000, 2000]\npipeline_depth = [16, 16]\nthink_ms = [0, 0]')"
