import functools
import json
import time

import nbformat
import pytest
import yaml

from lab.publish import book, glue, runner


def _notebook(path, code_cells, **metadata):
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(metadata)
    nb.cells = [nbformat.v4.new_code_cell(code_cells[0], metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in code_cells[1:]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_lab_closure_follows_imports_transitively():
    files = {str(f.relative_to(runner.REPO)) for f in runner.lab_closure("from lab.models import chapter as ch")}
    assert {"lab/models/chapter.py", "lab/models/__init__.py", "lab/models/assets.py", "lab/publish/params.py",
            "lab/__init__.py"} <= files
    files = {f.name for f in runner.lab_closure("from lab.models import chapter as ch")}
    assert "inference.py" not in files and "runner.py" not in files
    assert {f.name for f in runner.lab_closure("import lab.inference")} == {"inference.py", "__init__.py"}


def test_fingerprint_tracks_source_parameters_and_lab_code(tmp_repo):
    nb = tmp_repo / "notebooks" / "chapter.ipynb"
    a = runner.fingerprint(nb, {"n": 1})
    assert a == runner.fingerprint(nb, {"n": 1})
    assert a["parameters"] != runner.fingerprint(nb, {"n": 2})["parameters"]
    # the closure follows `from lab import helper` to helper.py and, inside it, `from . import deep`
    assert a["lab_files"] == ["lab/__init__.py", "lab/deep.py", "lab/helper.py"]
    (tmp_repo / "lab" / "unused.py").write_text("X = 2\n")  # a module the notebook never imports
    assert runner.fingerprint(nb, {"n": 1}) == a
    (tmp_repo / "lab" / "deep.py").write_text("DEPTH = 2\n")  # imported only through helper.py
    b = runner.fingerprint(nb, {"n": 1})
    assert b["lab"] != a["lab"] and (b["source"], b["parameters"]) == (a["source"], a["parameters"])
    _notebook(nb, ["n = 1", "from lab import helper\nprint(n + 1)"])
    assert runner.fingerprint(nb, {"n": 1})["source"] != b["source"]


def test_injected_parameters_do_not_change_the_source_fingerprint(tmp_path):
    nb = _notebook(tmp_path / "x.ipynb", ["n = 1", "print(n)"])
    before = runner.fingerprint(nb, {})["source"]
    data = nbformat.read(nb, as_version=4)
    data.cells.insert(1, nbformat.v4.new_code_cell("n = 5", metadata={"tags": ["injected-parameters"]}))
    nbformat.write(data, nb)
    assert runner.fingerprint(nb, {})["source"] == before


def test_execute_records_provenance_and_run_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RUNS", tmp_path / "runs")
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


def test_execute_writes_the_glued_values_as_typed_json_beside_the_notebook(tmp_path):
    src = _notebook(tmp_path / "tiny.ipynb", ["n = 1", "import numpy as np\nfrom myst_nb import glue\n"
                    "glue('f', 0.1234567, display=False)\nglue('np_f', np.float64(n / 3), display=False)\n"
                    "glue('s', '0.5', display=False)"])
    dst = tmp_path / "out.ipynb"
    runner.execute(src, dst, {"n": 1}, "quick", progress=False)
    written = json.loads((tmp_path / "out.glue.json").read_text())
    assert written == glue.from_notebook(json.loads(dst.read_text()))  # what a page without its JSON derives
    assert written["f"] == {"type": "float", "value": 0.1234567} and written["s"] == {"type": "str", "value": "0.5"}
    assert glue.values(dst) == {"f": 0.1234567, "np_f": 1 / 3, "s": "0.5"}


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
def test_bad_chapter_parameters_fail_in_the_first_cell(tmp_path, monkeypatch, override, message):
    # a failed run keeps its partial notebook under RUNS/failed/: here a temporary folder, never the checkout
    monkeypatch.setattr(runner, "RUNS", tmp_path / "runs")
    checkout_failed = runner.REPO / "runs" / "failed"
    before = sorted(checkout_failed.iterdir()) if checkout_failed.exists() else []
    with pytest.raises(runner.RunError) as err:
        runner.run("p0_models_assets", "quick", override, output=tmp_path / "bad.ipynb")
    cause = str(err.value.__cause__)
    assert message in cause and "ParameterError" in cause
    assert "Loading" not in cause  # nothing was loaded before the error
    kept = list((tmp_path / "runs" / "failed").glob("p0_models_assets-*.ipynb"))
    assert len(kept) == 1 and str(kept[0]) in str(err.value)
    assert (sorted(checkout_failed.iterdir()) if checkout_failed.exists() else []) == before


def test_a_page_named_after_a_profile_publishes_that_notebook_pinned_to_it():
    assert runner.page_source("p5_memorization_scale") == ("p5_memorization_scale", None)
    assert runner.page_source("p5_memorization_scale_gpu") == ("p5_memorization_scale", "gpu")
    assert runner.published_profile("p5_memorization_scale_gpu") == "gpu"
    assert runner.needs_cuda(runner.profile_parameters("p5_memorization_scale", "gpu"))
    with pytest.raises(runner.RunError, match="not an executed page"):
        runner.page_source("p5_memorization_scale_laptop")


def test_pages_that_read_the_book_go_stale_when_an_earlier_page_changes(tmp_path, monkeypatch):
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    monkeypatch.setattr(runner, "BOOK", book_dir)

    def write(page, started):
        record = {"cells": [], "metadata": {"lab": {"started": started}}}
        (book_dir / f"{page}.ipynb").write_text(json.dumps(record))

    write("p0_models_assets", "2026-01-01T00:00:00+00:00")
    before = runner.book_inputs("p9_claims_ledger")
    # the reader's own page and the pages after it in _toc.yml are not its inputs
    write("p9_claims_ledger", "2026-01-03T00:00:00+00:00")
    write("p9_reproducibility", "2026-01-03T00:00:00+00:00")
    assert runner.book_inputs("p9_claims_ledger") == before
    # a page before it is
    write("p0_models_assets", "2026-01-02T00:00:00+00:00")
    assert runner.book_inputs("p9_claims_ledger") != before
    # the book's own readers (the ledger, the appendix) are built on run steps: what they read is recorded through
    # lab.steps, file by file (tests/integration/test_page_states.py)
    for page in ("p9_claims_ledger", "p9_reproducibility"):
        assert json.loads((runner.NOTEBOOKS / f"{page}.ipynb").read_text())["metadata"]["run_steps"] is True


# ---------------------------------------------------------------- staleness, one cause at a time
# A temporary repository: two chapters (the second reads the book), profiles, a small `lab` package and a
# table of contents; the runner's folders point at it, so publishing and editing never touch the checkout.

@pytest.fixture
def tmp_repo(tmp_path, monkeypatch):
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "__init__.py").write_text("")
    (lab / "helper.py").write_text("from . import deep\nVALUE = 1\n")
    (lab / "deep.py").write_text("DEPTH = 1\n")
    (lab / "unused.py").write_text("X = 1\n")
    notebooks = tmp_path / "notebooks"
    (notebooks / "params").mkdir(parents=True)
    _notebook(notebooks / "chapter.ipynb", ["n = 1", "from lab import helper\nprint(n)"])
    _notebook(notebooks / "reader.ipynb", ["n = 1", "print(n)"], reads_book=True)
    for stem in ("chapter", "reader"):
        (notebooks / "params" / f"{stem}.yml").write_text(yaml.safe_dump({"quick": {"n": 1}, "cpu": {"n": 2}}))
    (tmp_path / "book").mkdir()
    toc = {"format": "jb-book", "root": "book/index",
           "chapters": [{"file": "book/intro"}, {"file": "book/chapter"}, {"file": "book/reader"}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    for name, value in (("REPO", tmp_path), ("NOTEBOOKS", notebooks), ("PARAMS", notebooks / "params"),
                        ("BOOK", tmp_path / "book"), ("RUNS", tmp_path / "runs")):
        monkeypatch.setattr(runner, name, value)
    monkeypatch.setattr(runner, "toc_files", functools.partial(runner.toc_files, tmp_path / "_toc.yml"))
    return tmp_path


def _publish(page):
    """What `runner.publish` records, without starting a kernel: the fingerprint of the notebook as it is now
    under the page's profile (test_a_published_page_is_current checks that publish itself agrees)."""
    stem = runner.page_source(page)[0]
    parameters = runner.profile_parameters(stem, "cpu")
    record = {"profile": "cpu", "parameters": parameters,
              "fingerprint": runner.fingerprint(runner.notebook_path(stem), parameters)}
    nb = {"cells": [], "metadata": {"lab": record}, "nbformat": 4, "nbformat_minor": 5}
    (runner.BOOK / f"{page}.ipynb").write_text(json.dumps(nb))
    glue.write(runner.BOOK / f"{page}.ipynb", nb)


def _set_profiles(repo, stem, profiles):
    (repo / "notebooks" / "params" / f"{stem}.yml").write_text(yaml.safe_dump(profiles))


def test_a_published_page_is_current(tmp_repo):
    runner.publish("chapter", log=lambda *_: None)
    record = runner.recorded(tmp_repo / "book" / "chapter.ipynb")
    assert record["parameters"] == {"n": 2} and record["fingerprint"]["lab_files"][1:] == ["lab/deep.py",
                                                                                            "lab/helper.py"]
    assert runner.stale_reason("chapter") is None


def test_stale_when_never_executed(tmp_repo):
    assert runner.stale_reason("chapter") == "never executed"
    _publish("chapter")
    assert runner.stale_reason("chapter") is None


def test_stale_when_its_profile_is_gone(tmp_repo):
    _publish("chapter")
    assert runner.stale_reason("chapter") is None
    _set_profiles(tmp_repo, "chapter", {"quick": {"n": 1}})
    assert runner.stale_reason("chapter") == "its profile 'cpu' no longer exists"


def test_stale_when_the_notebook_source_changes(tmp_repo):
    _publish("chapter")
    assert runner.stale_reason("chapter") is None
    _notebook(tmp_repo / "notebooks" / "chapter.ipynb", ["n = 1", "from lab import helper\nprint(2 * n)"])
    assert runner.stale_reason("chapter") == "notebook source changed"


def test_stale_when_its_profile_parameters_change(tmp_repo):
    _publish("chapter")
    _set_profiles(tmp_repo, "chapter", {"quick": {"n": 5}, "cpu": {"n": 2}})
    assert runner.stale_reason("chapter") is None  # another profile's parameters are not this page's
    _set_profiles(tmp_repo, "chapter", {"quick": {"n": 1}, "cpu": {"n": 3}})
    assert runner.stale_reason("chapter") == "cpu parameters changed"


def test_stale_when_the_lab_code_it_imports_changes(tmp_repo):
    _publish("chapter")
    (tmp_repo / "lab" / "unused.py").write_text("X = 2\n")
    assert runner.stale_reason("chapter") is None  # code it does not import
    (tmp_repo / "lab" / "deep.py").write_text("DEPTH = 2\n")  # imported through helper.py
    assert runner.stale_reason("chapter") == "lab code changed"


def test_stale_when_the_pages_it_reads_change(tmp_repo):
    _publish("chapter")
    _publish("reader")
    assert runner.stale_reason("reader") is None
    nb = json.loads((tmp_repo / "book" / "chapter.ipynb").read_text())
    nb["cells"] = [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": [
        {"output_type": "display_data", "data": {"text/plain": "0.5"},
         "metadata": {"scrapbook": {"name": "x", "mime_prefix": ""}}}]}]
    (tmp_repo / "book" / "chapter.ipynb").write_text(json.dumps(nb))  # a value glued by a page before it
    assert runner.stale_reason("reader") is None  # the readers read the page's glue JSON, not its printed text
    glue.write(tmp_repo / "book" / "chapter.ipynb", nb)  # which execution writes
    assert runner.stale_reason("reader") == "the pages it reads changed"
    assert runner.stale_reason("chapter") is None  # a page that does not read the book ignores that


def test_every_kernel_the_runner_starts_hashes_strings_alike_and_the_record_says_so(tmp_path, monkeypatch):
    """PYTHONHASHSEED acts only when an interpreter starts: the runner sets it in the kernel's environment, so that
    two runs order a set of strings alike. The pytest process's own setting (conftest.py) is removed first: the
    runner alone must provide it."""
    import os

    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    src = _notebook(tmp_path / "hashing.ipynb", ["seed = 0", "import os\nprint(os.environ.get('PYTHONHASHSEED'), "
                                                 "hash('attractor'), list({'a', 'b', 'c', 'd', 'e'}))"])
    printed, records = [], []
    for run in ("a", "b"):
        records.append(runner.execute(src, tmp_path / f"{run}.ipynb", {}, "quick", progress=False))
        out = json.loads((tmp_path / f"{run}.ipynb").read_text())
        printed.append("".join("".join(o["text"]) for c in out["cells"] for o in c.get("outputs", [])
                               if o.get("name") == "stdout"))
        assert out["metadata"]["lab"]["hash_seed"] == runner.KERNEL_HASH_SEED
    assert printed[0].startswith(f"{runner.KERNEL_HASH_SEED} ") and printed[0] == printed[1]
    assert records[0]["hash_seed"] == runner.KERNEL_HASH_SEED
    assert "PYTHONHASHSEED" not in os.environ  # the runner's own environment is left as it was


def test_sigterm_during_a_run_leaves_no_running_partial_and_no_absolute_path(tmp_path):
    """A run killed with SIGTERM (a CI timeout, `kill`) stops, and its partial notebook is kept under runs/failed
    with portable paths, not left as a .running-* file naming this machine's folders."""
    import signal
    import subprocess
    import sys

    import nbformat

    src, dst, runs = tmp_path / "slow.ipynb", tmp_path / "out" / "slow.ipynb", tmp_path / "runs"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("import time\ntime.sleep(120)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, src)
    script = ("from pathlib import Path\nfrom lab.publish import runner\n"
              f"runner.RUNS = Path({str(runs)!r})\n"
              f"runner.execute(Path({str(src)!r}), Path({str(dst)!r}), {{}}, 'quick', progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=runner.REPO)
    partial = dst.with_name(f".running-{dst.name}")
    deadline = time.monotonic() + 90
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert partial.exists(), "the run never started"
    time.sleep(3)  # inside the sleeping cell
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    assert not list(dst.parent.glob(".running-*"))
    [kept] = (runs / "failed").glob("slow-*.ipynb")
    assert str(tmp_path) not in kept.read_text()
