#!/usr/bin/env bash
# clang-format over every C++ file git tracks (the style is .clang-format at
# the root; the tree has no vendored C++ to leave out).
#
#   scripts/format.sh           rewrite the files in place (`make format`)
#   scripts/format.sh --check   change nothing; exit 1 naming every file that
#                               differs (`make format-check`, ctest
#                               style.clang_format)
#
# The formatter is Debian 12's clang-format 14 (scripts/install-deps.sh):
# another major version lays some constructs out differently, so with no
# clang-format 14 the check exits 77 (ctest reports it skipped) rather than
# fail on lines nobody wrote badly. CLANG_FORMAT names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then
      cf=$c
      break
    fi
  done
fi
if [ -z "$cf" ]; then
  echo "format: clang-format not found (scripts/install-deps.sh installs it)" >&2
  exit 77
fi
version=$("$cf" --version | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
if [ "$version" != 14 ]; then
  echo "format: $cf is clang-format ${version:-?}, the tree is formatted with 14: skipped" >&2
  exit 77
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format: not a git checkout, no list of tracked files: skipped" >&2
  exit 77
fi

mapfile -d '' files < <(git ls-files -z -- '*.cpp' '*.hpp' '*.h')
if ((check == 0)); then
  printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$cf" -i
  exit 0
fi

# --dry-run -Werror prints one error per differing place; keep the names.
report=$(printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$cf" --dry-run -Werror 2>&1 || true)
bad=$(printf '%s\n' "$report" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  echo "format: $(printf '%s\n' "$bad" | wc -l) of ${#files[@]} files are not clang-formatted (fix: make format):" >&2
  printf '  %s\n' $bad >&2
  printf '%s\n' "$report" | head -n 30 >&2
  exit 1
fi
if [ -n "$report" ]; then
  # Something else went wrong (an unreadable file, a bad .clang-format).
  printf '%s\n' "$report" >&2
  exit 1
fi
echo "format: ${#files[@]} files are clang-formatted"
