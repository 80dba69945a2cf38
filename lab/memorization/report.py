"""What p5_memorization_scale shows of its runs: the measurements as one table, the slices it compares, the
smooth-versus-threshold fits, the figures, and the words and numbers it glues (never typed by hand).

The unit of every interval is the canary: each is measured by every size, seed and epoch, so the fits' bootstrap
resamples canaries with all their measurements (``scaling.compare``'s clusters) and a rate's interval counts each
canary once (:func:`canary_interval`), never the measurements as if independent. Tokens are bytes here, so k = 32 tokens is 32 bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import inference
from . import scaling
from .canaries import Canary
from .ladder import HEADLINE, LADDER, PretrainedMeasures, RungRun

AT_PLATEAU = "size, each at its plateau"
SAME_LOSS = "size, same validation loss"
DUPLICATES = "duplicates, largest size"
# No fit along epochs: the snapshots of a run are measured on the same canaries, so its cells are not independent
# samples and a likelihood over them would count each canary once per epoch. The training axis is shown, not fitted.

# Published figures, cited (not recomputed), for the same axes.
PUBLISHED = [
    {"source": "Pythia memorization evals (Biderman et al. 2023)", "parameters": 70e6, "rate": 0.0032},
    {"source": "Pythia memorization evals (Biderman et al. 2023)", "parameters": 12e9, "rate": 0.0163},
]
NOT_IDENTIFIABLE = "not identifiable (fit on the optimiser's bound)"


@dataclass
class Ladder:
    """Every run of the page (one per size and seed) and the canaries they measured."""
    runs: list[RungRun]
    canaries: list[Canary]

    def __post_init__(self):
        self.runs = sorted(self.runs, key=lambda r: (list(LADDER).index(r.size), r.seed))
        self.measurements = self._frame()

    def _frame(self) -> pd.DataFrame:
        """One row per (size, seed, epoch, canary): the headline measurement, the epoch's validation loss, and
        whether it is the run's kept model (its best validation)."""
        info = pd.DataFrame([{"canary": c.id, "kind": c.kind, "duplicates": c.duplicates} for c in self.canaries])
        frames = []
        for r in self.runs:
            for s in r.snapshots:
                frames.append(pd.DataFrame({"canary": r.canaries, "extractable": s.extractable, "matched": s.matched,
                                            "logprob": s.logprob}).assign(
                    size=r.size, seed=r.seed, parameters=r.non_embedding, epoch=s.epoch,
                    tokens_seen=s.epoch * r.tokens_per_epoch, val_bpb=s.val_bpb, kept=s.epoch == r.best_epoch))
        return pd.concat(frames, ignore_index=True).merge(info, on="canary", how="left")

    @property
    def sizes(self) -> list[str]:
        return list(dict.fromkeys(r.size for r in self.runs))

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def max_log10_params(self) -> float:
        return float(np.log10(max(r.non_embedding for r in self.runs)))

    @property
    def table(self) -> pd.DataFrame:
        """One row per run: its size, how long it trained, where it stopped and why."""
        rows = [{"size": r.size, "seed": r.seed, "layers": r.layers, "width": r.width,
                 "non-embedding params": r.non_embedding, "learning rate": r.lr, "epochs": r.epochs,
                 "best epoch": r.best_epoch, "tokens per parameter": r.best_epoch * r.tokens_per_epoch / r.non_embedding,
                 "val bits per byte": r.kept.val_bpb, "plateaued": r.plateaued, "dtype": r.dtype.resolved}
                for r in self.runs]
        return pd.DataFrame(rows).set_index(["size", "seed"]).round(3)


def kept(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's kept model: every size at its plateau."""
    return df[df.kept]


def matched_loss(ladder: Ladder) -> tuple[float, dict]:
    """The validation loss every run reaches (the worst run's best), and the first epoch each run reaches it."""
    target = max(min(s.val_bpb for s in r.snapshots) for r in ladder.runs)
    return target, {(r.size, r.seed): next(s.epoch for s in r.snapshots if s.val_bpb <= target + 1e-12)
                    for r in ladder.runs}


def same_loss(df: pd.DataFrame, ladder: Ladder) -> pd.DataFrame:
    _, epoch_of = matched_loss(ladder)
    return df[df.epoch == pd.Series(list(zip(df["size"], df.seed)), index=df.index).map(epoch_of)]


def common_epochs(df: pd.DataFrame) -> pd.DataFrame:
    """The epochs every run reached (a run that stopped has no later snapshot to compare)."""
    last = df.groupby(["size", "seed"]).epoch.max().min()
    return df[df.epoch <= last]


def onset_by_epoch(df: pd.DataFrame) -> pd.Series:
    """log10 of the smallest size for which any seed extracts any inserted canary after each epoch every run
    reached (NaN: none does)."""
    sub = common_epochs(df)
    sub = sub[sub.duplicates > 0]
    hits = sub[sub.extractable > 0].groupby("epoch").parameters.min()
    return np.log10(hits.reindex(sorted(sub.epoch.unique())).astype(float))


def canary_interval(sub: pd.DataFrame, level: float = 0.95) -> tuple[float, float, float, int]:
    """The extraction rate of ``sub``'s rows, its Wilson score interval with the canary as the unit, and the number
    of canaries. Each canary counts once, with the share of its measurements (seeds, sizes or epochs in ``sub``)
    that extract it, so n is the number of canaries, never of measurements. Wilson, not a percentile bootstrap:
    at 0 or n of a handful of canaries a bootstrap collapses to a point (see ``inference.wilson``). Home-made
    because scipy's binomtest takes whole counts, and a canary extracted by two seeds of three counts 2/3."""
    from scipy.stats import norm

    per = sub.groupby("canary").extractable.mean()
    n, p = len(per), float(per.mean())
    z = norm.ppf(0.5 + level / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if p == 0 else float(max(0.0, centre - half))
    high = 1.0 if p == 1 else float(min(1.0, centre + half))
    return p, low, high, n


def _cell(sub: pd.DataFrame) -> str:
    rate, low, high, _ = canary_interval(sub)
    return f"{rate:.2f} [{low:.2f}, {high:.2f}]"


def rate_table(df: pd.DataFrame) -> pd.DataFrame:
    """Share of canaries extractable by size and duplication count (0 = held out), every run at its kept model, over
    canaries and seeds, with its 95% interval (the canary the unit)."""
    sub = kept(df)
    table = sub.groupby(["size", "parameters", "duplicates"]).apply(_cell, include_groups=False).unstack()
    return table.sort_index(level="parameters")


def training_table(df: pd.DataFrame) -> pd.DataFrame:
    """Share of the most-copied canaries extractable by size (rows) after each epoch every run reached (columns),
    over canaries and seeds, with its 95% interval (the canary the unit); the copies seen so far in the column names."""
    sub = common_epochs(df)
    top = sub.duplicates.max()
    sub = sub[sub.duplicates == top]
    table = sub.groupby(["size", "parameters", "epoch"]).apply(_cell, include_groups=False).unstack()
    table.columns = [f"epoch {e} ({e * top} exposures)" for e in table.columns]
    return table.sort_index(level="parameters")


def continuation_bits(df: pd.DataFrame) -> pd.Series:
    """Bits per byte of each row's canary continuation, teacher-forced (the k bytes after the prefix)."""
    return -df.logprob.astype(float) / (HEADLINE[1] * np.log(2))


def bits_table(df: pd.DataFrame) -> pd.DataFrame:
    """Memorization below the verbatim threshold: the bits per byte each size's kept model needs for the canaries'
    continuations, by kind and copies per epoch (0: never inserted), each canary averaged over its seeds."""
    sub = kept(df).assign(bits=continuation_bits(kept(df)))
    per = sub.groupby(["size", "parameters", "kind", "duplicates", "canary"]).bits.mean()
    table = per.groupby(level=["size", "parameters", "kind", "duplicates"]).mean().unstack("duplicates")
    table.columns = [("held out" if d == 0 else f"x{d}") for d in table.columns]
    return table.sort_index(level="parameters").round(3)


def bits_gap(df: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float, int, int]:
    """At the largest size: held-out minus most-copied canaries' bits per byte (positive: the copies are better
    predicted than text never seen), its 95% percentile bootstrap interval resampling canaries within each group
    (each canary averaged over its seeds), and the two groups' sizes."""
    from scipy import stats

    sub = kept(df)
    sub = sub[sub.parameters == sub.parameters.max()].assign(bits=lambda d: continuation_bits(d))
    per = sub.groupby(["canary", "duplicates"]).bits.mean().reset_index()
    held = per[per.duplicates == 0].bits.to_numpy()
    top = per[per.duplicates == per.duplicates.max()].bits.to_numpy()
    gap = lambda a, b, axis=-1: a.mean(axis) - b.mean(axis)
    if min(len(held), len(top)) < 2:  # a group of one canary has no spread to resample
        return float(gap(held, top)), float("nan"), float("nan"), len(top), len(held)
    res = stats.bootstrap((held, top), gap, vectorized=True, n_resamples=resamples, method="percentile",
                          rng=np.random.default_rng(seed))
    return float(gap(held, top)), float(res.confidence_interval.low), float(res.confidence_interval.high), \
        len(top), len(held)


def held_out_outcomes(df: pd.DataFrame) -> pd.Series:
    """One outcome per held-out canary (the unit): 1 if any size, seed or epoch extracts it."""
    return df[df.duplicates == 0].groupby("canary").extractable.max()


def fit_against(df: pd.DataFrame, axis: str, resamples: int, seed: int) -> scaling.Comparison:
    """Linear vs threshold fits of the extraction rate of the inserted canaries against log10 of ``axis``, the
    bootstrap resampling canaries with all their measurements."""
    sub = df[df.duplicates > 0]
    groups = sorted(sub.groupby(axis), key=lambda g: g[0])
    return scaling.compare(np.log10([g[0] for g in groups]), [g[1].extractable.to_numpy() for g in groups],
                           resamples=resamples, seed=seed, clusters=[g[1].canary.to_numpy() for g in groups])


def fit_all(ladder: Ladder, resamples: int, seed: int) -> dict:
    """Smooth-versus-threshold comparisons along each axis, the others held fixed."""
    df = ladder.measurements
    at_plateau = kept(df)
    largest = at_plateau[at_plateau.parameters == at_plateau.parameters.max()]
    return {AT_PLATEAU: fit_against(at_plateau, "parameters", resamples, seed),
            SAME_LOSS: fit_against(same_loss(df, ladder), "parameters", resamples, seed),
            DUPLICATES: fit_against(largest, "duplicates", resamples, seed)}


def _estimate(fit, name: str):
    """A fitted parameter, or why it has no estimate (the likelihood has no maximum: the data are separated)."""
    return NOT_IDENTIFIABLE if fit.at_bound else round(float(fit.params[name]), 3)


def _interval(ci: tuple[float, float], fmt: str) -> str:
    return "not identifiable" if any(map(np.isnan, ci)) else f"[{ci[0]:{fmt}}, {ci[1]:{fmt}}]"


def comparison_table(cmps: dict) -> pd.DataFrame:
    rows = []
    for name, c in cmps.items():
        if c.degenerate:  # every fit is as good as any other: report the counts, not fitted numbers
            rows.append({"axis": name, "extracted / measured": f"{c.successes} / {c.trials}",
                         "fits": "undefined: no variation in the outcome"})
            continue
        rows.append({
            "axis": name, "extracted / measured": f"{c.successes} / {c.trials}",
            "smooth slope (log-odds per decade)": _estimate(c.linear, "b"),
            "slope 95% CI": _interval(c.slope_ci, ".3f"),
            "threshold location (log10)": _estimate(c.threshold, "location"),
            "location 95% CI": _interval(c.location_ci, ".2f"),
            "threshold width (decades)": _estimate(c.threshold, "width"),
            "AIC(smooth) - AIC(threshold)": c.delta_aic, "BIC(smooth) - BIC(threshold)": c.delta_bic,
            "AIC and BIC": "disagree" if c.criteria_disagree else "agree",
        })
    return pd.DataFrame(rows).set_index("axis").round(3)


def corpus_summary(canaries: list[Canary]) -> pd.DataFrame:
    rows = []
    for kind in ("random", "natural"):
        for d in sorted({c.duplicates for c in canaries}):
            cs = [c for c in canaries if c.kind == kind and c.duplicates == d]
            rows.append({"kind": kind, "duplicates": d, "canaries": len(cs),
                         "bytes inserted": sum(len(c.tokens) * d for c in cs)})
    return pd.DataFrame(rows).set_index(["kind", "duplicates"])


def compute_table(runs: list[RungRun]) -> pd.DataFrame:
    """Each run step's own wall time and arithmetic (it varies from machine to machine: not a finding)."""
    return pd.DataFrame([{"size": r.size, "seed": r.seed, "epochs": r.epochs, "dtype": r.dtype.resolved,
                          "training s": round(r.train_seconds, 1), "step s": round(r.seconds, 1)}
                         for r in runs]).set_index(["size", "seed"])


def pretrained_table(measures: dict[str, PretrainedMeasures], api: dict[str, list[dict]] | None = None) -> pd.DataFrame:
    """k-extractability per (model, attractor): the local models measured exactly, the API models by their greedy
    continuation only (no log-probability)."""
    rows = [{"model": name, **row} for name, m in measures.items() for row in m.rows]
    rows += [{"model": name, **row} for name, found in (api or {}).items() for row in found]
    if not rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(rows).set_index(["model", "attractor"]).round(3)


def loaded_table(measures: dict[str, PretrainedMeasures]) -> pd.DataFrame:
    """The provenance of the weights each measurement loaded: hub commit, hash of the files, device, dtype."""
    from dataclasses import asdict

    return pd.DataFrame([asdict(m.loaded) for m in measures.values()]).set_index("name") if measures else pd.DataFrame()


# ---------------------------------------------------------------- figures

def _rate_points(sub: pd.DataFrame, by: str = "parameters"):
    """Per value of ``by``: the rate and its 95% interval (the canary the unit) as error-bar lengths."""
    xs, ys, ups, downs = [], [], [], []
    for value, group in sub.groupby(by):
        rate, low, high, _ = canary_interval(group)
        xs.append(value)
        ys.append(round(rate, 4))
        ups.append(round(high - rate, 4))
        downs.append(round(rate - low, 4))
    return xs, ys, ups, downs


def rate_heatmap(df: pd.DataFrame):
    import plotly.graph_objects as go

    sub = kept(df)
    t = sub.pivot_table(index=["size", "parameters"], columns="duplicates", values="extractable", aggfunc="mean")
    t = t.sort_index(level="parameters")
    fig = go.Figure(go.Heatmap(
        z=t.values.round(3), x=[("held out" if d == 0 else f"x{d}") for d in t.columns],
        y=[f"{s} ({p:,} params)" for s, p in t.index], colorscale="Blues", zmin=0, zmax=1,
        hovertemplate="%{y}<br>duplicates %{x}<br>extractable %{z:.2f}<extra></extra>"))
    fig.update_layout(xaxis_title="copies of the canary in the training stream", yaxis_title="model",
                      template="plotly_white", height=360, margin=dict(l=10, r=10, t=30, b=40))
    return fig


def scale_figure(ladder: Ladder, cmps: dict):
    import plotly.graph_objects as go

    df = ladder.measurements
    fig = go.Figure()
    for name, sub, symbol in (("each at its plateau", kept(df), "circle"),
                              ("same validation loss", same_loss(df, ladder), "square")):
        x, y, up, down = _rate_points(sub[sub.duplicates > 0])
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers+lines", name=f"this ladder, {name}: all inserted canaries",
                                 marker=dict(size=9, symbol=symbol),
                                 error_y=dict(type="data", array=up, arrayminus=down, visible=True)))
    c = cmps[AT_PLATEAU]
    xs = np.linspace(np.log10(df.parameters.min()) - 0.3, np.log10(70e9), 200)
    curves = [("smooth (logistic in log size) fit, at the plateau, extrapolated", scaling.linear_p, c.linear, "dot"),
              ("threshold fit, at the plateau, extrapolated", scaling.threshold_p, c.threshold, "dash")]
    for name, p_of, fit, dash in curves:
        if c.degenerate or not fit.identifiable:  # no variation, or no estimate: a drawn curve would mean nothing
            continue
        ys = p_of(list(fit.params.values()), xs)
        fig.add_trace(go.Scatter(x=list(10 ** xs), y=[round(float(v), 4) for v in ys], mode="lines", name=name,
                                 line=dict(dash=dash)))
    fig.add_trace(go.Scatter(x=[p["parameters"] for p in PUBLISHED], y=[p["rate"] for p in PUBLISHED],
                             mode="markers", marker=dict(symbol="diamond", size=10),
                             name="published, cited (Pythia): not comparable in scale, data or duplication"))
    fig.add_hline(y=float(held_out_outcomes(df).mean()), line_dash="dot",
                  annotation_text="false-positive floor (held out)")
    fig.add_vline(x=70e9, line_dash="dot", annotation_text="claimed 70B threshold")
    fig.update_layout(xaxis_type="log", xaxis_title="parameters (ours: non-embedding)",
                      yaxis_title=f"share of canaries {HEADLINE[1]}-extractable", template="plotly_white", height=440,
                      margin=dict(l=50, r=10, t=30, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def training_figure(ladder: Ladder):
    """Left: each run's validation bits per byte after each epoch (the kept model marked); right: the most-copied
    canaries extracted after each epoch, per size over its seeds."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    df = ladder.measurements
    top = int(df.duplicates.max())
    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation bits per byte (one line per seed)",
                                                        f"share of canaries seen {top}x per epoch, extracted"))
    for i, size in enumerate(ladder.sizes):
        color = f"hsl({int(240 - 240 * i / max(len(ladder.sizes) - 1, 1))},70%,45%)"
        runs = [r for r in ladder.runs if r.size == size]
        label = f"{size} ({runs[0].non_embedding:,})"
        for j, r in enumerate(runs):
            fig.add_trace(go.Scatter(x=[s.epoch for s in r.snapshots], y=[round(s.val_bpb, 4) for s in r.snapshots],
                                     mode="lines", name=label, legendgroup=size, showlegend=j == 0,
                                     line=dict(color=color, width=1)), 1, 1)
            fig.add_trace(go.Scatter(x=[r.best_epoch], y=[round(r.kept.val_bpb, 4)], mode="markers",
                                     legendgroup=size, showlegend=False, marker=dict(color=color, size=7)), 1, 1)
        sub = df[(df["size"] == size) & (df.duplicates == top)]
        x, y, up, down = _rate_points(sub, by="epoch")
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=label, legendgroup=size, showlegend=False,
                                 line=dict(color=color),
                                 error_y=dict(type="data", array=up, arrayminus=down, visible=True, thickness=1)), 1, 2)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=2)
    fig.update_layout(template="plotly_white", height=400, margin=dict(l=50, r=10, t=40, b=40))
    return fig


# ---------------------------------------------------------------- words and glued figures

def _onset_words(log10_params: float) -> str:
    return "none" if not np.isfinite(log10_params) else f"10^{log10_params:.1f} parameters"


def _size_words(c: scaling.Comparison) -> str:
    """What one smooth-versus-threshold comparison against size says."""
    if c.degenerate:
        k, n = c.successes, c.trials
        return (f"{'no' if k == 0 else 'every'} measurement extracts its canary ({k} of {n}), so the sizes cannot "
                "tell smooth growth from a threshold")
    if not c.linear.identifiable:
        return ("the extraction rate jumps from none to all between two sizes, so neither model has a "
                "maximum-likelihood fit (both run to the optimiser's bounds) and the sizes cannot tell a steep "
                "smooth rise from a threshold")
    if c.delta_bic > 10 and c.threshold.params["width"] < 0.25:
        return f"the data favour a sharp transition at 10^{c.threshold.params['location']:.2f} parameters"
    lo, hi = c.slope_ci
    interval = ("no interval: the bootstrap fits run to a bound" if np.isnan(lo)
                else f"95% canary-bootstrap interval [{lo:.2f}, {hi:.2f}]")
    return (f"the data do not favour a sharp transition over smooth growth in the log-odds "
            f"(BIC difference {c.delta_bic:.1f}, AIC difference {c.delta_aic:.1f}"
            f"{', which point different ways' if c.criteria_disagree else ''}; smooth slope "
            f"{c.linear.params['b']:.2f} log-odds per decade, {interval})")


def verdict(cmps: dict, ladder: Ladder) -> str:
    """The book's words on the ~70B claim, from the fits and the training axis."""
    parts = [f"with every run at its kept model (its best validation), {_size_words(cmps[AT_PLATEAU])}"]
    onset = onset_by_epoch(ladder.measurements)
    if onset.isna().all():
        parts.append("no size extracts any canary after any epoch, so this ladder says nothing about where "
                     "memorization starts")
    elif len({_onset_words(v) for v in onset}) > 1:
        changes, before = [], None
        for e, v in onset.items():
            if _onset_words(v) != before or e == onset.index[-1]:
                changes.append(f"{_onset_words(v)} after {e} epoch{'s' if e > 1 else ''}")
            before = _onset_words(v)
        parts.append("the smallest size that extracts any canary moves with training (" + ", ".join(changes)
                     + "), so the size at which extraction starts here is not a property of size alone")
    else:
        parts.append(f"the smallest size that extracts any canary is {_onset_words(onset.iloc[-1])} after every "
                     "epoch")
    parts.append(f"the largest model here has 10^{ladder.max_log10_params:.1f} parameters, "
                 f"{np.log10(70e9) - ladder.max_log10_params:.1f} decades below 70B, so nothing here locates or "
                 "excludes a threshold at 70B; what it shows is whether memorization needs scale to appear at all")
    return "; ".join(parts) + "."


def _fitted(c: scaling.Comparison, value, fit=None) -> float:
    """NaN where there is nothing to report: no variation in the outcome, or a fit on its bound."""
    return float("nan") if c.degenerate or (fit is not None and not fit.identifiable) else float(value)


def _dup_sentence(dup: scaling.Comparison, largest: pd.DataFrame) -> str:
    if dup.degenerate:
        return (f"At the largest size {'no' if dup.successes == 0 else 'every'} measurement of an inserted canary "
                f"extracts it ({dup.successes} of {dup.trials}), whatever its duplication count, so no fit against "
                "the duplication count is possible.")
    if not dup.linear.identifiable:
        rates = largest.groupby("duplicates").extractable.mean()
        return ("At the largest size the extraction rate goes from "
                + ", ".join(f"{r:.2f} at {d} cop{'y' if d == 1 else 'ies'}" for d, r in rates.items())
                + ": the fit against the duplication count has no maximum-likelihood estimate (the optimiser stops "
                "at its bound, where a wider bound only gives a steeper slope), so no slope or interval is reported.")
    interval = ("no interval: the bootstrap fits run to a bound" if np.isnan(dup.slope_ci[0])
                else f"95% canary-bootstrap interval {dup.slope_ci[0]:.2f} to {dup.slope_ci[1]:.2f}")
    return (f"At the largest size, the smooth fit against the duplication count rises {dup.linear.params['b']:.2f} "
            f"log-odds per decade of copies ({interval}; BIC difference {dup.delta_bic:.1f}, AIC difference "
            f"{dup.delta_aic:.1f}).")


def headline(cmps: dict, ladder: Ladder, pretrained: pd.DataFrame) -> dict:
    """The chapter's figures for the prose and the claims ledger, each with its interval where it has one. Figures
    about size are of each run's kept model (its plateau), unless named otherwise."""
    df = ladder.measurements
    inserted = kept(df)[kept(df).duplicates > 0]
    by_size = inserted.groupby("parameters").extractable.sum()
    top = inserted[(inserted.parameters == inserted.parameters.max())
                   & (inserted.duplicates == inserted.duplicates.max())]
    rate, low, high, n_top = canary_interval(top)
    held = held_out_outcomes(df)
    size, dup = cmps[AT_PLATEAU], cmps[DUPLICATES]
    target, epoch_of = matched_loss(ladder)
    onset = onset_by_epoch(df)
    improving = [r for r in ladder.runs if not r.plateaued]
    out = {
        "p5_max_log10_params": ladder.max_log10_params,
        "p5_decades_below_70b": float(np.log10(70e9) - ladder.max_log10_params),
        "p5_epochs": max(r.epochs for r in ladder.runs),
        "p5_epochs_min": min(r.epochs for r in ladder.runs),
        "p5_seeds_per_size": min(sum(r.size == s for r in ladder.runs) for s in ladder.sizes),
        "p5_runs": len(ladder.runs), "p5_rungs": len(ladder.sizes),
        "p5_still_improving": len(improving), "p5_plateaued": len(ladder.runs) - len(improving),
        "p5_delta_bic_size": _fitted(size, size.delta_bic), "p5_delta_aic_size": _fitted(size, size.delta_aic),
        "p5_slope": _fitted(size, size.linear.params["b"], size.linear),
        "p5_slope_low": _fitted(size, size.slope_ci[0]), "p5_slope_high": _fitted(size, size.slope_ci[1]),
        "p5_delta_bic_duplicates": _fitted(dup, dup.delta_bic), "p5_delta_aic_duplicates": _fitted(dup, dup.delta_aic),
        "p5_dup_slope": _fitted(dup, dup.linear.params["b"], dup.linear),
        "p5_dup_slope_low": _fitted(dup, dup.slope_ci[0]), "p5_dup_slope_high": _fitted(dup, dup.slope_ci[1]),
        # the smallest model whose kept model extracts any inserted canary, for any seed (inf: none does)
        "p5_first_extracting_log10": float(np.log10(by_size[by_size > 0].index.min())) if (by_size > 0).any()
        else float("inf"),
        # ... and after any epoch every run reached
        "p5_first_extracting_any_epoch_log10": float(onset.min()) if onset.notna().any() else float("inf"),
        "p5_top_rate": rate, "p5_top_rate_low": low, "p5_top_rate_high": high, "p5_top_n": n_top,
        "p5_top_duplicates": int(inserted.duplicates.max()),
        "p5_false_positive": float(held.mean()), "p5_held_out_n": int(len(held)),
        "p5_matched_bpb": float(target),
        "p5_k_bytes": HEADLINE[1], "p5_prefix_bytes": HEADLINE[0],
    }
    out["p5_false_positive_low"], out["p5_false_positive_high"] = inference.wilson(int(held.sum()), len(held))
    table = ladder.table
    out["p5_tokens_per_param_low"] = float(table["tokens per parameter"].min())
    out["p5_tokens_per_param_high"] = float(table["tokens per parameter"].max())
    out["p5_training_sentence"] = (
        f"All {len(ladder.runs)} runs stopped because validation had stopped improving, none at the cap."
        if not improving else
        f"{len(improving)} of {len(ladder.runs)} runs reached the cap while still improving ("
        + ", ".join(f"{r.size} seed {r.seed}" for r in improving) + "), so their extraction rates are those of a "
        "model still in training, not of a converged one.")
    out["p5_matched_sentence"] = (
        f"Every run reaches {target:.3f} bits per byte (the worst run's best value); the first epoch each size "
        "reaches it, per seed: " + "; ".join(
            f"{s} " + "/".join(str(e) for (size, _), e in epoch_of.items() if size == s) for s in ladder.sizes) + ".")
    out["p5_onset_sentence"] = ("The smallest size for which any seed extracts any inserted canary, after each "
                                "epoch every run reached: "
                                + "; ".join(f"{e}: {_onset_words(v)}" for e, v in onset.items()) + ".")
    out["p5_dup_sentence"] = _dup_sentence(dup, inserted[inserted.parameters == inserted.parameters.max()])
    (out["p5_bits_gap"], out["p5_bits_gap_low"], out["p5_bits_gap_high"], out["p5_bits_gap_copied_n"],
     out["p5_bits_gap_held_n"]) = bits_gap(df)
    first = out["p5_first_extracting_log10"]
    trained = (f"Among the byte-level models this book trained from scratch ({out['p5_seeds_per_size']} seeds at each "
               f"of {out['p5_rungs']} sizes, up to 10^{out['p5_max_log10_params']:.1f} parameters, "
               f"{out['p5_plateaued']} of {out['p5_runs']} runs trained until validation stopped improving)")
    interval = ("" if np.isnan(out["p5_bits_gap_low"]) else
                f" (95% interval {out['p5_bits_gap_low']:.1f} to {out['p5_bits_gap_high']:.1f})")
    out["p5_plain_sentence"] = (
        f"{trained}, the smallest that reproduces a planted canary {HEADLINE[1]} bytes verbatim has about "
        f"10^{first:.1f} parameters, {np.log10(70e9) - first:.1f} decades below 70 billion." if np.isfinite(first) else
        f"{trained}, none reproduces a planted canary {HEADLINE[1]} bytes verbatim, so this book does not show at "
        "what size verbatim memorization starts; the largest still predicts the canaries it saw "
        f"{out['p5_bits_gap']:.1f} bits per byte better than held-out ones{interval}, memorization below the "
        "verbatim threshold.")
    local = pretrained[pretrained["geometric mean p(true token)"].notna()] if len(pretrained) else pretrained
    out["p5_pretrained_extractable"] = int(local.extractable.sum()) if len(local) else 0
    out["p5_pretrained_tested"] = int(len(local))
    # which texts: a rule-generated sequence (counting) is predictable without any memorization
    out["p5_pretrained_extractable_texts"] = ", ".join(
        sorted({attractor for (_, attractor), ok in local.extractable.items() if ok})) if len(local) else ""
    return out


def conclusion(figures: dict, ladder: Ladder) -> str:
    """What the chapter shows and does not show, from its glued figures."""
    first = figures["p5_first_extracting_log10"]
    shows = (f"byte-level GPTs from 10^{np.log10(min(r.non_embedding for r in ladder.runs)):.1f} to "
             f"10^{figures['p5_max_log10_params']:.1f} parameters, {figures['p5_seeds_per_size']} seeds each, "
             f"{figures['p5_plateaued']} of {figures['p5_runs']} runs trained until validation stopped improving")
    found = (f"the smallest that reproduces a planted canary {figures['p5_k_bytes']} bytes verbatim has "
             f"10^{first:.1f} non-embedding parameters" if np.isfinite(first) else
             f"none of them reproduces a planted canary {figures['p5_k_bytes']} bytes verbatim")
    gap = (f"below that threshold, the largest predicts the continuations of the canaries it saw "
           f"{figures['p5_top_duplicates']} times per epoch with {figures['p5_bits_gap']:.2f} bits per byte fewer "
           f"than never-inserted ones ("
           + ("no interval: a group has one canary" if np.isnan(figures["p5_bits_gap_low"]) else
              f"95% interval {figures['p5_bits_gap_low']:.2f} to {figures['p5_bits_gap_high']:.2f}")
           + f", over {figures['p5_bits_gap_copied_n']} and {figures['p5_bits_gap_held_n']} canaries)")
    verdict_words = ("So verbatim memorization of repeated text appears here far below 70B parameters. "
                     if np.isfinite(first) else
                     "So at convergence these models learn the repeated text without reproducing it verbatim, and "
                     "this ladder cannot say at what size verbatim memorization appears. "
                     if figures["p5_bits_gap_low"] > 0 else
                     "So this ladder shows no memorization of its canaries, verbatim or below, and cannot say at what "
                     "size memorization appears. ")
    return (f"This chapter trained {shows}: {found}; {gap}. " + verdict_words
            + f"It does not show where, or whether, anything changes near 70B parameters: the largest model here is "
            f"{figures['p5_decades_below_70b']:.1f} decades below it, its text is bytes of Shakespeare and Milton with "
            "planted canaries rather than a web corpus, and a canary is repeated far more often than most text a "
            "large model sees.")
