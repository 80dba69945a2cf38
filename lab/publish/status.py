"""`python -m lab status [--json]`: what `make book` would re-execute and compute, without executing anything.

One line per notebook page of _toc.yml (``pages.state``): current, or stale with its reasons, how many of its run
steps would be computed, and whether this machine can re-run it (a page pinned to a CUDA profile cannot run on a
machine without CUDA: `make book` keeps it as published). ``--json`` prints the same as
``{"pages": [{"page", "profile", "stale", "reasons", "runs": {"total", "to_compute"}}]}``.
"""
from __future__ import annotations

import json

from . import pages


def report(as_json: bool = False, log=print) -> int:
    """Print every page's state; 1 when a page of the default profile is stale, else 0."""
    states = pages.states()
    if as_json:
        log(json.dumps({"pages": [s.as_json() for s in states]}, indent=1))
    else:
        for s in states:
            log(s.line())
    return 1 if any(s.stale and s.published_default for s in states) else 0
