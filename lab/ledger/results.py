"""What the rules read: the values the executed chapters glued (``Results``), and the scale of the run each part's
pages record (``RunScale`` for the scale gate)."""
from __future__ import annotations

import ast
import json
import math
from functools import cache
from pathlib import Path
from typing import Callable

from .. import steps
from ..publish import glue
from ..publish.provenance import REPO
from .claims import BOOK, LedgerError, RunScale, load_originals


# ---------------------------------------------------------------- reading the executed chapters

@cache
def _glued(path: Path, mtimes: tuple) -> dict:
    """Cached by the modification times of the notebook and of its glue JSON."""
    return glue.values(path)


@cache
def _run_parameters(path: Path, mtime: float) -> dict:
    nb = json.loads(path.read_text())
    defaults = {}
    source = REPO / "notebooks" / path.name  # the parameters cell holds the defaults; the record, the overrides
    for cell in json.loads(source.read_text())["cells"] if source.exists() else []:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                    defaults[node.targets[0].id] = ast.literal_eval(node.value)
    return {**defaults, **nb.get("metadata", {}).get("lab", {}).get("parameters", {})}


def run_parameters(page: str) -> dict:
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        raise LedgerError(f"book/{page}.ipynb does not exist (run `python -m lab book`)")
    steps.data_file(path)  # its record holds the parameters it ran with
    if (REPO / "notebooks" / path.name).exists():  # its parameters cell, the defaults
        steps.data_file(REPO / "notebooks" / path.name)
    return _run_parameters(path, path.stat().st_mtime)


def glued(page: str) -> dict:
    """{name: value} of everything book/<page>.ipynb glued, read from its typed JSON (``glue.values``)."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        raise LedgerError(f"book/{page}.ipynb does not exist (run `python -m lab book`)")
    json_path = glue.path_of(path)
    steps.data_file(json_path if json_path.exists() else path)
    return _glued(path, (path.stat().st_mtime, json_path.stat().st_mtime if json_path.exists() else None))


class Results:
    """Glued values by page, failing with the page and name when one is missing.

    ``pages`` maps a page name to its {name: value}; by default the executed book (:func:`glued`). Rules read
    only through a Results, so that a test can drive them with made-up values (:meth:`of`)."""

    def __init__(self, pages: Callable[[str], dict] = None, originals: dict | None = None):
        self.pages = pages or glued
        self.originals = originals if originals is not None else load_originals()
        self.used: set[tuple[str, str]] = set()  # (page, name) of every value a rule read

    @classmethod
    def of(cls, values: dict[str, dict], originals: dict | None = None) -> "Results":
        """Results over given {page: {name: value}} (and figures of the originals) instead of the book."""
        def page_values(page: str) -> dict:
            if page not in values:
                raise LedgerError(f"no page {page!r} among the given results")
            return values[page]
        return cls(page_values, originals)

    def original(self, *keys):
        """A figure of data/originals.yml, by its keys."""
        value = self.originals
        for k in keys:
            if not isinstance(value, dict) or k not in value:
                raise LedgerError(f"data/originals.yml has no {'/'.join(map(str, keys))!r}")
            value = value[k]
        return value

    def __call__(self, page: str, name: str):
        values = self.pages(page)
        if name not in values:
            raise LedgerError(f"book/{page}.ipynb glues no {name!r}")
        self.used.add((page, name))
        return values[name]

    def parameter(self, page: str, name: str):
        """A parameter of the run a page recorded (its defaults, overridden by what the run was given)."""
        values = self.pages(page)
        params = values["__parameters__"] if "__parameters__" in values else run_parameters(page)
        if name not in params:
            raise LedgerError(f"book/{page}.ipynb records no parameter {name!r}")
        return params[name]

    def has(self, page: str, name: str) -> bool:
        try:
            return name in self.pages(page)
        except LedgerError:  # the page itself is absent
            return False

    def interval(self, page: str, name: str) -> tuple[float, float, float]:
        """A glued figure with its ``_low``/``_high`` bounds; NaN bounds where the page glued none (one run)."""
        bounds = (self(page, f"{name}_{e}") if self.has(page, f"{name}_{e}") else math.nan for e in ("low", "high"))
        return (self(page, name), *bounds)

    def names(self, page: str) -> list[str]:
        """Every name the page glued, for rules that judge however many tasks or models a run had."""
        return list(self.pages(page))


# ---------------------------------------------------------------- the runs a rule reads, and their scale

REGISTRY_MODELS = {"smollm2-135m": ("SmolLM2-135M-Instruct", "smollm2_params_m"),
                   "gemma3-270m": ("Gemma-3-270M", "gemma3_params_m")}


# pages that glue the parameter count of the model they ran (lab.models.loaded_table): any model, a reader's
# hub model among them, is then measured against a claim's scale
PAGE_MODEL_PARAMS = {"p1_experiments": "p1e_model_params", "p1_analysis": "p1x_model_params",
                     "p3_legal_lora": "p3_model_params"}


def _model(r: Results, name: str, page: str | None = None) -> tuple[str, float | None]:
    """A readable name with its size, and the parameter count of a model a page ran: a registry model's from the
    models page, any other from the page's own glued count (None where neither exists)."""
    if name in REGISTRY_MODELS:
        label, key = REGISTRY_MODELS[name]
        millions = r("p0_models_assets", key)
        return f"{label} ({millions:.1f}M parameters)", millions * 1e6
    key = PAGE_MODEL_PARAMS.get(page)
    if key and r.has(page, key):
        n = float(r(page, key))
        return f"{name} ({n / 1e9:.2f}B parameters)", n
    return name, None


def _weights(r: Results, page: str, name: str) -> str:
    """How the weights were held: the registry's are 4-bit GGUF files de-quantized; others as loaded."""
    if name in REGISTRY_MODELS:
        return "4-bit GGUF weights de-quantized"
    try:
        return f"{r.parameter(page, 'dtype')} weights"
    except LedgerError:  # a page published before dtype was a parameter
        return "float32 weights"


def run_part1(r: Results, page: str) -> RunScale:
    name = r.parameter(page, "model")
    label, params = _model(r, name, page)
    return RunScale(f"{label} ({_weights(r, page, name)}), on the book's attractors", params, "pretraining corpus")


def run_pretrained(r: Results) -> RunScale:
    p = "p5_memorization_scale"
    names = r.parameter(p, "pretrained")
    models = [_model(r, n) for n in names]
    sizes = [n for _, n in models if n is not None]
    largest = (max(sizes) if len(sizes) == len(models) and sizes
               else float(r(p, "p5_pretrained_params_max")) if names and r.has(p, "p5_pretrained_params_max")
               else None)
    return RunScale(" and ".join(m for m, _ in models) + f" (pretrained, {_weights(r, p, names[0]) if names else ''})",
                    largest, "pretraining corpus")


def run_ladder(r: Results) -> RunScale:
    p = "p5_memorization_scale"
    size, share = r(p, "p5_max_log10_params"), r(p, "p5_canary_share")
    epochs = f" for {r(p, 'p5_epochs')} epochs" if r.has(p, "p5_epochs") else ""
    return RunScale(f"byte-level GPTs up to 10^{size:.1f} parameters, trained here{epochs} on a stream {share:.1%} "
                    "canaries", 10 ** size, "canary stream")


PART2_SIZE_GLUE = {"p2_training": "n_params", "p2_expectations": "n_params_run",  # pages that glue their size
                   "p2_mode_collapse": "n_params"}


def run_part2(r: Results, page: str = "p2_training") -> RunScale:
    data = "wikitext-2" if r.parameter(page, "corpus") == "wikitext-2" else "Shakespeare+Milton substitute"
    if r.has(page, "epochs_max"):  # a page whose runs each train to their plateau (p2_training)
        epochs = r(page, "epochs_max")
        when = f"each run to its plateau, at most {epochs:g} epochs"
    else:
        epochs = r.parameter(page, "epochs")
        when = f"{epochs} epochs"
    if page in PART2_SIZE_GLUE:
        n = r(page, PART2_SIZE_GLUE[page])
        return RunScale(f"an Infinito of {n:,} parameters on the {data} ({when})", n, data.lower(), epochs)
    return RunScale(f"a {r.parameter(page, 'n_layer')}-layer, d {r.parameter(page, 'n_embd')} Infinito on the {data} "
                    f"({when})", None, data.lower(), epochs)


def run_part3(r: Results) -> RunScale:
    label, params = _model(r, r.parameter("p3_legal_lora", "model"), "p3_legal_lora")
    steps, seeds = r("p3_legal_lora", "p3_steps"), r("p3_legal_lora", "p3_seeds")
    trained = (f"at most {steps} LoRA steps per seed (early stopping)" if r.has("p3_legal_lora", "p3_stopping_sentence")
               else f"{steps} LoRA steps per seed")
    return RunScale(f"{label}, {trained}, {seeds} seeds", params, None, steps)


def run_original(r: Results, key: str) -> RunScale:
    """A run the originals reported: the figure is theirs, so it is at the claim's own scale."""
    run = r.original(key)
    return RunScale(run["what"], run.get("params"), run.get("data"), run.get("steps"))
