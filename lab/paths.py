"""Where things are in the repository: the one place its folders are named."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "lab"
NOTEBOOKS = REPO / "notebooks"  # parameterized chapters, with their quick-profile outputs
BOOK = REPO / "book"  # narrative and published executed pages
RUNS = REPO / "runs"  # run outputs and checkpoints (not committed)
DATA = REPO / "data"
