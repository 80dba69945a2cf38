"""What p1_experiments shows beyond the tables of lab.dynamics.comparisons and .summary: the values its prose
glues, in the page's order (the executed page is compared output by output), and the rankings of every model."""
from __future__ import annotations

import pandas as pd

from . import comparisons, summary
from . import experiments as ex

# The observables p1_experiments compares with the control, per attractor.
OBSERVED = ["kl_mean", "edit_distance", "embedding_distance", "matched_prefix", "true_prob_mean", "unperturbed_nll"]


def comparison_figures(cmp: pd.DataFrame, model: str, label) -> dict:
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
