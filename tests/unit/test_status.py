"""`python -m lab status` for pages run as whole notebooks: one line per page, non-zero exactly when a page of the
default profile is stale (pages built on run steps: tests/integration/test_page_states.py)."""
from __future__ import annotations

import pytest

from lab import __main__ as cli
from lab.publish import pages as page_states
from lab.publish import runner


@pytest.fixture
def pages(monkeypatch):
    """Three pages: a/b of the default profile, a_gpu pinned to a CUDA profile; staleness set per test."""
    stale: dict[str, str | None] = {"a": None, "b": None, "a_gpu": None}
    monkeypatch.setattr(runner, "notebook_chapters", lambda: list(stale))
    monkeypatch.setattr(page_states, "uses_run_steps", lambda stem: False)  # pages run as whole notebooks
    monkeypatch.setattr(runner, "page_source", lambda p: ("a", "gpu") if p == "a_gpu" else (p, None))
    monkeypatch.setattr(runner, "published_profile", lambda p: "gpu" if p == "a_gpu" else "cpu")
    monkeypatch.setattr(runner, "stale_reason", lambda p: stale[p])
    monkeypatch.setattr(runner, "profile_parameters", lambda stem, profile: {"device": "cuda"} if profile == "gpu" else {})
    monkeypatch.setattr(runner, "cuda_available", lambda: False)
    return stale


def test_all_current_exits_zero(pages, capsys):
    assert cli.main(["status"]) == 0
    assert capsys.readouterr().out.splitlines() == ["a: current (cpu)", "b: current (cpu)", "a_gpu: current (gpu)"]


def test_a_stale_default_page_exits_one_and_says_why(pages, capsys):
    pages["b"] = "lab code changed"
    assert cli.main(["status"]) == 1
    assert "b: stale (cpu): lab code changed; re-runs its whole notebook" in capsys.readouterr().out


def test_a_stale_cuda_page_on_a_cpu_machine_is_kept_and_does_not_fail(pages, capsys, monkeypatch):
    pages["a_gpu"] = "notebook source changed"
    assert cli.main(["status"]) == 0
    assert "kept as published" in capsys.readouterr().out
    monkeypatch.setattr(runner, "cuda_available", lambda: True)
    assert page_states.state("a_gpu").runnable
