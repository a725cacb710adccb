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
tt_ensure_venv
tt_configure_and_build
# The main job on the embedded default: fine-tune the small Llama2-architecture model in
# assets/tiny_llama2/ on the project's dataset, on the CPU (tune finds the config's files
# itself, from any directory).
"$tt_build/tune" run full_finetune_single_device --config llama2/tiny_full "${overrides[@]}"
