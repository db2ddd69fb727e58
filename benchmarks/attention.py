"""Self-attention on a CPU at the ``fast`` encoder's sizes: SDPA's default (fused) kernel, SDPA
forced to its math path, and the plain formula ``softmax(q k^T / sqrt(d)) v`` that
``models/blocks.SelfAttention`` uses on CPUs — forward + backward, fp32 and bf16 autocast.

    OMP_NUM_THREADS=1 python benchmarks/attention.py [--batch 256] [--rounds 20]

The three are timed interleaved (A B C A B C ...), so a neighbour's load falls on all alike;
prints one JSON object of median milliseconds per call and the ratios to the plain formula.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def plain(q, k, v):
    return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1).to(v.dtype) @ v


def sdpa_default(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def sdpa_math(q, k, v):
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=256, help="views per step (128 pairs)")
    p.add_argument("--tokens", type=int, default=41)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=32)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    ways = {"sdpa_default": sdpa_default, "sdpa_math": sdpa_math, "plain": plain}
    out = {"torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "shape": [args.batch, args.heads, args.tokens, args.head_dim]}
    for precision in ("fp32", "bf16"):
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        qkv = torch.randn(3, *out["shape"], requires_grad=True)
        times: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(args.rounds + 1):
            for name, attend in ways.items():
                t0 = time.perf_counter()
                with autocast:
                    q, k, v = (t.to(torch.bfloat16) if precision == "bf16" else t for t in qkv)
                    y = attend(q, k, v)
                y.float().sum().backward()
                if i:                                     # round 0 warms up
                    times[name].append(time.perf_counter() - t0)
        ms = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
        out[precision] = {"ms_per_call": ms,
                          "over_plain": {name: ms[name] / ms["plain"] for name in ways}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
