#!/usr/bin/env bash
# Installs clang 19 from Debian's packages for the device compile check (tests/Kernels.Tests/device-compile), which
# compiles the CUDA kernels' device side without a CUDA installation. Idempotent.
set -euo pipefail
if command -v clang-19 >/dev/null; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
# A fresh machine may have empty apt lists; without them apt-get finds no package.
if ! apt-cache show clang-19 >/dev/null 2>&1; then $SUDO apt-get update -q; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang-19
clang-19 --version | head -1
