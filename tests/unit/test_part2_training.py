"""p2_training's runs and what the page shows of them (lab.infinito.runs, lab.infinito.report), on made-up runs."""
import math

import numpy as np
import pytest
import torch

from lab import corpus, cpu
from lab.infinito import report, runs
from lab.infinito.model import COMPONENTS, Infinito, InfinitoConfig

INIT = dict(zip(COMPONENTS, (0.3, 0.3, 0.2, 0.2)))


def fake_run(seed: int, iit: bool, ppl: float, dropout: float = 0.15, name: str = runs.DESIGN,
             plateaued: bool = True, repetition: float = 0.5) -> runs.TrainingRun:
    moved = {k: v + (0.01 * (seed + 1) if iit else 0.0) for k, v in INIT.items()}
    return runs.TrainingRun(
        name=name, seed=seed, iit=iit, dropout=dropout, causal=True, parameters=1000, train_windows=100,
        steps_per_epoch=10, dtype=cpu.DtypeChoice("auto", "float32", "test", {}),
        curve=[{"step": 10, "epoch": 1.0, "val_ppl": ppl + 1, "lr": 1e-3, "phi_weights": INIT},
               {"step": 20, "epoch": 2.0, "val_ppl": ppl, "lr": 1e-3, "phi_weights": moved}],
        steps=30, best_step=20, plateaued=plateaued, val_ppl=ppl, val_ppl_low=ppl - 0.5, val_ppl_high=ppl + 0.5,
        train_ppl=ppl * 0.9, phi_init=INIT, phi_weights=moved, sigma=0.1, memory_writes=0,
        repetition={"greedy": {"repetition 1-gram": repetition + 0.1 * iit, "repetition 2-gram": 0.2,
                               "unique tokens per 100": 40.0 + seed}},
        train_seconds=1.0, seconds=2.0)


def fake_grid(n_seeds: int = 6, effect: float = -5.0) -> runs.PageRuns:
    grid = runs.PageRuns()
    for s in range(n_seeds):
        grid.pairs.append((fake_run(s, True, 100.0 + s + effect + 0.2 * s - 0.5, repetition=0.5 + 0.01 * s),
                           fake_run(s, False, 100.0 + s, repetition=0.5 + 0.02 * s)))
    grid.dropout = [fake_run(0, True, 97.0, dropout=0.25)]
    grid.recipes = [fake_run(0, True, 99.0, name="model A"), fake_run(0, False, 120.0, dropout=0.25, name="model B")]
    return grid


def test_iit_comparison_pairs_by_seed_and_cannot_go_below_its_design_floor():
    table, g = report.iit_comparison(fake_grid())
    assert g["diff"] == pytest.approx(-5.0) and g["n_negative"] == 6 and g["diff_n"] == 6
    assert g["diff_p_floor"] == pytest.approx(2 / 64) and g["diff_p"] >= g["diff_p_floor"]
    assert g["ppl_window_halfwidth"] == pytest.approx(0.5)
    assert list(table.index) == ["with IIT term", "without IIT term"]
    _, three = report.iit_comparison(fake_grid(3))
    assert three["diff_p_floor"] == pytest.approx(0.25)


def test_stopping_counts_a_seed_only_when_both_of_its_runs_plateaued():
    grid = fake_grid(3)
    on, off = grid.pairs[1]
    grid.pairs[1] = (on, runs.TrainingRun(**{**off.__dict__, "plateaued": False}))
    s = report.stopping_figures(grid)
    assert (s["plateaued_seeds"], s["plateaued_runs"], s["n_runs"]) == (2, 8, 9)
    assert s["epochs_max"] == 3.0 and s["best_epoch_max"] == 2.0


def test_the_floor_counts_the_seeds_whose_plain_model_beats_the_bigram():
    floor = runs.Floor(unigram=300.0, bigram_add_k=120.0, bigram_kneser_ney=102.5)
    f = report.floor_figures(floor, fake_grid(6))  # plain runs at 100..105
    assert f["ppl_bigram"] == 102.5 and f["plain_beats_bigram"] == 3


def test_collapse_is_summarised_over_seeds_with_an_interval():
    table, g = report.collapse_table(fake_grid(6))
    assert g["rep_greedy_iit"] == pytest.approx(0.6 + 0.025) and g["rep_greedy_plain"] == pytest.approx(0.55)
    assert g["rep_greedy_iit_low"] < g["rep_greedy_iit"] < g["rep_greedy_iit_high"]
    assert ("greedy", "with IIT term", "unique tokens per 100") in table.index


def test_phi_moves_and_the_reported_figures_come_from_originals_yml():
    shown, g = report.dropout_and_memory(fake_grid(3))
    assert g["move_iit_015"] == pytest.approx(0.03) and g["move_plain"] == 0.0
    assert g["move_iit_025"] == pytest.approx(0.01)
    assert g["dropout_ppl_025"] == 97.0 and g["dropout_ppl_015"] == pytest.approx(94.5)
    o = report.originals()
    assert g["reported_a"] == o["model_a"]["val_ppl"] and g["reported_b"] == o["model_b"]["val_ppl"]
    assert g["reported_complexity"] == o["phi_weights"]["reported"]["complexity"]


def test_recipes_are_averaged_per_recipe():
    schedule = runs.TrainingDesign().schedule()
    settings = {n: runs.recipe_settings(n, schedule) for n in ("model A", "model B")}
    assert settings["model B"]["lr"] == pytest.approx(schedule.lr * 2e-4 / 5e-4)
    table, g = report.recipe_table(fake_grid(3), settings)
    assert g["model_a_recipe_ppl"] == 99.0 and g["model_b_recipe_ppl"] == 120.0 and g["move_model_b"] == 0.0
    assert g["recipe_seeds_run"] == 1 and len(table) == 2 and "Over 1 seed(s)" in g["recipe_sentence"]
    none = runs.PageRuns(pairs=fake_grid(3).pairs)
    _, g = report.recipe_table(none, settings)
    assert g["recipe_seeds_run"] == 0 and "trained neither recipe" in g["recipe_sentence"]


def test_the_conclusion_follows_the_numbers():
    grid = fake_grid(6)
    floor = report.floor_figures(runs.Floor(300.0, 120.0, 110.0), grid)
    _, lower = report.iit_comparison(grid)
    text = report.conclusion(lower, report.stopping_figures(grid), floor, 1000, "shakespeare-milton")
    assert "lowers" in text and "all 15 runs" in text and "none by the cap" in text
    assert "beats the Kneser-Ney bigram (" in text and "1,000-parameter model on the Shakespeare" in text
    _, none = report.iit_comparison(fake_grid(6, effect=0.0))
    capped = {**report.stopping_figures(grid), "plateaued_runs": 13}
    text = report.conclusion(none, capped, {**floor, "plain_beats_bigram": 4}, 1000, "wikitext-2")
    assert "does not change" in text and "2 reached the cap" in text and "in 4 of 6 seeds" in text


def test_the_stopping_rule_reads_as_the_schedule_says():
    rule = runs.TrainingDesign().schedule().stopping_rule()
    assert "3 validations without a gain of 0.005 nats" in rule and "2 times per pass" in rule


def test_window_nll_gives_the_loss_the_trainer_evaluates():
    from lab import train

    torch.manual_seed(0)
    model = Infinito(InfinitoConfig(vocab_size=50, n_layer=1, n_head=2, n_embd=16, block_size=16, causal_mask=True))
    windows = torch.randint(0, 50, (10, 17))
    collate = corpus.make_collate(True, pad_id=49)
    sums, counts = runs.window_nll(model, windows, collate, batch_size=4)
    reference = train.evaluate(model, windows, collate, batch_size=4)["loss"]
    assert sums.sum() / counts.sum() == pytest.approx(reference, rel=1e-5)
    ppl, low, high = runs.perplexity_interval(sums, counts)
    assert low <= ppl <= high and ppl == pytest.approx(math.exp(reference), rel=1e-5)


def test_a_design_refuses_bad_values_before_any_work():
    from lab.publish.params import ParameterError

    with pytest.raises(ParameterError, match="distinct seeds"):
        runs.TrainingDesign(seeds=[0, 0]).check_here()
    with pytest.raises(ParameterError, match="divisible"):
        runs.TrainingDesign(n_embd=30, n_head=4).check_here()
    with pytest.raises(ParameterError, match="wikitext_path"):
        runs.TrainingDesign(corpus="wikitext-2").check_here()
