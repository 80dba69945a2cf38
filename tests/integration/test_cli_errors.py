"""Errors where the user looks: `lab run` and `lab book` print the failing cell's exception type and message
on the terminal with the partial notebook's path and exit non-zero; an unknown `-p` name fails before any
execution, listing the notebook's parameters."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import __main__ as cli
from lab.publish import runner

ROOT = Path(__file__).resolve().parents[2]


def _lab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _remove_partial(message: str) -> Path:
    """The partial notebook the message names (removed: a test leaves nothing behind)."""
    m = re.search(r"the partial notebook is (\S+\.ipynb)", message)
    assert m, message
    path = Path(m.group(1))
    path = path if path.is_absolute() else ROOT / path
    assert path.exists(), path
    path.unlink()
    return path


def test_notebook_parameters_are_read_from_the_parameters_cell():
    names = runner.notebook_parameters(runner.notebook_path("p1_experiments"))
    assert {"backend", "model", "magnitudes", "seed"} <= set(names) and "ctx" not in names


def test_an_unknown_parameter_fails_before_execution_and_lists_the_valid_ones(tmp_path):
    out = tmp_path / "never.ipynb"
    proc = _lab("run", "p0_models_assets", "--profile", "quick", "--output", str(out), "-p", "no_such_param", "1")
    assert proc.returncode == 2
    assert "no parameter(s) no_such_param" in proc.stderr
    valid = runner.notebook_parameters(runner.notebook_path("p0_models_assets"))
    assert f"its parameters: {', '.join(valid)}" in proc.stderr and "max_new_tokens" in valid
    assert not out.exists()  # nothing was executed


@pytest.mark.slow  # starts a kernel
def test_run_prints_the_failing_cells_exception_and_exits_non_zero(tmp_path):
    proc = _lab("run", "p1_attractors", "--profile", "quick", "--output", str(tmp_path / "bad.ipynb"),
                "-p", "backend", "nonsense")
    assert proc.returncode == 2
    # the ParameterError raised in the notebook's first cell, with its valid choices, on the terminal
    assert "ParameterError: parameter 'backend': 'nonsense' is not a valid choice; valid choices: 'local' or " \
           "'openai'" in proc.stderr
    _remove_partial(proc.stderr)


@pytest.mark.slow  # starts a kernel
def test_book_prints_the_failing_cells_exception_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    """`lab book` publishing a page whose notebook fails: the reason reaches the terminal. The published page
    is redirected to a temporary folder (book/ is never written by tests)."""
    monkeypatch.setattr(runner, "BOOK", tmp_path / "book")
    quick = runner.profile_parameters("p1_attractors", "quick")
    monkeypatch.setattr(runner, "profile_parameters", lambda stem, profile: {**quick, "attractors": ["no_such_text"]})
    code = cli.main(["book", "--only", "p1_attractors", "--no-build"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ParameterError: parameter 'attractors': unknown attractor(s) ['no_such_text']" in err
    assert not (tmp_path / "book" / "p1_attractors.ipynb").exists()
    _remove_partial(err)


def test_the_reason_of_a_papermill_error_is_its_cell_exception():
    class CellError(Exception):
        ename, evalue, exec_count = "CorpusError", "wikitext-2 files not found under /x", 3

    assert runner.failure_reason(CellError()) == "CorpusError: wikitext-2 files not found under /x (in cell [3])"
    assert runner.failure_reason(ValueError("bad")) == "ValueError: bad"


@pytest.mark.parametrize("argv", [["-p", "x"], ["--bogus"]])
def test_malformed_run_arguments_are_refused(argv):
    with pytest.raises(runner.RunError, match="use -p NAME VALUE"):
        runner.main_run_args(argv)


def test_an_unknown_asset_is_a_clear_error_and_other_key_errors_are_not_hidden(capsys, monkeypatch):
    assert cli.main(["assets", "verify", "no-such-asset"]) == 2
    assert "unknown asset 'no-such-asset'" in capsys.readouterr().err

    def broken(*args, **kwargs):
        raise KeyError("a bug, not a user's typo")

    monkeypatch.setattr(runner, "refresh", broken)
    with pytest.raises(KeyError, match="a bug"):  # a traceback, not a one-line message that hides where it came from
        cli.main(["refresh", "notebooks/p0_models_assets.ipynb"])
    monkeypatch.setattr(cli.assets, "status", broken)  # inside the assets command too, once the names are known
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["assets", "verify", "gpt2-bpe"])
