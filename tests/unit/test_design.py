"""lab.publish.design: one declaration per parameter. A notebook's parameters cell and profiles follow from its
design class, a value a run sets is validated against it, and a name it does not declare stops the run."""
from __future__ import annotations

import importlib
import json
import typing
from typing import Literal

import pytest
from pydantic import Field

from lab.publish import design as ds
from lab.publish.params import ParameterError
from lab.paths import NOTEBOOKS


@ds.design
class Demo:
    lr: float = Field(1e-3, gt=0, description="learning rate")
    models: list[str] = Field(default_factory=lambda: ["a"], description="models to run")
    kind: Literal["plain", "iit"] = "plain"
    seed: int = Field(0, description="seed")


def test_defaults_validation_and_the_messages_name_the_parameter():
    assert ds.defaults(Demo) == {"lr": 1e-3, "models": ["a"], "kind": "plain", "seed": 0}
    assert ds.validate(Demo, {"lr": 1}).lr == 1.0 and isinstance(ds.validate(Demo, {"lr": 1}).lr, float)
    for bad, says in (({"lr": "3"}, "parameter 'lr': expected float, got str '3'"), ({"kind": "x"}, "valid choices: 'plain' or 'iit'"),
                      ({"lr": -1.0}, "greater than 0"), ({"seed": True}, "parameter 'seed': expected int, got bool True"),
                      ({"epochs": 2}, "has no parameter(s) epochs")):
        with pytest.raises(ParameterError, match=says.replace("(", r"\(").replace(")", r"\)")):
            ds.validate(Demo, bad)


def test_a_name_papermill_injected_that_the_design_lacks_stops_the_run():
    namespace = {"lr": 0.1, "models": ["a"], "kind": "iit", "seed": 1, "json": json, "In": [], "_": None}
    assert ds.from_namespace(Demo, namespace).kind == "iit"
    with pytest.raises(ParameterError, match="unknown parameter.s. epochz: Demo declares lr, models, kind, seed"):
        ds.from_namespace(Demo, {**namespace, "epochz": 3})
    with pytest.raises(ParameterError, match="does not set seed"):
        ds.from_namespace(Demo, {k: v for k, v in namespace.items() if k != "seed"})


def test_the_parameters_cell_is_generated():
    assert ds.parameters_cell(Demo, "demo").splitlines() == [
        f"# Parameters: {Demo.__module__}.Demo declares them; profiles in notebooks/params/demo.yml",
        "lr = 0.001  # learning rate", "models = ['a']  # models to run", "kind = 'plain'", "seed = 0  # seed"]


def _designed():
    for path in sorted(NOTEBOOKS.glob("[!.]*.ipynb")):
        name = ds.notebook_design(path.stem)
        if name:
            module, cls = name.split(":")
            yield path.stem, getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("stem,cls", list(_designed()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_designed_notebook_follows_its_design(stem, cls):
    """Its parameters cell is the generated one, and each profile validates and restates no default."""
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    [cell] = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert "".join(cell["source"]) == ds.parameters_cell(cls, stem), "regenerate it: design.parameters_cell"
    defaults = ds.defaults(cls)
    for name, entries in ds.profiles(stem).items():
        ds.profile(cls, stem, name)
        # a run given no value leaves the notebook's injected cell (the quick profile's values) in place when given no value
        # at all, so every profile states its seed; nothing else restates a default
        assert "seed" in (entries or {}), f"profile {name} must state its seed"
        restated = [k for k, v in (entries or {}).items() if defaults[k] == v and k != "seed"]
        assert not restated, f"profile {name} restates the defaults of {restated}"


def test_the_drift_check_can_fail(tmp_path, monkeypatch):
    """A profile that names a parameter the design lacks is refused (the check above would fail)."""
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "demo.yml").write_text("cpu:\n  epochs: 3\n")
    monkeypatch.setattr(ds, "NOTEBOOKS", tmp_path)
    with pytest.raises(ParameterError, match="no parameter.s. epochs"):
        ds.profile(Demo, "demo", "cpu")


@ds.design
class NeedsMachine:
    device: str = "cuda"
    seed: int = 0

    def check_here(self) -> None:
        if self.device == "cuda":
            raise ParameterError("parameter 'device': no CUDA here")


def test_start_checks_what_the_machine_must_offer_and_a_profile_does_not():
    assert ds.validate(NeedsMachine, {}).device == "cuda"  # a valid design: a profile may name it anywhere
    with pytest.raises(ParameterError, match="no CUDA here"):
        ds.start(NeedsMachine, {"device": "cuda", "seed": 0})
    chosen, record = ds.start(NeedsMachine, {"device": "cpu", "seed": 3})
    assert chosen.device == "cpu" and record.seed == 3 and record.params == {"device": "cpu", "seed": 3}


@pytest.mark.parametrize("stem,cls", list(_designed()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_choice_of_a_design_refuses_another_value_and_lists_the_valid_ones(stem, cls):
    """What test_params checks of the pages not yet on designs, for the designed ones: a Literal parameter given a
    value outside its choices stops the run with one message that lists them."""
    defaults = ds.defaults(cls)
    for name, info in cls.__pydantic_fields__.items():
        if typing.get_origin(info.annotation) is not typing.Literal:
            continue
        with pytest.raises(ParameterError, match=f"parameter '{name}': 'no-such-choice' is not a valid choice; valid "
                                                 "choices: "):
            ds.validate(cls, {**defaults, name: "no-such-choice"})
