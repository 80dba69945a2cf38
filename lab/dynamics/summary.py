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

UNAVAILABLE = "unavailable"  # glued in place of a figure the run could not measure (never an estimate)
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
                lo, hi = sign * row.ci_low, sign * row.ci_high
                out[key] = float(sign * row.mean_difference)
                out[f"{key}_low"], out[f"{key}_high"] = float(min(lo, hi)), float(max(lo, hi))
            out[f"{key}_magnitude"] = str(row.magnitude)
    return out


def robustness(cmp) -> float | str:
    """The original's robustness score, 1 − mean |Δ Mem|, with Δ Mem our drop in p(true continuation),
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
