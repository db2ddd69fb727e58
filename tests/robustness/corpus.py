"""A generator of bad inputs for every source and the generic formats.

Each :class:`BadInput` knows how to write itself into a fresh folder and returns
the ``ecgemotion prepare`` arguments that read it, the text that any error or skip
must mention (usually the offending file's name), and which outcomes count as
handled:

- ``error``: exit status 2, one ``error: ...`` line on stderr naming the file, no traceback;
- ``skip``: the run finishes and a counted skip (``summary["skipped"]``) names the file;
- ``warned``: the run finishes and a warning names the file (documented behaviour,
  e.g. ASCERTAIN without its self-report file gives unlabelled recordings);
- ``dropped``: the offending windows are dropped and counted (``summary["dropped"]``:
  ``long_gap`` for long NaN/Inf runs, ``non_finite`` for values that overflow);
- ``flagged``: the windows are kept but carry a quality flag (all-zero → flat,
  clipped → clipped), so ``store.select()`` never hands them to a model;
- ``ok``: a valid-but-unusual input (a MATLAB v7.3 file) that must simply work.

Whatever the outcome, no store may contain a NaN/Inf window.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

from ecgemotion.synthetic import ecg
from tests.fixtures.emotion_layouts import (cell, truncate, write_amigos, write_ascertain,
                                            write_dreamer, write_mat73, write_pspm)
from tests.fixtures.other_layouts import (write_csv, write_edf, write_malicious_wesad,
                                          write_manifest, write_npy, write_wesad, write_wfdb)

MARKER_NAME = "PWNED_MARKER"


@dataclass
class Case:
    argv: list[str]                     # prepare arguments (without --out/--workers/--json)
    mention: str                        # text the error / skip / warning must contain
    expect: frozenset[str]              # allowed outcomes
    read: Path | None = None            # also run read_signal on this path
    read_fs: float | None = None
    marker: Path | None = None          # must never exist afterwards
    extra: dict = field(default_factory=dict)


@dataclass
class BadInput:
    name: str
    build: Callable[[Path], Case]
    skip_if: Callable[[], str | None] = lambda: None   # a reason to skip honestly


E, S, W, F, D, OK = "error", "skip", "warned", "flagged", "dropped", "ok"


def _expect(*outcomes: str) -> frozenset[str]:
    return frozenset(outcomes)


# --------------------------------------------------------------------------- AMIGOS
def _amigos(defect: str, *, mat_format: str = "v5"):
    def build(tmp: Path) -> Case:
        truth = write_amigos(tmp / "amigos", subjects=(1, 2), n_trials=4, seconds=10,
                             defects=(defect,) if defect else (), mat_format=mat_format)
        name = truth.files[1].name
        return Case(["--dataset", "amigos", "--root", str(tmp / "amigos")], name,
                    _expect(S) if defect else _expect(OK))
    return build


def amigos_v73_corrupt(tmp: Path) -> Case:
    truth = write_amigos(tmp / "amigos", subjects=(1, 2), n_trials=3, seconds=10, mat_format="v7.3")
    path = truth.files[1]
    data = bytearray(path.read_bytes())
    # keep the HDF5 signature at 512 but wreck the superblock and most of the body
    for i in range(600, len(data), 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    return Case(["--dataset", "amigos", "--root", str(tmp / "amigos")], path.name, _expect(S))


def amigos_string_variable(tmp: Path) -> Case:
    path = tmp / "amigos" / "Data_Preprocessed_P01.mat"
    path.parent.mkdir(parents=True)
    scipy.io.savemat(str(path), {"joined_data": "not a cell of matrices",
                                 "labels_selfassessment": "nor this"})
    return Case(["--dataset", "amigos", "--root", str(tmp / "amigos")], path.name, _expect(S))


def amigos_complex_trials(tmp: Path) -> Case:
    path = tmp / "amigos" / "Data_Preprocessed_P01.mat"
    path.parent.mkdir(parents=True)
    x = (np.random.default_rng(0).standard_normal((1280, 17)) * (1 + 1j))
    scipy.io.savemat(str(path), {"joined_data": cell([x]), "labels_selfassessment": cell([np.ones((1, 12))])})
    return Case(["--dataset", "amigos", "--root", str(tmp / "amigos")], path.name, _expect(S))


def amigos_no_mat_files(tmp: Path) -> Case:
    root = tmp / "amigos"
    root.mkdir()
    (root / "README.txt").write_text("the .mat files were never unzipped\n")
    return Case(["--dataset", "amigos", "--root", str(root)], str(root), _expect(E))


# --------------------------------------------------------------------------- DREAMER
def _dreamer(defect: str):
    def build(tmp: Path) -> Case:
        truth = write_dreamer(tmp / "d", subjects=2, n_videos=3, seconds=10, baseline_seconds=10,
                              defects=(defect,), eeg=False)
        return Case(["--dataset", "dreamer", "--root", str(truth.files["all"])], "DREAMER.mat", _expect(S))
    return build


def dreamer_wrong_variable(tmp: Path) -> Case:
    path = tmp / "d" / "DREAMER.mat"
    path.parent.mkdir(parents=True)
    scipy.io.savemat(str(path), {"dreamer_v2": {"Data": cell([1.0])}})
    return Case(["--dataset", "dreamer", "--root", str(path)], "DREAMER.mat", _expect(S))


# --------------------------------------------------------------------------- ASCERTAIN
def _ascertain(defect: str, expect=frozenset({S})):
    def build(tmp: Path) -> Case:
        write_ascertain(tmp / "asc", subjects=(1, 2), n_clips=2, seconds=12, defects=(defect,))
        mention = {"no_ratings": "Dt_SelfReports.mat", "bad_ratings_shape": "Dt_SelfReports.mat"}.get(
            defect, "ECG_Clip")
        return Case(["--dataset", "ascertain", "--root", str(tmp / "asc")], mention, expect)
    return build


def ascertain_truncated_clip(tmp: Path) -> Case:
    truth = write_ascertain(tmp / "asc", subjects=(1,), n_clips=2, seconds=12)
    clip = truth.files[1] / "ECG_Clip2.mat"
    truncate(clip, 0.4)
    return Case(["--dataset", "ascertain", "--root", str(tmp / "asc")], str(clip), _expect(S))


def ascertain_truncated_ratings(tmp: Path) -> Case:
    truth = write_ascertain(tmp / "asc", subjects=(1,), n_clips=2, seconds=12)
    truncate(truth.files["ratings"], 0.3)
    return Case(["--dataset", "ascertain", "--root", str(tmp / "asc")], "Dt_SelfReports.mat", _expect(S))


# --------------------------------------------------------------------------- PsPM
def _pspm(defect: str):
    def build(tmp: Path) -> Case:
        truth = write_pspm(tmp / "p", subjects=(1, 2), seconds=12, defects=(defect,))
        return Case(["--dataset", "pspm", "--root", str(tmp / "p")], truth.files[1].name, _expect(S))
    return build


def pspm_truncated(tmp: Path) -> Case:
    truth = write_pspm(tmp / "p", subjects=(1, 2), seconds=12)
    truncate(truth.files[1], 0.5)
    return Case(["--dataset", "pspm", "--root", str(tmp / "p")], truth.files[1].name, _expect(S))


# --------------------------------------------------------------------------- WESAD
def wesad_malicious_pickle(tmp: Path) -> Case:
    marker = tmp / MARKER_NAME
    path = write_malicious_wesad(tmp / "w", marker)
    return Case(["--dataset", "wesad", "--root", str(tmp / "w")], path.name, _expect(S), marker=marker)


def wesad_truncated_pickle(tmp: Path) -> Case:
    write_wesad(tmp / "w", subjects=("S2",))
    path = tmp / "w" / "S2" / "S2.pkl"
    truncate(path, 0.5)
    return Case(["--dataset", "wesad", "--root", str(tmp / "w")], path.name, _expect(S))


def wesad_not_a_dict(tmp: Path) -> Case:
    path = tmp / "w" / "S3" / "S3.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps([1.0, 2.0, 3.0], protocol=2))
    return Case(["--dataset", "wesad", "--root", str(tmp / "w")], path.name, _expect(S))


# --------------------------------------------------------------------------- .npy
def _npy_array(arr_fn, expect, fs: str | None = "250", name: str = "bad.npy", read: bool = True,
               extra: tuple[str, ...] = ()):
    def build(tmp: Path) -> Case:
        root = tmp / "npy"
        root.mkdir()
        write_npy(root / "good.npy", seconds=20, fs=250)
        path = root / name
        np.save(path, arr_fn(), allow_pickle=True)
        argv = ["--dataset", "npy", "--root", str(root)] + (["--fs", fs] if fs else []) + list(extra)
        return Case(argv, name, expect, read=path if read else None,
                    read_fs=float(fs) if fs else None)
    return build


def _ecg20():
    return ecg(20, 250, seed=3)


def _nan_inf_mixed():
    x = _ecg20()
    x[1000:1100] = np.nan           # 0.4 s: repaired
    x[2000:2500] = np.inf           # 2 s of +Inf: windows dropped
    x[3000:3010] = -np.inf
    return x


def _clipped():
    return np.clip(_ecg20() * 5, -0.5, 0.5)


def _npy_raw(data: bytes, name: str, expect=frozenset({S})):
    def build(tmp: Path) -> Case:
        root = tmp / "npy"
        root.mkdir()
        write_npy(root / "good.npy", seconds=20, fs=250)
        path = root / name
        path.write_bytes(data)
        return Case(["--dataset", "npy", "--root", str(root), "--fs", "250"], name, expect,
                    read=path, read_fs=250.0)
    return build


def npy_without_fs(tmp: Path) -> Case:
    write_npy(tmp / "x.npy", seconds=20)
    return Case(["--dataset", "npy", "--root", str(tmp / "x.npy")], "x.npy", _expect(E, S),
                read=tmp / "x.npy")


def npy_fs_negative(tmp: Path) -> Case:
    write_npy(tmp / "x.npy", seconds=20)
    return Case(["--dataset", "npy", "--root", str(tmp / "x.npy"), "--fs=-5"], "sampling rate",
                _expect(E), read=tmp / "x.npy", read_fs=-5.0)


def npy_fs_nan(tmp: Path) -> Case:
    write_npy(tmp / "x.npy", seconds=20)
    return Case(["--dataset", "npy", "--root", str(tmp / "x.npy"), "--fs", "nan"], "sampling rate",
                _expect(E), read=tmp / "x.npy", read_fs=float("nan"))


def directory_instead_of_file(tmp: Path) -> Case:
    root = tmp / "npy"
    (root / "looks_like.npy").mkdir(parents=True)
    (root / "looks_like.npy" / "inner.txt").write_text("x")
    return Case(["--dataset", "npy", "--root", str(root / "looks_like.npy"), "--fs", "250"],
                "looks_like.npy", _expect(E), read=root / "looks_like.npy", read_fs=250.0)


def _running_as_root() -> str | None:
    if os.geteuid() == 0:
        return "running as root: chmod 000 does not block reads (see unreadable_proc_mem)"
    return None


def unreadable_chmod(tmp: Path) -> Case:
    root = tmp / "npy"
    root.mkdir()
    write_npy(root / "good.npy", seconds=20, fs=250)
    write_npy(root / "locked.npy", seconds=20, fs=250)
    os.chmod(root / "locked.npy", 0)
    return Case(["--dataset", "npy", "--root", str(root), "--fs", "250"], "locked.npy", _expect(E, S),
                read=root / "locked.npy", read_fs=250.0)


def unreadable_proc_mem(tmp: Path) -> Case:
    """A file that exists, stats as a regular file and fails every read (EIO), even for root."""
    root = tmp / "npy"
    root.mkdir()
    write_npy(root / "good.npy", seconds=20, fs=250)
    os.symlink("/proc/self/mem", root / "eio.npy")
    return Case(["--dataset", "npy", "--root", str(root), "--fs", "250"], "eio.npy", _expect(E, S),
                read=root / "eio.npy", read_fs=250.0)


# --------------------------------------------------------------------------- CSV / EDF / WFDB
def _csv_text(content: bytes, name: str = "bad.csv", fs: str | None = "250"):
    def build(tmp: Path) -> Case:
        root = tmp / "csv"
        root.mkdir()
        write_csv(root / "good.csv", seconds=20, fs=250)
        path = root / name
        path.write_bytes(content)
        return Case(["--dataset", "csv", "--root", str(root)] + (["--fs", fs] if fs else []), name,
                    _expect(S), read=path, read_fs=float(fs) if fs else None)
    return build


def _ragged() -> bytes:
    rows = ["time,ecg"] + [f"{i / 250:.4f},{np.sin(i / 10):.4f}" for i in range(3000)]
    rows[1500] += ",7,8"
    return ("\n".join(rows) + "\n").encode()


def _latin1() -> bytes:
    rows = ["temps,électrode"] + [f"{i / 250:.4f},{np.sin(i / 10):.4f}" for i in range(3000)]
    return ("\n".join(rows) + "\n").encode("latin-1")


def _backwards_time() -> bytes:
    rows = ["time,ecg"] + [f"{(3000 - i) / 250:.4f},{np.sin(i / 10):.4f}" for i in range(3000)]
    return ("\n".join(rows) + "\n").encode()


def _text_cell() -> bytes:
    rows = ["time,ecg"] + [f"{i / 250:.4f},{np.sin(i / 10):.4f}" for i in range(3000)]
    rows[42] = "0.1680,lead-off"
    return ("\n".join(rows) + "\n").encode()


def edf_truncated(tmp: Path) -> Case:
    root = tmp / "edf"
    root.mkdir()
    write_edf(root / "good.edf", seconds=20)
    write_edf(root / "cut.edf", seconds=20)
    truncate(root / "cut.edf", 0.4)
    return Case(["--dataset", "edf", "--root", str(root)], "cut.edf", _expect(S), read=root / "cut.edf")


def edf_garbage(tmp: Path) -> Case:
    root = tmp / "edf"
    root.mkdir()
    write_edf(root / "good.edf", seconds=20)
    (root / "junk.edf").write_bytes(os.urandom(4096))
    return Case(["--dataset", "edf", "--root", str(root)], "junk.edf", _expect(S), read=root / "junk.edf")


def wfdb_missing_dat(tmp: Path) -> Case:
    data = tmp / "m"
    hea = write_wfdb(data, "rec", seconds=20)
    (data / "rec.dat").unlink()
    write_npy(data / "ok.npy", seconds=20, fs=250)
    manifest = write_manifest(data, [{"path": "rec.hea", "subject": "u1", "trial": "t1"},
                                     {"path": "ok.npy", "fs": 250, "subject": "u2", "trial": "t1"}])
    return Case(["--dataset", "manifest", "--root", str(manifest)], "rec.hea", _expect(S), read=hea)


# --------------------------------------------------------------------------- manifest
def _manifest(rows: list[dict], mention: str, expect, setup=None):
    def build(tmp: Path) -> Case:
        data = tmp / "study"
        data.mkdir()
        write_npy(data / "a.npy", seconds=20, fs=250)
        if setup:
            setup(tmp, data)
        manifest = write_manifest(data, rows)
        return Case(["--dataset", "manifest", "--root", str(manifest)], mention, expect)
    return build


def _outside_file(tmp: Path, data: Path) -> None:
    write_npy(tmp / "secret.npy", seconds=20, fs=250)


def manifest_non_utf8(tmp: Path) -> Case:
    data = tmp / "study"
    data.mkdir()
    write_npy(data / "a.npy", seconds=20, fs=250)
    (data / "manifest.csv").write_bytes("path,fs,subject,trial,lead,arousal\na.npy,250,Jürgen,t1,,5\n"
                                        .encode("latin-1"))
    return Case(["--dataset", "manifest", "--root", str(data / "manifest.csv")], "manifest.csv",
                _expect(E, S))


def manifest_empty_file(tmp: Path) -> Case:
    (tmp / "manifest.csv").write_bytes(b"")
    return Case(["--dataset", "manifest", "--root", str(tmp / "manifest.csv")], "manifest.csv", _expect(E))


def mat_generic_strings(tmp: Path) -> Case:
    """A generic .mat (through a manifest) whose only variables are text and a bool."""
    data = tmp / "study"
    data.mkdir()
    scipy.io.savemat(str(data / "words.mat"), {"ecg": "not numbers", "flag": True})
    write_npy(data / "a.npy", seconds=20, fs=250)
    manifest = write_manifest(data, [{"path": "words.mat", "fs": 250, "subject": "u1", "trial": "t1"},
                                     {"path": "a.npy", "fs": 250, "subject": "u2", "trial": "t1"}])
    return Case(["--dataset", "manifest", "--root", str(manifest)], "words.mat", _expect(S),
                read=data / "words.mat", read_fs=250.0)


def mat_generic_v73_corrupt(tmp: Path) -> Case:
    data = tmp / "study"
    data.mkdir()
    write_mat73(data / "sig.mat", {"ecg": ecg(20, 250, seed=1), "fs": 250.0})
    truncate(data / "sig.mat", 0.5)
    write_npy(data / "a.npy", seconds=20, fs=250)
    manifest = write_manifest(data, [{"path": "sig.mat", "subject": "u1", "trial": "t1"},
                                     {"path": "a.npy", "fs": 250, "subject": "u2", "trial": "t1"}])
    return Case(["--dataset", "manifest", "--root", str(manifest)], "sig.mat", _expect(S),
                read=data / "sig.mat")


def mat_generic_v73_valid(tmp: Path) -> Case:
    data = tmp / "study"
    data.mkdir()
    write_mat73(data / "sig.mat", {"ecg": ecg(20, 250, seed=1), "fs": 250.0})
    manifest = write_manifest(data, [{"path": "sig.mat", "subject": "u1", "trial": "t1"}])
    return Case(["--dataset", "manifest", "--root", str(manifest)], "sig.mat", _expect(OK))


# --------------------------------------------------------------------------- the corpus
CORPUS: list[BadInput] = [
    # AMIGOS
    BadInput("amigos_truncated_mat", _amigos("truncated")),
    BadInput("amigos_missing_variable", _amigos("no_labels")),
    BadInput("amigos_wrong_shape_trial", _amigos("wrong_columns")),
    BadInput("amigos_all_nan_trial", _amigos("all_nan")),
    BadInput("amigos_string_variables", amigos_string_variable),
    BadInput("amigos_complex_dtype", amigos_complex_trials),
    BadInput("amigos_folder_without_mat", amigos_no_mat_files),
    BadInput("amigos_mat73_valid", _amigos("", mat_format="v7.3")),
    BadInput("amigos_mat73_corrupt", amigos_v73_corrupt),
    BadInput("amigos_mat73_truncated", _amigos("truncated", mat_format="v7.3")),
    # DREAMER
    BadInput("dreamer_truncated_mat", _dreamer("truncated")),
    BadInput("dreamer_missing_rate", _dreamer("no_rate")),
    BadInput("dreamer_one_lead_shape", _dreamer("one_lead")),
    BadInput("dreamer_zero_length_baseline", _dreamer("empty_baseline")),
    BadInput("dreamer_all_nan_stimulus", _dreamer("all_nan_stim")),
    BadInput("dreamer_wrong_variable_name", dreamer_wrong_variable),
    # ASCERTAIN
    BadInput("ascertain_truncated_clip", ascertain_truncated_clip),
    BadInput("ascertain_truncated_selfreports", ascertain_truncated_ratings),
    BadInput("ascertain_without_selfreports", _ascertain("no_ratings", frozenset({W}))),
    BadInput("ascertain_ratings_wrong_shape", _ascertain("bad_ratings_shape")),
    BadInput("ascertain_too_few_columns", _ascertain("few_columns")),
    # PsPM
    BadInput("pspm_truncated_mat", pspm_truncated),
    BadInput("pspm_missing_infos", _pspm("no_infos")),
    BadInput("pspm_no_ecg_channel", _pspm("no_ecg")),
    BadInput("pspm_matrix_ecg", _pspm("matrix_data")),
    # WESAD
    BadInput("wesad_malicious_pickle", wesad_malicious_pickle),
    BadInput("wesad_truncated_pickle", wesad_truncated_pickle),
    BadInput("wesad_not_a_dict", wesad_not_a_dict),
    # .npy signals and dtypes
    BadInput("npy_all_nan", _npy_array(lambda: np.full(5000, np.nan), _expect(S))),
    BadInput("npy_all_inf", _npy_array(lambda: np.full(5000, np.inf), _expect(S))),
    BadInput("npy_nan_inf_mixed", _npy_array(_nan_inf_mixed, _expect(D))),
    BadInput("npy_all_zero", _npy_array(lambda: np.zeros(5000), _expect(F))),
    BadInput("npy_clipped", _npy_array(_clipped, _expect(F))),
    BadInput("npy_amplitude_1e9", _npy_array(lambda: _ecg20() * 1e9, _expect(OK, F))),
    BadInput("npy_amplitude_1e300", _npy_array(lambda: _ecg20() * 1e300, _expect(OK, F, S))),
    BadInput("npy_float_max", _npy_array(lambda: np.where(np.arange(5000) % 2, 1.7e308, -1.7e308),
                                         _expect(OK, F, S))),
    BadInput("npy_1e9_float16_unnormalised", _npy_array(lambda: _ecg20() * 1e9, _expect(D),
                                                        extra=("--dtype", "float16", "--normalize", "none"))),
    BadInput("npy_1e300_float32_unnormalised", _npy_array(lambda: _ecg20() * 1e300, _expect(D),
                                                          extra=("--normalize", "none"))),
    BadInput("npy_strings", _npy_array(lambda: np.array(["1.0", "2.0"] * 2500), _expect(S))),
    BadInput("npy_complex", _npy_array(lambda: _ecg20() * (1 + 1j), _expect(S))),
    BadInput("npy_bool", _npy_array(lambda: _ecg20() > 0.3, _expect(OK, F))),
    BadInput("npy_object_pickle", _npy_array(lambda: np.array([{"a": 1}, None], dtype=object), _expect(S))),
    BadInput("npy_zero_length", _npy_array(lambda: np.zeros(0), _expect(S))),
    BadInput("npy_3d", _npy_array(lambda: np.zeros((10, 10, 50)), _expect(S))),
    BadInput("npy_shorter_than_window", _npy_array(lambda: _ecg20()[:500], _expect(S))),
    BadInput("npy_empty_file", _npy_raw(b"", "empty.npy")),
    BadInput("npy_garbage_header", _npy_raw(b"\x93NUMPY\x01\x00garbage" + os.urandom(200), "junk.npy")),
    BadInput("npy_without_fs", npy_without_fs),
    BadInput("npy_fs_negative", npy_fs_negative),
    BadInput("npy_fs_nan", npy_fs_nan),
    BadInput("directory_where_file_expected", directory_instead_of_file),
    BadInput("unreadable_chmod_000", unreadable_chmod, skip_if=_running_as_root),
    BadInput("unreadable_eio", unreadable_proc_mem),
    # text / EDF / WFDB / .mat through the generic readers
    BadInput("csv_non_utf8", _csv_text(_latin1())),
    BadInput("csv_ragged_row", _csv_text(_ragged())),
    BadInput("csv_time_goes_backwards", _csv_text(_backwards_time())),
    BadInput("csv_text_in_numeric_column", _csv_text(_text_cell())),
    BadInput("csv_header_only", _csv_text(b"time,ecg\n")),
    BadInput("csv_empty_file", _csv_text(b"")),
    BadInput("csv_binary_garbage", _csv_text(bytes(range(256)) * 40)),
    BadInput("edf_truncated", edf_truncated),
    BadInput("edf_garbage", edf_garbage),
    BadInput("wfdb_missing_dat", wfdb_missing_dat),
    BadInput("mat_only_strings_and_bool", mat_generic_strings),
    BadInput("mat73_generic_truncated", mat_generic_v73_corrupt),
    BadInput("mat73_generic_valid", mat_generic_v73_valid),
    # manifests
    BadInput("manifest_fs_negative", _manifest([{"path": "a.npy", "fs": -5, "subject": "u", "trial": "t"}],
                                               "manifest.csv: line 2", _expect(E))),
    BadInput("manifest_fs_nan", _manifest([{"path": "a.npy", "fs": "nan", "subject": "u", "trial": "t"}],
                                          "manifest.csv: line 2", _expect(E))),
    BadInput("manifest_fs_missing_for_npy", _manifest([{"path": "a.npy", "subject": "u", "trial": "t"}],
                                                      "a.npy", _expect(S))),
    BadInput("manifest_escapes_root", _manifest([{"path": "../secret.npy", "fs": 250, "subject": "u",
                                                  "trial": "t"}], "escapes", _expect(E), _outside_file)),
    BadInput("manifest_absolute_path", _manifest([{"path": "/etc/passwd", "fs": 250, "subject": "u",
                                                   "trial": "t"}], "/etc/passwd", _expect(E))),
    BadInput("manifest_missing_file", _manifest([{"path": "gone.npy", "fs": 250, "subject": "u", "trial": "t"},
                                                 {"path": "a.npy", "fs": 250, "subject": "v", "trial": "t"}],
                                                "gone.npy", _expect(S))),
    BadInput("manifest_non_utf8", manifest_non_utf8),
    BadInput("manifest_empty_file", manifest_empty_file),
]
