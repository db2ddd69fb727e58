"""The demo end to end on a tiny plan (with the synthetic set's EEG and GSR fused beside the
ECG systems, as ``demo --modalities ecg,eeg,eda``), and its report in a real headless browser.

Under ``CI=true`` nothing here may skip silently: an unreachable PyPI or a missing browser
fails the run (``CI_SKIP_BROWSER=1`` opts out of the browser, deliberately).
"""

import json
import re

import pytest

from ecgemotion.demo.run import DemoPlan, run_demo
from ecgemotion.errors import EcgEmotionError
from ecgemotion.sources.wheel_cache import fetch_wheel
from ecgemotion.sources.wheel_catalogue import select_wheels
from tests.browser import CI, headless_chromium

TINY = DemoPlan(pretrain_minutes=0.02, subjects=6, trials=4, seconds=20.0, folds=2, epochs=1,
                tasks=("arousal",), n_boot=50, open_ecg_packages=("peakdet", "pyhrv"),
                modalities=("ecg", "eeg", "eda"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    try:  # the open-ECG wheels need PyPI once; only a network cause may skip, never under CI
        for wheel in select_wheels(TINY.open_ecg_packages):
            fetch_wheel(wheel)
    except EcgEmotionError as exc:
        if "PyPI unreachable" in str(exc) and not CI:
            pytest.skip(str(exc))
        raise
    return out, run_demo(out, plan=TINY)


def test_demo_writes_a_self_contained_report(demo):
    out, summary = demo
    page = (out / "report.html").read_text()
    assert "SYNTHETIC" in page and "real" in page.lower()
    assert not re.search(r'(src|href)="(?!data:)', page), "report must not reference external files"
    assert page.count('src="data:image/png;base64,') >= 6
    # the evaluation's own sections, as `evaluate` writes them: ROC, paired tests, CIs
    assert 'alt="arousal: ROC' in page and "Paired comparisons" in page
    assert "Results at a glance" in page and 'class="ci"' in page
    md = (out / "report.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / link).is_file(), link
    rows = summary["results"]["arousal"]
    assert {"majority", "hybrid-ctx", "transformer", "scratch", "hrv-logreg"} <= set(rows)
    assert json.loads((out / "summary.json").read_text())["report_html"].endswith("report.html")


def test_report_has_trial_level_and_calibrated_beside_strict(demo):
    out, summary = demo
    page = (out / "report.html").read_text()
    assert "Trial level at a glance" in page and "Calibrated to each test person" in page
    md = (out / "report.md").read_text()
    trial = _section(md, "Trial level at a glance")
    assert "mean P(high) over the trial's test windows" in trial and "subject bootstrap" in trial
    assert "trial-level bal. acc. [95 % CI]" in trial and "trial-level AUROC [95 % CI]" in trial
    strict = summary["results"]["arousal"]["hybrid-ctx"]
    assert f"| hybrid-ctx | {strict['trial_balanced_accuracy']:.3f} [" in trial
    calibrated = _section(md, "Calibrated to each test person (`k-shot:2`)")
    assert "2 labelled window(s) per test subject" in calibrated
    # each calibrated figure sits right after the strict one of the same system and metric
    cal = summary["calibrated"]["arousal"]
    assert cal["option"] == "k-shot:2" and set(cal["systems"]) == {"majority", "hybrid-ctx",
                                                                   "hrv-logreg"}
    for name in ("hybrid-ctx", "hrv-logreg"):
        s, c = summary["results"]["arousal"][name], cal["systems"][name]
        assert re.search(rf"\| {name} \| {s['balanced_accuracy']:.3f} \[[^|]*\] \| "
                         rf"{c['balanced_accuracy']:.3f} \[", calibrated), name
    assert "| transformer |" not in calibrated


def test_demo_with_modalities_fuses_them_on_the_same_folds(demo, tmp_path):
    out, summary = demo
    rows = summary["results"]["arousal"]
    assert {"mm-ecg", "mm-eeg", "mm-eda", "fusion-late", "fusion-early", "hybrid-ctx"} <= set(rows)
    results = json.loads((out / "evaluation-arousal" / "results.json").read_text())
    tested = {(f["fold"], f["n_test"], str(f["test_subjects"])) for f in results["folds"]}
    assert len(tested) == TINY.folds                       # every system, the same test folds
    md = (out / "report.md").read_text()
    assert "Also read: EEG (14 Emotiv channels), EDA (the GSR channel)" in md
    assert "| fusion-late | mm-eeg |" in md                # paired: fusion vs each modality
    assert re.search(r"\*\*Synthetic arousal, modalities:\*\* late fusion [0-9.]+ \[", md)
    assert "ecgemotion demo --quick --modalities ecg,eeg,eda --out" in md
    with pytest.raises(EcgEmotionError, match="the demo's synthetic set has ecg, eeg, eda"):
        run_demo(tmp_path / "x", plan=TINY, modalities=("ecg", "bvp"))


def _section(md: str, heading: str) -> str:
    """The markdown from ``## heading`` to the next ``## ``."""
    start = md.index("## " + heading)
    end = md.find("\n## ", start + 1)
    return md[start:end if end >= 0 else None]


def test_report_renders_in_headless_chromium(demo, tmp_path):
    out, _ = demo
    with headless_chromium(tmp_path / "profile") as driver:
        driver.get((out / "report.html").as_uri())
        assert "ecgemotion demo" in driver.title
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
        assert len(images) >= 3 and all(ok and width > 0 for ok, width, _ in images), images
        tables = driver.execute_script("return document.querySelectorAll('table').length")
        assert tables >= 3
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
