"""Run steps: the book's computations, each keyed by its content, computed once and committed as a small result.

A run step is a function decorated with :func:`step`. It returns a small JSON-serialisable dataclass (one seed's
training curve and final metrics, one grid cell, one adapter's evaluation). Its **key** hashes four things:

- its arguments (defaults applied; a ``seed`` argument is one of them);
- the source of the functions, classes and modules it *declares* it depends on (``depends=``), and its own;
- the bytes of every data file it reads, each read through :func:`read_text`, :func:`read_bytes`,
  :func:`data_file` or :func:`asset` (an asset counts by the sha256 its registry entry pins).

The result is written to ``results/<step>/<key>.json`` with the arguments, the hashes, the wall time and the
machine. A call whose key has a result returns it without computing. Large artefacts (checkpoints, adapters) go
to :func:`scratch`, a folder of the ignored cache named by the call, which is also where a killed step resumes.

``$LAB_STEPS`` says where results are looked up and written:

- ``publish`` (``lab book``): looked up in ``results/`` and the cache, written to ``results/`` (a cached result
  with the same key is the same computation, and is copied there);
- unset (a reader's ``papermill`` or ``lab run``): looked up in ``results/`` and the cache, written to the cache;
- ``off`` (the test suite): always computed, written nowhere, so that a test exercises the code it tests.

While ``$LAB_RUN_LOG`` names a file, every step call and every data read outside a step is appended to it as
one JSON line: the page's record of what it ran (``lab.publish.pages``).

Home-made because the caching libraries (joblib.Memory, diskcache) key on the pickled arguments and the bytes
of one function, not on declared dependencies and recorded data reads, and their stores are not diffable files.
"""
from __future__ import annotations

import contextvars
import functools
import hashlib
import importlib
import inspect
import json
import os
import time
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from . import atomic
from .paths import REPO

RESULTS = REPO / "results"
KEY_CHARS = 16  # hex digits of a key: 64 bits, beyond collision for the book's few thousand results
MODES = ("publish", "reuse", "off")
REGISTRY: dict[str, "Step"] = {}


class StepError(RuntimeError):
    pass


def cache_results() -> Path:
    from .models.assets import cache_root  # here: the assets module is large, and only a reuse run needs it

    return cache_root() / "results"


def mode() -> str:
    value = os.environ.get("LAB_STEPS") or "reuse"
    if value not in MODES:
        raise StepError(f"$LAB_STEPS is {value!r}; one of: publish, off, or unset")
    return value


def digest(obj: Any) -> str:
    """sha256 of an object's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(to_jsonable_python(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- data reads

@dataclass
class Reads:
    """The data files read inside one step call (or by a page outside any step): {label: sha256}."""
    files: dict[str, str] = field(default_factory=dict)


_active: contextvars.ContextVar[tuple[Reads, ...]] = contextvars.ContextVar("lab_step_reads", default=())


def label(path: str | Path) -> str:
    """A machine-independent name of a file: relative to the repository, or ``cache:`` + relative to the cache."""
    path = Path(path).resolve()
    if path.is_relative_to(REPO):
        return str(path.relative_to(REPO))
    from .models.assets import cache_root

    root = cache_root().resolve()
    if path.is_relative_to(root):
        return f"cache:{path.relative_to(root)}"
    raise StepError(f"{path} is neither in the repository nor in the lab cache: a result must not name a "
                    "machine's folders")


def resolve(name: str) -> Path:
    if name.startswith("cache:"):
        from .models.assets import cache_root

        return cache_root() / name.removeprefix("cache:")
    return REPO / name


def current_sha(name: str) -> str | None:
    """The sha256 a recorded read would have now (None: the file is gone)."""
    if name.startswith("asset:"):
        from .models import assets

        return assets.get(name.removeprefix("asset:")).payload_sha256
    path = resolve(name)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _listening() -> bool:
    """A step is running, or a page's run is logged: only then is a read named and hashed."""
    return bool(_active.get()) or bool(os.environ.get("LAB_RUN_LOG"))


def _record(name: str, sha: str) -> None:
    active = _active.get()
    for reads in active:
        reads.files[name] = sha
    if not active:
        _log({"event": "read", "file": name, "sha256": sha})


def _propagate(reads: dict[str, str]) -> None:
    """A step's reads are an enclosing step's reads too; a page sees them in the step's own event."""
    for outer in _active.get():
        outer.files.update(reads)


def read_bytes(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    if _listening():
        _record(label(path), hashlib.sha256(data).hexdigest())
    return data


def read_text(path: str | Path) -> str:
    return read_bytes(path).decode("utf-8")


_file_shas: dict[tuple[str, int, int], str] = {}


def data_file(path: str | Path) -> Path:
    """Record a file that a library will read (pandas, yaml, a tokenizer), and return its path. Its sha256 is
    kept by modification time and size: a page that reads one file a hundred times hashes it once."""
    path = Path(path)
    if not _listening():
        return path
    info = path.stat()
    memo = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    if memo not in _file_shas:
        _file_shas[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    _record(label(path), _file_shas[memo])
    return path


def asset(name: str) -> Path:
    """The verified cache folder of a registry asset, recorded by the sha256 its registry entry pins."""
    from .models import assets

    directory = assets.require(name)
    if _listening():
        _record(f"asset:{name}", assets.get(name).payload_sha256)
    return directory


def _log(event: dict) -> None:
    path = os.environ.get("LAB_RUN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")


# ---------------------------------------------------------------- steps

def source_hash(obj: Any) -> str:
    """sha256 of a module's file (a module or its dotted name), or of a function's or class's source."""
    if isinstance(obj, str):
        obj = importlib.import_module(obj)
    if isinstance(obj, types.ModuleType):
        return hashlib.sha256(Path(obj.__file__).read_bytes()).hexdigest()
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    except (OSError, TypeError) as exc:  # defined at a prompt: no source, so no key
        raise StepError(f"no source for {dependency_name(obj)}: run steps and their dependencies live in files") from exc


def dependency_name(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    return f"{obj.__module__}.{obj.__qualname__}"


@dataclass(eq=False)
class Step:
    name: str
    fn: Callable
    depends: tuple

    @functools.cached_property
    def result_type(self) -> Any:
        hints = typing.get_type_hints(self.fn)
        if "return" not in hints:
            raise StepError(f"run step {self.name} must annotate its result type")
        return hints["return"]

    def dependencies(self) -> dict[str, str]:
        return {dependency_name(d): source_hash(d) for d in (self.fn, *self.depends)}

    def arguments(self, *args, **kwargs) -> dict:
        bound = inspect.signature(self.fn).bind(*args, **kwargs)
        bound.apply_defaults()
        return to_jsonable_python(dict(bound.arguments))

    def call_hash(self, arguments: dict) -> str:
        # the sources' hashes without their names: a function moved to another module unchanged keeps its key
        return digest({"step": self.name, "arguments": arguments, "depends": sorted(set(self.dependencies().values()))})

    @staticmethod
    def key(call: str, reads: dict[str, str]) -> str:
        return digest({"call": call, "reads": reads})[:KEY_CHARS]

    def folders(self, writing: bool) -> list[Path]:
        m = mode()
        if m == "off":
            return []
        if writing:
            return [RESULTS / self.name if m == "publish" else cache_results() / self.name]
        return [RESULTS / self.name, cache_results() / self.name]

    def lookup(self, call: str) -> tuple[Path, dict] | None:
        """A stored result of this call whose recorded reads still have their bytes (so its key is current)."""
        for folder in self.folders(writing=False):
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                stored = json.loads(path.read_text())
                if stored.get("call") != call:
                    continue
                now = {name: current_sha(name) for name in stored["reads"]}
                if self.key(call, now) == stored["key"]:
                    return path, stored
        return None

    def __call__(self, *args, **kwargs):
        arguments = self.arguments(*args, **kwargs)
        call = self.call_hash(arguments)
        found = self.lookup(call)
        if found is not None:
            path, stored = found
            target = self.folders(writing=True)
            if target and path.parent != target[0]:  # a cached result of the same key, promoted when publishing
                atomic.write_text(target[0] / path.name, path.read_text())
            _propagate(stored["reads"])
            self._log(arguments, call, stored, computed=False)
            return TypeAdapter(self.result_type).validate_python(stored["result"])
        reads = Reads()
        started, t0 = datetime.now(timezone.utc), time.perf_counter()
        result = self._compute(call, reads, args, kwargs)
        _propagate(reads.files)
        stored = self.store(arguments, call, reads.files, result, started, time.perf_counter() - t0)
        self._log(arguments, call, stored, computed=True)
        return result

    def _compute(self, call: str, reads: Reads, args, kwargs):
        """Run the function as the call ``call``: its reads recorded in ``reads``, its scratch folder marked
        complete when it returns (so that :meth:`artefacts` knows the folder holds a whole run's files)."""
        token = _active.set(_active.get() + (reads,))
        _running.append(call)
        try:
            result = self.fn(*args, **kwargs)
        finally:
            _running.pop()
            _active.reset(token)
        folder = _scratch_folder(call)
        if folder.is_dir():
            (folder / COMPLETE).touch()
        return result

    def artefacts(self, *args, **kwargs) -> Path:
        """The scratch folder of this call (checkpoints, an adapter), computed again here where the cache lacks
        it: a fresh clone has the committed result but not the large files the step left beside it."""
        call = self.call_hash(self.arguments(*args, **kwargs))
        folder = _scratch_folder(call)
        if not (folder / COMPLETE).is_file():
            self._compute(call, Reads(), args, kwargs)
        return folder

    def store(self, arguments, call, reads, result, started, wall_s) -> dict:
        from .cpu import machine

        stored = {
            "step": self.name, "key": self.key(call, reads), "call": call, "arguments": arguments,
            "depends": self.dependencies(), "reads": dict(sorted(reads.items())),
            "result": TypeAdapter(self.result_type).dump_python(result, mode="json"),
            "computed": {"started": started.isoformat(timespec="seconds"), "wall_time_s": round(wall_s, 3),
                         "machine": machine()},
        }
        for folder in self.folders(writing=True):
            atomic.write_text(folder / f"{stored['key']}.json", json.dumps(stored, indent=1, sort_keys=False) + "\n")
        return stored

    def _log(self, arguments, call, stored, computed: bool) -> None:
        _log({"event": "step", "step": self.name, "module": self.fn.__module__, "call": call, "key": stored["key"],
              "arguments": arguments, "reads": stored["reads"], "computed": computed,
              "wall_time_s": stored["computed"]["wall_time_s"]})


_running: list[str] = []


def step(depends: tuple | list = (), name: str | None = None) -> Callable[[Callable], Step]:
    """Make ``fn`` a run step; ``depends`` lists the functions, classes and modules (objects or dotted names) whose
    source enters its key."""
    def decorate(fn: Callable) -> Step:
        step_name = name or fn.__name__
        if step_name in REGISTRY and REGISTRY[step_name].fn.__module__ != fn.__module__:
            raise StepError(f"two run steps are named {step_name!r}")
        made = Step(step_name, fn, tuple(depends))
        functools.update_wrapper(made, fn)
        REGISTRY[step_name] = made
        return made
    return decorate


COMPLETE = ".complete"  # marks a scratch folder whose step returned


def _scratch_folder(call: str) -> Path:
    from .models.assets import cache_root

    return cache_root() / "steps" / call[:KEY_CHARS]


def scratch() -> Path:
    """The cache folder of the running step's call, for checkpoints and large artefacts (never committed)."""
    if not _running:
        raise StepError("scratch() is for the inside of a run step")
    folder = _scratch_folder(_running[-1])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def named(step_name: str, module: str) -> Step:
    """The registered step of that name, importing the module that defines it."""
    importlib.import_module(module)
    if step_name not in REGISTRY:
        raise StepError(f"{module} defines no run step {step_name!r}")
    return REGISTRY[step_name]
