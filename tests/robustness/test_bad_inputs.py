"""Every bad input of the corpus through ``ecgemotion prepare`` (and ``read_signal``).

Handled means: a one-line error (exit 2, naming the file, no traceback), or a
counted skip / warning naming the file, or windows kept with a quality flag —
whichever the case allows — and, in every case, no NaN/Inf window in any store.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecgemotion.cli import main
from ecgemotion.errors import ConfigError, DataError, SecurityError
from ecgemotion.io.readers import read_signal
from ecgemotion.store import WindowStore
from tests.robustness._results import record
from tests.robustness.corpus import CORPUS, BadInput


def _stores_are_finite(out: Path) -> list[str]:
    problems = []
    for meta in sorted(out.glob("*/meta.json")):
        store = WindowStore.open(meta.parent)
        x = store.windows(np.arange(len(store)))
        if not np.isfinite(x).all():
            problems.append(f"{meta.parent.name}: {int((~np.isfinite(x)).any(axis=1).sum())} "
                            "windows with NaN/Inf")
    return problems


def run_prepare(argv: list[str], out: Path, capsys) -> dict:
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["prepare", "--json", "--quiet", "--workers", "1", "--out", str(out), *argv])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return {"code": code, "summary": summary, "err": captured.err,
            "warnings": [str(w.message) for w in caught] + summary.get("warnings", [])}


def classify(result: dict, mention: str) -> tuple[str, str]:
    """The outcome of one run and, when it is not acceptable, why."""
    code, s, err = result["code"], result["summary"], result["err"]
    if "Traceback" in err:
        return "traceback", err[-500:]
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
        if len(lines) != 1:
            return "bad-error", f"expected one 'error:' line, got: {err!r}"
        if mention not in lines[0]:
            return "bad-error", f"error does not mention {mention!r}: {lines[0]}"
        return "error", lines[0]
    if code not in (0, 1):
        return f"exit-{code}", err
    skips = [f"{k['where']}: {k['reason']}" for k in s.get("skipped", [])]
    if any(mention in k for k in skips):
        return "skip", next(k for k in skips if mention in k)
    if any(mention in w for w in result["warnings"]):
        return "warned", next(w for w in result["warnings"] if mention in w)
    dropped = {k: v for k, v in s.get("dropped", {}).items() if v}
    if dropped:
        return "dropped", json.dumps(dropped)
    flagged = {k: v for k, v in s.get("flagged", {}).items() if v}
    if flagged and s.get("good_windows", 0) < s.get("windows", 0):
        return "flagged", json.dumps(flagged)
    if code == 0 and s.get("windows", 0) > 0:
        return "ok", ""
    return "unexplained", json.dumps({"code": code, "skipped": skips, "err": err})


def check_read_signal(path: Path, fs) -> str | None:
    """read_signal must raise DataError/ConfigError/SecurityError naming the file, or succeed finite."""
    try:
        sig = read_signal(path, fs=fs)
    except (DataError, SecurityError) as exc:
        return None if path.name in str(exc) else f"read_signal error does not name the file: {exc}"
    except ConfigError as exc:
        return None if (path.name in str(exc) or "sampling rate" in str(exc)) else \
            f"read_signal config error does not name the file: {exc}"
    except Exception as exc:  # noqa: BLE001 - exactly what we are testing for
        return f"read_signal raised {type(exc).__name__}: {exc}"
    if not np.isfinite(sig.fs) or sig.fs <= 0:
        return f"read_signal returned fs={sig.fs}"
    return None


@pytest.mark.parametrize("bad", CORPUS, ids=[b.name for b in CORPUS])
def test_bad_input_is_handled(bad: BadInput, tmp_path, capsys):
    reason = bad.skip_if()
    if reason:
        pytest.skip(reason)
    (tmp_path / "in").mkdir()
    case = bad.build(tmp_path / "in")
    out = tmp_path / "stores"
    try:
        result = run_prepare(case.argv, out, capsys)
    except Exception as exc:  # noqa: BLE001 - a crash is the failure we look for
        record(bad.name, "crash", False, f"{type(exc).__name__}: {exc}")
        raise
    outcome, detail = classify(result, case.mention)
    problems = []
    if outcome not in case.expect:
        problems.append(f"outcome {outcome} not in {sorted(case.expect)}: {detail}")
    problems += _stores_are_finite(out) if out.exists() else []
    if case.marker is not None and case.marker.exists():
        problems.append(f"malicious pickle ran: {case.marker} was created")
    if case.read is not None:
        problem = check_read_signal(case.read, case.read_fs)
        if problem:
            problems.append(problem)
    record(bad.name, outcome, not problems, "; ".join(problems) or detail)
    assert not problems, "\n".join(problems)


def test_corpus_is_large_and_covers_every_source():
    assert len(CORPUS) >= 30
    names = " ".join(b.name for b in CORPUS)
    for source in ("amigos", "dreamer", "ascertain", "pspm", "wesad", "npy", "csv", "edf", "wfdb",
                   "manifest", "mat73"):
        assert source in names, source
