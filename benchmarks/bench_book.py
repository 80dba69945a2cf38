"""Time a clean `lab book` build and a rebuild with nothing changed (goal for the rebuild: <= 60 s).

Usage: .venv/bin/python benchmarks/bench_book.py
The clean build removes book/_build and re-executes nothing that is current: the executed chapters are
results, committed under book/. Pass --execute to also re-execute every chapter (hours for training).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--execute", action="store_true", help="force re-execution of every chapter")
    args = ap.parse_args()
    shutil.rmtree(ROOT / "book" / "_build", ignore_errors=True)
    lab = [sys.executable, "-m", "lab", "book"]
    clean = timed(lab + (["--only"] if args.execute else []))
    again = timed(lab)
    print(f"clean lab book build: {clean:.1f} s")
    print(f"rebuild with nothing changed: {again:.1f} s (goal <= 60 s)")


if __name__ == "__main__":
    main()
