#!/usr/bin/env bash
# `cmake --install` gives a working torchtune_cpp: tune finds its configs relative to the
# installed binary, and a user's own recipe builds against the installed CMake package and
# runs through `tune run` (the route `tune cp <recipe>` sets up).
#
# usage: install_test.sh <build-dir> <source-dir> <torch-cmake-prefix>
set -euo pipefail
build=$1 src=$2 torch_prefix=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tune include/torchtune_cpp/config/registry.h lib/cmake/torchtune_cpp/torchtune_cppConfig.cmake \
         lib/cmake/torchtune_cpp/torchtune_cppTargets.cmake share/torchtune_cpp/configs/llama2/7B_full.yaml; do
  [[ -e $prefix/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$prefix"/lib/libtorchtune_cpp.* >/dev/null

"$prefix/bin/tune" ls | grep -q "llama2/13B_full"
"$prefix/bin/tune" cat llama2/7B_full | grep -q "_component_: torchtune.models.llama2.llama2_7b"
"$prefix/bin/tune" cp llama2/7B_full_low_memory "$work/mine.yaml" | grep -q "Copied file to"

# A user recipe: `tune cp` copies a recipe source and writes the CMake snippet next to it.
mkdir -p "$work/data/configs" "$work/data/recipes"
cp "$src/tests/cli/echo_recipe.cpp" "$work/data/recipes/full_finetune_single_device.cpp"
TTCPP_DATA_DIR=$work/data "$prefix/bin/tune" cp full_finetune_single_device "$work/user/my_recipe.cpp" --make-parents
cmake -S "$work/user" -B "$work/user/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix;$torch_prefix" >/dev/null
cmake --build "$work/user/build" >/dev/null
out=$("$prefix/bin/tune" run "$work/user/build/my_recipe" --config "$src/tests/assets/configs/echo/greeting.yaml" greeting.times=1)
grep -q "^hello from /tmp/echo$" <<<"$out" || { echo "FAIL: user recipe output:"; echo "$out"; exit 1; }
echo "install test passed"
