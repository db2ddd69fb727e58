"""The hybrid systems (learned embedding + physiology) and paired tests on the metrics that
fit imbalanced labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ecgemotion.baselines.hrv import FEATURES, PHYSIO_FEATURES, features_from_peaks, qrs_width_ms
from ecgemotion.evaluation.metrics import paired_permutation_test
from ecgemotion.evaluation.runner import EvaluationOptions, evaluate, run_evaluation
from ecgemotion.evaluation.splits import LeakageError
from ecgemotion.evaluation.systems import EmbeddingCache, HybridSystem, SystemSpec, TracedStore
from ecgemotion.models import create_model, save_pretrained
from ecgemotion.models.hybrid import HybridClassifier, WithFeatures, hybrid_table
from ecgemotion.training.loop import TrainConfig
from tests.evaluation.test_runner import RecordingStore

TINY = dict(d_model=16, n_heads=2, n_layers=1, d_ff=32, conv_channels=[4, 8, 16],
            conv_kernels=[7, 5, 3], conv_strides=[4, 4, 4], classifier_hidden=8, dropout=0.0)
TWO = ["mean_hr", "rmssd"]      # two physiological features


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory, amigos_store):
    """A tiny 'pre-trained' folder: the hybrid systems' --init."""
    torch.manual_seed(0)
    net = create_model("fast", window_len=amigos_store.window_len, fs=amigos_store.fs, **TINY)
    return str(save_pretrained(net, tmp_path_factory.mktemp("enc") / "tiny"))


# -- features ---------------------------------------------------------------------------------
def test_qrs_width_of_a_known_pulse():
    """Gaussian R waves of sigma 15 ms have a half-height width of 2.355 sigma = 35.3 ms."""
    fs, sigma = 128.0, 0.015
    t = np.arange(int(10 * fs)) / fs
    peaks = np.arange(64, len(t) - 64, 100)
    x = sum(np.exp(-0.5 * ((t - p / fs) / sigma) ** 2) for p in peaks)
    assert qrs_width_ms(x, peaks, fs) == pytest.approx(2.3548 * sigma * 1000, rel=0.08)


def test_rr_range_keeps_the_irregularity_the_ectopy_filter_drops():
    peaks = np.cumsum([0] + [51, 115] * 6)          # alternating 398 / 898 ms
    f = dict(zip(FEATURES, features_from_peaks(peaks, 128.0, 10.0)))
    assert f["rr_min"] == pytest.approx(398.4, abs=0.1) and f["rr_max"] == pytest.approx(898.4, abs=0.1)
    assert f["rr_irregular"] == 1.0                  # every interval > 30 % from the median
    regular = dict(zip(FEATURES, features_from_peaks(np.arange(0, 1280, 96), 128.0, 10.0)))
    assert regular["rr_irregular"] == 0.0 and regular["rr_min"] == regular["rr_max"]


# -- the end-to-end module --------------------------------------------------------------------
def test_hybrid_classifier_normalises_with_training_statistics_and_reads_the_features():
    torch.manual_seed(0)
    enc = create_model("fast", window_len=256, fs=128.0, **{**TINY, "conv_norm": "batch"})
    stats = [b.clone() for n, b in enc.named_buffers() if "running" in n]
    net = HybridClassifier(enc, ["mean_hr", "sdnn", "rmssd"]).eval()
    assert all(torch.equal(a, b) for a, b in zip(stats, [b for n, b in enc.named_buffers()
                                                        if "running" in n]))  # no side effect
    train = np.array([[1.0, 10.0, np.nan], [3.0, np.nan, np.nan], [5.0, 30.0, np.nan]])
    net.fit_training_side(train, np.array([0, 1, 1]))
    assert net.fill.tolist() == [3.0, 20.0, 0.0]          # median; an all-NaN column -> 0
    assert net.center.tolist() == pytest.approx([3.0, 20.0, 0.0])
    x = torch.randn(2, 1, 256)
    with_nan = torch.cat([x, torch.tensor([[[3.0, np.nan, 7.0]]] * 2)], dim=-1)
    filled = torch.cat([x, torch.tensor([[[3.0, 20.0, 7.0]]] * 2)], dim=-1)
    moved = torch.cat([x, torch.tensor([[[5.0, 20.0, 7.0]]] * 2)], dim=-1)
    out = net(with_nan)["logits"]
    assert torch.isfinite(out).all() and torch.allclose(out, net(filled)["logits"])
    assert not torch.allclose(out, net(moved)["logits"])   # the features reach the head


def test_the_linear_path_starts_at_the_logistic_regression_of_the_training_rows():
    """Linear probing before fine-tuning: before any step the feature path alone ranks the
    training rows as a logistic regression on the standardised features does."""
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(0)
    net = HybridClassifier(create_model("fast", window_len=256, fs=128.0, **TINY), TWO).eval()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    f = np.stack([y * 2.0 + rng.normal(size=200), rng.normal(size=200) * 50 + 100], axis=1)
    net.fit_training_side(f, y)
    z = (f - f.mean(0)) / f.std(0)
    lr = LogisticRegression(max_iter=2000, class_weight="balanced").fit(z, y)
    logits = net.physio(net._normalise(torch.as_tensor(f, dtype=torch.float32))).detach().numpy()
    assert np.allclose(logits[:, 1] - logits[:, 0], lr.decision_function(z), atol=1e-4)
    fresh = HybridClassifier(create_model("fast", window_len=256, fs=128.0, **TINY), TWO)
    fresh.fit_training_side(f, np.zeros(200))              # one class: nothing to probe
    assert not fresh.physio.weight.abs().sum()


def test_with_features_appends_the_physiology_to_each_window():
    import pandas as pd

    class Store:
        def windows(self, rows):
            return np.zeros((len(rows), 4), np.float32)

        def hrv(self, rows):
            return pd.DataFrame([[float(r)] * len(FEATURES) for r in rows], columns=list(FEATURES))

    out = WithFeatures(Store()).windows([1, 2])
    assert out.shape == (2, 4 + len(PHYSIO_FEATURES)) and out[:, 4:].tolist() == [
        [1.0] * len(PHYSIO_FEATURES), [2.0] * len(PHYSIO_FEATURES)]


# -- the leakage guard sees every row the hybrids use ----------------------------------------
def test_cached_embeddings_are_still_reported(amigos_store, tiny_encoder):
    seen = []
    store = TracedStore(amigos_store, seen.append, embedding_cache=EmbeddingCache(amigos_store))
    first = store.embed([0, 1], tiny_encoder)
    again = store.embed([1, 0], tiny_encoder)      # served from the cache
    assert np.allclose(first[::-1], again) and [r.tolist() for r in seen] == [[0, 1], [1, 0]]


class PeekingHybrid(HybridSystem):
    """Cheats: embeds the test rows through the training store."""

    def fit_predict(self, ctx, fold, fit_store, test_store, run_dir, seed):
        fit_store.embed(fold.test[:1], self.encoder)
        return super().fit_predict(ctx, fold, fit_store, test_store, run_dir, seed)


def test_a_hybrid_that_embeds_test_rows_while_fitting_is_refused(amigos_store, tiny_encoder,
                                                                 tmp_path):
    options = EvaluationOptions(train_cfg=TrainConfig(epochs=1), k=3, max_folds=1, n_boot=20)
    with pytest.raises(LeakageError, match="served to training"):
        run_evaluation(amigos_store, "arousal", "subject", [PeekingHybrid("logreg", tiny_encoder)],
                       tmp_path, options)


def test_hybrid_systems_evaluate_without_leakage(amigos_store, tiny_encoder, tmp_path):
    spy = RecordingStore(amigos_store)
    folds = {}

    def tracer(event, fold, system):
        folds[fold.name] = fold
        spy.tracer(event, fold, system)

    res = evaluate(spy, "arousal", "subject",
                   SystemSpec("hybrid,hybrid-ctx,hybrid-logreg,hybrid-gbm,hrv-logreg,context",
                              init=tiny_encoder),
                   tmp_path / "e", EvaluationOptions(train_cfg=TrainConfig(epochs=1, batch_size=16),
                                                     k=3, max_folds=2, n_boot=50, tracer=tracer))
    for (fold_name, system, phase), parts in spy.log.items():   # raw reads, caches included
        rows, fold = np.concatenate(parts), folds[fold_name]
        if phase == "fit":
            assert not np.intersect1d(rows, fold.test).size, (system, fold_name)
        else:
            assert np.isin(rows, fold.test).all(), (system, fold_name)
    for name in ("hybrid", "hybrid-ctx", "hybrid-logreg", "hybrid-gbm"):
        assert len([f for f in res["folds"] if f["system"] == name]) == 2
        assert set(res["bootstrap_ci"][name]) >= {"balanced_accuracy", "auroc", "trial_accuracy"}
    # the trial-context system answers once per trial; trial-level metrics carry CIs
    pred = pd.read_csv(tmp_path / "e" / "predictions.csv")
    ctx_pred = pred[pred["system"] == "context"]
    trial = amigos_store.index.iloc[ctx_pred["row"]][["subject", "trial"]].astype(str).agg("/".join, axis=1)
    assert (ctx_pred.groupby(trial.to_numpy())["prob"].nunique() == 1).all()
    assert ctx_pred["prob"].nunique() > 1
    assert set(res["bootstrap_ci"]["context"]) >= {"trial_balanced_accuracy", "trial_auroc"}
    assert "trial-level AUROC" in (tmp_path / "e" / "report.md").read_text()
    pairs = {(t["a"], t["b"]): t for t in res["paired_tests"]}
    assert ("hybrid-logreg", "hrv-logreg") in pairs and ("hybrid", "hrv-logreg") in pairs
    assert res["primary_metric"] == "balanced_accuracy"
    report = (tmp_path / "e" / "report.md").read_text()
    assert "primary metric: balanced_accuracy" in report and "AUROC [95 % CI]" in report
    saved = json.loads((tmp_path / "e" / "results.json").read_text())
    assert saved["systems"]["hybrid"]["init"] == tiny_encoder


def test_hybrid_table_joins_embedding_and_physiology():
    import pandas as pd

    hrv = pd.DataFrame(np.arange(2 * len(FEATURES)).reshape(2, -1), columns=list(FEATURES))
    t = hybrid_table(np.ones((2, 3)), hrv)
    assert list(t.columns) == ["e0", "e1", "e2", *PHYSIO_FEATURES]
    assert t["qrs_ms"].tolist() == hrv["qrs_ms"].tolist()


# -- statistics fit for imbalanced labels ---------------------------------------------------
def _imbalanced():
    """90 % low. ``lazy`` says low for everything (accuracy 0.9, balanced 0.5); ``fair``
    finds most highs at the cost of some lows (accuracy ~0.85, balanced ~0.87)."""
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.1).astype(int)
    lazy = np.full(1000, 0.3) + rng.random(1000) * 0.01
    fair = np.where(y == 1, rng.random(1000) < 0.88, rng.random(1000) < 0.15).astype(float) * 0.4 + 0.3
    return y, lazy, fair


@pytest.mark.parametrize("metric", ["balanced_accuracy", "auroc"])
def test_permutation_test_on_metrics_that_fit_imbalance(metric):
    y, lazy, fair = _imbalanced()
    acc = paired_permutation_test(y, fair, lazy, "accuracy", n_perm=500)
    res = paired_permutation_test(y, fair, lazy, metric, n_perm=500)
    assert acc["diff"] < 0                              # accuracy prefers the lazy system
    assert res["diff"] > 0.3 and res["p"] < 0.01        # the fair metric does not
    same = paired_permutation_test(y, fair, fair, metric, n_perm=200)
    assert same["diff"] == 0 and same["p"] == 1.0
    grouped = paired_permutation_test(y, fair, lazy, metric, groups=np.arange(1000) // 50, n_perm=200)
    assert grouped["unit"] == "cluster" and grouped["p"] < 0.05


def test_balanced_accuracy_null_matches_a_direct_computation():
    """The vectorised null (per-unit counts) equals swapping predictions and recomputing."""
    from ecgemotion.evaluation.metrics import fold_metrics

    y, lazy, fair = _imbalanced()
    y, lazy, fair = y[:60], lazy[:60], fair[:60]
    res = paired_permutation_test(y, fair, lazy, "balanced_accuracy", n_perm=1)
    rng = np.random.default_rng(0)
    swap = (rng.random((1, 60)) < 0.5)[0]
    a, b = np.where(swap, lazy, fair), np.where(swap, fair, lazy)
    null = fold_metrics(y, a)["balanced_accuracy"] - fold_metrics(y, b)["balanced_accuracy"]
    observed = fold_metrics(y, fair)["balanced_accuracy"] - fold_metrics(y, lazy)["balanced_accuracy"]
    assert res["p"] == (1 + (abs(null) >= abs(observed) - 1e-12)) / 2


def test_unknown_primary_metric_is_refused_before_any_work(amigos_store, tmp_path):
    from ecgemotion.errors import ConfigError

    with pytest.raises(ConfigError, match="--metric"):
        run_evaluation(amigos_store, "arousal", "subject", [], tmp_path,
                       EvaluationOptions(metric="f2"))


def test_logreg_strength_is_chosen_on_training_groups():
    """Many noise inputs beside one informative one: cross-validation over whole groups picks
    a stronger L2 penalty than the default; too few groups of a class keeps the default."""
    import pandas as pd

    from ecgemotion.models.hybrid import choose_c

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 4)
    y = np.repeat(np.arange(30) % 2, 4)
    x = pd.DataFrame(rng.normal(size=(120, 100)))
    x[0] = y + rng.normal(scale=1.0, size=120)
    assert choose_c(x, y, groups) < 1.0
    assert choose_c(x, y, np.where(y == 1, 99, groups)) == 1.0   # one positive group


def test_an_untrained_hybrid_is_its_feature_path_alone():
    """The network's share of the logits starts at exactly 0, so epoch 0 of a hybrid fine-tune
    (validate_start) is the fitted feature model, not the feature model plus head noise."""
    torch.manual_seed(0)
    net = HybridClassifier(create_model("fast", window_len=256, fs=128.0, **TINY), TWO).eval()
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    f = np.stack([y + rng.normal(size=100), rng.normal(size=100)], axis=1)
    net.fit_training_side(f, y)
    x = torch.cat([torch.randn(100, 1, 256), torch.as_tensor(f, dtype=torch.float32)[:, None]], -1)
    with torch.no_grad():
        whole = net(x)["logits"]
        alone = net.physio(net._normalise(torch.as_tensor(f, dtype=torch.float32)))
    assert torch.equal(whole, alone)


def test_the_feature_path_penalty_is_chosen_across_subjects_and_keeps_its_scale():
    """One informative feature among nine noisy ones, 12 subjects: the subject-wise search picks
    a penalty stronger than C = 1, and the refitted length leaves the logits a useful size."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    from ecgemotion.models.hybrid import choose_c, probe_weights

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 20)
    y = rng.integers(0, 2, 240)
    z = np.column_stack([y * 1.5 + rng.normal(size=240), rng.normal(size=(240, 9))])
    c = choose_c(pd.DataFrame(z), y, groups)
    assert c < 1.0
    w, b = probe_weights(z, y, groups)
    shrunk = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(z, y)
    cos = w @ shrunk.coef_[0] / np.linalg.norm(w) / np.linalg.norm(shrunk.coef_[0])
    assert cos == pytest.approx(1.0, abs=1e-6)                 # the regularised direction ...
    p = 1 / (1 + np.exp(-(z @ w + b)))
    assert log_loss(y, p) < log_loss(y, shrunk.predict_proba(z)[:, 1]) - 0.01  # ... at full length
    w1, _ = probe_weights(z, y)                                # no groups: plain C = 1
    plain = LogisticRegression(class_weight="balanced", max_iter=2000).fit(z, y).coef_[0]
    assert np.allclose(w1, plain, atol=1e-6)


def test_features_that_predict_nothing_across_subjects_start_the_path_at_zero():
    """Pure-noise features: a fitted path would only add noise that epoch 0 then falls back to;
    it starts at 0 instead, so the network alone decides (synthetic valence, results §4e)."""
    from ecgemotion.models.hybrid import probe_weights

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 20)
    y = rng.integers(0, 2, 240)
    w, b = probe_weights(rng.normal(size=(240, 10)), y, groups)
    assert not np.any(w) and b == 0.0
    z = np.column_stack([y + rng.normal(size=240), rng.normal(size=(240, 9))])
    assert np.any(probe_weights(z, y, groups)[0])          # a real signal keeps its path
