"""Every verdict rule of lab.ledger, driven by made-up results to each verdict it can return.

``BOOK`` is a made-up book: every value a rule reads, by page. Each row of ``CASES`` changes a few of its values
and names the verdict the rule must then return. ``CAN_RETURN`` declares, per rule, the verdicts it can give; the
cases must reach each of them, and no mixture of the cases' values may produce another. To extend the table
(a new rule, a new branch, a scale gate): add the values the rule reads to ``BOOK``, one case per verdict, and
the verdict to ``CAN_RETURN``.
"""
from __future__ import annotations

import copy
import math
import re
from typing import NamedTuple

import numpy as np
import pytest

from lab import ledger


def interval(name: str, estimate: float, low: float, high: float) -> dict:
    """A glued figure with its 95% interval, named as the chapters glue them."""
    return {name: estimate, f"{name}_low": low, f"{name}_high": high}


def drops(suffix: str, order: str) -> dict:
    """p1e_drop_<action><suffix> for actions listed from largest drop to smallest, intervals disjoint."""
    out = {}
    for rank, a in enumerate(order):
        v = 0.5 - 0.1 * rank
        out.update(interval(f"p1e_drop_{a}{suffix}", v, v - 0.04, v + 0.04))
    return out


BOOK = {
    "p0_models_assets": {"smollm2_params_m": 134.515},
    "p1_experiments": {**drops("_seed", "CBADE"), **drops("", "CBADE"),
                       "p1e_robustness_smollm2_135m": 0.94, "p1e_robustness_gemma3_270m": 0.93},
    "p1_attractors": {"p1a_extractable": 1, "p1a_testable": 9, "p1a_capped": 9, "p1a_n_attractors": 10},
    "p1_analysis": {"p1x_ceiling_max": 0.18},
    "p5_memorization_scale": {**interval("p5_top_rate", 1.0, 0.61, 1.0), **interval("p5_slope", 2.0, 1.3, 3.5),
                              "p5_max_log10_params": 5.9, "p5_top_duplicates": 64,
                              "p5_pretrained_extractable_texts": "counting", "p5_first_extracting_log10": 5.0,
                              "p5_delta_bic_size": -9.3, "p5_decades_below_70b": 4.9},
    "p2_training": {**interval("ppl_iit", 263.1, 255.1, 271.1), **interval("diff", -5.2, -5.8, -4.3),
                    "ratio": 16.8, "move_iit_015": 0.011, "move_iit_025": 0.0107, "move_plain": 4.2e-8,
                    "dropout_ppl_015": 264.7, "dropout_ppl_025": 271.9, "reported_a": 216.46, "reported_b": 207.15,
                    "memory_writes": 0, "n_seeds": 3},
    "p2_collate_postmortem": {"fake": 21.3, "honest": 263.1, "reported_fake": 18.99, "plateau_ppl": 1.005,
                              "cross_step": 50, "steps_per_epoch": 5267, "orig_epoch1": 1.06},
    "p2_mode_collapse": {"rep_greedy_orig": 0.975, "rep_greedy_plain": 0.975, "rep_t1_orig": 0.24},
    "p2_expectations": {"met": 1, "judged": 4, "untestable": 21, "best_ppl": 263.1,
                        "met_list": "parameter count", "not_met_list": "occupied slots; average importance",
                        "untestable_list": "best validation PPL; BLEU-1 against WikiText-2"},
    "p3_legal_lora": {"p3_steps": 60,
                      **interval("p3_jurisdiction", 0.45, 0.38, 0.51), "p3_jurisdiction_lora": 0.45,
                      **interval("p3_topic", 0.27, 0.21, 0.33), "p3_topic_lora": 0.27,
                      **interval("p3_loss_reduction", 0.81, 0.78, 0.84),
                      **interval("p3_jurisdiction_vs_base", 0.34, 0.25, 0.43),
                      **interval("p3_jurisdiction_vs_random", 0.21, 0.12, 0.30),
                      "p3_jurisdiction_vs_random_p_holm": 0.002,
                      **interval("p3_topic_vs_random", 0.18, 0.10, 0.26), "p3_topic_vs_random_p_holm": 0.0015,
                      "p3_int8_p50_ms": 324.0, "p3_int8_agreement": 0.3, "p3_quantized_mb": 237.0},
}
NAN = math.nan
NO_TASK_SIGNIFICANT = {**interval("p3_jurisdiction_vs_random", 0.05, -0.03, 0.13),
                       "p3_jurisdiction_vs_random_p_holm": 0.4,
                       **interval("p3_topic_vs_random", 0.02, -0.05, 0.09), "p3_topic_vs_random_p_holm": 0.6}


class Case(NamedTuple):
    rule: str
    verdict: str
    changes: dict  # {page: {name: value}} applied to BOOK
    figure_has: str = ""  # a piece of text the figure must contain


def p1e(**kw):
    return {"p1_experiments": kw}


CASES = [
    # the original's ordering C > B > A > D > E, on its own prompt edits
    Case("action_impact_ranking", "supported", {}),
    Case("action_impact_ranking", "refuted", p1e(**drops("_seed", "EBADC")), "reversed: C < B"),
    Case("action_impact_ranking", "inconclusive", p1e(**interval("p1e_drop_E_seed", 0.1, 0.06, 0.3))),
    # levels: C > A, B > D > E
    Case("level_hierarchy", "supported", {}),
    Case("level_hierarchy", "refuted", p1e(**drops("", "DBACE")), "reversed: C < A"),
    Case("level_hierarchy", "inconclusive", p1e(**interval("p1e_drop_A", 0.3, 0.1, 0.34))),
    # Mistral-7B and Llama-3-8B cannot be loaded: only what the book's models score
    Case("model_robustness_ranking", "not testable here", {}, "smollm2_135m 0.940"),
    # the models are whichever the page glued a score for, read through the Results it is given
    Case("model_robustness_ranking", "not testable here", p1e(p1e_robustness_tiny_gpt=0.5), "tiny_gpt 0.500"),
    # canaries a small trained model reproduces refute "small models do not memorize"; issue 17 re-judges
    # the pretrained models' side (this rule cannot yet return "supported")
    Case("small_models_do_not_memorize", "refuted", {}),
    Case("small_models_do_not_memorize", "inconclusive",
         {"p5_memorization_scale": interval("p5_top_rate", 0.0, 0.0, 0.39)}),
    Case("memorization_threshold_70b", "refuted", {}, "at least 0.61"),
    Case("memorization_threshold_70b", "not testable here",
         {"p5_memorization_scale": {"p5_first_extracting_log10": math.inf, "p5_top_rate_low": 0.0,
                                    "p5_delta_bic_size": NAN}}, "no variation in extraction"),
    Case("memorization_threshold_70b", "not testable here",
         {"p5_memorization_scale": {"p5_top_rate_low": 0.0},
          "p5_memorization_scale_gpu": {"p5_delta_bic_size": -10.9}}, "the H100 ladder: BIC difference -10.9"),
    Case("models_out_of_reach", "not testable here", {}, "at most 135M parameters"),
    Case("wikitext_ppl_reported", "not testable here", {}, "263.1 [255.1, 271.1]"),
    # a threshold no continuation can reach refutes the protocol's use of it
    Case("memorization_score_protocol", "refuted", {}),
    Case("memorization_score_protocol", "inconclusive", {"p1_analysis": {"p1x_ceiling_max": 0.9}}),
    # 18.99 is a false perplexity, but one epoch of the copy bug ends near 1: the cause named is not supported
    Case("collate_bug_fake_ppl", "not supported", {}, "levels off at 1.005"),
    Case("collate_bug_fake_ppl", "supported", {"p2_collate_postmortem": {"cross_step": 6000}}),
    Case("collate_bug_fake_ppl", "supported", {"p2_collate_postmortem": {"cross_step": -1}}),
    Case("collate_bug_fake_ppl", "supported", {"p2_collate_postmortem": {"plateau_ppl": 12.0}}),
    Case("collate_bug_fake_ppl", "refuted", {"p2_collate_postmortem": {"fake": 200.0}}),
    Case("dropout_froze_phi_weights", "refuted", {}),
    Case("dropout_froze_phi_weights", "supported", {"p2_training": {"move_iit_025": 0.001}}),
    Case("dropout_froze_phi_weights", "supported", {"p2_training": {"move_iit_025": 1e-6}}),
    # two means without an interval of their difference can point against the claim, never support it:
    # a 0.1-PPL improvement between single runs is inconclusive (issue 21)
    Case("dropout_improved_ppl", "not supported", {}, "+2.7%; reported: 207.15 against 216.46, -4.3%"),
    Case("dropout_improved_ppl", "inconclusive", {"p2_training": {"dropout_ppl_025": 264.6}}, "no interval"),
    Case("dropout_improved_ppl", "supported",
         {"p2_training": interval("dropout_ppl_diff", -10.0, -15.0, -5.0)}, "-10.0 [-15.0, -5.0]"),
    Case("dropout_improved_ppl", "refuted", {"p2_training": interval("dropout_ppl_diff", 7.0, 3.0, 11.0)}),
    Case("dropout_improved_ppl", "not supported", {"p2_training": interval("dropout_ppl_diff", 2.0, -3.0, 7.0)}),
    Case("dropout_improved_ppl", "inconclusive", {"p2_training": interval("dropout_ppl_diff", -2.0, -7.0, 3.0)}),
    Case("dropout_improved_ppl", "inconclusive",
         {"p2_training": {"dropout_ppl_025": 264.6, **interval("dropout_ppl_diff", -0.1, NAN, NAN)}}),
    # the ratio is never varied, so this rule cannot return supported or refuted (issue 17)
    Case("ratio_caused_mode_collapse", "not supported", {}),
    Case("ratio_caused_mode_collapse", "inconclusive", {"p2_mode_collapse": {"rep_t1_orig": 0.9}}),
    Case("collapse_at_every_temperature", "refuted", {}),
    Case("collapse_at_every_temperature", "supported", {"p2_mode_collapse": {"rep_t1_orig": 0.9}}),
    Case("iit_features_functional", "refuted", {}),
    Case("iit_features_functional", "supported", {"p2_training": {"memory_writes": 12}}),
    Case("iit_features_functional", "inconclusive",
         {"p2_training": {"memory_writes": 12, **interval("diff", 1.0, -2.0, 4.0)}}),
    # the headline (best validation PPL) is judged only where the page could judge it; the rest is a count
    Case("ppl_projections", "not testable here", {}, "1 of 4 projections judgeable here met"),
    Case("ppl_projections", "refuted", {"p2_expectations": {"not_met_list": "best validation PPL; occupied slots"}}),
    Case("ppl_projections", "supported", {"p2_expectations": {"met_list": "best validation PPL", "not_met_list": "none"}}),
    Case("ppl_projections", "inconclusive", {"p2_expectations": {"met_list": "parameter count; best validation PPL"}}),
    Case("legal_jurisdiction_accuracy", "refuted", {}, "against 0.60"),
    Case("legal_jurisdiction_accuracy", "supported",
         {"p3_legal_lora": interval("p3_jurisdiction", 0.66, 0.61, 0.71)}),
    Case("legal_jurisdiction_accuracy", "inconclusive",
         {"p3_legal_lora": interval("p3_jurisdiction", 0.62, 0.55, 0.69)}),
    # the concept criterion's threshold is 0.65, not 0.60
    Case("legal_concept_accuracy", "refuted", {"p3_legal_lora": interval("p3_topic", 0.62, 0.61, 0.64)}),
    Case("legal_concept_accuracy", "supported", {"p3_legal_lora": interval("p3_topic", 0.70, 0.66, 0.74)}),
    Case("legal_concept_accuracy", "inconclusive", {"p3_legal_lora": interval("p3_topic", 0.66, 0.61, 0.71)}),
    Case("legal_loss_reduction", "supported", {}),
    Case("legal_loss_reduction", "refuted", {"p3_legal_lora": interval("p3_loss_reduction", 0.4, 0.3, 0.49)}),
    Case("legal_loss_reduction", "inconclusive", {"p3_legal_lora": interval("p3_loss_reduction", 0.6, 0.4, 0.8)}),
    Case("legal_loss_reduction", "inconclusive",  # one seed: no interval, no verdict from a single run
         {"p3_legal_lora": interval("p3_loss_reduction", 0.9, NAN, NAN)}, "no interval"),
    Case("legal_beats_random", "supported", {}),
    Case("legal_beats_random", "refuted",  # a task significantly below random contradicts the criterion
         {"p3_legal_lora": {**interval("p3_cloze_vs_random", -0.06, -0.11, -0.01), "p3_cloze_vs_random_p_holm": 0.036}}),
    # no task significant, every interval straddling 0: inconclusive, not refuted (issue 21)
    Case("legal_beats_random", "inconclusive", {"p3_legal_lora": NO_TASK_SIGNIFICANT}),
    Case("legal_beats_random", "not supported",  # ... and with every estimate below random, not supported
         {"p3_legal_lora": {**NO_TASK_SIGNIFICANT, "p3_jurisdiction_vs_random": -0.01, "p3_topic_vs_random": -0.02}}),
    Case("legal_beats_random", "inconclusive",  # one task beats random, the other is not significant
         {"p3_legal_lora": {"p3_topic_vs_random_p_holm": 0.2}}),
    Case("legal_gain_over_base", "supported", {}),
    Case("legal_gain_over_base", "refuted", {"p3_legal_lora": interval("p3_jurisdiction_vs_base", 0.05, 0.0, 0.1)}),
    Case("legal_gain_over_base", "inconclusive",
         {"p3_legal_lora": interval("p3_jurisdiction_vs_base", 0.16, 0.1, 0.22)}),
    Case("legal_latency", "refuted", {}),
    Case("legal_latency", "supported", {"p3_legal_lora": {"p3_int8_p50_ms": 120.0, "p3_int8_agreement": 0.95}}),
    Case("legal_latency", "refuted", {"p3_legal_lora": {"p3_int8_p50_ms": 120.0, "p3_int8_agreement": 0.5}}),
    Case("legal_deployment_size", "supported", {}),
    Case("legal_deployment_size", "refuted", {"p3_legal_lora": {"p3_quantized_mb": 300.0}}),
]

# The verdicts each rule can return. A verdict missing here that the claim could deserve is a known defect,
# named in the rule's cases above.
CAN_RETURN = {
    "action_impact_ranking": {"supported", "refuted", "inconclusive"},
    "level_hierarchy": {"supported", "refuted", "inconclusive"},
    "model_robustness_ranking": {"not testable here"},
    "small_models_do_not_memorize": {"refuted", "inconclusive"},
    "memorization_threshold_70b": {"refuted", "not testable here"},
    "models_out_of_reach": {"not testable here"},
    "wikitext_ppl_reported": {"not testable here"},
    "memorization_score_protocol": {"refuted", "inconclusive"},
    "collate_bug_fake_ppl": {"supported", "refuted", "not supported"},
    "dropout_froze_phi_weights": {"supported", "refuted"},
    "dropout_improved_ppl": {"supported", "refuted", "not supported", "inconclusive"},
    "ratio_caused_mode_collapse": {"not supported", "inconclusive"},
    "collapse_at_every_temperature": {"supported", "refuted"},
    "iit_features_functional": {"supported", "refuted", "inconclusive"},
    "ppl_projections": {"supported", "refuted", "inconclusive", "not testable here"},
    "legal_jurisdiction_accuracy": {"supported", "refuted", "inconclusive"},
    "legal_concept_accuracy": {"supported", "refuted", "inconclusive"},
    "legal_loss_reduction": {"supported", "refuted", "inconclusive"},
    "legal_beats_random": {"supported", "refuted", "not supported", "inconclusive"},
    "legal_gain_over_base": {"supported", "refuted", "inconclusive"},
    "legal_latency": {"supported", "refuted"},
    "legal_deployment_size": {"supported", "refuted"},
}


def book_with(changes: dict) -> dict:
    book = copy.deepcopy(BOOK)
    for page, values in changes.items():
        book.setdefault(page, {}).update(values)
    return book


def judge(rule: str, changes: dict) -> ledger.Verdict:
    return ledger.RULES[rule](ledger.Results.of(book_with(changes)))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{c.verdict}-{i}" for i, c in enumerate(CASES)])
def test_each_case_gets_its_verdict(case):
    verdict = judge(case.rule, case.changes)
    assert verdict.status == case.verdict, verdict.figure
    assert case.figure_has in verdict.figure


def test_the_cases_reach_every_verdict_of_every_rule():
    assert set(CAN_RETURN) == set(ledger.RULES), "every rule of lab.ledger is declared, and only those"
    reached = {rule: {c.verdict for c in CASES if c.rule == rule} for rule in ledger.RULES}
    assert reached == CAN_RETURN


def groups(changes: dict) -> dict[tuple[str, str], dict]:
    """A case's changes by (page, figure): a value travels with its interval and p-value."""
    out: dict = {}
    for page, values in changes.items():
        for name, value in values.items():
            out.setdefault((page, re.sub(r"_(low|high|p_holm)$", "", name)), {})[name] = value
    return out


def test_no_mixture_of_the_cases_gives_an_undeclared_verdict():
    """Any mixture of a rule's cases (each figure, with its interval, taken from a random case or left as in
    BOOK; intervals need not stay consistent) must still give one of the rule's declared verdicts, and never
    crash."""
    rng = np.random.default_rng(0)
    for rule in ledger.RULES:
        options: dict = {}
        for c in (c for c in CASES if c.rule == rule):
            for key, values in groups(c.changes).items():
                options.setdefault(key, []).append(values)
        seen = set()
        for _ in range(200):
            mixed: dict = {}
            for (page, _figure), values in options.items():
                pick = rng.integers(len(values) + 1)  # the last choice leaves BOOK's value
                if pick < len(values):
                    mixed.setdefault(page, {}).update(values[pick])
            seen.add(judge(rule, mixed).status)
        assert seen <= CAN_RETURN[rule], f"{rule} returned {seen - CAN_RETURN[rule]}"


def test_rules_that_judge_a_variable_set_fail_when_it_is_empty():
    p1e_without_robustness = {k: v for k, v in BOOK["p1_experiments"].items() if "robustness" not in k}
    with pytest.raises(ledger.LedgerError, match="p1e_robustness_"):
        ledger.RULES["model_robustness_ranking"](ledger.Results.of({**BOOK, "p1_experiments": p1e_without_robustness}))
    p3_without_tests = {k: v for k, v in BOOK["p3_legal_lora"].items() if "_vs_random" not in k}
    with pytest.raises(ledger.LedgerError, match="_vs_random_p_holm"):
        ledger.RULES["legal_beats_random"](ledger.Results.of({**BOOK, "p3_legal_lora": p3_without_tests}))
