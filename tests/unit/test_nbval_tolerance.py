"""The tolerance nbval is given: float noise between CPUs passes, any real change fails."""
import base64
import json

import numpy as np
import pytest

from tests.nbval_tolerance import same_up_to_float_noise as same


@pytest.mark.parametrize("ref, test", [
    ("27.392864910775028", "27.392735527008366"),  # seen between an AMD and an Intel CPU
    ("<td>202.137</td>", "<td>202.135</td>"),
    ("<td>-2.8649</td>", "<td>-2.8650</td>"),  # one unit in the last printed digit
    ("[0.0362, 1.3527]", "[0.0361, 1.3527]"),
    ({"a": 0.004690427921320263}, {"a": 0.004690429751287427}),
])
def test_float_noise_passes(ref, test):
    assert same(ref, test)


@pytest.mark.parametrize("ref, test", [
    ("27.39", "27.52"),  # a real change in a figure
    ("<td>202.137</td>", "<td>212.137</td>"),
    ("0.0362", "0.0382"),
    ("extracted 5 of 6", "extracted 4 of 6"),  # integers are exact
    ("the model collapses", "the model recovers"),
    ("1.0 2.0", "1.0"),
])
def test_real_changes_fail(ref, test):
    assert not same(ref, test)


def plotly(values, dtype="f8"):
    data = base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode().replace("/", "\\u002f")
    return json.dumps({"y": {"dtype": dtype, "bdata": "PLACEHOLDER"}}).replace(" ", "").replace("PLACEHOLDER", data)


def test_plotly_binary_arrays_are_decoded_and_compared_with_the_same_tolerance():
    assert same(plotly([0.5, 1.0627245294935]), plotly([0.5, 1.0627343156062348]))
    assert not same(plotly([0.5, 1.06]), plotly([0.5, 1.26]))
    assert not same(plotly([1, 2], "i1"), plotly([1, 3], "i1"))
    assert not same(plotly([0.5, 1.0]), plotly([0.5, 1.0, 2.0]))


def test_a_cell_tolerance_is_declared_with_its_reason_and_below_a_one_percent_change():
    from tests.nbval_tolerance import MAX_DECLARED, RELATIVE, cell_tolerance

    assert cell_tolerance({"metadata": {}}) == RELATIVE
    assert cell_tolerance({"metadata": {"tolerance": {"rtol": 0.005, "why": "a difference of perplexities"}}}) == 0.005
    for bad in ({"rtol": 0.005}, {"rtol": 0.02, "why": "too wide"}, {"rtol": -1, "why": "x"}, 0.005):
        with pytest.raises(ValueError):
            cell_tolerance({"metadata": {"tolerance": bad}})
    assert MAX_DECLARED < 0.01


def test_the_declared_tolerance_decides():
    ref, test = "ppl 481.2620133189151", "ppl 481.3620133189151"  # 2.1e-4 apart
    assert same(ref, test, 1e-3) and not same(ref, test, 1e-4)
    assert not same("diff 0.3166120872006821", "diff 0.31977820807268", 5e-3)  # moved by 1%
    assert same("diff 0.3166120872006821", "diff 0.316269204561072", 5e-3)  # the AVX2-only CPU's value


def test_every_notebook_declares_valid_tolerances_and_names_the_machine_of_its_references():
    from lab.paths import NOTEBOOKS
    from tests.nbval_tolerance import cell_tolerance

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            cell_tolerance(cell)  # raises on a bad declaration
        device = nb["metadata"]["lab"]["device"]
        assert device["cpu"] and device["torch_threads"], path.name


def test_numbers_and_skeleton_see_printed_and_binary_floats():
    from tests.nbval_tolerance import numbers, skeleton

    text = plotly([0.5, 1.25]) + ' "x": "1.5 of 3"'
    assert numbers(text) == [1.5, 0.5, 1.25]
    assert skeleton(text) == skeleton(plotly([0.7, 1.0]) + ' "x": "2.5 of 3"')
    assert skeleton(text) != skeleton(plotly([0.7, 1.0]) + ' "x": "2.5 of 4"')
