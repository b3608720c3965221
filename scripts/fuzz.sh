#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each, starting from the committed seeds in
# fuzz/corpus/<target>/ and growing a working corpus in build-fuzz/corpus/<target>/.
# Crashes are written to build-fuzz/crashes/<target>/; turn each into a regression test.
# Usage: scripts/fuzz.sh [BUILD_DIR] [SECONDS] [TARGET...]   (no TARGET: all of them)
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
only=("${@:3}")
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/bin/fuzz_*; do
  target=${bin##*/fuzz_}
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $target "* ]]; then continue; fi
  work="$build/corpus/$target"; crashes="$build/crashes/$target"
  mkdir -p "$work" "$crashes"
  echo "== fuzz $target for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576 -timeout=20 \
       -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "$root/fuzz/corpus/$target" 2>"$build/fuzz_$target.log"; then
    echo "!! $target crashed: see $build/fuzz_$target.log and $crashes/"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/fuzz_$target.log" | sed 's/^/   /' || true
done
exit $status
