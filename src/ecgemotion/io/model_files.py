"""A saved model folder's file names, and reading its ``config.json`` without importing
torch (the ONNX path needs none). Weights are read by ``models.hub.from_pretrained``, the
one loader of a saved model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgemotion.errors import ConfigError

CONFIG_NAME = "config.json"             # architecture fields + the model card (``extra``)
WEIGHTS_NAME = "model.safetensors"


def read_config_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a saved ``config.json``: (architecture fields, the ``extra`` task facts)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read model config ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, found {type(data).__name__}")
    data.pop("format", None)
    data.pop("ecgemotion_version", None)
    extra = data.pop("extra", None) or {}
    return data, extra


# config kind of a `pretrain --modalities` run (models/multimodal.py), here so that torch-free
# readers (the ONNX engine) can recognise one
MULTIMODAL_PRETRAIN_KIND = "multimodal-pretrain"

FINETUNE_HINT = ("fine-tune it on labelled ECG first: `ecgemotion finetune --store STORE --task "
                 "arousal --out models/arousal` (starts from ecgemotion-base), or in Python "
                 "`ecgemotion.fit(signals, labels, fs=...)`")


@dataclass
class ModelCard:
    """What a fine-tuned model tells whoever runs it, saved as ``config.json``'s ``extra``:
    the task, its classes (index 1 is the positive one), the label rule, the preprocessing its
    windows need, the training data and the validation figures. Every fine-tuned model
    carries one; older folders load too (their untyped ``extra`` is read into these fields)."""

    task: str
    classes: list[str]
    preprocess: dict[str, Any]
    label_rule: str | None = None
    training_data: dict[str, Any] = field(default_factory=dict)
    val_metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)   # init, seed, subjects, ...

    @property
    def synthetic(self) -> list[str]:
        """Why the training labels are invented (e.g. the demo's data), or ``[]``."""
        return list(self.training_data.get("synthetic") or [])

    def to_extra(self) -> dict[str, Any]:
        """The card as ``config.json``'s ``extra`` (what :meth:`from_extra` reads back)."""
        return {"task": self.task, "classes": list(self.classes), "positive_class_index": 1,
                "label_rule": self.label_rule, "preprocess": self.preprocess,
                **({"training_data": self.training_data} if self.training_data else {}),
                **({"val_metrics": self.val_metrics} if self.val_metrics else {}),
                **self.details}

    def summary(self) -> list[tuple[str, Any]]:
        """(name, value) lines for ``ecgemotion info``."""
        data, vm = self.training_data, self.val_metrics
        pre = self.preprocess
        return [("task", f"{self.task}: P({self.classes[-1]}) of {', '.join(self.classes)}"),
                ("label rule", self.label_rule or "(not recorded)"),
                ("preprocessing", f"{pre.get('fs')} Hz, {pre.get('window_s')} s windows, "
                                  f"step {pre.get('step_s')} s"),
                ("training data", f"{', '.join(data.get('datasets') or ['(not recorded)'])}; "
                                  f"{data.get('subjects', '?')} subjects, "
                                  f"{data.get('windows', '?')} windows"),
                ("validation", ", ".join(f"{k} {v:.3f}" for k, v in vm.items()
                                         if k in ("balanced_accuracy", "accuracy", "auroc")
                                         and isinstance(v, (int, float))) or "(none recorded)"),
                ("synthetic", "YES: " + "; ".join(self.synthetic) if self.synthetic else "no")]

    @classmethod
    def from_extra(cls, extra: dict[str, Any], source: str, default_task: str) -> "ModelCard":
        """The card of a saved ``extra`` (``source`` names the file in errors)."""
        if not isinstance(extra.get("preprocess"), dict):
            raise ConfigError(f"{source}: no preprocessing recorded (config.json "
                              "'extra.preprocess'): a pre-trained encoder, not an emotion model; "
                              f"{FINETUNE_HINT}")
        typed = {"task", "classes", "positive_class_index", "label_rule", "preprocess",
                 "training_data", "val_metrics"}
        return cls(task=str(extra.get("task") or default_task),
                   classes=[str(c) for c in (extra.get("classes") or ["low", "high"])],
                   preprocess=dict(extra["preprocess"]), label_rule=extra.get("label_rule"),
                   training_data=dict(extra.get("training_data") or {}),
                   val_metrics=dict(extra.get("val_metrics") or {}),
                   details={k: v for k, v in extra.items() if k not in typed})

    @classmethod
    def read(cls, folder: str | Path) -> "ModelCard":
        """The card of a ``save_pretrained`` folder."""
        folder = Path(folder)
        return cls.from_extra(read_config_file(folder / CONFIG_NAME)[1], str(folder),
                              default_task=folder.name)
