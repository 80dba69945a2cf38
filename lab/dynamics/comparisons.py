"""Paired comparisons of the A–E grid: every perturbed condition against the control, over attractors.

Unit of analysis: the **attractor**. With greedy decoding a seed only moves the perturbation draw (position,
tokens, noise) and every seed of an attractor shares one control continuation, so the seeds are averaged within
each attractor and the attractor is the paired unit. The seeds are not treated as a second level to resample:
they are not independent replicates of the control they share. Over n attractors the test is the exact
sign-flip test (no p below 2 / 2^n) and the interval the t-interval of the mean difference
(``lab.inference.paired``).

Family: Holm's correction runs within each observable, over its conditions (one question per family: does this
measure move under the perturbations?). This was fixed before any result was read; ``reach`` says how small an
adjusted p-value the design can produce at all, so that a page can say when no comparison could reach 0.05.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import inference
from . import experiments as ex

UNIT = "attractor"
FAMILY = "observable"


def per_attractor(df, observable: str):
    """Control and perturbed values per (action, magnitude) and attractor, seeds averaged."""
    control = df[df.action == "control"].set_index("attractor")[observable]
    pert = df[df.action != "control"].copy()
    pert["magnitude"] = pert["magnitude"].astype(object).where(pert["magnitude"].notna(), "-")
    means = pert.groupby(["action", "magnitude", "attractor"], sort=False)[observable].mean()
    return control, means


def compare(records, observables: list[str] | None = None, seed: int = 0):
    """One row per (action, magnitude, observable): the mean perturbed − control difference over attractors, its
    95% t-interval, the exact sign-flip p-value, the design's smallest possible p (``p_floor``), the
    Holm-adjusted p within the observable's family, and Cohen's d_z. A condition measured on one attractor gets
    its difference and no test."""
    df = ex.frame(records)
    missing = ex.unavailable_observables(df)
    rows = []
    for name in observables or list(ex.OBSERVABLES):
        if name in missing:  # one row per condition saying so, rather than silently no rows
            rows += _unavailable_rows(df, name, missing[name])
            continue
        if name not in df or df[name].isna().all():
            continue
        control, means = per_attractor(df, name)
        for (action, magnitude), series in means.groupby(level=[0, 1], sort=False):
            series = series.droplevel([0, 1])
            units = [u for u in series.index if u in control.index and not (
                np.isnan(series[u]) or np.isnan(control[u]))]
            if not units:
                continue
            d = np.array([series[u] - control[u] for u in units])
            row = {"action": action, "magnitude": magnitude, "observable": name, "n_attractors": len(units),
                   "mean_difference": float(d.mean()), "ci_low": math.nan, "ci_high": math.nan, "p": math.nan,
                   "p_floor": math.nan, "effect_size_dz": math.nan}
            if len(units) >= 2:
                res = inference.paired(d, UNIT, seed=seed)
                row.update(ci_low=res.low, ci_high=res.high, p=res.p, p_floor=res.p_floor,
                           effect_size_dz=res.effect_size_dz)
            rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = math.nan
        for _, family in out[out["p"].notna()].groupby(FAMILY, sort=False):
            out.loc[family.index, "p_holm"] = inference.holm(family["p"].to_numpy())
    if "unavailable" in out:  # the last column, so that the numeric columns keep their places
        out = out[[c for c in out if c != "unavailable"] + ["unavailable"]]
    return out


def reach(cmp, alpha: float = 0.05) -> dict:
    """What the design can produce: the number of attractors, the smallest p one test can give, the largest
    family, and the smallest Holm-adjusted p that family can reach; ``reachable`` says whether it is below alpha."""
    tested = cmp[cmp["p"].notna()] if len(cmp) else cmp
    if not len(tested):
        return {"n": 0, "p_floor": math.nan, "family_size": 0, "smallest_adjusted": math.nan, "reachable": False}
    n = int(tested.n_attractors.min())
    floor = inference.design_floor(n)
    family = int(tested.groupby(FAMILY).size().max())
    smallest = inference.smallest_adjusted(floor, family)
    return {"n": n, "p_floor": floor, "family_size": family, "smallest_adjusted": smallest,
            "reachable": smallest < alpha, "table_size": len(tested),
            "smallest_adjusted_table": inference.smallest_adjusted(floor, len(tested))}


def design_sentence(cmp, alpha: float = 0.05) -> str:
    """The design's reach in one computed sentence, for the page above its verdicts."""
    r = reach(cmp, alpha)
    if r["n"] == 0:
        return "No condition was measured on two or more attractors, so no comparison was tested."
    head = (f"Each comparison is paired over {r['n']} attractors (the unit), so its exact sign-flip test cannot go "
            f"below p = {r['p_floor']:.4g}; Holm's correction over the {r['family_size']} conditions of an "
            f"observable raises the smallest reachable adjusted p to {r['smallest_adjusted']:.4g}.")
    if r["table_size"] > r["family_size"]:  # the choice of family decides what can pass: say both
        whole = r["smallest_adjusted_table"]
        head += (f" Corrected over the whole table of {r['table_size']} tests instead, it would be {whole:.4g}, and "
                 + (f"no comparison could reach {alpha:g}." if whole >= alpha else f"one below {alpha:g} would still be "
                    "possible.") + " The family is the observable because each observable asks its own question.")
    if r["reachable"]:
        return head + f" Within a family, a comparison below {alpha:g} after correction is possible, not guaranteed."
    return (head + f" No comparison can reach {alpha:g} after correction with this design, whatever the data; the "
            "table reports estimates and intervals, and the page draws no significance verdicts from it.")


def _unavailable_rows(df, name: str, why: str) -> list[dict]:
    pert = df[df.action != "control"]
    magnitudes = pert["magnitude"].astype(object).where(pert["magnitude"].notna(), "-")
    conditions = list(dict.fromkeys(zip(pert.action, magnitudes)))
    return [{"action": a, "magnitude": m, "observable": name, "n_attractors": 0, "mean_difference": math.nan,
             "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "p_floor": math.nan,
             "effect_size_dz": math.nan, "unavailable": why} for a, m in conditions]
