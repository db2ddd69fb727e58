"""The systems an evaluation compares, each behind one interface.

A system is trained on a fold's training rows, selects its model (epoch) on the fold's
validation rows — both drawn from the training side — and predicts P(high) for the
fold's test rows, once. It reaches windows only through the two stores it is handed:
``fit_store`` during training/selection and ``test_store`` during prediction; the
runner records every row each one serves and refuses a fold in which a test row was
served to training (:class:`TracedStore`).

Systems (:data:`SYSTEMS`):

==============  ===================================================================
``transformer``  the model initialised from ``--init`` (pre-trained encoder, fresh head),
                 fully fine-tuned (the paper's system)
``scratch``      the same architecture, random initialisation, fully fine-tuned
``cnn``          the 1-D CNN (``create_model("cnn")``); pre-trained the same way when a
                 CNN checkpoint is given (``--init-cnn``), else from scratch
``sarkar``       Sarkar & Etemad: their CNN pre-trained by transformation recognition
                 (on the fold's training-side windows, or once on ``--ssl-store``), then
                 frozen conv features + a dense head
``hrv-logreg``   HRV features + logistic regression (class-balanced)
``hrv-forest``   HRV features + random forest (class-balanced)
``hybrid``       the ``transformer`` system with the window's physiological features
                 (``models/hybrid.py``) joined to its embedding before the head
``hybrid-ctx``   ``hybrid`` with 60-s context HRV features (SD2, HF power, sample entropy,
                 DFA a1 ...; ``baselines/context.py``) beside the window's (evaluation only)
``hybrid-logreg`` frozen ``--init`` embedding + the same features -> standardised
                 logistic regression (class-balanced)
``hybrid-gbm``   the same inputs -> gradient boosting (class-balanced)
``context``      the same inputs mean-pooled over each trial -> logistic regression on the
                 trial labels; each test window gets its trial's P(high)
``synheart``     the peer ``synheart-emotion`` 0.1.0's shipped stress model, zero-shot, on its
                 14 HRV features over the window's preceding 60 s (``baselines/synheart.py``)
``synheart-refit`` the same features -> ExtraTrees refitted on the fold's training rows
``mm-MODALITY``  one modality (``mm-ecg``, ``mm-eeg``, ``mm-eda`` ...) through the multimodal
                 model's encoder, from scratch (``models/multimodal.py``): the single-modality
                 arms of a fusion comparison
``fusion-late``  per-modality encoders, pooled embeddings joined (``--modalities``)
``fusion-early`` per-modality encoders into one shared Transformer (``--modalities``)
``X-pretrained`` any of the three above with its signal encoders started from ``--init``, a
                 ``pretrain --modalities`` run (``mm-eeg-pretrained``, ``fusion-late-pretrained``)
==============  ===================================================================

HRV and cheap hybrid models have no hyper-parameter to select, so they are fitted on
training and validation rows together (both training side).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ecgemotion.errors import ConfigError
from ecgemotion.row_cache import RowCache
from ecgemotion.subjects import recording_keys, subject_keys, trial_keys
from ecgemotion.training.recipes import MULTIMODAL

DEFAULT_SYSTEMS = ("transformer", "scratch", "cnn", "sarkar", "hrv-logreg", "hrv-forest")
PEER_SYSTEMS = ("synheart", "synheart-refit")
"""Systems made from another project's package (the optional ``peers`` extra)."""
SYSTEMS = DEFAULT_SYSTEMS + ("hybrid", "hybrid-ctx", "hybrid-logreg", "hybrid-gbm", "context",
                             "fusion-late", "fusion-early") + PEER_SYSTEMS

ENCODER_SYSTEMS = ("transformer", "scratch", "hybrid", "hybrid-ctx", "hybrid-logreg", "hybrid-gbm",
                   "context")
"""The systems that read ``--init`` (the shipped encoder by default)."""


PRETRAINED = "-pretrained"   # a multimodal system's suffix: its encoders start from --init


def modality_systems(modalities, pretrained: bool = False) -> tuple[str, ...]:
    """What ``evaluate --modalities`` compares: each modality alone, both fusions, and the
    HRV baseline (the majority baseline is in every report); ``pretrained`` (``--init`` is a
    ``pretrain --modalities`` run): each signal modality and the late fusion also started
    from it, beside the same from scratch."""
    singles = tuple(f"mm-{m}" for m in modalities)
    fusions = ("fusion-late", "fusion-early") if len(singles) > 1 else ()
    again = tuple(f"mm-{m}" for m in modalities if m != "ecg") + fusions[:1] if pretrained else ()
    return singles + fusions + tuple(n + PRETRAINED for n in again) + ("hrv-logreg",)


class TracedStore:
    """A read-only proxy of a window store that reports every row it serves.

    ``on_read(rows)`` is called before ``windows(rows)`` returns; ``hrv(rows)`` serves
    HRV features of rows and ``embed(rows, encoder)`` frozen embeddings (each computed
    once per row by a shared cache) and report them the same way. Everything else
    (``meta``, ``fs``, ...) passes through.
    """

    SERVES = ("windows", "modality_windows", "present", "hrv", "embed")   # hand out row data

    def __init__(self, store, on_read: Callable[[np.ndarray], None], hrv_cache=None,
                 embedding_cache=None, labels: bool = True):
        self._store = store
        self._on_read = on_read
        self._hrv_cache = hrv_cache
        self._embedding_cache = embedding_cache
        self._index = None if labels else store.index.drop(
            columns=[c for c in store.index.columns if c.startswith("y_")])

    @property
    def index(self):
        """The store's index; without its label columns when ``labels=False`` (the test
        store: prediction, calibration included, never sees a test label)."""
        return self._store.index if self._index is None else self._index

    def windows(self, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._on_read(rows)
        return self._store.windows(rows)

    def modality_windows(self, modality, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._on_read(rows)
        return self._store.modality_windows(modality, rows)

    def present(self, modality, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._on_read(rows)
        return self._store.present(modality, rows)

    def hrv(self, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._on_read(rows)
        return self._hrv_cache(rows)

    def embed(self, rows, encoder: str) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._on_read(rows)
        return self._embedding_cache(rows, encoder)

    def __len__(self) -> int:
        return len(self._store)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


class EmbeddingCache:
    """Frozen-encoder embeddings per store row, computed once per encoder and reused by
    every fold and system: a frozen encoder embeds a row the same way in every fold."""

    def __init__(self, store):
        self._store = store
        self._caches: dict[str, RowCache] = {}

    def __call__(self, rows: np.ndarray, encoder: str) -> np.ndarray:
        from ecgemotion.probe import embed_windows, load_encoder

        if encoder not in self._caches:
            self._caches[encoder] = RowCache(
                self._store, lambda w: embed_windows(load_encoder(encoder), w), "embeddings")
        return self._caches[encoder](rows)


class SubsetStore:
    """A store restricted to some rows (row numbers renumbered 0..n-1): lets
    :func:`ecgemotion.training.pretrain` run on a store minus some subjects without
    copying windows."""

    def __init__(self, store, keep: np.ndarray):
        from ecgemotion.store.window_store import WindowStore

        self._store = store
        self._keep = np.asarray(keep, dtype=np.int64)
        self.index = store.index.iloc[self._keep].reset_index(drop=True)
        self.path, self.meta, self.fs, self.window_len = store.path, store.meta, store.fs, store.window_len
        self.select = WindowStore.select.__get__(self)

    @property
    def label_names(self) -> list[str]:
        return [c[2:] for c in self.index.columns if c.startswith("y_")]

    def __len__(self) -> int:
        return len(self._keep)

    def windows(self, rows):
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return self._store.windows(self._keep[rows])


@dataclass
class Context:
    """What every system gets: the task, training settings and seeds."""

    target: str
    train_cfg: Any                      # TrainConfig for fine-tuning
    ssl_cfg: Any = None                 # TrainConfig for the sarkar pretext task
    seed: int = 0
    keep_checkpoints: bool = False
    ui: Any = None
    fold_init: dict[str, str] = field(default_factory=dict)  # per-fold pre-trained folders


class System:
    name: str = ""
    description: str = ""
    pretrained: bool = False

    def prepare(self, ctx: Context, out_dir: Path) -> None:
        """Work done once before the folds (nothing by default)."""

    def fit_predict(self, ctx: Context, fold, fit_store, test_store, run_dir: Path,
                    seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "pretrained": self.pretrained}


def _quiet_ui(ctx):
    return None  # per-fold training runs stay silent; the runner prints per fold


class NeuralSystem(System):
    """A network fine-tuned on the fold (all weights, or the head only with ``freeze``)."""

    train_overrides: dict[str, Any] = {}   # TrainConfig fields this system sets for itself

    @property
    def fold_key(self) -> str:
        """Whose per-fold pre-trained folder (``Context.fold_init``) this system starts from."""
        return self.name

    def __init__(self, name: str, init: str | None, model: str, overrides: dict[str, Any],
                 description: str, architecture_only: bool = False, freeze: bool = False,
                 pretrained: bool = False):
        self.name, self.init, self.model, self.overrides = name, init, model, dict(overrides)
        self.description, self.architecture_only, self.freeze = description, architecture_only, freeze
        self.pretrained = pretrained

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "init": self.init or "scratch", "model": self.model,
                "overrides": self.overrides, "freeze": self.freeze,
                "architecture_only": self.architecture_only}

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        from ecgemotion.training.finetune import build_model, fit_classifier, predict_proba

        init = ctx.fold_init.get(self.fold_key, self.init)
        net = build_model(init, fit_store, self.model, self.overrides, seed=seed,
                          architecture_only=self.architecture_only)
        net, fit_store, test_store = self.adapt(ctx, net, fold, fit_store, test_store)
        cfg = replace(ctx.train_cfg, seed=seed, **self.train_overrides)
        net, summary = fit_classifier(net, fit_store, fold.train, fold.val, ctx.target, run_dir,
                                      cfg, freeze=self.freeze, ui=_quiet_ui(ctx),
                                      keep_checkpoints=ctx.keep_checkpoints,
                                      run_info={"system": self.name, "fold": fold.name})
        prob = predict_proba(net, test_store.windows, fold.test)
        return prob, {"val_metrics": summary["val_metrics"], "history": summary["history"],
                      "epochs": summary.get("epochs"), "elapsed_s": summary.get("elapsed_s"),
                      "init": str(init) if init else "scratch",
                      "parameters": int(sum(p.numel() for p in net.parameters()))}

    def adapt(self, ctx, net, fold, fit_store, test_store):
        """The network and the two stores it trains and predicts on (unchanged here)."""
        return net, fit_store, test_store


class HybridNeuralSystem(NeuralSystem):
    """End-to-end hybrid: the encoder fine-tuned with the physiological features joined to
    its embedding (``models/hybrid.py``), normalised on the fold's training rows. Its name
    is its ``finetune --model`` (``hybrid``, ``hybrid-ctx``), which says the features
    (``training/finetune.py: hybrid_inputs``); 60-s context features come from each side of
    the fold's own windows (train+val, test), as ``finetune`` trains it and ``predict`` feeds it."""

    fold_key = "transformer"
    train_overrides = {"validate_start": True}   # falls back to its fitted feature path

    def adapt(self, ctx, net, fold, fit_store, test_store):
        from ecgemotion.models.hybrid import WithFeatures, feature_reader, fitted_hybrid
        from ecgemotion.training.finetune import hybrid_inputs

        features = hybrid_inputs(self.name)
        net, fit_view = fitted_hybrid(net, fit_store, fit_store.hrv, fold.train, ctx.target,
                                      features, [np.concatenate([fold.train, fold.val])])
        # a lambda: touching test_store.hrv here would start the runner's predict phase
        test_of = feature_reader(test_store, lambda rows: test_store.hrv(rows), features, [fold.test])
        return net, fit_view, WithFeatures(test_store, test_of, features)


class SarkarSystem(System):
    name = "sarkar"
    pretrained = True

    def __init__(self, overrides: dict[str, Any], ssl_store=None):
        self.overrides = dict(overrides)
        self.ssl_store = ssl_store
        self._shared_state = None
        where = (f"the unlabelled store {ssl_store.path}" if ssl_store is not None
                 else "each fold's training-side windows (labels unused)")
        self.description = ("Sarkar & Etemad CNN pre-trained by transformation recognition on "
                            f"{where}; frozen conv features + dense head")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "overrides": self.overrides,
                "ssl_store": str(self.ssl_store.path) if self.ssl_store is not None else None}

    def prepare(self, ctx, out_dir):
        if self.ssl_store is None:
            return
        from ecgemotion.training.sarkar_ssl import pretrain_sarkar

        rows = self.ssl_store.select()
        model, summary = pretrain_sarkar(self.ssl_store, rows, out_dir / "sarkar-ssl",
                                         replace(ctx.ssl_cfg, seed=ctx.seed),
                                         overrides=self.overrides)
        self._shared_state = {k: v.clone() for k, v in model.state_dict().items()}
        self.ssl_summary = {"pretext_val_accuracy": summary.get("pretext_val_accuracy")}

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        import torch

        from ecgemotion.models import create_model
        from ecgemotion.training.finetune import fit_classifier, predict_proba
        from ecgemotion.training.sarkar_ssl import pretrain_sarkar

        info: dict[str, Any] = {}
        if self._shared_state is not None:
            if self.ssl_store.window_len != fit_store.window_len:
                raise ConfigError("--ssl-store windows differ in length from the evaluation store")
            torch.manual_seed(seed)
            net = create_model("sarkar", **{"window_len": fit_store.window_len, "fs": fit_store.fs,
                                            "n_classes": 2, **self.overrides})
            net.load_state_dict(self._shared_state)
        else:
            ssl_rows = np.concatenate([fold.train, fold.val])
            net, ssl = pretrain_sarkar(fit_store, ssl_rows, run_dir / "ssl",
                                       replace(ctx.ssl_cfg, seed=seed), overrides=self.overrides)
            info["pretext_val_accuracy"] = ssl.get("pretext_val_accuracy")
        net, summary = fit_classifier(net, fit_store, fold.train, fold.val, ctx.target,
                                      run_dir / "head", replace(ctx.train_cfg, seed=seed),
                                      freeze=True, keep_checkpoints=ctx.keep_checkpoints,
                                      run_info={"system": self.name, "fold": fold.name})
        if not ctx.keep_checkpoints:
            import shutil

            for d in ("best", "last", "best.old", "last.old"):
                shutil.rmtree(run_dir / "ssl" / d, ignore_errors=True)
        prob = predict_proba(net, test_store.windows, fold.test)
        info.update({"val_metrics": summary["val_metrics"], "history": summary["history"],
                     "epochs": summary.get("epochs"), "elapsed_s": summary.get("elapsed_s")})
        return prob, info


class HRVSystem(System):
    def __init__(self, model: str):
        self.model = model
        self.name = f"hrv-{model}"
        self.description = (f"HRV features (mean HR/RR, SDNN, RMSSD, pNN50) + "
                            f"{'logistic regression' if model == 'logreg' else 'random forest'}, "
                            "class-balanced, fitted on train+val rows")

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        from ecgemotion.baselines.hrv import fit_predict_features

        rows, y = _training_side(ctx, fold, fit_store)
        train_x = fit_store.hrv(rows)
        test_x = test_store.hrv(fold.test)
        prob = fit_predict_features(train_x, y, test_x, model=self.model, seed=seed,
                                    class_weight="balanced")
        nan_share = float(np.isnan(train_x["mean_hr"].to_numpy(dtype=float)).mean())
        return np.asarray(prob, dtype=float), {"train_nan_share": nan_share}


def _training_side(ctx, fold, fit_store) -> tuple[np.ndarray, np.ndarray]:
    """Training + validation rows and their labels: what selection-free models fit on."""
    rows = np.concatenate([fold.train, fold.val])
    return rows, fit_store.index[f"y_{ctx.target}"].to_numpy(dtype=float)[rows]


class HybridSystem(System):
    """Cheap hybrid: the frozen encoder's embedding beside the physiological features, into
    a classical model (``models/hybrid.py: fit_predict_hybrid``)."""

    def __init__(self, model: str, encoder: str):
        self.model, self.encoder = model, encoder
        self.name = f"hybrid-{model}"
        self.pretrained = not encoder.startswith("random")
        how = ("standardised logistic regression (L2 strength by AUROC over training subjects)"
               if model == "logreg" else "gradient boosting")
        self.description = (f"frozen {encoder} embedding + physiological features "
                            f"(HRV time domain, RR range, QRS width) -> {how}, "
                            "class-balanced, fitted on train+val rows")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "encoder": self.encoder, "model": self.model}

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        from ecgemotion.models.hybrid import fit_predict_hybrid, hybrid_table

        encoder = ctx.fold_init.get("transformer", self.encoder)
        rows, y = _training_side(ctx, fold, fit_store)
        train = hybrid_table(fit_store.embed(rows, encoder), fit_store.hrv(rows))
        test = hybrid_table(test_store.embed(fold.test, encoder), test_store.hrv(fold.test))
        prob = fit_predict_hybrid(train, y, test, self.model, seed=seed,
                                  groups=subject_keys(fit_store.index, rows))
        return np.asarray(prob, dtype=float), {"encoder": str(encoder)}


class MultimodalSystem(System):
    """The multimodal model (``models/multimodal.py``) on ``modalities``, fused ``late`` or
    ``early``, trained from scratch on the fold with the same loop and selection as the
    neural systems; a window missing a modality is classified from the others."""

    def __init__(self, name: str, modalities: list[str], fusion: str, init: str | None = None):
        from ecgemotion.models.multimodal import MultimodalConfig

        self.name, self.modalities, self.fusion, self.init = name, list(modalities), fusion, init
        self.pretrained = init is not None
        what = (f"{modalities[0]} alone" if len(modalities) == 1
                else f"{fusion} fusion of {', '.join(modalities)}")
        self.description = (f"{what}: per-modality conv encoder(s) with channel-name embeddings"
                            + (" (the ECG as its HRV features, standardised on the training rows, "
                               "through a logistic regression fitted on them)"
                               if "ecg" in modalities else "")
                            + (f", one shared Transformer, modality dropout "
                               f"{MultimodalConfig.modality_dropout:g}" if fusion == "early"
                               else ", each branch trained alone and their log-odds added"
                               if len(modalities) > 1 else "")
                            + ("; from scratch" if init is None else
                               f"; signal encoders pre-trained ({init}), heads fresh")
                            + f", AdamW lr {MULTIMODAL.lr:g} (the multimodal-scratch recipe) for "
                            "the run's epochs")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "modalities": self.modalities, "fusion": self.fusion,
                "init": self.init or "scratch"}

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        from ecgemotion.models.multimodal import Packed
        from ecgemotion.training.finetune import fit_multimodal, multimodal_model, predict_proba

        net, fit_view = multimodal_model(fit_store, self.modalities, fold.train, ctx.target,
                                         {"fusion": self.fusion}, seed=seed, init=self.init)
        cfg = replace(ctx.train_cfg, seed=seed, lr=MULTIMODAL.lr, weight_decay=MULTIMODAL.weight_decay,
                      warmup_fraction=MULTIMODAL.warmup_fraction)
        net, summary = fit_multimodal(net, fit_view, fold.train, fold.val,
                                      ctx.target, run_dir, cfg,
                                      ui=_quiet_ui(ctx), keep_checkpoints=ctx.keep_checkpoints,
                                      run_info={"system": self.name, "fold": fold.name})
        prob = predict_proba(net, Packed(test_store, net.config.layout).windows, fold.test)
        used = {m: float(np.mean(test_store.present(m, fold.test))) for m in self.modalities}
        return prob, {"val_metrics": summary["val_metrics"], "history": summary["history"],
                      "epochs": summary.get("epochs"), "elapsed_s": summary.get("elapsed_s"),
                      "test_share_with_modality": used,
                      "parameters": int(sum(p.numel() for p in net.parameters()))}


@dataclass(frozen=True)
class SystemSpec:
    """What an evaluation's systems are made from. The CLI and the Python API fill one in at
    the edge; :func:`build_systems` turns it into :class:`System` objects."""

    names: str | tuple[str, ...] = ",".join(DEFAULT_SYSTEMS)
    init: str | None = "scratch"        # the transformer's encoder (a folder, a name, scratch)
    model: str = "fast"                 # the preset for --init scratch
    overrides: dict = field(default_factory=dict)
    init_cnn: str | None = None         # a pre-trained CNN folder (else the CNN starts fresh)
    cnn_overrides: dict = field(default_factory=dict)
    sarkar_overrides: dict = field(default_factory=dict)
    ssl_store: Any = None               # unlabelled store for sarkar's pretext task
    modalities: tuple[str, ...] = ("ecg",)   # what the fusion systems fuse

    def __post_init__(self):
        for name in ("overrides", "cnn_overrides", "sarkar_overrides"):
            object.__setattr__(self, name, dict(getattr(self, name) or {}))

    def record(self) -> dict[str, Any]:
        """The spec as results.json's ``config`` records it."""
        return {"init": self.init, "init_cnn": self.init_cnn, "model": self.model,
                "model_overrides": self.overrides, "cnn_overrides": self.cnn_overrides,
                "sarkar_overrides": self.sarkar_overrides,
                "ssl_store": str(self.ssl_store.path) if self.ssl_store is not None else None,
                "modalities": list(self.modalities)}


def trial_means(table, keys: np.ndarray):
    """Column means of ``table`` per trial key (NaN-aware), in sorted key order."""
    import pandas as pd

    return pd.DataFrame(table.to_numpy(dtype=float), columns=table.columns).groupby(keys).mean()


class TrialContextSystem(System):
    """Trial context: the frozen embedding and the physiological features averaged over each
    trial's windows (mean pooling over the whole trial) -> standardised logistic regression
    whose target is the trial's label; every window of a test trial gets its trial's P(high).
    Emotion labels are per trial (a video), and a 10-s window holds only ~10 beats."""

    name = "context"

    def __init__(self, encoder: str):
        self.encoder = encoder
        self.pretrained = not encoder.startswith("random")
        self.description = (f"trial context: frozen {encoder} embedding + physiological features, "
                            "mean-pooled over each trial's windows -> standardised logistic "
                            "regression on the training trials' labels (L2 strength by AUROC over "
                            "training subjects); each test window gets its trial's P(high)")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "encoder": self.encoder, "pooling": "mean over the trial"}

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        import pandas as pd

        from ecgemotion.models.hybrid import fit_predict_hybrid, hybrid_table

        encoder = ctx.fold_init.get("transformer", self.encoder)
        rows, y = _training_side(ctx, fold, fit_store)
        keys = trial_keys(fit_store.index, rows)
        train = trial_means(hybrid_table(fit_store.embed(rows, encoder), fit_store.hrv(rows)), keys)
        y_trial = (pd.Series(y, index=keys).groupby(level=0).mean() >= 0.5).astype(int)
        groups = np.array(["/".join(k.split("/")[:2]) for k in train.index])
        test_keys = trial_keys(test_store.index, fold.test)
        test = trial_means(hybrid_table(test_store.embed(fold.test, encoder),
                                        test_store.hrv(fold.test)), test_keys)
        prob = fit_predict_hybrid(train.reset_index(drop=True), y_trial.loc[train.index].to_numpy(),
                                  test.reset_index(drop=True), "logreg", seed=seed, groups=groups)
        per_trial = dict(zip(test.index, np.asarray(prob, dtype=float)))
        return np.array([per_trial[k] for k in test_keys]), {
            "encoder": str(encoder), "train_trials": int(len(train)), "test_trials": int(len(test))}


class SynheartSystem(System):
    """The field's ready-made model as a peer (``baselines/synheart.py``): its shipped
    ExtraTrees zero-shot, or the same features refitted on the fold. A window's RR intervals
    come from the windows of its own recording on the same side of the split only."""

    def __init__(self, refit: bool):
        from ecgemotion.baselines import synheart

        self.refit = refit
        self.name = "synheart-refit" if refit else "synheart"
        self.pretrained = not refit
        context = (f"synheart-emotion's 14 HRV features over the {synheart.CONTEXT_S:g} s of RR "
                   "intervals ending at each window's end, from windows of the same recording on "
                   "the same side of the split (a window less than 60 s into its recording takes "
                   "the recording's first 60 s, or all of it when shorter: a context under "
                   "60 s, counted as short_context)")
        how = ("-> ExtraTrees (scikit-learn, class-balanced) refitted on the fold's train+val rows"
               if refit else
               f"-> its shipped model {synheart.MODEL} (WESAD chest ECG, baseline vs stress), "
               "zero-shot: P(high) = P(Stress) (for valence 1 - P(Stress))")
        self.description = (f"{context} {how}; windows with under {synheart.MIN_RR} valid RR "
                            "intervals in their context get P(high) = 0.5, counted as no_rr")

    def describe(self) -> dict[str, Any]:
        from ecgemotion.baselines import synheart

        return {**super().describe(), "package": synheart.PACKAGE,
                "model": "ExtraTreesClassifier (refit)" if self.refit else synheart.MODEL,
                "context_s": synheart.CONTEXT_S}

    @staticmethod
    def features(store, rows) -> tuple[np.ndarray, np.ndarray]:
        """The peer's features of ``rows`` (context from ``rows`` only) and full-context flags."""
        from ecgemotion.baselines.context import beat_times, context_rr
        from ecgemotion.baselines.synheart import peer_features

        starts = store.index["start_s"].to_numpy(dtype=float)[rows]
        times = beat_times(store, np.asarray(rows, dtype=np.int64))
        rr, full = context_rr(times, starts, starts + store.window_len / store.fs,
                              recording_keys(store.index, rows))
        return peer_features(rr), full

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        from ecgemotion.baselines.synheart import peer_probability, refit_model

        counts: dict[str, int] = {}
        model = None
        if self.refit:   # training rows first: the runner's predict phase starts at the test store
            rows, y = _training_side(ctx, fold, fit_store)
            model, counts["train_rows_without_rr"] = refit_model(self.features(fit_store, rows)[0],
                                                                 y, seed)
        test_x, full = self.features(test_store, fold.test)
        prob, usable = peer_probability(test_x, ctx.target, model)
        counts.update(short_context=int((~full).sum()), no_rr=int((~usable).sum()))
        return prob, {"counts": counts}


HYBRID_DESCRIPTIONS = {
    "hybrid": ("encoder from {where} fully fine-tuned with the window's physiological features "
               "(HRV time domain, RR range, QRS width; standardised on the fold's training rows, "
               "NaN -> their median) joined to its embedding before the head, plus a linear "
               "feature path started at a logistic regression (L2 strength chosen across training "
               "subjects); the start is validated as epoch 0 and kept when no epoch lowers the "
               "validation loss"),
    "hybrid-ctx": ("the hybrid (encoder from {where}) with 60-s context HRV features (mean HR, "
                   "SDNN, RMSSD, pNN50, irregular share, SD2, HF power, sample entropy, DFA a1 "
                   "over the RR intervals of the 60 s ending at the window, from windows of its "
                   "own recording on the same side of the split) beside the window's own"),
}


def _multimodal_system(name: str, spec: SystemSpec) -> MultimodalSystem:
    """``mm-MODALITY`` or ``fusion-late``/``fusion-early``, ``-pretrained``: from ``spec.init``."""
    from ecgemotion.models.multimodal import is_multimodal_pretraining

    base = name.removesuffix(PRETRAINED)
    init = None
    if base != name:
        if not is_multimodal_pretraining(spec.init):
            raise ConfigError(f"{name} starts its encoders from a multimodal pre-training run: "
                              f"give --init RUN (`ecgemotion pretrain --modalities`), found "
                              f"--init {spec.init}")
        init = str(spec.init)
    if base.startswith("mm-"):
        return MultimodalSystem(name, [base[3:]], "late", init)
    if len(spec.modalities) < 2:
        raise ConfigError(f"{name} fuses modalities: give two or more with --modalities "
                          f"(found {','.join(spec.modalities)})")
    return MultimodalSystem(name, list(spec.modalities), base.split("-")[1], init)


def build_systems(spec: SystemSpec, per_fold_init: bool = False) -> tuple[list[System], list[str]]:
    """The spec's systems, in its order; returns (systems, notes). ``per_fold_init``: the
    neural systems start from per-fold pre-training (``Context.fold_init``), not ``spec.init``."""
    from ecgemotion.recording import MODALITIES
    from ecgemotion.training.finetune import is_scratch

    names, init, model = spec.names, spec.init, spec.model
    overrides, init_cnn = spec.overrides, spec.init_cnn
    names = [n.strip() for n in (names if not isinstance(names, str) else names.split(",")) if n.strip()]
    unknown = [n for n in names if n.removesuffix(PRETRAINED) not in SYSTEMS
               and not (n.startswith("mm-") and n.removesuffix(PRETRAINED)[3:] in MODALITIES)]
    if unknown:
        raise ConfigError(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    if len(set(names)) != len(names):
        raise ConfigError("a system is listed twice")
    notes: list[str] = []
    scratch_init = is_scratch(init) and not per_fold_init
    out: list[System] = []
    for n in names:
        if n == "transformer":
            if scratch_init:
                desc = f"'{model}' model, NO pre-training (--init scratch), fully fine-tuned"
            else:
                desc = (f"pre-trained encoder from {init or 'per-fold pre-training'}, "
                        "fully fine-tuned")
            out.append(NeuralSystem("transformer", None if scratch_init else init, model,
                                    overrides, desc, pretrained=not scratch_init))
        elif n == "scratch":
            if scratch_init and "transformer" in names:
                notes.append("'scratch' skipped: with --init scratch it is the same run as "
                             "'transformer'")
                continue
            arch = "the pre-trained model's architecture" if not scratch_init else f"'{model}'"
            out.append(NeuralSystem("scratch", None if scratch_init else init, model,
                                    overrides, f"{arch}, random initialisation, fully fine-tuned",
                                    architecture_only=not scratch_init))
        elif n == "cnn":
            pre = init_cnn is not None and not is_scratch(init_cnn)
            desc = (f"1-D CNN pre-trained by masked reconstruction ({init_cnn}), fully fine-tuned"
                    if pre else "1-D CNN from scratch (no --init-cnn given), fully fine-tuned")
            if not pre:
                notes.append("cnn: no CNN checkpoint given (--init-cnn): trained from scratch")
            out.append(NeuralSystem("cnn", init_cnn if pre else None, "cnn", spec.cnn_overrides,
                                    desc, pretrained=pre))
        elif n == "sarkar":
            out.append(SarkarSystem(spec.sarkar_overrides, spec.ssl_store))
        elif n == "hrv-logreg":
            out.append(HRVSystem("logreg"))
        elif n == "hrv-forest":
            out.append(HRVSystem("forest"))
        elif n.startswith(("mm-", "fusion-")):
            out.append(_multimodal_system(n, spec))
        elif n in HYBRID_DESCRIPTIONS:
            where = "scratch" if scratch_init else (init or "per-fold pre-training")
            out.append(HybridNeuralSystem(n, None if scratch_init else init, model, overrides,
                                          HYBRID_DESCRIPTIONS[n].format(where=where),
                                          pretrained=not scratch_init))
        elif n in PEER_SYSTEMS:
            from ecgemotion.baselines.synheart import require

            require()
            out.append(SynheartSystem(refit=n == "synheart-refit"))
        elif n == "context":
            out.append(TrialContextSystem(f"random:{model}" if scratch_init else str(init)))
        else:  # hybrid-logreg, hybrid-gbm
            out.append(HybridSystem(n.split("-", 1)[1],
                                    f"random:{model}" if scratch_init else str(init)))
    return out, notes
