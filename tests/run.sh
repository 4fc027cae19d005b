#!/usr/bin/env bash
# The test command: brings up what the tests need on a fresh machine, then runs every test.
# The tests need the Rust toolchain and, for the IO managers' S3 tests, `moto_server` (an
# S3-compatible server from the Python package moto), installed here into a cached venv when
# it is not on PATH. The web UI needs Node.js and npm (its bundle is built into the binary), and
# its browser tests Chromium: Debian's `nodejs`, `npm` and `chromium`, installed with apt-get
# when missing (and Node.js 22 from the npm registry when the system's is older than 20.19).
# STRATA_SKIP_BROWSER=1 leaves the browser tests out.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs Debian packages (as root, or through sudo).
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "tests/run.sh: install the Debian packages $* (needs root)" >&2
      exit 2
    fi
  fi
  echo "tests/run.sh: installing $* with apt-get" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

browser_tests=1
[ "${STRATA_SKIP_BROWSER:-}" = "1" ] && browser_tests=0
missing=()
if [ "${STRATA_SKIP_UI:-}" != "1" ] || [ "$browser_tests" = 1 ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ "$browser_tests" = 1 ] && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  missing+=(chromium)
fi
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

# The UI's build (Vite) needs Node.js 20.19 or later; Debian 12's is 18. When the one on PATH is
# older, a newer one comes from the npm registry (the `node` package) into the user's cache.
node_recent() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if command -v node >/dev/null 2>&1 && ! node_recent; then
  prefix="${XDG_CACHE_HOME:-$HOME/.cache}/strata/node"
  if [ ! -x "$prefix/node_modules/.bin/node" ]; then
    echo "tests/run.sh: Node.js $(node --version) is older than 20.19; installing node@22 from the npm registry into $prefix" >&2
    npm install --prefix "$prefix" --no-save --no-audit --no-fund node@22 >/dev/null
  fi
  export PATH="$prefix/node_modules/.bin:$PATH"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "tests/run.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 2
fi

# moto_server for the S3 conformance tests: on PATH, or in a venv kept in the user's cache.
if [ -z "${STRATA_MOTO_SERVER:-}" ] && ! command -v moto_server >/dev/null 2>&1; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/strata/venv"
  if [ ! -x "$venv/bin/moto_server" ]; then
    if ! command -v python3 >/dev/null 2>&1; then
      echo "tests/run.sh: python3 not found; the S3 tests need it to install moto_server" >&2
      exit 2
    fi
    echo "tests/run.sh: installing moto_server into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'moto[server]'
  fi
  export STRATA_MOTO_SERVER="$venv/bin/moto_server"
fi

log="$(mktemp)"
browser_log="$(mktemp)"
trap 'rm -f "$log" "$browser_log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# The UI: its API types match docs/openapi.json, it type-checks and lints; then the browser
# tests drive the binary cargo just built (with the UI in it) in Chromium.
if [ "${STRATA_SKIP_UI:-}" != "1" ]; then
  (cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run --silent check) || status=1
fi
if [ "$browser_tests" = 1 ] && [ "${STRATA_SKIP_UI:-}" != "1" ]; then
  started=$SECONDS
  (
    cd tests/browser
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund
    fi
    npm test
  ) 2>&1 | tee "$browser_log" || status=1
  echo "tests/run.sh: browser tests took $((SECONDS - started)) s" >&2
fi

# One closing line for the whole run, summed over every test binary, the doc tests and the
# browser tests (node's test runner: "ℹ pass N", "ℹ fail N").
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     FILENAME != ARGV[1] && /^(ℹ|#) pass [0-9]+$/ { p += $NF }
     FILENAME != ARGV[1] && /^(ℹ|#) (fail|cancelled) [0-9]+$/ { f += $NF }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log" "$browser_log"
exit "$status"
