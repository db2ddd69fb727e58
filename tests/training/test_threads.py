"""The torch thread count is chosen from the idle cores, said out loud, and overridable."""

import os

import pytest
import torch

from ecgemotion.errors import ConfigError
from ecgemotion.training import threads


def test_idle_cores_minus_load(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 0, 0))
    assert threads.choose_threads()[0] == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0, 0))
    assert threads.choose_threads()[0] == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0, 0))
    assert threads.choose_threads()[0] == 1                     # never below one


def test_override_and_message(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        assert "2 (--threads" in threads.configure_threads(2) and torch.get_num_threads() == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert "1 (OMP_NUM_THREADS" in threads.configure_threads() and torch.get_num_threads() == 1
        with pytest.raises(ConfigError):
            threads.configure_threads(0)
    finally:
        torch.set_num_threads(before)
