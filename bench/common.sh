# Shared by the bench scripts (sourced): checks Redis's tools are there,
# builds redoubt-server in release mode (REDOUBT_BIN), and pins the server
# to core 0 and the clients to core 1 when there are two cores
# (SERVER_CPU, CLIENT_CPU), so the two do not fight for a core.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install redis-server redis-tools" >&2; exit 1; }
done

echo "building redoubt-server (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p redoubt-server)
REDOUBT_BIN="$TARGET/release/redoubt-server"

SERVER_CPU=()
CLIENT_CPU=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=(taskset -c 0)
    CLIENT_CPU=(taskset -c 1)
fi
