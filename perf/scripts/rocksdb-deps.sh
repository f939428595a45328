#!/usr/bin/env bash
# Installs what the `rocksdb` feature of rill-perf needs to build RocksDB (Debian packages).
set -euo pipefail
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-dev >/dev/null
fi
echo "clang: $(clang --version | head -1)"
