"""Fold the raw parameters cells of the published pages (Jupyter Book's ``hide-cell`` tag): a reader meets a
run's parameters once, in the run record at the end of the page, not as two code cells first.

Also makes the repository's absolute path relative in stream outputs (the file name a warning prints), so that
no page names the machine it ran on. Applied by ``python -m lab book`` after executing; it changes tags and that
path only. A module of its own so that no chapter imports it: changing it makes no page stale.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import atomic

HIDDEN = "hide-cell"
FOLDED = ("parameters", "injected-parameters")  # the notebook's own cell and papermill's


def hide_parameter_cells(nb: dict) -> dict:
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if set(FOLDED) & set(tags) and HIDDEN not in tags:
            tags.append(HIDDEN)
    return nb


def relative_paths(nb: dict, root: Path) -> dict:
    """Strip ``root/`` from the text of stream outputs: ``<root>/.venv/lib/...`` reads ``.venv/lib/...``."""
    prefix = str(Path(root).resolve()) + "/"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                text = output["text"]
                output["text"] = ([line.replace(prefix, "") for line in text] if isinstance(text, list)
                                  else text.replace(prefix, ""))
    return nb


def fold(path: Path) -> bool:
    """Fold one executed page in place (the repository is its folder's parent); whether it changed. Applied to each
    page as soon as it is executed, so that a page published after it (the appendix) reads its final bytes."""
    nb = json.loads(Path(path).read_text())
    before = json.dumps(nb)
    if json.dumps(relative_paths(hide_parameter_cells(nb), Path(path).resolve().parent.parent)) == before:
        return False
    atomic.write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def fold_pages(book_dir: Path) -> list[str]:
    """Fold every page under ``book_dir`` that is not folded yet; returns the pages changed."""
    return [path.stem for path in sorted(Path(book_dir).glob("*.ipynb")) if fold(path)]
