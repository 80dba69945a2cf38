"""lab.steps: a run step's key follows its arguments, its declared code and the bytes of the data it reads, and
its result is computed once (``$LAB_STEPS``: publish, reuse, off)."""
from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from lab import steps

MODULE = '''
from dataclasses import dataclass
from lab import steps
from . import helper

CALLS = []


@dataclass(frozen=True)
class Curve:
    losses: list[float]
    best: float
    seed: int


@steps.step(depends=[helper])
def train(steps_n: int, data: str, seed: int = 0) -> Curve:
    CALLS.append((steps_n, seed))
    text = steps.read_text(data)
    losses = [helper.SCALE * len(text) / (i + 1) for i in range(steps_n)] + [float("nan")]
    return Curve(losses, min(losses[:-1]), seed)
'''


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A package `stepdemo` inside a temporary repository, with a data file; results and cache in it too."""
    package = tmp_path / "stepdemo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("SCALE = 1.0\n")
    (package / "work.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corpus.txt").write_text("to be or not to be")
    monkeypatch.setattr(steps, "REPO", tmp_path)
    monkeypatch.setattr(steps, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LAB_STEPS", raising=False)
    monkeypatch.delenv("LAB_RUN_LOG", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("stepdemo")]:
        del sys.modules[name]
    steps.REGISTRY.pop("train", None)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("stepdemo")]:
        del sys.modules[name]
    steps.REGISTRY.pop("train", None)


def _work():
    return importlib.import_module("stepdemo.work")


def _stored(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_a_result_is_computed_once_and_read_back_equal(repo):
    work = _work()
    first = work.train(3, str(repo / "data" / "corpus.txt"), seed=1)
    again = work.train(3, str(repo / "data" / "corpus.txt"), seed=1)
    assert work.CALLS == [(3, 1)]
    assert again.losses[:-1] == first.losses[:-1] and again.best == first.best  # NaN kept as NaN
    assert again.losses[-1] != again.losses[-1]
    [stored] = _stored(repo / "cache" / "results" / "train")  # a reader's run writes to the cache
    assert stored["arguments"] == {"steps_n": 3, "data": str(repo / "data" / "corpus.txt"), "seed": 1}
    assert stored["reads"] == {"data/corpus.txt": stored["reads"]["data/corpus.txt"]}
    assert set(stored["depends"]) == {"stepdemo.work.train", "stepdemo.helper"}
    assert stored["computed"]["wall_time_s"] >= 0 and stored["computed"]["machine"]["isa"]


@pytest.mark.parametrize("change", ["argument", "seed", "data bytes", "declared module", "own source"])
def test_each_of_the_four_parts_of_the_key_makes_a_new_result(repo, change):
    work = _work()
    data = str(repo / "data" / "corpus.txt")
    work.train(2, data)
    n, seed = 2, 0
    if change == "argument":
        n = 3
    elif change == "seed":
        seed = 7
    elif change == "data bytes":
        (repo / "data" / "corpus.txt").write_text("to be or not to be, that is the question")
    elif change == "declared module":
        (repo / "stepdemo" / "helper.py").write_text("SCALE = 2.0\n")
    else:
        (repo / "stepdemo" / "work.py").write_text(textwrap.dedent(MODULE).replace("(i + 1)", "(i + 2)"))
    if change in ("declared module", "own source"):
        for name in ("stepdemo.work", "stepdemo.helper"):
            del sys.modules[name]
        work = _work()
        work.CALLS.clear()
    work.CALLS.clear()
    work.train(n, data, seed=seed)
    assert work.CALLS == [(n, seed)], f"a changed {change} must compute again"
    assert len(_stored(repo / "cache" / "results" / "train")) == 2


def test_an_undeclared_module_does_not_enter_the_key(repo):
    """The key holds what the step declares, not every module its imports reach."""
    work = _work()
    data = str(repo / "data" / "corpus.txt")
    work.train(2, data)
    (repo / "stepdemo" / "unrelated.py").write_text("X = 2\n")
    work.CALLS.clear()
    work.train(2, data)
    assert work.CALLS == []


def test_publish_writes_results_and_promotes_a_cached_result(repo, monkeypatch):
    work = _work()
    data = str(repo / "data" / "corpus.txt")
    work.train(2, data)  # computed into the cache by a reader's run
    monkeypatch.setenv("LAB_STEPS", "publish")
    work.CALLS.clear()
    work.train(2, data)
    assert work.CALLS == [], "the same key is the same computation"
    assert [s["key"] for s in _stored(repo / "results" / "train")] == [s["key"] for s in
                                                                        _stored(repo / "cache" / "results" / "train")]


def test_off_always_computes_and_writes_nothing(repo, monkeypatch):
    monkeypatch.setenv("LAB_STEPS", "off")
    work = _work()
    data = str(repo / "data" / "corpus.txt")
    work.train(2, data)
    work.train(2, data)
    assert work.CALLS == [(2, 0), (2, 0)]
    assert not (repo / "results").exists() and not (repo / "cache" / "results").exists()


def test_the_run_log_records_steps_and_reads_outside_them(repo, monkeypatch, tmp_path):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("LAB_RUN_LOG", str(log))
    work = _work()
    steps.read_text(repo / "data" / "corpus.txt")  # a page's own read
    work.train(2, str(repo / "data" / "corpus.txt"))
    work.train(2, str(repo / "data" / "corpus.txt"))
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["read", "step", "step"]
    assert [e["computed"] for e in events[1:]] == [True, False]
    assert events[1]["key"] == events[2]["key"] and events[1]["reads"] == {"data/corpus.txt": events[0]["sha256"]}


def test_bad_uses_fail_with_their_cause(repo, monkeypatch, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "x.txt"
    outside.write_text("x")
    steps.read_text(outside)  # nobody records: a plain read
    monkeypatch.setenv("LAB_RUN_LOG", str(tmp_path_factory.mktemp("log") / "log.jsonl"))
    with pytest.raises(steps.StepError, match="neither in the repository nor in the lab cache"):
        steps.read_text(outside)
    monkeypatch.delenv("LAB_RUN_LOG")
    monkeypatch.setenv("LAB_STEPS", "sometimes")
    with pytest.raises(steps.StepError, match="LAB_STEPS"):
        steps.mode()
    with pytest.raises(steps.StepError, match="inside of a run step"):
        steps.scratch()


def test_a_step_without_a_result_type_is_refused(repo):
    (repo / "stepdemo" / "untyped.py").write_text("from lab import steps\n\n@steps.step()\ndef untyped_step(x):\n"
                                                  "    return x\n")
    module = importlib.import_module("stepdemo.untyped")
    try:
        with pytest.raises(steps.StepError, match="annotate its result type"):
            module.untyped_step(1)
    finally:
        steps.REGISTRY.pop("untyped_step", None)
