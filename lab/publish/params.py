"""Declared, validated notebook parameters.

A chapter declares a :class:`Spec`; ``Spec.validate`` checks names, types and choices and raises a
:class:`ParameterError` that lists the valid choices, so that a bad ``papermill -p`` fails in the first
cell, before any model is loaded or any request is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable


class ParameterError(ValueError):
    """A notebook parameter has the wrong name, type or value."""


_TYPE_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "dict",
               type(None): "None"}


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

    def validate(self, value: Any) -> Any:
        value = self._coerce(value, self.types, self.name)
        if isinstance(value, list):
            if self.item_types:
                value = [self._coerce(v, self.item_types, f"{self.name}[{i}]") for i, v in enumerate(value)]
            items = value
        else:
            items = [value]
        for item in items:
            if self.choices is not None and item not in self.choices:
                raise ParameterError(
                    f"parameter {self.name!r}: {item!r} is not a valid choice; valid choices: "
                    + ", ".join(repr(c) for c in self.choices))
            if self.minimum is not None and isinstance(item, (int, float)) and item < self.minimum:
                raise ParameterError(f"parameter {self.name!r}: {item!r} is below the minimum {self.minimum}")
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ParameterError(f"parameter {self.name!r}: {problem}")
        return value

    @staticmethod
    def _coerce(value: Any, types: tuple[type, ...], label: str) -> Any:
        # bool is an int subclass in Python; a True passed for an int parameter is a mistake.
        if isinstance(value, bool) and bool not in types:
            raise ParameterError(f"parameter {label!r}: expected {_names(types)}, got bool {value!r}")
        if isinstance(value, types):
            return value
        if float in types and isinstance(value, int):
            return float(value)
        if list in types and isinstance(value, tuple):
            return list(value)
        raise ParameterError(
            f"parameter {label!r}: expected {_names(types)}, got {type(value).__name__} {value!r}")


def _names(types: Iterable[type]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


class Spec:
    """The parameters of one notebook."""

    def __init__(self, *params: Param):
        self.params = {p.name: p for p in params}

    def __iter__(self):
        return iter(self.params.values())

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ParameterError(f"unknown parameter(s) {unknown}; valid parameters: {sorted(self.params)}")
        missing = sorted(set(self.params) - set(values))
        if missing:
            raise ParameterError(f"missing parameter(s) {missing}")
        return {name: self.params[name].validate(values[name]) for name in self.params}

    def from_namespace(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """Pick this spec's parameters out of a notebook's globals() and validate them."""
        missing = [n for n in self.params if n not in namespace]
        if missing:
            raise ParameterError(f"the parameters cell does not define {missing}")
        return self.validate({n: namespace[n] for n in self.params})
