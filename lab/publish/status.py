"""`python -m lab status`: what `make book` would re-execute, without executing anything.

One line per notebook page of _toc.yml: current, or stale with the reason ``runner.stale_reason`` gives
(notebook source, profile parameters, lab code, the pages it reads, a missing glue JSON), and whether this machine can re-run it (a
page pinned to a CUDA profile cannot run on a machine without CUDA: `make book` keeps it as published).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import runner
from .runner import notebook_chapters


@dataclass
class PageStatus:
    page: str
    profile: str
    stale: str | None  # the reason, or None when current
    runnable: bool  # whether this machine can re-execute it (a CUDA profile needs CUDA)

    @property
    def published_default(self) -> bool:
        """A page of the book's default profile (not one pinned beside it, such as X_gpu)."""
        return runner.page_source(self.page)[1] is None

    def line(self) -> str:
        if self.stale is None:
            return f"{self.page}: current ({self.profile})"
        keep = "" if self.runnable else "; its profile needs CUDA, which this machine lacks: kept as published"
        return f"{self.page}: stale ({self.profile}): {self.stale}{keep}"


def page_status(page: str) -> PageStatus:
    stem, pinned = runner.page_source(page)
    profile = runner.published_profile(page)
    reason = runner.stale_reason(page)
    runnable = True
    if reason is not None and pinned:
        runnable = not (runner.needs_cuda(runner.profile_parameters(stem, pinned)) and not runner.cuda_available())
    return PageStatus(page, profile, reason, runnable)


def report(log=print) -> int:
    """Print every page's status; 1 when a page of the default profile is stale, else 0."""
    statuses = [page_status(p) for p in notebook_chapters()]
    for s in statuses:
        log(s.line())
    return 1 if any(s.stale and s.published_default for s in statuses) else 0
