"""``ecgemotion export``: a fine-tuned model as ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  ecgemotion export --model runs/arousal                      # -> runs/arousal/model.onnx
  ecgemotion export --model runs/arousal --onnx arousal.onnx
  ecgemotion export --model runs/ --onnx deploy/emotion.onnx  # one file per task:
                                                              #   emotion-arousal.onnx, ...
Input 'window' (batch, 1, window_len) float32: the z-scored windows of the model's
preprocessing; outputs 'probabilities' (softmax, positive class at index 1) and
'logits'. Task, classes and preprocessing are embedded as ONNX metadata (key
'ecgemotion') and written to FILE.onnx.json. The export is checked against PyTorch on
random and realistic windows; a max |difference| above --tolerance is an error.
A multimodal model (finetune --modalities) takes one input 'packed' instead: its
modalities' windows, the ECG's HRV features and a presence flag per modality
(docs/multimodal.md).
"""


def add_parser(sub, common):
    from ecgemotion.cli.ui import add_command
    p = add_command(sub, common, "export", "export a fine-tuned model to ONNX",
                    EXAMPLES)
    p.add_argument("--model", required=True, metavar="DIR",
                   help="fine-tuned model folder (or a folder of them)")
    p.add_argument("--onnx", metavar="FILE", help="output file (default: DIR/model.onnx)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17; default 17)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="max |ORT - PyTorch| of the probabilities accepted (1e-4)")
    return p


def run(args: argparse.Namespace, ui) -> dict[str, Any]:
    from ecgemotion.inference.engines import expand_sources, read_folder_spec
    from ecgemotion.inference.export import export_multimodal, export_onnx
    from ecgemotion.models.multimodal import is_multimodal

    folders = expand_sources(args.model, engine="torch")
    results = []
    for folder in folders:
        if args.onnx is None:
            out = folder / "model.onnx"
        elif len(folders) == 1:
            out = Path(args.onnx)
        else:
            target = Path(args.onnx)
            task = read_folder_spec(folder).task
            out = target.with_name(f"{target.stem}-{task}{target.suffix or '.onnx'}")
        if is_multimodal(folder):
            result = export_multimodal(folder, out, opset=args.opset, tolerance=args.tolerance)
            results.append(result)
            ui.say(f"exported multimodal {folder} ({result['task']}; {', '.join(result['modalities'])}) "
                   f"-> {out} ({result['bytes'] / 1e6:.1f} MB, opset {result['opset']}); input "
                   f"'packed' (batch, 1, {result['input_len']}) as models/multimodal.py: pack lays it out")
            ui.say(f"  max |ONNX Runtime - PyTorch| of the probabilities: {result['max_abs_diff']:.2e} "
                   f"over {result['inputs_checked']} random inputs with every pattern of missing "
                   f"modalities (tolerance {result['tolerance']:g})")
            continue
        result = export_onnx(folder, out, opset=args.opset, tolerance=args.tolerance)
        results.append(result)
        ui.say(f"exported {folder} ({result['task']}) -> {out} ({result['bytes'] / 1e6:.1f} MB, "
               f"opset {result['opset']})")
        ui.say(f"  max |ONNX Runtime - PyTorch| of the probabilities: "
               f"{result['max_abs_diff']:.2e} (random windows "
               f"{result['random']['max_abs_diff_probabilities']:.2e}, realistic windows "
               f"{result['realistic']['max_abs_diff_probabilities']:.2e}; tolerance "
               f"{result['tolerance']:g})")
    if len(results) == 1:
        return results[0]
    return {"exports": results,
            "max_abs_diff": max(r["max_abs_diff"] for r in results)}
