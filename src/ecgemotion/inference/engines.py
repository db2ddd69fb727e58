"""Find fine-tuned models on disk and run them: PyTorch eager or ONNX Runtime.

A *model source* is one of:

* a folder written by ``save_pretrained(model, dir, extra={...})`` (``config.json`` +
  ``model.safetensors``), whose ``extra`` holds ``task``, ``classes``, ``label_rule`` and
  ``preprocess`` (a :meth:`PreprocessConfig.to_dict`); a training run's folder with a
  ``best/`` checkpoint inside also works;
* an ``.onnx`` file written by ``ecgemotion export`` (the same facts are embedded in its
  ``metadata_props`` under the key ``ecgemotion``);
* a folder whose sub-folders are any of the above (one task each).

Both engines take windows ``(N, T)`` float32, exactly as :func:`process_recording`
returns them (a multimodal model: its packed rows, :func:`ecgemotion.models.multimodal.pack`),
and give class probabilities ``(N, n_classes)``. The ONNX path never imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.io.model_files import (CONFIG_NAME, FINETUNE_HINT, MULTIMODAL_PRETRAIN_KIND,
                                       WEIGHTS_NAME, ModelCard, read_config_file)
from ecgemotion.preprocess import PreprocessConfig

ONNX_NAME = "model.onnx"
ONNX_META_KEY = "ecgemotion"
ENGINES = ("torch", "onnx")
# What a fine-tuned model records about its origin (printed by predict, kept by ONNX export).
PROVENANCE_KEYS = ("training_data", "val_metrics", "val_subjects", "init")


@dataclass
class ModelSpec:
    """What a recogniser needs to know about one fine-tuned model, whatever the engine: its
    card (task, classes, label rule, preprocessing, provenance) and its architecture."""

    card: ModelCard
    model_config: dict[str, Any]
    source: str

    @property
    def task(self) -> str:
        return self.card.task

    @property
    def classes(self) -> list[str]:
        return self.card.classes

    @property
    def preprocess(self) -> dict[str, Any]:
        return self.card.preprocess

    @property
    def label_rule(self) -> str | None:
        return self.card.label_rule

    @property
    def extra(self) -> dict[str, Any]:
        """The card as ``config.json`` saves it."""
        return self.card.to_extra()

    @property
    def window_len(self) -> int:
        return int(self.model_config.get("window_len", 0))

    @property
    def fs(self) -> float:
        return float(self.model_config.get("fs", 0.0))

    @property
    def multimodal(self) -> bool:
        """Whether this is a multimodal model (``finetune --modalities``): its one input is the
        packed layout of :func:`ecgemotion.models.multimodal.pack`, not an ECG window."""
        return self.model_config.get("kind") == "multimodal"

    @property
    def physio_features(self) -> list[str]:
        """The physiological features a hybrid model takes beside each window (none: [])."""
        return list(self.model_config.get("physio_features") or [])

    @property
    def context_features(self) -> list[str]:
        """Those of :attr:`physio_features` read over a 60-s context (``baselines/context.py``)."""
        from ecgemotion.baselines.context import CONTEXT_FEATURES

        return [f for f in self.physio_features if f in CONTEXT_FEATURES]

    def _features_input(self) -> dict[str, Any]:
        """A hybrid's second ONNX input, and how to compute it."""
        out = {"name": "features", "shape": ["batch", len(self.physio_features)],
               "dtype": "float32", "names": self.physio_features,
               "computed_by": "ecgemotion.baselines.context.hybrid_features"}
        if self.context_features:
            from ecgemotion.baselines.context import CONTEXT_RULE

            out["context"] = {"names": self.context_features, "rule": CONTEXT_RULE}
        return out

    def origin(self) -> str:
        """Where the model comes from, in one line: task, label rule, training data, validation."""
        e = self.card.details
        text = (f"model {self.task} ({self.source}): P({self.classes[1]} {self.task}), labels by "
                f"rule {self.label_rule or '(not recorded)'}")
        data = self.card.training_data
        if data:
            text += (f"; trained on {', '.join(data.get('datasets') or ['?'])} "
                     f"({data.get('subjects', '?')} subjects, {data.get('windows', '?')} windows"
                     + (", SYNTHETIC labels" if data.get("synthetic") else "") + ")")
        elif (e.get("store") or {}).get("path"):
            text += f"; trained on the store {e['store']['path']}"
        else:
            text += "; training data not recorded"
        if e.get("init"):
            text += f" from {e['init']}"
        vm = self.card.val_metrics
        if vm.get("balanced_accuracy") is not None:
            held = e.get("val_subjects")
            text += (f"; validation balanced accuracy {vm['balanced_accuracy']:.3f}, accuracy "
                     f"{vm.get('accuracy', float('nan')):.3f}"
                     + (f" on {len(held)} held-out subject{'s' * (len(held) != 1)}"
                        if held else ""))
        else:
            text += "; no validation figures"
        return text

    def cautions(self) -> list[str]:
        """Warnings a user must see before trusting the probabilities."""
        from ecgemotion.evaluation.metrics import one_class

        out = []
        synthetic = self.card.synthetic
        if synthetic:
            out.append(f"model {self.task} was trained on SYNTHETIC labels ({'; '.join(synthetic)}): "
                       "its probabilities say nothing about anyone's real emotions")
        vm = self.card.val_metrics
        if one_class(vm.get("predicted_high_share")) or (
                "predicted_high_share" not in vm and vm.get("balanced_accuracy") == 0.5):
            out.append(f"model {self.task} predicted one class for every validation window "
                       "(balanced accuracy 0.500): its output carries no information")
        return out

    def describe(self) -> dict[str, Any]:
        """The JSON that makes an exported ONNX file self-describing."""
        return {"format": "ecgemotion-onnx", "task": self.task, "classes": self.classes,
                "positive_class_index": 1, "label_rule": self.label_rule,
                "preprocess": self.preprocess, "model_config": self.model_config,
                **{k: v for k, v in self.extra.items() if k in PROVENANCE_KEYS},
                "input": {"name": "window", "shape": ["batch", 1, self.window_len],
                          "dtype": "float32"},
                **({"features": self._features_input()} if self.physio_features else {}),
                "outputs": {"probabilities": ["batch", len(self.classes)],
                            "logits": ["batch", len(self.classes)]}}


# --------------------------------------------------------------------------- engines
class TorchEngine:
    name = "torch"

    def __init__(self, folder: Path, threads: int | None = None, device: str = "cpu"):
        import torch

        from ecgemotion.models.hub import from_pretrained
        from ecgemotion.models.multimodal import is_multimodal, load_multimodal
        from ecgemotion.training.distributed import select_device

        if threads:
            torch.set_num_threads(int(threads))
        self.device = select_device(device)
        model = load_multimodal(folder) if is_multimodal(folder) else from_pretrained(folder)
        self.model = model.eval().to(self.device)
        self._torch = torch

    def __call__(self, windows: np.ndarray, features: np.ndarray | None = None,
                 batch_size: int = 256) -> np.ndarray:
        torch = self._torch
        if features is not None:    # a hybrid takes the window followed by its features
            windows = np.concatenate([windows, features], axis=1)
        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(windows[i:i + batch_size],
                                                          dtype=np.float32))[:, None, :]
                logits = self.model(x.to(self.device))["logits"].float()
                out.append(torch.softmax(logits, dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


def ort_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session with full graph optimisation and ``threads`` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise EcgEmotionError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None


class OnnxEngine:
    name = "onnx"

    def __init__(self, path: Path, threads: int | None = None, session=None):
        self.session = session or ort_session(path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, windows: np.ndarray, features: np.ndarray | None = None,
                 batch_size: int = 256) -> np.ndarray:
        out = []
        for i in range(0, len(windows), batch_size):
            feed = {self.input_name: np.ascontiguousarray(windows[i:i + batch_size],
                                                          dtype=np.float32)[:, None, :]}
            if features is not None:    # a hybrid's second input
                feed["features"] = np.ascontiguousarray(features[i:i + batch_size], dtype=np.float32)
            out.append(self.session.run(["probabilities"], feed)[0])
        return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


# --------------------------------------------------------------------------- discovery
def read_folder_spec(folder: Path) -> ModelSpec:
    """The :class:`ModelSpec` of a ``save_pretrained`` folder (reads ``config.json`` only)."""
    config, extra = read_config_file(folder / CONFIG_NAME)
    return _spec_from(extra, config, str(folder), default_task=folder.name)


def read_onnx_spec(path: Path, session) -> ModelSpec:
    meta = session.get_modelmeta().custom_metadata_map
    raw = meta.get(ONNX_META_KEY)
    if raw is None:
        sidecar = Path(str(path) + ".json")
        if not sidecar.is_file():
            raise ConfigError(f"{path}: no '{ONNX_META_KEY}' metadata and no {sidecar.name} "
                              "sidecar; export it with `ecgemotion export`")
        raw = sidecar.read_text()
    try:
        info = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: unreadable ecgemotion metadata ({exc})") from None
    return _spec_from(info, info.get("model_config") or {}, str(path), default_task=path.stem)


def _spec_from(extra: dict[str, Any], model_config: dict[str, Any], source: str,
               default_task: str) -> ModelSpec:
    if model_config.get("kind") == MULTIMODAL_PRETRAIN_KIND:
        raise ConfigError(f"{source}: a multimodal pre-training run (`pretrain --modalities`), not "
                          "an emotion model: fine-tune it first, `ecgemotion finetune --store STORE "
                          f"--modalities MODALITIES --init {source} --task arousal --out models/mm`")
    card = ModelCard.from_extra(extra, source, default_task)
    n_classes = int(model_config.get("n_classes", len(card.classes)))
    if len(card.classes) != n_classes:
        raise ConfigError(f"{source}: {len(card.classes)} class names {card.classes} for a model "
                          f"with {n_classes} outputs")
    if n_classes < 2:
        raise ConfigError(f"{source}: expected a classifier with >= 2 classes, found {n_classes}")
    return ModelSpec(card=card, model_config=dict(model_config), source=source)


def _is_model_folder(path: Path) -> bool:
    return (path / CONFIG_NAME).is_file()


def expand_sources(paths: str | Path | list[str | Path], engine: str = "torch") -> list[Path]:
    """Every model source (folder or ``.onnx`` file) named by ``paths``, in order."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, not {engine!r}")
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise ConfigError("no model given; pass --model DIR (a fine-tuned model folder)")
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            if path.suffix.lower() != ".onnx":
                raise ConfigError(f"{path}: expected a model folder or an .onnx file")
            found.append(path)
            continue
        if not path.is_dir():
            if str(item) in _shipped_encoders():
                raise ConfigError(f"{item!r} is the shipped pre-trained encoder: it has no emotion "
                                  f"head yet; {FINETUNE_HINT}")
            raise ConfigError(f"{path}: no such model folder or .onnx file")
        if _is_onnx_folder(path, engine) or _is_model_folder(path):
            found.append(_pick(path, engine))
            continue
        if (path / "best" / CONFIG_NAME).is_file():
            found.append(_pick(path / "best", engine))
            continue
        subs = [p for p in sorted(path.iterdir()) if p.is_dir()
                and (_is_model_folder(p) or _is_onnx_folder(p, engine))]
        subs += [p for p in sorted(path.glob("*.onnx"))] if engine == "onnx" and not subs else []
        if not subs:
            raise ConfigError(f"{path}: expected a model folder ({CONFIG_NAME} + {WEIGHTS_NAME}), "
                              "or a folder of model folders; found neither")
        found += [_pick(p, engine) if p.is_dir() else p for p in subs]
    return found




def _shipped_encoders() -> list[str]:
    from ecgemotion.models.hub import available_pretrained  # error path only: imports torch

    return available_pretrained()


def _is_onnx_folder(path: Path, engine: str) -> bool:
    return engine == "onnx" and (path / ONNX_NAME).is_file()


def _pick(folder: Path, engine: str) -> Path:
    if engine == "onnx":
        onnx_file = folder / ONNX_NAME
        if not onnx_file.is_file():
            raise ConfigError(f"{folder}: --engine onnx needs {onnx_file}; create it with "
                              f"`ecgemotion export --model {folder}`")
        return onnx_file
    return folder


def load(source: Path, threads: int | None = None, device: str = "cpu") -> tuple[ModelSpec, Any]:
    """``(spec, engine)`` for one source from :func:`expand_sources`; ``device`` (``cpu``,
    ``cuda``, ``cuda:N``, ``auto``) places PyTorch models, ONNX Runtime runs on the CPU."""
    if source.suffix.lower() == ".onnx" and source.is_file():
        if device not in ("cpu", "auto"):
            raise ConfigError(f"{source}: the ONNX engine runs on the CPU; use --engine torch "
                              f"for --device {device}")
        session = ort_session(source, threads)
        spec = read_onnx_spec(source, session)
        return spec, OnnxEngine(source, session=session)
    spec = read_folder_spec(source)
    return spec, TorchEngine(source, threads, device)


def shared_preprocess(specs: list[ModelSpec]) -> PreprocessConfig:
    """The one :class:`PreprocessConfig` every model was trained with (else a clear error)."""
    first = specs[0]
    tasks = [s.task for s in specs]
    dupes = sorted({t for t in tasks if tasks.count(t) > 1})
    if dupes:
        raise ConfigError(f"two models predict the same task {dupes}: "
                          + ", ".join(s.source for s in specs if s.task in dupes))
    for other in specs[1:]:
        a = PreprocessConfig.from_dict(first.preprocess).to_dict()
        b = PreprocessConfig.from_dict(other.preprocess).to_dict()
        if a != b:
            diff = ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted(set(a) | set(b))
                             if a.get(k) != b.get(k))
            raise ConfigError(f"models {first.source} ({first.task}) and {other.source} "
                              f"({other.task}) were trained with different preprocessing ({diff}); "
                              "one recogniser needs one preprocessing, run them separately")
    config = PreprocessConfig.from_dict(first.preprocess)
    for spec in specs:
        if spec.window_len and spec.window_len != config.window_len:
            raise ConfigError(f"{spec.source}: the model takes {spec.window_len}-sample windows but "
                              f"its preprocessing makes {config.window_len} "
                              f"({config.window_s:g} s at {config.fs:g} Hz)")
        if spec.fs and abs(spec.fs - config.fs) > 1e-6:
            raise ConfigError(f"{spec.source}: model fs {spec.fs:g} Hz differs from its "
                              f"preprocessing fs {config.fs:g} Hz")
    return config
