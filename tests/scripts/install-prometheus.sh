#!/usr/bin/env bash
# Unpacks Prometheus and promtool from Debian's package into .cache/prometheus for the observability tests, which
# start a real Prometheus scraping the server. Nothing is installed system-wide: `apt-get download` + `dpkg -x`
# registers no service and needs no root once the apt lists exist. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=.cache/prometheus
if [ -x "$DEST/usr/bin/prometheus" ] && [ -x "$DEST/usr/bin/promtool" ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
# A fresh machine may have empty apt lists; without them apt-get finds no package.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$' || true)" ]; then
  $SUDO apt-get update -q
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# _apt cannot write to a private temp folder; downloading as the caller is what apt-get download does then anyway.
(cd "$WORK" && apt-get download -q prometheus 2>&1 | grep -v "unsandboxed" || true)
DEB=$(ls "$WORK"/prometheus_*.deb 2>/dev/null | head -1)
if [ -z "$DEB" ]; then
  $SUDO apt-get update -q
  (cd "$WORK" && apt-get download -q prometheus 2>&1 | grep -v "unsandboxed" || true)
  DEB=$(ls "$WORK"/prometheus_*.deb)
fi
rm -rf "$DEST"
mkdir -p "$DEST"
dpkg -x "$DEB" "$DEST"
"$DEST/usr/bin/prometheus" --version | head -1
