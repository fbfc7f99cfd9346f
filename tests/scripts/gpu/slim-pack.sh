#!/usr/bin/env bash
# Shrinks .gpu after the GPU kit's pack script so the tree fits the 64 MiB travel limit: drops the published Server's
# Assets copy (the device reads src/Assets from the tree), hard-links files the two apps share (tar stores them once),
# drops the runtime's debugger libraries, and recompresses with xz -9e.
set -euo pipefail
cd "$(dirname "$0")/../../../.gpu"
W=$(mktemp -d)
tar -C $W -xJf app.tar.xz
rm -rf $W/app/Server/Assets
for f in $(cd $W/app/Server && find . -type f); do
  g=$W/app/Gpu.Tests/$f
  [ -f "$g" ] && cmp -s "$W/app/Server/$f" "$g" && ln -f "$W/app/Server/$f" "$g"
done
tar -C $W -cf - app | xz -9e -T0 > app.tar.xz
R=$(mktemp -d)
tar -C $R -xJf dotnet-runtime.tar.xz
find $R -name 'libmscordaccore.so' -o -name 'libmscordbi.so' -o -name 'createdump' | xargs rm -f
tar -C $R -cf - . | xz -9e -T0 > dotnet-runtime.tar.xz
rm -rf $W $R
du -sm . 
