"""Benchmark harness for the Python baselines (PyTorch eager, transformers, Python torchtune).

The same measurement as benchmarks/harness.h / harness.cpp, formula for formula, so a C++
result line and a Python one can be compared: untimed warm-up steps, then >= 20 measured
steps each bracketed by a device synchronize, median/p10/p90 (numpy's linear percentile),
tokens/s from the median, MFU against 989 TFLOP/s, peak memory (CUDA: allocator peak of
allocated bytes, reset after warm-up; CPU: the process's peak RSS), and one JSON line per
configuration on stdout. Out-of-memory is a result (status "oom"), not a crash.

A baseline script does:

    parser = argparse.ArgumentParser(); harness.add_common_args(parser); ...
    args = parser.parse_args()
    config = harness.config_from_args(args, bench="mlp_step", impl="pytorch_eager")
    workload = harness.Workload(batch=B, seq_len=T, tokens_per_step=B * T,
                                flops_per_token=harness.flops_per_token(N, L, H, Q, T))
    def setup():            # builds the model; returns the step function
        ...
        return step
    harness.emit(harness.run_benchmark(config, workload, setup))
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

# H100 SXM dense bf16 tensor-core peak; the MFU denominator unless overridden.
H100_BF16_DENSE_PEAK_FLOPS = 989e12
# Fewer measured steps make the median too noisy to compare; only smoke runs go below.
MIN_MEASURED_STEPS = 20
SMOKE_ENV = "TTCPP_BENCH_SMOKE"
PEAK_FLOPS_ENV = "TTCPP_BENCH_PEAK_FLOPS"
# The CPU allocator reports exhaustion as a plain RuntimeError with this text, not as
# torch.OutOfMemoryError; it is the same outcome, so it is reported the same way.
CPU_OOM_MESSAGE = "DefaultCPUAllocator: can't allocate memory"


class BenchConfigError(ValueError):
    """A benchmark was asked for something it cannot measure meaningfully."""


@dataclass
class BenchConfig:
    bench: str
    impl: str = "pytorch_eager"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32
    warmup_steps: int = 5
    measured_steps: int = 20
    peak_flops: float = H100_BF16_DENSE_PEAK_FLOPS
    smoke: bool = False  # set by validate_config from SMOKE_ENV


@dataclass
class Workload:
    batch: int
    seq_len: int
    tokens_per_step: int  # usually batch * seq_len
    flops_per_token: float
    # Benchmark-specific facts added to the JSON line, e.g. num_params, first_loss.
    extra: dict[str, Any] = field(default_factory=dict)


def smoke_requested() -> bool:
    return os.environ.get(SMOKE_ENV, "") not in ("", "0")


def validate_config(config: BenchConfig) -> None:
    config.smoke = smoke_requested()
    if config.warmup_steps < 0:
        raise BenchConfigError(f"--warmup: must be >= 0, got {config.warmup_steps}")
    if config.smoke:
        if config.measured_steps < 1:
            raise BenchConfigError(f"--steps: must be >= 1, got {config.measured_steps}")
    elif config.measured_steps < MIN_MEASURED_STEPS:
        raise BenchConfigError(
            f"--steps: must be >= {MIN_MEASURED_STEPS} for a comparable median, got "
            f"{config.measured_steps}; set {SMOKE_ENV}=1 for a smoke run with fewer steps")
    if config.peak_flops <= 0:
        raise BenchConfigError(f"--peak-flops: must be > 0, got {config.peak_flops}")


def percentile(values: list[float], q: float) -> float:
    """numpy's default "linear" percentile, q in [0, 100]."""
    if not values:
        raise ValueError("percentile: no values")
    ordered = sorted(values)
    pos = q / 100.0 * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(step_seconds: list[float]) -> dict[str, float]:
    return {
        "steps": len(step_seconds),
        "median_s": percentile(step_seconds, 50.0),
        "p10_s": percentile(step_seconds, 10.0),
        "p90_s": percentile(step_seconds, 90.0),
    }


def flops_per_token(num_params_excluding_input_embedding: int, num_layers: int, num_heads: int,
                    head_dim: int, seq_len: int) -> float:
    """6*N (forward + backward matmuls; N excludes the input embedding, a lookup) plus
    12*L*H*Q*T for attention scores and values. num_heads = 0 for attention-free models."""
    return (6.0 * num_params_excluding_input_embedding
            + 12.0 * num_layers * num_heads * head_dim * seq_len)


def tokens_per_second(tokens_per_step: int, median_step_s: float) -> float:
    return tokens_per_step / median_step_s if median_step_s > 0 else 0.0


def mfu(tokens_per_s: float, flops_per_tok: float, peak_flops: float) -> float:
    return tokens_per_s * flops_per_tok / peak_flops if peak_flops > 0 else 0.0


def synchronize(device: torch.device) -> None:
    """Waits for all work queued on the device; CPU ops are synchronous already."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer:
    """start() and stop() both synchronize, so an interval holds the step's host work and all
    device work it queued, and nothing from before it."""

    def __init__(self, device: torch.device):
        self.device = device
        self._begin = 0.0

    def start(self) -> None:
        synchronize(self.device)
        self._begin = time.perf_counter()

    def stop(self) -> float:
        synchronize(self.device)
        return time.perf_counter() - self._begin


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # CPU: the peak RSS is the process's lifetime peak; nothing to reset.


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: the caching allocator's peak allocated bytes (same counter as the C++ side's
    getDeviceStats().allocated_bytes[AGGREGATE].peak). CPU: ru_maxrss, the process's peak
    resident set (KiB on Linux), which the C++ side reads as VmHWM."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def peak_memory_kind(device: torch.device) -> str:
    return "cuda_allocated_peak" if device.type == "cuda" else "cpu_peak_rss"


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def run_benchmark(config: BenchConfig, workload: Workload,
                  setup: Callable[[], Callable[[], None]]) -> dict[str, Any]:
    """Runs setup (which returns the step function), warmup_steps untimed steps, then
    measured_steps timed ones, with peak memory reset after warm-up. Returns the result
    dict that emit() prints."""
    status, note = "ok", ""
    stats: dict[str, float] | None = None
    peak: int | None = None
    try:
        reset_peak_memory(config.device)
        step = setup()
        for _ in range(config.warmup_steps):
            step()
        synchronize(config.device)
        # Peak over the measured steps only, not setup's and warm-up's one-off allocations.
        reset_peak_memory(config.device)
        timer = StepTimer(config.device)
        times = []
        for _ in range(config.measured_steps):
            timer.start()
            step()
            times.append(timer.stop())
        stats = summarize(times)
        peak = peak_memory_bytes(config.device)
    except torch.OutOfMemoryError as e:
        status, note = "oom", _first_line(str(e))
        peak = peak_memory_bytes(config.device)  # how far it got before failing
    except Exception as e:  # any failure is a result line, never a lost comparison
        if CPU_OOM_MESSAGE in str(e):
            status, note = "oom", _first_line(str(e))
            peak = peak_memory_bytes(config.device)
        else:
            status, note = "error", f"{type(e).__name__}: {_first_line(str(e))}"
    step = None
    if status != "ok":
        # The exception's frames held the failed step's tensors; free them for later configs.
        gc.collect()
        if config.device.type == "cuda":
            torch.cuda.empty_cache()
    if config.smoke:
        note = f"{note}; smoke run" if note else "smoke run"

    ok = stats is not None
    tps = tokens_per_second(workload.tokens_per_step, stats["median_s"]) if ok else None
    result: dict[str, Any] = {
        "bench": config.bench,
        "impl": config.impl,
        "device": str(config.device),
        "dtype": dtype_name(config.dtype),
        "batch": workload.batch,
        "seq_len": workload.seq_len,
        "steps": stats["steps"] if ok else 0,
        "median_step_ms": stats["median_s"] * 1e3 if ok else None,
        "p10_step_ms": stats["p10_s"] * 1e3 if ok else None,
        "p90_step_ms": stats["p90_s"] * 1e3 if ok else None,
        "tokens_per_s": tps,
        "mfu": mfu(tps, workload.flops_per_token, config.peak_flops) if ok else None,
        "peak_mem_bytes": peak,
        "peak_mem_kind": peak_memory_kind(config.device),
        "smoke": config.smoke,
        "status": status,
        "note": note,
        # Context for reading the numbers later; compare.py ignores what it does not know.
        "warmup_steps": config.warmup_steps,
        "tokens_per_step": workload.tokens_per_step,
        "flops_per_token": workload.flops_per_token,
        "peak_flops": config.peak_flops,
        "device_name": device_name(config.device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    result.update(workload.extra)
    return result


def to_json_line(result: dict[str, Any]) -> str:
    def clean(v: Any) -> Any:  # JSON has no NaN/inf
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return json.dumps({k: clean(v) for k, v in result.items()}, sort_keys=True)


def emit(result: dict[str, Any]) -> None:
    """One JSON line on stdout (what compare.py reads), a readable summary on stderr."""
    print(to_json_line(result), flush=True)
    summary = (f"[bench] {result['bench']} {result['impl']} {result['device']} "
               f"{result['dtype']} batch {result['batch']} seq {result['seq_len']}: "
               f"{result['status']}")
    if result["status"] == "ok":
        summary += (f", median {result['median_step_ms']:.4g} ms over {result['steps']} steps, "
                    f"{result['tokens_per_s']:.6g} tokens/s, MFU {result['mfu'] * 100:.4g}%")
    if result["note"]:
        summary += f" ({result['note']})"
    print(summary, file=sys.stderr, flush=True)


_DTYPES = {
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
    "fp16": torch.float16, "float16": torch.float16,
    "fp32": torch.float32, "float32": torch.float32,
}


def parse_dtype(name: str) -> torch.dtype:
    if name not in _DTYPES:
        raise BenchConfigError(f"--dtype: unknown dtype '{name}'; use bf16, fp16 or fp32")
    return _DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def parse_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BenchConfigError(f"--device: unknown device '{name}'; use cpu, cuda or cuda:N")
    if device.type not in ("cpu", "cuda"):
        raise BenchConfigError("--device: only cpu and cuda are supported")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BenchConfigError("--device: CUDA requested but no CUDA device is visible")
        # Results name the device index, as the C++ harness does.
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device.index >= torch.cuda.device_count():
            raise BenchConfigError(f"--device: no device {name}")
    return device


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark shares, spelled as in the C++ programs."""
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--dtype", default="auto",
                        help="auto|bf16|fp16|fp32 (auto: bf16 on cuda, fp32 on cpu)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--steps", type=int, default=20,
                        help=f"measured steps, >= {MIN_MEASURED_STEPS} unless {SMOKE_ENV}=1")
    parser.add_argument("--peak-flops", type=float, default=None,
                        help=f"MFU denominator (default 989e12; also {PEAK_FLOPS_ENV})")


def config_from_args(args: argparse.Namespace, bench: str, impl: str) -> BenchConfig:
    """Builds and validates the config; exits with status 1 and an error line on bad input,
    as the C++ programs do."""
    try:
        device = parse_device(args.device)
        if args.dtype == "auto":
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        else:
            dtype = parse_dtype(args.dtype)
        peak = args.peak_flops
        if peak is None:
            env = os.environ.get(PEAK_FLOPS_ENV, "")
            peak = float(env) if env else H100_BF16_DENSE_PEAK_FLOPS
        config = BenchConfig(bench=bench, impl=impl, device=device, dtype=dtype,
                             warmup_steps=args.warmup, measured_steps=args.steps,
                             peak_flops=peak)
        validate_config(config)
    except (BenchConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    return config
