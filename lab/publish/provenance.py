"""What a run records about itself: parameters, code version, package versions, device, wall time.

Nothing here records a path, a host name or an environment variable's value: provenance ends up in
published notebooks and must not leak a home directory or a key.
"""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from ..paths import REPO

PACKAGES = ("lab", "torch", "transformers", "numpy", "tiktoken", "peft", "papermill")


# what a publication writes: the pages one `lab book` run has already published, and the results its steps
# committed, are not uncommitted changes to the code and data the next page runs
PUBLISHED = ("book/*.ipynb", "book/*.glue.json", "results")


def git_state(repo: Path = REPO) -> dict:
    """Commit of the working tree and whether it had uncommitted changes, other than what publishing writes.

    A copy of the tree without its .git (a GPU machine gets one) takes them from LAB_GIT_COMMIT and
    LAB_GIT_DIRTY, set by whoever made the copy; otherwise both are None.
    """
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)
    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        commit = os.environ.get("LAB_GIT_COMMIT")
        dirty = os.environ.get("LAB_GIT_DIRTY")
        return {"commit": commit, "dirty": None if dirty is None else dirty == "1"}
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":(exclude){p}" for p in PUBLISHED))
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def versions(packages=PACKAGES) -> dict:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device() -> dict:
    """The hardware a run used: accelerator name if any, else CPU model and thread count."""
    info = {"machine": platform.machine()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["accelerator"] = torch.cuda.get_device_name(0)
            info["accelerator_count"] = torch.cuda.device_count()
        else:
            info["accelerator"] = None
    except ImportError:
        info["accelerator"] = None
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu or platform.processor() or None
    return info


def collect() -> dict:
    return {"git": git_state(), "versions": versions(), "device": device()}
