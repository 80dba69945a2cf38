"""pyproject.toml and environment.yml must pin the same packages at the same versions."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _norm(req: str) -> str:
    name, _, version = req.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_environment_yml_mirrors_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = {_norm(r) for r in pip if not r.startswith("-e")}
    assert all("==" in r for r in project), "every dependency must be pinned with =="
    assert {_norm(r) for r in project} == conda_pins


def test_torch_is_the_pinned_cpu_release():
    """The installed torch is the pinned version, and its CPU-only build (no CUDA compiled in): the CUDA wheel
    of the same version would pass a check of pyproject.toml alone."""
    from importlib import metadata

    import torch

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(r.partition("==")[2] for r in project if r.partition("==")[0].strip().lower() == "torch")
    assert metadata.version("torch").split("+")[0] == pinned == torch.__version__.split("+")[0]
    assert torch.version.cuda is None and not torch.backends.cuda.is_built()
    assert torch.__version__.endswith("+cpu")

