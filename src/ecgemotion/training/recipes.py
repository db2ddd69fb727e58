"""Named training recipes: the one home of every training default.

The command line takes its defaults from here and the Python API starts from the same
recipes, so ``finetune(...)`` from Python is the run ``ecgemotion finetune`` makes:

>>> from ecgemotion.training import TrainConfig
>>> from ecgemotion.training.recipes import FINETUNE
>>> TrainConfig.from_recipe(FINETUNE, epochs=3).lr
0.0001

A bare ``TrainConfig()`` holds the pre-training recipe's optimiser settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """A training budget and optimiser settings, under a name that runs and docs can cite."""

    name: str
    batch_size: int
    lr: float                  # peak learning rate (linear warm-up, then cosine)
    weight_decay: float        # AdamW
    warmup_fraction: float     # of the run's steps
    epochs: int | None = None  # the budget: epochs or minutes
    minutes: float | None = None

    def settings(self) -> dict[str, Any]:
        """The fields a :class:`~ecgemotion.training.loop.TrainConfig` takes."""
        return {k: v for k, v in asdict(self).items() if k != "name"}


# Masked pre-training, time-boxed (the paper's objective and ours).
PRETRAIN = Recipe("pretrain", batch_size=64, lr=3e-4, weight_decay=0.05, warmup_fraction=0.05,
                  minutes=10.0)
# Fine-tuning a pre-trained encoder: a smaller peak rate keeps what pre-training learnt.
FINETUNE = Recipe("finetune", batch_size=32, lr=1e-4, weight_decay=0.01, warmup_fraction=0.1,
                  epochs=10)
# Multimodal models (models/multimodal.py) are trained from scratch: the pre-trained
# encoder's gentle fine-tuning rate barely moves fresh weights in a short run.
MULTIMODAL = Recipe("multimodal-scratch", batch_size=32, lr=1e-3, weight_decay=0.01,
                    warmup_fraction=0.1, epochs=10)
# Sarkar & Etemad's transformation-recognition pretext, trained from scratch.
PRETEXT = Recipe("sarkar-pretext", batch_size=32, lr=1e-3, weight_decay=0.05,
                 warmup_fraction=0.05, epochs=5)

# Few-label fine-tuning on CinC 2017 (experiments/cinc_fewlabel.py, the probe's fine-tune
# probe): from scratch or pre-trained alike, so one rate between the two recipes above.
FEWLABEL = Recipe("fewlabel-finetune", batch_size=32, lr=3e-4, weight_decay=0.05,
                  warmup_fraction=0.1, epochs=10)
# The demo: pre-training continues from the shipped weights (a gentler rate keeps what they
# learnt), then a few epochs of fine-tuning per fold.
DEMO_PRETRAIN = replace(PRETRAIN, name="demo-pretrain", lr=1e-4)
DEMO_FINETUNE = Recipe("demo-finetune", batch_size=32, lr=3e-4, weight_decay=0.05,
                       warmup_fraction=0.05, epochs=6)

# ``ecgemotion reproduce``: an hour of pre-training per model; --quick is a smoke run of tiny
# models, where a larger rate learns something in a few epochs.
REPRODUCE_PRETRAIN = replace(PRETRAIN, name="reproduce-pretrain", minutes=60.0)
QUICK_PRETRAIN = replace(PRETRAIN, name="quick-pretrain", lr=1e-3, minutes=None, epochs=1)
QUICK_FINETUNE = replace(FINETUNE, name="quick-finetune", lr=1e-3, epochs=3)
QUICK_PRETEXT = replace(PRETEXT, name="quick-sarkar-pretext", epochs=1)

RECIPES = {r.name: r for r in (PRETRAIN, FINETUNE, MULTIMODAL, PRETEXT, FEWLABEL, DEMO_PRETRAIN,
                               DEMO_FINETUNE, REPRODUCE_PRETRAIN, QUICK_PRETRAIN, QUICK_FINETUNE,
                               QUICK_PRETEXT)}
