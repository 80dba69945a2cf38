"""Attractor texts: canonical passages a model may reproduce verbatim, with their sources.

The committed texts live in ``data/attractors/*.txt`` and every one of them must be listed in
``data/attractors/SOURCES.md`` (a text without a stated source is refused). Users can add texts from a
local folder (e.g. copyrighted books they own) that is never committed; those are marked ``local``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import steps
from ..paths import DATA

DATA_DIR = DATA / "attractors"


class AttractorError(ValueError):
    """An unknown attractor name, a missing folder, or a committed text without a source."""


@dataclass(frozen=True)
class Attractor:
    name: str
    text: str
    source: str  # the SOURCES.md row, or "local file" for user texts
    local: bool = False

    def split(self, encode, prefix_tokens: int) -> tuple[list[int], list[int]]:
        """(prompt ids, true continuation ids): the first ``prefix_tokens`` tokens are the prompt.

        Short texts (the Hello World program) keep at least half their tokens as continuation, so the
        prompt is ``min(prefix_tokens, n // 2)`` tokens; the prompt length is then reported per row.
        ``encode`` maps text to token ids (special tokens such as BOS included, as the model sees them).
        """
        ids = list(encode(self.text))
        n_prompt = max(1, min(prefix_tokens, len(ids) // 2))
        return ids[:n_prompt], ids[n_prompt:]


def _sources(directory: Path) -> dict[str, str]:
    path = directory / "SOURCES.md"
    if not path.exists():
        raise AttractorError(f"{path.name} is missing from the attractor folder: every text needs a source")
    rows = {}
    for line in steps.read_text(path).splitlines():
        m = re.match(r"\|\s*([\w.-]+\.txt)\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = " | ".join(c.strip() for c in m.group(2).split("|"))
    return rows


def available(extra_dir: str | Path | None = None) -> list[str]:
    """Names of all attractors: the committed ones, then those of ``extra_dir``."""
    names = sorted(p.stem for p in DATA_DIR.glob("*.txt"))
    if extra_dir:
        names += sorted(p.stem for p in _extra_files(extra_dir) if p.stem not in names)
    return names


def _extra_files(extra_dir: str | Path) -> list[Path]:
    d = Path(extra_dir).expanduser()
    if not d.is_dir():
        raise AttractorError(f"attractor folder {str(extra_dir)!r} does not exist or is not a folder")
    return sorted(d.glob("*.txt"))


def load(names: list[str] | None = None, extra_dir: str | Path | None = None) -> list[Attractor]:
    """The named attractors (all committed ones when ``names`` is None), in the order given. Only the texts asked
    for are read, each through ``lab.steps`` (a run step is keyed by the texts it reads, not by the others)."""
    sources = _sources(DATA_DIR)
    pool: dict[str, tuple[Path, str, bool]] = {}
    for p in sorted(DATA_DIR.glob("*.txt")):
        if p.name not in sources:
            raise AttractorError(f"{p.name} has no row in data/attractors/SOURCES.md")
        pool[p.stem] = (p, sources[p.name], False)
    if extra_dir:
        for p in _extra_files(extra_dir):
            pool.setdefault(p.stem, (p, "local file", True))
    if names is None:
        names = [n for n, (_, _, local) in pool.items() if not local]
    unknown = [n for n in names if n not in pool]
    if unknown:
        raise AttractorError(f"unknown attractor(s) {unknown}; available: {', '.join(pool)}")
    return [Attractor(n, _text(pool[n][0], pool[n][2]), pool[n][1], pool[n][2]) for n in names]


def _text(path: Path, local: bool) -> str:
    # a reader's own texts stay outside the repository and the cache: read directly, named by no result
    return (path.read_text(encoding="utf-8") if local else steps.read_text(path)).strip("\n")


def check_names(names: list[str]) -> str | None:
    """For ``lab.publish.params.Param(check=...)``: an error message, or None when all names are known."""
    if not names:
        return "give at least one attractor"
    unknown = [n for n in names if n not in available()]
    return f"unknown attractor(s) {unknown}; available: {', '.join(available())}" if unknown else None
