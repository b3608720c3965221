#!/usr/bin/env bash
# Stripped size of the device library (runtime + artifact loader + backends; without libXNNPACK,
# pthreadpool and cpuinfo, which are shared Debian libraries). Usage: device-size.sh LIB [MAX_BYTES]
# Prints the size; with MAX_BYTES, fails when the library is larger.
set -euo pipefail
lib=$1
max=${2:-}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
strip -o "$tmp" "$lib"
bytes=$(stat -c %s "$tmp")
echo "device library $(basename "$lib"): $bytes bytes stripped ($(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }') MiB)"
if [ -n "$max" ] && [ "$bytes" -gt "$max" ]; then
  echo "larger than the limit of $max bytes" >&2
  exit 1
fi
