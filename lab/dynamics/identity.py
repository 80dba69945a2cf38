"""What a cached Part I result depends on besides the code (which ``lab.steps`` keys): the model's content.

A record or a cached API answer is reused only for the same model: the weights, configuration and tokenizer of a
local model (not its name or path), or the identity an API reports for its model (not the name alone).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .. import models


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
