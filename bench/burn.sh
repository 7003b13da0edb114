#!/usr/bin/env bash
# Keeps the machine's CPUs busy, to run the tests as a loaded CI machine
# would (they must pass so):
#
#   bench/burn.sh 1800 & go test -count=3 ./...; kill %1
#
# Arguments: how long to burn in seconds (default 600), and how many CPUs
# (default: all of them). The burners end with the script: when the time is
# up, on Ctrl-C, or when it is killed.
set -euo pipefail
secs=${1:-600}
n=${2:-$(nproc)}
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT INT TERM
for _ in $(seq "$n"); do
  timeout "$secs" sh -c 'while :; do :; done' &
  pids+=($!)
done
echo "burn: $n CPUs busy for ${secs}s (pids ${pids[*]})" >&2
wait
