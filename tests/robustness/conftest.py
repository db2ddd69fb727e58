"""Records the outcome of every bad input and prints ``N bad inputs tried, N handled``."""

from __future__ import annotations

from tests.robustness._results import RESULTS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS:
        return
    tried = len(RESULTS)
    handled = sum(r["handled"] for r in RESULTS.values())
    by_outcome: dict[str, int] = {}
    for r in RESULTS.values():
        by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
    terminalreporter.write_sep("-", "robustness corpus")
    terminalreporter.write_line(f"{tried} bad inputs tried, {handled} handled "
                                f"({', '.join(f'{k}: {v}' for k, v in sorted(by_outcome.items()))})")
    for name, r in sorted(RESULTS.items()):
        if not r["handled"]:
            terminalreporter.write_line(f"  NOT handled: {name}: {r['outcome']}: {r['detail']}")


def pytest_sessionfinish(session, exitstatus):
    import json
    import os

    path = os.environ.get("ECGEMOTION_ROBUSTNESS_REPORT")
    if path and RESULTS:
        with open(path, "w") as fh:
            json.dump(RESULTS, fh, indent=1, sort_keys=True)
