"""Baselines: HRV features + classical classifiers (``hrv``), Sarkar & Etemad's signal
transformations for the transformation-recognition pretext task (``transformations``)."""
