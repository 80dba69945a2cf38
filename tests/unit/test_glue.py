"""Glued values as typed JSON beside the page (lab.publish.glue): exact values and types from what myst_nb's glue
writes, the readers (the ledger, the staleness hash) reading the JSON and not the printed text, and a page
executed before the JSON existed read the same and reported stale."""
from __future__ import annotations

import json
import math

import myst_nb.ext.glue as myst_glue
import numpy as np
import pytest
from IPython.display import HTML, Markdown

from lab import ledger
from lab.ledger import results
from lab.publish import glue, pages, runner

PLAIN = glue.RECORD_PREFIX + "text/plain"  # what myst_nb's glue(..., display=False) stores a repr under


def glued_notebook(monkeypatch, values: dict) -> dict:
    """An executed notebook holding the display outputs myst_nb's glue(name, value, display=False) writes."""
    outputs = []
    monkeypatch.setattr(myst_glue, "ipy_display", lambda data, raw, metadata: outputs.append(
        {"output_type": "display_data", "data": data, "metadata": metadata}))
    for name, value in values.items():
        myst_glue.glue(name, value, display=False)
    return {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": outputs}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def save(path, nb: dict):
    path.write_text(json.dumps(nb))
    return path


def test_glued_values_round_trip_exactly_with_their_types(tmp_path, monkeypatch):
    values = {"f": 0.1234567, "np_f": np.float64(0.1234567), "third": 1 / 3, "s": "0.1234567", "label": "C 32",
              "i": 3, "np_i": np.int64(3), "yes": np.True_, "nan": math.nan, "low": -math.inf, "pair": (1, 2.5),
              "md": Markdown("**x**"), "html": HTML("<b>x</b>")}
    page = save(tmp_path / "page.ipynb", glued_notebook(monkeypatch, values))
    glue.write(page, json.loads(page.read_text()))
    written = json.loads((tmp_path / "page.glue.json").read_text())
    assert written["f"] == {"type": "float", "value": 0.1234567}
    assert written["s"] == {"type": "str", "value": "0.1234567"}
    assert written["nan"] == {"type": "float", "value": "nan"}  # JSON has no NaN
    assert written["md"] == {"type": "markdown", "value": "**x**"}
    read = glue.values(page)
    assert read["f"] == 0.1234567 and type(read["f"]) is float
    assert read["np_f"] == 0.1234567 and type(read["np_f"]) is float
    assert read["third"] == 1 / 3  # every digit of the double, not a rounded print
    assert read["s"] == "0.1234567" and type(read["s"]) is str
    assert read["label"] == "C 32"
    assert read["i"] == 3 and type(read["i"]) is int and type(read["np_i"]) is int
    assert read["yes"] is True
    assert math.isnan(read["nan"]) and read["low"] == -math.inf
    assert read["pair"] == (1, 2.5)
    assert read["md"] == "**x**" and read["html"] == "<b>x</b>"


def test_an_object_that_prints_no_literal_keeps_its_displayed_text():
    data = {PLAIN: "<Figure size 640x480 with 1 Axes>"}
    assert glue.encode(data) == {"type": "repr", "value": "<Figure size 640x480 with 1 Axes>"}
    assert glue.encode({PLAIN: ["[1, ", "2]"]}) == {"type": "list",
                                                                                         "value": [1, 2]}


def test_the_readers_read_the_json_not_the_printed_text(tmp_path, monkeypatch):
    """The notebook prints 0.12, its JSON holds 0.1234567: the ledger and the staleness hash follow the JSON."""
    book = tmp_path / "book"
    book.mkdir()
    page = save(book / "p1.ipynb", glued_notebook(monkeypatch, {"x": 0.12}))
    (book / "p1.glue.json").write_text(json.dumps({"x": {"type": "float", "value": 0.1234567}}))
    monkeypatch.setattr(results, "BOOK", book)
    monkeypatch.setattr(runner, "BOOK", book)
    monkeypatch.setattr(runner, "pages_before", lambda stem: ["p1"])
    assert ledger.glued("p1") == {"x": 0.1234567}
    assert ledger.Results()("p1", "x") == 0.1234567

    before = runner.book_inputs("reader")
    save(page, glued_notebook(monkeypatch, {"x": 0.5}))  # the printed text alone changes
    assert runner.book_inputs("reader") == before
    (book / "p1.glue.json").write_text(json.dumps({"x": {"type": "float", "value": 0.1234568}}))
    assert runner.book_inputs("reader") != before
    assert ledger.glued("p1") == {"x": 0.1234568}  # the cache follows the JSON's own modification time


def test_a_page_without_its_json_reads_the_same_and_is_stale(tmp_path, monkeypatch):
    """Pages executed before the JSON existed: the values derived from the notebook are what execution writes,
    and `lab status` reports the page stale so that the next publish writes its JSON."""
    book = tmp_path / "book"
    book.mkdir()
    nb = glued_notebook(monkeypatch, {"x": np.float64(0.1234567), "s": "a", "n": 4})
    fingerprint = {"source": "s", "parameters": "p", "lab": "l", "book": None}
    nb["metadata"]["lab"] = {"profile": "cpu", "fingerprint": fingerprint}
    page = save(book / "p1.ipynb", nb)
    monkeypatch.setattr(runner, "BOOK", book)
    monkeypatch.setattr(runner, "page_source", lambda p: (p, None))
    monkeypatch.setattr(runner, "profile_parameters", lambda stem, profile: {})
    monkeypatch.setattr(runner, "notebook_path", lambda stem: page)
    monkeypatch.setattr(runner, "fingerprint", lambda path, parameters: fingerprint)

    derived = glue.typed(page)
    assert runner.stale_reason("p1") == "glue JSON missing"
    monkeypatch.setattr(pages, "uses_run_steps", lambda stem: False)
    assert pages.state("p1").line() == "p1: stale (cpu): glue JSON missing; re-runs its whole notebook"
    glue.write(page, nb)
    assert glue.typed(page) == derived == json.loads((book / "p1.glue.json").read_text())
    assert runner.stale_reason("p1") is None


@pytest.mark.parametrize("text", ["np.float64(0.1234567)", "0.1234567"])
def test_numpy_and_python_floats_read_the_same(text):
    assert glue.decode(glue.encode({PLAIN: text})) == 0.1234567
