"""The start and end of every chapter notebook: validate parameters, seed, and print the run record."""
from __future__ import annotations

import os
import random
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from . import provenance
from .params import Param, Spec

SEED = Param("seed", (int,), "seed of every random number generator a chapter touches")


def seed_everything(seed: int) -> None:
    """Seed every RNG a chapter may touch; deterministic torch kernels where they exist."""
    random.seed(seed)
    np.random.seed(seed)
    # Not PYTHONHASHSEED: the interpreter reads it once, at start-up, so setting it here cannot change this
    # kernel's str hashing. The runner that starts the kernel fixes it (runner.KERNEL_HASH_SEED).
    try:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    except ImportError:
        pass


@dataclass
class Chapter:
    params: dict
    seed: int
    started_wall: float = field(default_factory=time.time)
    started_perf: float = field(default_factory=time.perf_counter)

    def record(self) -> dict:
        record = provenance.collect()
        record["parameters"] = self.params
        record["seed"] = self.seed
        record["started"] = datetime.fromtimestamp(self.started_wall, timezone.utc).isoformat(timespec="seconds")
        record["wall_time_s"] = round(time.perf_counter() - self.started_perf, 1)
        return record

    def finish(self) -> None:
        """Print the run record (one 'key: value' line each, so nbval can sanitise the varying ones)."""
        r = self.last_record = self.record()
        git = r["git"]
        lines = [
            "Run record",
            f"parameters: {r['parameters']}",
            f"seed: {r['seed']}",
            f"commit: {git['commit']}" + (" (uncommitted changes)" if git["dirty"] else ""),
            "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v),
            f"device: {r['device']['accelerator'] or 'cpu'}; cpu {r['device']['cpu']}; "
            f"torch threads {r['device'].get('torch_threads')}",
            f"started: {r['started']}",
            f"wall time: {r['wall_time_s']} s",
        ]
        print("\n".join(lines))


def quiet_progress() -> None:
    """No progress bars inside executed notebooks: papermill reports progress per cell, and bars carry
    rates and times that differ on every run (they would defeat nbval). Set LAB_PROGRESS=1 to keep them."""
    if os.environ.get("LAB_PROGRESS") == "1":
        return

    os.environ["TQDM_DISABLE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", message="IProgress not found")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def start(namespace: dict, spec: Spec, seed: int) -> Chapter:
    """Validate the notebook's parameters (raising ParameterError with the valid choices) and seed."""
    seed = SEED.validate(seed)
    params = spec.from_namespace(namespace)
    quiet_progress()
    seed_everything(seed)
    return Chapter(params=params, seed=seed)
