"""PyTorch eager baseline for benchmarks/bench_mlp_step.cpp.

One training step (forward, backward, SGD update) of a stack of Llama-style SwiGLU MLP
blocks, x + w2(silu(w1(rms_norm(x))) * w3(rms_norm(x))), written as a user would in eager
PyTorch (nn.Linear, nn.RMSNorm). Weights and input are drawn in the same order from the same
seed as the C++ program, so both report the same first_loss.

    python benchmarks/baselines/mlp_step.py --device cuda --dim 4096 --hidden 11008
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402  (benchmarks/harness.py)

RMS_NORM_EPS = 1e-5  # Llama2's norm_eps


class SwiGluBlock(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm = nn.RMSNorm(dim, eps=RMS_NORM_EPS)
        self.w1 = nn.Linear(dim, hidden, bias=False)  # gate
        self.w3 = nn.Linear(dim, hidden, bias=False)  # up
        self.w2 = nn.Linear(hidden, dim, bias=False)  # down

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, T, D]
        h = self.norm(x)
        return x + self.w2(nn.functional.silu(self.w1(h)) * self.w3(h))


def build_model(dim: int, hidden: int, layers: int, seed: int) -> nn.Sequential:
    model = nn.Sequential(*[SwiGluBlock(dim, hidden) for _ in range(layers)])
    # Seeded after construction (nn.Linear's own init draws from the generator), then the
    # same draws, in the same order, as make_layers() in bench_mlp_step.cpp.
    torch.manual_seed(seed)
    with torch.no_grad():
        for block in model:
            block.norm.weight.fill_(1.0)
            block.w1.weight.copy_(torch.randn(hidden, dim) / math.sqrt(dim))
            block.w3.weight.copy_(torch.randn(hidden, dim) / math.sqrt(dim))
            block.w2.weight.copy_(torch.randn(dim, hidden) / math.sqrt(hidden))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--hidden", type=int, default=11008)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    harness.add_common_args(parser)
    args = parser.parse_args()
    config = harness.config_from_args(args, bench="mlp_step", impl="pytorch_eager")
    for key in ("dim", "hidden", "layers", "batch", "seq"):
        if getattr(args, key) <= 0:
            print(f"error: --{key}: must be > 0, got {getattr(args, key)}", file=sys.stderr)
            sys.exit(1)

    dim, hidden, layers = args.dim, args.hidden, args.layers
    # Parameters excluding the input embedding (none here): 3*D*H projections + D norm scale
    # per layer; no attention, so 0 heads.
    num_params = layers * (3 * dim * hidden + dim)
    workload = harness.Workload(
        batch=args.batch, seq_len=args.seq, tokens_per_step=args.batch * args.seq,
        flops_per_token=harness.flops_per_token(num_params, layers, 0, 0, args.seq),
        extra={"num_params": num_params, "dim": dim, "hidden": hidden, "layers": layers})

    first_loss: list[float] = []

    def setup():
        model = build_model(dim, hidden, layers, args.seed).to(config.device, config.dtype)
        assert sum(p.numel() for p in model.parameters()) == num_params
        inputs = torch.randn(args.batch, args.seq, dim).to(config.device, config.dtype)
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

        def step() -> None:
            out = model(inputs)  # [B, T, D]
            loss = out.float().square().mean()  # fp32 loss, as training recipes compute it
            loss.backward()
            if not first_loss:
                first_loss.append(loss.item())  # the one host sync
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return step

    result = harness.run_benchmark(config, workload, setup)
    if result["status"] == "ok":
        result["first_loss"] = first_loss[0]
    harness.emit(result)


if __name__ == "__main__":
    main()
