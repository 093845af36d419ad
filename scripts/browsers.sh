#!/usr/bin/env bash
# The end-to-end tests (test/e2e-*.ts) drive Debian's Chromium and Firefox ESR.
# Installs them when missing, so that `npm test` works on a fresh Debian machine.
set -euo pipefail
[ -x /usr/bin/chromium ] && [ -x /usr/bin/firefox-esr ] && exit 0
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing Debian's chromium and firefox-esr for the browser tests…" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium firefox-esr >/dev/null
