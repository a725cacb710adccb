#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the main job: installs what is missing,
# builds into build/, and runs the embedded default. `--offline` (or TTCPP_OFFLINE=1)
# installs nothing and uses what is there (scripts/env.sh).
set -euo pipefail
overrides=()
for a in "$@"; do
  if [[ $a == --offline ]]; then export TTCPP_OFFLINE=1; else overrides+=("$a"); fi
done
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

tt_install_system_packages
# The format check (CTest lint.clang_format) uses Debian's clang-format-14: one version, as
# another release formats some code differently.
if [[ $tt_offline != 1 ]] &&
   ! dpkg-query -W -f='${Status}' clang-format-14 2>/dev/null | grep -q "install ok installed"; then
  tt_log "installing Debian packages: clang-format-14"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang-format-14 >/dev/null
fi
tt_ensure_venv
tt_configure_and_build
# The main job on the embedded default: fine-tune the small Llama2-architecture model in
# assets/tiny_llama2/ on the project's dataset, on the CPU (tune finds the config's files
# itself, from any directory).
"$tt_build/tune" run full_finetune_single_device --config llama2/tiny_full "${overrides[@]}"
