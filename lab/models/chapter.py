"""Chapter "Models and assets": parameter counts, greedy continuations and perplexity of registry models.

``ModelsDesign`` declares the page's parameters; ``measure_model`` is its one run step (per model: its counts, its
greedy continuations of the openings, its log-probabilities along the passage), and the other functions show what
the steps returned."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from .. import models, steps
from ..publish.design import design
from ..publish.params import ParameterError
from . import assets

OPENINGS = ["It was the best of times, it was the worst of times,", "Four score and seven years ago our fathers",
            "In the beginning God created"]
CORPUS = "shakespeare-milton"


@design
class ModelsDesign:
    models: list[str] = Field(default_factory=lambda: ["smollm2-135m", "gemma3-270m"],
                              description="registry model names, local model paths or Hugging Face hub ids")
    openings: list[str] = Field(default_factory=lambda: list(OPENINGS),
                                description="public-domain openings to continue")
    max_new_tokens: int = Field(24, ge=1, description="tokens generated per opening")
    passage_work: str = Field("hamlet_gut.txt", description="file of the substitute corpus the passage comes from")
    passage_anchor: str = Field("To be, or not to be", description="text the passage starts at")
    passage_chars: int = Field(1500, ge=50, description="characters of the passage")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: CUDA where present")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="the weights' dtype")
    seed: int = Field(0, description="seed of every random number generator (greedy decoding draws none)")

    def check_here(self) -> None:
        """What this machine must offer the run (its models loadable, its device present), checked by ``start``
        before any work; a profile is validated without it (a gpu profile is a valid design on a CPU machine)."""
        problem = (next(filter(None, map(models.model_problem, self.models)), None) if self.models
                   else "give at least one model") or models.device_problem(self.device)
        if problem:
            raise ParameterError(problem)


def asset_table():
    rows = []
    for name, a in assets.ASSETS.items():
        rows.append({"asset": name, "status": assets.status(name), "licence": a.licence,
                     "from": ", ".join(d.requirement for d in a.distributions[:1]),
                     "description": a.description})
    return pd.DataFrame(rows).set_index("asset")


def passage(work: str, anchor: str, chars: int) -> str:
    """A fixed excerpt of the substitute corpus: ``chars`` characters from the first ``anchor``."""
    steps.asset(CORPUS)  # the corpus enters the key of whatever reads the passage
    files = {p.name: p for p in assets.corpus_files(CORPUS)}
    if work not in files:
        raise KeyError(f"no work {work!r} in the corpus; works: {', '.join(sorted(files))}")
    text = files[work].read_text(encoding="latin-1")
    start = text.find(anchor)
    if start < 0:
        raise ValueError(f"anchor {anchor!r} does not occur in {work}")
    return text[start:start + chars]


@dataclass(frozen=True)
class ModelMeasures:
    """What the page measures of one model: the weights it loaded, its parameter counts, a greedy continuation
    per opening, and its log-probabilities along the passage."""
    loaded: models.Loaded
    counts: dict[str, int | bool]
    continuations: list[str]
    passage: models.Scored


@steps.step(depends=[models.load, models.parameter_counts, models.greedy, models.score, models.Scored, passage])
def measure_model(model: str, openings: list[str], max_new_tokens: int, passage_work: str, passage_anchor: str,
                  passage_chars: int, device: str, dtype: str) -> ModelMeasures:
    if model in assets.ASSETS:  # a registry model counts by its pinned sha256; a local or hub one by its name
        steps.asset(model)
    lm, tok = models.load(model, dtype=dtype, device=device)
    return ModelMeasures(loaded=models.LOADED[model], counts=models.parameter_counts(lm),
                         continuations=[models.greedy(lm, tok, o, max_new_tokens) for o in openings],
                         passage=models.score(lm, tok, passage(passage_work, passage_anchor, passage_chars)))


def parameter_table(measures: dict[str, ModelMeasures]) -> pd.DataFrame:
    return pd.DataFrame({name: m.counts for name, m in measures.items()}).T


def continuation_table(measures: dict[str, ModelMeasures], openings: list[str]) -> pd.DataFrame:
    rows = [{"model": name, "opening": opening, "greedy continuation": text}
            for name, m in measures.items() for opening, text in zip(openings, m.continuations)]
    return pd.DataFrame(rows).set_index(["model", "opening"])


def perplexity_table(scores: dict[str, models.Scored], text: str):
    gpt2_tokens = len(assets.gpt2_encoding().encode(text))
    words = len(text.split())
    rows = [{"tokenizer": "GPT-2 BPE (r50k_base)", "tokens": gpt2_tokens, "tokens per word": gpt2_tokens / words}]
    for name, s in scores.items():
        rows.append({"tokenizer": name, "tokens": len(s.tokens), "tokens per word": len(s.tokens) / words,
                     "perplexity per token": s.ppl_token, "perplexity per word": s.ppl_word,
                     "bits per byte": s.bits_per_byte})
    return pd.DataFrame(rows).set_index("tokenizer").round(3)


def logprob_figure(scores: dict[str, models.Scored]):
    fig = go.Figure()
    for name, s in scores.items():
        fig.add_trace(go.Scatter(
            x=list(range(1, len(s.logprobs) + 1)), y=[round(v, 4) for v in s.logprobs], mode="lines", name=name,
            text=s.tokens[1:], hovertemplate="token %{x}: %{text}<br>log p = %{y:.2f}<extra>" + name + "</extra>"))
    fig.update_layout(xaxis_title="token position (model's own tokenizer)", yaxis_title="log p(token | prefix)",
                      template="plotly_white", height=380, margin=dict(l=50, r=20, t=30, b=40))
    return fig


def loaded_table(measures: dict[str, ModelMeasures]) -> pd.DataFrame:
    """The provenance of the weights each step loaded: hub commit, hash of the files, device, dtype."""
    return pd.DataFrame([asdict(m.loaded) for m in measures.values()]).set_index("name")
