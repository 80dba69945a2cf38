"""CONTRIBUTING.md's code runs: each ```python block is executed as written, in a fresh namespace, with run steps
computed and written nowhere ($LAB_STEPS=off), and every `lab` name it imports exists."""
from __future__ import annotations

import re
import sys
import types

import pytest

from lab.paths import REPO

BLOCKS = re.findall(r"^( *)```python\n(.*?)^\1```", (REPO / "CONTRIBUTING.md").read_text(), flags=re.S | re.M)


def test_there_are_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_example_runs(index, monkeypatch, capsys):
    indent, code = BLOCKS[index]
    code = "\n".join(line[len(indent):] for line in code.splitlines())
    monkeypatch.setenv("LAB_STEPS", "off")
    module = types.ModuleType(f"contributing_{index}")  # a dataclass looks its module up in sys.modules
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, f"CONTRIBUTING.md block {index}", "exec"), module.__dict__)
