"""What a cached Part I result depends on, as content hashes: the model's files and the lab code.

A checkpoint, a cached API answer or a capability probe is reused only when the content it was computed
from is the same: the weights, configuration and tokenizer of a local model (not its name or path), the
identity an API reports for its model (not the name alone), and the source of every ``lab`` module that
computes the records, followed through imports exactly as ``lab book`` follows them for staleness
(``lab.publish.runner.lab_closure``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .. import models
from ..publish import runner

# Records of the A-E grid are computed by this module and everything it imports.
RECORDS_MODULE = "lab.dynamics.experiments"
# The capability probe is interpreted by this one.
PROBE_MODULE = "lab.dynamics.api"


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def model_files(path: str | Path) -> str:
    """sha256 over the names and contents of a local model's files (``lab.models.files_sha256``)."""
    return models.files_sha256(path)


def state_dict(model) -> str:
    """sha256 of an in-memory model's parameters and configuration (for a model not loaded from files)."""
    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.view(-1).view(__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def code(module: str = RECORDS_MODULE) -> str:
    """sha256 of the source of ``module`` and every lab module it imports (the closure ``lab book`` uses).
    Recomputed on each call (a few small files): an edit is seen at once, within one process too."""
    h = hashlib.sha256()
    for f in runner.lab_closure(f"import {module}"):
        h.update(f"{f.relative_to(runner.REPO)}:{_file_digest(f)}\n".encode())
    return h.hexdigest()
