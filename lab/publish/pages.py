"""Whether a page of the book is current, and which run steps re-publishing it would compute.

A page built on run steps (its notebook's metadata says ``"run_steps": true``) records, when published, what it
ran (``stamp``): the data files it read outside any step, and each run step it called with its arguments and key,
beside the fingerprint of its source, parameters and imported code that the runner records. It is stale when its source, its parameters, one of those
files or the `lab` code it imports changed, or when one of its steps' keys changed; only the steps whose new key
has no result in ``results/`` are computed. A presentation change (prose, a figure's style, a table's layout)
therefore re-renders the page from its committed results and computes nothing.

A page not yet built on run steps is one run of its whole notebook, stale by ``runner.stale_reason`` (its
notebook source, parameters, or any `lab` file its imports reach).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import atomic, cpu, steps
from ..paths import BOOK, NOTEBOOKS
from . import runner


def uses_run_steps(stem: str) -> bool:
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    return bool(nb.get("metadata", {}).get("run_steps"))


@dataclass
class PageState:
    page: str
    profile: str
    reasons: list[str]
    total: int  # run steps the page calls (1 for a page run as one whole notebook)
    to_compute: list[str]  # "<step>/<key>" (or "<page>: whole notebook") that re-publishing would compute
    runnable: bool = True  # a CUDA profile cannot re-run on a machine without CUDA
    run_steps: bool = True
    known: bool = True  # False before its first run on steps: which steps it calls is known once it has run

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    @property
    def published_default(self) -> bool:
        """A page of the book's default profile (not one pinned beside it, such as X_gpu)."""
        return runner.page_source(self.page)[1] is None

    def as_json(self) -> dict:
        return {"page": self.page, "profile": self.profile, "stale": self.stale, "reasons": self.reasons,
                "runs": {"total": self.total, "to_compute": self.to_compute}}

    def line(self) -> str:
        if not self.stale:
            return f"{self.page}: current ({self.profile})"
        keep = "" if self.runnable else "; its profile needs CUDA, which this machine lacks: kept as published"
        computes = ("; re-runs its whole notebook" if not self.run_steps else
                    "; its run steps are known once it has run" if not self.known else
                    f"; computes {len(self.to_compute)} of {self.total} run steps")
        return f"{self.page}: stale ({self.profile}): {'; '.join(self.reasons)}{computes}{keep}"


def _step_state(event: dict) -> tuple[list[str], str | None]:
    """(why a recorded step call is out of date, "<step>/<key>" when its new key has no committed result)."""
    try:
        step = steps.named(event["step"], event["module"])
    except (ImportError, steps.StepError):
        return [f"run step {event['step']} no longer exists in {event['module']}"], event["step"]
    call = step.call_hash(event["arguments"])
    now = {name: steps.current_sha(name) for name in event["reads"]}
    key = step.key(call, now)
    reasons = []
    if call != event["call"]:
        reasons.append(f"run step {step.name}: its code or a declared dependency changed")
    for name, sha in event["reads"].items():
        if now[name] != sha:
            reasons.append(f"run step {step.name}: {name} {'is gone' if now[name] is None else 'changed'}")
    if not (steps.RESULTS / step.name / f"{key}.json").exists():
        if not reasons:
            reasons.append(f"run step {step.name}: its result {key} is not in results/")
        return reasons, f"{step.name}/{key}"
    return reasons, None


def state(page: str) -> PageState:
    stem, pinned = runner.page_source(page)
    profile = runner.published_profile(page)
    runnable = not (pinned and runner.needs_cuda(runner.profile_parameters(stem, pinned))
                    and not runner.cuda_available())
    if not uses_run_steps(stem):
        reason = runner.stale_reason(page)
        return PageState(page, profile, [reason] if reason else [], 1, [f"{page}: whole notebook"] if reason else [],
                         runnable, run_steps=False)
    record = runner.recorded(BOOK / f"{page}.ipynb") or {}
    runs = record.get("runs")
    if runs is None:
        why = "never executed" if not record else "published before it was built on run steps"
        return PageState(page, profile, [why], 0, [], runnable, known=False)
    try:
        parameters = runner.profile_parameters(stem, profile)
    except runner.RunError:
        return PageState(page, profile, [f"its profile {profile!r} no longer exists"], 0, [], runnable)
    # the runner records the source, parameters and imported code of every run (runner.fingerprint)
    now, then = runner.fingerprint(runner.notebook_path(stem), parameters), record.get("fingerprint", {})
    reasons = [why for key, why in (("source", "notebook source changed"), ("parameters", f"{profile} parameters changed"),
                                    # what the page shows may have changed (a table's layout, a figure's style); its
                                    # steps' keys say what must be computed again: an import alone computes nothing
                                    ("lab", "lab code it imports changed"))
               if now[key] != then.get(key)]
    for name, sha in runs["reads"].items():
        current = steps.current_sha(name)
        if current != sha:
            reasons.append(f"{name} {'is gone' if current is None else 'changed'}")
    to_compute = []
    calls = {e["call"]: e for e in runs["steps"]}  # a step called twice with one call is one run
    for event in calls.values():
        why, missing = _step_state(event)
        reasons += why
        to_compute += [missing] if missing else []
    return PageState(page, profile, reasons, len(calls), sorted(set(to_compute)), runnable)


def states() -> list[PageState]:
    return [state(p) for p in runner.notebook_chapters()]


def referenced_results() -> set[Path]:
    """The files of results/ that a published page's record names (each step call's key)."""
    named = set()
    for page in runner.notebook_chapters():
        runs = (runner.recorded(BOOK / f"{page}.ipynb") or {}).get("runs") or {}
        named |= {steps.RESULTS / e["step"] / f"{e['key']}.json" for e in runs.get("steps", [])}
    return named


def prune_results() -> list[Path]:
    """Remove the results no published page calls any more (a step's earlier key); git keeps them."""
    unused = [p for p in sorted(steps.RESULTS.glob("*/*.json")) if p not in referenced_results()]
    for path in unused:
        path.unlink()
    return unused


# ---------------------------------------------------------------- recording what a page ran

@contextlib.contextmanager
def recording(mode: str | None):
    """Run steps under ``$LAB_STEPS=mode`` with a fresh ``$LAB_RUN_LOG``; yields the log's path (the kernel
    inherits both: papermill starts it with this process's environment)."""
    fd, log = tempfile.mkstemp(prefix="lab-run-log-", suffix=".jsonl")
    os.close(fd)
    previous = {k: os.environ.get(k) for k in ("LAB_STEPS", "LAB_RUN_LOG")}
    os.environ["LAB_RUN_LOG"] = log
    if mode:
        os.environ["LAB_STEPS"] = mode
    else:
        os.environ.pop("LAB_STEPS", None)
    try:
        yield Path(log)
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def read_log(log: Path) -> dict:
    """{"reads": {file: sha256} read outside any step, "steps": [step calls]} from a run log."""
    events = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    reads = {e["file"]: e["sha256"] for e in events if e["event"] == "read"}
    return {"reads": dict(sorted(reads.items())), "steps": [e for e in events if e["event"] == "step"]}


def executed(stem: str, mode: str | None, execute: Callable[[], Path]) -> Path:
    """``execute()`` a notebook run; for a notebook built on run steps, under ``$LAB_STEPS=mode``, with what it ran
    stamped into its record. Every run is stamped with the machine's CPU (``cpu.stamp``)."""
    if not uses_run_steps(stem):
        out = execute()
    else:
        with recording(mode) as log:
            out = execute()
        stamp(out, log)
    cpu.stamp(out)
    return out


def stamp(notebook: Path, log: Path) -> None:
    """Add what the run ran (``metadata.lab.runs``) to an executed notebook's record, then drop the log."""
    notebook = Path(notebook)
    nb = json.loads(notebook.read_text())
    record = nb.setdefault("metadata", {}).setdefault("lab", {})
    stem = record.get("notebook") or notebook.stem
    record["runs"] = read_log(log)
    atomic.write_text(notebook, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    Path(log).unlink(missing_ok=True)
