"""Executing chapter notebooks with papermill, with profiles, provenance and staleness fingerprints.

Three places hold executed notebooks:
- ``notebooks/X.ipynb``: the source, committed with its ``quick``-profile outputs (the nbval reference);
  ``refresh`` re-executes it in place.
- ``book/X.ipynb``: the published run (``cpu`` profile by default), built by ``lab book``; a superseded
  copy is moved to ``runs/superseded/`` with a notice, never dropped silently. A page
  ``book/X_<profile>.ipynb`` publishes the same notebook under another profile beside it (the ``gpu``
  run of a chapter, say); it is re-executed only where its profile can run (``needs_cuda``).
- ``runs/X/``: a reader's own runs (``lab run``), one new file per run, never overwritten.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import yaml

from .. import atomic
from ..paths import BOOK, LAB, NOTEBOOKS, REPO, RUNS
from . import glue, provenance

PARAMS = NOTEBOOKS / "params"
PUBLISHED_PROFILE = "cpu"
INJECTED_TAG = "injected-parameters"
# The str-hash seed of every kernel this runner starts. The iteration order of a set of strings (and of anything
# built from one) follows str hashing, which Python randomises per process unless PYTHONHASHSEED is set before the
# interpreter starts: a notebook cannot fix it for itself (the seed parameter comes too late), so the runner sets
# it in the kernel's environment, the same for every page, profile and seed, and the run record states it.
KERNEL_HASH_SEED = "0"


class RunError(RuntimeError):
    pass


# ---------------------------------------------------------------- profiles

def notebook_path(name: str | Path) -> Path:
    p = Path(name)
    if p.suffix != ".ipynb":
        p = NOTEBOOKS / f"{p.name}.ipynb"
    if not p.is_absolute():
        p = (Path.cwd() / p) if (Path.cwd() / p).exists() else REPO / p
    if not p.exists():
        known = ", ".join(sorted(q.stem for q in NOTEBOOKS.glob("*.ipynb")))
        raise RunError(f"no notebook {name!r}; chapters: {known}")
    return p


def profiles(stem: str) -> dict[str, dict]:
    path = PARAMS / f"{stem}.yml"
    if not path.exists():
        raise RunError(f"{stem} has no profile file notebooks/params/{stem}.yml")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunError(f"notebooks/params/{stem}.yml must map profile names to parameter mappings")
    return data


def profile_parameters(stem: str, profile: str) -> dict:
    available = profiles(stem)
    if profile not in available:
        raise RunError(f"{stem} has no profile {profile!r}; profiles: {', '.join(available)}")
    return dict(available[profile])


def parse_cli_value(text: str):
    """`-p name value`: YAML scalars/lists as papermill does (`3` int, `0.5` float, `[1, 2]` list)."""
    return yaml.safe_load(text)


# ---------------------------------------------------------------- fingerprints

def _source_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]


def _lab_imports(code: str, package: str = "lab", current_package: str | None = None) -> set[str]:
    """Modules of `lab` imported by a piece of code (absolute and, inside lab, relative imports).

    ``current_package`` is the dotted package the code lives in, for resolving relative imports.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom):
            if node.level and current_package:
                parts = current_package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != package:
                continue
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _module_file(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for candidate in (REPO / rel.with_suffix(".py"), REPO / rel / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def lab_closure(code: str) -> list[Path]:
    """Files of every `lab` module the code imports, followed transitively."""
    todo = list(_lab_imports(code)) + ["lab"]
    seen: dict[str, Path] = {}
    while todo:
        module = todo.pop()
        f = _module_file(module)
        if f is None or module in seen:
            continue
        seen[module] = f
        # packages' __init__ on the way down are imported too
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        package = module if f.name == "__init__.py" else module.rsplit(".", 1)[0]
        todo += list(_lab_imports(f.read_text(), current_package=package))
    return sorted(set(seen.values()))


def toc_files(toc: Path = REPO / "_toc.yml") -> list[str]:
    """Every file named in the table of contents, in reading order (root first)."""
    data = yaml.safe_load(toc.read_text())
    out = [data["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in data.get("parts", []):
        walk(part.get("chapters"))
    walk(data.get("chapters"))
    return out


def notebook_chapters() -> list[str]:
    """Pages book/<page> of the table of contents that are executed notebooks (see page_source)."""
    pages = []
    for entry in toc_files():
        p = Path(entry)
        if p.parent.name != "book":
            continue
        try:
            page_source(p.stem)
        except RunError:
            continue
        pages.append(p.stem)
    return pages


def pages_before(stem: str) -> list[str]:
    """Executed pages of the book in reading order, up to the first page of notebook ``stem`` (all of them
    when it has none)."""
    out = []
    for page in notebook_chapters():
        if page_source(page)[0] == stem:
            break
        out.append(page)
    return out


def book_inputs(stem: str) -> str:
    """Hash of what a page that reads the book reads: the run records and glued values (their typed JSON,
    ``glue.typed``) of every executed page before it in the table of contents (the claims ledger, the
    reproducibility appendix)."""
    h = hashlib.sha256()
    for page in pages_before(stem):
        path = BOOK / f"{page}.ipynb"
        if not path.exists():
            h.update(f"{page}: never executed\n".encode())
            continue
        h.update(json.dumps([page, recorded(path), glue.typed(path)], sort_keys=True).encode())
    return h.hexdigest()


def fingerprint(nb_path: Path, parameters: dict) -> dict:
    nb = json.loads(nb_path.read_text())
    cells = _source_cells(nb)
    source = json.dumps([[c["cell_type"], "".join(c["source"])] for c in cells])
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    files = lab_closure("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
    h = hashlib.sha256
    return {
        "source": h(source.encode()).hexdigest(),
        "parameters": h(json.dumps(parameters, sort_keys=True).encode()).hexdigest(),
        "lab": h("".join(f"{f.relative_to(REPO)}:{h(f.read_bytes()).hexdigest()}\n" for f in files).encode()).hexdigest(),
        "lab_files": [str(f.relative_to(REPO)) for f in files],
        # a notebook whose metadata says it reads the book is stale when the pages it reads change
        "book": book_inputs(nb_path.stem) if nb.get("metadata", {}).get("reads_book") else None,
    }


def recorded(nb_path: Path) -> dict | None:
    if not nb_path.exists():
        return None
    return json.loads(nb_path.read_text()).get("metadata", {}).get("lab")


# ---------------------------------------------------------------- execution

def _portable(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return Path(path).name


def failure_reason(exc: Exception) -> str:
    """The failing cell's exception type and message (papermill keeps them on its error), for the terminal:
    a ParameterError's valid choices must not be readable only inside the partial notebook."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (in cell [{cell}])" if cell is not None else "")
    return f"{type(exc).__name__}: {exc}"


def notebook_parameters(src: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns: the only names papermill can set."""
    nb = json.loads(Path(src).read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse("".join(cell["source"]))
            return [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)]
    return []


def check_parameter_names(src: Path, names) -> None:
    """An unknown name fails before any execution (papermill itself only warns and injects it)."""
    known = notebook_parameters(src)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise RunError(f"{Path(src).stem} has no parameter(s) {', '.join(unknown)}; its parameters: "
                       f"{', '.join(known)}")


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during a run: raised in place of the silent exit, so that the partial is cleaned up."""


@contextlib.contextmanager
def _stopped_by_sigterm():
    """SIGTERM raises ``Terminated`` inside the block (the default action exits at once, leaving the
    ``.running-*`` partial behind); outside the main thread, where no handler can be set, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _keep_partial(tmp: Path, src: Path, dst: Path, started) -> str:
    """Move a run's partial notebook to runs/failed/, its paths made portable; the name it is kept under."""
    failed = RUNS / "failed" / f"{src.stem}-{started:%Y%m%dT%H%M%SZ}.ipynb"
    if tmp.exists():
        try:
            nb = json.loads(tmp.read_text())
            pm = nb.setdefault("metadata", {}).setdefault("papermill", {})
            pm["input_path"], pm["output_path"] = _portable(src), _portable(dst)
            atomic.write_text(failed, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            tmp.unlink()
        except (OSError, ValueError):  # half-written by the kill: nothing readable to keep
            tmp.unlink(missing_ok=True)
            return "not kept (it was half-written)"
    return str(failed.relative_to(REPO) if failed.is_relative_to(REPO) else failed)


def execute(src: Path, dst: Path, parameters: dict, profile: str, progress: bool = True) -> dict:
    """Run ``src`` with papermill into ``dst``, store provenance in ``dst``'s metadata['lab'] and write the values
    it glued beside it (``glue.write``: ``dst``'s ``.glue.json``)."""
    import papermill  # here: `lab status` imports this module, and papermill (with nbclient) costs start-up

    fp = fingerprint(src, parameters)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".running-{dst.name}")
    try:
        # the kernel inherits this process's environment (papermill passes no env of its own); restored after
        with mock.patch.dict(os.environ, {"PYTHONHASHSEED": KERNEL_HASH_SEED}), _stopped_by_sigterm():
            papermill.execute_notebook(str(src), str(tmp), parameters=parameters, cwd=str(REPO),
                                       progress_bar=progress, kernel_name="python3", log_output=False)
    except BaseException as exc:  # papermill keeps the failed notebook: keep it under runs/failed, say where
        failed = _keep_partial(tmp, src, dst, started)
        if not isinstance(exc, Exception):  # a kill (SIGTERM, Ctrl-C): stop as asked, the partial kept
            raise
        raise RunError(f"{src.stem} failed under profile {profile!r}: {failure_reason(exc)}\nthe partial notebook is "
                       f"{failed}") from exc
    record = provenance.collect()
    record.update({
        "notebook": src.stem, "profile": profile, "parameters": parameters, "fingerprint": fp,
        "hash_seed": KERNEL_HASH_SEED,
        "started": started.isoformat(timespec="seconds"), "wall_time_s": round(time.perf_counter() - t0, 1),
    })
    nb = json.loads(tmp.read_text())
    nb.setdefault("metadata", {})["lab"] = record
    # papermill records absolute paths; published notebooks must not name a machine's directories
    pm = nb["metadata"].get("papermill", {})
    pm["input_path"] = _portable(src)
    pm["output_path"] = _portable(dst)
    atomic.write_text(dst, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    tmp.unlink()
    glue.write(dst, nb)
    return record


def run(name: str, profile: str = PUBLISHED_PROFILE, overrides: dict | None = None,
        output: Path | None = None) -> Path:
    """A reader's run: a new file under runs/<stem>/ (or ``output``, which must not exist yet)."""
    src = notebook_path(name)
    check_parameter_names(src, overrides or {})
    parameters = profile_parameters(src.stem, profile)
    parameters.update(overrides or {})
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dst = Path(output) if output else RUNS / src.stem / f"{src.stem}-{profile}-{stamp}.ipynb"
    if dst.exists():
        raise RunError(f"{dst} exists; results are never overwritten (choose another --output)")
    execute(src, dst, parameters, profile)
    return dst


def refresh(name: str) -> Path:
    """Re-execute a source notebook in place with its quick profile (the nbval reference outputs)."""
    src = notebook_path(name)
    execute(src, src, profile_parameters(src.stem, "quick"), "quick")
    return src


def page_source(page: str) -> tuple[str, str | None]:
    """(notebook stem, pinned profile) of the book page ``book/<page>.ipynb``.

    ``X`` is notebooks/X.ipynb under the profile it was published with; ``X_<profile>`` is the same
    notebook pinned to that profile. A page that is neither raises RunError."""
    if (NOTEBOOKS / f"{page}.ipynb").exists():
        return page, None
    stem, _, profile = page.rpartition("_")
    if stem and (NOTEBOOKS / f"{stem}.ipynb").exists() and profile in profiles(stem):
        return stem, profile
    raise RunError(f"book/{page} is not an executed page: no notebooks/{page}.ipynb, nor a profile of another "
                   "notebook in its name")


def needs_cuda(parameters: dict) -> bool:
    """A profile whose ``device`` parameter asks for CUDA cannot run on a machine without it."""
    return parameters.get("device") == "cuda"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def publish(page: str, profile: str = PUBLISHED_PROFILE, log=print) -> Path:
    """Execute a page's notebook into book/<page>.ipynb, keeping any earlier result aside.

    A page pinned to a profile (``X_gpu``) is always executed with that profile."""
    stem, pinned = page_source(page)
    profile = pinned or profile
    src = notebook_path(stem)
    dst = BOOK / f"{page}.ipynb"
    parameters = profile_parameters(stem, profile)
    if dst.exists():
        old = recorded(dst) or {}
        keep = RUNS / "superseded" / f"{page}-{old.get('profile', 'unknown')}-{(old.get('started') or 'unknown').replace(':', '')}.ipynb"
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dst, keep)
        if glue.path_of(dst).exists():
            shutil.copy2(glue.path_of(dst), glue.path_of(keep))
        log(f"{page}: earlier published run kept as {keep.relative_to(REPO)}")
    log(f"{page}: executing profile {profile!r}")
    record = execute(src, dst, parameters, profile)
    log(f"{page}: done in {record['wall_time_s']} s")
    return dst


def published_profile(page: str) -> str:
    """The profile book/<page>.ipynb was (or, never executed, will be) published with."""
    stem, pinned = page_source(page)
    return pinned or (recorded(BOOK / f"{page}.ipynb") or {}).get("profile", PUBLISHED_PROFILE)


def stale_reason(page: str) -> str | None:
    """Why book/<page>.ipynb must be re-executed, or None if it is current."""
    stem, _ = page_source(page)
    rec = recorded(BOOK / f"{page}.ipynb")
    if rec is None:
        return "never executed"
    profile = published_profile(page)
    try:
        parameters = profile_parameters(stem, profile)
    except RunError:
        return f"its profile {profile!r} no longer exists"
    now = fingerprint(notebook_path(stem), parameters)
    then = rec.get("fingerprint", {})
    for key, what in (("source", "notebook source"), ("parameters", f"{profile} parameters"), ("lab", "lab code"),
                      ("book", "the pages it reads")):
        if now[key] != then.get(key):
            return f"{what} changed"
    if not glue.path_of(BOOK / f"{page}.ipynb").exists():  # executed before pages had one: readers derive it
        return "glue JSON missing"
    return None


RUN_PARAMETERS = argparse.ArgumentParser(prog="lab run", add_help=False, exit_on_error=False)
RUN_PARAMETERS.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))


def main_run_args(argv: list[str]) -> dict:
    """Parse `-p name value` pairs (papermill style: ``parse_cli_value``); a name given twice keeps its last
    value, as papermill does."""
    try:
        args, unknown = RUN_PARAMETERS.parse_known_args(argv)
    except argparse.ArgumentError as exc:  # `-p x` with no value
        raise RunError(f"{exc}; use -p NAME VALUE") from exc
    if unknown:
        raise RunError(f"unexpected argument {unknown[0]!r}; use -p NAME VALUE")
    return {name: parse_cli_value(value) for name, value in args.parameter}
