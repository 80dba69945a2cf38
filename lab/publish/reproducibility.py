"""The reproducibility appendix: what made each published page, and how to make it again.

Everything comes from the run records that ``runner.execute`` stores in each executed page's metadata
(profile, parameters, commit, package versions, device, wall time) and from the profiles in
``notebooks/params/``; whether a page is still current is ``runner.stale_reason`` at the time the appendix
runs.
"""
from __future__ import annotations

import json
import shlex

import pandas as pd

from ..models import HUB_ID
from . import runner
from .runner import notebook_chapters


def pages(before: str | None = None) -> list[str]:
    """Executed pages of the book in reading order, up to (not including) the page of notebook ``before``."""
    return runner.pages_before(before) if before else notebook_chapters()


def records_table(before: str | None = None):
    rows = []
    for page in pages(before):
        rec = runner.recorded(runner.BOOK / f"{page}.ipynb") or {}
        git, versions, device = rec.get("git") or {}, rec.get("versions") or {}, rec.get("device") or {}
        stale = runner.stale_reason(page)
        rows.append({
            "page": page,
            "notebook": f"notebooks/{runner.page_source(page)[0]}.ipynb",
            "profile": rec.get("profile"),
            "commit": (git.get("commit") or "?")[:12] + (" (dirty)" if git.get("dirty") else ""),
            "started (UTC)": rec.get("started"),
            "wall time (s)": rec.get("wall_time_s"),
            "device": device.get("accelerator") or f"CPU: {device.get('cpu')}",
            "torch threads": device.get("torch_threads"),
            # recorded from 6 December 2026 on; a page published before names only the CPU's model
            "cpu extensions": " ".join(device.get("extensions") or []) or "not recorded",
            "python": versions.get("python"), "torch": versions.get("torch"),
            "transformers": versions.get("transformers"), "numpy": versions.get("numpy"),
            "status": "current" if stale is None else f"stale: {stale}" + (
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
        rec = runner.recorded(runner.BOOK / f"{page}.ipynb") or {}
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
        lines += [f"**{page}** (profile `{profile}`)", "", "```bash",
                  f"python -m lab run notebooks/{stem}.ipynb --profile {profile}",
                  f"papermill notebooks/{stem}.ipynb out.ipynb -y {shlex.quote(yaml_flow)}", "```", ""]
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
    return float(sum((runner.recorded(runner.BOOK / f"{p}.ipynb") or {}).get("wall_time_s") or 0
                     for p in pages(before)))
