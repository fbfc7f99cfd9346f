#!/usr/bin/env bash
# Installs Prometheus (and promtool) from Debian's packages for the observability tests, which start a real
# Prometheus scraping the server. Idempotent: does nothing when /usr/bin/prometheus is already there.
set -euo pipefail
if [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# A fresh container may have empty apt lists; without them the install finds no package.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$' || true)" ]; then
  $SUDO apt-get update -q
fi
# The package's postinst may try to start a service; in a container without systemd that is harmless.
$SUDO apt-get install -y -q --no-install-recommends prometheus || { $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends prometheus; }
/usr/bin/prometheus --version >/dev/null
