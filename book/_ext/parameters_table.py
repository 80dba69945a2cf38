"""Sphinx extension: each executed chapter shows its run's parameters once, as a table.

Papermill leaves two raw code cells on every page: the notebook's ``parameters`` cell (the defaults) and the
``injected-parameters`` cell (what the run was given). Both stay in the notebook, where papermill and the
reproducibility record need them; on the page they are replaced by one table of every parameter with its value
and whether the run set it. A doctree transform, not a notebook edit, so no page has to be re-executed.
"""
from __future__ import annotations

import ast

from docutils import nodes
from sphinx.transforms import SphinxTransform

PARAMETERS, INJECTED = "tag_parameters", "tag_injected-parameters"


def assignments(code: str) -> dict:
    """{name: source text of the value} of a parameters cell's top-level assignments."""
    out = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.get_source_segment(code, node.value)
    return out


def _code(cell: nodes.Element) -> str:
    blocks = list(cell.findall(nodes.literal_block))
    return blocks[0].astext() if blocks else ""


def _row(texts, literal: bool) -> nodes.row:
    row = nodes.row()
    for i, text in enumerate(texts):
        entry = nodes.entry()
        entry += nodes.paragraph("", "", nodes.literal(text, text) if literal and i < 2 else nodes.Text(text))
        row += entry
    return row


def _table(rows: list[tuple[str, str, str]]) -> nodes.table:
    """parameter | value | set by; names and values as code."""
    group = nodes.tgroup(cols=3)
    group += [nodes.colspec(colwidth=width) for width in (25, 55, 20)]
    group += nodes.thead("", _row(("parameter", "value", "set by"), literal=False))
    group += nodes.tbody("", *(_row(r, literal=True) for r in rows))
    return nodes.table("", group, classes=["run-parameters"])


class ParametersTable(SphinxTransform):
    default_priority = 500

    def apply(self) -> None:
        cells = [n for n in self.document.findall(nodes.container) if PARAMETERS in n.get("classes", [])]
        injected = [n for n in self.document.findall(nodes.container) if INJECTED in n.get("classes", [])]
        if not cells:
            return
        defaults = assignments(_code(cells[0]))
        given = assignments(_code(injected[0])) if injected else {}
        rows = [(name, given.get(name, value), "this run" if name in given else "default")
                for name, value in defaults.items()]
        rows += [(name, value, "this run") for name, value in given.items() if name not in defaults]
        caption = nodes.paragraph("", "", nodes.strong("", "Parameters of this run"),
                                  nodes.Text(" (the notebook's defaults, and what this run was given; the raw "
                                             "cells stay in the notebook for papermill)"))
        block = nodes.container(classes=["run-parameters-block"])
        block += caption
        block += _table(rows)
        cells[0].replace_self(block)
        block["classes"] = ["run-parameters-block"]  # replace_self copied the raw cell's classes onto the block
        for node in injected:
            node.parent.remove(node)


def setup(app):
    app.add_transform(ParametersTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
