#!/usr/bin/env bash
# Checks that every tracked C++/CUDA source under torchtune_cpp/, recipes/, tests/ and
# benchmarks/ is formatted as .clang-format says, with Debian's clang-format-14 (one version:
# another release formats some constructs differently).
#
#   check_format.sh <repo-root>
#
# Exits 0 when all are formatted, 1 listing the files that are not, and 77 (the CTest test's
# SKIP_RETURN_CODE) when clang-format-14 is not installed.
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$root"
if ! command -v clang-format-14 >/dev/null; then
  echo "clang-format-14 is not installed (Debian package clang-format-14): format not checked"
  exit 77
fi
folders=(torchtune_cpp recipes tests benchmarks)
files=()
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files only: build outputs and scratch files inside the tree are not sources.
  while IFS= read -r f; do [[ -f $f ]] && files+=("$f"); done < <(
    git ls-files -- "${folders[@]/%//*.h}" "${folders[@]/%//*.cpp}" "${folders[@]/%//*.cu}")
else
  while IFS= read -r f; do files+=("$f"); done < <(
    find "${folders[@]}" -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' \) 2>/dev/null | sort)
fi
if ((${#files[@]} == 0)); then
  echo "no sources found under ${folders[*]} in $root"
  exit 1
fi
bad=()
for f in "${files[@]}"; do
  clang-format-14 --dry-run --Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  for f in "${bad[@]}"; do echo "$f: not formatted; run: clang-format-14 -i $f"; done
  echo "${#bad[@]} of ${#files[@]} files are not formatted"
  exit 1
fi
echo "ok: ${#files[@]} files formatted"
