"""Part I's headline figures, glued by the experiments chapter for its prose and for the claims ledger.

The original ranked its actions by "impact", the drop in its memorization score (Δ Mem). Our analogue is
the drop in the mean probability the model gives the true continuation (control − perturbed; positive =
memorization weakened), beside the exact KL of the next-token distributions. Each action is taken at its
strongest magnitude (the magnitudes of different actions are in different units, so a ranking is only as
meaningful as the magnitudes chosen, which the chapter says), and the seed-faithful prompt edits
(``A_seed`` … ``E_seed``) are the original's own actions, run on our models.
"""
from __future__ import annotations

import re

OBSERVABLES = {"kl": ("kl_mean", 1.0), "drop": ("true_prob_mean", -1.0)}  # short name: (column, sign)


def _strongest(cmp, column: str):
    """One row per action: its largest magnitude (seed-faithful rows have a single '-' magnitude)."""
    rows = cmp[cmp.observable == column]
    out = {}
    for action, group in rows.groupby("action", sort=False):
        numeric = group[group.magnitude != "-"]
        pick = numeric.loc[numeric.magnitude.astype(float).idxmax()] if len(numeric) else group.iloc[0]
        out[action] = pick
    return out


def action_figures(cmp, prefix: str = "p1e") -> dict:
    """{f"{prefix}_{obs}_{action}[_low|_high]": value} for every action of a paired-comparison table."""
    out = {}
    for short, (column, sign) in OBSERVABLES.items():
        for action, row in _strongest(cmp, column).items():
            lo, hi = sign * row.ci_low, sign * row.ci_high
            key = f"{prefix}_{short}_{action}"
            out[key] = float(sign * row.mean_difference)
            out[f"{key}_low"], out[f"{key}_high"] = float(min(lo, hi)), float(max(lo, hi))
            out[f"{key}_magnitude"] = str(row.magnitude)
    return out


def robustness(cmp) -> float:
    """The original's robustness score, 1 − mean |Δ Mem|, with Δ Mem our drop in p(true continuation),
    over every perturbed condition of the table."""
    rows = cmp[cmp.observable == "true_prob_mean"]
    return float(1 - rows.mean_difference.abs().mean())


def slug(model: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
