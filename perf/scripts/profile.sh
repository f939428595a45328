#!/usr/bin/env bash
# CPU profile of the append executor thread during a rill-bench log-append run.
#
#   perf/scripts/profile.sh DIR [rill-bench log-append options...]
#   e.g. perf/scripts/profile.sh /work/bench-tmp --batch-bytes 1048576 --concurrency 4
#
# Starts `rill-bench log-append --no-record` (RILL_BENCH, default target/release/rill-bench),
# waits for its executor thread (`rill-append-N`, started once the batches are pre-built),
# samples that thread only with `perf record --call-graph dwarf` for PROFILE_S seconds (default 4), and prints
# the hottest symbols. Installs Debian's linux-perf when perf is missing (root).
set -euo pipefail

dir=${1:?usage: profile.sh DIR [rill-bench log-append options...]}
shift
bin=${RILL_BENCH:-target/release/rill-bench}
seconds=${PROFILE_S:-4}
out=${PROFILE_OUT:-/tmp/rill-append.perf.data}

if ! command -v perf >/dev/null 2>&1; then
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y linux-perf; } >&2
fi

"$bin" log-append --dir "$dir" --no-record --seconds $((seconds + 2)) "$@" > /tmp/rill-profile-run.log 2>&1 &
pid=$!
tid=
for _ in $(seq 1 600); do
    tid=$(ps -T -p "$pid" -o spid=,comm= 2>/dev/null | awk '$2 ~ /^rill-append/ { print $1; exit }')
    [ -n "$tid" ] && break
    sleep 0.1
done
if [ -z "$tid" ]; then
    echo "profile.sh: no rill-append thread appeared in rill-bench (pid $pid)" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
fi
sleep 0.5 # past the log's open
perf record -q --call-graph "${PERF_CALLGRAPH:-dwarf,16384}" -t "$tid" -o "$out" -- sleep "$seconds" >/dev/null 2>&1
wait "$pid"
grep -E "MB/s" /tmp/rill-profile-run.log | head -n 1 >&2
perf report -i "$out" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -n 30
echo "profile.sh: samples in $out (perf report -i $out)" >&2
