# Shared set-up steps for scripts/setup.sh and scripts/test.sh (sourced, not run).
# Installs what is missing on a Debian 12 machine, creates the Python environment that
# provides LibTorch and the test references, and configures + builds into build/.
#
#   TTCPP_VENV       Python environment (default: $HOME/.cache/torchtune_cpp/venv)
#   TTCPP_BUILD_DIR  build folder (default: build)
#   TTCPP_CMAKE_ARGS extra CMake arguments

tt_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tt_venv="${TTCPP_VENV:-$HOME/.cache/torchtune_cpp/venv}"
tt_build="${TTCPP_BUILD_DIR:-$tt_repo_root/build}"

tt_log() { printf '[torchtune_cpp] %s\n' "$*" >&2; }

# Debian packages: compilers and build tools, yaml-cpp, nlohmann_json, SentencePiece,
# GoogleTest, Gloo headers (for CPU process groups), and venv support for python3.
tt_install_system_packages() {
  local wanted=(g++ cmake ninja-build pkg-config git libyaml-cpp-dev nlohmann-json3-dev
                libsentencepiece-dev libgtest-dev libgloo-dev)
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
# Re-installed only when the requirements file changes.
tt_ensure_venv() {
  local req="$tt_repo_root/tests/requirements.txt"
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

tt_configure_and_build() {
  local prefix start
  prefix="$("$tt_venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  start=$(date +%s)
  # shellcheck disable=SC2086
  cmake -S "$tt_repo_root" -B "$tt_build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DTT_TEST_PYTHON="$tt_venv/bin/python" ${TTCPP_CMAKE_ARGS:-} >/dev/null
  cmake --build "$tt_build"
  tt_log "build finished in $(( $(date +%s) - start )) s"
}
