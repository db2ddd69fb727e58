"""Mutation check: break critical code on purpose, one plausible bug at a time, and see a test fail.

    python benchmarks/mutation.py [--only ID,ID] [--list] [--json out.json]

Each mutant replaces one exact piece of source text (it must occur exactly once, so a
refactoring that moves the code makes the mutant *stale*, reported, never silently
skipped) in a private copy of ``src/`` and ``tests/``, then runs the tests named for
it (``pytest -x``) against the copy. Killed: the tests fail. Survived: they pass.
The working tree is never touched. The first six are the breaks of issue 16, which
once went unnoticed; ``accepted`` survivors say why a passing suite is right there.
Before the mutants, each test selection runs once unmutated: it must pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Mutant:
    id: str
    file: str            # under src/ecgemotion/
    old: str
    new: str
    tests: tuple[str, ...]
    accepted: str = ""   # why surviving is fine (an equivalent mutant); empty: it must die


CACHE = ("tests/robustness/test_cache_integrity.py",)
PICKLE = ("tests/io/test_safe_pickle.py", "tests/sources/test_wesad.py")
SPLITS = ("tests/evaluation/test_splits.py",)
SIGNAL = ("tests/test_signal.py",)
LABELS = ("tests/test_labels.py",)
PREPROCESS = ("tests/test_preprocess.py", "tests/test_signal.py", "tests/store/test_store.py")
RECOGNIZER = ("tests/inference/test_recognizer.py",)
FOLLOW = ("tests/inference/test_follow_faults.py",)
TRAINING = ("tests/training/test_training.py",)

MUTANTS = [
    # -- the six breaks of issue 16 ------------------------------------------------------------
    Mutant("identity-ignores-source-options", "sources/base.py",
           '"options": {k: _jsonable(v) for k, v in sorted(self.options.items())}}',
           '"options": {}}', CACHE),
    Mutant("unpickler-allows-builtins", "io/safe_pickle.py",
           'if ({"__builtin__": "builtins"}.get(module, module), name) in _ALLOWED:',
           'if module in ("builtins", "__builtin__") or '
           '({"__builtin__": "builtins"}.get(module, module), name) in _ALLOWED:', PICKLE),
    Mutant("resume-restarts-at-step-0", "training/loop.py",
           "saved = load_checkpoint(last_dir, model, optimizer)",
           'saved = {"steps_per_epoch": spe}', TRAINING),
    Mutant("predict-reports-class-0", "inference/recognizer.py",
           "engine(windows)[:, 1]", "engine(windows)[:, 0]", RECOGNIZER),
    Mutant("leak-guard-drops-val-test-rows", "evaluation/splits.py",
           'for a, b in (("train", "val"), ("train", "test"), ("val", "test")):',
           'for a, b in (("train", "val"), ("train", "test")):', SPLITS),
    Mutant("leak-guard-drops-val-test-groups", "evaluation/splits.py",
           '(("test", k_test, "train", k_train), ("test", k_test, "val", k_val),',
           '(("test", k_test, "train", k_train),', SPLITS),
    Mutant("resample-drops-offset", "signal.py",
           "window=window) + offset", "window=window)", SIGNAL),
    Mutant("noise-passes-as-ecg", "preprocess.py",
           '"noise": (sig.beat_correlation(windows, config.fs, peaks) < config.min_beat_correlation)\n'
           "        | (sig.kurtosis(windows) < config.min_kurtosis),",
           '"noise": np.zeros(len(windows), dtype=bool),', SIGNAL),
    # -- labels --------------------------------------------------------------------------------
    Mutant("threshold-strictness-swapped", "labels.py",
           "high = rating > cut if self.strict else rating >= cut",
           "high = rating >= cut if self.strict else rating > cut", LABELS),
    Mutant("per-subject-stat-over-windows", "labels.py",
           'trials = table.drop_duplicates(subset=["subject", "trial"]) if "trial" in table.columns \\\n'
           "            else table", "trials = table", LABELS),
    Mutant("nan-rating-becomes-a-label", "labels.py",
           "y[rating.isna() | cut.isna()] = np.nan", "y[cut.isna()] = np.nan", LABELS),
    Mutant("median-rule-uses-mean", "labels.py",
           'stat = "median" if self.kind == "median-per-subject" else "mean"', 'stat = "mean"',
           LABELS),
    # -- splits --------------------------------------------------------------------------------
    Mutant("subjects-merged-across-datasets", "evaluation/splits.py",
           'cols = {"subject": ["dataset", "subject"], "trial": ["dataset", "subject", "trial"]}[by]',
           'cols = {"subject": ["subject"], "trial": ["subject", "trial"]}[by]', SPLITS),
    Mutant("loso-not-group-checked", "evaluation/splits.py",
           'by = {"subject": "subject", "loso": "subject", "trial": "trial"}.get(protocol)',
           'by = {"subject": "subject", "trial": "trial"}.get(protocol)', SPLITS),
    Mutant("validation-may-take-every-group", "evaluation/splits.py",
           "return int(min(max(1, round(fraction * n)), n - 1))",
           "return int(max(1, round(fraction * n)))", SPLITS),
    # -- safe_pickle ---------------------------------------------------------------------------
    Mutant("unpickler-allows-getattr", "io/safe_pickle.py",
           '    ("builtins", "list"),', '    ("builtins", "list"),\n    ("builtins", "getattr"),',
           PICKLE),
    Mutant("security-error-downgraded", "io/safe_pickle.py",
           "    except SecurityError:\n        raise",
           "    except SecurityError as exc:\n        raise DataError(source, str(exc)) from None",
           PICKLE),
    Mutant("unpickler-trusts-numpy", "io/safe_pickle.py",
           'if ({"__builtin__": "builtins"}.get(module, module), name) in _ALLOWED:',
           'if module.startswith("numpy") or '
           '({"__builtin__": "builtins"}.get(module, module), name) in _ALLOWED:', PICKLE),
    # -- store identity ------------------------------------------------------------------------
    Mutant("files-not-fingerprinted", "store/build.py",
           "h.update(file_fingerprint(Path(f)).encode())", "pass", CACHE),
    Mutant("label-rule-not-in-identity", "store/build.py",
           '"config": config.to_dict(), "label_rule": label_rule,', '"config": config.to_dict(),',
           CACHE),
    Mutant("dtype-not-in-identity", "store/build.py",
           '"config": config.to_dict(),',
           '"config": {k: v for k, v in config.to_dict().items() if k != "dtype"},', CACHE),
    Mutant("fingerprint-ignores-file-end", "sources/base.py",
           "                fh.seek(max(_SAMPLE_BYTES, st.st_size - _SAMPLE_BYTES))\n"
           "                h.update(fh.read(_SAMPLE_BYTES))", "                pass", CACHE),
    Mutant("item-params-not-in-identity", "store/build.py",
           "h.update(repr(item.params).encode())", "pass", CACHE,
           accepted="equivalent: every item param is read from a file the identity already "
                    "fingerprints (manifest rows, label sheets, headers), or from an option"),
    # -- preprocess ----------------------------------------------------------------------------
    Mutant("long-gap-windows-kept", "preprocess.py",
           "keep = ~in_gap", "keep = np.ones_like(in_gap)", PREPROCESS),
    Mutant("label-purity-ignored", "preprocess.py",
           "impure = keep & (purity < config.min_label_purity)", "impure = keep & (purity < 0.0)",
           PREPROCESS),
    Mutant("windows-not-normalised", "preprocess.py",
           "windows = sig.zscore(windows)", "windows = windows", PREPROCESS),
    Mutant("clipping-never-flagged", "preprocess.py",
           "> config.clip_fraction * raw_len", "> raw_len", PREPROCESS),
    Mutant("heart-rate-range-ignored", "preprocess.py",
           '"heart_rate": ~((hr >= lo_bpm) & (hr <= hi_bpm)),', '"heart_rate": np.isnan(hr),',
           PREPROCESS),
    Mutant("windows-cut-one-sample-late", "preprocess.py",
           "win_starts = np.round(starts_s * config.fs).astype(np.int64)",
           "win_starts = np.round(starts_s * config.fs).astype(np.int64) + 1", PREPROCESS),
    Mutant("mains-notch-never-applied", "preprocess.py",
           'notch_hz = rec.meta.get("mains_hz") if config.notch_hz == "auto" else config.notch_hz',
           'notch_hz = None if config.notch_hz == "auto" else config.notch_hz', PREPROCESS),
    Mutant("beat-template-includes-the-beat", "signal.py",
           "others = beats.sum(axis=0) - beats", "others = beats.sum(axis=0) + 0 * beats", SIGNAL),
    # -- recogniser ----------------------------------------------------------------------------
    Mutant("low-quality-windows-predicted", "inference/recognizer.py",
           "            good &= ~flags[f]", "            pass", RECOGNIZER),
    Mutant("probabilities-on-wrong-rows", "inference/recognizer.py",
           "col[good] = p", "col[good] = p[::-1]", RECOGNIZER),
    Mutant("gap-flag-lost", "inference/recognizer.py",
           'flags["gap"] = ~have', 'flags["gap"] = np.zeros(n, dtype=bool)', RECOGNIZER),
    # -- follow --------------------------------------------------------------------------------
    Mutant("restart-loses-pending-windows", "inference/follow.py",
           "                yield from shifted(stream.flush())\n", "                stream.flush()\n",
           FOLLOW),
    Mutant("truncation-unnoticed", "inference/follow.py",
           "elif st.st_size < self.offset:", "elif False:", FOLLOW),
    Mutant("bad-line-is-fatal", "inference/follow.py",
           'value = float("nan")', 'raise DataError(self.path, "non-numeric")', FOLLOW),
    # -- training ------------------------------------------------------------------------------
    Mutant("no-warmup", "training/loop.py",
           "return cfg.lr * (step + 1) / warmup", "return cfg.lr", TRAINING),
]


def _copy_tree(dest: Path) -> Path:
    """``src/``, ``tests/``, ``pyproject.toml`` (+ a link to ../shared) in ``dest``."""
    main = dest / "main"
    main.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, main / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", main / "pyproject.toml")
    if (ROOT.parent / "shared").exists():
        (dest / "shared").symlink_to(ROOT.parent / "shared")
    return main


def _pytest(main: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str]:
    env = {**os.environ, "PYTHONPATH": str(main / "src"), "OMP_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.time()
    try:
        done = subprocess.run(cmd, cwd=main, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.time() - t0, ""
    status = {0: "passed", 1: "failed"}.get(done.returncode, f"error (pytest exit {done.returncode})")
    return status, time.time() - t0, (done.stdout + done.stderr)[-3000:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per test run")
    args = ap.parse_args()
    mutants = [m for m in MUTANTS if not args.only or m.id in args.only.split(",")]
    if args.list:
        for m in mutants:
            print(f"{m.id:36s} {m.file:28s} {' '.join(m.tests)}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        main_dir = _copy_tree(Path(tmp))
        baseline = {}
        for tests in dict.fromkeys(m.tests for m in mutants):
            baseline[tests], seconds, output = _pytest(main_dir, tests, args.timeout)
            print(f"baseline {' '.join(tests)}: {baseline[tests]} ({seconds:.0f} s)", flush=True)
            if baseline[tests] != "passed":
                print(output, flush=True)
        for m in mutants:
            path = main_dir / "src" / "ecgemotion" / m.file
            original = path.read_text()
            count = original.count(m.old)
            if count != 1:
                status, seconds = f"stale (text found {count} times)", 0.0
            elif baseline[m.tests] != "passed":
                status, seconds = "not judged (tests fail unmutated)", 0.0
            else:
                path.write_text(original.replace(m.old, m.new))
                try:
                    outcome, seconds, _ = _pytest(main_dir, m.tests, args.timeout)
                finally:
                    path.write_text(original)
                status = {"failed": "killed", "passed": "survived"}.get(outcome, outcome)
            results.append({**asdict(m), "status": status, "seconds": round(seconds, 1)})
            print(f"{status:10s} {m.id} ({seconds:.0f} s)" + (f"  accepted: {m.accepted}"
                                                               if status == "survived" and m.accepted
                                                               else ""), flush=True)
    killed = sum(r["status"] == "killed" for r in results)
    accepted = sum(r["status"] == "survived" and bool(r["accepted"]) for r in results)
    unexplained = [r["id"] for r in results if r["status"] not in ("killed",)
                   and not (r["status"] == "survived" and r["accepted"])]
    summary = {"mutants": len(results), "killed": killed, "kill_rate": round(killed / max(1, len(results)), 3),
               "accepted_survivors": accepted, "unexplained": unexplained}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, indent=1))
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
