"""The reproducibility appendix: what made each published page, and how to make it again.

Everything comes from the run records that ``runner.execute`` stores in each executed page's metadata
(profile, parameters, commit, package versions, device, wall time) and from the profiles in
``notebooks/params/``; whether a page is still current is ``runner.stale_reason`` at the time the appendix
runs.
"""
from __future__ import annotations

import json
import shlex

from . import runner
from .book import notebook_chapters


def pages(before: str | None = None) -> list[str]:
    """Executed pages of the book in reading order, up to (not including) the page of notebook ``before``."""
    return runner.pages_before(before) if before else notebook_chapters()


def records_table(before: str | None = None):
    import pandas as pd

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
            "python": versions.get("python"), "torch": versions.get("torch"),
            "transformers": versions.get("transformers"), "numpy": versions.get("numpy"),
            "status": "current" if stale is None else f"stale: {stale}",
        })
    return pd.DataFrame(rows).set_index("page")


def parameters_table(before: str | None = None):
    import pandas as pd

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


def total_wall_time(before: str | None = None) -> float:
    return float(sum((runner.recorded(runner.BOOK / f"{p}.ipynb") or {}).get("wall_time_s") or 0
                     for p in pages(before)))
