"""Protocols, HRV cache and metrics on a real (toy) window store."""

from ecgemotion.baselines.hrv import HRVFeatureCache, fit_predict_features
from ecgemotion.evaluation.metrics import aggregate, bootstrap_ci, fold_metrics, trial_metrics
from ecgemotion.evaluation.splits import get_protocol, label_values
from ecgemotion.preprocess import PreprocessConfig
from ecgemotion.store import build_store
from tests.store.toy_source import ToySource, write_toy


def test_hrv_baseline_over_subject_folds(tmp_path):
    root = write_toy(tmp_path / "toy", subjects=4, trials=2, seconds=60)
    store, _ = build_store([ToySource(root)], PreprocessConfig(), out_dir=tmp_path / "stores",
                           label_rule="threshold:5", workers=1)
    rows = store.select(labelled="arousal")
    assert len(rows) > 0
    cache = HRVFeatureCache(store)
    y_all = store.index["y_arousal"].to_numpy()
    results = []
    for fold in get_protocol("subject").folds(store.index, rows, "arousal", seed=0, k=4):
        train, val, test = fold
        p = fit_predict_features(cache(train), y_all[train], cache(test), model="logreg")
        m = fold_metrics(y_all[test], p, y_train=y_all[train])
        m.update(repeat=fold.repeat, fold=fold.fold)
        results.append(m)
        tm = trial_metrics(store.index, test, y_all[test], p, train, y_all[train])
        assert tm["n_trials"] == 2
    assert cache.computed == len(rows)         # each row's features computed once for all folds
    table = aggregate(results)
    # the toy's high-arousal trials are 10 bpm faster: the HRV model must rank them higher
    # in every held-out subject. (Not accuracy: subjects' rates step by 3 bpm, so the extreme
    # subjects sit within 1 bpm of any cut learnt from the others, whichever they are.)
    assert table.loc["auroc", "mean"] > 0.95
    assert label_values(store.index, rows, "y_arousal").shape == rows.shape
    ci = bootstrap_ci(y_all[rows], (y_all[rows] > 0.5).astype(float),
                      groups=store.index["subject"].to_numpy()[rows], n_boot=100)
    assert ci["point"] == 1.0
