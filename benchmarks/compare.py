"""Runs a torchtune_cpp benchmark program and its Python baseline in one invocation, one after
the other on the same machine, and reports ours/baseline ratios.

    python benchmarks/compare.py \\
        --ours "build/benchmarks/bench_mlp_step --device cuda" \\
        --baseline "python benchmarks/baselines/mlp_step.py --device cuda" \\
        --common-args "--dim 4096 --hidden 11008 --layers 4 --batch 2 --seq 2048" \\
        --out results.json

Each program prints one JSON line per measured configuration (benchmarks/harness.h,
benchmarks/harness.py); other stdout lines are passed through. Rows pair up by
(bench, device, dtype, batch, seq_len), in order of appearance. For each pair:

    speed_ratio  = ours.tokens_per_s / baseline.tokens_per_s     (> 1: we are faster)
    memory_ratio = ours.peak_mem_bytes / baseline.peak_mem_bytes (< 1: we use less)

A ratio is null unless both rows have status "ok" (memory: and the same peak_mem_kind).
A leading `python`/`python3` in a command runs under the interpreter running this script.
Exit status: 0 when both programs produced result lines (oom/error rows are results too),
1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
from typing import Any

PAIR_KEYS = ("bench", "device", "dtype", "batch", "seq_len")
# Facts that must agree for a ratio to mean anything; a mismatch is flagged, not fatal.
CONSISTENCY_KEYS = ("tokens_per_step", "flops_per_token", "num_params")
# Relative gap between the two first losses beyond which the pair is flagged (loose enough
# for bf16 and for different kernels' summation order).
FIRST_LOSS_TOLERANCE = 2e-2


def split_command(command: str, extra: str) -> list[str]:
    argv = shlex.split(command) + shlex.split(extra)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


def run_side(label: str, command: str, extra: str, timeout: float | None) -> dict[str, Any]:
    """Runs one program; returns its argv, exit code, result rows and any failure text."""
    argv = split_command(command, extra)
    print(f"[compare] {label}: {shlex.join(argv)}", file=sys.stderr, flush=True)
    side: dict[str, Any] = {"command": shlex.join(argv), "exit_code": None, "rows": [],
                            "failure": ""}
    try:
        # stderr is inherited so progress and errors show live; stdout carries the results.
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError as e:
        side["failure"] = f"cannot run: {e}"
        return side
    except subprocess.TimeoutExpired:
        side["failure"] = f"timed out after {timeout} s"
        return side
    side["exit_code"] = proc.returncode
    for line in proc.stdout.splitlines():
        row = None
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
        if isinstance(row, dict) and "bench" in row and "status" in row:
            side["rows"].append(row)
        elif line.strip():
            print(f"[{label}] {line}", file=sys.stderr)
    if proc.returncode != 0:
        side["failure"] = f"exit code {proc.returncode}"
    return side


def ratio(a: Any, b: Any) -> float | None:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
        return a / b
    return None


def compare_rows(ours: dict[str, Any] | None, base: dict[str, Any] | None) -> dict[str, Any]:
    some = ours if ours is not None else base
    entry: dict[str, Any] = {key: some.get(key) for key in PAIR_KEYS}
    entry.update({"ours": ours, "baseline": base, "speed_ratio": None, "memory_ratio": None,
                  "step_time_ratio": None, "smoke": bool((ours or {}).get("smoke")
                                                         or (base or {}).get("smoke")),
                  "warnings": []})
    if ours is None or base is None:
        entry["warnings"].append("no " + ("baseline" if base is None else "ours") + " row")
        return entry
    if ours.get("status") == "ok" and base.get("status") == "ok":
        entry["speed_ratio"] = ratio(ours.get("tokens_per_s"), base.get("tokens_per_s"))
        entry["step_time_ratio"] = ratio(ours.get("median_step_ms"), base.get("median_step_ms"))
        if ours.get("peak_mem_kind") == base.get("peak_mem_kind"):
            entry["memory_ratio"] = ratio(ours.get("peak_mem_bytes"), base.get("peak_mem_bytes"))
        else:
            entry["warnings"].append(
                f"peak_mem_kind differs: {ours.get('peak_mem_kind')} vs {base.get('peak_mem_kind')}")
    loss_o, loss_b = ours.get("first_loss"), base.get("first_loss")
    if isinstance(loss_o, (int, float)) and isinstance(loss_b, (int, float)):
        # Same seed, same maths: a large gap means the two programs compute different things.
        entry["first_loss_rel_diff"] = abs(loss_o - loss_b) / max(abs(loss_b), 1e-12)
        if entry["first_loss_rel_diff"] > FIRST_LOSS_TOLERANCE:
            entry["warnings"].append(f"first_loss differs: {loss_o} vs {loss_b}")
    for key in CONSISTENCY_KEYS:
        if key in ours and key in base and ours[key] != base[key]:
            entry["warnings"].append(f"{key} differs: {ours[key]} vs {base[key]}")
    if ours.get("peak_mem_kind") == "cpu_peak_rss":
        entry["warnings"].append("CPU memory is whole-process peak RSS (runtime included)")
    return entry


def pair_rows(ours_rows: list[dict], base_rows: list[dict]) -> list[dict[str, Any]]:
    remaining = list(base_rows)
    entries = []
    for row in ours_rows:
        key = tuple(row.get(k) for k in PAIR_KEYS)
        match = next((b for b in remaining if tuple(b.get(k) for k in PAIR_KEYS) == key), None)
        if match is not None:
            remaining.remove(match)
        entries.append(compare_rows(row, match))
    entries.extend(compare_rows(None, b) for b in remaining)
    return entries


def fmt_num(v: Any, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def fmt_pct(v: Any) -> str:
    return f"{v * 100:.3g}%" if isinstance(v, (int, float)) else "-"


def fmt_bytes(v: Any) -> str:
    if not isinstance(v, (int, float)):
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(v) >= size:
            return f"{v / size:.2f} {unit}"
    return f"{v} B"


def fmt_status(row: dict | None) -> str:
    return "-" if row is None else str(row.get("status"))


def print_table(entries: list[dict[str, Any]]) -> None:
    if not entries:
        print("(no result rows)")
        return
    header = ["bench", "device", "dtype", "BxT", "ours ms", "base ms", "ours tok/s",
              "base tok/s", "speed x", "ours MFU", "base MFU", "ours mem", "base mem",
              "mem x", "status"]
    table = [header]
    for e in entries:
        o, b = e["ours"] or {}, e["baseline"] or {}
        status = f"{fmt_status(e['ours'])}/{fmt_status(e['baseline'])}"
        if e["smoke"]:
            status += " smoke"
        table.append([
            str(e["bench"]), str(e["device"]), str(e["dtype"]), f"{e['batch']}x{e['seq_len']}",
            fmt_num(o.get("median_step_ms"), ".3f"), fmt_num(b.get("median_step_ms"), ".3f"),
            fmt_num(o.get("tokens_per_s"), ",.0f"), fmt_num(b.get("tokens_per_s"), ",.0f"),
            fmt_num(e["speed_ratio"], ".3f"),
            fmt_pct(o.get("mfu")), fmt_pct(b.get("mfu")),
            fmt_bytes(o.get("peak_mem_bytes")), fmt_bytes(b.get("peak_mem_bytes")),
            fmt_num(e["memory_ratio"], ".3f"), status])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print("  ".join(cell.rjust(w) if i >= 3 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for e in entries:
        for w in e["warnings"]:
            print(f"note: {e['bench']} {e['device']} {e['dtype']} {e['batch']}x{e['seq_len']}: {w}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", required=True, help="torchtune_cpp benchmark command line")
    parser.add_argument("--baseline", required=True, help="baseline command line")
    parser.add_argument("--common-args", default="",
                        help="arguments appended to both commands (the shared configuration)")
    parser.add_argument("--out", help="write all rows and ratios to this JSON file")
    parser.add_argument("--order", choices=("ours-first", "baseline-first"), default="ours-first",
                        help="which program runs first (default ours-first)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed to each program (default: none)")
    args = parser.parse_args()

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    sides = [("ours", args.ours), ("baseline", args.baseline)]
    if args.order == "baseline-first":
        sides.reverse()
    results: dict[str, dict[str, Any]] = {}
    for label, cmd in sides:
        if results and not any(side["rows"] for side in results.values()):
            # The first program gave nothing to compare against (bad arguments, missing
            # binary): running the second would only spend time.
            results[label] = {"command": cmd, "exit_code": None, "rows": [],
                              "failure": "skipped: the other program produced no result lines"}
            continue
        results[label] = run_side(label, cmd, args.common_args, args.timeout)

    entries = pair_rows(results["ours"]["rows"], results["baseline"]["rows"])
    print_table(entries)
    failed = [label for label in ("ours", "baseline") if not results[label]["rows"]]
    for label in failed:
        print(f"error: {label}: no result lines ({results[label]['failure'] or 'no output'})",
              file=sys.stderr)

    if args.out:
        report = {
            "started_at": started,
            "host": platform.node(),
            "order": args.order,
            "common_args": args.common_args,
            "ours": results["ours"],
            "baseline": results["baseline"],
            "comparisons": entries,
        }
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"[compare] wrote {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
