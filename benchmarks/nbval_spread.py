"""How far the quick-profile outputs move between CPUs: the measurement behind each cell's nbval tolerance.

Executes quick-profile notebooks under several kernel configurations of this one machine (torch threads 1 and 2;
ATen's vector kernels and the BLAS restricted to AVX2, as on an AVX2-only CPU, or left at the CPU's best) and
compares every decimal number of every code cell with the committed reference (``notebooks/X.ipynb``), as
``tests/nbval_tolerance.py`` pairs them. Writes ``benchmarks/nbval_spread.json``: per notebook and cell, the
largest relative difference in each configuration, and whether anything other than a decimal number differed.

    .venv/bin/python benchmarks/nbval_spread.py p2_training p2_collate_postmortem [--configs 1:best 2:avx2 ...]

Run it alone on an idle machine: two kernels on two cores slow each other down (the numbers do not change).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import cpu  # noqa: E402
from tests import nbval_tolerance as tol  # noqa: E402

OUT = ROOT / "benchmarks" / "nbval_spread.json"
TRAINING = ["p2_training", "p2_collate_postmortem", "p5_memorization_scale", "p3_legal_lora"]


def cell_spread(ref_outputs: list, test_outputs: list) -> dict:
    """Largest relative difference of the cell's decimal numbers, and whether its other content is identical."""
    ref, test = json.dumps(ref_outputs, sort_keys=True), json.dumps(test_outputs, sort_keys=True)
    a, b = tol.numbers(ref), tol.numbers(test)
    same_shape = tol.skeleton(ref) == tol.skeleton(test) and len(a) == len(b)
    worst, where = 0.0, None
    if same_shape:
        for x, y in zip(a, b):
            scale = max(abs(x), abs(y))
            rel = abs(x - y) / scale if scale else 0.0
            if rel > worst:
                worst, where = rel, (x, y)
    return {"same_shape": same_shape, "max_relative": worst, "numbers": len(a), "worst_pair": where}


def execute(stem: str, threads: int, isa: str, out_dir: Path) -> tuple[Path, float]:
    from lab.publish import runner

    dst = out_dir / f"{stem}-{threads}-{isa}.ipynb"
    previous = cpu.apply(cpu.kernel_environment(threads, isa))  # the kernel inherits this process's environment
    t0 = time.perf_counter()
    try:
        runner.execute(runner.notebook_path(stem), dst, runner.profile_parameters(stem, "quick"), "quick",
                       progress=False)
    finally:
        cpu.apply(previous)
    return dst, time.perf_counter() - t0


def code_cells(path: Path) -> dict[int, dict]:
    """Code cells by nbval's number (its "Cell N": the index among code cells, the injected one included)."""
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return {i: c for i, c in enumerate(cells) if "injected-parameters" not in c.get("metadata", {}).get("tags", [])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", default=TRAINING)
    ap.add_argument("--configs", nargs="+", default=["1:best", "2:best", "1:avx2", "2:avx2"],
                    help="THREADS:ISA, ISA one of best (the CPU's own kernels) or avx2")
    args = ap.parse_args()
    report = json.loads(OUT.read_text()) if OUT.exists() else {"notebooks": {}}
    report["machine"] = cpu.machine()
    # the commit whose notebooks/ held the references compared against
    report["references_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                 capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        for stem in args.notebooks:
            ref = ROOT / "notebooks" / f"{stem}.ipynb"
            entry = report["notebooks"].setdefault(stem, {})
            entry["reference"] = json.loads(ref.read_text())["metadata"].get("lab", {}).get("device")
            runs = entry.setdefault("runs", {})
            for config in args.configs:
                threads, isa = config.split(":")
                path, seconds = execute(stem, int(threads), isa, Path(tmp))
                cells = {}
                for (i, r), t in zip(code_cells(ref).items(), code_cells(path).values()):
                    if "ctx.finish()" in "".join(r["source"]):
                        continue  # the run record: commit, clock and hardware, sanitised by nbval
                    cells[str(i)] = cell_spread(r.get("outputs", []), t.get("outputs", []))
                runs[config] = {"seconds": round(seconds, 1), "cells": cells,
                                "max_relative": max((c["max_relative"] for c in cells.values()), default=0.0),
                                "all_same_shape": all(c["same_shape"] for c in cells.values())}
                print(f"{stem} {config}: {seconds:.0f} s, max relative {runs[config]['max_relative']:.3g}, "
                      f"shape {'same' if runs[config]['all_same_shape'] else 'DIFFERENT'}", flush=True)
                OUT.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
