#!/usr/bin/env bash
# Runs every libFuzzer target built by the `fuzz` preset for N seconds each
# (default 20), starting from its seed corpus in fuzz/corpus/<target>/.
# Exits non-zero when any target crashes, leaks, times out or trips a
# sanitizer; the reproducer is kept in build/fuzz/fuzz/artifacts/.
#
#   cmake --preset fuzz && cmake --build --preset fuzz && bash fuzz/run.sh 10
#   build/fuzz/fuzz/framing_rpc_fuzz build/fuzz/fuzz/artifacts/crash-...   # replay
set -uo pipefail

seconds="${1:-}"
seconds="${seconds:-20}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="${ICOTES_FUZZ_BIN_DIR:-$here/../build/fuzz/fuzz}"
artifacts="$bin_dir/artifacts"

mapfile -t targets < <(find "$bin_dir" -maxdepth 1 -type f -name '*_fuzz' -perm -u+x 2>/dev/null | sort)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz/run.sh: no fuzz targets in $bin_dir; build them first:" >&2
  echo "  cmake --preset fuzz && cmake --build --preset fuzz" >&2
  exit 2
fi

mkdir -p "$artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for bin in "${targets[@]}"; do
  name="$(basename "$bin")"
  seeds="$here/corpus/$name"
  work="$(mktemp -d "/tmp/icotes-fuzz-$name-XXXXXX")"
  args=(-max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work")
  [ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
  [ -d "$seeds" ] && args+=("$seeds")
  echo "== $name for ${seconds}s"
  "$bin" "${args[@]}" > "$work.log" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "!! $name failed (exit $status); last lines of its log:" >&2
    tail -n 60 "$work.log" >&2
    failed+=("$name")
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done ' "$work.log" | sed 's/^/   /'
  fi
  rm -rf "$work" "$work.log"
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz/run.sh: FAILED: ${failed[*]} (reproducers in $artifacts)" >&2
  exit 1
fi
echo "fuzz/run.sh: all ${#targets[@]} target(s) ran ${seconds}s without a finding"
