"""Prediction on new recordings, live streams, and ONNX export.

    from ecgemotion.inference import EmotionRecognizer
    rec = EmotionRecognizer.from_pretrained(["runs/arousal", "runs/valence"])
    table = rec.predict(signal, fs=500)        # pandas DataFrame, one row a window
    live = rec.stream(fs=500, hop_s=2.0)
    for chunk in source:
        for p in live.push(chunk):
            print(p.line())

``engine="onnx"`` runs exported models with onnxruntime (see ``export_onnx``).
"""

from ecgemotion.inference.engines import ModelSpec, expand_sources
from ecgemotion.inference.prediction import FLAGS, Prediction, predictions_frame
from ecgemotion.inference.recognizer import EmotionRecognizer, check_some_good
from ecgemotion.inference.stream import EmotionStream, RingBuffer


def export_onnx(*args, **kwargs):
    """See :func:`ecgemotion.inference.export.export_onnx` (imports torch and onnx lazily)."""
    from ecgemotion.inference.export import export_onnx as _export

    return _export(*args, **kwargs)


__all__ = ["FLAGS", "EmotionRecognizer", "EmotionStream", "ModelSpec", "Prediction", "RingBuffer",
           "check_some_good", "expand_sources", "export_onnx", "predictions_frame"]
