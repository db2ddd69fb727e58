"""Export a fine-tuned model to ONNX and check it against PyTorch.

The graph takes ``window`` float32 ``(batch, 1, window_len)`` (dynamic batch axis), the
z-scored windows :func:`process_recording` makes (a hybrid model also ``features``
``(batch, F)``, the raw physiological features of each window, context ones included:
:func:`~ecgemotion.baselines.context.hybrid_features`), and returns ``probabilities``
(softmax of the classifier, ``(batch, n_classes)``; the positive class is index 1) and
``logits``. The task, class names, label rule, preprocessing and model config are
embedded as ONNX ``metadata_props`` (key ``ecgemotion``, a JSON string) and also written
beside the file as ``<file>.json``, so the ``.onnx`` file alone is enough to predict.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion import __version__
from ecgemotion.errors import ConfigError, EcgEmotionError
from ecgemotion.inference.engines import (ONNX_META_KEY, PROVENANCE_KEYS, ModelSpec,
                                         ort_session, read_folder_spec)
from ecgemotion.paths import replace_as_created
from ecgemotion.preprocess import PreprocessConfig, process_recording
from ecgemotion.recording import Recording

TOLERANCE = 1e-4


def _wrapper(model):
    """The graph to export: ``window`` -> (probabilities, logits); a hybrid also takes
    ``features`` (its raw physiological features), joined to the window as in training."""
    import torch

    class Probabilities(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, window):
            logits = self.inner(window)["logits"]
            return torch.softmax(logits, dim=-1), logits

    class HybridProbabilities(Probabilities):
        def forward(self, window, features):
            return super().forward(torch.cat([window, features[:, None, :]], dim=-1))

    hybrid = bool(getattr(model.config, "physio_features", None))
    return (HybridProbabilities if hybrid else Probabilities)(model).eval()


def realistic_windows(config: PreprocessConfig, n_max: int = 32, seed: int = 0) -> np.ndarray:
    """Windows made by ``process_recording`` from synthetic ECG (3 rates, wander, noise)."""
    from ecgemotion.synthetic import ecg

    out = []
    for i, (fs, hr) in enumerate(((360.0, 62.0), (500.0, 95.0), (128.0, 140.0))):
        duration = config.window_s * 4 + 5
        x = ecg(duration, fs, hr_bpm=hr, noise_mv=0.03, wander_mv=0.2, seed=seed + i)
        rec = Recording(signal=x, fs=fs, dataset="export-check", subject="s", trial=str(i),
                        units="mV")
        out.append(process_recording(rec, config).data)
    return np.concatenate(out)[:n_max].astype(np.float32)


def export_onnx(model_dir: str | Path, out: str | Path, opset: int = 17,
                tolerance: float = TOLERANCE, seed: int = 0) -> dict[str, Any]:
    """Export ``model_dir`` to ``out`` (+ ``out.json``); verify; return the check's figures.

    Raises :class:`EcgEmotionError` when onnxruntime's probabilities differ from
    PyTorch's by more than ``tolerance`` on random or realistic windows.
    """
    import torch

    from ecgemotion.baselines.context import CONTEXT_RULE
    from ecgemotion.models.hub import from_pretrained

    if opset < 17:
        raise ConfigError(f"--opset must be >= 17 (LayerNormalization), got {opset}")
    model_dir = Path(model_dir)
    spec: ModelSpec = read_folder_spec(model_dir)
    config = PreprocessConfig.from_dict(spec.preprocess)
    model = from_pretrained(model_dir).eval()
    wrapped = _wrapper(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    window_len = model.config.window_len
    n_features = len(spec.physio_features)
    inputs = {"window": torch.zeros(2, 1, window_len)}
    if n_features:
        inputs["features"] = torch.zeros(2, n_features)
    tmp = out.with_name(out.name + ".tmp")
    _torch_export(wrapped, inputs, tmp, opset)
    description = {**spec.describe(), "ecgemotion_version": __version__,
                   "exported_from": str(model_dir.resolve()), "opset": int(opset)}
    features = (f" and 'features' (batch, {n_features}): {', '.join(spec.physio_features)} of "
                "each window (ecgemotion.baselines.context.hybrid_features, NaN where undefined"
                + ("; ctx_*: " + CONTEXT_RULE if spec.context_features else "") + ")"
                if n_features else "")
    sidecar = _finish(tmp, out, description,
                      f"ecgemotion {spec.task} classifier: input 'window' (batch, 1, {window_len}) "
                      f"z-scored ECG at {config.fs:g} Hz{features}; output 'probabilities' "
                      f"(classes {spec.classes}) and 'logits'")

    check = verify(wrapped, out, config, tolerance=tolerance, seed=seed,
                   features=spec.physio_features)
    result = {"onnx": str(out), "sidecar": str(sidecar), "task": spec.task, "opset": int(opset),
              "window_len": window_len, "bytes": out.stat().st_size, **check}
    if not check["ok"]:
        raise EcgEmotionError(f"{out}: ONNX Runtime differs from PyTorch by "
                              f"{check['max_abs_diff']:.3g} > {tolerance:g} (probabilities); "
                              "the export is not trustworthy")
    return result


def _finish(tmp: Path, out: Path, description: dict[str, Any], doc: str) -> Path:
    """Embed ``description`` (metadata key ``ecgemotion``) and ``doc`` in the exported graph
    at ``tmp``, check it, move it to ``out`` and write the ``out.json`` sidecar."""
    import onnx

    proto = onnx.load(str(tmp))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_META_KEY, json.dumps(description)
    proto.producer_name = "ecgemotion"
    proto.producer_version = __version__
    proto.doc_string = doc
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    replace_as_created(tmp, out)
    sidecar = Path(str(out) + ".json")
    sidecar.write_text(json.dumps(description, indent=2) + "\n")
    return sidecar


def _torch_export(wrapped, inputs: dict[str, Any], path: Path, opset: int) -> None:
    """``wrapped`` -> ONNX at ``path``: ``inputs`` by name, batch axis dynamic everywhere."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, tuple(inputs.values()), str(path), input_names=list(inputs),
                          output_names=["probabilities", "logits"], opset_version=int(opset),
                          dynamic_axes={**{name: {0: "batch"} for name in inputs},
                                        "probabilities": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True, dynamo=False)


def _differences(session, wrapped, feed: dict[str, np.ndarray]) -> tuple[float, float]:
    """Max |ORT − PyTorch| of the probabilities and of the logits on ``feed``, at batch 1
    and at the full batch (the batch axis really is dynamic)."""
    import torch

    with torch.inference_mode():
        p_t, l_t = (t.numpy() for t in wrapped(*(torch.from_numpy(v) for v in feed.values())))
    diffs = []
    for size in (1, len(next(iter(feed.values())))):
        p_o, l_o = session.run(["probabilities", "logits"], {k: v[:size] for k, v in feed.items()})
        diffs.append((float(np.abs(p_o - p_t[:size]).max()), float(np.abs(l_o - l_t[:size]).max())))
    return max(d[0] for d in diffs), max(d[1] for d in diffs)


def export_multimodal(model_dir: str | Path, out: str | Path, opset: int = 17,
                      tolerance: float = TOLERANCE, seed: int = 0) -> dict[str, Any]:
    """A multimodal model (``finetune --modalities``) as ONNX: input ``packed`` ``(batch, 1,
    D)``, the one-tensor layout of :func:`ecgemotion.models.multimodal.pack` (each modality's
    windows, the ECG's HRV features, then one presence flag per modality), checked against
    PyTorch on random inputs with every pattern of present and missing modalities."""
    import itertools

    import torch

    from ecgemotion.io.model_files import ModelCard
    from ecgemotion.models.multimodal import load_multimodal, width

    if opset < 17:
        raise ConfigError(f"--opset must be >= 17 (LayerNormalization), got {opset}")
    model_dir, out = Path(model_dir), Path(out)
    net, card = load_multimodal(model_dir), ModelCard.read(model_dir)
    wrapped = _wrapper(net)
    cfg = net.config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    _torch_export(wrapped, {"packed": torch.zeros(2, 1, cfg.input_len)}, tmp, opset)
    description = {"task": card.task, "classes": card.classes, "label_rule": card.label_rule,
                   "preprocess": card.preprocess, "model_config": cfg.to_dict(),
                   **{k: v for k, v in card.to_extra().items() if k in PROVENANCE_KEYS},
                   "ecgemotion_version": __version__, "exported_from": str(model_dir.resolve()),
                   "opset": int(opset)}
    parts = ", ".join(f"{m['modality']} ({width(m)} values)" for m in cfg.layout)
    sidecar = _finish(tmp, out, description,
                      f"ecgemotion multimodal {card.task} classifier: input 'packed' (batch, 1, "
                      f"{cfg.input_len}) = {parts}, then {len(cfg.layout)} presence flags; output "
                      f"'probabilities' (classes {card.classes}) and 'logits'")
    rng = np.random.default_rng(seed)
    flags = np.array(list(itertools.product((0.0, 1.0), repeat=len(cfg.layout))))
    x = rng.standard_normal((len(flags) * 2, cfg.input_len)).astype(np.float32)
    x[:, -len(cfg.layout):] = np.repeat(flags, 2, axis=0)
    at = 0
    for m in cfg.layout:                  # feature columns: plausible values, some undefined
        if m.get("features"):
            x[:, at:at + width(m)] = 50 + 20 * x[:, at:at + width(m)]
            x[::3, at] = np.nan
        at += width(m)
    p_diff, l_diff = _differences(ort_session(out), wrapped, {"packed": x[:, None, :]})
    result = {"onnx": str(out), "sidecar": str(sidecar), "task": card.task, "opset": int(opset),
              "modalities": cfg.modalities, "input_len": cfg.input_len, "bytes": out.stat().st_size,
              "inputs_checked": int(len(x)), "max_abs_diff": p_diff, "max_abs_diff_logits": l_diff,
              "tolerance": tolerance, "ok": bool(p_diff <= tolerance)}
    if not result["ok"]:
        raise EcgEmotionError(f"{out}: ONNX Runtime differs from PyTorch by {p_diff:.3g} > "
                              f"{tolerance:g} (probabilities); the export is not trustworthy")
    return result


def verify(wrapped, onnx_path: Path, config: PreprocessConfig, tolerance: float = TOLERANCE,
           seed: int = 0, features: list[str] | None = None) -> dict[str, Any]:
    """Max |ORT − PyTorch| of the probabilities (and logits) on random and realistic windows;
    a hybrid's ``features`` are computed from those windows as prediction computes them,
    each batch read as one recording cut at the model's step (random windows have no beats:
    their NaN features test the training-median fill)."""
    from ecgemotion.baselines.context import hybrid_features

    rng = np.random.default_rng(seed)
    window_len = config.window_len
    batches = {"random": rng.standard_normal((16, window_len)).astype(np.float32),
               "realistic": realistic_windows(config, seed=seed)}
    session = ort_session(onnx_path)
    report: dict[str, Any] = {}
    worst = 0.0
    for name, windows in batches.items():
        feed = {"window": windows[:, None, :]}
        if features:
            feed["features"] = hybrid_features(windows, config.fs, features,
                                               np.arange(len(windows)) * config.step_s)
        p_diff, l_diff = _differences(session, wrapped, feed)
        report[name] = {"windows": int(len(windows)), "max_abs_diff_probabilities": p_diff,
                        "max_abs_diff_logits": l_diff}
        worst = max(worst, p_diff)
    report["max_abs_diff"] = worst
    report["tolerance"] = tolerance
    report["ok"] = bool(worst <= tolerance)
    return report
