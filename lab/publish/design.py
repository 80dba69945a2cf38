"""One declaration per notebook parameter: the notebook's design, a frozen dataclass.

A notebook's design class (``@design``) declares each parameter once: its type (strict: ``'3'`` is not 3, ``True``
is not 1; an int given for a float becomes a float), its default, its choices (``Literal``), bounds (``Field``),
and a one-line description (``Field(description=...)``). Everything else follows from it:

- the notebook's ``parameters`` cell is :func:`parameters_cell` of the class (a test fails when they differ);
- each profile of ``notebooks/params/<notebook>.yml`` lists only what differs from the defaults, validated
  against the class (:func:`profile`; a test fails on an unknown name, a bad value or a restated default);
- :func:`start`, the notebook's first call, validates the values papermill set, stops on a name the design does
  not declare (papermill itself only warns), runs the design's ``check_here`` (what the machine must offer: a
  model in the cache, a CUDA device), seeds every generator and returns the design and the run record.
"""
from __future__ import annotations

import dataclasses
import json
import types
from typing import Any

import pydantic
import yaml
from pydantic import ConfigDict, ValidationError

from ..paths import NOTEBOOKS
from .chapter import Chapter, quiet_progress, seed_everything
from .params import ParameterError

CONFIG = ConfigDict(strict=True, extra="forbid")
TYPE_NAMES = {"string": "str", "int": "int", "float": "float", "bool": "bool", "list": "list", "dict": "dict"}
# names a kernel holds that no parameters cell sets (IPython's history and helpers)
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def design(cls: type) -> type:
    """Make ``cls`` a notebook design: a frozen pydantic dataclass with strict, declared fields."""
    return pydantic.dataclasses.dataclass(frozen=True, config=CONFIG)(cls)


def defaults(cls: type) -> dict[str, Any]:
    return {name: info.get_default(call_default_factory=True) for name, info in cls.__pydantic_fields__.items()}


def descriptions(cls: type) -> dict[str, str]:
    return {name: (info.description or "") for name, info in cls.__pydantic_fields__.items()}


def _describe(exc: ValidationError) -> str:
    lines = []
    for e in exc.errors():
        name = ".".join(str(p) for p in e["loc"]) or "?"
        if e["type"] == "unexpected_keyword_argument":
            lines.append(f"unknown parameter {name!r}")
        elif e["type"] == "literal_error":
            lines.append(f"parameter {name!r}: {e['input']!r} is not a valid choice; valid choices: "
                         f"{e['ctx']['expected']}")
        elif e["type"].endswith("_type"):  # int_type, string_type, list_type, ...: strict types refuse, never convert
            expected = TYPE_NAMES.get(e["type"].removesuffix("_type"), e["type"].removesuffix("_type"))
            lines.append(f"parameter {name!r}: expected {expected}, got {type(e['input']).__name__} {e['input']!r}")
        else:
            lines.append(f"parameter {name!r}: {e['msg']} (got {type(e['input']).__name__} {e['input']!r})")
    return "\n".join(dict.fromkeys(lines))


def validate(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the design from ``values``; a ParameterError naming each unknown or bad parameter."""
    unknown = sorted(set(values) - set(defaults(cls)))
    if unknown:
        raise ParameterError(f"{cls.__name__} has no parameter(s) {', '.join(unknown)}; its parameters: "
                             f"{', '.join(defaults(cls))}")
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ParameterError(_describe(exc)) from None


def _parameter_like(name: str, value: Any) -> bool:
    """A global a parameters cell (or papermill's injected one) could have set: a plain value, not a module,
    function, class or IPython's own."""
    if name.startswith("_") or name in _KERNEL_NAMES:
        return False
    return not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))


def from_namespace(cls: type, namespace: dict[str, Any]) -> Any:
    """The design from a notebook's globals; a name papermill injected that the design lacks stops the run."""
    names = defaults(cls)
    extra = sorted(n for n, v in namespace.items() if _parameter_like(n, v) and n not in names)
    if extra:
        raise ParameterError(f"unknown parameter(s) {', '.join(extra)}: {cls.__name__} declares "
                             f"{', '.join(names)}")
    missing = [n for n in names if n not in namespace]
    if missing:
        raise ParameterError(f"the parameters cell does not set {', '.join(missing)}")
    return validate(cls, {n: namespace[n] for n in names})


def start(cls: type, namespace: dict[str, Any]) -> tuple[Any, Chapter]:
    """Validate the notebook's parameters against its design, seed, and open its run record."""
    chosen = from_namespace(cls, namespace)
    if hasattr(chosen, "check_here"):  # what this machine must offer (a model in the cache, a CUDA device)
        chosen.check_here()
    quiet_progress()
    seed_everything(chosen.seed)
    return chosen, Chapter(params=dataclasses.asdict(chosen), seed=chosen.seed)


def parameters_cell(cls: type, stem: str) -> str:
    """The source of the notebook's ``parameters`` cell: each parameter at its default, with its description."""
    described = descriptions(cls)
    lines = [f"# Parameters: {cls.__module__}.{cls.__name__} declares them; profiles in notebooks/params/{stem}.yml"]
    for name, value in defaults(cls).items():
        lines.append(f"{name} = {value!r}" + (f"  # {described[name]}" if described[name] else ""))
    return "\n".join(lines)


def profiles(stem: str) -> dict[str, dict]:
    return yaml.safe_load((NOTEBOOKS / "params" / f"{stem}.yml").read_text()) or {}


def profile(cls: type, stem: str, name: str) -> Any:
    """The design a profile gives: the defaults, overridden by the profile's entries (validated)."""
    entries = profiles(stem).get(name)
    if entries is None:
        raise ParameterError(f"{stem} has no profile {name!r}; profiles: {', '.join(profiles(stem))}")
    return validate(cls, {**defaults(cls), **(entries or {})})


def notebook_design(stem: str) -> str | None:
    """``module:Class`` of the design a notebook names in its metadata (``"design"``), if any."""
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    return nb.get("metadata", {}).get("design")
