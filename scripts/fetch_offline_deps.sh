#!/usr/bin/env bash
# Prepares .deps/ (ignored by git) for a machine that reaches no package registry: downloads
# Debian's packages of the optional headers and unpacks them into .deps/root/, where CMake
# looks for them by itself, and pure-Python wheels of reference packages into .deps/wheels/,
# which offline mode puts on PYTHONPATH. Run it on a machine with the registries, carry .deps/
# along with the working tree, then run `bash scripts/test.sh --offline` there.
#
#   bash scripts/fetch_offline_deps.sh [debian-package ...]    (default: libgloo-dev)
#   TTCPP_OFFLINE_WHEELS="torchdata"                         (default; versions pinned by
#                                                             tests/requirements.txt; "" for none)
#
# libgloo-dev holds the Gloo headers that CPU process groups (c10d's ProcessGroupGloo) are
# compiled against; the torch wheel ships Gloo's library but not its headers. Only the headers
# are used (LibTorch's own copy of Gloo is what runs), so its dependencies are not needed.
# torchdata (pure Python) is the reference the recipe-state tests load our files into; a
# machine's own torch environment usually lacks it.
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

# Pure-Python wheels, at the versions tests/requirements.txt pins, without their dependencies
# (torch, requests, ...: the offline machine's environment has those).
rm -rf "$deps/wheels"
wheels=()
for name in ${TTCPP_OFFLINE_WHEELS-torchdata}; do
  pin=$(grep -i -E "^${name}==" "$repo_root/tests/requirements.txt" || true)
  wheels+=("${pin:-$name}")
done
if ((${#wheels[@]})); then
  py="${TTCPP_VENV:-$HOME/.cache/torchtune_cpp/venv}/bin/python"
  [[ -x $py ]] || py=python3
  "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$deps/wheels" "${wheels[@]}"
  for w in "$deps"/wheels/*.whl; do
    [[ $w == *-py3-none-any.whl ]] || { log "error: $(basename "$w") is not a pure-Python wheel"; exit 1; }
  done
  log "pure-Python wheels in $deps/wheels: $(cd "$deps/wheels" && ls -- *.whl | paste -sd' ')"
fi
log "carry $deps along with the tree; there: bash scripts/test.sh --offline"
