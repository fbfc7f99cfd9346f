# Sourced first by a round-*.sh script, from the repository root: `source tests/scripts/gpu/round-start.sh NAME` tees
# everything the round prints to $OUT/NAME.log, defines left() (the seconds of ROUND_SECONDS, default 470, still
# left), sources round-common.sh (its output in /tmp/common.log, shown when it fails) and profile-decode.sh, and says
# which GPU the round runs on.
exec > >(tee $OUT/$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
source tests/scripts/gpu/profile-decode.sh
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
