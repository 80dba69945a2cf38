"""The book's structure: every chapter is a profiled, parameterised notebook executed with provenance."""
import json

import pytest

from lab.publish import book, pages, runner
from lab import ledger


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


def _appendix_status() -> dict:
    """{page: status column} of the reproducibility appendix's table of executed pages."""
    import re

    nb = json.loads((runner.BOOK / "p9_reproducibility.ipynb").read_text())
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    rows = re.findall(r"<tr>\s*<th>([^<]+)</th>(.*?)</tr>", html, flags=re.S)
    return {page: re.findall(r"<td>([^<]*)</td>", cells)[-1] for page, cells in rows if "<td>" in cells}


def _markdown_glue_names(nb: dict) -> set:
    import re

    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return set(re.findall(r"\{glue:[a-z]+\}`([A-Za-z0-9_]+)", text))


@pytest.mark.parametrize("stem", book.notebook_chapters())
def test_published_chapters_are_current_and_carry_provenance(stem):
    reason = "; ".join(pages.state(stem).reasons) or None
    source, pinned = runner.page_source(stem)
    record = runner.recorded(runner.BOOK / f"{stem}.ipynb")
    if pinned and runner.needs_cuda(runner.profile_parameters(source, pinned)) and not runner.cuda_available():
        # A GPU run cannot be redone here. What can be checked is checked: it ran that profile's parameters on a
        # CUDA device, it glues every value its prose and the ledger read, and the appendix gives the reason
        # (if any) why it lags the code.
        assert record["profile"] == pinned and record["parameters"]["device"] == "cuda"
        assert record["device"]["accelerator"], "a gpu page must record the CUDA device it ran on"
        assert record["fingerprint"]["parameters"] == runner.fingerprint(
            runner.notebook_path(source), record["parameters"])["parameters"]  # the record is self-consistent
        nb = json.loads((runner.BOOK / f"{stem}.ipynb").read_text())
        glued = ledger.glued(stem)
        assert _markdown_glue_names(nb) <= set(glued)
        assert all(glued[name] is not None for name in glued)
        read_by_ledger = {name for page, name in _ledger_reads() if page == stem}
        assert read_by_ledger <= set(glued)  # whatever the ledger cites from it, it glues
        status = _appendix_status().get(stem)
        pending = f"stale: {reason}; pending a re-run on a GPU"
        assert (status == "current") if reason is None else status.startswith(pending)
    else:
        assert reason is None, f"book/{stem}.ipynb is stale: run `python -m lab book`"
    assert record["git"]["commit"], "published chapters are executed from a commit"
    # the code version is the commit; `lab`'s own version is None where it ran from source, uninstalled
    # (the GPU machine), so the test asks for the framework versions and the device instead
    assert record["wall_time_s"] > 0 and record["versions"]["torch"] and record["versions"]["python"]
    assert record["device"]["cpu"] or record["device"]["accelerator"]
    assert record["profile"] in runner.profiles(source)


def _ledger_reads() -> set:
    """(page, name) of every glued value the claims ledger's rules read from the executed book."""
    results = ledger.Results()
    for claim in ledger.load_claims():
        try:
            claim.read(results)
        except ledger.LedgerError:  # a value missing elsewhere in the book is another test's failure
            pass
    return results.used


def test_every_notebook_is_a_chapter_of_the_book():
    sources = {runner.page_source(page)[0] for page in book.notebook_chapters()}
    assert sources == {p.stem for p in runner.NOTEBOOKS.glob("*.ipynb")}


def test_the_appendix_lists_every_gpu_hub_profile_as_needing_a_gpu_and_the_hub():
    """The gpu-hub profiles name models no machine building the book can reach: the appendix lists each, with
    the command that runs it, and never as a result (no page of the book was made from one)."""
    from lab.publish import reproducibility

    table = reproducibility.unrun_profiles().reset_index()
    hub = table[table.profile == "gpu-hub"]
    expected = {nb.stem for nb in runner.NOTEBOOKS.glob("[!.]*.ipynb") if "gpu-hub" in runner.profiles(nb.stem)}
    assert expected >= {"p1_experiments", "p3_legal_lora"} and set(hub.notebook) == expected
    assert (hub.needs == "a GPU and the hub").all()
    assert all(f"--profile gpu-hub" in c for c in hub.command)
    published = {runner.page_source(p) for p in book.notebook_chapters()}
    assert not {(r.notebook, r.profile) for r in table.itertuples()} & published


@pytest.mark.parametrize("stem", book.notebook_chapters())
def test_no_page_glues_a_name_twice(stem):
    """Jupyter Book refuses a page that glues one name twice (warnings are errors): caught here, before a build."""
    import collections

    nb = json.loads((runner.BOOK / f"{stem}.ipynb").read_text())
    names = collections.Counter(o.get("metadata", {}).get("scrapbook", {}).get("name") for c in nb["cells"]
                                for o in c.get("outputs", []))
    names.pop(None, None)
    assert not [n for n, k in names.items() if k > 1]



@pytest.mark.parametrize("stem", book.notebook_chapters())
def test_every_page_folds_its_parameter_cells(stem):
    """A reader meets a run's parameters once, in the run record: the raw parameters cells are folded."""
    from lab.publish import pagefold

    nb = json.loads((runner.BOOK / f"{stem}.ipynb").read_text())
    cells = [c for c in nb["cells"] if set(pagefold.FOLDED) & set(c.get("metadata", {}).get("tags", []))]
    assert cells and all(pagefold.HIDDEN in c["metadata"]["tags"] for c in cells)


def test_hiding_parameter_cells_touches_nothing_else():
    from lab.publish import pagefold

    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "x = 1", "outputs": []},
                    {"cell_type": "code", "metadata": {}, "source": "y = 2", "outputs": []},
                    {"cell_type": "code", "metadata": {"tags": ["injected-parameters", "hide-cell"]}, "source": "",
                     "outputs": []}]}
    pagefold.hide_parameter_cells(nb)
    assert [c["metadata"]["tags"] for c in nb["cells"]] == [["parameters", "hide-cell"], [],
                                                           ["injected-parameters", "hide-cell"]]


def test_published_streams_name_no_machine_path(tmp_path):
    from lab.publish import pagefold

    warning = f"{tmp_path}/.venv/lib/python3.11/site-packages/scipy/x.py:1: RuntimeWarning: w\n"
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "", "outputs": [
        {"output_type": "stream", "name": "stderr", "text": [warning]},
        {"output_type": "stream", "name": "stdout", "text": "kept /elsewhere/file\n"}]}]}
    pagefold.relative_paths(nb, tmp_path)
    outputs = nb["cells"][0]["outputs"]
    assert outputs[0]["text"] == [".venv/lib/python3.11/site-packages/scipy/x.py:1: RuntimeWarning: w\n"]
    assert outputs[1]["text"] == "kept /elsewhere/file\n"
