#!/usr/bin/env bash
# Container HEALTHCHECK: GET /health on the server's REST port with bash's /dev/tcp, so the image needs no curl or
# wget (the .NET and CUDA runtime images ship neither; both ship bash, grep and coreutils). Exit 0 on "HTTP/1.x 200".
# The port: HEALTH_PORT, else 8000 (serve's default --port).
set -uo pipefail
port="${HEALTH_PORT:-8000}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
exec 3<&-
[[ "$status" =~ ^HTTP/1\.[01]\ 200 ]]
