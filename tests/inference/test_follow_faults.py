"""``--follow`` on a live file that misbehaves: truncated, replaced, rewritten in place, a line
cut short. The run goes on, says what happened, and every window already due is emitted.

The file is changed between two polls by the ``sleep`` that ``follow`` calls (no threads:
each fault lands at a known point), and the predictions come from a real recogniser."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from ecgemotion.inference import EmotionRecognizer
from ecgemotion.inference.follow import TextTail, follow
from tests.inference.conftest import synthetic

FS = 250.0


def _lines(x: np.ndarray) -> str:
    return "".join(f"{v:.5f}\n" for v in x)


def _run(models_dir, path, actions):
    """Follow ``path``; before each poll after the first, run the next action."""
    recognizer = EmotionRecognizer.from_pretrained(models_dir / "arousal")
    todo, notices = list(actions), []

    def sleep(_):
        if todo:
            todo.pop(0)()
        else:
            time.sleep(0.3)   # nothing left to do: let the idle timeout end the run

    predictions = list(follow(TextTail(path, fs=FS), lambda fs, units: recognizer.stream(fs),
                              idle_timeout_s=1.0, sleep=sleep, notice=notices.append, poll_s=0))
    return recognizer, predictions, notices


def _alone(recognizer, x):
    """What a stream of ``x`` alone (as written: 5 decimals) predicts, flushed at its end."""
    stream = recognizer.stream(FS)
    return stream.push(np.round(x, 5)) + stream.flush()


def _same(a, b, shift=0.0):
    assert [p.start_s for p in a] == [p.start_s + shift for p in b]
    np.testing.assert_allclose([p.probabilities["arousal"] for p in a],
                               [p.probabilities["arousal"] for p in b], atol=1e-5)


def _replace(path, text):
    tmp = path.with_name("new.csv")
    tmp.write_text(text)
    return [lambda: os.replace(tmp, path)]   # another inode under the same name


def _append(path, text):
    with path.open("a") as fh:
        fh.write(text)


def _truncate(path, text):
    return [lambda: os.truncate(path, 0), lambda: _append(path, text)]


def _rewrite(path, text):
    return [lambda: path.write_text(text)]    # same inode, longer, other bytes


@pytest.mark.parametrize("fault,word", [(_truncate, "truncated"), (_replace, "replaced"),
                                        (_rewrite, "rewritten")])
def test_a_file_that_starts_over_is_a_new_segment(models_dir, tmp_path, fault, word):
    first, second = synthetic(30, FS, seed=1), synthetic(44, FS, seed=2)
    path = tmp_path / "live.csv"
    path.write_text("ecg\n" + _lines(first))
    recognizer, got, notices = _run(models_dir, path, fault(path, "ecg\n" + _lines(second)))
    assert len(notices) == 1 and word in notices[0] and "new segment" in notices[0]
    old, new = _alone(recognizer, first), _alone(recognizer, second)
    assert len(old) == 11 and len(new) == 18       # hop 2 s: every window of each content
    _same(got[:len(old)], old)                     # none of the old content's windows lost
    _same(got[len(old):], new, shift=30.0)         # the new content, after it in time
    assert all(p.good for p in got)


def test_lines_cut_short_cost_one_sample_and_the_run_goes_on(models_dir, tmp_path):
    x = synthetic(36, FS, seed=3)
    n = int(12 * FS)
    path = tmp_path / "live.csv"
    path.write_text("ecg\n" + _lines(x[:n]))

    def append(text):
        return lambda: _append(path, text)

    cut = f"{x[n]:.5f}"
    recognizer, got, notices = _run(models_dir, path, [
        append(cut[:3]),                           # half a line: not read yet ...
        append(cut[3:] + "\n" + _lines(x[n + 1:2 * n])),   # ... completed: read once
        append("0.12"),                            # a writer dies mid-line, another appends:
        append("0.3456\n" + _lines(x[2 * n + 1:-1])),      # '0.120.3456' is no number
        append(f"{x[-1]:.5f}"),                    # the last line never gets its newline
    ])
    assert len(notices) == 2
    assert "line 6002: '0.120.3456' has no number" in notices[0] and "missing sample" in notices[0]
    assert "has no newline" in notices[1]
    y = x.copy()
    y[2 * n] = np.nan                              # the garbled line: one missing sample
    _same(got, _alone(recognizer, y))
    assert len(got) == 14 and all(p.good for p in got)
