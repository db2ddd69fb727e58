"""``ecgemotion probe``: score any encoder on real ECG, beside the classical references.

Probes (every one on people the released encoders never saw, except MIT-BIH identity):

- ``rhythm``: CinC 2017 downstream pool, AF vs normal; frozen embedding -> standardised
  logistic regression trained on 1 %, 10 %, 100 % of the training records (the draw of
  ``experiments/cinc_fewlabel.py``, the same records for every encoder); AUROC and balanced
  accuracy on the fixed test records, 95 % CIs by resampling whole test records.
- ``identity``: 1-NN cosine re-identification. CinC downstream records with >= 2 windows
  (first window enrols, the others probe) and MIT-BIH (first half of each record enrols,
  second half probes; 201 and 202 are one person; MIT-BIH is in the pre-training corpus,
  without labels). Top-1 with CIs over probe records / persons.
- ``physiology``: heart rate (NeuroKit2 R peaks, the HRV baseline's ``mean_hr``) regressed
  from the frozen embedding by ridge regression on the training records; R² on the test
  records with a record-bootstrap CI.
- ``finetune``: the 10 % CinC budget fully fine-tuned (the few-label experiment's recipe).

References in the same table: ``hrv`` (the five time-domain HRV features) and ``templates``
(the window's median beat, 0.25 s before to 0.45 s after each R peak). Embeddings are cached
by model hash and store identity in the ecgemotion cache (``probe/``), so a second run costs
only the classifiers.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecgemotion.errors import ConfigError
from ecgemotion.row_cache import RowCache

PROBES = ("rhythm", "identity", "physiology", "finetune")
REFERENCES = ("hrv", "templates")
BUDGETS = {0.01: 5, 0.1: 3, 1.0: 1}          # label fraction -> seeds (draws)
TEST_SALT = "cinc-fewlabel/test"
SPLITS = Path(__file__).resolve().parent / "pretrained" / "ecgemotion-base" / "splits.json"
MITDB_SAME_PERSON = {"202": "201"}
DATA_HELP = ("the probes need MIT-BIH and CinC 2017 in WFDB format: a folder holding mitdb/ and "
             "cinc2017/ (or mitdb.tar.gz and cinc2017.tar.gz), given by --data or "
             "$ECGEMOTION_DATA; both are on PhysioNet (physionet.org/content/mitdb, "
             "physionet.org/content/challenge-2017: training set)")


# -- data --------------------------------------------------------------------------------------
def is_test(record: str) -> bool:
    """The fixed CinC test records: sha256('cinc-fewlabel/test:' + record)[0] < 77 (~30 %)."""
    return hashlib.sha256(f"{TEST_SALT}:{record}".encode()).digest()[0] < 77


def draw(records: pd.DataFrame, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Stratified draw of ``fraction`` of the records (>= 2 per class), split 80/20 into
    (train, validation); ``records`` has columns ``record`` and ``y``."""
    rng = np.random.default_rng([seed, round(fraction * 1000)])
    train, val = [], []
    for _, group in records.groupby("y"):
        names = sorted(group["record"])
        pick = list(rng.permutation(names)[: max(2, round(fraction * len(names)))])
        n_val = max(1, round(0.2 * len(pick)))
        val += pick[:n_val]
        train += pick[n_val:]
    return sorted(train), sorted(val)


def find_data(data: str | Path | None = None, cache: str | Path | None = None) -> dict[str, Path]:
    """``{"mitdb": folder, "cinc2017": folder}``, unpacking the archives into ``cache`` once."""
    root = Path(data or os.environ.get("ECGEMOTION_DATA") or "../shared/data").expanduser()
    from ecgemotion.paths import cache_dir

    cache = Path(cache) if cache else cache_dir("data")
    found = {}
    for name, marker in (("mitdb", "100.hea"), ("cinc2017", "REFERENCE.csv")):
        for folder in (root / name, cache / name):
            if (folder / marker).is_file():
                found[name] = folder
                break
        else:
            archive = root / f"{name}.tar.gz"
            if not archive.is_file():
                raise ConfigError(f"{root}: found neither {name}/{marker} nor {name}.tar.gz; {DATA_HELP}")
            cache.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as tar:
                tar.extractall(cache, filter="data")
            if not (cache / name / marker).is_file():
                raise ConfigError(f"{archive}: unpacked, but {name}/{marker} is not inside")
            found[name] = cache / name
    return found


def open_stores(data: dict[str, Path], workers: int = 2) -> dict[str, Any]:
    """The two probe stores (built once, then reused from the store cache)."""
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store

    cinc = get_source("wfdb", str(data["cinc2017"]), labels=str(data["cinc2017"] / "REFERENCE.csv"))
    cinc_store, _ = build_store([cinc], PreprocessConfig(), label_rule="threshold:0.5", workers=workers)
    mit_store, _ = build_store([get_source("wfdb", str(data["mitdb"]))], PreprocessConfig(),
                               workers=workers)
    return {"cinc": cinc_store, "mitdb": mit_store}


# -- features ----------------------------------------------------------------------------------
def model_key(name: str) -> str:
    """A hash of the encoder's files (or of the spec, for ``random``): the embedding cache key."""
    if name.startswith("random"):
        return hashlib.sha256(name.encode()).hexdigest()[:16]
    from ecgemotion.models.hub import CONFIG_NAME, WEIGHTS_NAME, resolve_pretrained

    name, _, pooling = name.partition("@")
    folder = resolve_pretrained(name)
    h = hashlib.sha256(pooling.encode())
    for f in (WEIGHTS_NAME, CONFIG_NAME):
        h.update((folder / f).read_bytes())
    return h.hexdigest()[:16]


def load_encoder(name: str) -> torch.nn.Module:
    """A shipped name, a folder, or ``random[:PRESET]`` (the architecture, untrained);
    ``NAME@mean`` / ``NAME@cls`` reads the token mean / the CLS token whatever the config says."""
    from ecgemotion.models import create_model, from_pretrained

    if name.startswith("random"):
        torch.manual_seed(0)
        preset = name.split(":", 1)[1] if ":" in name else "fast"
        return create_model(preset, pooling="mean").eval()
    name, _, pooling = name.partition("@")
    return from_pretrained(name, **({"pooling": pooling} if pooling else {})).eval()


@torch.no_grad()
def embed_windows(model: torch.nn.Module, windows: np.ndarray, batch: int = 256) -> np.ndarray:
    """Frozen embeddings (n, d) of (n, T) windows: the model's pooled window embedding."""
    out = []
    for i in range(0, len(windows), batch):
        x = torch.from_numpy(np.ascontiguousarray(windows[i: i + batch]))[:, None]
        out.append(model(x)["features"].float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def mean_beat_templates(windows: np.ndarray, fs: float, before_s: float = 0.25,
                        after_s: float = 0.45) -> np.ndarray:
    """Median beat of each window around NeuroKit2's R peaks, z-scored; zeros without beats."""
    from ecgemotion.signal import median_beat, r_peaks

    out = np.zeros((len(windows), round(before_s * fs) + round(after_s * fs)), np.float32)
    for i, w in enumerate(windows):
        beat = median_beat(w, r_peaks(w.astype(np.float64), fs, method="neurokit"), fs,
                           before_s, after_s)
        if beat is not None:
            out[i] = beat
    return out


class FeatureCache:
    """Per (store, representation) features of store rows: one
    :class:`~ecgemotion.row_cache.RowCache` each, kept on disk in ``cache_dir``."""

    def __init__(self, cache_dir: Path):
        self.dir = Path(cache_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._caches: dict[tuple[str, str], Any] = {}

    def __call__(self, store, rows: np.ndarray, rep: str, say=print) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rep == "hrv":
            from ecgemotion.baselines.hrv import TIME_FEATURES

            return self._cache(store, rep)(rows)[list(TIME_FEATURES)].to_numpy(dtype=float)
        cache = self._cache(store, rep)
        if len(todo := cache.missing(rows)):
            say(f"  computing {rep} features of {len(todo)} windows ({store.path.name})")
        return cache(rows)

    def _cache(self, store, rep: str):
        key = (store.meta["identity"], rep)
        if key not in self._caches:
            if rep == "hrv":
                from ecgemotion.baselines.hrv import HRVFeatureCache

                self._caches[key] = HRVFeatureCache(store, cache_dir=self.dir)
            elif rep == "templates":
                self._caches[key] = RowCache(store, lambda w: mean_beat_templates(w, store.fs),
                                             "templates", [store.fs], self.dir)
            else:
                self._caches[key] = RowCache(store, lambda w: embed_windows(load_encoder(rep), w),
                                             "embeddings", [model_key(rep)], self.dir)
        return self._caches[key]


# -- scoring -----------------------------------------------------------------------------------
def _standardised_logreg(seed: int):
    """The frozen-embedding classifier: the HRV baseline's pipeline, class-balanced; 3,000
    iterations because 128 correlated embedding columns converge slower than 5 features."""
    from ecgemotion.baselines.hrv import make_model

    return make_model("logreg", seed=seed, class_weight="balanced", max_iter=3000)


def _scores(y: np.ndarray, prob: np.ndarray, groups: np.ndarray, n_boot: int) -> dict[str, Any]:
    """AUROC and balanced accuracy with 95 % CIs resampling whole ``groups`` (records)."""
    from ecgemotion.evaluation.metrics import bootstrap_ci, fold_metrics

    m = fold_metrics(y, prob)
    return {k: {"point": m[k], **{b: v for b, v in bootstrap_ci(
        y, prob, k, groups=groups, n_boot=n_boot, seed=0).items() if b in ("low", "high")}}
        for k in ("auroc", "balanced_accuracy")}


def _mean_over_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Point values and CI bounds averaged over draws (seeds)."""
    return {k: {b: float(np.mean([r[k][b] for r in runs])) for b in ("point", "low", "high")}
            for k in runs[0]}


def nearest_neighbour_top1(gallery: np.ndarray, gallery_id: np.ndarray, probes: np.ndarray,
                           probe_id: np.ndarray) -> np.ndarray:
    """1.0 where the probe's most cosine-similar gallery item has the probe's identity."""
    def unit(v):
        v = np.nan_to_num(np.asarray(v, dtype=np.float32))
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(n > 0, n, 1)

    g, p = unit(gallery), unit(probes)
    hits = np.empty(len(p), dtype=np.float64)
    for i in range(0, len(p), 2048):
        best = (p[i: i + 2048] @ g.T).argmax(axis=1)
        hits[i: i + 2048] = gallery_id[best] == probe_id[i: i + 2048]
    return hits


def group_bootstrap(stat, groups: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """Point value and 95 % percentile CI of ``stat(indices)`` over resamples of whole groups."""
    codes = pd.factorize(np.asarray(groups))[0]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    members = [order[bounds[c]: bounds[c + 1]] for c in range(codes.max() + 1)]
    rng = np.random.default_rng(seed)
    boots = [stat(np.concatenate([members[c] for c in rng.integers(0, len(members), len(members))]))
             for _ in range(n_boot)]
    low, high = np.nanquantile(boots, [0.025, 0.975])
    return {"point": float(stat(np.arange(len(codes)))), "low": float(low), "high": float(high)}


# -- the probes --------------------------------------------------------------------------------
class Probe:
    """The probe data (rows, labels, splits) and the feature cache; one method per probe."""

    def __init__(self, stores: dict[str, Any], cache_dir: Path, n_boot: int = 1000, say=print):
        self.stores, self.n_boot, self.say = stores, n_boot, say
        self.features = FeatureCache(cache_dir)
        cinc = stores["cinc"]
        idx = cinc.index
        downstream = set(json.loads(SPLITS.read_text())["downstream"])
        record = idx["subject"].to_numpy()
        self.in_downstream = np.isin(record, list(downstream))
        self.record = record
        every = cinc.select(quality="all")
        self.cinc_rows = every[self.in_downstream[every]]          # sorted: what gets embedded
        an = cinc.select(quality="all", labelled="af")
        self.an_rows = an[self.in_downstream[an]]
        self.y_af = idx["y_af"].to_numpy()
        self.test_mask = np.array([is_test(r) for r in record[self.an_rows]])
        recs = pd.DataFrame({"record": record[self.an_rows], "y": self.y_af[self.an_rows]})
        recs = recs.groupby("record")["y"].first().astype(int).reset_index()
        self.pool = recs[~recs["record"].map(is_test)]

    def cinc_features(self, rows: np.ndarray, rep: str) -> np.ndarray:
        """Features of CinC ``rows``, computed once per representation for every downstream
        row (the rhythm, identity and physiology probes share them)."""
        x = self.features(self.stores["cinc"], self.cinc_rows, rep, self.say)
        return x[np.searchsorted(self.cinc_rows, rows)]

    def rhythm(self, rep: str) -> dict[str, Any]:
        rows = self.an_rows
        x = self.cinc_features(rows, rep)
        test = self.test_mask
        y = self.y_af[rows].astype(int)
        out = {}
        for fraction, seeds in BUDGETS.items():
            runs = []
            for seed in range(seeds):
                train, val = draw(self.pool, fraction, seed)
                fit = np.isin(self.record[rows], train + val)
                clf = _standardised_logreg(seed).fit(x[fit], y[fit])
                prob = clf.predict_proba(x[test])[:, 1]
                runs.append(_scores(y[test], prob, self.record[rows][test], self.n_boot))
            out[f"{fraction:g}"] = _mean_over_runs(runs) | {"seeds": seeds}
        return out

    def identity(self, rep: str) -> dict[str, Any]:
        out = {}
        cinc = self.stores["cinc"]
        rows = self.cinc_rows
        idx = cinc.index.iloc[rows]
        rows = rows[np.lexsort((idx["start_s"].to_numpy(), idx["subject"].to_numpy()))]
        rec = self.record[rows]
        counts = pd.Series(rec).value_counts()
        rows = rows[np.isin(rec, counts.index[counts >= 2])]
        rec = self.record[rows]
        first = np.r_[True, rec[1:] != rec[:-1]]
        x = self.cinc_features(rows, rep)
        hits = nearest_neighbour_top1(x[first], rec[first], x[~first], rec[~first])
        out["cinc"] = group_bootstrap(lambda i: hits[i].mean(), rec[~first], self.n_boot) | {
            "gallery": int(first.sum()), "probes": int((~first).sum())}
        mit = self.stores["mitdb"]
        rows = mit.select(quality="all")
        idx = mit.index.iloc[rows]
        rows = rows[np.lexsort((idx["start_s"].to_numpy(), idx["subject"].to_numpy()))]
        rec = mit.index["subject"].to_numpy()[rows]
        person = np.array([MITDB_SAME_PERSON.get(r, r) for r in rec])
        pos = pd.Series(rec).groupby(rec).cumcount().to_numpy()
        size = pd.Series(rec).map(pd.Series(rec).value_counts()).to_numpy()
        enrol = pos < size // 2
        x = self.features(mit, rows, rep, self.say)
        hits = nearest_neighbour_top1(x[enrol], person[enrol], x[~enrol], person[~enrol])
        out["mitdb"] = group_bootstrap(lambda i: hits[i].mean(), person[~enrol], self.n_boot) | {
            "gallery": int(enrol.sum()), "probes": int((~enrol).sum()),
            "persons": int(len(set(person)))}
        return out

    def physiology(self, rep: str) -> dict[str, Any]:
        from sklearn.linear_model import RidgeCV
        from sklearn.metrics import r2_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        rows = self.an_rows
        hr = self.cinc_features(rows, "hrv")[:, 0]
        ok = np.isfinite(hr) & (hr >= 30) & (hr <= 220)
        x = self.cinc_features(rows, rep)
        train, test = ok & ~self.test_mask, ok & self.test_mask
        reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        pred = reg.fit(x[train], hr[train]).predict(x[test])
        y = hr[test]
        return group_bootstrap(lambda i: r2_score(y[i], pred[i]), self.record[rows][test],
                               self.n_boot) | {"target": "heart rate (bpm), NeuroKit2 R peaks",
                                               "train_windows": int(train.sum()),
                                               "test_windows": int(test.sum())}

    def finetune(self, rep: str, fraction: float = 0.1, seeds: int = 3, epochs: int = 10,
                 work: Path | None = None) -> dict[str, Any]:
        """Full fine-tuning at ``fraction`` of the labels (cinc_fewlabel's recipe)."""
        import tempfile

        from ecgemotion.training.finetune import build_model, fit_classifier, predict_proba
        from ecgemotion.training.loop import TrainConfig
        from ecgemotion.training.recipes import FEWLABEL

        cinc, rows = self.stores["cinc"], self.an_rows
        test_rows = rows[self.test_mask]
        y_test = self.y_af[test_rows].astype(int)
        runs = []
        for seed in range(seeds):
            train, val = draw(self.pool, fraction, seed)
            tr = rows[np.isin(self.record[rows], train)]
            va = rows[np.isin(self.record[rows], val)]
            init = "scratch" if rep.startswith("random") else rep.partition("@")[0]
            net = build_model(init, cinc, "fast", seed=seed)
            cfg = TrainConfig.from_recipe(FEWLABEL, epochs=epochs, seed=seed, device="cpu")
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                net, _ = fit_classifier(net, cinc, tr, va, "af", Path(tmp), cfg,
                                        keep_checkpoints=False)
            prob = predict_proba(net, cinc.windows, test_rows)
            runs.append(_scores(y_test, prob, self.record[test_rows], self.n_boot))
        return _mean_over_runs(runs) | {"fraction": fraction, "seeds": seeds, "epochs": epochs}


def run_probes(models: list[str], probes: list[str], stores: dict[str, Any], cache_dir: Path,
               references: bool = True, n_boot: int = 1000, finetune_fractions=(0.1,),
               say=print) -> dict[str, Any]:
    """Every probe on every encoder (and on the references where they apply)."""
    bad = sorted(set(probes) - set(PROBES))
    if bad:
        raise ConfigError(f"unknown probe(s) {bad}; expected a subset of {list(PROBES)}")
    probe = Probe(stores, cache_dir, n_boot=n_boot, say=say)
    reps = list(models) + (list(REFERENCES) if references else [])
    results: dict[str, dict[str, Any]] = {r: {} for r in reps}
    for rep in reps:
        for name in probes:
            if name == "physiology" and rep == "hrv":
                continue          # heart rate is one of the HRV features: trivially R² = 1
            if name == "finetune":
                if rep in REFERENCES:
                    continue
                for f in finetune_fractions:
                    say(f"probe finetune {f:g} on {rep}")
                    results[rep][f"finetune_{f:g}"] = probe.finetune(
                        rep, f, seeds=3 if f < 1 else 1, epochs=10 if f < 1 else 3)
                continue
            say(f"probe {name} on {rep}")
            results[rep][name] = getattr(probe, name)(rep)
    return results


def _cell(v: dict | None) -> str:
    return "–" if not v else f"{v['point']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: one row per encoder/reference, one column per probe figure."""
    cols: list[tuple[str, Any]] = []
    for fr in BUDGETS:
        for m in ("auroc", "balanced_accuracy"):
            cols.append((f"AF {m.replace('balanced_accuracy', 'bal. acc')} @{fr:.0%}",
                         lambda r, fr=fr, m=m: r.get("rhythm", {}).get(f"{fr:g}", {}).get(m)))
    cols += [("re-ID top-1 CinC", lambda r: r.get("identity", {}).get("cinc")),
             ("re-ID top-1 MIT-BIH", lambda r: r.get("identity", {}).get("mitdb")),
             ("HR R²", lambda r: r.get("physiology"))]
    for key in sorted({k for r in results.values() for k in r if k.startswith("finetune_")}):
        fr = float(key.split("_")[1])
        for m in ("auroc", "balanced_accuracy"):
            cols.append((f"fine-tuned AF {m.replace('balanced_accuracy', 'bal. acc')} @{fr:.0%}",
                         lambda r, key=key, m=m: r.get(key, {}).get(m)))
    used = [(h, f) for h, f in cols if any(f(r) for r in results.values())]
    lines = ["| encoder | " + " | ".join(h for h, _ in used) + " |",
             "|---|" + "---|" * len(used)]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(_cell(f(r)) for _, f in used) + " |")
    return "\n".join(lines) + "\n"
