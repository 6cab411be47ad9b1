#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$PATH:/usr/sbin"
cargo test --workspace --locked "$@"
