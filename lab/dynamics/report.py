"""What Part I's pages show of their records: the tables, the figures (the original's six, from our runs), the
glued figures, and the record of an API backend. The designs and the run step are in ``lab.dynamics.runs``."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from IPython.display import Markdown, display

from . import comparisons, summary
from . import experiments as ex
from .observables import ORIGINAL_THRESHOLD
from .runs import AttractorRecords, Backend, open_backend

# The observables p1_experiments compares with the control, per attractor.
OBSERVED = ["kl_mean", "edit_distance", "embedding_distance", "matched_prefix", "true_prob_mean", "unperturbed_nll"]

def label(action: str, magnitude) -> str:
    return action if magnitude in (None, "-") or magnitude != magnitude else f"{action} {magnitude:g}"


# ------------------------------------------------------------------ the run record of an API backend

def backend_records(backends: list[Backend], records: dict | None = None) -> dict:
    """{model: record} for each API backend: endpoint, capabilities, reported identity, server quirks
    worked around, requests and cost, and the observables and actions it could not measure (with why).
    Local backends need no record (everything is measured); they give none."""
    out = {}
    for b in backends:
        if b.kind == "local":
            continue
        rec = open_backend(b)[0].record()
        if records is not None and b.model in records:
            rec["unavailable observables"] = ex.unavailable_observables(ex.frame(records[b.model]))
            rec["unavailable actions"] = {r["action"]: r["unavailable"] for r in ex.unavailable(records[b.model])}
        out[b.model] = rec
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
    # an observable an API cannot measure is None in the records read back from JSON: as floats, NaN
    d = _labelled(df).astype({observable: float})
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


# ------------------------------------------------------------------ p1_experiments' glued figures

def comparison_figures(cmp: pd.DataFrame, model: str) -> dict:
    """The glued figures of the paired comparisons with the control: the strongest KL ("unavailable", never an
    estimate, where the backend returns no log-probabilities), how many tests reach p < 0.05 after Holm, the
    design's unit count and p-value floor beside every p-value, each action's figures, and the robustness."""
    reach = comparisons.reach(cmp)
    figures = summary.action_figures(cmp)
    return {**summary.strongest_kl(cmp, label),
            "p1e_n_significant": int((cmp.p_holm < 0.05).sum()), "p1e_n_tests": int(cmp.p_holm.notna().sum()),
            "p1e_design": comparisons.design_sentence(cmp), "p1e_n": reach["n"],
            "p1e_min_p": float(cmp.p.min()) if cmp.p.notna().any() else float("nan"),
            "p1e_min_p_holm": float(cmp.p_holm.min()) if cmp.p_holm.notna().any() else float("nan"),
            "p1e_p_floor": reach["p_floor"], "p1e_smallest_adjusted": reach["smallest_adjusted"],
            **figures, "p1e_view_sentence": summary.figures_sentence(figures, "view"),
            f"p1e_robustness_{summary.slug(model)}": summary.robustness(cmp)}


def all_rankings(records: dict, chat: dict) -> pd.DataFrame:
    """summary.ranking_by_change for every model the page ran, one block per model."""
    return pd.concat([summary.ranking_by_change(ex.frame(records[m]), chat.get(m)).assign(model=m) for m in records])


def compute_table(results: dict[str, list[AttractorRecords]]) -> pd.DataFrame:
    """Each run step's own time (it varies from machine to machine: not a finding)."""
    return pd.DataFrame([{"model": r.model, "grid": name, "attractor": r.attractor, "rows": len(r.rows),
                          "step s": round(r.seconds, 1)} for name, rs in results.items() for r in rs])


def conclusion(figures: dict, parameters: dict[str, int | None]) -> str:
    """What p1_experiments shows and does not show, from its glued figures; ``parameters``: {model: its parameter
    count, None behind an API}."""
    kl = figures.get("p1e_strongest_kl")
    strongest = ("the strongest next-token KL is unavailable through this backend" if not isinstance(kl, float) else
                 f"the strongest mean next-token KL, {kl:.2f} nats per step, comes from {figures['p1e_strongest']}")
    tau = figures.get("p1e_ranking_tau_chat_orig_text_orig_metric")
    low = figures.get("p1e_ranking_tau_chat_orig_text_orig_metric_low")
    ranking = ("the original's own setting was not run on this model, so its ranking is read only in raw text"
               if tau is None else
               f"in the original's own setting, sampled as it was, the seed-faithful actions' agreement with its "
               f"claimed order C > B > A > D > E is Kendall τ-b = {tau:.2f}"
               + (f" (95% interval over {figures['p1e_chat_seeds']} seeds {low:.2f} to "
                  f"{figures['p1e_ranking_tau_chat_orig_text_orig_metric_high']:.2f})" if low is not None else ""))
    known = [n for n in parameters.values() if n]
    size = (f"the models here have at most {max(known) / 1e6:.0f}M parameters" if known else
            "the size of the models behind the API is not known here")
    return (f"On {' and '.join(parameters)}, {strongest}, and {figures['p1e_n_significant']} of "
            f"{figures['p1e_n_tests']} paired comparisons over {figures['p1e_n']} attractors stay below p = 0.05 "
            f"after Holm's correction; {ranking}. It does not show how the 7-8B chat models of the original behave "
            f"({size}), nor a ranking of levels beyond the magnitudes chosen, whose units differ from action to "
            "action.")
