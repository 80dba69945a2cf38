"""The values a page glued, as typed JSON beside its executed notebook (``book/X.glue.json`` beside
``book/X.ipynb``): {name: {"type": "float" | "int" | "bool" | "str" | "markdown" | "html" | ..., "value": ...}}.

myst_nb's ``glue`` keeps no value, only what IPython displays for it: the ``text/plain`` repr (``0.1234567``,
``np.float64(271.85)``, ``'C 32'``), beside ``text/markdown`` or ``text/html`` for a Markdown or HTML object.
``from_notebook`` reads those outputs once, when ``runner.execute`` runs a page, and ``write`` stores the result;
the readers (the ledger's ``Results``, the staleness hash of the pages that read the book) read the file through
``values`` and ``typed``. The repr of a Python float is the shortest text that round-trips, and numpy's scalars
print theirs inside ``np.float64(...)``, so the JSON holds the exact number the kernel glued, with its type.

Pages executed before these files existed have none: ``typed`` then derives the same mapping from the notebook
with ``from_notebook`` (the ledger reads the same values either way), and ``runner.stale_reason`` reports the page
stale ("glue JSON missing") so that its next publish writes the file.
"""
from __future__ import annotations

import ast
import json
import math
from pathlib import Path

from .. import atomic

SUFFIX = ".glue.json"
RECORD_PREFIX = "application/papermill.record/"  # myst_nb's prefix for a value glued with display=False
NUMPY_MODULES = ("np", "numpy")
NON_FINITE = {"nan": math.nan, "inf": math.inf}


def path_of(notebook: Path) -> Path:
    """The glue JSON beside an executed notebook: ``X.ipynb`` -> ``X.glue.json``."""
    notebook = Path(notebook)
    return notebook.with_name(notebook.stem + SUFFIX)


class _NumpyScalarsAsLiterals(ast.NodeTransformer):
    """``np.float64(x)`` -> ``x``, ``np.True_`` -> ``True``, ``nan``/``inf`` -> floats: the reprs numpy 2 and
    Python give scalars, rewritten so that ``ast.literal_eval`` reads them."""

    def visit_Call(self, node: ast.Call):
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in NUMPY_MODULES
                and len(node.args) == 1 and not node.keywords):
            return self.visit(node.args[0])
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in NUMPY_MODULES and node.attr in ("True_", "False_"):
            return ast.Constant(node.attr == "True_")
        return node

    def visit_Name(self, node: ast.Name):
        return ast.Constant(NON_FINITE[node.id]) if node.id in NON_FINITE else node


def _literal(text: str):
    """The Python value a ``text/plain`` repr spells; ValueError (TypeError for an unhashable key) when it spells
    none, such as an object's description."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(text) from exc
    return ast.literal_eval(_NumpyScalarsAsLiterals().visit(tree).body)


def _json_ready(value):
    """Non-finite floats as their names (JSON has no NaN); containers as lists and objects, element by element."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple, set)):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    return value


def encode(data: dict) -> dict:
    """One glue output's mime bundle (``data`` of the display output) as {"type", "value"}."""
    bundle = {k.removeprefix(RECORD_PREFIX): "".join(v) if isinstance(v, list) else v for k, v in data.items()}
    for mime, kind in (("text/markdown", "markdown"), ("text/html", "html")):
        if mime in bundle:
            return {"type": kind, "value": bundle[mime]}
    text = bundle.get("text/plain", "")
    try:
        value = _literal(text)
    except (ValueError, TypeError):  # an object that shows no literal (say '<Figure size ...>'): its displayed text
        return {"type": "repr", "value": text}
    return {"type": type(value).__name__, "value": _json_ready(value)}


def decode(entry: dict):
    """The Python value of one {"type", "value"} entry."""
    kind, value = entry["type"], entry["value"]
    if kind == "float":
        return float(value)  # also 'nan', 'inf', '-inf'
    if kind in ("tuple", "set"):
        return {"tuple": tuple, "set": set}[kind](value)
    return value


def from_notebook(nb: dict) -> dict[str, dict]:
    """{name: {"type", "value"}} of every value an executed notebook glued, in the page's order."""
    out = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap:
                out[scrap["name"]] = encode(output.get("data", {}))
    return out


def write(notebook: Path, nb: dict) -> Path:
    """Write the glue JSON of the executed notebook ``nb`` (stored at ``notebook``) beside it."""
    return atomic.write_text(path_of(notebook), json.dumps(from_notebook(nb), indent=1, ensure_ascii=False,
                                                           allow_nan=False) + "\n")


def typed(notebook: Path) -> dict[str, dict]:
    """{name: {"type", "value"}} from the notebook's glue JSON; derived from the notebook (``from_notebook``)
    where the page was executed before the JSON existed (``runner.stale_reason`` reports it)."""
    path = path_of(notebook)
    if path.exists():
        return json.loads(path.read_text())
    return from_notebook(json.loads(Path(notebook).read_text()))


def values(notebook: Path) -> dict:
    """{name: value} of everything the executed notebook glued, as the Python values the JSON types say."""
    return {name: decode(entry) for name, entry in typed(notebook).items()}
