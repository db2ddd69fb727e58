"""``predict --follow --serve``: a local web page that shows a stream as it is predicted.

Standard library only: :mod:`http.server` in a background thread serves one static page
(``live.html``: plain JavaScript and canvas, nothing fetched from anywhere else, so it works
offline) and ``/data.json``, a snapshot of the last minutes: the ECG as a min/max envelope
(QRS peaks stay visible at any zoom) and every window's heart rate, probabilities and
quality flags. The page polls the snapshot once a second. ``predict --serve`` binds it to
the loopback address unless ``--host`` says otherwise.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import numpy as np

from ecgemotion.inference.prediction import FLAGS, Prediction
from ecgemotion.inference.stream import RingBuffer


class LiveState:
    """The last ``minutes`` of a stream, shared between the follow loop and the server."""

    def __init__(self, tasks: list[str], source: str = "", minutes: float = 2.0, bins: int = 1200):
        self.tasks, self.source, self.minutes, self.bins = list(tasks), source, minutes, bins
        self.lock = threading.Lock()
        self.fs: float | None = None
        self.units = ""
        self.ring: RingBuffer | None = None
        self.windows: deque[dict] = deque()
        self.count = 0

    def add_samples(self, x: np.ndarray, fs: float) -> None:
        with self.lock:
            if self.ring is None:
                self.fs = fs
                self.ring = RingBuffer(int(self.minutes * 60 * fs))
            self.ring.write(np.asarray(x, dtype=float))

    def add(self, pred: Prediction) -> None:
        row = {"start_s": pred.start_s, "end_s": pred.end_s, "good": bool(pred.good),
               "flags": [k for k, v in pred.flags.items() if v],
               "heart_rate_bpm": _finite(pred.heart_rate),
               "p": {t: _finite(pred.probabilities.get(t)) for t in self.tasks}}
        with self.lock:
            self.windows.append(row)
            self.count += 1
            while self.windows and self.windows[0]["end_s"] < row["end_s"] - self.minutes * 60:
                self.windows.popleft()

    def snapshot(self) -> dict:
        """What the page draws (JSON-ready: no NaN)."""
        with self.lock:
            ecg, t_end = None, 0.0
            if self.ring is not None and self.ring.total:
                n = min(self.ring.total, len(self.ring.data))
                t_end = self.ring.total / self.fs
                ecg = _envelope(self.ring.last(n), self.fs, t_end, self.bins)
            return {"source": self.source, "fs": self.fs, "units": self.units, "tasks": self.tasks,
                    "flags": list(FLAGS),
                    "minutes": self.minutes, "t_end": t_end, "windows_total": self.count,
                    "ecg": ecg, "windows": list(self.windows)}


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _envelope(x: np.ndarray, fs: float, t_end: float, bins: int) -> dict:
    """Min and max per time bin (NaN samples ignored; an all-NaN bin is a gap, None)."""
    edges = np.linspace(0, len(x), min(bins, len(x)) + 1).astype(int)
    edges = edges[:-1][np.diff(edges) > 0]
    with np.errstate(invalid="ignore"):
        lo, hi = np.fmin.reduceat(x, edges), np.fmax.reduceat(x, edges)
    return {"t": [round(t_end - (len(x) - i) / fs, 4) for i in edges.tolist()],
            "lo": [_finite(v) for v in lo.tolist()], "hi": [_finite(v) for v in hi.tolist()]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):   # a closed tab is no error
            super().handle_error(request, client_address)


def serve(state: LiveState, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving ``state`` in a daemon thread; ``port`` 0 takes any free port
    (``server.server_address`` says which). Call ``shutdown()`` to stop."""
    page = resources.files("ecgemotion.inference").joinpath("live.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(page, "text/html; charset=utf-8")
            elif path == "/data.json":
                self._send(json.dumps(state.snapshot(), allow_nan=False).encode(), "application/json")
            else:
                self.send_error(404, "the live view has / and /data.json")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:   # one request a second: not worth a line each
            pass

    server = _Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="live-view", daemon=True).start()
    return server
