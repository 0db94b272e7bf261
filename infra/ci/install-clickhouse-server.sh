#!/usr/bin/env sh
# Installs Debian's clickhouse-server, which the server-backend tests start on loopback ports.
# Idempotent: does nothing when clickhouse-server is already on PATH. Needs root (CI runs as
# root); elsewhere it only says so, and those tests skip with the reason.
set -eu
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "clickhouse-server is not installed and this is not a root Debian/Ubuntu shell;" \
         "the ClickHouse-server tests will be skipped" \
         "(install it with: apt-get install clickhouse-server clickhouse-client)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The package's post-install step would start the service; the tests start their own server in
# a temporary folder instead, so tell invoke-rc.d not to (policy-rc.d exit 101: "not allowed").
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends clickhouse-server clickhouse-client
