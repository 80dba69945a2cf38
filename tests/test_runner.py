import json

import nbformat
import pytest

from lab import runner


def _notebook(path, code_cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code_cells[0], metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in code_cells[1:]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_lab_closure_follows_imports_transitively():
    files = {f.name for f in runner.lab_closure("from lab.chapters import models_assets as ch")}
    assert {"models_assets.py", "models.py", "assets.py", "params.py", "__init__.py"} <= files
    assert "stats.py" not in files and "runner.py" not in files
    assert {f.name for f in runner.lab_closure("import lab.stats")} == {"stats.py", "__init__.py"}


def test_fingerprint_tracks_source_parameters_and_lab_code(tmp_path):
    nb = _notebook(tmp_path / "x.ipynb", ["n = 1", "import lab.stats\nprint(n)"])
    a = runner.fingerprint(nb, {"n": 1})
    assert a == runner.fingerprint(nb, {"n": 1})
    assert a["parameters"] != runner.fingerprint(nb, {"n": 2})["parameters"]
    assert a["lab_files"] == ["lab/__init__.py", "lab/stats.py"]
    _notebook(nb, ["n = 1", "import lab.stats\nprint(n + 1)"])
    assert runner.fingerprint(nb, {"n": 1})["source"] != a["source"]


def test_injected_parameters_do_not_change_the_source_fingerprint(tmp_path):
    nb = _notebook(tmp_path / "x.ipynb", ["n = 1", "print(n)"])
    before = runner.fingerprint(nb, {})["source"]
    data = nbformat.read(nb, as_version=4)
    data.cells.insert(1, nbformat.v4.new_code_cell("n = 5", metadata={"tags": ["injected-parameters"]}))
    nbformat.write(data, nb)
    assert runner.fingerprint(nb, {})["source"] == before


def test_execute_records_provenance_and_run_never_overwrites(tmp_path):
    src = _notebook(tmp_path / "tiny.ipynb", ["n = 1\nseed = 0", "print(n * 2)"])
    dst = tmp_path / "out.ipynb"
    record = runner.execute(src, dst, {"n": 21}, "quick", progress=False)
    out = json.loads(dst.read_text())
    assert out["metadata"]["lab"]["parameters"] == {"n": 21}
    assert set(record) >= {"git", "versions", "device", "profile", "fingerprint", "started", "wall_time_s"}
    assert record["versions"]["torch"].startswith("2.13.0")
    printed = ["".join(o["text"]) for c in out["cells"] for o in c.get("outputs", []) if o.get("name") == "stdout"]
    assert printed == ["42\n"]
    with pytest.raises(runner.RunError, match="never overwritten"):
        runner.run("p0_models_assets", "quick", output=dst)


def test_profiles_and_arguments_fail_clearly():
    with pytest.raises(runner.RunError, match="profiles: quick, cpu, gpu"):
        runner.profile_parameters("p0_models_assets", "laptop")
    with pytest.raises(runner.RunError, match="chapters: .*p0_models_assets"):
        runner.notebook_path("no_such_chapter")
    assert runner.main_run_args(["-p", "max_new_tokens", "8", "-p", "models", "[a, b]"]) == {
        "max_new_tokens": 8, "models": ["a", "b"]}
    with pytest.raises(runner.RunError):
        runner.main_run_args(["--oops"])


@pytest.mark.parametrize("override, message", [
    ({"models": ["llama-70b"]}, "valid choices are smollm2-135m, gemma3-270m"),
    ({"max_new_tokens": "12"}, "expected int, got str"),
])
def test_bad_chapter_parameters_fail_in_the_first_cell(tmp_path, override, message):
    with pytest.raises(runner.RunError) as err:
        runner.run("p0_models_assets", "quick", override, output=tmp_path / "bad.ipynb")
    cause = str(err.value.__cause__)
    assert message in cause and "ParameterError" in cause
    assert "Loading" not in cause  # nothing was loaded before the error


def test_a_page_named_after_a_profile_publishes_that_notebook_pinned_to_it():
    assert runner.page_source("p5_memorization_scale") == ("p5_memorization_scale", None)
    assert runner.page_source("p5_memorization_scale_gpu") == ("p5_memorization_scale", "gpu")
    assert runner.published_profile("p5_memorization_scale_gpu") == "gpu"
    assert runner.needs_cuda(runner.profile_parameters("p5_memorization_scale", "gpu"))
    with pytest.raises(runner.RunError, match="not an executed page"):
        runner.page_source("p5_memorization_scale_laptop")


def test_pages_that_read_the_book_go_stale_when_an_earlier_page_changes(tmp_path, monkeypatch):
    book = tmp_path / "book"
    book.mkdir()
    page = {"cells": [], "metadata": {"lab": {"started": "2026-01-01T00:00:00+00:00"}}}
    (book / "p0_models_assets.ipynb").write_text(json.dumps(page))
    monkeypatch.setattr(runner, "BOOK", book)
    before = runner.book_inputs("p9_claims_ledger")
    page["metadata"]["lab"]["started"] = "2026-01-02T00:00:00+00:00"
    (book / "p0_models_assets.ipynb").write_text(json.dumps(page))
    assert runner.book_inputs("p9_claims_ledger") != before
    # a page before the reader changes its inputs; the reader's own page does not
    assert runner.book_inputs("p0_models_assets") == runner.book_inputs("p0_models_assets")
    ledger_nb = json.loads((runner.NOTEBOOKS / "p9_claims_ledger.ipynb").read_text())
    assert ledger_nb["metadata"]["reads_book"] is True
