"""Part I's headline figures, glued by the experiments chapter for its prose and for the claims ledger.

The original ranked its actions by "impact", the mean absolute change of its memorization score (|Δ Mem|; see
``ranking_by_change``). Our analogue of Δ Mem is the drop in the mean probability the model gives the true
continuation (control − perturbed; positive = memorization weakened), beside the exact KL of the next-token
distributions. Each action is taken at its strongest magnitude (the magnitudes of different actions are in
different units, so a ranking is only as meaningful as the magnitudes chosen, which the chapter says), and the
seed-faithful prompt edits (``A_seed`` … ``E_seed``) are the original's own actions, run on our models.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import stats as sps

UNAVAILABLE = "unavailable"  # glued in place of a figure the run could not measure (never an estimate)
# short name: (column, sign). "prefix" is the drop in the number of generated tokens that match the true
# continuation: memorization measured on what is generated, a scale common to every level. The KL and the
# p(true) drop of D are computed on the distribution its bias was added to, so for D they measure the bias.
OBSERVABLES = {"kl": ("kl_mean", 1.0), "drop": ("true_prob_mean", -1.0), "prefix": ("matched_prefix", -1.0),
               "view": ("unperturbed_nll", 1.0)}


def _strongest(cmp, column: str):
    """One row per action: its largest magnitude (seed-faithful rows have a single '-' magnitude)."""
    rows = cmp[cmp.observable == column]
    out = {}
    for action, group in rows.groupby("action", sort=False):
        numeric = group[group.magnitude != "-"]
        pick = numeric.loc[numeric.magnitude.astype(float).idxmax()] if len(numeric) else group.iloc[0]
        out[action] = pick
    return out


def _is_unavailable(rows) -> bool:
    """Rows of a comparison table that ``experiments.compare`` marked unmeasurable on this backend."""
    return "unavailable" in rows and len(rows) > 0 and rows["unavailable"].notna().all()


ACTIONS = ("A", "B", "C", "D", "E")  # the prose cites each of them


def action_figures(cmp, prefix: str = "p1e", expected=ACTIONS) -> dict:
    """{f"{prefix}_{obs}_{action}[_low|_high]": value} for every action of a paired-comparison table; an
    observable the backend cannot measure, or an ``expected`` action it could not run (C through an API),
    is glued as "unavailable", interval included."""
    out = {}
    for short, (column, sign) in OBSERVABLES.items():
        strongest = _strongest(cmp, column)
        for action in [a for a in expected if a not in strongest]:
            key = f"{prefix}_{short}_{action}"
            out[key] = out[f"{key}_low"] = out[f"{key}_high"] = UNAVAILABLE
            out[f"{key}_magnitude"] = "-"
        for action, row in strongest.items():
            key = f"{prefix}_{short}_{action}"
            if isinstance(row.get("unavailable"), str):
                out[key] = out[f"{key}_low"] = out[f"{key}_high"] = UNAVAILABLE
            else:
                # + 0.0 turns a negated zero into 0.0: a page must not print "-0.00" for "no change"
                lo, hi = sign * row.ci_low + 0.0, sign * row.ci_high + 0.0
                out[key] = float(sign * row.mean_difference + 0.0)
                out[f"{key}_low"], out[f"{key}_high"] = float(min(lo, hi)), float(max(lo, hi))
            out[f"{key}_magnitude"] = str(row.magnitude)
    return out


def figures_sentence(figures: dict, short: str, prefix: str = "p1e", actions=ACTIONS, digits: int = 3) -> str:
    """"A 0.370 [-4.335, 5.075], B ..." from ``action_figures``: each action's estimate with its 95% t-interval, or
    the reason there is none (every attractor gave the same difference; the backend could not measure it)."""
    parts = []
    for a in actions:
        key = f"{prefix}_{short}_{a}"
        value, low, high = (figures.get(k, UNAVAILABLE) for k in (key, f"{key}_low", f"{key}_high"))
        if isinstance(value, str):
            parts.append(f"{a} {value}")
        elif isinstance(low, float) and math.isnan(low):
            parts.append(f"{a} {value:.{digits}f} (the same on every attractor: no interval)")
        else:
            parts.append(f"{a} {value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]")
    return ", ".join(parts)


def robustness(cmp) -> float | str:
    """The original's robustness score as its figure computes it, 1 − mean |Δ Mem| (its text report takes
    1 − |mean Δ Mem| instead: ebaenamar/llm-controlled-dynamics@8d5dda35:src/visualization/plots.py against
    src/experiments/comparative_analysis.py), with Δ Mem our drop in p(true continuation),
    over every perturbed condition of the table ("unavailable" where that probability is)."""
    rows = cmp[cmp.observable == "true_prob_mean"]
    if _is_unavailable(rows):
        return UNAVAILABLE
    return float(1 - rows.mean_difference.abs().mean())


def strongest_kl(cmp, label) -> dict:
    """The condition with the largest mean KL and that KL, glued as p1e_strongest and p1e_strongest_kl;
    both "unavailable" when the backend returned no log-probabilities (or no condition has a KL)."""
    kl = cmp[cmp.observable == "kl_mean"].set_index(["action", "magnitude"])
    if _is_unavailable(kl) or not kl.mean_difference.notna().any():
        return {"p1e_strongest": UNAVAILABLE, "p1e_strongest_kl": UNAVAILABLE}
    strongest = kl.mean_difference.idxmax()
    return {"p1e_strongest": label(*strongest), "p1e_strongest_kl": float(kl.mean_difference.max())}


def slug(model: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")


CLAIMED_ORDER = ("C_seed", "B_seed", "A_seed", "D_seed", "E_seed")  # 001's ranking of its actions by Δ Mem
ORIGINAL_TEXT = "don_quijote_es"  # the original's only test text (001)
RANKING_METRICS = {"original": "original_score", "ours": "true_prob_mean"}


def ranking_by_change(df, chat=None) -> "pd.DataFrame":
    """The seed-faithful actions ranked by their impact as the original defined it, the mean absolute change
    |control − perturbed| (ebaenamar/llm-controlled-dynamics@8d5dda35:src/experiments/comparative_analysis.py,
    ``rank_experiments_by_impact``; here of each seed's run, averaged over seeds, then attractors), under each
    combination of the three changes this book made to the original's ranking: the prompt format
    (the original sent its prompts as chat messages; here raw text, or ``chat``: the frame of the same actions
    run through the model's chat template on the original's text), the texts (its one Spanish text, or every
    attractor run) and the metric (its composite score, or p(true token)). Kendall's τ-b (scipy) against the
    claimed order C > B > A > D > E, with a 95% interval over seeds where the runs are sampled (the original's
    setting: each seed one sample of every action and of the control, ``tau_interval``); greedy runs of a fixed
    prompt edit are one run repeated, so their τ is a point, which says which change moves the ranking, not
    whether a ranking is significant."""
    rows = _rankings(df, "raw text", {"original's text": [ORIGINAL_TEXT],
                                      "every attractor run": sorted(df.attractor.unique()) if len(df) else []})
    if chat is not None and len(chat):
        rows += _rankings(chat, "chat template", {"original's text": [ORIGINAL_TEXT]})
    columns = ["format", "texts", "metric", "attractors", "seeds", "ranking", "kendall_tau_with_claim", "tau_low",
               "tau_high",
               *(a.removesuffix("_seed") for a in CLAIMED_ORDER)]
    return pd.DataFrame(rows, columns=columns)


def _rankings(df, fmt: str, texts: dict) -> list[dict]:
    rows = []
    if not len(df) or ORIGINAL_TEXT not in set(df.attractor):
        return rows
    for text_name, names in texts.items():
        sub = df[df.attractor.isin(names)]
        for metric_name, column in RANKING_METRICS.items():
            change = changes(sub, column)
            impact = change.groupby(level=["action", "attractor"]).mean().unstack().mean(axis=1)  # rows: actions
            if impact.isna().any() or len(impact) < len(CLAIMED_ORDER):
                continue
            seeds = sorted(change.index.get_level_values("seed").unique())
            sampled = sub[sub.action == "control"].seed.nunique() > 1  # greedy replicates are one run repeated
            low, high = tau_interval(change) if sampled else (math.nan, math.nan)
            rows.append({"format": fmt, "texts": text_name, "metric": metric_name, "attractors": len(names),
                         "seeds": len(seeds), "ranking": _ranking(impact), "kendall_tau_with_claim": _tau(impact),
                         "tau_low": low, "tau_high": high,
                         **{a.removesuffix("_seed"): float(impact[a]) for a in CLAIMED_ORDER}})
    return rows


def changes(df, column: str) -> pd.Series:
    """The original's impact of each run: |control − perturbed| of ``column``, indexed by (action, attractor,
    seed). A sampled run is compared with its own seed's control; a greedy one with the one control."""
    controls = df[df.action == "control"]
    pert = df[df.action.isin(CLAIMED_ORDER)]
    if controls.seed.nunique() > 1:  # sampled: one control per seed
        control = controls.set_index(["attractor", "seed"])[column]
        base = pd.Series(list(zip(pert.attractor, pert.seed)), index=pert.index).map(control)
    else:
        base = pert.attractor.map(controls.set_index("attractor")[column])
    out = (base - pert[column]).abs()
    out.index = pd.MultiIndex.from_arrays([pert.action, pert.attractor, pert.seed], names=["action", "attractor",
                                                                                          "seed"])
    return out.astype(float)


def _tau(impact) -> float:
    # tau-b against the claimed ranks: tied impacts count as ties, never as the claimed order
    return float(sps.kendalltau(range(len(CLAIMED_ORDER), 0, -1), [impact[a] for a in CLAIMED_ORDER]).statistic)


def tau_interval(change: pd.Series, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of Kendall's τ-b with the claimed order, resampling the seeds (each with every
    action's run at that seed): the unit is the seed, a sample of the original's setting."""
    table = change.groupby(level=["action", "seed"]).mean().unstack()  # actions x seeds (mean over texts)
    rng = np.random.default_rng(seed)
    cols = table.columns.to_numpy()
    taus = [_tau(table[rng.choice(cols, len(cols))].mean(axis=1)) for _ in range(resamples)]
    taus = np.asarray(taus, dtype=float)
    taus = taus[~np.isnan(taus)]  # a resample whose impacts all tie has no τ
    return (float(np.quantile(taus, 0.025)), float(np.quantile(taus, 0.975))) if len(taus) else (math.nan, math.nan)


def _ranking(impact) -> str:
    """'C > B = A > …': actions by decreasing impact, equal impacts (to 1e-12) joined by '='."""
    order = sorted(CLAIMED_ORDER, key=lambda a: -impact[a])
    text = order[0].removesuffix("_seed")
    for prev, a in zip(order, order[1:]):
        text += (" = " if abs(impact[prev] - impact[a]) <= 1e-12 else " > ") + a.removesuffix("_seed")
    return text


RANKING_KEYS = {  # (format, texts, metric) -> the name each ranking is glued under
    ("chat template", "original's text", "original"): "chat_orig_text_orig_metric",
    ("chat template", "original's text", "ours"): "chat_orig_text_our_metric",
    ("raw text", "original's text", "original"): "orig_text_orig_metric",
    ("raw text", "original's text", "ours"): "orig_text_our_metric",
    ("raw text", "every attractor run", "original"): "all_texts_orig_metric",
    ("raw text", "every attractor run", "ours"): "all_texts_our_metric",
}


def ranking_figures(table, prefix: str = "p1e", chat_note: str | None = None, chat_setting: str = "") -> dict:
    """Glue-ready rankings and τ (with its interval over seeds where the runs were sampled) per (format, texts,
    metric), and one computed sentence naming which change moves the ranking away from the original's setting
    ("unavailable" when the original's text was not run). ``chat_note`` says why the chat format was not run,
    when it was not (a base model has no chat template); ``chat_setting`` how it was sampled."""
    if not len(table):
        return {f"{prefix}_ranking_sentence": f"{UNAVAILABLE}: the run did not include {ORIGINAL_TEXT} "
                                                    "with all five seed-faithful actions"}
    out, cell = {}, {}
    for row in table.itertuples():
        k = RANKING_KEYS[(row.format, row.texts, row.metric)]
        cell[k] = row
        out[f"{prefix}_ranking_{k}"] = row.ranking
        out[f"{prefix}_ranking_tau_{k}"] = row.kendall_tau_with_claim
        if not math.isnan(row.tau_low):
            out[f"{prefix}_ranking_tau_{k}_low"], out[f"{prefix}_ranking_tau_{k}_high"] = row.tau_low, row.tau_high

    def tau(row) -> str:
        interval = ("" if math.isnan(row.tau_low) else
                    f", 95% interval over {row.seeds} sampled seeds [{row.tau_low:.2f}, {row.tau_high:.2f}]")
        return f"τ = {row.kendall_tau_with_claim:.2f}{interval}"

    def ranked(k: str) -> str:
        return f"{cell[k].ranking}, {tau(cell[k])}"

    def changes(base: str, steps) -> str:
        b = cell[base]
        return (f"the seed-faithful actions rank {b.ranking} (Kendall {tau(b).replace('τ', 'τ-b', 1)} with the "
                f"claimed C > B > A > D > E); " + "; ".join(f"changing {what} ({ranked(k)})" for what, k in steps
                                                           if k in cell) + ".")

    if "chat_orig_text_orig_metric" in cell:
        out[f"{prefix}_ranking_sentence"] = (
            f"In the original's own setting (its text, {ORIGINAL_TEXT}; its score; its prompts sent as chat "
            f"messages, here through the model's chat template{', ' + chat_setting if chat_setting else ''}), "
            + changes("chat_orig_text_orig_metric", (
                ("the metric alone", "chat_orig_text_our_metric"), ("the format, to raw text decoded greedily",
                                                                     "orig_text_orig_metric"),
                ("the format and the metric", "orig_text_our_metric"),
                ("the format and the texts", "all_texts_orig_metric"), ("all three", "all_texts_our_metric"))))
    else:
        out[f"{prefix}_ranking_sentence"] = (
            f"On the original's own text ({ORIGINAL_TEXT}) and with its own score, in raw text, " + changes(
                "orig_text_orig_metric", (("the metric alone", "orig_text_our_metric"),
                                          ("the texts alone", "all_texts_orig_metric"),
                                          ("both", "all_texts_our_metric")))
            + (f" The chat format was not run: {chat_note}." if chat_note else ""))
    return out
