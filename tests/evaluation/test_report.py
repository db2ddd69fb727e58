"""The evaluation report: one definition of every figure (pooled, with a CI), the demo's
writer, a per-subject plot that stays readable at 40 subjects."""

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from ecgemotion.demo.report import _tasks_side_by_side
from ecgemotion.evaluation.document import Document
from ecgemotion.evaluation.metrics import auroc
from ecgemotion.evaluation.report import (FPR_GRID, TABLE_METRICS, add_evaluation, markdown_table,
                                          mean_roc, plot_per_subject)

SYSTEMS = ("majority", "transformer")


def _ci(point):
    return {"point": point, "low": point - 0.05, "high": point + 0.05}


def fake_results(n_subjects=4, fold_auroc=0.765, pooled_auroc=0.671):
    """A results dict shaped as the runner writes it, where the aggregate over all repeats and
    the bootstrap's point (the first repeat's fold mean, which the ROC plot draws) differ."""
    cis = {s: {m: _ci(0.6) for m, _ in TABLE_METRICS} for s in SYSTEMS}
    cis["transformer"]["auroc"] = _ci(pooled_auroc)
    del cis["majority"]["auroc"]
    subjects = [{"dataset": "amigos", "subject": f"P{i:02d}", "accuracy": (i % 10) / 10}
                for i in range(n_subjects)]
    return {
        "task": "arousal", "label_rule": "threshold:5", "classes": ["low", "high"],
        "n_windows": 40, "n_subjects": n_subjects, "seed": 0, "ecgemotion_version": "0",
        "elapsed_s": 1.0, "bootstrap_unit": "subject", "primary_metric": "balanced_accuracy",
        "protocol": {"protocol": "subject", "description": "by subject", "k": 2, "repeats": 1,
                     "folds_per_repeat": 2, "subject_dependent": False, "window_mixed": False,
                     "validation": "whole subjects"},
        "store": {"path": "store", "identity": "abc"},
        "systems": {"transformer": {"description": "pre-trained"}},
        "aggregate": {s: {"accuracy": {"mean": 0.6, "std": 0.1},
                          "auroc": {"mean": fold_auroc, "std": 0.1}} for s in SYSTEMS},
        "bootstrap_ci": cis,
        "folds": [{"system": s, "repeat": 0, "fold": f, "balanced_accuracy": 0.6,
                   "predicted_high_share": 0.5} for s in SYSTEMS for f in range(2)],
        "per_subject": {s: subjects for s in SYSTEMS},
        "paired_tests": [{"a": "transformer", "b": "majority",
                          "balanced_accuracy": {"mean_diff": 0.1, "p_ttest": 0.2,
                                                "p_ttest_corrected": 0.3, "p_wilcoxon": 0.4},
                          "permutation": {"balanced_accuracy": {"p": 0.05}}}],
        "leakage_check": {"rule": "fit ∩ test = ∅"},
    }


def test_the_table_shows_the_auroc_the_roc_plot_draws_with_a_ci_for_every_metric():
    table = markdown_table(fake_results())
    assert "0.671 [0.621, 0.721]" in table and "0.765" not in table
    transformer = next(line for line in table.splitlines() if line.startswith("| transformer"))
    assert transformer.count(" [") == len(TABLE_METRICS)      # every metric carries its CI


def test_the_mean_roc_curve_has_the_folds_mean_auroc_as_its_area():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    prob = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.25, 300), 0, 1), 1)   # many ties
    fold = np.repeat([0, 1, 2], 100)
    prob[fold == 1] += 0.4                           # a fold whose scores are all shifted up
    weight = {0: 1, 1: 2, 2: 1}
    area = np.trapezoid(mean_roc(y, prob, fold, weight), FPR_GRID)
    folds = [auroc(y[fold == f], prob[fold == f]) for f in range(3)]
    assert abs(area - np.average(folds, weights=[1, 2, 1])) < 2e-3
    assert abs(area - auroc(y, prob)) > 0.02          # the pooled curve is another figure


def test_the_html_report_has_the_paired_tests_and_ci_cells():
    doc = Document("t")
    add_evaluation(doc, fake_results(), Path("."))
    page = doc.to_html()
    assert "Paired comparisons (same folds), primary metric: balanced_accuracy" in page
    assert '0.671<br><span class="ci">[0.621, 0.721]</span>' in page


def test_per_subject_plot_gives_each_of_40_subjects_a_row(tmp_path):
    path = plot_per_subject(fake_results(n_subjects=40), tmp_path / "s.png")
    height = mpimg.imread(path).shape[0]
    assert height >= 40 * 0.2 * 80                   # 0.2 inch per subject at 80 dpi


def test_the_demo_puts_valence_beside_arousal():
    doc = Document("t")
    _tasks_side_by_side(doc, {"arousal": fake_results(), "valence": fake_results(pooled_auroc=0.55)})
    header, rows = doc.blocks[1][1]
    assert header[1].startswith("arousal") and header[3].startswith("valence")
    assert rows[1][2].startswith("0.671") and rows[1][4].startswith("0.550")
