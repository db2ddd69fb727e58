"""Honest evaluation: leakage-aware protocols (``splits``) and metrics/statistics (``metrics``)."""
