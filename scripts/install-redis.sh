#!/usr/bin/env bash
# Installs Debian's redis-server and redis-tools when any of their binaries
# is missing, and python3-redis (redis-py) when Debian's Python (the tests
# run /usr/bin/python3) cannot import it:
# the tests use them as the oracle and as real clients. Does nothing when
# they are already there.
set -euo pipefail

missing=0
for tool in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
done
packages=(redis-server redis-tools)
if ! /usr/bin/python3 -c 'import redis' >/dev/null 2>&1; then
    missing=1
    packages+=(python3-redis)
fi
[ "$missing" = 0 ] && exit 0

echo "== installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
# Keep the package from starting a system redis service: the tests run their
# own servers on their own ports.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
