"""ecgemotion: Transformer-based self-supervised emotion recognition from ECG.

The data flow runs one way: a *source* reads a dataset's files into
:class:`Recording` objects, :mod:`ecgemotion.signal` cleans and windows them,
:mod:`ecgemotion.store` keeps the windows on disk, and the models, training and
evaluation packages consume the store.
"""

__version__ = "0.1.0"

from ecgemotion.errors import DataError, EcgEmotionError, SecurityError  # noqa: E402
from ecgemotion.recording import Recording  # noqa: E402

__all__ = ["__version__", "DataError", "EcgEmotionError", "Recording", "SecurityError", "embed",
           "fit"]


def __getattr__(name: str):
    """``embed`` and ``fit`` (:mod:`ecgemotion.api`) load torch on first use only."""
    if name in ("embed", "fit"):
        from ecgemotion import api

        return getattr(api, name)
    raise AttributeError(f"module 'ecgemotion' has no attribute {name!r}")
