#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the main job: installs what is missing,
# builds into build/, and runs the embedded default.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

tt_install_system_packages
tt_ensure_venv
tt_configure_and_build
# The embedded-default fine-tuning run lands with the single-device recipe; until then the
# main job shows what the CLI ships.
"$tt_build/tune" ls
