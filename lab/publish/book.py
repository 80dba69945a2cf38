"""`lab book`: re-execute the stale chapters listed in _toc.yml, then build the HTML with Jupyter Book.

A chapter is stale when its notebook source or profile parameters changed, or, for a page built on run steps,
a data file it read or one of its steps' keys (``pages.state``); a page not yet built on run steps is stale when
any `lab` code its imports reach changed (``runner.stale_reason``). Nothing stale, nothing executed: reading the
book never re-runs hours of training, and a page whose steps all have results computes nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..paths import REPO
from . import pagefold, pages, plots, runner
from .runner import notebook_chapters, toc_files  # noqa: F401  (the book's table of contents)

STATIC = runner.BOOK / "_static"


def execute_stale(only: list[str] | None = None, profile: str | None = None, log=print) -> list[str]:
    profile = profile or os.environ.get("LAB_PROFILE", runner.PUBLISHED_PROFILE)
    executed = []
    chapters = notebook_chapters()
    forced = only is not None  # `--only` with no names forces every chapter
    for page in only or chapters:
        if page not in chapters:
            raise runner.RunError(f"{page!r} is not a notebook chapter of _toc.yml; chapters: {', '.join(chapters)}")
        now = pages.state(page)
        if not (forced or now.stale):
            log(f"{page}: up to date")
            continue
        reason = "asked for" if forced else "; ".join(now.reasons)
        if not now.runnable:
            # Never replaced by a smaller run: the page keeps its run, and its record says which commit made it.
            log(f"{page}: stale ({reason}), but its profile needs CUDA, which this machine lacks; "
                "the published run is kept (the reproducibility appendix lists it as stale)")
            continue
        log(f"{page}: {reason}" + (f"; run steps to compute: {', '.join(now.to_compute) or 'none'}"
                                   if now.run_steps else "; runs its whole notebook"))
        publish(page, profile, log)
        executed.append(page)
    if executed:
        for path in pages.prune_results():
            log(f"{path.relative_to(REPO)}: no published page calls it any more; removed (git keeps it)")
    return executed


def publish(page: str, profile: str, log=print) -> Path:
    """Execute one page; a page built on run steps computes its missing steps into results/ and records them."""
    def execute() -> Path:
        out = runner.publish(page, profile, log=log)
        pagefold.fold(out)
        return out

    return pages.executed(runner.page_source(page)[0], "publish", execute)


def dedupe_inline_scripts(page: Path) -> None:
    """Drop repeated identical inline <script> lines from a built page.

    Jupyter Book 1.x registers sphinx-thebe's and sphinx-togglebutton's inline configuration scripts twice;
    the page then declares `const THEBE_JS_URL` twice and the browser logs a SyntaxError on every page.
    Keeping the first copy of each identical line is the page those extensions meant to produce.
    """
    seen, out, changed = set(), [], False
    for line in page.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("<script>") and stripped.endswith("</script>"):
            if stripped in seen:
                changed = True
                continue
            seen.add(stripped)
        out.append(line)
    if changed:
        page.write_text("".join(out))


def build_html(log=print) -> Path:
    """Jupyter Book 1.x build, no execution, warnings as errors; plotly.js served from _static."""
    STATIC.mkdir(parents=True, exist_ok=True)
    js = STATIC / "plotly.min.js"
    src = plots.plotly_js_path()
    if not js.exists() or js.stat().st_size != src.stat().st_size:
        shutil.copy2(src, js)
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe), "build", str(REPO), "--path-output", str(runner.BOOK), "--warningiserror", "--keep-going",
           "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-6000:])
        raise runner.RunError("the Jupyter Book build failed (warnings are errors); see the messages above")
    html = runner.BOOK / "_build" / "html"
    for page in html.rglob("*.html"):
        dedupe_inline_scripts(page)
    index = html / "index.html"
    log(f"book built in {time.perf_counter() - t0:.1f} s: {index.relative_to(REPO)}")
    return index
