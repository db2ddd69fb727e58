"""Model accounting for ``ecgemotion info`` and the benchmarks: parameters, FLOPs per window."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from ecgemotion.models.config import ModelConfig
from ecgemotion.models.hub import from_pretrained
from ecgemotion.models.registry import PRESETS, create_model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# The CPU flash-attention kernel is not in torch's FLOP registry: count it like the GPU ones.
def _sdpa_cpu(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _sdpa_cpu_backward(grad_out_shape, query_shape, key_shape, value_shape, *args,
                       out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def flop_counter() -> FlopCounterMode:
    """A silent ``FlopCounterMode`` that also counts CPU scaled-dot-product attention."""
    aten = torch.ops.aten
    custom = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        custom[aten._scaled_dot_product_flash_attention_for_cpu] = _sdpa_cpu
        custom[aten._scaled_dot_product_flash_attention_for_cpu_backward] = _sdpa_cpu_backward
    return FlopCounterMode(display=False, custom_mapping=custom)


def flops_per_window(model: nn.Module, task: str = "classify", backward: bool = False) -> int:
    """FLOPs (multiply-add = 2) for one window: forward of ``model(x)`` (``task="classify"``)
    or of ``model.reconstruct`` (``task="reconstruct"``), plus the backward if asked."""
    cfg = model.config
    device = next(model.parameters()).device
    # a hybrid takes the window followed by its raw features
    x = torch.randn(1, 1, cfg.window_len + len(cfg.physio_features), device=device)
    was_training = model.training
    model.train(backward)
    counter = flop_counter()
    try:
        with counter, torch.set_grad_enabled(backward):
            if task == "reconstruct":
                mask = torch.zeros(1, cfg.window_len, dtype=torch.bool, device=device)
                mask[:, : cfg.window_len // 8] = True
                out = model.reconstruct(x, mask)
            else:
                out = model(x)["logits"]
            if backward:
                out.float().square().mean().backward()
    finally:
        model.train(was_training)
        if backward:
            model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def describe_model(name: str | ModelConfig | nn.Module, **overrides: Any) -> dict[str, Any]:
    """Parameter count, FLOPs per window and config of a preset (for ``ecgemotion info``)."""
    if isinstance(name, nn.Module):
        model = name
    elif isinstance(name, str) and name not in PRESETS:
        model = from_pretrained(name, **overrides)  # a saved folder or shipped name
    else:
        model = create_model(name, **overrides)
    cfg = model.config
    info: dict[str, Any] = {
        "model": cfg.name or cfg.kind,
        "kind": cfg.kind,
        "parameters": count_parameters(model),
        "window_len": cfg.window_len,
        "fs": cfg.fs,
        "window_s": cfg.window_len / cfg.fs,
        "flops_per_window_classify": flops_per_window(model, "classify"),
    }
    if cfg.kind != "sarkar" and hasattr(model, "reconstruct"):   # a hybrid only classifies
        info["tokens_per_window"] = cfg.n_tokens + (1 if cfg.kind == "transformer" else 0)
        info["flops_per_window_reconstruct"] = flops_per_window(model, "reconstruct")
    if cfg.physio_features:     # a hybrid: what its second input must hold, in order
        info["physio_features"] = ", ".join(cfg.physio_features)
    info["config"] = cfg.to_dict()
    return info
