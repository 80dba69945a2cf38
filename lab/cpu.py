"""What the CPU offers the matrix kernels, and the environment that makes a kernel act as another CPU would.

These machines come with an Intel Xeon (AVX-512 and AMX) or AMD EPYCs (AVX-512, or AVX2 only). The model name
alone does not tell them apart ("AMD EPYC" names both AMD ones), so run records name the vector extensions from
``/proc/cpuinfo``. ``kernel_environment`` restricts ATen's vector kernels, MKL and oneDNN to AVX2, which is how
one machine reproduces the last-bit behaviour of an AVX2-only CPU (the suite's stand-in for another CPU).
``choose_dtype`` picks a training dtype by timing a matrix product on the machine at hand, never by its name.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
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


# ---------------------------------------------------------------- the training dtype, chosen by measuring

PROBE_N = 1024  # a matrix product large enough to reach a kernel's speed, small enough to time in ~0.2 s
BF16_MARGIN = 1.2  # bfloat16 is chosen only where its product is this much faster than float32's


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a run asked for, the one it got, and why: on a CPU "auto" picks bfloat16 only where a measured
    matrix product beats float32's (an AMX CPU: about 2.3x; an AVX2-only one: about 400x slower)."""
    requested: str
    resolved: str
    reason: str
    gflops: dict[str, float]


def matmul_gflops(dtype, n: int = PROBE_N, repeats: int = 3) -> float:
    """GFLOP/s of an n x n product in ``dtype`` on this CPU, the best of ``repeats`` after one warm-up."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def choose_dtype(requested: str = "auto", device: str = "cpu") -> DtypeChoice:
    """``float32`` and ``bfloat16`` are taken as asked; ``auto`` measures on a CPU, and takes bfloat16 on CUDA."""
    import torch

    if requested not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"dtype must be 'auto', 'float32' or 'bfloat16', not {requested!r}")
    if requested != "auto":
        return DtypeChoice(requested, requested, "asked for", {})
    if device.startswith("cuda"):
        return DtypeChoice(requested, "bfloat16", "CUDA", {})
    gflops = {"float32": round(matmul_gflops(torch.float32), 1), "bfloat16": round(matmul_gflops(torch.bfloat16), 1)}
    faster = gflops["bfloat16"] >= BF16_MARGIN * gflops["float32"]
    return DtypeChoice(requested, "bfloat16" if faster else "float32",
                       f"measured: a {PROBE_N}-square product runs at {gflops['bfloat16']:.0f} GFLOP/s in bfloat16 "
                       f"and {gflops['float32']:.0f} in float32", gflops)
