#!/usr/bin/env bash
# Installs the real peers the tests talk to, when missing: moto[server]==5.2.5 in a virtualenv
# under target/peers/, with the aws CLI and the AWS IoT Device SDK for Python beside it (clients
# of the local core, signing with its printed credentials); mosquitto, and zsh and fish (which
# check the completion scripts parse), from Debian's packages. Safe to run again; does nothing
# when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
venv=target/peers/moto-venv

if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "install-peers: moto[server]==$MOTO_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# The aws CLI and the Device SDK, resolved beside moto's boto3 (pinned, so nothing moto needs
# moves).
if [ ! -x "$venv/bin/aws" ] || ! "$venv/bin/python" -c "import awsiot" 2>/dev/null; then
  echo "install-peers: the aws CLI (awscli) and the AWS IoT Device SDK (awsiotsdk) into $venv"
  boto3_version=$("$venv/bin/python" -c "import boto3; print(boto3.__version__)")
  "$venv/bin/pip" install --quiet --disable-pip-version-check awscli awsiotsdk \
    "boto3==$boto3_version" "moto[server]==$MOTO_VERSION"
fi

packages=()
if ! command -v mosquitto_sub >/dev/null 2>&1 || { ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; }; then
  packages+=(mosquitto mosquitto-clients)
fi
command -v zsh >/dev/null 2>&1 || packages+=(zsh)
command -v fish >/dev/null 2>&1 || packages+=(fish)
if [ ${#packages[@]} -gt 0 ]; then
  echo "install-peers: ${packages[*]} from Debian packages"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
