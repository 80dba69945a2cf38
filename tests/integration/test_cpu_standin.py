"""One CPU stands in for another: the training notebooks of the quick profile re-executed with another thread count
and other matrix kernels than those that recorded their references must still pass nbval within each cell's declared
tolerance, and a 1% change of a training value must fail it (the tolerances keep their regression power).

Each check is a pytest run of nbval in a child process, whose kernels inherit the configuration
(``lab.cpu.kernel_environment``): restricting ATen, MKL and oneDNN to AVX2 reproduces an AVX2-only CPU's values
bit for bit (p2_training's diff_low 0.316269204561072, as measured on one).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import cpu
from lab.paths import NOTEBOOKS, REPO

pytestmark = pytest.mark.slow

TRAINING = ["p2_training", "p2_collate_postmortem", "p5_memorization_scale", "p3_legal_lora"]


def reference_device(notebook: Path) -> dict:
    return json.loads(notebook.read_text())["metadata"]["lab"]["device"]


def other_configuration(recorded: dict, here_isa: str | None = None) -> tuple[int, str]:
    """A thread count other than the reference's, and AVX2 kernels unless the reference already ran on them."""
    here_isa = here_isa or cpu.isa()
    threads = 1 if recorded.get("torch_threads") == 2 else 2
    kernels = "best" if recorded.get("isa") == "avx2" or here_isa == "avx2" else "avx2"
    return threads, kernels


def nbval(notebook: Path, threads: int, kernels: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    cpu.apply(cpu.kernel_environment(threads, kernels), env)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.nbval_tolerance",
           "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO), str(notebook)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


def failed_cells(result: subprocess.CompletedProcess) -> list[str]:
    return sorted({line.split("::", 1)[1].split(" - ")[0] for line in result.stdout.splitlines()
                   if line.startswith("FAILED")})


def test_other_configuration_changes_the_threads_and_the_kernels():
    assert other_configuration({"torch_threads": 2, "isa": "avx512"}, "avx512") == (1, "avx2")
    assert other_configuration({"torch_threads": 1, "isa": "amx"}, "amx") == (2, "avx2")
    # recorded on an AVX2-only CPU: this machine's own kernels differ from them, unless it is one too
    assert other_configuration({"torch_threads": 2, "isa": "avx2"}, "avx512") == (1, "best")
    assert other_configuration({"torch_threads": 2, "isa": "avx512"}, "avx2") == (1, "best")


@pytest.mark.parametrize("stem", TRAINING)
def test_a_training_notebook_passes_on_another_cpu(stem):
    notebook = NOTEBOOKS / f"{stem}.ipynb"
    threads, kernels = other_configuration(reference_device(notebook))
    result = nbval(notebook, threads, kernels)
    assert result.returncode == 0, f"{stem} with {threads} thread(s), {kernels} kernels:\n{result.stdout[-4000:]}"


def _copy(tmp_path: Path, edit) -> Path:
    nb = json.loads((NOTEBOOKS / "p2_training.ipynb").read_text())
    edit(nb)
    path = tmp_path / "p2_training.ipynb"
    path.write_text(json.dumps(nb))
    return path


def _glued(nb: dict, name: str) -> dict:
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return output["data"]
    raise KeyError(name)


def _move_lr(nb: dict, factor: float) -> None:
    injected = next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    lr = next(float(line.split("=")[1].split("#")[0]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])
              for line in "".join(c["source"]).splitlines() if line.startswith("lr ="))
    injected["source"] = "".join(injected["source"]) + f"lr = {lr * factor!r}\n"


def test_the_copy_itself_passes(tmp_path):
    # the control of the two tests below: an unchanged copy, run the same way, passes
    assert nbval(_copy(tmp_path, lambda nb: None), 2, "best").returncode == 0


def test_a_glued_training_value_moved_by_one_percent_fails(tmp_path):
    def edit(nb):
        data = _glued(nb, "ppl_plain")
        key = "application/papermill.record/text/plain"
        data[key] = repr(float(data[key]) * 1.01)

    result = nbval(_copy(tmp_path, edit), 2, "best")
    assert result.returncode != 0 and failed_cells(result) == ["Cell 9"], result.stdout[-3000:]


def test_a_learning_rate_moved_by_one_percent_fails(tmp_path):
    result = nbval(_copy(tmp_path, lambda nb: _move_lr(nb, 1.01)), 2, "best")
    assert result.returncode != 0, result.stdout[-3000:]
    # the change reaches the trained models' perplexities and their comparison, not only a rounded table
    assert {"Cell 7", "Cell 9"} <= set(failed_cells(result)), failed_cells(result)
