"""The claims ledger: the claims of the five source documents, each with a verdict computed from the book's runs.

``data/claims.yml`` lists the claims (id, source document, the claim in one line, what would test it, the
rule that judges it, the page and section holding the evidence, and the **scale** the claim is about). A rule is
a function of this module that reads the values the executed chapters glued (``glued``), and the figures the
originals reported (``data/originals.yml``, each cited), and returns a :class:`Verdict`: one of ``VERDICTS``,
with the figure, its interval and the scale of the run it read. :func:`gate` then lets a verdict stand only
when that run meets the claim's scale, or when the claim's logic does not depend on scale (arithmetic, a bug
by construction, a reading of the original code); otherwise the row says "not testable here" and what ran.
Nothing here types a result: change a chapter's run and the ledger's verdicts follow when its page is
re-executed.
"""
from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Callable

import yaml

from .legal import criteria as legal_plan
from .params import Param, Spec
from .provenance import REPO

BOOK = REPO / "book"
CLAIMS = REPO / "data" / "claims.yml"
ORIGINALS = REPO / "data" / "originals.yml"
SOURCE_DIR = REPO / "data" / "sources"
SOURCES = ("000_7d8c1fa5ebf167ba.txt", "001_2f74044695a0fe33.txt", "002_c22a35c3f9d7c84b.txt",
           "003_3cc34b719484f3c9.txt", "004_27d3d2876e77c6bd.txt")
VERDICTS = ("supported", "refuted", "not supported", "inconclusive", "not testable here")
NEGATIVE = ("refuted", "not supported")


SPEC = Spec(Param("claims_file", (str,), "the claims data file, relative to the repository"))


class LedgerError(ValueError):
    """A claim without a verdict source: unknown rule, page, section or glued value."""


@dataclass(frozen=True)
class RunScale:
    """What a run was: a readable label, and the quantities a claim's scale is compared with (None: unknown)."""
    what: str
    params: float | None = None
    data: str | None = None
    steps: float | None = None


@dataclass(frozen=True)
class Verdict:
    status: str
    figure: str
    run: RunScale | None = None  # the run the verdict read; None for rules that judge no run of the book's

    def __post_init__(self):
        if self.status not in VERDICTS:
            raise LedgerError(f"unknown verdict {self.status!r}; verdicts: {', '.join(VERDICTS)}")


@dataclass(frozen=True)
class Scale:
    """The scale a claim is about (from claims.yml). ``independent`` names why the claim's logic holds at any
    scale (arithmetic, a bug by construction, code reading); a verdict on such a claim stands whatever ran."""
    about: str
    params: tuple[float, float] | None = None  # the parameter range the claim is about
    data: str | None = None  # the corpus it is about
    steps: float | None = None  # the training it is about (the unit the part's runs report)
    independent: str | None = None

    def __post_init__(self):
        if self.params is not None:
            object.__setattr__(self, "params", tuple(float(x) for x in self.params))

    def met_by(self, run: RunScale) -> bool:
        if self.params is not None and (run.params is None or not self.params[0] <= run.params <= self.params[1]):
            return False
        if self.data is not None and run.data != self.data:
            return False
        return self.steps is None or (run.steps is not None and run.steps >= self.steps)


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    claim: str
    test: str
    page: str
    section: str
    scale: Scale
    rule: str | None = None  # the rule of RULES that judges the claim, or
    unreached: str | None = None  # the reason of REASONS that says why no run of this book reaches it
    args: dict = field(default_factory=dict)  # keyword arguments of the rule (one rule judging many rows)

    def __post_init__(self):
        if isinstance(self.scale, dict):
            object.__setattr__(self, "scale", Scale(**self.scale))
        if (self.rule is None) == (self.unreached is None):
            raise LedgerError(f"claim {self.id}: give a judging `rule` or an `unreached` reason, exactly one")

    def read(self, results: "Results") -> "Verdict":
        """The verdict of the claim's rule (or its reason for being out of reach), before the scale gate."""
        if self.rule is not None:
            return RULES[self.rule](results, **self.args)
        return REASONS[self.unreached](results, **self.args)


# ---------------------------------------------------------------- reading the executed chapters

def _value(data: dict):
    if "application/papermill.record/text/markdown" in data:
        return data["application/papermill.record/text/markdown"]
    text = data.get("application/papermill.record/text/plain", "")
    text = "".join(text) if isinstance(text, list) else text
    text = re.sub(r"np\.(?:float|int)\d*\((.*)\)", r"\1", text)  # numpy scalars print as np.float64(x)
    if text in ("nan", "inf", "-inf"):
        return float(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def load_originals(path: Path = ORIGINALS) -> dict:
    return yaml.safe_load(Path(path).read_text())


@cache
def _glued(path: Path, mtime: float) -> dict:
    nb = json.loads(path.read_text())
    out = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap:
                out[scrap["name"]] = _value(output.get("data", {}))
    return out


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
    return _run_parameters(path, path.stat().st_mtime)


def glued(page: str) -> dict:
    """{name: value} of everything book/<page>.ipynb glued."""
    path = BOOK / f"{page}.ipynb"
    if not path.exists():
        raise LedgerError(f"book/{page}.ipynb does not exist (run `python -m lab book`)")
    return _glued(path, path.stat().st_mtime)


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
    epochs = r.parameter(page, "epochs")
    if page in PART2_SIZE_GLUE:
        n = r(page, PART2_SIZE_GLUE[page])
        return RunScale(f"an Infinito of {n:,} parameters on the {data} ({epochs} epochs)", n, data.lower(), epochs)
    return RunScale(f"a {r.parameter(page, 'n_layer')}-layer, d {r.parameter(page, 'n_embd')} Infinito on the {data} "
                    f"({epochs} epochs)", None, data.lower(), epochs)


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


# ---------------------------------------------------------------- rules

RULES: dict[str, Callable[..., Verdict]] = {}  # judge evidence: each can return supported and refuted
REASONS: dict[str, Callable[..., Verdict]] = {}  # judge nothing: say why no run of this book reaches a claim


def rule(fn):
    RULES[fn.__name__] = fn
    return fn


def reason(fn):
    REASONS[fn.__name__] = fn
    return fn


def ci(value: float, low: float, high: float, fmt: str = ".3f") -> str:
    if any(map(math.isnan, (low, high))):
        return f"{value:{fmt}} (no interval: too few units, or every unit gave the same value)"
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def against(low: float, high: float, threshold: float) -> str:
    """supported: the whole 95% interval is past the threshold; refuted: all short of it; else inconclusive."""
    if low > threshold:
        return "supported"
    if high < threshold:
        return "refuted"
    return "inconclusive"


def ordering(figures: dict[str, tuple[float, float, float]], pairs: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Judge claimed orderings X > Y from (estimate, low, high): held when the intervals are disjoint in the
    claimed direction, reversed when disjoint the other way, unresolved otherwise."""
    held, reversed_, notes = 0, 0, []
    for x, y in pairs:
        (_, xl, xh), (_, yl, yh) = figures[x], figures[y]
        if xl > yh:
            held += 1
        elif xh < yl:
            reversed_ += 1
            notes.append(f"{x} < {y}")
    if reversed_:
        return "refuted", notes
    if held == len(pairs):
        return "supported", notes
    return "inconclusive", notes


def _chain(order: list[str]) -> list[tuple[str, str]]:
    return list(combinations(order, 2))


def _drops(r: Results, actions, short: str = "drop") -> dict[str, tuple[float, float, float]]:
    """(estimate, low, high) per action of a figure p1_experiments glues as p1e_<short>_<action>."""
    return {a: tuple(r("p1_experiments", f"p1e_{short}_{a}{s}") for s in ("", "_low", "_high")) for a in actions}


def _ranked(figs: dict) -> str:
    return " > ".join(f"{a.replace('_seed', '')} {ci(*figs[a])}" for a in sorted(figs, key=lambda a: -figs[a][0]))


@rule
def action_impact_ranking(r: Results) -> Verdict:
    """C > B > A > D > E in Δ Mem, re-run with the original's own prompt edits on our model."""
    seed = [f"{a}_seed" for a in "CBADE"]
    figs = _drops(r, seed)
    status, notes = ordering(figs, _chain(seed))
    return Verdict(status, "drop in p(true continuation), original's prompt edits: " + _ranked(figs)
                   + (f"; reversed: {', '.join(n.replace('_seed', '') for n in notes)}" if notes else "")
                   + ". " + r("p1_experiments", "p1e_ranking_sentence"),
                   run_part1(r, "p1_experiments"))


@rule
def level_hierarchy(r: Results) -> Verdict:
    """embedding (C) > token (A, B) > logit (D) > mid-sequence (E), compared on a scale common to every level:
    the drop in generated tokens that match the true continuation (memorization of what is generated). Shown
    beside, not judged: the rise in the unperturbed model's NLL of what was generated (the other common scale),
    and D's p(true) drop, computed on the distribution its bias was added to, so measuring the bias by
    construction."""
    levels = [["C"], ["A", "B"], ["D"], ["E"]]
    figs = _drops(r, "ABCDE", "prefix")
    pairs = [(x, y) for i, hi in enumerate(levels) for lo in levels[i + 1:] for x in hi for y in lo]
    status, notes = ordering(figs, pairs)
    return Verdict(status, "drop in generated tokens matching the true continuation, each action at its strongest "
                   "magnitude: " + _ranked(figs) + (f"; reversed: {', '.join(notes)}" if notes else "")
                   + "; rise in the unperturbed model's NLL of what was generated (nats per token), the other "
                   "common scale: " + _ranked(_drops(r, "ABCDE", "view"))
                   + "; drop in p(true continuation), where D measures its own bias: " + _ranked(_drops(r, "ABCDE"))
                   + " (an ordering of levels holds only for the magnitudes run: their units differ)",
                   run_part1(r, "p1_experiments"))


@rule
def model_robustness_ranking(r: Results) -> Verdict:
    """Judges 001's ordering when one page ran both named models and glued each robustness with its interval
    (``p1e_robustness_<slug>`` and ``_low``/``_high``); otherwise says what ran. The scale gate needs both at
    7-8B (the gpu-hub profile)."""
    p = "p1_experiments"
    ours = {k.removeprefix("p1e_robustness_"): r(p, k) for k in r.names(p)
            if k.startswith("p1e_robustness_") and not k.endswith(("_low", "_high"))}
    if not ours:
        raise LedgerError("book/p1_experiments.ipynb glues no p1e_robustness_* value")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in ours.items())
    named = {claimed: next((k for k in ours if pattern in k), None)
             for claimed, pattern in (("Mistral-7B", "mistral_7b"), ("Llama-3-8B", "llama_3_8b"))}
    if None in named.values():
        return Verdict("not testable here", "Mistral-7B and Llama-3-8B are not both among the models this page ran "
                       "(the gpu-hub profile runs both on a reader's GPU); the same score on the models it ran: "
                       + shown, run_part1(r, p))
    (m, mlo, mhi), (l, llo, lhi) = (r.interval(p, f"p1e_robustness_{k}") for k in named.values())
    fig = f"Mistral-7B {ci(m, mlo, mhi)} against Llama-3-8B {ci(l, llo, lhi)} (robustness = 1 - mean |Δ Mem|)"
    if any(map(math.isnan, (mlo, mhi, llo, lhi))):
        return Verdict("inconclusive", fig + "; without intervals two point estimates judge no gap", run_part1(r, p))
    if mlo > lhi:
        return Verdict("supported", fig, run_part1(r, p))
    if mhi < llo:
        return Verdict("refuted", fig, run_part1(r, p))
    return Verdict("inconclusive", fig + "; the intervals overlap", run_part1(r, p))


# Attractors whose continuation follows from a rule visible in the prompt: reproducing them needs no memory.
RULE_GENERATED = ("counting", "alphabet")


@rule
def small_models_do_not_memorize(r: Results) -> Verdict:
    """Judged on the pretrained models and natural texts, the setting the claim is about. The canaries of the
    ladder are shown, not judged: random strings and unseen text planted in a stream are not that setting."""
    p = "p5_memorization_scale"
    k, n = r(p, "p5_pretrained_extractable"), r(p, "p5_pretrained_tested")
    texts = [t for t in (r(p, "p5_pretrained_extractable_texts") or "").replace("none", "").split(", ") if t]
    natural = [t for t in texts if t not in RULE_GENERATED]
    top, tlo, thi = (r(p, x) for x in ("p5_top_rate", "p5_top_rate_low", "p5_top_rate_high"))
    fig = (f"the pretrained models reproduce {k} of {n} (model, attractor) pairs 32 tokens verbatim: "
           f"{', '.join(texts) or 'none'}; natural texts among them: {', '.join(natural) or 'none'} "
           f"({', '.join(RULE_GENERATED)} follow a rule the prompt shows). Not judged: the largest byte-level model "
           f"trained here reproduces a share {ci(top, tlo, thi, '.2f')} (Wilson) of the canaries seen "
           f"{r(p, 'p5_top_duplicates')} times per epoch")
    return Verdict("refuted" if natural else "supported", fig, run_pretrained(r))


@rule
def memorization_threshold_70b(r: Results) -> Verdict:
    p = "p5_memorization_scale"
    first, top_low = r(p, "p5_first_extracting_log10"), r(p, "p5_top_rate_low")
    if math.isnan(r(p, "p5_delta_bic_size")):
        fig = "no variation in extraction on this ladder, so no fit"
    else:
        slope = r(p, "p5_slope")
        slope = ("not identifiable (no interval: the fit runs to a bound)" if math.isnan(slope) else
                 ci(slope, r(p, "p5_slope_low"), r(p, "p5_slope_high"), ".2f") + " log-odds per decade")
        fig = (f"smooth growth vs threshold: BIC difference {r(p, 'p5_delta_bic_size'):.1f}, AIC difference "
               f"{r(p, 'p5_delta_aic_size'):.1f} (positive favours a threshold); slope {slope}")
    fig += (f"; largest model 10^{r(p, 'p5_max_log10_params'):.1f}, {r(p, 'p5_decades_below_70b'):.1f} decades "
            "below 70B")
    if r.has(p, "p5_first_extracting_any_epoch_log10"):  # the design that moves training apart from size
        fig += (f"; the smallest size extracting after any epoch: 10^{r(p, 'p5_first_extracting_any_epoch_log10'):.1f}"
                if math.isfinite(r(p, "p5_first_extracting_any_epoch_log10")) else "; no size extracts after any epoch")
    near = math.log10(70e9) - 0.5  # within half a decade of 70B
    if math.isfinite(first) and top_low > 0 and first < near:
        return Verdict("refuted", f"extraction appears from 10^{first:.1f} parameters (the largest model "
                       f"reproduces a share of at least {top_low:.2f} of its canaries, Wilson 95% lower bound); "
                       + fig, run_ladder(r))
    if math.isfinite(first) and top_low > 0:
        return Verdict("supported", f"extraction appears only from 10^{first:.1f} parameters; " + fig, run_ladder(r))
    return Verdict("inconclusive", f"no model extracts its canaries beyond chance; " + fig, run_ladder(r))


@reason
def models_out_of_reach(r: Results) -> Verdict:
    """Claims about specific 7B-70B chat models or GPT-3.5: the machine that builds the book reaches neither the
    hub's weights nor a paid API."""
    size = r("p5_memorization_scale", "p5_max_log10_params")
    smol = r("p0_models_assets", "smollm2_params_m")
    return Verdict("not testable here", f"the models this book runs have at most {smol:.0f}M parameters "
                   f"(pretrained) and 10^{size:.1f} (trained here); a reader can aim the same notebooks at the named "
                   "model, by its Hugging Face id on their own GPU or through Part I's OpenAI-compatible backend "
                   "with a budget")


@reason
def not_run(r: Results, why: str) -> Verdict:
    """A claim no run of this book can reach, with the reason (claims.yml's ``args``)."""
    return Verdict("not testable here", why)


@rule
def wikitext_ppl_reported(r: Results) -> Verdict:
    """Judges 003's two figures against models A and B trained by their own recipes, each over seeds with an
    interval (``model_a_recipe_ppl`` and ``_low``/``_high``); the scale gate lets that stand only for the
    original size on WikiText-2. One seed per recipe gives no interval, so no verdict."""
    p = "p2_training"
    ppl, lo, hi = (r(p, k) for k in ("ppl_iit", "ppl_iit_low", "ppl_iit_high"))
    ratio, n = r(p, "ratio"), r(p, "n_seeds")
    fig = (f"the fixed model with the IIT term reaches validation PPL {ci(ppl, lo, hi, '.1f')} ({n} seeds, "
           f"{ratio:.1f} parameters per token)")
    runs = {m.upper(): (*r.interval(p, f"model_{m}_recipe_ppl"), r(p, f"reported_{m}")) for m in ("a", "b")}
    fig += "; " + "; ".join(f"model {m} by its recipe {ci(v, lo_, hi_, '.1f')} against the reported {rep}"
                            for m, (v, lo_, hi_, rep) in runs.items())
    fig += f" ({r(p, 'recipe_seeds_run')} seed(s) per recipe)"
    if any(math.isnan(x) for v, lo_, hi_, _ in runs.values() for x in (lo_, hi_)):
        return Verdict("inconclusive", fig + "; without an interval a single run judges no reported figure",
                       run_part2(r, p))
    inside = [lo_ <= rep <= hi_ for v, lo_, hi_, rep in runs.values()]
    return Verdict("supported" if all(inside) else "refuted", fig, run_part2(r, p))


@rule
def memorization_score_protocol(r: Results) -> Verdict:
    """The threshold is a definition; what can be judged is whether a verbatim recall reaches it. That is
    arithmetic on the texts (the score of a perfect continuation), so it holds for any model."""
    p = "p1_attractors"
    below, n = r(p, "p1a_ceiling_below_07"), r(p, "p1a_n_attractors")
    top, top_text = r(p, "p1a_ceiling_max"), r(p, "p1a_ceiling_max_text")
    fig = (f"a perfect {r.parameter(p, 'max_new_tokens')}-token continuation scores below 0.7 for {below} of {n} "
           f"attractors (highest {top:.3f}, {top_text}): the score compares the continuation with the canonical "
           "text, prompt included (ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py)")
    return Verdict("refuted" if below else "supported", fig, RunScale(f"the score of a perfect continuation of {n} texts"))


@rule
def collate_bug_fake_ppl(r: Results) -> Verdict:
    """The claim has two parts: 18.99 is a false perplexity, and unshifted labels caused it. The second is judged
    by where one epoch of the copy bug ends: trained to its plateau, the copy task passes 18.99 early and goes on
    to about 1, so a one-epoch figure of 18.99 needs another cause (the page reads the original's pipelines)."""
    p = "p2_collate_postmortem"
    fake, honest, reported = r(p, "fake"), r(p, "honest"), r(p, "reported_fake")
    run = run_part2(r, p)
    if not fake < honest / 5:
        return Verdict("refuted", f"unshifted labels give PPL {fake:.2f}, not far below the {honest:.2f} of the same "
                       f"model with shifted labels (reported {reported})", run)
    plateau, cross, epoch = r(p, "plateau_ppl"), r(p, "cross_step"), r(p, "steps_per_epoch")
    first = (f"unshifted labels give a false PPL ({fake:.2f} against {honest:.2f} with shifted labels, same "
             f"model and steps)")
    if 0 <= cross <= epoch and plateau < reported / 5:
        return Verdict("not supported", f"{first}; but trained on, the copy task passes {reported} at step "
                       f"{cross:.0f} of a {epoch:.0f}-step epoch and levels off at {plateau:.3f}, and the "
                       f"original's own copy-bug trainer stored {r(p, 'orig_epoch1'):.2f} after one epoch: "
                       "one epoch of the bug gives about 1, not the reported figure", run)
    return Verdict("supported", f"{first}; one epoch of the copy task is still at or above the reported "
                   f"{reported} (first step below it: {cross:.0f}, epoch {epoch:.0f} steps)", run)


@rule
def dropout_froze_phi_weights(r: Results) -> Verdict:
    p = "p2_training"
    m15, m25, plain = r(p, "move_iit_015"), r(p, "move_iit_025"), r(p, "move_plain")
    status = "refuted" if m25 >= 0.5 * m15 and m25 > 100 * plain else "supported"
    return Verdict(status, f"phi weights moved {m25:.4f} at dropout 0.25 and {m15:.4f} at 0.15 (largest change over "
                   f"the runs at each); {plain:.1e} with the phi loss off: the loss, not dropout, decides whether "
                   "they move", run_part2(r))


@rule
def dropout_improved_ppl(r: Results) -> Verdict:
    """The claim is a difference, so only an interval of it (paired over seeds) can support or refute it; two
    means without one can at most point the other way ("not supported")."""
    p = "p2_training"
    d15, d25 = r(p, "dropout_ppl_015"), r(p, "dropout_ppl_025")
    a, b = r(p, "reported_a"), r(p, "reported_b")  # the original's PPL at dropout 0.15 and 0.25
    seeds = r.parameter(p, "dropout_seeds")
    fig = (f"validation PPL {d25:.1f} at dropout 0.25 against {d15:.1f} at 0.15 ({d25 / d15 - 1:+.1%}; reported: "
           f"{b:.2f} against {a:.2f}, {b / a - 1:+.1%}), means over the same {seeds} seeds")
    run = run_part2(r)
    if not r.has(p, "dropout_ppl_diff_low"):
        return Verdict("not supported" if d25 >= d15 else "inconclusive",
                       fig + "; no interval of the difference, so neither supported nor refuted", run)
    d, lo, hi = (r(p, f"dropout_ppl_diff{s}") for s in ("", "_low", "_high"))  # PPL at 0.25 minus at 0.15
    if hi < 0:
        status = "supported"
    elif lo > 0:
        status = "refuted"
    else:
        status = "not supported" if d >= 0 else "inconclusive"
    return Verdict(status, fig + f"; difference {ci(d, lo, hi, '.1f')}", run)


@rule
def ratio_caused_mode_collapse(r: Results) -> Verdict:
    """Judged only where a page varied the parameters-per-token ratio and glued the change in greedy repetition
    from the lowest to the highest ratio, with its interval; otherwise nothing here can attribute the collapse to
    the ratio, whatever the decoders show."""
    p = "p2_mode_collapse"
    iit, t1 = r(p, "rep_greedy_orig"), r(p, "rep_t1_orig")
    fig = (f"greedy repetition {iit:.3f}, sampling at T = 1 {t1:.3f}, at one ratio "
           f"({r('p2_training', 'ratio'):.1f} parameters per training token)")
    if not r.has(p, "rep_ratio_diff"):
        return Verdict("not testable here", fig + ": the ratio was not varied, so no run here can attribute the "
                       "repetition to it")
    d, lo, hi = (r(p, f"rep_ratio_diff{s}") for s in ("", "_low", "_high"))
    status = "supported" if lo > 0 else "refuted" if hi < 0 else "inconclusive"
    return Verdict(status, f"greedy repetition at the highest ratio minus at the lowest {ci(d, lo, hi)}; " + fig,
                   run_part2(r, p))


@rule
def collapse_at_every_temperature(r: Results) -> Verdict:
    """Collapse at a temperature: repetition at least half of greedy decoding's. Refuted when one of the claim's
    temperatures falls below that, supported when all that ran stay above it."""
    p = "p2_mode_collapse"
    greedy = r(p, "rep_greedy_orig")
    temps = {t: r(p, k) for t, k in (("0.7", "rep_t07_orig"), ("1.0", "rep_t1_orig"), ("1.2", "rep_t12_orig"))
             if r.has(p, k) and math.isfinite(r(p, k))}
    fig = f"unigram repetition {greedy:.3f} under greedy decoding; " + ", ".join(
        f"{v:.3f} at T = {t}" for t, v in temps.items())
    if not temps:
        return Verdict("inconclusive", fig + "no sampled temperature ran", run_part2(r, p))
    status = "refuted" if any(v < 0.5 * greedy for v in temps.values()) else "supported"
    return Verdict(status, fig, run_part2(r, p))


@rule
def iit_memory_written(r: Results) -> Verdict:
    """A code fact at any size: the memory's write priority can never exceed its threshold (ORIGINAL_REPOS.md,
    B.6), and the count of writes in training shows it."""
    p = "p2_training"
    writes = r(p, "memory_writes")
    return Verdict("refuted" if writes == 0 else "supported",
                   f"the IIT-guided memory was written {writes} times over all training runs: its write priority "
                   "is at most 0.9 against a fixed threshold of 3.0 (webtilians/principiodelTodo@9a2da8af:"
                   "src/core/iit_guided_memory.py)", run_part2(r))


@rule
def iit_loss_helps(r: Results) -> Verdict:
    p = "p2_training"
    n = r(p, "n_seeds")
    d, lo, hi = r(p, "diff"), r(p, "diff_low"), r(p, "diff_high")
    status = "supported" if hi < 0 else "refuted" if lo > 0 else "inconclusive"
    return Verdict(status, f"the phi loss changes validation PPL by {ci(d, lo, hi, '.2f')} (paired t-interval, unit "
                   f"the seed, n {n}; lower in {r(p, 'n_negative')} of {n}; exact sign-flip p {r(p, 'diff_p'):.4f}, "
                   f"the smallest {n} pairs allow {r(p, 'diff_p_floor'):.4f})", run_part2(r))


def _listed(r: Results, page: str, name: str) -> list[str]:
    text = r(page, name)
    return [] if text in ("", "none") else text.split("; ")


def _span(low: float, high: float) -> str:
    return f"below {high:g}" if low == -math.inf else f"{low:g}" if low == high else f"{low:g} to {high:g}"


@rule
def projection(r: Results, figure: str, low: float, high: float) -> Verdict:
    """One projection of 004: judged on the original's own run where it measured the figure (its own scale),
    else as the expectations page judged it (which judges only at the projection's scope)."""
    for key in ("projection_run", "by_construction"):
        measured = r.original(key, "measured")
        if figure in measured:
            value = measured[figure]
            status = "supported" if low <= value <= high else "refuted"
            return Verdict(status, f"{value:g} against the projected {_span(low, high)} ("
                           f"{r.original(key, 'what')}; {r.original(key, 'cite')})", run_original(r, key))
    p = "p2_expectations"
    verdicts = {"supported": "met_list", "refuted": "not_met_list", "not testable here": "untestable_list"}
    for status, name in verdicts.items():
        if figure in _listed(r, p, name):
            return Verdict(status, f"the expectations page judges it {name.removesuffix('_list').replace('_', ' ')} "
                           f"(projected {_span(low, high)}; {r(p, 'n_params_run'):,} parameters, {r(p, 'n_layer_run')} "
                           "layers, on the corpus stated there)", run_part2(r, p))
    raise LedgerError(f"book/{p}.ipynb lists no projection {figure!r}")


@rule
def original_not_overfitting(r: Results) -> Verdict:
    """Judged on the original's own figures (its scale): a best epoch before the last one run means validation
    got worse while training went on."""
    a = r.original("model_a")
    ratio = a["val_ppl"] / a["train_ppl"]
    run = run_original(r, "model_a")
    fig = (f"model A's best validation epoch was {a['best_epoch']} of {a['epochs_planned']}, with early stopping "
           f"not triggered, and validation PPL {a['val_ppl']} is {ratio:.2f}x its train PPL {a['train_ppl']} "
           f"({a['cite']})" + ("" if a.get("val_ppl_by_epoch") else "; the per-epoch log of that run is not in the "
                                "repository"))
    log = a.get("val_ppl_by_epoch")  # absent: the repository keeps no per-epoch log of model A's run
    if log:
        best = min(range(len(log)), key=log.__getitem__)
        rise = log[-1] / log[best] - 1
        fig += f"; the log's validation PPL ends {rise:+.1%} above its best (epoch {best + 1} of {len(log)})"
        return Verdict("refuted" if rise > 0.05 else "supported", fig, run)
    if a["best_epoch"] < a["epochs_planned"] and not a["early_stopping_triggered"]:
        return Verdict("not supported", fig, run)
    return Verdict("supported", fig, run)


@rule
def model_b_changes(r: Results) -> Verdict:
    """Code reading: did model B differ from model A only in what 003 says?"""
    b = r.original("model_b")
    extra = [d for d in b["code_differences"] if d not in b["stated_changes"]]
    stated = ", ".join(b["stated_changes"])
    if extra:
        return Verdict("refuted", f"003 names {stated} ({b['stated_cite']}); the script also differs: "
                       f"{'; '.join(extra)} ({b['code_cite']})", RunScale("the original's scripts"))
    return Verdict("supported", f"the scripts differ only in {stated} ({b['code_cite']})",
                   RunScale("the original's scripts"))


@rule
def ppl_range_normal(r: Results) -> Verdict:
    """003 calls 200-300 the normal validation PPL of a medium model on WikiText-2, to excuse model A's 216.
    Judged by a plain transformer of that size trained on the same data to its best epoch, over seeds: supported
    when its whole interval lies in 200-300; refuted when it lies wholly outside (a plain model of that size
    does better, or worse, so the range is not what such a model reaches); else inconclusive. The scale gate
    lets it stand only for a run of the original's size on WikiText-2. The original's own plain baseline is
    quoted beside it: one run, no interval."""
    p = "p2_training"
    v, lo, hi = r.interval(p, "ppl_plain")
    base, a = r.original("baseline_no_iit"), r.original("model_a")
    fig = (f"a plain transformer reaches validation PPL {ci(v, lo, hi, '.1f')} ({r(p, 'n_seeds')} seeds); the "
           f"original's own plain baseline reached {base['val_ppl']} after {base['epoch']} epochs against model A's "
           f"{a['val_ppl']} ({base['cite']}; one run)")
    if any(math.isnan(x) for x in (lo, hi)):
        return Verdict("inconclusive", fig + "; without an interval one run judges no range", run_part2(r, p))
    if 200 <= lo and hi <= 300:
        status = "supported"
    elif hi < 200 or lo > 300:
        status = "refuted"
    else:
        status = "inconclusive"
    return Verdict(status, fig, run_part2(r, p))


def _legal(r: Results, task: str, threshold: float, label: str) -> Verdict:
    p = "p3_legal_lora"
    v, lo, hi = (r(p, k) for k in (f"p3_{task}_lora", f"p3_{task}_low", f"p3_{task}_high"))
    return Verdict(against(lo, hi, threshold), f"{label} {ci(v, lo, hi)} against {threshold:.2f}; majority class "
                   f"{r(p, f'p3_{task}_majority'):.3f}, random {r(p, f'p3_{task}_random'):.3f}", run_part3(r))


@rule
def legal_jurisdiction_accuracy(r: Results) -> Verdict:
    return _legal(r, "jurisdiction", legal_plan.EXPECTED["jurisdiction"][0], "jurisdiction accuracy")


@rule
def legal_concept_accuracy(r: Results) -> Verdict:
    return _legal(r, "topic", legal_plan.EXPECTED["topic"][0], "topic accuracy")


@rule
def legal_loss_reduction(r: Results) -> Verdict:
    v, lo, hi = (r("p3_legal_lora", k) for k in ("p3_loss_reduction", "p3_loss_reduction_low",
                                                  "p3_loss_reduction_high"))
    return Verdict(against(lo, hi, legal_plan.LOSS_REDUCTION), f"validation-loss reduction {ci(v, lo, hi)} (t interval over seeds)",
                   run_part3(r))


PLAN_TASKS = ("jurisdiction", "topic")  # the plan's two accuracy criteria; cloze is the book's addition


@rule
def legal_beats_random(r: Results) -> Verdict:
    """Judged on the plan's tasks: supported when each beats random (every adapter's Holm p < 0.05, over test
    examples; the page glues the largest); refuted when one is
    significantly *below* random; not supported when none is worse but all point below; else inconclusive. The
    book's added cloze task is shown beside them, not judged."""
    p = "p3_legal_lora"
    parts, better, worse, below = [], [], [], []
    for t in PLAN_TASKS:
        d, lo, hi, pv = (r(p, f"p3_{t}_vs_random{s}") for s in ("", "_low", "_high", "_p_holm"))
        parts.append(f"{t} {ci(d, lo, hi)} (largest Holm p over the adapters {pv:.4f})")
        better.append(pv < legal_plan.P_VS_RANDOM and d > 0)
        worse.append(pv < legal_plan.P_VS_RANDOM and d < 0)
        below.append(d <= 0)
    status = ("supported" if all(better) else "refuted" if any(worse)
              else "not supported" if all(below) else "inconclusive")
    extra = ""
    if r.has(p, "p3_cloze_vs_random"):
        extra = f"; the book's added cloze task: {ci(*(r(p, f'p3_cloze_vs_random{s}') for s in ('', '_low', '_high')))}"
    return Verdict(status, "LoRA minus random, per task: " + "; ".join(parts) + extra, run_part3(r))


@rule
def legal_gain_over_base(r: Results) -> Verdict:
    p = "p3_legal_lora"
    d, lo, hi = (r(p, f"p3_jurisdiction_vs_base{s}") for s in ("", "_low", "_high"))
    lora, base = r(p, "p3_jurisdiction_lora"), r(p, "p3_jurisdiction_base")
    maj, rnd = r(p, "p3_jurisdiction_majority"), r(p, "p3_jurisdiction_random")
    topic, topic_maj = r(p, "p3_topic_lora"), r(p, "p3_topic_majority")
    where = "below" if base < rnd else "above"
    fairer = ""
    if r.has(p, "p3_jurisdiction_calibrated"):
        fairer = (f"; the fairer references: the calibrated zero-shot model {r(p, 'p3_jurisdiction_calibrated'):.3f}, "
                  f"a frozen-feature probe {r(p, 'p3_jurisdiction_probe'):.3f}")
    gain = legal_plan.GAIN_OVER_BASE
    return Verdict(against(lo, hi, gain), f"jurisdiction accuracy gain over the zero-shot base model {ci(d, lo, hi)} "
                   f"against +{gain:.2f}; the base model's {base:.3f} is {where} random ({rnd:.3f}), majority class "
                   f"{maj:.3f}: over the majority class LoRA ({lora:.3f}) gains {lora - maj:+.3f}, and on topic "
                   f"{topic - topic_maj:+.3f} ({topic:.3f} against {topic_maj:.3f}){fairer}", run_part3(r))


@rule
def legal_latency(r: Results) -> Verdict:
    ms, agree = r("p3_legal_lora", "p3_int8_p50_ms"), r("p3_legal_lora", "p3_int8_agreement")
    status = "supported" if ms < legal_plan.LATENCY_MS and agree >= legal_plan.INT8_AGREEMENT else "refuted"
    n = r("p3_legal_lora", "p3_int8_agreement_n") if r.has("p3_legal_lora", "p3_int8_agreement_n") else None
    return Verdict(status, f"int8 median latency {ms:.0f} ms on this book's CPU, one thread, same class as fp32 on "
                   f"{agree:.1%} of {f'{n} ' if n else ''}classification test examples (machine-dependent)",
                   run_part3(r))


@rule
def legal_deployment_size(r: Results) -> Verdict:
    """Arithmetic on the plan's own model: int8 stores one byte per parameter, whatever machine runs it."""
    plan = r.original("plan_model")
    int8_mb = plan["params"] / 1e6
    ours = r("p3_legal_lora", "p3_quantized_mb")
    return Verdict("supported" if int8_mb < legal_plan.SIZE_MB else "refuted",
                   f"{plan['name']} has {plan['params'] / 1e9:.2f}B parameters ({plan['cite']}): {int8_mb:,.0f} MB "
                   f"at int8 and {int8_mb / 2:,.0f} MB at 4 bits, against < {legal_plan.SIZE_MB} MB; this book's 135M model, "
                   f"quantized, is {ours:.0f} MB", RunScale("arithmetic on the plan's model"))


@rule
def lora_memory_reduction(r: Results) -> Verdict:
    """Arithmetic: the memory of weights at equal precision scales with the parameter count."""
    plan, big = r.original("plan_model"), r.original("seven_b_params")
    cut = 1 - plan["params"] / big["params"]
    return Verdict("supported" if cut >= legal_plan.MEMORY_CUT else "refuted",
                   f"{plan['name']} ({plan['params'] / 1e9:.2f}B) against the smallest 7B model ({big['params'] / 1e9:.2f}B, "
                   f"{big['cite']}): {cut:.1%} less memory at equal precision; a {legal_plan.MEMORY_CUT:.0%} cut needs the small model at a "
                   "lower precision than the large one", RunScale("arithmetic on parameter counts"))


# ---------------------------------------------------------------- the ledger

def load_claims(path: Path = CLAIMS) -> list[Claim]:
    entries = yaml.safe_load(Path(path).read_text())
    for e in entries:
        if "scale" not in e:
            raise LedgerError(f"claim {e.get('id')}: no scale (what model, data or training the claim is about)")
    claims = [Claim(**e) for e in entries]
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise LedgerError(f"duplicate claim ids in {path}")
    return claims


def headings(page: str) -> list[str]:
    """Section titles of a published page (Markdown headings of book/<page>.ipynb or .md)."""
    nb = BOOK / f"{page}.ipynb"
    if nb.exists():
        cells = json.loads(nb.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = (BOOK / f"{page}.md").read_text()
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.M)]


def anchor(section: str) -> str:
    """The id Sphinx gives a section of this title."""
    from docutils import nodes

    return nodes.make_id(section)


def check(claims: list[Claim]) -> None:
    """Every claim has a known source (in data/sources/), a rule or a reason, and an evidence section; raises LedgerError
    otherwise."""
    for c in claims:
        if c.source not in SOURCES:
            raise LedgerError(f"claim {c.id}: source {c.source!r} is not one of the five documents {SOURCES}")
        if not (SOURCE_DIR / c.source).exists():
            raise LedgerError(f"claim {c.id}: data/sources/{c.source} is missing")
        if c.rule is not None and c.rule not in RULES:
            raise LedgerError(f"claim {c.id}: no verdict rule {c.rule!r} in lab.ledger")
        if c.unreached is not None and c.unreached not in REASONS:
            raise LedgerError(f"claim {c.id}: no reason {c.unreached!r} in lab.ledger")
        if c.section not in headings(c.page):
            raise LedgerError(f"claim {c.id}: page {c.page} has no section {c.section!r}")


def evaluate(claims: list[Claim], results: Results | None = None):
    """One row per claim: its verdict and figure, computed now from the executed chapters."""
    import pandas as pd

    check(claims)
    results = results or Results()
    rows = []
    for c in claims:
        v = gate(c, c.read(results))
        rows.append({"id": c.id, "source": c.source, "claim": c.claim, "test": c.test, "verdict": v.status,
                     "figure": v.figure, "page": c.page, "section": c.section, "basis": basis(c, v)})
    return pd.DataFrame(rows).set_index("id")


def gate(claim: Claim, verdict: Verdict) -> Verdict:
    """The verdict, if the run it read meets the claim's scale or the claim holds at any scale; otherwise "not
    testable here", saying what ran and what the claim is about, with the run's figure kept for the reader."""
    if verdict.status == "not testable here":
        return verdict
    if claim.scale.independent:
        ran = f"ran {verdict.run.what}; " if verdict.run else ""
        return Verdict(verdict.status, f"{verdict.figure} ({ran}holds at any scale: {claim.scale.independent})",
                       verdict.run)
    if verdict.run is None:
        raise LedgerError(f"claim {claim.id}: rule {claim.rule} judged without saying which run it read")
    if claim.scale.met_by(verdict.run):
        return Verdict(verdict.status, f"{verdict.figure} (ran {verdict.run.what})", verdict.run)
    return Verdict("not testable here", f"ran {verdict.run.what}; the claim is about {claim.scale.about}. "
                   f"At this scale: {verdict.figure}", verdict.run)


BASES = {"any scale": "settled by arithmetic or by reading the original code, which holds at any scale",
         "run": "judged by a run at the claim's own scale (the originals' own logged runs among them)",
         "out of reach": "not testable here: they need models, data or training this book could not run"}


def basis(claim: Claim, verdict: Verdict) -> str:
    if verdict.status == "not testable here":
        return "out of reach"
    return "any scale" if claim.scale.independent else "run"


COLUMN_WIDTHS = {"id": 11, "source": 12, "claim": 18, "test": 14, "verdict": 8, "figure": 26, "finding": 30}
VERDICT_COLOURS = {"supported": "#e3f2e1", "refuted": "#f9e0de", "not supported": "#fbeedd", "inconclusive": "#eeeeee",
                   "not testable here": "#e4ecf7"}


def html_table(rows, columns: tuple[str, ...]) -> str:
    """Rows (dicts, or a DataFrame with its index as "id") as an HTML table whose last column links to the
    section holding the evidence. Raw HTML: the links are plain relative URLs within the built book, and the
    styles are inline so that the long figures wrap inside the page's column."""
    from html import escape

    if hasattr(rows, "iterrows"):
        rows = [{"id": i, **r} for i, r in rows.to_dict("index").items()]
    cell = "vertical-align:top; padding:4px 6px; overflow-wrap:break-word; border-bottom:1px solid #ddd"
    head = "".join(f'<th style="{cell}">{escape(c)}</th>' for c in (*columns, "evidence"))
    widths = [COLUMN_WIDTHS.get(c, 15) for c in columns] + [12]
    cols = "".join(f'<col style="width:{100 * w / sum(widths):.1f}%">' for w in widths)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            colour = f" background:{VERDICT_COLOURS[row[c]]};" if c == "verdict" else ""
            text = escape(str(row[c])).replace("_", "_<wbr>")  # file names and ids may break after "_"
            cells.append(f'<td style="{cell};{colour}">{text}</td>')
        link = f"{row['page']}.html#{anchor(row['section'])}"
        cells.append(f'<td style="{cell}"><a href="{escape(link)}">{escape(row["page"])}: '
                     f"{escape(row['section'])}</a></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return ('<div style="overflow-x:auto"><table class="claims-ledger" style="font-size:0.78em; '
            f'border-collapse:collapse; width:100%; table-layout:fixed"><colgroup>{cols}</colgroup><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def counts(ledger) -> dict[str, int]:
    return {v: int((ledger.verdict == v).sum()) for v in VERDICTS}


def headline(ledger, ids=("memorization-threshold-70b", "small-models-zero-memorization",
                          "memorization-protocol-threshold", "collate-fake-ppl", "iit-memory-functional",
                          "projection-best-validation-ppl", "legal-jurisdiction-accuracy", "legal-size")) -> str:
    """An HTML list for the landing page: the claims that carry each study, with their verdicts. HTML, not
    Markdown, because a glue pasted into another page of the book renders text, HTML or images only."""
    from html import escape

    items = []
    for cid in ids:
        row = ledger.loc[cid]
        items.append(f"<li><em>{escape(row.claim)}</em> ({escape(row.source)}): <strong>{escape(row.verdict)}"
                     f"</strong>; {escape(row.figure)}.</li>")
    return f'<ul class="ledger-headline">{"".join(items)}</ul>'


def landing(ledger) -> str:
    """The landing page's summary, in sentences: what fell or stood by arithmetic and code reading (any scale),
    what the runs judged at the claim's own scale, and what needs runs this book could not do. HTML, as
    :func:`headline`."""
    from html import escape

    paragraphs = []
    for key, text in BASES.items():
        rows = ledger[ledger.basis == key]
        if rows.empty:
            paragraphs.append(f"<p>No claim is {escape(text)}.</p>")
            continue
        by = [(v, rows[rows.verdict == v]) for v in VERDICTS if (rows.verdict == v).any()]
        if key == "out of reach":
            sources = ", ".join(f"{n} from {escape(s)}" for s, n in rows.source.value_counts().sort_index().items())
            paragraphs.append(f"<p><strong>{len(rows)} claims are {escape(text)}</strong> ({sources}); each row of "
                              "the ledger says what ran and what the claim needs.</p>")
            continue
        listed = "; ".join(f"{len(sel)} {escape(v)} (" + "; ".join(f"<em>{escape(c.rstrip('.'))}</em>"
                                                                for c in sel.claim) + ")" for v, sel in by)
        paragraphs.append(f"<p><strong>{len(rows)} claims are {escape(text)}</strong>. {listed}.</p>")
    return "".join(paragraphs)


def shortfalls(r: Results | None = None) -> list[dict]:
    """What did not work in the book's own runs (beyond the claims it refutes), each from glued values."""
    r = r or Results()
    p3, p2 = "p3_legal_lora", "p2_collate_postmortem"
    lost = [t for t in ("jurisdiction", "topic") if r(p3, f"p3_{t}_lora") < r(p3, f"p3_{t}_tfidf")]
    return [
        {"finding": "A LoRA-tuned language model loses to a bag-of-words classifier on "
                    + (" and ".join(lost) if lost else "neither legal task (kept here to show the comparison)"),
         "figure": f"jurisdiction accuracy: LoRA {r(p3, 'p3_jurisdiction_lora'):.3f}, TF-IDF + logistic regression "
                   f"{r(p3, 'p3_jurisdiction_tfidf'):.3f}, majority class {r(p3, 'p3_jurisdiction_majority'):.3f}; "
                   f"topic: LoRA {r(p3, 'p3_topic_lora'):.3f}, below the majority class "
                   f"{r(p3, 'p3_topic_majority'):.3f}, TF-IDF {r(p3, 'p3_topic_tfidf'):.3f}. "
                   + (r(p3, "p3_stopping_sentence") if r.has(p3, "p3_stopping_sentence") else
                      f"({r(p3, 'p3_steps')} LoRA steps per seed, not the plan's 2,000: an under-trained adapter, "
                      "not a negative finding about LoRA)"),
         "page": p3, "section": "Results on the test split"},
        {"finding": "The fine-tuned model does not recall statute wording (cloze)",
         "figure": f"cloze exact match {r(p3, 'p3_cloze_lora'):.3f} for LoRA, {r(p3, 'p3_cloze_majority'):.3f} for "
                   "the majority answer",
         "page": p3, "section": "Results on the test split"},
        {"finding": "The missing causal mask was not exploited at this scale, so this run cannot show its harm",
         "figure": r(p2, "leak_sentence"), "page": p2, "section": "Four set-ups, trained the same way"},
        {"finding": "Expectations of the Infinito document, judged",
         "figure": f"{r('p2_expectations', 'met')} of {r('p2_expectations', 'judged')} projections met",
         "page": "p2_expectations", "section": "Expectations versus measurements"},
    ]
