"""Part I's designs and run step: what p1_attractors, p1_experiments and p1_analysis run, each run once.

``ProbeDesign`` (p1_attractors: each attractor continued once, unperturbed) and ``GridDesign`` (p1_experiments and
p1_analysis, which share the grid: the A-E actions at their magnitudes over seeds, and the original's own setting,
its seed-faithful actions on its text sent as chat messages and sampled at its temperature) declare the pages'
parameters. ``Backend`` names a model and how it is reached. The run step:

- ``attractor_records``: one attractor's records of a grid on one backend, one row per (seed, action, magnitude)
  with every observable. Its key holds the grid, the backend as asked for, the measuring code it declares, and the
  attractor's text itself (read through ``lab.steps``), so that editing one attractor's text recomputes only that
  attractor's steps, and a registry model counts by its pinned sha256.
"""
from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from .. import models, steps
from ..models import assets
from ..publish.design import design
from ..publish.params import ParameterError
from . import actions, attractors, experiments, summary
from .experiments import Grid

ALL_ATTRACTORS = ["hamlet", "tale_of_two_cities", "us_constitution_preamble", "gettysburg_address", "genesis_1_kjv",
                  "don_quijote_es", "lorem_ipsum", "counting", "alphabet", "hello_world_c"]
MAGNITUDES = {"A": [1, 2, 4], "B": [1, 2, 4], "C": [2.0, 8.0, 32.0], "D": [1.0, 2.0, 4.0], "E": [1, 2, 4],
              "A_seed": [], "B_seed": [], "C_seed": [], "D_seed": [], "E_seed": []}
# The original's experiments: one user message through a chat API, T = 0.7, top_p 1, max_tokens 150
# (ebaenamar/llm-controlled-dynamics@8d5dda35:src/experiments/quijote_experiments.py)
ORIGINAL_TEMPERATURE = 0.7
ORIGINAL_MAX_TOKENS = 150


@dataclass(frozen=True)
class Backend:
    """A model and how it is reached: ``local`` (transformers, white-box) or ``openai`` (an OpenAI-compatible API
    whose token-level actions use a local ``tokenizer``)."""
    kind: Literal["local", "openai"]
    model: str
    base_url: str = ""
    tokenizer: str = ""
    device: str = "auto"
    dtype: str = "float32"
    budget: float = 1.0


@design
class PartOneDesign:
    """What Part I's pages share: the models, how they are reached, the texts and the decoding."""
    backend: Literal["local", "openai"] = Field("local", description="local (transformers, white-box) or openai (any "
                                                "OpenAI-compatible API)")
    model: str = Field("smollm2-135m", description="registry model, local HF directory or .gguf file, Hugging Face "
                       "hub id (org/name[@revision]), or the API's model name")
    extra_models: list[str] = Field(default_factory=lambda: ["gemma3-270m"], description="further local models run "
                                    "the same way")
    base_url: str = Field("", description="API base URL; '' means OpenRouter (needs OPENROUTER_API_KEY)")
    tokenizer: str = Field("", description="local model whose tokenizer an API model's actions use (empty: the model)")
    attractors: list[str] = Field(default_factory=lambda: list(ALL_ATTRACTORS), description="attractor texts "
                                  "(data/attractors)")
    max_new_tokens: int = Field(32, ge=1, description="tokens generated per condition (greedy)")
    prefix_tokens: int = Field(32, ge=1, description="prompt tokens taken from each attractor")
    budget: float = Field(1.0, ge=0, description="API spending cap in US dollars (refuses the next call rather "
                          "than overspend)")
    batch_size: int = Field(64, ge=1, description="conditions per batched generation (lower it on a CUDA "
                            "out-of-memory error)")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="where the models run (auto: CUDA "
                                                          "where present)")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="the weights' dtype (bfloat16: "
                                                             "half the memory; an 8B model fits 24 GB)")
    seed: int = Field(0, description="seed of the intervals' resampling")

    def check_here(self) -> None:
        check(self)

    def backends(self) -> list[Backend]:
        first = Backend(self.backend, self.model, self.base_url, self.tokenizer, self.device, self.dtype, self.budget)
        return [first] + [Backend("local", name, device=self.device, dtype=self.dtype) for name in self.extra_models]


@design
class ProbeDesign(PartOneDesign):
    """p1_attractors: every attractor continued once, unperturbed."""

    def grid(self) -> Grid:
        return Grid(tuple(self.attractors), {}, (0,), self.max_new_tokens, self.prefix_tokens, 0.0, self.batch_size)


@design
class GridDesign(PartOneDesign):
    """p1_experiments and p1_analysis: the A-E grid, and the original's own setting."""
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="seeds of the perturbation draws")
    magnitudes: dict[str, list[int | float]] = Field(default_factory=lambda: dict(MAGNITUDES), description=
                                                     "{action: [magnitude, ...]}; seed-faithful actions take []")
    chat_seeds: list[int] = Field(default_factory=lambda: list(range(10)), description="samples of the original's "
                                  "setting (its text, its seed-faithful actions, chat messages), each at "
                                  "chat_temperature; [] runs none")
    chat_temperature: float = Field(ORIGINAL_TEMPERATURE, ge=0, description="sampling temperature of the original's "
                                    "setting (the original's: 0.7)")
    chat_max_new_tokens: int = Field(ORIGINAL_MAX_TOKENS, ge=1, description="tokens sampled per chat answer (the "
                                     "original's max_tokens: 150)")

    def check_here(self) -> None:
        check(self)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ParameterError("give distinct seeds")
        if len(set(self.chat_seeds)) != len(self.chat_seeds):
            raise ParameterError("give distinct chat_seeds")
        problem = actions.check_magnitudes(self.magnitudes) if self.magnitudes else None
        if problem:
            raise ParameterError(f"parameter 'magnitudes': {problem}")

    def grid(self) -> Grid:
        return Grid(tuple(self.attractors), dict(self.magnitudes), tuple(self.seeds), self.max_new_tokens,
                    self.prefix_tokens, 0.0, self.batch_size)

    def chat_grid(self) -> Grid | None:
        """The original's setting: its one text, its five seed-faithful actions, each prompt one chat message,
        sampled (None when chat_seeds is empty)."""
        if not self.chat_seeds:
            return None
        return Grid((summary.ORIGINAL_TEXT,), {a: [] for a in summary.CLAIMED_ORDER}, tuple(self.chat_seeds),
                    self.chat_max_new_tokens, self.prefix_tokens, self.chat_temperature, self.batch_size, chat=True)


def check(chosen) -> None:
    """Every check that needs no model: attractor names, the API key, the local models and the device."""
    for name, problem in (("attractors", attractors.check_names(list(chosen.attractors))),
                          ("device", models.device_problem(chosen.device))):
        if problem:
            raise ParameterError(f"parameter {name!r}: {problem}")
    if chosen.backend == "openai":
        if not chosen.base_url and not os.environ.get("OPENROUTER_API_KEY"):
            raise ParameterError("backend 'openai' with no base_url uses OpenRouter and needs OPENROUTER_API_KEY "
                                 "in the environment (or give base_url for a local server)")
        local = [chosen.tokenizer or chosen.model] + list(chosen.extra_models)
    else:
        local = [chosen.model] + list(chosen.extra_models)
    for name in local:
        problem = models.model_problem(name)
        if problem:
            raise ParameterError(f"parameter model/tokenizer: {problem}")


@functools.lru_cache(maxsize=4)
def open_backend(backend: Backend) -> tuple[Any, Any]:
    """(client, vocabulary) of a backend, opened once per process: a local model is its own vocabulary; an API
    client counts and edits tokens with a local tokenizer."""
    import torch

    from .api import OpenAICompatible, Pricing
    from .backends import LocalLM, LocalTokenizer

    # One thread unless told otherwise: on a shared 2-core machine two threads that contend with other
    # processes made a forward pass 20x slower (measured: 2.7 s vs 0.14 s for SmolLM2 on 4 tokens).
    torch.set_num_threads(int(os.environ.get("LAB_TORCH_THREADS", "1")))
    if backend.kind == "openai":
        vocab = LocalTokenizer.load(backend.tokenizer or backend.model)  # the tokenizer alone, no weights
        return OpenAICompatible(backend.model, base_url=backend.base_url or None, budget_usd=backend.budget,
                                tokenizer=vocab, pricing=Pricing()), vocab
    lm = LocalLM.load(backend.model, device=backend.device, dtype=backend.dtype)
    return lm, lm


@dataclass(frozen=True)
class AttractorRecords:
    """One attractor's records of a grid on one backend (a missing value is None), and what computed them."""
    model: str
    attractor: str
    backend_identity: str  # the model's content hash and how it ran (or an API's reported identity)
    loaded: models.Loaded | None  # a local model's provenance; None behind an API
    rows: list[dict[str, Any]]
    seconds: float
    not_run: str = ""  # why the grid could not run on this backend (a chat grid on a base model)


def _plain(value):
    """NaN as None, as a committed result holds it: a result read back equals the one computed."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _chat_refused(backend: Backend, client) -> str:
    if backend.kind != "local":
        return "an API's chat format is its own chat endpoint, which this client does not use"
    if not client.has_chat_template:
        return f"{backend.model} has no chat template (a base model)"
    return ""


MEASURING = ["lab.dynamics.experiments", "lab.dynamics.actions", "lab.dynamics.observables",
             "lab.dynamics.backends", "lab.dynamics.api", attractors.load, attractors._sources, AttractorRecords,
             attractors._text, Backend, open_backend, _plain, _chat_refused]


def model_identity(backend: Backend) -> str:
    """What a step's records depend on in the model, as content: a registry model's pinned sha256, a hub model's
    resolved commit, a local model's files (hashed), or an API's base URL and model name (its answers are cached
    under the identity it reports, ``lab.dynamics.api``)."""
    if backend.kind != "local":
        return f"api:{backend.base_url or 'openrouter'}:{backend.model}"
    if backend.model in assets.ASSETS:
        return "asset:" + assets.get(backend.model).payload_sha256
    source = models.source(backend.model)
    if source.kind == "hub":
        return f"hub:{source.repo_id}@{source.revision}"
    return "files:" + models.files_sha256(source.path)


@steps.step(depends=MEASURING)
def attractor_records(backend: Backend, grid: Grid, model_content: str) -> AttractorRecords:
    """The records of a one-attractor grid on one backend; ``model_content`` is the model's content
    (:func:`model_identity`), so that other weights behind the same name never reuse a record."""
    t0 = time.perf_counter()
    if len(grid.attractors) != 1:
        raise ValueError(f"a step runs one attractor, not {len(grid.attractors)}")
    client, vocab = open_backend(backend)
    identity = experiments.backend_identity(client, vocab)
    loaded = models.LOADED.get(backend.model) if backend.kind == "local" else None
    why = _chat_refused(backend, client) if grid.chat else ""
    if why:
        return AttractorRecords(backend.model, grid.attractors[0], identity, loaded, [], time.perf_counter() - t0, why)
    rows = experiments.run(client, grid, vocab=vocab, progress=False)
    return AttractorRecords(backend.model, grid.attractors[0], identity, loaded,
                            [{k: _plain(v) for k, v in r.items()} for r in rows], time.perf_counter() - t0)



def run_grid(backend: Backend, grid: Grid) -> list[AttractorRecords]:
    """The grid on one backend: one run step per attractor."""
    content = model_identity(backend)
    return [attractor_records(backend, Grid((name,), grid.magnitudes, grid.seeds, grid.max_new_tokens,
                                            grid.prefix_tokens, grid.temperature, grid.batch_size, grid.chat),
                              content)
            for name in grid.attractors]


def records(results: list[AttractorRecords]) -> list[dict]:
    """The rows of a grid's steps, in attractor order (the form ``experiments.frame`` and the comparisons read)."""
    return [row for result in results for row in result.rows]


def chat_not_run(grid: Grid | None, attractors_run: list[str], results: list[AttractorRecords] = ()) -> str | None:
    """Why the original's setting was not run (on this backend), or None when it was."""
    if grid is None:
        return "chat_seeds is empty"
    if summary.ORIGINAL_TEXT not in attractors_run:
        return f"the original's text ({summary.ORIGINAL_TEXT}) is not among the attractors run"
    return next((r.not_run for r in results if r.not_run), None)


def loaded_table(results: dict[str, list[AttractorRecords]]):
    """The provenance of the weights the steps loaded: hub commit, hash of the files, device, dtype."""
    import pandas as pd
    from dataclasses import asdict

    rows = {name: asdict(rs[0].loaded) for name, rs in results.items() if rs and rs[0].loaded is not None}
    return pd.DataFrame(rows.values(), index=pd.Index(list(rows), name="model"))
