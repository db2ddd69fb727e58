"""Models: the paper's conv-encoder + Transformer + CLS, a fast variant and two CNN baselines.

Build one::

    from ecgemotion.models import create_model, from_pretrained, save_pretrained
    model = create_model("paper")                  # or "fast", "cnn", "sarkar"
    model = create_model("fast", window_len=256, d_model=32, n_layers=1)   # overrides

Presets (``PRESETS``): ``paper`` (stride-1 conv encoder 65/33/17 -> 1280 + CLS tokens,
4 layers x 8 heads, d_model 256, sinusoidal positions), ``fast`` (same family, total
conv stride 32 -> 40 + 1 tokens, d_model 128), ``cnn`` (1-D CNN, global average pooling, same heads),
``sarkar`` (Sarkar & Etemad 2020 CNN with the transformation-recognition heads).

Forward API (every model):

- ``model(x)`` with ``x`` float (B, 1, T), T = ``config.window_len`` -> dict with
  ``"logits"`` (B, n_classes) and ``"features"`` (B, F) (the CLS output / pooled features);
  ``sarkar`` adds ``"transform_logits"`` (B, 7).
- ``model.reconstruct(x, mask)`` with ``mask`` bool (B, T), True on masked samples ->
  predicted signal (B, 1, T). Masked samples are zeroed before the conv encoder in both
  masking modes (``config.mask_mode``): ``"input"`` also feeds the mask as a second input
  channel; ``"embedding"`` instead replaces the embedding of every token that covers a
  masked sample by a learned mask vector. The loss belongs on masked samples only.
- ``model.config``: the :class:`ModelConfig` it was built from.

Weights: ``save_pretrained(model, dir)`` writes ``model.safetensors`` + ``config.json``;
``from_pretrained(dir_or_name, encoder_only=False, **overrides)`` loads strictly (names a
bad key and both shapes). ``encoder_only=True`` leaves the heads freshly initialised for
fine-tuning.
"""

from ecgemotion.models.accounting import (count_parameters, describe_model, flop_counter,
                                          flops_per_window)
from ecgemotion.models.config import ModelConfig
from ecgemotion.models.hub import (available_pretrained, from_pretrained, load_state_strict,
                                   save_pretrained)
from ecgemotion.models.masking import span_mask
from ecgemotion.models.registry import PRESETS, create_model, preset_config

__all__ = ["PRESETS", "ModelConfig", "available_pretrained", "count_parameters", "create_model",
           "describe_model", "flop_counter", "flops_per_window", "from_pretrained",
           "load_state_strict", "preset_config", "save_pretrained", "span_mask"]
