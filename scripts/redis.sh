#!/usr/bin/env bash
# The Redis tests (test/redis-*.ts) and the pollcast-redis bench target start a redis-server of
# their own on 127.0.0.1. Installs Debian's redis-server when missing (the service is not started).
set -euo pipefail
[ -x /usr/bin/redis-server ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing Debian's redis-server for the Redis tests…" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
