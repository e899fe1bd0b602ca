#!/usr/bin/env bash
# The whole test suite: installs the peers when missing, then runs every test. Tests whose peer
# is missing print one SKIP line; with IOTFLEET_REQUIRE_PEERS=1 (as .ci/run sets) they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-peers.sh
# No two files of src/fleet, src/local or src/tui import each other in a circle.
python3 scripts/import_cycles.py
cargo test --locked "$@"
