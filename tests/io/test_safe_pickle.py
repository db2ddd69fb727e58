"""The restricted unpickler: malicious pickles of every protocol are refused before they run,
and the allow-list is exactly what rebuilding numpy arrays and builtin containers needs."""

from __future__ import annotations

import functools
import io
import os
import pickle
import subprocess
from collections import OrderedDict

import numpy as np
import pytest

from ecgemotion.errors import DataError, SecurityError
from ecgemotion.io import safe_pickle
from ecgemotion.io.safe_pickle import safe_load, safe_loads


class Reduce:
    """Pickles as ``func(*args)``; ``func`` and ``args`` may themselves be ``Reduce`` (a chain)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):  # pickle wants a callable in the func slot of a chain
        raise AssertionError("never called while pickling")


def _touch(marker) -> str:
    return f"open({str(marker)!r}, 'w').close()"


PAYLOADS = {
    "builtins.exec": lambda m: Reduce(exec, _touch(m)),
    "builtins.eval": lambda m: Reduce(eval, _touch(m)),
    "builtins.getattr": lambda m: Reduce(Reduce(getattr, Reduce(__import__, "os"), "system"),
                                         f"touch '{m}'"),
    "builtins.__import__": lambda m: Reduce(__import__, "os"),
    "builtins.open": lambda m: Reduce(open, str(m), "w"),
    "os.system": lambda m: Reduce(os.system, f"touch '{m}'"),
    "subprocess.Popen": lambda m: Reduce(subprocess.Popen, ["touch", str(m)]),
    "functools.partial chain": lambda m: Reduce(functools.partial(
        functools.partial(os.system), f"touch '{m}'")),
    "nested in dicts": lambda m: {"subject": "S2", "signal": {"chest": {
        "ECG": Reduce(os.system, f"touch '{m}'")}}},
    "in a numpy object array": lambda m: np.array([1.0, Reduce(exec, _touch(m))], dtype=object),
    "in an ndarray's state": lambda m: [np.zeros(3), {"label": np.array(
        [Reduce(os.system, f"touch '{m}'")], dtype=object)}],
}


def _dumps(obj, protocol: int) -> bytes:
    try:
        return pickle.dumps(obj, protocol=protocol)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        pytest.fail(f"the payload itself could not be pickled: {exc}")


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_malicious_pickle_is_refused_and_nothing_runs(payload, protocol, tmp_path):
    marker = tmp_path / "pwned"
    data = _dumps(PAYLOADS[payload](marker), protocol)
    with pytest.raises(SecurityError, match="refused to unpickle"):
        safe_loads(data, "evil.pkl")
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(SecurityError, match="evil.pkl"):
        safe_load(path)
    assert not marker.exists()
    # the unrestricted loader would have run it (the payload is real), except the
    # __import__ one, which only imports
    if payload != "builtins.__import__":
        try:
            live = pickle.loads(data)  # noqa: S301 - deliberately, to prove the payload is live
        except Exception:  # noqa: BLE001 - some chains fail after their side effect
            live = None
        if isinstance(live, subprocess.Popen):
            live.wait()
        assert marker.exists(), f"{payload}: the payload does not actually do anything"


def test_allow_list_is_exactly_numpy_and_builtin_containers():
    """Widening the list (a whole module, a callable) must be a deliberate, reviewed change."""
    assert safe_pickle._ALLOWED == {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "set"),
        ("builtins", "frozenset"), ("builtins", "bytes"), ("builtins", "bytearray"), ("builtins", "slice"),
        ("builtins", "complex"), ("collections", "OrderedDict"), ("_codecs", "encode"),
    }
    unpickler = safe_pickle._RestrictedUnpickler(io.BytesIO(), "x.pkl")
    for module, name in [("builtins", "exec"), ("__builtin__", "eval"), ("numpy", "load"),
                         ("numpy.testing._private.utils", "runstring"), ("os", "system")]:
        with pytest.raises(SecurityError, match=f"{module}.{name}"):
            unpickler.find_class(module, name)


@pytest.mark.parametrize("protocol", range(6))
def test_legitimate_data_round_trips(protocol):
    data = {
        "f64": np.linspace(0, 1, 7), "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "bool": np.array([True, False]),
        "c128": np.array([1 + 2j]), "scalar": np.float32(1.5), "int": np.int64(-3),
        "empty": np.zeros((0, 3)), "numbers": np.array([1, 2.5, None], dtype=object),
        "containers": [(1, 2), {3, 4}, frozenset({5}), bytearray(b"ab"), slice(1, 9, 2), 1 + 1j,
                       OrderedDict(a=1)], "text": "S2", "bytes": b"\x00\xff",
    }
    out = safe_loads(pickle.dumps(data, protocol=protocol))
    assert out.keys() == data.keys()
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            assert out[key].dtype == value.dtype and out[key].shape == value.shape
            assert out[key].flags.f_contiguous == value.flags.f_contiguous
            assert all(a == b or (a is None and b is None) for a, b in
                       zip(out[key].ravel().tolist(), value.ravel().tolist()))
        else:
            assert out[key] == value and type(out[key]) is type(value), key


def test_not_a_pickle_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="x.pkl: not a readable pickle"):
        safe_loads(b"\x80\x04definitely not", "x.pkl")
    with pytest.raises(DataError, match="cannot read"):
        safe_load(tmp_path / "missing.pkl")
