#!/usr/bin/env bash
# test/nginx.ts runs deploy/nginx.conf in Debian's nginx (its own instance on
# loopback; the service is not started). Installs nginx when missing.
set -euo pipefail
[ -x /usr/sbin/nginx ] && command -v openssl >/dev/null && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing Debian's nginx for the reverse-proxy tests…" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl >/dev/null
