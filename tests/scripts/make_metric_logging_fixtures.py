#!/usr/bin/env python3
"""Golden metric-log text from torchtune 0.6.1's own DiskLogger and StdoutLogger, written to
tests/assets/golden/metric_logging/disk_lines.json and compared byte for byte by
tests/unit/metric_logging_test.cpp.

    PY=$(scripts/torchtune_env.sh | tail -n 1); "$PY" tests/scripts/make_metric_logging_fixtures.py

Each call records the values as float.hex() text (exact, and NaN/inf survive JSON), the
text DiskLogger appended to its file and the text StdoutLogger printed. Values include
0-dim float32 and bfloat16 tensors, as torchtune's recipes log them (loss and
tokens_per_second_per_gpu are float32 tensors, grad_norm has the parameters' dtype):
Tensor.__format__ prints the value widened to a Python float, so the C++ caller passes
that double.
"""

import contextlib
import io
import json
import math
import platform
import tempfile
from pathlib import Path

import torch
import torchtune
from torchtune.training.metric_logging import DiskLogger, StdoutLogger

OUT = Path(__file__).resolve().parents[2] / "tests/assets/golden/metric_logging/disk_lines.json"


def as_double(value):
    return value.item() if isinstance(value, torch.Tensor) else float(value)


def main():
    f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    bf16 = lambda v: torch.tensor(v, dtype=torch.bfloat16)  # noqa: E731
    calls = [
        ("log_dict", 1, {"loss": 1.5, "lr": 0.0001, "tokens_per_second_per_gpu": 2.0}),
        ("log_dict", 2, {"a": 1e-05, "b": 2e-05, "c": 0.1 + 0.2, "d": 1e16, "e": 1e15, "f": 123456.789}),
        ("log_dict", 3, {"zero": 0.0, "neg_zero": -0.0, "neg": -3.25, "tiny": 5e-324,
                         "huge": 1.7976931348623157e308, "third": 1 / 3, "big_int": 2.0**60}),
        ("log_dict", 4, {"nan": math.nan, "inf": math.inf, "ninf": -math.inf}),
        # As the full-finetune recipes build the dict: float32 loss (float / int64 tensor),
        # Python-float lr and memory stats, float32 throughput, bf16 grad_norm.
        ("log_dict", 10, {"loss": 7.123456789 / torch.tensor(3), "lr": 2e-05,
                          "tokens_per_second_per_gpu": torch.tensor(1234) / 0.37,
                          "peak_memory_active": 13.512345 / 1.0, "peak_memory_alloc": 13.0,
                          "peak_memory_reserved": 14.25, "grad_norm": bf16(0.8765)}),
        ("log_dict", 1000000, {"loss": f32(0.1), "grad_norm": f32(123.456)}),
        ("log", 0, {"loss": 2.5}),
        ("log", 5, {"lr": 3e-06}),
        ("log", 7, {"val": f32(1e-8)}),
        ("log_dict", 8, {}),
    ]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        disk = DiskLogger(log_dir=tmp, filename="golden.txt")
        stdout = StdoutLogger()
        size = 0
        for method, step, payload in calls:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                if method == "log":
                    (name, value), = payload.items()
                    disk.log(name, value, step)
                    stdout.log(name, value, step)
                else:
                    disk.log_dict(payload, step)
                    stdout.log_dict(payload, step)
            text = disk.path_to_log_file().read_text()
            cases.append({"method": method, "step": step,
                          "payload": [[k, as_double(v).hex()] for k, v in payload.items()],
                          "disk": text[size:], "stdout": printed.getvalue()})
            size = len(text)
        disk.close()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generated_by": "tests/scripts/make_metric_logging_fixtures.py",
                               "versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                                            "python": platform.python_version()},
                               "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} calls -> {OUT}")


if __name__ == "__main__":
    main()
