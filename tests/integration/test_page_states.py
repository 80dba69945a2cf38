"""`python -m lab status --json` on a temporary copy of the repository: which pages an edit makes stale, and which
run steps re-publishing them would compute (lab.publish.pages). Each edit is made to the copy, never the checkout.

The pages built on run steps are found from their notebooks' metadata, so each new conversion is tested here too.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.paths import NOTEBOOKS, REPO

RUN_STEP_PAGES = sorted(p.stem for p in NOTEBOOKS.glob("[!.]*.ipynb")
                        if json.loads(p.read_text())["metadata"].get("run_steps"))


@pytest.fixture
def copy(tmp_path):
    """The committed tree (``git ls-files``) copied into a temporary folder."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    return tmp_path


def status(repo: Path) -> dict[str, dict]:
    """{page: its entry} from `python -m lab status --json` run in ``repo`` (its own `lab` package)."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run([sys.executable, "-m", "lab", "status", "--json"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"pages"}
    for entry in out["pages"]:
        assert set(entry) == {"page", "profile", "stale", "reasons", "runs"}
        assert set(entry["runs"]) == {"total", "to_compute"} and isinstance(entry["runs"]["total"], int)
        assert entry["stale"] == bool(entry["reasons"])
    return {entry["page"]: entry for entry in out["pages"]}


def _edit_first_markdown(repo: Path, stem: str) -> None:
    path = repo / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    cell["source"] = ["".join(cell["source"]) + "\n\nA corrected sentence."]
    path.write_text(json.dumps(nb, indent=1))


def test_the_copy_is_current_and_every_run_step_page_has_its_results(copy):
    """The starting point of the edits below: each page built on run steps is current in the committed tree."""
    assert RUN_STEP_PAGES, "no page is built on run steps"
    states = status(copy)
    for page in RUN_STEP_PAGES:
        assert not states[page]["stale"], states[page]["reasons"]
        assert states[page]["runs"]["to_compute"] == []


@pytest.mark.parametrize("page", RUN_STEP_PAGES)
def test_a_markdown_edit_re_renders_and_computes_nothing(copy, page):
    _edit_first_markdown(copy, page)
    entry = status(copy)[page]
    assert entry["stale"] and entry["reasons"] == ["notebook source changed"]
    assert entry["runs"]["to_compute"] == []


def test_an_edit_of_the_claims_makes_the_ledger_stale_and_its_step_computed(copy):
    path = copy / "data" / "claims.yml"
    path.write_text(path.read_text().replace("claim:", "claim: ", 1))
    states = status(copy)
    for page in ("p9_claims_ledger", "p9_negative_findings"):
        assert states[page]["stale"], page
        assert "run step judge_claims: data/claims.yml changed" in states[page]["reasons"]
        [key] = states[page]["runs"]["to_compute"]
        assert key.startswith("judge_claims/")
    assert not states["p3_legal_lora"]["stale"]


def test_an_edit_of_one_attractor_text_recomputes_only_the_part1_steps_that_read_it(copy):
    """Part I's steps are keyed by the attractor texts they read: editing one text puts exactly the steps of that
    attractor (each model, each grid) in to_compute, and leaves the other attractors' results standing."""
    text = copy / "data" / "attractors" / "counting.txt"
    text.write_text(text.read_text() + " 101")
    states = status(copy)
    computed = {}
    for page in ("p1_attractors", "p1_experiments", "p1_analysis"):
        entry = states[page]
        assert entry["stale"] and any("data/attractors/counting.txt changed" in r for r in entry["reasons"]), page
        assert entry["runs"]["to_compute"] and all(k.startswith("attractor_records/") for k in entry["runs"]["to_compute"])
        computed[page] = entry["runs"]["to_compute"]
        assert len(entry["runs"]["to_compute"]) < entry["runs"]["total"]  # the other attractors are not recomputed
    published = {json.loads(p.read_text())["key"]: json.loads(p.read_text())["result"]["attractor"]
                 for p in (copy / "results" / "attractor_records").glob("*.json")}
    for page, keys in computed.items():
        old = {k.split("/")[1] for k in keys} & set(published)
        assert not old  # a key to compute is a new key: the counting results it replaces are other keys
    # exactly one step per (model, grid) that reads counting.txt: p1_attractors runs 2 models, one grid
    assert len(computed["p1_attractors"]) == 2
    assert not states["p5_memorization_scale"]["runs"]["to_compute"] or all(
        k.startswith("measure_pretrained/") for k in states["p5_memorization_scale"]["runs"]["to_compute"])


def test_a_declared_dependency_recomputes_and_presentation_code_only_re_renders(copy):
    rules = copy / "lab" / "ledger" / "rules.py"
    rules.write_text(rules.read_text() + "\n# an edited rule\n")
    entry = status(copy)["p9_claims_ledger"]
    assert "run step judge_claims: its code or a declared dependency changed" in entry["reasons"]
    assert [k.split("/")[0] for k in entry["runs"]["to_compute"]] == ["judge_claims"]
    rules.write_text(rules.read_text().replace("\n# an edited rule\n", ""))
    render = copy / "lab" / "ledger" / "render.py"  # the table's layout: not a dependency of the step
    render.write_text(render.read_text() + "\n# a wider column\n")
    entry = status(copy)["p9_claims_ledger"]
    assert entry["reasons"] == ["lab code it imports changed"] and entry["runs"]["to_compute"] == []


def test_a_missing_result_is_to_compute(copy):
    [result] = (copy / "results" / "judge_claims").glob("*.json")
    result.unlink()
    entry = status(copy)["p9_claims_ledger"]
    assert entry["runs"]["to_compute"] == [f"judge_claims/{result.stem}"]
    assert entry["reasons"] == [f"run step judge_claims: its result {result.stem} is not in results/"]


def test_every_committed_result_is_called_by_a_published_page():
    """results/ holds what the book stands on, no more: `lab book` removes a step's superseded keys."""
    from lab import steps
    from lab.publish import pages

    committed = set(steps.RESULTS.glob("*/*.json"))
    assert committed and committed == pages.referenced_results()


def test_legal_presentation_code_re_renders_and_training_code_retrains(copy):
    """Part III: the page's tables (lab.legal.report) are presentation; the training loop of lab.legal.lora is
    declared by every training step, so an edit of it re-trains each seed, and the steps measuring the first
    seed's adapter with it."""
    report = copy / "lab" / "legal" / "report.py"
    report.write_text(report.read_text() + "\n# a wider table\n")
    entry = status(copy)["p3_legal_lora"]
    assert entry["stale"] and entry["runs"]["to_compute"] == []
    lora = copy / "lab" / "legal" / "lora.py"
    lora.write_text(lora.read_text().replace('    """Train a LoRA adapter on the training examples of ``tasks``',
                                             '    """Train one LoRA adapter on the training examples of ``tasks``', 1))
    entry = status(copy)["p3_legal_lora"]
    steps = sorted({k.split("/")[0] for k in entry["runs"]["to_compute"]})
    assert steps == ["measure_deployment", "measure_int8", "measure_sizes", "train_adapter"]
    assert sum(k.startswith("train_adapter/") for k in entry["runs"]["to_compute"]) == 3  # one per seed
