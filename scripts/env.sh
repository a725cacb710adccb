# shellcheck shell=bash
# Shared set-up steps for scripts/setup.sh and scripts/test.sh (sourced, not run).
# Installs what is missing on a Debian 12 machine, creates the Python environment that
# provides LibTorch and the test references, and configures + builds into build/.
#
#   TTCPP_VENV       Python environment (default: $HOME/.cache/torchtune_cpp/venv; offline:
#                    /opt/torch/.venv when it exists)
#   TTCPP_BUILD_DIR  build folder (default: build)
#   TTCPP_CMAKE_ARGS extra CMake arguments
#   TTCPP_OFFLINE=1  offline mode (also `--offline` to setup.sh / test.sh), for a machine that
#                    reaches no package registry: nothing is installed (no apt, no pip); the
#                    tools, the Debian -dev packages and the Python environment must be there.
#                    Optional headers missing there (Gloo's) are carried in .deps/, prepared
#                    on a machine with a registry by scripts/fetch_offline_deps.sh; CMake
#                    looks for them there by itself, and the pure-Python wheels carried in
#                    .deps/wheels/ (torchdata) go on PYTHONPATH.
#
# When ccache is installed, builds go through it, keyed on paths relative to the repository
# root so that another clone of the repository on the same machine hits the same cache.

tt_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tt_offline="${TTCPP_OFFLINE:-0}"
[[ $tt_offline == 0 || -z $tt_offline ]] && tt_offline=0 || tt_offline=1
if [[ -n ${TTCPP_VENV:-} ]]; then
  tt_venv="$TTCPP_VENV"
elif [[ $tt_offline == 1 && -x /opt/torch/.venv/bin/python ]]; then
  tt_venv=/opt/torch/.venv
else
  tt_venv="$HOME/.cache/torchtune_cpp/venv"
fi
tt_build="${TTCPP_BUILD_DIR:-$tt_repo_root/build}"

tt_log() { printf '[torchtune_cpp] %s\n' "$*" >&2; }
tt_die() { printf '[torchtune_cpp] error: %s\n' "$*" >&2; exit 1; }

# Debian packages: compilers and build tools, yaml-cpp, nlohmann_json, SentencePiece,
# GoogleTest, Gloo headers (for CPU process groups), ccache, and venv support for python3.
# Offline, only checks that the build tools are there (CMake names any missing library).
tt_install_system_packages() {
  if [[ $tt_offline == 1 ]]; then
    local tool
    for tool in cmake ninja g++; do
      command -v "$tool" >/dev/null || tt_die "offline mode: '$tool' is not installed and nothing can be installed here; install it (Debian: cmake, ninja-build, g++) or run without --offline on a machine that reaches the package registry"
    done
    return 0
  fi
  local wanted=(g++ cmake ninja-build pkg-config git libyaml-cpp-dev nlohmann-json3-dev
                libsentencepiece-dev libgtest-dev libgloo-dev ccache)
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then wanted+=(python3-venv); fi
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    tt_log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The pinned reference environment (tests/requirements.txt): torch==2.11.0 gives LibTorch.
# Re-installed only when the requirements file changes. Offline, the environment is used as
# it is: it must have torch; a missing reference package is named (the tests needing it fail).
tt_ensure_venv() {
  local req="$tt_repo_root/tests/requirements.txt"
  if [[ $tt_offline == 1 ]]; then
    local wheel
    for wheel in "$tt_repo_root"/.deps/wheels/*-py3-none-any.whl; do
      [[ -f $wheel ]] && export PYTHONPATH="$wheel${PYTHONPATH:+:$PYTHONPATH}"
    done
    [[ -x "$tt_venv/bin/python" ]] || tt_die "offline mode: no Python environment at $tt_venv; set TTCPP_VENV to one with torch (tests/requirements.txt)"
    "$tt_venv/bin/python" -c 'import torch' 2>/dev/null || tt_die "offline mode: $tt_venv/bin/python cannot import torch; set TTCPP_VENV to an environment with torch 2.11"
    local missing
    missing=$("$tt_venv/bin/python" - "$req" <<'EOF'
import importlib.util, re, sys
names = {"pyyaml": "yaml"}
for line in open(sys.argv[1]):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)", line.split("#")[0])
    if m and importlib.util.find_spec(names.get(m[1].lower(), m[1].replace("-", "_"))) is None:
        print(m[1], end=" ")
EOF
)
    [[ -z $missing ]] || tt_log "offline mode: $tt_venv lacks $missing(the tests that use them skip, which fails the run; carry them: scripts/fetch_offline_deps.sh)"
    tt_log "offline mode: Python environment $tt_venv ($("$tt_venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
    return 0
  fi
  local stamp="$tt_venv/.ttcpp-requirements.sha256"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ ! -x "$tt_venv/bin/python" ]]; then
    tt_log "creating Python environment $tt_venv"
    mkdir -p "$(dirname "$tt_venv")"
    python3 -m venv "$tt_venv"
  fi
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    tt_log "installing tests/requirements.txt into $tt_venv (torch is a large download)"
    "$tt_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
  fi
}

# ccache, when installed: paths under the repository root hash relative to it (a fresh clone
# elsewhere hits the cache), and precompiled headers are cacheable with this sloppiness.
tt_use_ccache() {
  tt_launcher="-DCMAKE_CXX_COMPILER_LAUNCHER="
  command -v ccache >/dev/null || return 0
  export CCACHE_BASEDIR="$tt_repo_root"
  export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
  tt_launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
}

tt_configure_and_build() {
  local prefix start
  prefix="$("$tt_venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  tt_use_ccache
  start=$(date +%s)
  # shellcheck disable=SC2086
  cmake -S "$tt_repo_root" -B "$tt_build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DTT_TEST_PYTHON="$tt_venv/bin/python" $tt_launcher ${TTCPP_CMAKE_ARGS:-} >/dev/null
  cmake --build "$tt_build"
  tt_log "build finished in $(( $(date +%s) - start )) s"
}
