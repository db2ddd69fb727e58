"""Reports mark a system that gave every test window one class (it looks like the majority
row and would otherwise go unexplained)."""

from ecgemotion.evaluation.report import ONE_CLASS_NOTE, console_table, markdown_table, summary_rows


def _results(shares):
    metric = {"mean": 0.6, "std": 0.1}
    systems = ["majority", "scratch"]
    return {
        "task": "arousal", "label_rule": "threshold:5", "n_windows": 40, "n_subjects": 4, "seed": 0,
        "protocol": {"protocol": "subject", "subject_dependent": False, "window_mixed": False},
        "bootstrap_unit": "subject", "systems": {"scratch": {"description": "from scratch"}},
        "aggregate": {s: {m: metric for m in ("accuracy", "balanced_accuracy", "macro_f1", "f1_high",
                                              "auroc")} for s in systems},
        "bootstrap_ci": {s: {"accuracy": {"low": 0.5, "high": 0.7}} for s in systems},
        "trial_level": {s: {"accuracy": metric} for s in systems},
        "folds": [{"system": s, "predicted_high_share": share}
                  for s in systems for share in ([1.0, 0.0] if s == "majority" else shares)],
    }


def test_one_class_systems_are_marked_in_every_table():
    results = _results([1.0, 0.4])
    rows = {r["system"]: r for r in summary_rows(results)}
    assert rows["scratch"]["one_class_folds"] == 1 and rows["scratch"]["folds"] == 2
    assert "scratch (one class in 1/2 folds)" in markdown_table(results)
    console = console_table(results)
    assert "(one class in 1/2 folds)" in console and ONE_CLASS_NOTE in console
    assert "majority (one class" not in console            # the baseline is one class by design


def test_a_system_that_learned_is_not_marked():
    results = _results([0.55, 0.4])
    assert "one class" not in markdown_table(results) + console_table(results)
