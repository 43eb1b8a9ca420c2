#!/usr/bin/env bash
# Every C++ source is formatted as .clang-format says (`git clang-format` formats a change;
# `clang-format -i` a whole file). Lists the files that are not.
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null || find services tests bench examples -name '*.cc' -o -name '*.h')
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -o '^[^:]*: warning' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
  echo "not formatted (clang-format -i these files):"
  echo "$bad"
  exit 1
fi
echo "OK: ${#files[@]} files formatted"
