"""Shared test settings: a private cache so tests never touch the user's."""

import os
from pathlib import Path

import pytest

from tests.real_data import CINC, MITDB, SHARED_DATA, extract_records, have_archives

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Wheels downloaded by network tests are kept across tests in one session.
    if "ECGEMOTION_CACHE" not in os.environ or not os.environ.get("ECGEMOTION_TEST_KEEP_CACHE"):
        monkeypatch.setenv("ECGEMOTION_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def real_data(tmp_path_factory) -> Path:
    """mitdb/ and cinc2017/ subsets of the real archives; reused across runs when
    $ECGEMOTION_TEST_DATA is set."""
    if not have_archives():
        pytest.skip(f"PhysioNet archives not found in {SHARED_DATA}")
    env = os.environ.get("ECGEMOTION_TEST_DATA")
    root = Path(env) / "wfdb-subset" if env else tmp_path_factory.mktemp("wfdb-subset")
    if not (root / ".complete").exists():
        root.mkdir(parents=True, exist_ok=True)
        extract_records(root, MITDB, CINC)
        (root / ".complete").touch()
    return root


@pytest.fixture(scope="session")
def amigos_store(tmp_path_factory):
    """A labelled store of 6 subjects in the AMIGOS layout (20 s per trial), built once and
    read by the evaluation, hybrid and prediction tests."""
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store
    from tests.fixtures.emotion_layouts import write_amigos

    root = tmp_path_factory.mktemp("amigos")
    write_amigos(root / "amigos", subjects=range(1, 7), seconds=20, couple_ratings=True,
                 empty_long=())
    store, _ = build_store([get_source("amigos", root / "amigos", skip_subjects="none")],
                           PreprocessConfig(), out_dir=root / "stores", label_rule="threshold:5",
                           workers=1)
    return store


@pytest.fixture(scope="session")
def mm_store(tmp_path_factory):
    """A labelled multimodal store (ECG, 14 EEG channels, GSR) of 4 subjects x 3 trials x 20 s
    in the AMIGOS layout, read by the multimodal evaluation and pre-training tests."""
    from ecgemotion.preprocess import PreprocessConfig
    from ecgemotion.sources import get_source
    from ecgemotion.store import build_store
    from tests.fixtures.emotion_layouts import write_amigos

    root = tmp_path_factory.mktemp("mm-eval")
    write_amigos(root / "raw", subjects=range(1, 5), n_trials=3, seconds=20, couple_ratings=True,
                 empty_long=())
    store, _ = build_store([get_source("amigos", root / "raw")],
                           PreprocessConfig(modalities=("ecg", "eeg", "eda")), out_dir=root / "s",
                           label_rule="threshold:5", workers=1)
    return store
