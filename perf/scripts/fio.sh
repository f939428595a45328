#!/usr/bin/env bash
# Peer measurement for rill-bench: what the disk under DIR does with plain fio.
#
#   perf/scripts/fio.sh DIR [OUTPUT.json]
#
# Runs, one after another (stonewall), on a fresh file in DIR that is deleted after each job:
#   seq-write-1m            O_DIRECT sequential write, 1 MiB blocks, queue depth 1, no syncs
#   seq-write-1m-qd8        the same at queue depth 8 (what the device can do with overlap)
#   seq-write-1m-fdatasync  1 MiB O_DIRECT writes, each followed by fdatasync
#   seq-write-64k-fdatasync 64 KiB O_DIRECT writes, each followed by fdatasync
#   seq-write-4k-fdatasync  4 KiB O_DIRECT writes, each followed by fdatasync: the fdatasync
#                           latency test (fio's "sync" latency percentiles)
# Files are not preallocated (--fallocate=none) so writes allocate blocks as a log append does.
# fio's JSON (--output-format=json) goes to OUTPUT.json, or to stdout; everything else to stderr.
#
# Environment: FIO_RUNTIME_S (per job, default 8), FIO_SIZE (per job, default 4G),
# FIO_ENGINE (default: io_uring, else libaio, else psync, whichever fio has).
set -euo pipefail

dir=${1:?usage: fio.sh DIR [OUTPUT.json]}
out=${2:-}
runtime=${FIO_RUNTIME_S:-8}
size=${FIO_SIZE:-4G}

if ! command -v fio >/dev/null 2>&1; then
    echo "fio.sh: installing fio" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "fio.sh: fio is missing and installing it needs root (apt-get install fio)" >&2
        exit 2
    fi
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fio; } >&2
fi

engine=${FIO_ENGINE:-}
if [ -z "$engine" ]; then
    for candidate in io_uring libaio psync; do
        if fio --enghelp 2>/dev/null | grep -qx "[[:space:]]*$candidate"; then
            engine=$candidate
            break
        fi
    done
fi
engine=${engine:-psync}

mkdir -p "$dir"
fstype=$(df -T "$dir" | awk 'NR == 2 { print $2 }')
if [ "$fstype" = "tmpfs" ]; then
    echo "fio.sh: $dir is on tmpfs; O_DIRECT numbers would not describe a disk" >&2
    exit 2
fi
echo "fio.sh: engine $engine, ${runtime}s and at most $size per job, in $dir ($fstype)" >&2

args=(
    --output-format=json
    --directory="$dir"
    --filename=rill-fio.dat
    --direct=1
    --ioengine="$engine"
    --rw=write
    --size="$size"
    --runtime="$runtime"
    --fallocate=none
    --unlink=1
    --name=seq-write-1m --bs=1M --iodepth=1
    --name=seq-write-1m-qd8 --stonewall --bs=1M --iodepth=8
    --name=seq-write-1m-fdatasync --stonewall --bs=1M --iodepth=1 --fdatasync=1
    --name=seq-write-64k-fdatasync --stonewall --bs=64k --iodepth=1 --fdatasync=1
    --name=seq-write-4k-fdatasync --stonewall --bs=4k --iodepth=1 --fdatasync=1
)
if [ -n "$out" ]; then
    fio "${args[@]}" --output="$out"
else
    fio "${args[@]}"
fi
