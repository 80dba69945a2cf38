"""nbval compares outputs character for character. The quick-profile references are recorded on one CPU, and
another CPU (or thread count) rounds the last bits of a float differently: 27.392864910775028 on one machine is
27.392735527008366 on another, and quick-profile training carries such differences over its steps. nbval has no
numeric tolerance (only regex sanitising, which cannot round), so this module adds one, used by ``conftest.py``
only after nbval's own exact comparison has failed:

- everything that is not a decimal number must be identical (text, integers, names, structure);
- each decimal number must agree within the cell's relative tolerance, or within one unit of its last printed digit;
- plotly's binary arrays (``"dtype": ..., "bdata": ...``) are decoded and compared the same way.

The relative tolerance is declared beside the cell it applies to, in the cell's metadata, with its reason:
``"tolerance": {"rtol": 0.005, "why": "..."}``. Each declaration of the training notebooks is sized from the spread
measured across thread counts and kernel ISAs (``benchmarks/nbval_spread.py`` -> ``benchmarks/nbval_spread.json``);
a cell that declares none gets ``RELATIVE``. Any real change larger than that still fails, with nbval's own report.
"""
from __future__ import annotations

import base64
import json
import re

import numpy as np

RELATIVE = 1e-3  # the tolerance of a cell that declares none
# no declared tolerance may reach this: a 1% change of any value must still fail (tests/integration/test_cpu_standin.py)
MAX_DECLARED = 5e-3
FLOAT = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")
# plotly.py >= 6 writes numeric arrays as {"dtype": "f8", "bdata": "<base64>"}; the JSON escapes "/" as \u002f
BINARY = re.compile(r'"dtype":"(\w+)","bdata":"((?:[A-Za-z0-9+=]|\\u002f|/)*)"')
DTYPES = {"f8": np.float64, "f4": np.float32, "i1": np.int8, "i2": np.int16, "i4": np.int32, "u1": np.uint8,
          "u2": np.uint16, "u4": np.uint32}


def _close(a: str, b: str, rtol: float = RELATIVE) -> bool:
    x, y = float(a), float(b)
    decimals = len(a.split(".")[1].split("e")[0].split("E")[0])
    return abs(x - y) <= max(rtol * max(abs(x), abs(y)), 1.5 * 10.0 ** -decimals)


def _decoded(dtype: str, data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data.replace("\\u002f", "/")), dtype=DTYPES[dtype])


def _arrays_close(dtype_a: str, data_a: str, dtype_b: str, data_b: str, rtol: float = RELATIVE) -> bool:
    if dtype_a != dtype_b or dtype_a not in DTYPES:
        return (dtype_a, data_a) == (dtype_b, data_b)
    a, b = _decoded(dtype_a, data_a), _decoded(dtype_b, data_b)
    if a.shape != b.shape:
        return False
    if dtype_a.startswith("f"):
        return bool(np.allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True))
    return bool(np.array_equal(a, b))


def numbers(text: str) -> list[float]:
    """Every decimal number of an output's JSON text: those printed, then plotly's binary float arrays'."""
    out = [float(x) for x in FLOAT.findall(BINARY.sub("", text))]
    for dtype, data in BINARY.findall(text):
        if dtype.startswith("f"):
            out += _decoded(dtype, data).astype(float).tolist()
    return out


def skeleton(text: str) -> str:
    """The text with its decimal numbers (printed, or in plotly's float arrays) blanked: what must be identical."""
    def array(m):
        dtype, data = m.groups()
        return m.group(0) if dtype not in DTYPES or not dtype.startswith("f") else f'"dtype":"{dtype}","bdata":#'
    return FLOAT.sub("#", BINARY.sub(array, text))


def cell_tolerance(cell: dict) -> float:
    """The relative tolerance a notebook cell declares in its metadata (``RELATIVE`` where it declares none)."""
    declared = cell.get("metadata", {}).get("tolerance")
    if declared is None:
        return RELATIVE
    if not isinstance(declared, dict) or not declared.get("why") or not 0 <= declared.get("rtol", -1) <= MAX_DECLARED:
        raise ValueError(f"a cell's tolerance is {{'rtol': 0..{MAX_DECLARED}, 'why': reason}}, not {declared!r}")
    return float(declared["rtol"])


def same_up_to_float_noise(ref, test, rtol: float = RELATIVE) -> bool:
    """True when two output values differ only in the last digits of their decimal numbers."""
    if not isinstance(ref, str) or not isinstance(test, str):
        ref, test = json.dumps(ref, sort_keys=True), json.dumps(test, sort_keys=True)
    if ref == test:
        return True
    ref_arrays, test_arrays = BINARY.findall(ref), BINARY.findall(test)
    if len(ref_arrays) != len(test_arrays) or not all(
            _arrays_close(*ra, *ta, rtol=rtol) for ra, ta in zip(ref_arrays, test_arrays)):
        return False
    ref, test = BINARY.sub('"dtype":"","bdata":""', ref), BINARY.sub('"dtype":"","bdata":""', test)
    if FLOAT.sub("#", ref) != FLOAT.sub("#", test):
        return False
    ref_floats, test_floats = FLOAT.findall(ref), FLOAT.findall(test)
    return len(ref_floats) == len(test_floats) and all(_close(a, b, rtol) for a, b in zip(ref_floats, test_floats))


def outputs_by_key(item, outputs) -> dict:
    """nbval's own flattening of a cell's outputs (IPyNbCell.compare_outputs): key -> sanitised values."""
    from collections import defaultdict

    from nbval.plugin import transform_streams_for_comparison

    skip = item.parent.skip_compare
    flat = defaultdict(list)
    for output in transform_streams_for_comparison(outputs):
        for key, value in output.items():
            if key in skip:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        flat[mime].append(item.sanitize(data))
            else:
                flat[key].append(item.sanitize(value))
    return flat


def install() -> None:
    """Let an nbval cell whose outputs differ only by float noise pass; everything else is nbval's verdict."""
    from nbval.plugin import IPyNbCell

    exact = IPyNbCell.compare_outputs
    if getattr(exact, "tolerant", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        if exact(self, test, ref, skip_compare):
            return True
        t, r = outputs_by_key(self, test), outputs_by_key(self, ref)
        if set(t) != set(r) or any(len(t[k]) != len(r[k]) for k in r):
            return False
        rtol = cell_tolerance(self.cell)
        if all(same_up_to_float_noise(a, b, rtol) for k in r for a, b in zip(r[k], t[k])):
            self.comparison_traceback = []
            return True
        return False

    compare_outputs.tolerant = True
    IPyNbCell.compare_outputs = compare_outputs


def pytest_configure(config):
    import os

    from lab.publish.runner import KERNEL_HASH_SEED

    install()
    # the kernels nbval starts inherit this environment: the same str-hash seed as the runner gives the kernels
    # that made the committed outputs (lab.publish.runner.KERNEL_HASH_SEED says why)
    os.environ["PYTHONHASHSEED"] = KERNEL_HASH_SEED
    # and every run step computes, reading no stored result and writing none (lab.steps): a test runs the code
    os.environ["LAB_STEPS"] = "off"
