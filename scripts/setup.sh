#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to run riptide-api: the system Chromium (never a
# downloaded browser build) and the npm dependencies from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
for pkg in "$@"; do missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian"
  as_root apt-get update -q
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
