#!/usr/bin/env bash
# Installs Debian's prometheus-alertmanager (Alertmanager and amtool) for the
# end-to-end tests, when either is missing.
set -euo pipefail
if command -v amtool >/dev/null && { command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null; }; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
# The package starts a service where systemd runs; the tests start their own.
$sudo systemctl stop prometheus-alertmanager 2>/dev/null || true
amtool --version 2>&1 | head -n 1
