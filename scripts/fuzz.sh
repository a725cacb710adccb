#!/usr/bin/env bash
# Fuzzes the readers of untrusted input with libFuzzer (Debian's clang-14), one harness at a time.
#
#   bash scripts/fuzz.sh <seconds-per-harness> [safetensors|torch_save|config|data ...]
#   bash scripts/fuzz.sh --coverage [harness ...]
#
# Builds build-fuzz/ (tests/fuzz as a project of its own: each harness with the library sources
# it needs, -fsanitize=fuzzer,address,undefined, against the torch wheel of the test
# environment), then runs each harness, under nice, from its committed seed corpus
# tests/fuzz/corpus/<name>/ and the scratch corpus build-fuzz/corpus/<name>/ (where new inputs
# go), with a 10 s timeout and a 2 GiB memory limit per input: a hang or a memory blow-up is a
# crash like any other. Crash inputs land in tests/fuzz/crashes/<name>/, which CTest replays
# (fuzz.replay.<name>) once committed. Each run's log (with -print_final_stats) goes to
# $TT_FUZZ_LOGS/<name>.log (default /tmp/fuzz-logs).
#
# --coverage builds build-fuzz-cov/ with clang's coverage instrumentation, replays both corpora
# once per harness and prints llvm-cov's line coverage of that harness's reader sources.
#
#   TTCPP_VENV      the Python environment whose torch provides LibTorch
#                   (default: $HOME/.cache/torchtune_cpp/venv)
#   TT_FUZZ_FLAGS   extra libFuzzer flags (e.g. -runs=10000000)
#   TT_FUZZ_JOBS    build parallelism (default 1: the machine is shared)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TTCPP_VENV:-$HOME/.cache/torchtune_cpp/venv}"
logs="${TT_FUZZ_LOGS:-/tmp/fuzz-logs}"
all=(safetensors torch_save config data)

coverage=0
if [[ "${1:-}" == "--coverage" ]]; then
  coverage=1
  shift
else
  seconds="${1:?usage: scripts/fuzz.sh <seconds-per-harness> [harness...] | --coverage [harness...]}"
  shift
fi
names=("$@")
((${#names[@]})) || names=("${all[@]}")

# The largest input worth trying: whole safetensors headers and pickles, config files, data files.
max_len() {
  case "$1" in
    safetensors | torch_save) echo 1048576 ;;
    config) echo 65536 ;;
    data) echo 262144 ;;
  esac
}
# Per-input leak checks: off for torch_save, where LibTorch's zip reader leaks its miniz state on
# every damaged zip (tests/fuzz/lsan.supp); each such input would scan the whole LibTorch heap.
leak_checks() {
  case "$1" in
    torch_save) echo 0 ;;
    *) echo 1 ;;
  esac
}
# The reader sources whose coverage a harness measures.
sources() {
  case "$1" in
    safetensors) echo torchtune_cpp/checkpointing/safetensors.cpp ;;
    torch_save) echo torchtune_cpp/checkpointing/torch_load.cpp torchtune_cpp/checkpointing/unpickler.cpp torchtune_cpp/core/pickle_value.cpp ;;
    config) echo torchtune_cpp/config/yaml_io.cpp torchtune_cpp/config/node.cpp \
      torchtune_cpp/config/overrides.cpp torchtune_cpp/config/interpolate.cpp torchtune_cpp/config/config.cpp ;;
    data) echo torchtune_cpp/data/json_records.cpp torchtune_cpp/data/local_files.cpp ;;
  esac
}

command -v clang++-14 >/dev/null || { echo "fuzz.sh: clang++-14 is needed (apt-get install clang-14)" >&2; exit 1; }
torch_dir="$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
build="$root/build-fuzz"
((coverage)) && build="$root/build-fuzz-cov"
cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
  -DTT_TORCH_DIR="$torch_dir" -DTT_FUZZ_COVERAGE=$((coverage ? 1 : 0)) >/dev/null
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
nice -n 19 cmake --build "$build" --target "${targets[@]}" -- -j "${TT_FUZZ_JOBS:-1}"

export OMP_NUM_THREADS=1
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$logs"
for n in "${names[@]}"; do
  seeds="$root/tests/fuzz/corpus/$n"
  scratch="$root/build-fuzz/corpus/$n"
  crashes="$root/tests/fuzz/crashes/$n"
  mkdir -p "$scratch" "$crashes"
  if ((coverage)); then
    profiles="$build/profiles/$n"
    rm -rf "$profiles" && mkdir -p "$profiles"
    LLVM_PROFILE_FILE="$profiles/%p.profraw" nice -n 19 "$build/fuzz_$n" -runs=0 \
      -max_len="$(max_len "$n")" -timeout=10 -rss_limit_mb=2048 "$scratch" "$seeds" >"$logs/$n.coverage.log" 2>&1
    llvm-profdata-14 merge -sparse "$profiles"/*.profraw -o "$build/$n.profdata"
    # shellcheck disable=SC2046
    (cd "$root" && llvm-cov-14 report "$build/fuzz_$n" -instr-profile="$build/$n.profdata" $(sources "$n"))
    continue
  fi
  echo "fuzz.sh: $n for ${seconds}s (log $logs/$n.log)" >&2
  # shellcheck disable=SC2086
  nice -n 19 "$build/fuzz_$n" -max_total_time="$seconds" -max_len="$(max_len "$n")" -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks="$(leak_checks "$n")" -print_final_stats=1 -artifact_prefix="$crashes/" \
    ${TT_FUZZ_FLAGS:-} \
    "$scratch" "$seeds" >"$logs/$n.log" 2>&1 || {
    status=$?
    if ((status == 72)); then  # libFuzzer's exit status when stopped by a signal
      echo "fuzz.sh: $n was interrupted (see $logs/$n.log)" >&2
    else
      echo "fuzz.sh: $n found a crash; the input is in $crashes/ (see $logs/$n.log)" >&2
    fi
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$logs/$n.log" | sed "s/^/$n: /" >&2
done
