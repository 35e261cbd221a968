#!/usr/bin/env bash
# The test command README.md gives, and what .ci/run runs: installs Debian's
# redis-server, redis-tools and python3-redis when they are missing, then
#   1. every test of the workspace (unit, integration against real Redis,
#      the scenario snapshots in reports/);
#   2. the simulator's self-test: each planted durability bug is caught by
#      its scenario within a bounded number of seeds, and shrinks;
#   3. a bounded swarm over every scenario in scenarios/, which must pass.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-redis.sh

echo "== cargo test --workspace --release"
cargo test --workspace --release

echo "== self-test: the swarm catches every planted bug"
cargo test --release -p redoubt-sim --features planted-bugs --test selftest

echo "== swarm: 200 seeds of every scenario"
cargo run --release -q -p redoubt-sim -- swarm --seeds 0..200 --scenario scenarios
