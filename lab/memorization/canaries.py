"""Canaries: sequences planted in a training corpus at controlled duplication counts.

A canary is a token sequence (random tokens, or natural text the corpus does not otherwise contain)
inserted ``duplicates`` times at random positions of the training stream. Held-out canaries are made
the same way but never inserted: their extraction rate is the false-positive floor. Everything is
recorded in a manifest (JSON) from which anyone can recompute the measurements.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import atomic


@dataclass(frozen=True)
class Canary:
    id: str
    kind: str  # "random" | "natural"
    duplicates: int  # 0 for held-out canaries
    tokens: tuple[int, ...]
    positions: tuple[int, ...] = ()  # token offsets in the final training stream

    @property
    def held_out(self) -> bool:
        return self.duplicates == 0


def random_canaries(rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray, prefix: str,
                    duplicates: int) -> list[Canary]:
    """``n`` sequences of ``length`` tokens drawn uniformly from ``alphabet``."""
    return [Canary(f"{prefix}-{i}", "random", duplicates, tuple(int(t) for t in rng.choice(alphabet, length)))
            for i in range(n)]


def natural_canaries(rng: np.random.Generator, source: np.ndarray, n: int, length: int, prefix: str,
                     duplicates: int, taken: set[int]) -> list[Canary]:
    """``n`` non-overlapping windows of natural text from ``source`` (text absent from the corpus)."""
    starts = np.arange(0, len(source) - length, length)
    free = [s for s in starts if int(s) not in taken]
    if len(free) < n:
        raise ValueError(f"the natural-text source holds {len(free)} free windows of {length} tokens; need {n}")
    chosen = rng.choice(free, n, replace=False)
    taken.update(int(s) for s in chosen)
    return [Canary(f"{prefix}-{i}", "natural", duplicates, tuple(int(t) for t in source[s:s + length]))
            for i, s in enumerate(chosen)]


def make_set(seed: int, counts: list[int], per_count: int, length: int, alphabet: np.ndarray,
             natural_source: np.ndarray, held_out: int) -> list[Canary]:
    """``per_count`` random and ``per_count`` natural canaries for each duplication count, plus
    ``held_out`` of each kind that are never inserted."""
    rng = np.random.default_rng(seed)
    taken: set[int] = set()
    out: list[Canary] = []
    for count in list(counts) + [0]:
        n = held_out if count == 0 else per_count
        tag = "heldout" if count == 0 else f"dup{count}"
        out += random_canaries(rng, n, length, alphabet, f"random-{tag}", count)
        out += natural_canaries(rng, natural_source, n, length, f"natural-{tag}", count, taken)
    return out


def insert(stream: np.ndarray, canaries: list[Canary], seed: int) -> tuple[np.ndarray, list[Canary]]:
    """Insert every copy of every canary at random positions (between tokens of ``stream``).

    Returns the new stream and the canaries with their final positions filled in.
    """
    rng = np.random.default_rng(seed)
    copies = [(i, c) for i, c in enumerate(canaries) for _ in range(c.duplicates)]
    cuts = np.sort(rng.integers(0, len(stream) + 1, size=len(copies)))
    order = rng.permutation(len(copies))  # which copy goes to which cut
    pieces, positions = [], {i: [] for i in range(len(canaries))}
    prev, offset = 0, 0
    for cut, k in zip(cuts, order):
        i, canary = copies[k]
        pieces.append(stream[prev:cut])
        offset += cut - prev
        positions[i].append(int(offset))
        pieces.append(np.asarray(canary.tokens, dtype=stream.dtype))
        offset += len(canary.tokens)
        prev = cut
    pieces.append(stream[prev:])
    placed = [Canary(c.id, c.kind, c.duplicates, c.tokens, tuple(sorted(positions[i])))
              for i, c in enumerate(canaries)]
    return np.concatenate(pieces), placed


def save_manifest(path: Path, canaries: list[Canary], meta: dict) -> None:
    atomic.write_text(path, json.dumps({"meta": meta, "canaries": [asdict(c) for c in canaries]}, indent=0) + "\n")


def load_manifest(path: Path) -> tuple[dict, list[Canary]]:
    data = json.loads(Path(path).read_text())
    canaries = [Canary(c["id"], c["kind"], c["duplicates"], tuple(c["tokens"]), tuple(c["positions"]))
                for c in data["canaries"]]
    return data["meta"], canaries
