#!/usr/bin/env bash
# Prepares .deps/ (ignored by git) for a machine that reaches no package registry: downloads
# Debian's packages of the optional headers and unpacks them into .deps/root/, where CMake
# looks for them by itself. Run it on a machine with the registry, carry .deps/ along with the
# working tree, then run `bash scripts/test.sh --offline` there.
#
#   bash scripts/fetch_offline_deps.sh [package ...]    (default: libgloo-dev)
#
# libgloo-dev holds the Gloo headers that CPU process groups (c10d's ProcessGroupGloo) are
# compiled against; the torch wheel ships Gloo's library but not its headers. Only the headers
# are used (LibTorch's own copy of Gloo is what runs), so its dependencies are not needed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$repo_root/.deps"
packages=("$@")
((${#packages[@]})) || packages=(libgloo-dev)

log() { printf '[torchtune_cpp] %s\n' "$*" >&2; }

rm -rf "$deps/debs" "$deps/root"
mkdir -p "$deps/debs" "$deps/root"
cd "$deps/debs"
if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
  log "package lists missing or stale: apt-get update"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  apt-get download "${packages[@]}" >/dev/null
fi
: >"$deps/packages.txt"
for deb in "$deps"/debs/*.deb; do
  dpkg -x "$deb" "$deps/root"
  dpkg-deb -f "$deb" Package Version | sed 's/^[^:]*: //' | paste -sd' ' >>"$deps/packages.txt"
done
[[ " ${packages[*]} " != *" libgloo-dev "* || -f $deps/root/usr/include/gloo/algorithm.h ]] ||
  { log "error: libgloo-dev unpacked, but $deps/root/usr/include/gloo/algorithm.h is missing"; exit 1; }
log "unpacked into $deps/root: $(paste -sd',' "$deps/packages.txt" | sed 's/,/, /g')"
log "carry $deps along with the tree; there: bash scripts/test.sh --offline"
