"""What the CPU offers the matrix kernels, and the environment that makes a kernel act as another CPU would.

These machines come with an Intel Xeon (AVX-512 and AMX) or AMD EPYCs (AVX-512, or AVX2 only). The model name
alone does not tell them apart ("AMD EPYC" names both AMD ones), so run records name the vector extensions from
``/proc/cpuinfo``. ``kernel_environment`` restricts ATen's vector kernels, MKL and oneDNN to AVX2, which is how
one machine reproduces the last-bit behaviour of an AVX2-only CPU (the suite's stand-in for another CPU).
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from . import atomic

# the extensions that decide which matrix kernels run; a run record lists those the CPU has, in this order
EXTENSIONS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")
# ISA names of each library for a kernel restricted to AVX2 (the variables are read once, when each loads)
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def model_name(cpuinfo: str | None = None) -> str | None:
    for line in (_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def extensions(cpuinfo: str | None = None) -> list[str]:
    """The EXTENSIONS the first CPU's flags line lists (empty where /proc/cpuinfo is not readable)."""
    for line in (_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [e for e in EXTENSIONS if e in flags]
    return []


def isa(cpuinfo: str | None = None) -> str:
    """The best matrix ISA: "amx", "avx512", "avx2" or "other"."""
    found = set(extensions(cpuinfo))
    if "amx_tile" in found:
        return "amx"
    if "avx512f" in found:
        return "avx512"
    return "avx2" if "avx2" in found else "other"


def machine() -> dict:
    """CPU model, matrix ISA, vector extensions and the torch thread count of this process."""
    out = {"cpu": model_name(), "isa": isa(), "extensions": extensions()}
    try:
        import torch  # here: `lab status` and the runner import this module, and torch costs a second

        out["torch_threads"] = torch.get_num_threads()
    except ImportError:
        out["torch_threads"] = None
    return out


def kernel_environment(threads: int, kernels: str = "best") -> dict[str, str]:
    """Variables for a child process (a notebook kernel) with ``threads`` threads and the CPU's own kernels
    (``"best"``) or kernels restricted to AVX2 (``"avx2"``). Keys mapped to "" are to be unset."""
    if kernels not in ("best", "avx2"):
        raise ValueError(f"kernels must be 'best' or 'avx2', not {kernels!r}")
    env = {name: str(threads) for name in THREAD_VARIABLES}
    env.update(AVX2_ONLY if kernels == "avx2" else {name: "" for name in AVX2_ONLY})
    return env


def apply(env: dict[str, str], target=os.environ) -> dict[str, str | None]:
    """Set ``env`` in ``target`` ("" unsets); returns the previous values, for ``apply(previous)`` to restore."""
    previous = {k: target.get(k) for k in env}
    for k, v in env.items():
        if v:
            target[k] = v
        else:
            target.pop(k, None)
    return {k: ("" if v is None else v) for k, v in previous.items()}


def stamp(notebook) -> None:
    """Add this CPU's ``isa`` and ``extensions`` to an executed notebook's run record (``metadata.lab.device``).

    Called by the commands that execute pages (``lab book``, ``lab refresh``, ``lab run``) right after execution,
    on the machine that ran it. Not in the runner itself: Part I's record cache hashes the runner's code, and a
    field of the record is no reason to recompute it."""
    path = Path(notebook)
    nb = json.loads(path.read_text())
    device = nb.setdefault("metadata", {}).setdefault("lab", {}).setdefault("device", {})
    device.update(isa=isa(), extensions=extensions())
    atomic.write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
