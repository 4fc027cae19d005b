#!/usr/bin/env bash
# The test command: brings up what the tests need on a fresh machine, then runs every test.
# Today the tests need only the Rust toolchain (no S3 server, browser or npm yet).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "tests/run.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 2
fi

# Keep the build directory outside the clone when asked (CI does), so reruns are incremental.
cargo test --workspace --locked "$@"
