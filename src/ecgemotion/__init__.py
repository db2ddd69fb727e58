"""ecgemotion: Transformer-based self-supervised emotion recognition from ECG.

The data flow runs one way: a *source* reads a dataset's files into
:class:`Recording` objects, :mod:`ecgemotion.signal` cleans and windows them,
:mod:`ecgemotion.store` keeps the windows on disk, and the models, training and
evaluation packages consume the store.
"""

__version__ = "0.1.0"

from ecgemotion.errors import DataError, EcgEmotionError, SecurityError  # noqa: E402
from ecgemotion.recording import Recording  # noqa: E402

__all__ = ["__version__", "DataError", "EcgEmotionError", "Recording", "SecurityError"]
