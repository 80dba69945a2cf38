"""A presentation-only re-publish, timed: in a fresh clone of the committed tree (the registry assets already in the
cache), one markdown cell of a page is edited and ``python -m lab book --no-build`` re-publishes it. Every run step
is found in the committed results/, so nothing is trained or measured again; the issue's bound is 5 minutes on
two cores. Records the wall time, what `lab status` said before, and the machine.

    .venv/bin/python benchmarks/republish.py [--page p3_legal_lora] [--json benchmarks/republish.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab import cpu  # noqa: E402
from lab.paths import REPO  # noqa: E402

BOUND_S = 300


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd), "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=cwd, env=env, capture_output=True, text=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="p3_legal_lora")
    parser.add_argument("--json", default=str(Path(__file__).with_name("republish.json")))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
        path = clone / "notebooks" / f"{args.page}.ipynb"
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        cell["source"] = ["".join(cell["source"]) + "\n\nA corrected sentence."]
        path.write_text(json.dumps(nb, indent=1))
        status = json.loads(run(["status", "--json"], clone).stdout)
        entry = next(e for e in status["pages"] if e["page"] == args.page)
        t0 = time.perf_counter()
        book = run(["book", "--no-build"], clone)
        seconds = time.perf_counter() - t0
        if book.returncode != 0:
            print(book.stdout[-3000:], book.stderr[-3000:], file=sys.stderr)
            return 1
        computed = [line for line in (clone / "book" / f"{args.page}.ipynb").read_text().splitlines()
                    if '"computed": true' in line]
    out = {"page": args.page, "commit": commit, "edit": "one markdown cell", "status_before": entry,
           "seconds": round(seconds, 1), "bound_s": BOUND_S, "within_bound": seconds <= BOUND_S,
           "steps_computed": len(computed), "machine": cpu.machine()}
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0 if out["within_bound"] else 1


if __name__ == "__main__":
    sys.exit(main())
