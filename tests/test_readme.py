"""The README's Python block runs exactly as written (in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.torch_threads import one_torch_thread  # noqa: F401

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_block_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python block; this test runs it"
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], str(README), "exec"), scope)
    table, emb = scope["table"], scope["emb"]
    assert len(emb) == 6 and {"start_s", "good", "e0"} <= set(emb.columns)
    assert len(table) == 6 and table["p_arousal"].between(0, 1).all()
    assert (tmp_path / "models" / "my-arousal" / "model.safetensors").is_file()
