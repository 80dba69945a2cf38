"""Declared, validated notebook parameters, on pydantic.

A chapter declares a :class:`Spec` of :class:`Param`; the spec turns them into a pydantic schema (strict types,
``Literal`` choices, ``ge`` minimums, each parameter's own check as a validator) and ``Spec.validate`` raises a
:class:`ParameterError` that names the bad parameter and lists the valid choices, so that a bad
``papermill -p`` fails in the first cell, before any model is loaded or any request is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Callable, Iterable, Literal, Optional, Union

from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StrictInt, StrictStr,
                      TypeAdapter, ValidationError)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict


class ParameterError(ValueError):
    """A notebook parameter has the wrong name, type or value."""


_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "dict",
               type(None): "None"}

# Strict types: papermill passes YAML values as they are, and a value of the wrong type is a mistake to report,
# not to convert ('3' is not 3; True is not 1). The one conversion kept is int -> float (strict floats accept an
# int and return a float), so that `-p lr 1` means 1.0.
_STRICT = {str: StrictStr, int: StrictInt, float: Annotated[float, Strict()], bool: StrictBool,
           type(None): type(None), dict: Annotated[dict, Strict()]}

_CHECK = "parameter_check"  # the pydantic error type of a Param's own check


@dataclass(frozen=True)
class Param:
    """One parameter: its accepted types, optional choices (for a value or each list item), a check."""

    name: str
    types: tuple[type, ...]
    doc: str = ""
    choices: tuple | None = None
    item_types: tuple[type, ...] | None = None  # for list parameters
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    minimum: float | None = None

    @cached_property
    def annotation(self) -> Any:
        """The pydantic type of this parameter's values."""
        if list in self.types:
            item = self._scalar(self.item_types or (object,))
            # a tuple is taken for a list (papermill and YAML never give one, a Python caller may); sets are
            # refused: their order depends on str hashing
            listed = Annotated[list[item], Strict(), BeforeValidator(lambda v: list(v) if isinstance(v, tuple) else v)]
            others = tuple(t for t in self.types if t is not list)
            kind = Union[(listed, *(self._scalar((t,)) for t in others))] if others else listed
        else:
            kind = self._scalar(self.types)
        if self.check is None:
            return kind
        return Annotated[kind, AfterValidator(self._run_check)]

    def _scalar(self, types: tuple[type, ...]) -> Any:
        """One value (the parameter's, or a list's item): its strict type, choices and minimum."""
        if types == (object,):
            return Any
        if self.choices is not None:
            kind = Literal[self.choices]
        else:
            members = [_STRICT[t] for t in types if t is not type(None)]
            kind = Union[tuple(members)] if len(members) > 1 else members[0]
        if self.minimum is not None:
            kind = Annotated[kind, Field(ge=self.minimum)]
        return Optional[kind] if type(None) in types else kind

    def _run_check(self, value: Any) -> Any:
        problem = self.check(value)
        if problem:
            raise PydanticCustomError(_CHECK, "{problem}", {"problem": problem})
        return value

    @cached_property
    def _adapter(self) -> TypeAdapter:
        return TypeAdapter(self.annotation)

    def validate(self, value: Any) -> Any:
        """The value, validated (an int given for a float becomes a float), or a ParameterError."""
        try:
            return self._adapter.validate_python(value)
        except ValidationError as exc:
            raise ParameterError("\n".join(dict.fromkeys(
                self.describe(error["loc"], error) for error in exc.errors()))) from None

    def describe(self, loc: tuple, error: dict) -> str:
        """One pydantic error on this parameter's value (at ``loc`` inside it), in the chapters' words."""
        index = [i for i in loc if isinstance(i, int)]
        label = self.name + "".join(f"[{i}]" for i in index)
        value = error["input"]
        if error["type"] == "literal_error":
            return (f"parameter {self.name!r}: {value!r} is not a valid choice; valid choices: "
                    + ", ".join(repr(c) for c in self.choices))
        if error["type"] == "greater_than_equal":
            return f"parameter {self.name!r}: {value!r} is below the minimum {self.minimum}"
        if error["type"] == _CHECK:
            return f"parameter {self.name!r}: {error['ctx']['problem']}"
        if error["type"].endswith("_type"):
            types = self.item_types if index and self.item_types else self.types
            return f"parameter {label!r}: expected {_names(types)}, got {type(value).__name__} {value!r}"
        return f"parameter {label!r}: {error['msg']}"


def _names(types: Iterable[type]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


class Spec:
    """The parameters of one notebook."""

    def __init__(self, *params: Param):
        self.params = {p.name: p for p in params}
        # A TypedDict rather than a BaseModel: a parameter may be named like a BaseModel attribute (`copy`, `json`,
        # `schema`); extra="forbid" makes an unknown name an error rather than a value silently dropped.
        fields = TypedDict("Parameters", {p.name: p.annotation for p in params})
        fields.__pydantic_config__ = ConfigDict(extra="forbid")
        self._adapter = TypeAdapter(fields)

    def __iter__(self):
        return iter(self.params.values())

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values, validated, in the declared order; a ParameterError naming every bad one."""
        try:
            valid = self._adapter.validate_python(values)
        except ValidationError as exc:
            raise ParameterError(self._describe(exc.errors())) from None
        return {name: valid[name] for name in self.params}

    def _describe(self, errors: list[dict]) -> str:
        unknown = sorted(e["loc"][0] for e in errors if e["type"] == "extra_forbidden")
        missing = sorted(e["loc"][0] for e in errors if e["type"] == "missing")
        lines = []
        if unknown:
            lines.append(f"unknown parameter(s) {unknown}; valid parameters: {sorted(self.params)}")
        if missing:
            lines.append(f"missing parameter(s) {missing}")
        lines += [self.params[e["loc"][0]].describe(e["loc"][1:], e) for e in errors
                  if e["type"] not in ("extra_forbidden", "missing")]
        return "\n".join(dict.fromkeys(lines))

    def from_namespace(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """Pick this spec's parameters out of a notebook's globals() and validate them."""
        missing = [n for n in self.params if n not in namespace]
        if missing:
            raise ParameterError(f"the parameters cell does not define {missing}")
        return self.validate({n: namespace[n] for n in self.params})
