"""Outcomes of the bad-input tests, shared between the tests and conftest's summary hook."""

RESULTS: dict[str, dict] = {}


def record(name: str, outcome: str, handled: bool, detail: str = "") -> None:
    RESULTS[name] = {"outcome": outcome, "handled": handled, "detail": detail}
