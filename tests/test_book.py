"""The book's structure: every chapter is a profiled, parameterised notebook executed with provenance."""
import json

import pytest

from lab import book, runner


def test_every_toc_entry_exists():
    for entry in book.toc_files():
        candidates = [runner.REPO / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(p.exists() for p in candidates), f"_toc.yml names {entry}, which does not exist"


@pytest.mark.parametrize("nb", sorted(runner.NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_have_a_parameters_cell_and_profiles(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
    profiles = runner.profiles(nb.stem)
    assert {"quick", "cpu"} <= set(profiles)
    # the committed outputs (the nbval reference) come from the quick profile
    assert json.loads(nb.read_text())["metadata"]["lab"]["profile"] == "quick"


def _appendix_text() -> str:
    nb = json.loads((runner.BOOK / "p9_reproducibility.ipynb").read_text())
    return "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("stem", book.notebook_chapters())
def test_published_chapters_are_current_and_carry_provenance(stem):
    reason = runner.stale_reason(stem)
    source, pinned = runner.page_source(stem)
    if pinned and runner.needs_cuda(runner.profile_parameters(source, pinned)) and not runner.cuda_available():
        # a GPU run cannot be redone here: it may lag the code, but then the appendix must say so
        if reason is not None:
            assert f"stale: {reason}" in _appendix_text(), f"the appendix does not list {stem} as stale"
    else:
        assert reason is None, f"book/{stem}.ipynb is stale: run `python -m lab book`"
    record = runner.recorded(runner.BOOK / f"{stem}.ipynb")
    assert record["git"]["commit"], "published chapters are executed from a commit"
    # the code version is the commit; `lab`'s own version is None where it ran from source, uninstalled
    # (the GPU machine), so the test asks for the framework versions and the device instead
    assert record["wall_time_s"] > 0 and record["versions"]["torch"] and record["versions"]["python"]
    assert record["device"]["cpu"] or record["device"]["accelerator"]
    assert record["profile"] in runner.profiles(source)


def test_every_notebook_is_a_chapter_of_the_book():
    sources = {runner.page_source(page)[0] for page in book.notebook_chapters()}
    assert sources == {p.stem for p in runner.NOTEBOOKS.glob("*.ipynb")}
