#!/usr/bin/env bash
# `cmake --install` gives a working torchtune_cpp, used from a folder outside the source tree:
#   - tune finds its configs, recipes and the embedded default's assets relative to itself;
#   - the installed recipes load libtorchtune_cpp and LibTorch through their run paths (no
#     LD_LIBRARY_PATH) and train the embedded default (llama2/tiny_full) on one process and,
#     over Gloo, on two: the loss falls and the final checkpoint lands in output_dir;
#   - a user's own recipe builds against the installed CMake package and runs through
#     `tune run` (the route `tune cp <recipe>` sets up).
#
# usage: install_test.sh <build-dir> <source-dir> <torch-cmake-prefix> <gloo|no-gloo>
set -euo pipefail
build=$1 src=$2 torch_prefix=$3 gloo=${4:-gloo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/tune include/torchtune_cpp/config/registry.h lib/cmake/torchtune_cpp/torchtune_cppConfig.cmake \
         lib/cmake/torchtune_cpp/torchtune_cppTargets.cmake share/torchtune_cpp/configs/llama2/7B_full.yaml \
         share/torchtune_cpp/configs/llama2/tiny_full.yaml libexec/torchtune_cpp/full_finetune_single_device \
         libexec/torchtune_cpp/full_finetune_distributed share/torchtune_cpp/assets/tiny_llama2/model.safetensors \
         share/torchtune_cpp/assets/tiny_llama2/config.json share/torchtune_cpp/assets/tiny_llama2/tokenizer.model \
         share/torchtune_cpp/assets/data/alpaca_tiny.json; do
  [[ -e $prefix/$f && ! -L $prefix/$f ]] || fail "$f not installed (or installed as a link)"
done
ls "$prefix"/lib/libtorchtune_cpp.* >/dev/null

# Nowhere near the source tree, with nothing in the environment pointing at it.
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
unset LD_LIBRARY_PATH TTCPP_ASSETS_DIR TTCPP_DATA_DIR TTCPP_RECIPE_DIR

"$prefix/bin/tune" ls | grep -q "llama2/13B_full"
"$prefix/bin/tune" cat llama2/7B_full | grep -q "_component_: torchtune.models.llama2.llama2_7b"
"$prefix/bin/tune" cp llama2/7B_full_low_memory "$work/mine.yaml" | grep -q "Copied file to"
"$prefix/bin/tune" validate llama2/tiny_full | grep -q "Config is well-formed!"

# Losses of a DiskLogger folder, one per line, in step order.
losses() { sed -n 's/^Step [0-9]* | .*loss:\([0-9.eE+-]*\).*/\1/p' "$1"/log_*.txt; }
# The embedded default trained by the installed tune: the last step's loss is below 0.9x the
# first's, and the final checkpoint is in output_dir.
expect_trained() {
  local out=$1 what=$2
  local first last
  first=$(losses "$out/logs" | head -n 1)
  last=$(losses "$out/logs" | tail -n 1)
  [[ -n $first && -n $last ]] || fail "$what: no losses logged in $out/logs"
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.9 * a) }' || fail "$what: loss $first -> $last did not fall"
  [[ -f $out/epoch_1/model-00001-of-00001.safetensors ]] || fail "$what: no final checkpoint in $out/epoch_1"
  echo "$what: loss $first -> $last, checkpoint in $out/epoch_1"
}

"$prefix/bin/tune" run full_finetune_single_device --config llama2/tiny_full epochs=2 \
  output_dir="$work/one" >"$work/one.log" 2>&1 || { cat "$work/one.log"; fail "one process"; }
expect_trained "$work/one" "installed tune, one process"

if [[ $gloo == gloo ]]; then
  "$prefix/bin/tune" run --nproc_per_node 2 full_finetune_distributed --config llama2/tiny_full device=cpu \
    epochs=2 batch_size=4 output_dir="$work/two" >"$work/two.log" 2>&1 || { cat "$work/two.log"; fail "two processes"; }
  expect_trained "$work/two" "installed tune, two processes (Gloo)"
else
  echo "NOT RUN: the two-process half (built without Gloo headers: install libgloo-dev and rebuild)"
fi

# A user recipe: `tune cp` copies a recipe source and writes the CMake snippet next to it.
mkdir -p "$work/data/configs" "$work/data/recipes"
cp "$src/tests/cli/echo_recipe.cpp" "$work/data/recipes/full_finetune_single_device.cpp"
cp "$src/recipes/full_finetune.h" "$src/recipes/full_finetune.cpp" "$src/recipes/processes.cpp" "$work/data/recipes/"
TTCPP_DATA_DIR=$work/data "$prefix/bin/tune" cp full_finetune_single_device "$work/user/my_recipe.cpp" --make-parents
cmake -S "$work/user" -B "$work/user/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix;$torch_prefix" >/dev/null
cmake --build "$work/user/build" >/dev/null
out=$("$prefix/bin/tune" run "$work/user/build/my_recipe" --config "$src/tests/assets/configs/echo/greeting.yaml" greeting.times=1)
grep -q "^hello from /tmp/echo$" <<<"$out" || { echo "FAIL: user recipe output:"; echo "$out"; exit 1; }
echo "install test passed"
