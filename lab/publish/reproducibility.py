"""The reproducibility appendix: what made each published page, and how to make it again.

Everything comes from the run records that ``runner.execute`` stores in each executed page's metadata
(profile, parameters, commit, package versions, device, wall time, the run steps it called), from the results of
those steps (each records its own wall time and machine) and from the profiles in ``notebooks/params/``; whether
a page is still current is ``pages.state`` at the time the appendix runs. Every record is read through
``lab.steps`` (``recorded``), so the appendix is stale whenever a page it describes is published again.
"""
from __future__ import annotations

import json
import shlex

import pandas as pd

from pydantic import Field

from .. import steps
from ..models import HUB_ID
from . import pages as page_states
from . import runner
from .design import design
from .runner import notebook_chapters


@design
class ReproducibilityDesign:
    seed: int = Field(0, description="seed of every random number generator (the appendix draws none)")


def recorded(page: str) -> dict:
    """The run record of book/<page>.ipynb, read through lab.steps (the appendix is stale when it changes)."""
    path = runner.BOOK / f"{page}.ipynb"
    if not path.exists():
        return {}
    return runner.recorded(steps.data_file(path)) or {}


def step_seconds(page: str) -> dict[str, float] | None:
    """{step call: seconds its result records} behind a page built on run steps (a step called twice counts
    once); None for a page not built on them."""
    runs = recorded(page).get("runs")
    if runs is None:
        return None
    seconds = {}
    for event in runs["steps"]:
        result = steps.RESULTS / event["step"] / f"{event['key']}.json"
        if result.exists():
            seconds[event["call"]] = json.loads(steps.read_text(result))["computed"]["wall_time_s"]
        else:  # computed outside results/ (a reader's run): what the run log says it took
            seconds[event["call"]] = event["wall_time_s"]
    return seconds


def compute_seconds(page: str) -> float:
    """Seconds of computing behind a page: its steps' recorded wall times, or its whole notebook's wall time for
    a page not built on run steps."""
    seconds = step_seconds(page)
    return float(sum(seconds.values())) if seconds is not None else float(recorded(page).get("wall_time_s") or 0)


def book_compute_seconds(before: str | None = None) -> float:
    """Seconds of computing behind the pages before ``before``, a step that several pages read counted once
    (p1_analysis reads p1_experiments' steps): what re-making them from nothing costs."""
    shared, whole = {}, 0.0
    for page in pages(before):
        seconds = step_seconds(page)
        if seconds is None:
            whole += compute_seconds(page)
        else:
            shared.update(seconds)
    return whole + float(sum(shared.values()))


def pages(before: str | None = None) -> list[str]:
    """Executed pages of the book in reading order, up to (not including) the page of notebook ``before``."""
    return runner.pages_before(before) if before else notebook_chapters()


def records_table(before: str | None = None):
    rows = []
    for page in pages(before):
        rec = recorded(page)
        git, versions, device = rec.get("git") or {}, rec.get("versions") or {}, rec.get("device") or {}
        state = page_states.state(page)
        rows.append({
            "page": page,
            "notebook": f"notebooks/{runner.page_source(page)[0]}.ipynb",
            "profile": rec.get("profile"),
            "commit": (git.get("commit") or "?")[:12] + (" (dirty)" if git.get("dirty") else ""),
            "started (UTC)": rec.get("started"),
            "wall time (s)": rec.get("wall_time_s"),
            "computing (s)": round(compute_seconds(page), 1),
            "device": device.get("accelerator") or f"CPU: {device.get('cpu')}",
            "torch threads": device.get("torch_threads"),
            # recorded from 6 December 2026 on; a page published before names only the CPU's model
            "cpu extensions": " ".join(device.get("extensions") or []) or "not recorded",
            "python": versions.get("python"), "torch": versions.get("torch"),
            "transformers": versions.get("transformers"), "numpy": versions.get("numpy"),
            "status": "current" if not state.stale else f"stale: {'; '.join(state.reasons)}" + (
                "; pending a re-run on a GPU (its profile needs CUDA)" if needs_cuda(page) else ""),
        })
    return pd.DataFrame(rows).set_index("page")


def needs_cuda(page: str) -> bool:
    """The page's published profile asks for CUDA: a machine without a GPU keeps it as it was executed."""
    try:
        parameters = runner.profile_parameters(runner.page_source(page)[0], runner.published_profile(page))
        return parameters.get("device") == "cuda"
    except runner.RunError:
        return False


def parameters_table(before: str | None = None):
    rows = []
    for page in pages(before):
        rec = recorded(page)
        for name, value in (rec.get("parameters") or {}).items():
            rows.append({"page": page, "parameter": name, "value": json.dumps(value, ensure_ascii=False)})
    return pd.DataFrame(rows).set_index(["page", "parameter"])


def commands(before: str | None = None) -> str:
    """Markdown: for each page, the `lab run` line and the plain papermill line that re-run its profile."""
    lines = []
    for page in pages(before):
        stem, _ = runner.page_source(page)
        profile = runner.published_profile(page)
        params = runner.profile_parameters(stem, profile)
        yaml_flow = json.dumps(params, ensure_ascii=False, separators=(", ", ": "))
        plain = f"papermill notebooks/{stem}.ipynb out.ipynb" + (f" -y {shlex.quote(yaml_flow)}" if params else "")
        lines += [f"**{page}** (profile `{profile}`)", "", "```bash",
                  f"python -m lab run notebooks/{stem}.ipynb --profile {profile}", plain, "```", ""]
    return "\n".join(lines)


def _hub_ids(params: dict) -> list[str]:
    names = [params.get("model")] + [n for key in ("extra_models", "models", "pretrained") for n in params.get(key) or []]
    return [n for n in names if isinstance(n, str) and HUB_ID.match(n)]


def unrun_profiles():
    """Profiles that no page of this book was executed with, and what each needs: "a GPU and the hub" where it
    names Hugging Face hub models (none are reachable from the machine that builds the book), "a GPU" where it
    asks for CUDA. Listed with the command that runs them, never as results."""
    published = {runner.page_source(page) for page in notebook_chapters()}
    rows = []
    for nb in sorted(runner.NOTEBOOKS.glob("[!.]*.ipynb")):  # not a refresh's temporary copy
        for profile, params in runner.profiles(nb.stem).items():
            if profile == "quick" or (nb.stem, profile) in published:
                continue
            hub = _hub_ids(params)
            cuda = params.get("device") == "cuda"
            if not hub and not cuda:
                continue
            rows.append({"notebook": nb.stem, "profile": profile,
                         "models": ", ".join(hub) or "—",
                         "needs": "a GPU and the hub" if hub else "a GPU",
                         "command": f"python -m lab run notebooks/{nb.stem}.ipynb --profile {profile}"})
    return pd.DataFrame(rows).set_index(["notebook", "profile"])


def total_wall_time(before: str | None = None) -> float:
    return float(sum(recorded(p).get("wall_time_s") or 0 for p in pages(before)))


def page_compute_seconds(before: str | None = None) -> dict[str, float]:
    """{page: seconds of computing behind it} (``compute_seconds``), in reading order."""
    return {p: round(compute_seconds(p), 1) for p in pages(before)}
