"""One atomic write for every file a killed run must not leave half-written (caches, checkpoints, executed pages,
their glue JSON): the data go to a temporary file in the target's folder, which then replaces the target in one
rename (``os.replace`` is atomic within a filesystem). A kill mid-write leaves the old file or none, never half.

Home-made because the standard library has no atomic write, and the one-function packages that do add nothing."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, IO


FILE_MODE = 0o666  # what open() asks for, before the umask


def _umask() -> int:
    current = os.umask(0)  # the only way to read it is to set it: put it straight back
    os.umask(current)
    return current


def write(path: str | Path, fill: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``fill(handle)`` on a temporary file beside ``path``, then move it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            fill(handle)
        os.chmod(tmp, FILE_MODE & ~_umask())  # mkstemp makes 0600; a published file is readable like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write(path, lambda handle: handle.write(text))


def write_json(path: str | Path, data: Any, **dump: Any) -> Path:
    """``json.dump(data, **dump)`` to ``path``, atomically."""
    return write(path, lambda handle: json.dump(data, handle, **dump))


def torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path``, atomically (a checkpoint is whole or absent)."""
    import torch  # here: the JSON writers above are used where torch is never loaded

    return write(path, lambda handle: torch.save(obj, handle), binary=True)
