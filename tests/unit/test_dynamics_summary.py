"""lab.dynamics.summary: the ranking of the original's actions under each change the book made."""
import pandas as pd
import pytest

from lab.dynamics import summary

SEED_ACTIONS = ("A_seed", "B_seed", "C_seed", "D_seed", "E_seed")


def _records(drops: dict[str, dict[str, tuple[float, float]]]) -> pd.DataFrame:
    """Rows for each attractor: a control at (1, 1) and each seed action at 1 − its (score, probability) drop."""
    rows = []
    for attractor, by_action in drops.items():
        rows.append({"attractor": attractor, "action": "control", "seed": 0, "original_score": 1.0,
                     "true_prob_mean": 1.0})
        for action, (score_drop, prob_drop) in by_action.items():
            for seed in (0, 1):
                rows.append({"attractor": attractor, "action": action, "seed": seed, "original_score": 1.0 - score_drop,
                             "true_prob_mean": 1.0 - prob_drop})
    return pd.DataFrame(rows)


def test_the_changes_that_move_the_ranking_are_told_apart():
    claimed = {a: (s, 0.1) for a, s in zip(("C_seed", "B_seed", "A_seed", "D_seed", "E_seed"), (5, 4, 3, 2, 1))}
    reversed_prob = {a: (s, p) for (a, (s, _)), p in zip(claimed.items(), (1, 2, 3, 4, 5))}
    # hamlet's scores rise where don_quijote_es's fall, by the reversed amounts: the original's impact is the
    # absolute change, so the mean impact is 3 for every action, a tie the ranking must not call the claim
    df = _records({"don_quijote_es": reversed_prob, "hamlet": {a: (-(6 - s), 0.0) for a, (s, _) in claimed.items()}})
    table = summary.ranking_by_change(df).set_index(["texts", "metric"])
    assert table.loc[("original's text", "original"), "ranking"] == "C > B > A > D > E"
    assert table.loc[("original's text", "original"), "kendall_tau_with_claim"] == pytest.approx(1.0)
    assert table.loc[("original's text", "ours"), "kendall_tau_with_claim"] == pytest.approx(-1.0)
    tie = table.loc[("every attractor run", "original")]
    assert tie.attractors == 2 and tie.ranking == "C = B = A = D = E" and pd.isna(tie.kendall_tau_with_claim)
    figures = summary.ranking_figures(summary.ranking_by_change(df))
    assert figures["p1e_ranking_orig_text_orig_metric"] == "C > B > A > D > E"
    assert "the metric alone (E > D > A > B > C, τ = -1.00)" in figures["p1e_ranking_sentence"]


def test_the_ranking_is_by_absolute_change_as_the_original_ranked_impact():
    # C raises the score by 0.5, B lowers it by 0.4: the original's impact ranks C first, a signed drop would not
    changes = dict(zip(("C_seed", "B_seed", "A_seed", "D_seed", "E_seed"), (-0.5, 0.4, 0.3, 0.2, 0.1)))
    df = _records({"don_quijote_es": {a: (c, 0.0) for a, c in changes.items()}})
    row = summary.ranking_by_change(df).set_index(["texts", "metric"]).loc[("original's text", "original")]
    assert row.ranking == "C > B > A > D > E" and row.C == pytest.approx(0.5)


def test_without_the_original_text_the_ranking_is_unavailable():
    df = _records({"hamlet": {a: (1.0, 0.1) for a in SEED_ACTIONS}})
    assert summary.ranking_by_change(df).empty
    assert summary.ranking_figures(summary.ranking_by_change(df))["p1e_ranking_sentence"].startswith("unavailable")


def test_the_figures_sentence_says_why_an_interval_is_missing():
    from lab.dynamics import summary

    figs = {"p1e_view_A": 0.37, "p1e_view_A_low": -4.3345, "p1e_view_A_high": 5.075,
            "p1e_view_D": 0.0, "p1e_view_D_low": float("nan"), "p1e_view_D_high": float("nan"),
            "p1e_view_C": "unavailable", "p1e_view_C_low": "unavailable", "p1e_view_C_high": "unavailable"}
    text = summary.figures_sentence(figs, "view", actions=("A", "C", "D"))
    assert text == ("A 0.370 [-4.335, 5.075], C unavailable, "
                    "D 0.000 (the same on every attractor: no interval)")


def test_the_chat_format_is_the_original_setting_when_it_was_run():
    claimed = {a: (s, 0.1 * s) for a, s in zip(("C_seed", "B_seed", "A_seed", "D_seed", "E_seed"), (5, 4, 3, 2, 1))}
    flipped = {a: (6 - s, 0.1 * (6 - s)) for a, (s, _) in claimed.items()}
    raw = _records({"don_quijote_es": flipped, "hamlet": flipped})
    chat = _records({"don_quijote_es": claimed})
    table = summary.ranking_by_change(raw, chat).set_index(["format", "texts", "metric"])
    assert table.loc[("chat template", "original's text", "original"), "ranking"] == "C > B > A > D > E"
    assert ("chat template", "every attractor run", "original") not in table.index  # the chat run is one text
    sentence = summary.ranking_figures(table.reset_index())["p1e_ranking_sentence"]
    assert sentence.startswith("In the original's own setting")
    assert "changing the format, to raw text decoded greedily (E > D > A > B > C, τ = -1.00)" in sentence
    note = summary.ranking_figures(summary.ranking_by_change(raw), chat_note="gemma has no chat template")
    assert note["p1e_ranking_sentence"].endswith("The chat format was not run: gemma has no chat template.")


def test_no_change_is_glued_as_zero_not_negative_zero():
    import math

    cmp = pd.DataFrame([{"action": "D", "magnitude": 4.0, "observable": "matched_prefix", "mean_difference": 0.0,
                         "ci_low": math.nan, "ci_high": math.nan}])
    figures = summary.action_figures(cmp, expected=("D",))
    assert math.copysign(1.0, figures["p1e_prefix_D"]) == 1.0 and f"{figures['p1e_prefix_D']:.2f}" == "0.00"


def test_a_sampled_run_is_compared_seed_by_seed_and_its_tau_has_an_interval_over_seeds():
    """The original's setting samples: each seed has its own control, the impact is |control_s - perturbed_s|, and
    τ gets a 95% interval resampling seeds; a greedy run's τ stays a point."""
    rows = []
    for seed in range(6):
        noise = 0.05 * (seed % 3)  # the control itself moves from seed to seed, as sampled controls do
        rows.append({"attractor": "don_quijote_es", "action": "control", "seed": seed, "original_score": 0.5 + noise,
                     "true_prob_mean": 0.5})
        for action, impact in zip(("C_seed", "B_seed", "A_seed", "D_seed", "E_seed"), (0.5, 0.4, 0.3, 0.2, 0.1)):
            wobble = 0.45 if seed == 0 and action == "E_seed" else 0.0  # one seed puts E above D
            rows.append({"attractor": "don_quijote_es", "action": action, "seed": seed,
                         "original_score": 0.5 + noise - impact - wobble, "true_prob_mean": 0.5 - impact})
    table = summary.ranking_by_change(pd.DataFrame(rows)).set_index(["texts", "metric"])
    row = table.loc[("original's text", "original")]
    assert row.seeds == 6 and row.C == pytest.approx(0.5)  # each seed against its own control: no control noise
    assert row.tau_low < row.kendall_tau_with_claim <= row.tau_high <= 1.0
    figures = summary.ranking_figures(table.reset_index())
    assert "95% interval over 6 sampled seeds" in figures["p1e_ranking_sentence"]
    greedy = _records({"don_quijote_es": {a: (0.1, 0.1) for a in SEED_ACTIONS}})
    point = summary.ranking_by_change(greedy).set_index(["texts", "metric"]).loc[("original's text", "original")]
    assert pd.isna(point.tau_low)
