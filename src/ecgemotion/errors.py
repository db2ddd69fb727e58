"""Exceptions a user can act on.

Every message names the file (when there is one), what was expected and what was
found; the CLI prints it on one line and exits with status 2, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class EcgEmotionError(Exception):
    """Base class: an error caused by the user's input or environment, not a bug."""


class DataError(EcgEmotionError):
    """A file or recording is unusable.

    ``DataError(path, "expected X, found Y")`` renders as ``path: expected X, found Y``.
    """

    def __init__(self, path: str | Path | None, message: str):
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class SecurityError(EcgEmotionError):
    """Refused to load something that could execute code or escape its folder."""


class ConfigError(EcgEmotionError):
    """An option or argument is invalid."""
