"""Read MATLAB ``.mat`` files of every version into the same Python shapes.

MATLAB v4/v5/v7 files are read with :func:`scipy.io.loadmat` and
``simplify_cells=True``; MATLAB v7.3 files are HDF5 and are read with h5py, then
converted to exactly the shapes ``simplify_cells`` gives, so that a source never
needs to know which version it was handed:

- numeric and logical arrays are returned in MATLAB orientation (HDF5 stores them
  transposed), squeezed, and 1×1 arrays become Python scalars;
- ``char`` arrays become ``str`` (a char matrix becomes an array of row strings);
- a struct becomes a ``dict`` of its fields; a struct array becomes a ``list`` of dicts;
- a cell becomes a squeezed object ``ndarray`` of its elements, or a ``list`` when its
  first element is a struct (scipy's rule); a 1×1 cell becomes its element.

HDF5 layout of v7.3 files (MathWorks "MAT-File Versions" page, and the public
readers ``hdf5storage`` and ``mat73``): each variable is a dataset or group at the
root carrying a ``MATLAB_class`` attribute; cells are datasets of object references
into the ``#refs#`` group; structs are groups whose children are the fields
(``MATLAB_fields`` gives their order); struct arrays are groups whose fields are
reference datasets without ``MATLAB_class``; empty arrays carry ``MATLAB_empty=1``
and store their dimensions as data; ``char`` is ``uint16`` UTF-16 code units.

Errors are :class:`~ecgemotion.errors.DataError` naming the file: empty, truncated,
corrupt or not-MAT files, and missing variables (``expected variable 'joined_data',
found: a, b, c``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgemotion.errors import DataError

__all__ = ["as_cells", "is_mat73", "list_variables", "load_mat", "numeric_matrix"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_mat73(path: str | Path) -> bool:
    """True when ``path`` is an HDF5 (MATLAB v7.3) file.

    The HDF5 superblock sits at offset 0, 512, 1024... (MATLAB writes a 512-byte
    user block holding its text header, so the signature is at 512).
    """
    try:
        with open(path, "rb") as fh:
            for offset in (0, 512, 1024, 2048):
                fh.seek(offset)
                if fh.read(8) == _HDF5_SIGNATURE:
                    return True
    except OSError:
        return False
    return False


def load_mat(path: str | Path, variables: Sequence[str] | str | None = None) -> dict[str, Any]:
    """Read ``variables`` (all when None) from a MATLAB file of any version.

    Returns a dict ``{name: value}`` without scipy's ``__header__`` entries.
    Raises :class:`DataError` when the file cannot be read or lacks a variable.
    """
    path = Path(path)
    if isinstance(variables, str):
        variables = [variables]
    wanted = list(variables) if variables is not None else None
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise DataError(path, "empty file, expected a MATLAB .mat file")
    if is_mat73(path):
        out = _load_h5(path, wanted)
    else:
        out = _load_v5(path, wanted)
    if wanted is not None:
        missing = [name for name in wanted if name not in out]
        if missing:
            found = list_variables(path)
            what = (f"variable '{missing[0]}'" if len(missing) == 1
                    else "variables " + ", ".join(f"'{m}'" for m in missing))
            raise DataError(path, f"expected {what}, found: {', '.join(found) or '(no variables)'}")
    return out


def list_variables(path: str | Path) -> list[str]:
    """Names of the variables stored in a MATLAB file (any version)."""
    path = Path(path)
    if is_mat73(path):
        import h5py
        try:
            with h5py.File(path, "r") as f:
                return [k for k in f.keys() if not k.startswith("#")]
        except Exception as exc:  # noqa: BLE001 - any h5py failure means unreadable
            raise _unreadable(path, exc) from None
    import scipy.io
    try:
        return [name for name, _shape, _cls in scipy.io.whosmat(str(path))]
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(path, exc) from None


def as_cells(value: Any) -> list[Any]:
    """The elements of a cell array loaded by :func:`load_mat`, as a list.

    Accepts the object ``ndarray`` or ``list`` a cell becomes, and also the bare
    element a 1×1 cell is squeezed into (a dict, a string or a numeric array
    that is *not* an object array), which becomes a one-element list. Multi-
    dimensional cells are read in MATLAB's column-major order.
    """
    if isinstance(value, list):
        return list(value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel(order="F"))
    if value is None:
        return []
    return [value]


# ---------------------------------------------------------------- v4 / v5 / v7


def _unreadable(path: Path, exc: BaseException) -> DataError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(path, f"not a readable MATLAB file, truncated or corrupt ({type(exc).__name__}: {msg})")


def _load_v5(path: Path, wanted: list[str] | None) -> dict[str, Any]:
    import warnings

    import scipy.io
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = scipy.io.loadmat(str(path), simplify_cells=True, variable_names=wanted)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - scipy raises many types on corrupt input
        raise _unreadable(path, exc) from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


# ---------------------------------------------------------------- v7.3 (HDF5)


def _load_h5(path: Path, wanted: list[str] | None) -> dict[str, Any]:
    import h5py
    out: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            names = [k for k in f.keys() if not k.startswith("#")]
            for name in names:
                if wanted is not None and name not in wanted:
                    continue
                out[name] = _h5_value(f, f[name])
    except DataError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated HDF5 raises OSError, KeyError...
        raise _unreadable(path, exc) from None
    return out


def _attr_str(obj: Any, name: str) -> str:
    value = obj.attrs.get(name)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "S":
            return b"".join(value.ravel().tolist()).decode("ascii", "replace")
        return str(value.ravel()[0]) if value.size else ""
    return str(value)


def _matlab_order(arr: np.ndarray) -> np.ndarray:
    """HDF5 stores MATLAB arrays with the axes reversed; undo that."""
    return np.asarray(arr).transpose(tuple(range(arr.ndim))[::-1]) if arr.ndim > 1 else np.asarray(arr)


def _squeeze(arr: np.ndarray) -> Any:
    arr = np.squeeze(arr)
    if arr.ndim == 0:
        return arr.item()
    return arr


def _field_names(group: Any) -> list[str]:
    fields = group.attrs.get("MATLAB_fields")
    names: list[str] = []
    if fields is not None:
        for entry in np.asarray(fields, dtype=object).ravel():
            if isinstance(entry, bytes):
                names.append(entry.decode("ascii", "replace"))
            else:
                names.append(b"".join(np.asarray(entry).ravel().tolist()).decode("ascii", "replace"))
    keys = [k for k in group.keys() if not k.startswith("#")]
    ordered = [n for n in names if n in group]
    return ordered + [k for k in keys if k not in ordered]


def _h5_value(f: Any, obj: Any) -> Any:
    import h5py
    if isinstance(obj, h5py.Group):
        return _h5_group(f, obj)
    cls = _attr_str(obj, "MATLAB_class")
    if obj.attrs.get("MATLAB_empty") is not None and int(np.asarray(obj.attrs["MATLAB_empty"]).ravel()[0]):
        if cls == "char":
            return ""
        if cls == "cell":
            return np.empty((0,), dtype=object)
        return np.zeros((0,))
    data = obj[()]
    if cls == "cell" or (obj.dtype == h5py.ref_dtype and cls == ""):
        return _h5_cell(f, np.asarray(data))
    data = _matlab_order(np.asarray(data))
    if cls == "char":
        return _h5_char(data, int(np.asarray(obj.attrs.get("MATLAB_int_decode", 2)).ravel()[0]))
    if cls == "logical":
        return _squeeze(data.astype(bool))
    if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):
        data = data["real"] + 1j * data["imag"]
    if data.dtype.kind not in "biufc":
        return None  # MATLAB objects (string, table, function_handle...) are not supported
    return _squeeze(data)


def _h5_char(codes: np.ndarray, decode: int) -> Any:
    codes = np.atleast_2d(codes)
    enc = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}.get(decode, "utf-16-le")
    dtype = {1: "<u1", 2: "<u2", 4: "<u4"}.get(decode, "<u2")
    rows = [codes[i].astype(dtype).tobytes().decode(enc, "replace") for i in range(codes.shape[0])]
    return rows[0] if len(rows) == 1 else np.array(rows)


def _h5_cell(f: Any, refs: np.ndarray) -> Any:
    refs = _matlab_order(refs)
    out = np.empty(refs.shape, dtype=object)
    for idx in np.ndindex(refs.shape):
        out[idx] = _h5_value(f, f[refs[idx]])
    return _simplify_cell(out)


def _simplify_cell(cell: np.ndarray) -> Any:
    """scipy's ``squeeze_me`` + ``simplify_cells`` rules for a cell array."""
    squeezed = np.squeeze(cell)
    if squeezed.ndim == 0:
        return squeezed.item()
    if isinstance(squeezed.flat[0], dict):
        return _nested_list(squeezed)
    return squeezed


def _nested_list(arr: np.ndarray) -> list[Any]:
    if arr.ndim == 1:
        return list(arr)
    return [_nested_list(arr[i]) if isinstance(arr[i], np.ndarray) else arr[i] for i in range(arr.shape[0])]


def _h5_group(f: Any, group: Any) -> Any:
    import h5py
    cls = _attr_str(group, "MATLAB_class")
    if group.attrs.get("MATLAB_sparse") is not None:
        return _h5_sparse(group)
    names = _field_names(group)
    # A struct array stores each field as a reference dataset without MATLAB_class.
    is_array = bool(names) and all(
        isinstance(group[n], h5py.Dataset) and group[n].dtype == h5py.ref_dtype
        and not _attr_str(group[n], "MATLAB_class") for n in names)
    if cls not in ("", "struct") and not is_array:
        return None  # MATLAB objects (containers.Map, table...) are not supported
    if not is_array:
        return {n: _h5_value(f, group[n]) for n in names}
    shape = _matlab_order(np.asarray(group[names[0]][()])).shape
    elems = np.empty(shape, dtype=object)
    columns = {n: _matlab_order(np.asarray(group[n][()])) for n in names}
    for idx in np.ndindex(shape):
        elems[idx] = {n: _h5_value(f, f[columns[n][idx]]) for n in names}
    squeezed = np.squeeze(elems)
    if squeezed.ndim == 0:
        return squeezed.item()
    return _nested_list(squeezed)


def _h5_sparse(group: Any) -> Any:
    from scipy.sparse import csc_matrix
    n_rows = int(np.asarray(group.attrs["MATLAB_sparse"]).ravel()[0])
    jc = np.asarray(group["jc"][()]).ravel().astype(np.int64)
    ir = np.asarray(group["ir"][()]).ravel().astype(np.int64) if "ir" in group else np.zeros(0, np.int64)
    data = np.asarray(group["data"][()]).ravel() if "data" in group else np.zeros(0)
    mat = csc_matrix((data, ir, jc), shape=(n_rows, len(jc) - 1)).toarray()
    return _squeeze(mat)


def numeric_matrix(value: Any, where: str | Path, what: str, ndim: int = 2) -> np.ndarray:
    """``value`` as a float ndarray with ``ndim`` dimensions (a 1-D vector becomes a column).

    Raises :class:`DataError` naming ``where`` and ``what`` when it is not numeric.
    """
    if isinstance(value, (list, dict, str)) or (isinstance(value, np.ndarray) and value.dtype == object):
        raise DataError(where, f"expected {what} to be a numeric array, found {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DataError(where, f"expected {what} to be a numeric array, found dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim == 2 and arr.ndim == 1:
        arr = arr[:, None]
    if ndim == 2 and arr.ndim == 0:
        arr = arr.reshape(1, 1)
    return arr


def scalar(value) -> float:
    """A MATLAB scalar (however deeply wrapped) as a float; NaN when it is missing or not a
    number, for the caller to report with the file's name."""
    try:
        return float(np.asarray(value, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return float("nan")
