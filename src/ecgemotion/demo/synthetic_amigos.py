"""A SYNTHETIC emotion data set written in the AMIGOS pre-processed file layout.

No emotion data set can be downloaded without a licence agreement, so the demo
makes one whose physiology follows the ratings plausibly, and writes it exactly as
AMIGOS ships (``Data_Preprocessed_PNN/Data_Preprocessed_PNN.mat`` with
``joined_data``, ``labels_selfassessment``, ``VideoIDs``) so that the real
``amigos`` source reads it unchanged.

How ratings shape the ECG (directions from the affective-physiology literature:
higher arousal → faster heart and lower heart-rate variability; valence is weakly
expressed in cardiac morphology, modelled here through the T wave):

- every trial has a *felt* arousal and valence (1–9); the ECG follows the felt state;
- the *reported* rating is the felt one plus noise (``label_noise`` rating units),
  so some labels disagree with the physiology, as self-reports do;
- each subject has their own resting heart rate, HRV, QRS width, R amplitude and
  sensitivity to arousal (0.3–1.3 × the population effect), so a model must
  generalise across people, and the heart rate drifts within every trial;
- the EEG and GSR columns carry arousal too, each through its own trial-level
  expression noise (``modality_noise``): occipital-weighted 10 Hz alpha weakens with
  arousal (alpha desynchronisation), and skin-conductance responses come more often and
  larger. Each modality carries a partial, independently noisy share of the felt state —
  about as much as the ECG's heart rate — so that combining them genuinely helps: with
  an expression noise of 1 rating unit the EEG alone came close to what the noisy labels
  allow and left fusion nothing to add (features + logistic regression, 24 subjects:
  EEG 0.79, all three 0.79 balanced accuracy; with 2 units and stronger skin responses:
  EEG 0.70, EDA 0.70, HRV 0.71, all three 0.75). They are drawn from a second random
  stream, so the ECG is the same as without them.

Everything written carries the word SYNTHETIC: a ``README_SYNTHETIC.txt`` in the
root and a ``synthetic`` variable in every file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ecgemotion.synthetic import BeatShape, ecg

FS = 128.0
N_COLUMNS = 17          # 14 EEG, ECG Right (14), ECG Left (15), GSR (16)
LONG_VIDEO_IDS = ("N1", "P1", "B1", "U1")


@dataclass(frozen=True)
class EmotionEffects:
    """Population effects per unit of rating above the scale's middle (5 on 1–9)."""

    hr_bpm_per_unit: float = 2.5        # ±10 bpm between ratings 1 and 9
    hrv_ms_per_unit: float = -4.0       # less variability when aroused
    t_amp_per_unit: float = 0.06        # valence → T-wave amplitude (±24 %)
    label_noise: float = 1.5            # SD of report noise, rating units
    drift_bpm: float = 3.0              # slow within-trial heart-rate drift (SD)
    alpha_uv_per_unit: float = -1.2    # EEG alpha amplitude (µV; 6 µV at rest)
    scr_per_min_per_unit: float = 3.0   # skin-conductance responses per minute (6 at rest)
    modality_noise: float = 2.0         # SD of each modality's own trial-level deviation


def cell(items: Any, column: bool = False) -> np.ndarray:
    """A MATLAB 1×n (or n×1) cell: an object array filled element by element (so that
    equal-shaped items are not merged into one numeric array)."""
    items = list(items)
    out = np.empty((len(items), 1) if column else (1, len(items)), dtype=object)
    for i, item in enumerate(items):
        out.flat[i] = item
    return out


def write_amigos_participant(path: Path, trials: list[np.ndarray], ratings: list[np.ndarray],
                             video_ids: list[str], extra: dict[str, Any] | None = None) -> Path:
    """Write one ``Data_Preprocessed_PNN.mat`` with AMIGOS' variable nesting.

    ``trials``: (samples × 17) float arrays; ``ratings``: length-12 rows (five 1–9
    ratings, then seven 0/1 emotions). Cells are 1 × n object arrays, as MATLAB saves them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    variables = {
        "joined_data": cell(trials),
        "labels_selfassessment": cell([np.asarray(r, dtype=float).reshape(1, -1) for r in ratings]),
        "labels_ext_annotation": cell([np.zeros((max(1, len(t) // int(20 * FS)), 3)) for t in trials]),
        "VideoIDs": cell(list(video_ids)),
        **(extra or {}),
    }
    scipy.io.savemat(path, variables, do_compression=False)
    return path


# Emotiv electrodes over the occiput and parietal cortex, where alpha is strongest.
ALPHA_WEIGHT = np.array([0.5, 0.5, 0.6, 0.6, 0.8, 1.2, 1.5, 1.5, 1.2, 0.8, 0.6, 0.6, 0.5, 0.5])


def eeg_alpha(n: int, arousal: float, effects: EmotionEffects, rng: np.random.Generator
              ) -> np.ndarray:
    """(n × 14) alpha rhythm (9–11 Hz, own phase per electrode) whose amplitude falls as
    ``arousal`` (rating units from the middle) rises."""
    t = np.arange(n) / FS
    amp = max(0.5, 6.0 + effects.alpha_uv_per_unit * arousal)
    freq = rng.uniform(9.0, 11.0)
    envelope = 1.0 + 0.3 * np.sin(2 * np.pi * t * rng.uniform(0.1, 0.3))
    phases = rng.uniform(0, 2 * np.pi, 14)
    return amp * ALPHA_WEIGHT * envelope[:, None] * np.sin(2 * np.pi * freq * t[:, None] + phases)


def skin_responses(n: int, arousal: float, effects: EmotionEffects, rng: np.random.Generator
                   ) -> np.ndarray:
    """Skin-conductance responses (µS): Poisson onsets, more frequent and larger with
    ``arousal``, each a rise-and-decay (Bateman) curve."""
    rate_per_s = max(1.0, 6.0 + effects.scr_per_min_per_unit * arousal) / 60.0
    onsets = np.flatnonzero(rng.random(n) < rate_per_s / FS)
    t = np.arange(int(10 * FS)) / FS
    kernel = np.exp(-t / 2.0) - np.exp(-t / 0.75)
    kernel /= kernel.max()
    out = np.zeros(n + len(kernel))
    for onset in onsets:
        out[onset:onset + len(kernel)] += rng.uniform(0.05, 0.15) * max(0.3, 1 + 0.15 * arousal) * kernel
    return out[:n]


def participant_file(root: Path, number: int) -> Path:
    name = f"Data_Preprocessed_P{number:02d}"
    return Path(root) / name / f"{name}.mat"


def write_synthetic_amigos(root: str | Path, subjects: int = 12, trials: int = 16,
                           seconds: float = 60.0, effects: EmotionEffects = EmotionEffects(),
                           seed: int = 0, first_participant: int = 1) -> dict[str, Any]:
    """Write ``subjects`` synthetic participants of ``trials`` videos each; return a summary.

    Participant numbers avoid the ones the ``amigos`` source skips by default
    (9, 12, 21, 22, 23, 24, 33), so every synthetic subject is used.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    skip = {9, 12, 21, 22, 23, 24, 33}
    numbers = [n for n in range(first_participant, 100) if n not in skip][:subjects]
    n = int(round(seconds * FS))
    t = np.arange(n) / FS
    video_ids = [str(v) for v in rng.choice(np.arange(1, 150), size=trials, replace=False)]
    reported = []
    for number in numbers:
        person = {"rest_hr": rng.uniform(60, 82), "rest_hrv": rng.uniform(30, 60),
                  "sensitivity": rng.uniform(0.3, 1.3), "qrs": rng.uniform(0.85, 1.2),
                  "r_amp": rng.uniform(0.6, 1.5), "t_amp": rng.uniform(0.7, 1.3),
                  "noise": rng.uniform(0.01, 0.05)}
        data, rows = [], []
        side = np.random.default_rng([seed, number])   # EEG/GSR: the ECG stream stays as it was
        for _ in range(trials):
            felt = rng.uniform(1, 9, size=2)                  # arousal, valence
            a, v = (felt - 5.0) * person["sensitivity"]
            hr = person["rest_hr"] + effects.hr_bpm_per_unit * a
            hrv = max(8.0, person["rest_hrv"] + effects.hrv_ms_per_unit * a)
            shape = BeatShape(qrs_scale=person["qrs"], r_amp=person["r_amp"],
                              t_amp=max(0.2, person["t_amp"] * (1 + effects.t_amp_per_unit * v)))
            x = ecg(seconds, FS, hr_bpm=hr, hrv_ms=hrv, shape=shape, noise_mv=person["noise"],
                    seed=rng)
            # a slow heart-rate drift: time-warp the trial by a smooth random factor
            drift = effects.drift_bpm / max(hr, 1.0) * np.sin(2 * np.pi * t / seconds * rng.uniform(0.5, 1.5))
            warped = np.cumsum(1.0 + drift)
            warped = (warped - warped[0]) / (warped[-1] - warped[0]) * (n - 1)
            left = np.interp(warped, np.arange(n), x)
            matrix = np.empty((n, N_COLUMNS))
            matrix[:, :14] = rng.standard_normal((n, 14)) * 5.0                  # EEG background
            matrix[:, 14] = -0.8 * left + 0.02 * rng.standard_normal(n)          # ECG Right
            matrix[:, 15] = left                                                   # ECG Left
            matrix[:, 16] = 2.0 + np.cumsum(rng.standard_normal(n)) * 0.002        # GSR tonic drift
            expressed = a + side.normal(0, effects.modality_noise, 2)             # EEG, GSR
            matrix[:, :14] += eeg_alpha(n, expressed[0], effects, side)
            matrix[:, 16] += skin_responses(n, expressed[1], effects, side)
            said = np.clip(np.round(felt + rng.normal(0, effects.label_noise, 2), 1), 1, 9)
            ratings = np.concatenate([said, np.round(rng.uniform(1, 9, 3), 1),
                                      (rng.random(7) < 0.3).astype(float)])
            data.append(matrix)
            rows.append(ratings)
            reported.append(said)
        write_amigos_participant(participant_file(root, number), data, rows, video_ids,
                                 extra={"synthetic": "SYNTHETIC data made by ecgemotion.demo"})
    (root / "README_SYNTHETIC.txt").write_text(
        "SYNTHETIC data in the AMIGOS pre-processed layout, generated by ecgemotion "
        "(ecgemotion.demo.synthetic_amigos). It is NOT AMIGOS and contains no recording of any "
        f"person.\nParameters: {asdict(effects)}; subjects={subjects}, trials={trials}, "
        f"seconds={seconds}, seed={seed}\n")
    said = np.asarray(reported)
    return {"root": str(root), "subjects": len(numbers), "trials_per_subject": trials,
            "seconds_per_trial": seconds, "hours": round(len(numbers) * trials * seconds / 3600, 3),
            "participants": [f"P{k:02d}" for k in numbers], "effects": asdict(effects),
            "share_high_arousal": round(float((said[:, 0] >= 5).mean()), 3),
            "share_high_valence": round(float((said[:, 1] >= 5).mean()), 3), "synthetic": True}
