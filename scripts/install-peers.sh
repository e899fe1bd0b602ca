#!/usr/bin/env bash
# Installs the real peers the tests talk to, when missing: moto[server]==5.2.5 in a virtualenv
# under target/peers/. Safe to run again; does nothing when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
venv=target/peers/moto-venv

if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "install-peers: moto[server]==$MOTO_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
