"""AST scan of every module under ``src/`` for code paths that can execute untrusted data.

Refused anywhere in ``src/``:

- any use of ``pickle.load`` / ``pickle.loads`` / ``pickle.Unpickler`` (also through
  ``_pickle``, ``cPickle``, ``dill``, ``cloudpickle``, ``joblib.load`` and
  ``pandas.read_pickle``), except in ``src/ecgemotion/io/safe_pickle.py``, the restricted
  unpickler every reader must go through;
- ``torch.load`` without ``weights_only=True``;
- ``numpy.load`` with ``allow_pickle`` set to anything but a literal ``False``;
- the builtins ``eval`` / ``exec`` (``model.eval()`` is a method call, not flagged);
- ``yaml.load`` without ``Loader=SafeLoader``/``CSafeLoader``, and ``yaml.unsafe_load``,
  ``yaml.full_load``, ``yaml.load_all`` without a safe loader.

Names are resolved through the module's imports (``import numpy as np``,
``from pickle import loads as l``), so renaming does not hide a call. The scanner is
itself tested on planted snippets so that it cannot pass by matching nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
SAFE_PICKLE = Path("ecgemotion/io/safe_pickle.py")

PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle"}
PICKLE_NAMES = {"load", "loads", "Unpickler"}
OTHER_UNPICKLERS = {"joblib.load", "pandas.read_pickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "yaml.SafeLoader", "yaml.CSafeLoader"}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.code}"


class _Scanner(ast.NodeVisitor):
    def __init__(self, file: str, source: str, allow_pickle_module: bool):
        self.file = file
        self.source = source
        self.allow_pickle_module = allow_pickle_module
        self.aliases: dict[str, str] = {}   # local name -> dotted origin
        self.findings: list[Finding] = []

    # -- name resolution -------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.generic_visit(node)

    def dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def add(self, node: ast.AST, rule: str) -> None:
        code = ast.get_source_segment(self.source, node) or ""
        self.findings.append(Finding(self.file, getattr(node, "lineno", 0), rule, code.splitlines()[0][:120]
                                     if code else ""))

    # -- rules -----------------------------------------------------------------------
    def _is_unpickler(self, name: str | None) -> bool:
        if not name:
            return False
        module, _, attr = name.rpartition(".")
        return (module in PICKLE_MODULES and attr in PICKLE_NAMES) or name in OTHER_UNPICKLERS

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not self.allow_pickle_module and self._is_unpickler(self.dotted(node)):
            self.add(node, "unrestricted unpickling")
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        # ``from pickle import loads`` then ``loads(...)`` (or subclassing ``Unpickler``)
        if (not self.allow_pickle_module and node.id in self.aliases
                and self._is_unpickler(self.aliases[node.id]) and isinstance(node.ctx, ast.Load)):
            self.add(node, "unrestricted unpickling")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        if name == "torch.load":
            w = kwargs.get("weights_only")
            if not (isinstance(w, ast.Constant) and w.value is True):
                self.add(node, "torch.load without weights_only=True")
        elif name == "numpy.load" and "allow_pickle" in kwargs:
            v = kwargs["allow_pickle"]
            if not (isinstance(v, ast.Constant) and v.value is False):
                self.add(node, "numpy.load with allow_pickle")
        elif name == "numpy.load" and any(k.arg is None for k in node.keywords):
            self.add(node, "numpy.load with **kwargs (allow_pickle cannot be checked)")
        elif isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec") \
                and node.func.id not in self.aliases:
            self.add(node, f"builtin {node.func.id}()")
        elif name in ("builtins.eval", "builtins.exec"):
            self.add(node, f"builtin {name}()")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = kwargs.get("Loader")
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            if loader is None or self.dotted(loader) not in SAFE_YAML_LOADERS | {
                    f"yaml.{n}" for n in ("SafeLoader", "CSafeLoader")}:
                self.add(node, f"{name} without SafeLoader")
        elif name in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all",
                      "yaml.full_load_all"):
            self.add(node, name)
        self.generic_visit(node)


def scan_source(source: str, file: str = "<snippet>", allow_pickle_module: bool = False) -> list[Finding]:
    tree = ast.parse(source, filename=file)
    scanner = _Scanner(file, source, allow_pickle_module)
    scanner.visit(tree)
    return scanner.findings


def scan_tree(root: Path = SRC) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    files = sorted(root.rglob("*.py"))
    for path in files:
        rel = path.relative_to(root)
        findings += scan_source(path.read_text(encoding="utf-8"), str(rel),
                                allow_pickle_module=rel == SAFE_PICKLE)
    return findings, len(files)


def test_src_has_no_unsafe_deserialisation_or_eval():
    findings, n_files = scan_tree()
    assert n_files > 30, f"scanned only {n_files} files under {SRC}"
    assert not findings, "unsafe code:\n" + "\n".join(map(str, findings))


def test_safe_pickle_is_the_only_unpickler_and_is_restricted():
    source = (SRC / SAFE_PICKLE).read_text()
    assert scan_source(source, str(SAFE_PICKLE)), "the scanner should see pickle use in safe_pickle.py"
    assert "def find_class" in source  # the restriction the exemption relies on


BAD_SNIPPETS = {
    "pickle.load": "import pickle\nx = pickle.load(open('f', 'rb'))\n",
    "pickle.loads alias": "import pickle as pk\nx = pk.loads(b'')\n",
    "from pickle import loads": "from pickle import loads as l\nx = l(b'')\n",
    "Unpickler subclass": "import pickle\nclass U(pickle.Unpickler):\n    pass\n",
    "from pickle import Unpickler": "from pickle import Unpickler\nU = Unpickler\n",
    "_pickle": "import _pickle\n_pickle.loads(b'')\n",
    "dill": "import dill\ndill.load(f)\n",
    "joblib": "import joblib\njoblib.load('m.pkl')\n",
    "pandas.read_pickle": "import pandas as pd\npd.read_pickle('x')\n",
    "torch.load bare": "import torch\ntorch.load('m.pt')\n",
    "torch.load weights_only False": "import torch\ntorch.load('m.pt', weights_only=False)\n",
    "torch.load weights_only variable": "import torch\nw = True\ntorch.load('m.pt', weights_only=w)\n",
    "from torch import load": "from torch import load\nload('m.pt')\n",
    "np.load allow_pickle": "import numpy as np\nnp.load('x.npy', allow_pickle=True)\n",
    "numpy.load allow_pickle variable": "import numpy\nflag = 1\nnumpy.load('x', allow_pickle=flag)\n",
    "np.load **kw": "import numpy as np\nkw = {}\nnp.load('x', **kw)\n",
    "eval": "x = eval('1+1')\n",
    "exec": "exec('print(1)')\n",
    "builtins.eval": "import builtins\nbuiltins.eval('1')\n",
    "yaml.load": "import yaml\nyaml.load(open('c.yml'))\n",
    "yaml.load FullLoader": "import yaml\nyaml.load(s, Loader=yaml.FullLoader)\n",
    "yaml.unsafe_load": "import yaml\nyaml.unsafe_load(s)\n",
    "yaml.full_load": "import yaml\nyaml.full_load(s)\n",
    "nested in function": "def f():\n    import pickle\n    return pickle.loads(b'')\n",
}

CLEAN_SNIPPETS = {
    "model.eval": "model.eval()\nnet.train().eval()\n",
    "torch.load weights_only": "import torch\ntorch.load('m.pt', weights_only=True, map_location='cpu')\n",
    "np.load no pickle": "import numpy as np\nnp.load('x.npy')\nnp.load('x.npy', allow_pickle=False)\n",
    "yaml safe": "import yaml\nyaml.safe_load(s)\nyaml.load(s, Loader=yaml.SafeLoader)\n"
                 "yaml.load(s, yaml.CSafeLoader)\n",
    "pickle.dumps": "import pickle\nb = pickle.dumps([1, 2])\n",
    "safe_pickle": "from ecgemotion.io.safe_pickle import safe_load\nsafe_load('S2.pkl')\n",
    "literal_eval": "import ast\nast.literal_eval('[1]')\n",
}


@pytest.mark.parametrize("name", sorted(BAD_SNIPPETS))
def test_scanner_catches_planted_snippet(name):
    assert scan_source(BAD_SNIPPETS[name]), f"scanner missed: {name}"


@pytest.mark.parametrize("name", sorted(CLEAN_SNIPPETS))
def test_scanner_accepts_safe_code(name):
    assert scan_source(CLEAN_SNIPPETS[name]) == []


def test_scanner_catches_a_file_planted_in_a_tree(tmp_path):
    pkg = tmp_path / "ecgemotion" / "io"
    pkg.mkdir(parents=True)
    (pkg / "safe_pickle.py").write_text("import pickle\nclass U(pickle.Unpickler):\n    pass\n")
    (pkg / "evil.py").write_text("import pickle\ndef read(p):\n    return pickle.load(open(p, 'rb'))\n")
    findings, n = scan_tree(tmp_path)
    assert n == 2
    assert [(f.file, f.line, f.rule) for f in findings] == [
        ("ecgemotion/io/evil.py", 3, "unrestricted unpickling")]
