#!/usr/bin/env bash
# Prepares a GPU run of the round-*.sh scripts: packs the apps with the GPU kit's pack script (its folder is the first argument), shrinks the pack below the
# 64 MiB travel limit (slim-pack.sh), and fills the git-ignored .gpu-extra/ with what the rounds read besides the
# tree: the Llama-3 tokenizer (tests/scripts/fetch-tokenizers.sh) and compressed-tensors' pack_quantized.py.
# Usage: tests/scripts/gpu/prepare.sh GPU_KIT_DIR COMPRESSED_TENSORS_REPO   (a checkout or a bare git directory)
# Then run, with carry [".gpu", ".gpu-extra"]:  bash .gpu/remote.sh bash tests/scripts/gpu/round-A.sh  (then B; round-P.sh
# needs only .gpu: the Hopper dequantizing GEMMs, Llama-3-8B end to end, OPT-175B)
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,7p' "$0"; exit 2; }
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
"$1/pack" tests/Gpu.Tests/Gpu.Tests.csproj src/Server/Server.csproj
bash tests/scripts/gpu/slim-pack.sh
grep -qxF '/.gpu-extra/' .git/info/exclude || echo '/.gpu-extra/' >> .git/info/exclude
rm -rf .gpu-extra && mkdir -p .gpu-extra/ct-src/src/compressed_tensors/compressors/quantized_compressors
bash tests/scripts/fetch-tokenizers.sh >/dev/null
tar -C .cache/tokenizers -cJf .gpu-extra/llama3.tar.xz llama3
file=src/compressed_tensors/compressors/quantized_compressors/pack_quantized.py
if [ -f "$2/$file" ]; then cp "$2/$file" ".gpu-extra/ct-src/$file"; else git -C "$2" show "HEAD:$file" > ".gpu-extra/ct-src/$file"; fi
git -C "$2" rev-parse HEAD > .gpu-extra/ct-commit 2>/dev/null || echo unknown > .gpu-extra/ct-commit
du -sh .gpu .gpu-extra
