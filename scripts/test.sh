#!/usr/bin/env bash
# Builds everything and runs the whole test suite with CTest (labels unit, golden, recipe,
# gpu, multigpu). Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
#
#   --offline (or TTCPP_OFFLINE=1)  install nothing, use the Python environment that is there
#                                   (TTCPP_VENV, default /opt/torch/.venv) and the headers
#                                   carried in .deps/ (scripts/env.sh, scripts/fetch_offline_deps.sh)
#
# Skipping cannot hide a failure: after CTest, a test outside the `gpu` and `multigpu` labels
# that reported skipped (or did not run) fails the run, and so does a run of no test at all.
# Tests labelled gpu/multigpu report skipped on machines without those devices; a `lint` test
# may report skipped only where clang-format-14 is not installed (scripts/setup.sh installs it).
set -euo pipefail
ctest_args=()
for a in "$@"; do
  if [[ $a == --offline ]]; then export TTCPP_OFFLINE=1; else ctest_args+=("$a"); fi
done
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

total_start=$(date +%s)
tt_install_system_packages
tt_ensure_venv
TTCPP_CMAKE_ARGS="-DTT_WERROR=ON ${TTCPP_CMAKE_ARGS:-}" tt_configure_and_build
test_start=$(date +%s)
status=0
junit="$tt_build/Testing/ttcpp-results.xml"
rm -f "$junit"
ctest --test-dir "$tt_build" --output-on-failure --no-tests=error -j "$(nproc)" --output-junit "$junit" \
  "${ctest_args[@]}" || status=$?
tt_log "tests finished in $(( $(date +%s) - test_start )) s; whole run $(( $(date +%s) - total_start )) s"

# The results, test by test: which ran, and which were skipped with which labels and reason.
"$tt_venv/bin/python" - "$junit" "$tt_build" <<'EOF' || status=1
import json, re, shutil, subprocess, sys
import xml.etree.ElementTree as ET

junit, build = sys.argv[1:3]
try:
    cases = list(ET.parse(junit).getroot().iter("testcase"))
except (OSError, ET.ParseError) as e:
    sys.exit(f"[torchtune_cpp] error: no CTest results to check ({e})")
listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                         capture_output=True, text=True, check=True).stdout
labels = {t["name"]: set(next((p["value"] for p in t.get("properties", []) if p["name"] == "LABELS"), []))
          for t in json.loads(listing)["tests"]}
ran = [c for c in cases if c.get("status") in ("run", "fail")]
# The format check cannot run without its one clang-format version: then its skip is expected.
lint_may_skip = shutil.which("clang-format-14") is None
unexpected = []
expected_skips = []
for c in cases:
    if c.get("status") in ("run", "fail") or labels.get(c.get("name"), set()) & {"gpu", "multigpu"}:
        continue
    if lint_may_skip and "lint" in labels.get(c.get("name"), set()) and c.find("skipped") is not None:
        expected_skips.append(c.get("name"))
        continue
    out = c.findtext("system-out") or ""
    m = re.search(r": Skipped\n(.*)", out)
    reason = m.group(1).strip() if m and m.group(1).strip() else (c.find("skipped").get("message")
                                                                   if c.find("skipped") is not None else c.get("status"))
    unexpected.append(f"  {c.get('name')} [{', '.join(sorted(labels.get(c.get('name'), set())))}]: {reason}")
if not ran:
    sys.exit("[torchtune_cpp] error: CTest ran no test")
if unexpected:
    sys.exit("[torchtune_cpp] error: tests outside the gpu and multigpu labels did not run; a skip must not "
             "hide a failure:\n" + "\n".join(unexpected))
skipped = len(cases) - len(ran)
note = f"; {', '.join(expected_skips)}: clang-format-14 is not installed" if expected_skips else ""
print(f"[torchtune_cpp] {len(ran)} tests ran, {skipped} skipped (labelled gpu or multigpu{note})",
      file=sys.stderr)
EOF
exit $status
