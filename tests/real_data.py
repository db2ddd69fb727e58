"""Subsets of the real PhysioNet archives in ../shared/data, extracted for tests."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# the records the tests read (extracted once per session by the ``real_data`` fixture)
MITDB = ["100", "102", "108", "114", "201", "202", "x_mitdb/x_108"]
CINC_FIRST = [f"A{i:05d}" for i in range(1, 11)]          # what tests/sources/test_wfdb.py reads
CINC = CINC_FIRST + [
    # downstream-pool records of >= 30 s for the probe test: 3 N + 3 A in the pool, the same in
    # the fixed test records
    "A00021", "A00025", "A00037", "A00027", "A00054", "A00101", "A00155", "A00264", "A00321"]


def have_archives() -> bool:
    return (SHARED_DATA / "mitdb.tar.gz").exists() and (SHARED_DATA / "cinc2017.tar.gz").exists()


def extract(archive: Path, dest: Path, wanted: set[str]) -> None:
    """Stream the archive once and write only ``wanted`` members (by our own path, no traversal)."""
    left = set(wanted)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name in left and member.isfile():
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                left.discard(member.name)
                if not left:
                    break
    if left:
        raise RuntimeError(f"{archive}: members not found: {sorted(left)}")


def extract_records(dest: Path, mitdb: list[str], cinc: list[str]) -> Path:
    """``dest/mitdb`` and ``dest/cinc2017`` (with REFERENCE.csv) holding the given records."""
    extract(SHARED_DATA / "mitdb.tar.gz", dest, {f"mitdb/{r}.{e}" for r in mitdb for e in ("hea", "dat")})
    extract(SHARED_DATA / "cinc2017.tar.gz", dest,
            {f"cinc2017/{r}.{e}" for r in cinc for e in ("hea", "mat")} | {"cinc2017/REFERENCE.csv"})
    return dest
