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
