"""Part I notebooks: parameters, backend opening and the figures (the original's six, from our runs)."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from IPython.display import Markdown, display

from .. import models
from ..models import assets
from ..publish.params import Param, ParameterError, Spec
from . import actions as act
from . import attractors as attr
from . import experiments as ex
from . import summary
from .api import OpenAICompatible, Pricing
from .backends import LocalLM
# Part I's pages import this module and no other of the part: what they call elsewhere is named here.
from .comparisons import compare  # noqa: F401
from .experiments import Grid, frame, run, unavailable  # noqa: F401
from .experiments_page import OBSERVED, all_rankings, comparison_figures  # noqa: F401
from .observables import ORIGINAL_THRESHOLD
from .summary import ranking_by_change, ranking_figures, slug  # noqa: F401
from .summary import robustness as original_robustness  # noqa: F401  (the original's score of a model)

SPEC = Spec(
    Param("backend", (str,), "'local' (transformers, white-box) or 'openai' (any OpenAI-compatible API)",
          choices=("local", "openai")),
    Param("model", (str,), "registry model, local HF directory / .gguf file, Hugging Face hub id "
          "(org/name[@revision]), or the API's model name"),
    Param("extra_models", (list,), "further local models run the same way (e.g. gemma3-270m)", item_types=(str,)),
    Param("base_url", (str,), "API base URL; '' means OpenRouter (needs OPENROUTER_API_KEY)"),
    Param("tokenizer", (str,), "local model whose tokenizer the API actions use; '' = model"),
    Param("attractors", (list,), "attractor texts (data/attractors)", item_types=(str,), check=attr.check_names),
    Param("seeds", (list,), "seeds of the perturbation draws", item_types=(int,),
          check=lambda s: None if s and len(set(s)) == len(s) else "give distinct seeds"),
    Param("magnitudes", (dict,), "{action: [magnitude, ...]}; seed-faithful actions take []; {} = controls only",
          check=lambda m: None if m == {} else act.check_magnitudes(m)),
    Param("max_new_tokens", (int,), "tokens generated per condition", minimum=1),
    Param("prefix_tokens", (int,), "prompt tokens taken from each attractor", minimum=1),
    Param("budget", (float,), "API spending cap in US dollars (refuses the next call rather than overspend)",
          minimum=0),
    Param("batch_size", (int,), "conditions per batched generation (lower it on a CUDA out-of-memory error)",
          minimum=1),
    Param("device", (str,), "where the model runs: auto (CUDA where present), cpu, cuda or mps",
          choices=models.DEVICES, check=models.device_problem),
    Param("dtype", (str,), "weights' dtype: float32, bfloat16 (half the memory; an 8B model fits 24 GB) or float16",
          choices=models.DTYPES),
)


def check(params: dict) -> None:
    """Cross-parameter checks, before any model is loaded or any request sent."""
    if params["backend"] == "openai":
        if not params["base_url"] and not os.environ.get("OPENROUTER_API_KEY"):
            raise ParameterError("backend 'openai' with no base_url uses OpenRouter and needs OPENROUTER_API_KEY "
                                 "in the environment (or give base_url for a local server)")
        local = [params["tokenizer"] or params["model"]] + params["extra_models"]
    else:
        local = [params["model"]] + params["extra_models"]
    for name in local:
        problem = models.model_problem(name)
        if problem:
            raise ParameterError(f"parameter model/tokenizer: {problem}")


def open_backends(params: dict) -> dict:
    """{label: (backend, vocabulary)} for the model and the extra models."""
    import torch

    # One thread unless told otherwise: on a shared 2-core machine two threads that contend with other
    # processes made a forward pass 20x slower (measured: 2.7 s vs 0.14 s for SmolLM2 on 4 tokens).
    torch.set_num_threads(int(os.environ.get("LAB_TORCH_THREADS", "1")))
    out = {}
    if params["backend"] == "openai":
        vocab = LocalLM.load(params["tokenizer"] or params["model"])  # a tokenizer only: the CPU in fp32
        api = OpenAICompatible(params["model"], base_url=params["base_url"] or None, budget_usd=params["budget"],
                               tokenizer=vocab, pricing=Pricing())
        out[params["model"]] = (api, vocab)
    else:
        lm = LocalLM.load(params["model"], device=params["device"], dtype=params["dtype"])
        out[params["model"]] = (lm, lm)
    for name in params["extra_models"]:
        lm = LocalLM.load(name, device=params["device"], dtype=params["dtype"])
        out[name] = (lm, lm)
    return out


def grid(params: dict) -> ex.Grid:
    return ex.Grid(tuple(params["attractors"]), params["magnitudes"], tuple(params["seeds"]),
                   params["max_new_tokens"], params["prefix_tokens"], 0.0, params["batch_size"])


def checkpoint_dir():
    return assets.cache_root() / "dynamics-runs"


def run_all(params: dict, backends: dict) -> dict:
    """{model: records} for every backend, checkpointed (the analysis notebook re-reads the same runs)."""
    g = grid(params)
    with models.explain_oom("running the A-E grid"):
        return {name: ex.run(b, g, checkpoint_dir=checkpoint_dir(), vocab=v) for name, (b, v) in backends.items()}


def run_chat(params: dict, backends: dict) -> tuple[dict, dict]:
    """The original's prompt format, undone in every other run: its seed-faithful actions on its own text
    (``summary.ORIGINAL_TEXT``), each prompt sent as one user message through the model's chat template.
    Returns ({model: frame}, {model: why it was not run}); checkpointed like the main grid."""
    g = ex.Grid((summary.ORIGINAL_TEXT,), {a: [] for a in summary.CLAIMED_ORDER}, tuple(params["seeds"]),
                params["max_new_tokens"], params["prefix_tokens"], 0.0, params["batch_size"], chat=True)
    frames, why = {}, {}
    for name, (backend, _vocab) in backends.items():
        if not hasattr(backend, "teacher_forced"):
            why[name] = "an API's chat format is its own chat endpoint, which this client does not use"
        elif not backend.has_chat_template:
            why[name] = f"{name} has no chat template (a base model)"
        else:
            with models.explain_oom("running the chat-format grid"):
                frames[name] = ex.frame(ex.run(backend, g, checkpoint_dir=checkpoint_dir(), progress=False))
    return frames, why


def label(action: str, magnitude) -> str:
    return action if magnitude in (None, "-") or magnitude != magnitude else f"{action} {magnitude:g}"


# ------------------------------------------------------------------ the run record of an API backend

def backend_records(backends: dict, records: dict | None = None) -> dict:
    """{label: record} for each API backend: endpoint, capabilities, reported identity, server quirks
    worked around, requests and cost, and the observables and actions it could not measure (with why).
    Local backends need no record (everything is measured); they give none."""
    out = {}
    for name, (backend, _vocab) in backends.items():
        if not hasattr(backend, "record"):
            continue
        rec = backend.record()
        if records is not None and name in records:
            rec["unavailable observables"] = ex.unavailable_observables(ex.frame(records[name]))
            rec["unavailable actions"] = {r["action"]: r["unavailable"] for r in ex.unavailable(records[name])}
        out[name] = rec
    return out


def show_backend_records(backends: dict, records: dict | None = None) -> None:
    """Print each API backend's record in the notebook, and keep it in the output's metadata
    (``lab_backend``) where tools read it; nothing for local backends."""
    for name, rec in backend_records(backends, records).items():
        lines = [f"**Backend record: {name}**", ""]
        lines += [f"- {k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
                  for k, v in rec.items()]
        display(Markdown("\n".join(lines)), metadata={"lab_backend": {name: rec}})


# ------------------------------------------------------------------ figures

def _labelled(df):
    df = df.copy()
    df["condition"] = [label(a, m) for a, m in zip(df.action, df.magnitude)]
    return df


def _unavailable_note(fig, why: str):
    """Say on the figure itself that its quantity could not be measured, and why (no bars are drawn)."""
    fig.add_annotation(text=f"unavailable: {why}", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                       font=dict(size=14))
    return fig


def fig_delta(cmp, observable: str, title: str):
    """Mean perturbed - control difference per condition with its bootstrap 95% interval."""
    d = _labelled(cmp[cmp.observable == observable])
    if "unavailable" in d and len(d) and d["unavailable"].notna().all():
        fig = go.Figure()
        fig.update_layout(title=title, template="plotly_white", height=380, margin=dict(l=50, r=20, t=50, b=40))
        return _unavailable_note(fig, d["unavailable"].iloc[0])
    err = dict(type="data", symmetric=False, array=(d.ci_high - d.mean_difference).round(5).tolist(),
               arrayminus=(d.mean_difference - d.ci_low).round(5).tolist())
    fig = go.Figure(go.Bar(x=d.condition.tolist(), y=d.mean_difference.round(5).tolist(), error_y=err,
                           hovertemplate="%{x}: %{y:.3g}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="action and magnitude", yaxis_title=f"Δ {observable}",
                      template="plotly_white", height=380, margin=dict(l=50, r=20, t=50, b=40))
    return fig


def fig_kl_comparison(df):
    """The exact KL of next-token distributions beside the original word-count "KL", per condition."""
    d = _labelled(df[df.action != "control"])
    control = df[df.action == "control"].set_index("attractor").original_word_kl
    d["word_kl_delta"] = d.original_word_kl - d.attractor.map(control)
    means = d.groupby("condition", sort=False)[["kl_mean", "word_kl_delta"]].mean().round(5)
    fig = go.Figure([go.Bar(name="KL(control‖perturbed), next-token, nats", x=means.index.tolist(),
                            y=means.kl_mean.tolist()),
                     go.Bar(name="original word-count 'KL', Δ vs control", x=means.index.tolist(),
                            y=means.word_kl_delta.tolist())])
    fig.update_layout(barmode="group", template="plotly_white", height=380, yaxis_title="value",
                      margin=dict(l=50, r=20, t=30, b=40), legend=dict(orientation="h", y=1.1))
    missing = ex.unavailable_observables(df)
    if "kl_mean" in missing:
        _unavailable_note(fig, f"next-token KL: {missing['kl_mean']}")
    return fig


def fig_kl_steps(df, actions=("A", "B", "C", "D", "E")):
    """KL along the decoding steps for the strongest magnitude of each action, averaged over attractors and
    seeds. Rows have different numbers of steps through an API (its KL stops at the divergence point):
    each step is averaged over the rows that reach it (``experiments.mean_per_step``)."""
    fig = go.Figure()
    for action in actions:
        sub = df[df.action == action]
        if len(sub):
            top = sub[sub.magnitude == sub.magnitude.max()]
            means, _rows = ex.mean_per_step(top.kl_steps.tolist())
            if means:
                fig.add_trace(go.Scatter(y=np.round(means, 5).tolist(), mode="lines",
                                         name=label(action, top.magnitude.iloc[0])))
    fig.update_layout(template="plotly_white", height=360, xaxis_title="decoding step", yaxis_title="KL, nats")
    missing = ex.unavailable_observables(df)
    if "kl_mean" in missing:
        _unavailable_note(fig, f"next-token KL: {missing['kl_mean']}")
    return fig


def fig_heatmap(df, observable: str, delta: bool, title: str):
    d = _labelled(df)
    control = d[d.action == "control"].set_index("attractor")[observable]
    d = d[d.action != "control"]
    values = d[observable] - d.attractor.map(control) if delta else d[observable]
    table = d.assign(v=values).pivot_table(index="condition", columns="attractor", values="v", aggfunc="mean",
                                           sort=False)
    fig = go.Figure(go.Heatmap(z=table.round(4).values.tolist(), x=table.columns.tolist(), y=table.index.tolist(),
                               colorscale="RdBu_r", zmid=0 if delta else None))
    fig.update_layout(title=title, template="plotly_white", height=520, margin=dict(l=90, r=20, t=50, b=80))
    missing = ex.unavailable_observables(df)
    if observable in missing:
        _unavailable_note(fig, missing[observable])
    return fig


def fig_control_vs_modified(df, observable: str = "true_prob_mean"):
    d = _labelled(df)
    control = d[d.action == "control"].set_index("attractor")[observable]
    d = d[d.action != "control"].groupby(["action", "condition", "attractor"], sort=False)[observable].mean()
    d = d.reset_index()
    d["control"] = d.attractor.map(control).round(5)
    d[observable] = d[observable].round(5)
    fig = px.scatter(d, x="control", y=observable, color="action", hover_data=["condition", "attractor"],
                     template="plotly_white", height=420)
    missing = ex.unavailable_observables(df)
    if observable in missing:
        fig.update_layout(xaxis_title=f"control {observable}", yaxis_title=f"perturbed {observable}",
                          margin=dict(l=50, r=20, t=30, b=40))
        return _unavailable_note(fig, missing[observable])
    lim = [0, float(max(d.control.max(), d[observable].max()) * 1.05 or 1)]
    fig.add_shape(type="line", x0=lim[0], y0=lim[0], x1=lim[1], y1=lim[1], line=dict(dash="dot", color="grey"))
    fig.update_layout(xaxis_title=f"control {observable}", yaxis_title=f"perturbed {observable}",
                      margin=dict(l=50, r=20, t=30, b=40))
    return fig


def robustness_by_attractor(df):
    """Per attractor: 1 - mean edit distance / generated length over all perturbed runs (1 = unmoved)."""
    d = df[df.action != "control"]
    r = 1 - (d.edit_distance / d.generated_tokens.clip(lower=1)).clip(upper=1)
    return r.groupby(d.attractor).mean().sort_values(ascending=False).round(4)


def fig_robustness(ranking):
    fig = go.Figure(go.Bar(x=ranking.index.tolist(), y=ranking.values.tolist()))
    fig.update_layout(template="plotly_white", height=360, yaxis_title="robustness (1 = continuation unchanged)",
                      margin=dict(l=50, r=20, t=30, b=80))
    return fig


def original_vs_actual(df):
    """The control generations: what the original metrics say beside what the tokens show."""
    c = df[df.action == "control"].set_index("attractor")
    out = c[["original_score", "original_ceiling", "original_memorized", "matched_prefix", "extractable_32",
             "true_prob_mean"]].copy()
    out["continuation"] = c.text.str.slice(0, 80)
    out = out.round(3)
    if "true_prob_mean" in ex.unavailable_observables(df):
        out["true_prob_mean"] = "unavailable"
    return out


def word_kl_correlation(df) -> float | str:
    """Spearman correlation of the original word-count "KL" with the next-token KL over the perturbed runs
    ("unavailable" when the backend gives no KL)."""
    if "kl_mean" in ex.unavailable_observables(df):
        return "unavailable"
    sub = df[df.action != "control"]
    return float(sub[["original_word_kl", "kl_mean"]].corr(method="spearman").iloc[0, 1])


def attractor_figures(table) -> dict:
    """The p1_attractors prose's figures, from the control generations of one model (``original_vs_actual``)."""
    return {"p1a_n_attractors": len(table),
            "p1a_testable": int(table.extractable_32.notna().sum()),
            "p1a_extractable": int(table.extractable_32.fillna(0).sum()),
            "p1a_original_memorized": int(table.original_memorized.sum()),
            "p1a_capped": int((table.original_ceiling < 0.8).sum()),
            "p1a_best_prefix": int(table.matched_prefix.max()),
            "p1a_ceiling_below_07": int((table.original_ceiling < 0.7).sum()),
            "p1a_ceiling_max": float(table.original_ceiling.max()),
            "p1a_ceiling_max_text": str(table.original_ceiling.idxmax())}


def fig_attractor_prefix(tables: dict):
    """Tokens matching the true continuation per attractor, one bar per model."""
    long = pd.concat({n: t[["matched_prefix"]] for n, t in tables.items()}, names=["model"]).reset_index()
    return px.bar(long, x="attractor", y="matched_prefix", color="model", barmode="group", template="plotly_white",
                  height=380, labels={"matched_prefix": "tokens matching the true continuation"})


def analysis_figures(df) -> dict:
    """The p1_analysis prose's figures: what the original's own metric passes, and how its word-count "KL"
    tracks the next-token KL ("unavailable" without log-probabilities)."""
    passable = df.original_ceiling >= ORIGINAL_THRESHOLD
    return {"p1x_orig_memorized": int(df.original_memorized.sum()),
            "p1x_rows": len(df),
            "p1x_ceiling_max": float(df.original_ceiling.max()),
            "p1x_passable": int(passable.sum()),
            "p1x_passable_attractors": ", ".join(sorted(df[passable].attractor.unique())) or "none",
            "p1x_threshold": ORIGINAL_THRESHOLD,
            "p1x_corr": word_kl_correlation(df)}
