"""Every verdict rule of lab.ledger, driven by made-up results to each verdict it can return.

``BOOK`` is a made-up book: every value a rule reads, by page. Each row of ``CASES`` changes a few of its values
and names the verdict the rule must then return. ``CAN_RETURN`` declares, per rule, the verdicts it can give; the
cases must reach each of them, and no mixture of the cases' values may produce another. To extend the table
(a new rule, a new branch, a scale gate): add the values the rule reads to ``BOOK``, one case per verdict, and
the verdict to ``CAN_RETURN``.
"""
from __future__ import annotations

import copy
import functools
import math
import re
from typing import NamedTuple

import numpy as np
import pytest

from lab import ledger


def interval(name: str, estimate: float, low: float, high: float) -> dict:
    """A glued figure with its 95% interval, named as the chapters glue them."""
    return {name: estimate, f"{name}_low": low, f"{name}_high": high}


def drops(suffix: str, order: str, short: str = "drop") -> dict:
    """p1e_<short>_<action><suffix> for actions listed from largest drop to smallest, intervals disjoint."""
    out = {}
    for rank, a in enumerate(order):
        v = 0.5 - 0.1 * rank
        out.update(interval(f"p1e_{short}_{a}{suffix}", v, v - 0.04, v + 0.04))
    return out


BOOK = {
    "p0_models_assets": {"smollm2_params_m": 134.515, "gemma3_params_m": 268.1},
    "p1_experiments": {**drops("_seed", "CBADE"), **drops("", "CBADE"), **drops("", "CBADE", "prefix"),
                       **drops("", "CBADE", "view"),
                       "p1e_ranking_sentence": "On the original's own text (don_quijote_es) ...",
                       "p1e_n": 10, "p1e_robustness_smollm2_135m": 0.94, "p1e_robustness_gemma3_270m": 0.93,
                       "__parameters__": {"model": "smollm2-135m"}},
    "p1_attractors": {"p1a_ceiling_below_07": 9, "p1a_n_attractors": 10, "p1a_ceiling_max": 1.0,
                      "p1a_ceiling_max_text": "hello_world_c",
                      "__parameters__": {"model": "smollm2-135m", "max_new_tokens": 32}},
    "p5_memorization_scale": {**interval("p5_top_rate", 1.0, 0.61, 1.0), **interval("p5_slope", 2.0, 1.3, 3.5),
                              "p5_max_log10_params": 5.9, "p5_top_duplicates": 64, "p5_top_n": 6, "p5_canary_share": 0.039, "p5_epochs": 8,
                              "p5_pretrained_extractable": 2, "p5_pretrained_tested": 20,
                              "p5_pretrained_extractable_texts": "counting", "p5_first_extracting_log10": 5.0,
                              "p5_delta_bic_size": -9.3, "p5_delta_aic_size": -2.6, "p5_decades_below_70b": 4.9,
                              "__parameters__": {"pretrained": ["smollm2-135m", "gemma3-270m"]}},
    "p2_training": {**interval("ppl_iit", 263.1, 255.1, 271.1), **interval("diff", -5.2, -5.8, -4.3),
                    **interval("ppl_plain", 269.9, 265.9, 273.8),
                    "ratio": 16.8, "move_iit_015": 0.011, "move_iit_025": 0.0107, "move_plain": 4.2e-8,
                    "dropout_ppl_015": 264.7, "dropout_ppl_025": 271.9, "reported_a": 216.46, "reported_b": 207.15,
                    "memory_writes": 0, "n_seeds": 5, "n_params": 647014, "diff_p": 0.0625, "diff_p_floor": 0.0625,
                    "n_negative": 5, "model_a_recipe_ppl": 260.0, "model_b_recipe_ppl": 500.9, "recipe_seeds_run": 1,
                    "__parameters__": {"corpus": "substitute", "epochs": 2, "dropout_seeds": 2}},
    "p2_collate_postmortem": {"fake": 21.3, "honest": 263.1, "reported_fake": 18.99, "plateau_ppl": 1.005,
                              "cross_step": 150, "steps_per_epoch": 313, "epoch1_ppl": 6.526, "epoch1_step": 300,
                              "orig_epoch1": 1.06,
                              "__parameters__": {"corpus": "substitute", "epochs": 2, "n_layer": 2, "n_embd": 64,
                                                 "curve_lr": 5e-4}},
    "p2_mode_collapse": {"rep_greedy_orig": 0.975, "rep_greedy_plain": 0.975, "rep_t1_orig": 0.24,
                         "rep_t07_orig": 0.66, "rep_t12_orig": 0.2, "n_params": 98_000,
                         "__parameters__": {"corpus": "substitute", "epochs": 2, "n_layer": 2, "n_embd": 64}},
    "p2_expectations": {"n_params_run": 730786, "n_params_full": 71433171, "n_layer_run": 3,
                        "supported_list": "parameters", "refuted_list": "active memory slots; average slot importance",
                        "untestable_list": "test PPL; BLEU-1 against WikiText-2",
                        "__parameters__": {"corpus": "substitute", "epochs": 20}},
    "p3_legal_lora": {"p3_steps": 60, "p3_seeds": 3, "p3_plateaued_seeds": 3, "p3_jurisdiction_majority": 0.361,
                      "p3_jurisdiction_random": 0.241, "p3_jurisdiction_base": 0.108, "p3_topic_majority": 0.350,
                      "p3_topic_random": 0.095, "__parameters__": {"model": "smollm2-135m"},
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
    args: dict | None = None  # the rule's keyword arguments, when not ARGS'
    originals: dict | None = None  # figures of data/originals.yml replaced


# a Part II page that ran model A's size on WikiText-2 (the wikitext-2 profile)
AT_A = {"__parameters__": {"corpus": "wikitext-2", "epochs": 20, "dropout_seeds": 2}, "n_params": 65_324_439}
LATENCY_INTERVALS = {**interval("p3_int8_p50_ms", 324.0, 300.0, 340.0), **interval("p3_int8_agreement", 0.3, 0.25, 0.35),
                     "p3_int8_agreement_n": 295}


def p1e(**kw):
    return {"p1_experiments": kw}


# a Part I page that ran a model of the original's size (the gpu-hub profile): the book's own run then judges
AT_SCALE = {"__parameters__": {"model": "meta-llama/Meta-Llama-3-8B-Instruct"}, "p1e_model_params": 8_030_261_248}


CASES = [
    # the original's ordering C > B > A > D > E, on its own prompt edits, by a run at the original's size
    Case("action_impact_ranking", "supported", p1e(**AT_SCALE), "On the original's own text"),
    Case("action_impact_ranking", "refuted", p1e(**AT_SCALE, **drops("_seed", "EBADC")), "reversed: C < B"),
    Case("action_impact_ranking", "inconclusive", p1e(**AT_SCALE, **interval("p1e_drop_E_seed", 0.1, 0.06, 0.3))),
    # below it, the original's own figures: every gap is narrower than the spread of its repeated control calls
    Case("action_impact_ranking", "inconclusive", {}, "a gap below 0.159 is within resampling"),
    Case("action_impact_ranking", "inconclusive", p1e(**drops("_seed", "EBADC")), "this book's run (SmolLM2"),
    # levels: C > A, B > D > E
    Case("level_hierarchy", "supported", p1e(**AT_SCALE)),
    Case("level_hierarchy", "refuted", p1e(**AT_SCALE, **drops("", "DBACE", "prefix")), "reversed: C < A"),
    Case("level_hierarchy", "inconclusive", p1e(**AT_SCALE, **interval("p1e_prefix_A", 0.3, 0.1, 0.34))),
    # the p(true) drop, where D measures its own bias, is shown and never judged
    Case("level_hierarchy", "supported", p1e(**AT_SCALE, **drops("", "DBACE")), "where D measures its own bias: D"),
    # the unperturbed model's view is the other common scale: shown, not judged
    Case("level_hierarchy", "supported", p1e(**AT_SCALE, **drops("", "ECABD", "view")),
         "what was generated (nats per token), the other common scale: E"),
    # below the original's size: its "embedding" and "logit" levels are prompt edits, so its figures rank wordings
    Case("level_hierarchy", "not supported", {}, "rank prompt wordings, not levels"),
    # Mistral-7B and Llama-3-8B not both run: the book's definition on the original's own Δmem reverses the ranking
    Case("model_robustness_ranking", "not supported", {}, "Mistral-7B 0.872 against Llama-3-8B 0.936"),
    Case("model_robustness_ranking", "not supported", p1e(p1e_robustness_tiny_gpt=0.5), "tiny_gpt 0.500"),
    # a reader's gpu-hub page that ran both named models and glued intervals
    Case("model_robustness_ranking", "supported",
         p1e(**interval("p1e_robustness_mistralai_mistral_7b_instruct_v0_3", 0.96, 0.95, 0.97),
             **interval("p1e_robustness_meta_llama_meta_llama_3_8b_instruct", 0.93, 0.92, 0.94)), "Mistral-7B 0.960"),
    Case("model_robustness_ranking", "refuted",
         p1e(**interval("p1e_robustness_mistralai_mistral_7b_instruct_v0_3", 0.90, 0.89, 0.91),
             **interval("p1e_robustness_meta_llama_meta_llama_3_8b_instruct", 0.93, 0.92, 0.94))),
    Case("model_robustness_ranking", "inconclusive",
         p1e(**interval("p1e_robustness_mistralai_mistral_7b_instruct_v0_3", 0.94, 0.92, 0.96),
             **interval("p1e_robustness_meta_llama_meta_llama_3_8b_instruct", 0.93, 0.92, 0.94)), "overlap"),
    Case("model_robustness_ranking", "inconclusive",
         p1e(p1e_robustness_mistralai_mistral_7b_instruct_v0_3=0.961,
             p1e_robustness_meta_llama_meta_llama_3_8b_instruct=0.936), "two point estimates judge no gap"),
    # judged on natural texts the pretrained models reproduce; rule-generated ones need no memory
    Case("small_models_do_not_memorize", "supported", {}, "natural texts among them: none"),
    Case("small_models_do_not_memorize", "refuted",
         {"p5_memorization_scale": {"p5_pretrained_extractable_texts": "counting, hamlet"}}, "among them: hamlet"),
    Case("small_models_do_not_memorize", "supported",
         {"p5_memorization_scale": {"p5_pretrained_extractable_texts": "", "p5_pretrained_extractable": 0}}),
    Case("memorization_threshold_70b", "refuted", {}, "at least 0.61"),
    Case("memorization_threshold_70b", "supported", {"p5_memorization_scale": {"p5_first_extracting_log10": 10.8}}),
    Case("memorization_threshold_70b", "inconclusive",
         {"p5_memorization_scale": {"p5_first_extracting_log10": math.inf, "p5_top_rate_low": 0.0,
                                    "p5_delta_bic_size": NAN}}, "no variation in extraction"),
    Case("memorization_threshold_70b", "inconclusive",
         {"p5_memorization_scale": {"p5_top_rate_low": 0.0, **interval("p5_slope", NAN, NAN, NAN),
                                    "p5_first_extracting_any_epoch_log10": 4.4}},
         "the smallest size extracting after any epoch: 10^4.4"),
    Case("memorization_threshold_70b", "inconclusive",
         {"p5_memorization_scale": {"p5_first_extracting_log10": math.inf, "p5_top_rate_low": 0.0,
                                    "p5_delta_bic_size": NAN, "p5_first_extracting_any_epoch_log10": math.inf}},
         "no size extracts after any epoch"),
    # single runs by the recipes: they point away from the reported figures, without an interval
    Case("wikitext_ppl_reported", "not supported", {}, "263.1 [255.1, 271.1]"),
    Case("wikitext_ppl_reported", "inconclusive",  # intervals containing the figures, wider than the 5% band
         {"p2_training": {**interval("model_a_recipe_ppl", 215.0, 190.0, 240.0),
                          **interval("model_b_recipe_ppl", 208.0, 204.0, 212.0)}}),
    Case("wikitext_ppl_reported", "supported",
         {"p2_training": {**interval("model_a_recipe_ppl", 215.0, 210.0, 220.0),
                          **interval("model_b_recipe_ppl", 208.0, 204.0, 212.0)}}, "model A by its recipe 215.0"),
    Case("wikitext_ppl_reported", "refuted",
         {"p2_training": {**interval("model_a_recipe_ppl", 260.0, 255.0, 265.0),
                          **interval("model_b_recipe_ppl", 208.0, 204.0, 212.0)}}),
    # below model A's size or off WikiText-2, the original's own plain baseline (187.08, exact as a reported
    # figure) judges: outside 200-300, evidence against a "normal range", not its refutation
    Case("ppl_range_normal", "not supported", {"p2_training": interval("ppl_plain", 250.0, 240.0, 260.0)},
         "187.08 (exact: a figure the original reported"),
    Case("ppl_range_normal", "supported", {"p2_training": interval("ppl_plain", 250.0, 240.0, 260.0)}, "",
         None, {"baseline_no_iit": {"val_ppl": 250.0}}),
    # a run of this book at model A's size on WikiText-2 judges with its interval over seeds
    Case("ppl_range_normal", "supported", {"p2_training": {**AT_A, **interval("ppl_plain", 250.0, 240.0, 260.0)}},
         "at model A's size"),
    Case("ppl_range_normal", "refuted", {"p2_training": {**AT_A, **interval("ppl_plain", 150.0, 140.0, 160.0)}}),
    Case("ppl_range_normal", "refuted", {"p2_training": {**AT_A, **interval("ppl_plain", 350.0, 320.0, 380.0)}}),
    Case("ppl_range_normal", "inconclusive", {"p2_training": {**AT_A, **interval("ppl_plain", 200.0, 190.0, 210.0)}}),
    Case("ppl_range_normal", "inconclusive", {"p2_training": {**AT_A, **interval("ppl_plain", 250.0, NAN, NAN)}},
         "no interval"),
    # a verbatim recall scored below the protocol's threshold refutes the threshold as a test of memorization
    Case("memorization_score_protocol", "refuted", {}, "9 of 10 attractors"),
    Case("memorization_score_protocol", "supported", {"p1_attractors": {"p1a_ceiling_below_07": 0}}),
    # 18.99 is a false perplexity, but one epoch of the copy bug ends near 1: the cause named is not supported
    Case("collate_bug_fake_ppl", "not supported", {}, "stands at 6.53 by step 300"),
    Case("collate_bug_fake_ppl", "supported", {"p2_collate_postmortem": interval("epoch1_ppl", 25.0, 20.0, 30.0)}),
    Case("collate_bug_fake_ppl", "inconclusive", {"p2_collate_postmortem": {"epoch1_ppl": 25.0}}, "no interval"),
    Case("collate_bug_fake_ppl", "inconclusive", {"p2_collate_postmortem": {"epoch1_ppl": 12.0}}),
    Case("collate_bug_fake_ppl", "inconclusive", {"p2_collate_postmortem": {"epoch1_ppl": NAN}}),
    Case("collate_bug_fake_ppl", "refuted", {"p2_collate_postmortem": interval("fake", 200.0, 180.0, 220.0)}),
    Case("collate_bug_fake_ppl", "not supported", {"p2_collate_postmortem": {"fake": 200.0}}, "no interval"),
    Case("collate_bug_fake_ppl", "inconclusive",  # a curve at another lr than the original's cannot place 18.99
         {"p2_collate_postmortem": {"__parameters__": {"corpus": "substitute", "epochs": 2, "n_layer": 2, "n_embd": 64,
                                                       "curve_lr": 0.003}}},
         "a curve at the original's settings is needed"),
    Case("dropout_froze_phi_weights", "refuted", {}),
    Case("dropout_froze_phi_weights", "supported", {"p2_training": {"move_iit_025": 0.001}}),
    Case("dropout_froze_phi_weights", "supported", {"p2_training": {"move_iit_025": 1e-6}}),
    # two means without an interval of their difference can point against the claim, never support it
    Case("dropout_improved_ppl", "not supported", {}, "+2.7%; reported: 207.15 against 216.46, -4.3%"),
    Case("dropout_improved_ppl", "not supported", {}, "means over the same 2 seeds"),
    Case("dropout_improved_ppl", "inconclusive", {"p2_training": {"dropout_ppl_025": 264.6}}, "no interval"),
    Case("dropout_improved_ppl", "supported",
         {"p2_training": interval("dropout_ppl_diff", -10.0, -15.0, -5.0)}, "-10.0 [-15.0, -5.0]"),
    Case("dropout_improved_ppl", "refuted", {"p2_training": interval("dropout_ppl_diff", 7.0, 3.0, 11.0)}),
    Case("dropout_improved_ppl", "inconclusive", {"p2_training": interval("dropout_ppl_diff", 2.0, -3.0, 7.0)}),
    Case("dropout_improved_ppl", "inconclusive", {"p2_training": interval("dropout_ppl_diff", -2.0, -7.0, 3.0)}),
    Case("dropout_improved_ppl", "inconclusive",
         {"p2_training": {"dropout_ppl_025": 264.6, **interval("dropout_ppl_diff", -0.1, NAN, NAN)}}),
    # the ratio is judged only where a page varied it
    Case("ratio_caused_mode_collapse", "not testable here", {}, "the ratio was not varied"),
    Case("ratio_caused_mode_collapse", "supported", {"p2_mode_collapse": interval("rep_ratio_diff", 0.3, 0.2, 0.4)}),
    Case("ratio_caused_mode_collapse", "refuted", {"p2_mode_collapse": interval("rep_ratio_diff", -0.3, -0.4, -0.2)}),
    Case("ratio_caused_mode_collapse", "inconclusive",
         {"p2_mode_collapse": interval("rep_ratio_diff", 0.0, -0.1, 0.1)}),
    # every temperature the claim names that ran
    # single values point; only intervals over the continuations decide
    Case("collapse_at_every_temperature", "not supported", {}, "0.660 (no interval"),
    Case("collapse_at_every_temperature", "supported",
         {"p2_mode_collapse": {**interval("rep_t1_orig", 0.9, 0.85, 0.95), **interval("rep_t07_orig", 0.9, 0.85, 0.95),
                               **interval("rep_t12_orig", 0.8, 0.7, 0.9)}}),
    Case("collapse_at_every_temperature", "refuted",  # T = 0.7 and 1.0 collapse, 1.2 does not
         {"p2_mode_collapse": {**interval("rep_t1_orig", 0.9, 0.85, 0.95), **interval("rep_t07_orig", 0.9, 0.85, 0.95),
                               **interval("rep_t12_orig", 0.3, 0.2, 0.4)}}),
    Case("collapse_at_every_temperature", "inconclusive",
         {"p2_mode_collapse": {"rep_t1_orig": 0.9, "rep_t07_orig": 0.9, "rep_t12_orig": 0.8}}, "no interval"),
    Case("collapse_at_every_temperature", "inconclusive",
         {"p2_mode_collapse": {"rep_t1_orig": NAN, "rep_t07_orig": NAN, "rep_t12_orig": NAN}}, "no sampled"),
    Case("iit_memory_written", "refuted", {}, "written 0 times"),
    Case("iit_memory_written", "supported", {"p2_training": {"memory_writes": 12}}),
    Case("iit_loss_helps", "supported", {}, "unit the seed, n 5"),
    Case("iit_loss_helps", "refuted", {"p2_training": interval("diff", 3.0, 1.0, 5.0)}),
    Case("iit_loss_helps", "inconclusive", {"p2_training": interval("diff", 1.0, -2.0, 4.0)}),
    # 004's projections: the original's own run where it measured them, else the expectations page
    Case("projection", "refuted", {}, "311.94 against the projected 200 to 250"),
    # a count the page glues is exact; a page's verdict on a measurement, without value or interval, is not
    Case("projection", "supported", {}, "71.43 (exact: a count", {"figure": "parameters", "low": 70.5, "high": 71.5}),
    Case("projection", "refuted", {}, "71.43 (exact: a count", {"figure": "parameters", "low": 60.0, "high": 70.0}),
    Case("projection", "inconclusive", {}, "inconclusive: no interval", {"figure": "active memory slots",
                                                                         "low": 100.0, "high": 150.0}),
    Case("projection", "not testable here", {}, "judges it not testable here", {"figure": "test PPL", "low": 55.0,
                                                                       "high": 85.0}),
    Case("original_not_overfitting", "not supported", {}, "best validation epoch was 6 of 20"),
    Case("model_b_changes", "refuted", {}, "the IIT loss is never computed"),
    Case("legal_jurisdiction_accuracy", "refuted", {}, "majority class 0.361"),
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
    # converging is stopping by the plateau: a seed still learning at the cap fails the claim however far it fell
    Case("legal_loss_reduction", "not supported", {"p3_legal_lora": {"p3_plateaued_seeds": 2}},
         "2 of 3 seeds stopped"),
    Case("legal_loss_reduction", "refuted", {"p3_legal_lora": {"p3_plateaued_seeds": 2,
                                                               **interval("p3_loss_reduction", 0.4, 0.3, 0.45)}}),
    Case("legal_beats_random", "supported", {}),
    # the book's cloze task is shown, not judged: the plan has no such criterion
    Case("legal_beats_random", "supported",
         {"p3_legal_lora": {**interval("p3_cloze_vs_random", -0.06, -0.11, -0.01), "p3_cloze_vs_random_p_holm": 0.036}},
         "the book's added cloze task: -0.060"),
    Case("legal_beats_random", "refuted",  # a plan task significantly below random contradicts the criterion
         {"p3_legal_lora": {**interval("p3_topic_vs_random", -0.06, -0.11, -0.01), "p3_topic_vs_random_p_holm": 0.036}}),
    # no task significant, every interval straddling 0: inconclusive, not refuted
    Case("legal_beats_random", "inconclusive", {"p3_legal_lora": NO_TASK_SIGNIFICANT}),
    Case("legal_beats_random", "not supported",  # ... and with every estimate below random, not supported
         {"p3_legal_lora": {**NO_TASK_SIGNIFICANT, "p3_jurisdiction_vs_random": -0.01, "p3_topic_vs_random": -0.02}}),
    Case("legal_beats_random", "inconclusive",  # one task beats random, the other is not significant
         {"p3_legal_lora": {"p3_topic_vs_random_p_holm": 0.2}}),
    Case("legal_gain_over_base", "supported", {}, "over the majority class LoRA (0.450) gains +0.089"),
    Case("legal_gain_over_base", "refuted", {"p3_legal_lora": interval("p3_jurisdiction_vs_base", 0.05, 0.0, 0.1)}),
    Case("legal_gain_over_base", "inconclusive",
         {"p3_legal_lora": interval("p3_jurisdiction_vs_base", 0.16, 0.1, 0.22)}),
    Case("legal_latency", "not supported", {}, "no interval"),
    Case("legal_latency", "refuted", {"p3_legal_lora": LATENCY_INTERVALS}, "n 295 classification test examples"),
    Case("legal_latency", "supported", {"p3_legal_lora": {**interval("p3_int8_p50_ms", 120.0, 110.0, 130.0),
                                                          **interval("p3_int8_agreement", 0.98, 0.97, 0.99)}}),
    Case("legal_latency", "refuted", {"p3_legal_lora": {**interval("p3_int8_p50_ms", 120.0, 110.0, 130.0),
                                                        **interval("p3_int8_agreement", 0.5, 0.45, 0.55)}}),
    Case("legal_latency", "inconclusive", {"p3_legal_lora": {**interval("p3_int8_p50_ms", 120.0, 110.0, 130.0),
                                                             **interval("p3_int8_agreement", 0.93, 0.90, 0.96)}}),
    # arithmetic on the plan's model (data/originals.yml), whatever the book's run was
    Case("legal_deployment_size", "refuted", {}, "1,230 MB at one byte per parameter: refuted"),
    Case("legal_deployment_size", "refuted", {}, "1.95 bits per parameter"),
    # equal precision decides (the claim's "architectural advantage"); int8 against 16 bits would pass
    Case("lora_memory_reduction", "refuted", {}, "81.8% less memory: refuted"),
    Case("lora_memory_reduction", "supported", {}, "90.9% less", {"decides": "int8 against 16-bit"}),
    Case("lora_memory_reduction", "inconclusive", {}, "decide neither", {}),
    # code readings and the originals' own figures (data/originals.yml): no page of the book is read
    Case("lora_trainable_parameters", "refuted", {}, "trains 5,373,952 parameters"),
    Case("original_action_levels", "refuted", {}, "1 of 3 act at the level"),
    Case("original_metric_suite", "refuted", {}, "7 remain"),
    Case("original_training_setting", "refuted", {}, "effective batch 16"),
    Case("original_training_setting", "refuted", {}, "float32", {"setting": "precision"}),
    Case("phi_weights_learned", "not supported", {}, "0.99995 at unit variance"),
    Case("attractor_command_expectation", "refuted", {}, "ignores --models"),
    Case("small_models_max_memorization", "refuted", {}, "0.255 (Mistral-7B, us_constitution)"),
]

# Rules that read the originals' own figures (data/originals.yml): driven by replacing those figures.
REVERSED = {"A": 0.3, "B": 0.2, "C": 0.0, "D": 0.4, "E": 0.5}  # E > D > A > B > C, the claim's order reversed
LEVELS_AS_NAMED = {lv: {"acts_on": lv, "how": f"changes the {lv}s"} for lv in ("token", "embedding", "logit")}
SMALL_AS_STATED = {"Llama-3-8B": {"counting": 0.120}, "Mistral-7B": {"harry_potter": 0.084}}
ORIGINAL_CASES = [
    ("projection", "supported", {"figure": "val PPL after epoch 5", "low": 200.0, "high": 350.0}, {}),
    ("projection", "refuted", {"figure": "best validation PPL", "low": 50.0, "high": 80.0}, {}),
    ("original_not_overfitting", "supported", {}, {"model_a": {"best_epoch": 20}}),
    ("original_not_overfitting", "refuted", {}, {"model_a": {"val_ppl_by_epoch": [300.0, 216.5, 230.0, 260.0]}}),
    ("original_not_overfitting", "supported", {}, {"model_a": {"val_ppl_by_epoch": [300.0, 230.0, 216.5]}}),
    ("model_b_changes", "supported", {}, {"model_b": {"code_differences": ["dropout 0.25"]}}),
    ("legal_deployment_size", "supported", {}, {"plan_model": {"params": 2.0e8}}),
    ("legal_deployment_size", "inconclusive", {}, {"plan_model": {"params": 4.0e8}}),  # int8 over, 4 bits under
    ("lora_memory_reduction", "supported", {}, {"plan_model": {"params": 0.5e9}}),
    # the original's own figures, with a control spread of 0 every gap resolves
    ("action_impact_ranking", "supported", {}, {"lcd_run": {"control_mem": {"Llama-3-8B": {"A": 0.1, "B": 0.1}}}}),
    ("action_impact_ranking", "refuted", {}, {"lcd_run": {"control_mem": {"Llama-3-8B": {"A": 0.1, "B": 0.1}},
                                                           "delta_mem": {"Llama-3-8B": REVERSED}}}),
    ("level_hierarchy", "supported", {}, {"lcd_actions": {"levels": LEVELS_AS_NAMED},
                                          "lcd_run": {"control_mem": {"Llama-3-8B": {"A": 0.1, "B": 0.1}}}}),
    ("level_hierarchy", "refuted", {}, {"lcd_actions": {"levels": LEVELS_AS_NAMED},
                                        "lcd_run": {"control_mem": {"Llama-3-8B": {"A": 0.1, "B": 0.1}},
                                                    "delta_mem": {"Llama-3-8B": REVERSED}}}),
    ("level_hierarchy", "inconclusive", {}, {"lcd_actions": {"levels": LEVELS_AS_NAMED}}),
    # Mistral's changes all small: the book's definition agrees with the claim, but one call per cell supports nothing
    ("model_robustness_ranking", "inconclusive", {}, {"lcd_run": {"delta_mem": {
        "Llama-3-8B": {"A": 0.1, "B": 0.1}, "Mistral-7B": {"A": 0.01, "B": -0.01}}}}),
    # LoRA on q_proj and v_proj only: 1,703,936, within a factor 1.5 of 2M; a 2B base model is not "~1B"
    ("lora_trainable_parameters", "supported", {}, {"plan_lora": {"target_modules": ["q_proj", "v_proj"]}}),
    ("lora_trainable_parameters", "refuted", {}, {"plan_lora": {"target_modules": ["q_proj", "v_proj"]},
                                                  "plan_model": {"params": 2.0e9}}),
    ("original_action_levels", "supported", {}, {"lcd_actions": {"levels": LEVELS_AS_NAMED}}),
    ("original_metric_suite", "supported", {}, {"lcd_metrics": {"fails": {}}}),
    ("original_metric_suite", "refuted", {}, {"lcd_metrics": {"fails": {}, "computed": [f"m{i}" for i in range(9)]}}),
    ("original_training_setting", "supported", {}, {"infinito_training": {"scripts": {
        "A": {"batch": 16, "accumulation": 2, "precision": "float32"}}}}),
    ("original_training_setting", "supported", {"setting": "precision"}, {"infinito_training": {"scripts": {
        "A": {"batch": 16, "accumulation": 1, "precision": "FP16 (automatic mixed precision)"}}}}),
    # a target the weighted sum can reach: the drift would then reflect the data
    ("phi_weights_learned", "supported", {}, {"phi_weights": {"targets": [0.8]}}),
    ("phi_weights_learned", "refuted", {}, {"phi_weights": {"reported": {"temporal": 0.3, "integration": 0.5,
                                                                          "complexity": 0.1, "attention": 0.1}}}),
    # a script that honoured --models, with a logged 70B run
    ("attractor_command_expectation", "supported", {}, {"lcd_attractors": {
        "reads_models_flag": True, "logged": {"Llama-3-70B": {"harry_potter": 0.95}}}}),
    ("attractor_command_expectation", "refuted", {}, {"lcd_attractors": {
        "reads_models_flag": True, "logged": {"Llama-3-70B": {"harry_potter": 0.5}}}}),
    ("attractor_command_expectation", "not testable here", {}, {"lcd_attractors": {
        "reads_models_flag": True, "score_weights": {"exact": 0.0, "leading_words": 0.0, "overlap": 1.0}}}),
    # logs whose maximum is the stated 0.120: the 70B+ half then needs a logged run
    ("small_models_max_memorization", "not supported", {}, {"lcd_attractors": {"logged": SMALL_AS_STATED}}),
    ("small_models_max_memorization", "supported", {}, {"lcd_attractors": {
        "logged": {**SMALL_AS_STATED, "Llama-3-70B": {"harry_potter": 0.98}}}}),
    ("small_models_max_memorization", "refuted", {}, {"lcd_attractors": {
        "logged": {**SMALL_AS_STATED, "Llama-3-70B": {"harry_potter": 0.5}}}}),
]
ARGS = {"projection": {"figure": "val PPL after epoch 5", "low": 200.0, "high": 250.0},
        "lora_memory_reduction": {"decides": "equal precision"}, "lora_trainable_parameters": {"tolerance": 1.5},
        "original_training_setting": {"setting": "accumulation"},
        "attractor_command_expectation": {"attractor": "harry_potter", "model": "Llama-3-70B", "above": 0.9}}

# The verdicts each rule can return.
CAN_RETURN = {
    "action_impact_ranking": {"supported", "refuted", "inconclusive"},
    "level_hierarchy": {"supported", "refuted", "inconclusive", "not supported"},
    "model_robustness_ranking": {"supported", "refuted", "inconclusive", "not supported"},
    "small_models_do_not_memorize": {"supported", "refuted"},
    "memorization_threshold_70b": {"supported", "refuted", "inconclusive"},
    "wikitext_ppl_reported": {"supported", "refuted", "inconclusive", "not supported"},
    "ppl_range_normal": {"supported", "refuted", "inconclusive", "not supported"},
    "memorization_score_protocol": {"supported", "refuted"},
    "collate_bug_fake_ppl": {"supported", "refuted", "not supported", "inconclusive"},
    "dropout_froze_phi_weights": {"supported", "refuted"},
    "dropout_improved_ppl": {"supported", "refuted", "not supported", "inconclusive"},
    "ratio_caused_mode_collapse": {"supported", "refuted", "inconclusive", "not testable here"},
    "collapse_at_every_temperature": {"supported", "refuted", "inconclusive", "not supported"},
    "iit_memory_written": {"supported", "refuted"},
    "iit_loss_helps": {"supported", "refuted", "inconclusive"},
    "projection": {"supported", "refuted", "inconclusive", "not testable here"},
    "original_not_overfitting": {"supported", "refuted", "not supported"},
    "model_b_changes": {"supported", "refuted"},
    "legal_jurisdiction_accuracy": {"supported", "refuted", "inconclusive"},
    "legal_concept_accuracy": {"supported", "refuted", "inconclusive"},
    "legal_loss_reduction": {"supported", "refuted", "inconclusive", "not supported"},
    "legal_beats_random": {"supported", "refuted", "not supported", "inconclusive"},
    "legal_gain_over_base": {"supported", "refuted", "inconclusive"},
    "legal_latency": {"supported", "refuted", "inconclusive", "not supported"},
    "legal_deployment_size": {"supported", "refuted", "inconclusive"},
    "lora_memory_reduction": {"supported", "refuted", "inconclusive"},
    "lora_trainable_parameters": {"supported", "refuted"},
    "original_action_levels": {"supported", "refuted"},
    "original_metric_suite": {"supported", "refuted"},
    "original_training_setting": {"supported", "refuted"},
    "phi_weights_learned": {"supported", "refuted", "not supported"},
    "attractor_command_expectation": {"supported", "refuted", "not testable here"},
    "small_models_max_memorization": {"supported", "refuted", "not supported"},
}


def book_with(changes: dict) -> dict:
    book = copy.deepcopy(BOOK)
    for page, values in changes.items():
        book.setdefault(page, {}).update(values)
    return book


@functools.cache
def _originals() -> dict:
    return ledger.load_originals()  # read once: the rules never change it, and each case merges into a copy


def judge(rule: str, changes: dict, args: dict | None = None, originals: dict | None = None) -> ledger.Verdict:
    figures = _originals()
    for key, values in (originals or {}).items():
        figures = {**figures, key: {**figures[key], **values}}
    return ledger.RULES[rule](ledger.Results.of(book_with(changes), figures), **(ARGS.get(rule, {}) if args is None
                                                                                 else args))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{c.verdict}-{i}" for i, c in enumerate(CASES)])
def test_each_case_gets_its_verdict(case):
    verdict = judge(case.rule, case.changes, case.args, case.originals)
    assert verdict.status == case.verdict, verdict.figure
    assert case.figure_has in verdict.figure


@pytest.mark.parametrize("rule,verdict,args,originals", ORIGINAL_CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(ORIGINAL_CASES)])
def test_each_case_on_the_originals_figures_gets_its_verdict(rule, verdict, args, originals):
    assert judge(rule, {}, args or None, originals).status == verdict


def test_the_cases_reach_every_verdict_of_every_rule():
    assert set(CAN_RETURN) == set(ledger.RULES), "every rule of lab.ledger is declared, and only those"
    reached = {rule: {c.verdict for c in CASES if c.rule == rule} | {c[1] for c in ORIGINAL_CASES if c[0] == rule}
               for rule in ledger.RULES}
    assert reached == CAN_RETURN


def test_every_rule_reaches_both_supported_and_refuted():
    """A rule that cannot return "supported" (or "refuted") for any evidence is a defect. What this book cannot
    run is not a rule: a claim names an ``unreached`` reason instead (ledger.REASONS), which judges nothing."""
    for rule, verdicts in CAN_RETURN.items():
        assert {"supported", "refuted"} <= verdicts, rule


def test_a_reason_says_not_testable_here_and_what_the_book_ran():
    results = ledger.Results.of(book_with({}), ledger.load_originals())
    out_of_reach = ledger.REASONS["models_out_of_reach"](results)
    assert out_of_reach.status == "not testable here" and "at most 135M parameters" in out_of_reach.figure
    why = "no such model can be loaded here"
    assert ledger.REASONS["not_run"](results, why=why) == ledger.Verdict("not testable here", why)
    assert not set(ledger.REASONS) & set(ledger.RULES)


def test_a_claim_names_a_rule_or_a_reason_exactly_once():
    row = dict(id="x", source="001_2f74044695a0fe33.txt", claim="c", test="t", page="p1_attractors",
               section="s", scale={"about": "a", "independent": "arithmetic"})
    for extra in ({}, {"rule": "memorization_score_protocol", "unreached": "not_run"}):
        with pytest.raises(ledger.LedgerError, match="exactly one"):
            ledger.Claim(**row, **extra)
    assert ledger.Claim(**row, unreached="not_run", args={"why": "w"}).read(ledger.Results.of({})).figure == "w"


def groups(changes: dict) -> dict[tuple[str, str], dict]:
    """A case's changes by (page, figure): a value travels with its interval and p-value."""
    out: dict = {}
    for page, values in changes.items():
        for name, value in values.items():
            out.setdefault((page, re.sub(r"_(low|high|p_holm)$", "", name)), {})[name] = value
    return out


@pytest.mark.slow  # about 12 s: every mixture of the cases
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
        for _ in range(200 if options else 1):
            mixed: dict = {}
            for (page, _figure), values in options.items():
                pick = rng.integers(len(values) + 1)  # the last choice leaves BOOK's value
                if pick < len(values):
                    mixed.setdefault(page, {}).update(values[pick])
            for args in {repr(c.args): c.args for c in CASES if c.rule == rule}.values():
                seen.add(judge(rule, mixed, args).status)
        assert seen <= CAN_RETURN[rule], f"{rule} returned {seen - CAN_RETURN[rule]}"


def test_rules_that_judge_a_variable_set_fail_when_it_is_empty():
    p1e_without_robustness = {k: v for k, v in BOOK["p1_experiments"].items() if "robustness" not in k}
    with pytest.raises(ledger.LedgerError, match="p1e_robustness_"):
        ledger.RULES["model_robustness_ranking"](ledger.Results.of({**BOOK, "p1_experiments": p1e_without_robustness}))
    p3_without_tests = {k: v for k, v in BOOK["p3_legal_lora"].items() if "_vs_random" not in k}
    with pytest.raises(ledger.LedgerError, match="p3_jurisdiction_vs_random"):
        ledger.RULES["legal_beats_random"](ledger.Results.of({**BOOK, "p3_legal_lora": p3_without_tests}))
    with pytest.raises(ledger.LedgerError, match="lists no projection"):
        ledger.RULES["projection"](ledger.Results.of(BOOK), figure="no such figure", low=0.0, high=1.0)
