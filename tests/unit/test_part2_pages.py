"""Computed sentences and the projection table of the Part II pages (lab.infinito.chapter)."""
import math

import numpy as np
import torch

from lab import corpus
from lab.infinito import chapter as part2

SMALL = dict(vocab=4096, n_layer=2, n_head=4, n_embd=64, seq_len=64, train_windows=600, val_windows=160)
FULL = dict(vocab=0, n_layer=4, n_head=8, n_embd=512, seq_len=256, train_windows=0, val_windows=0)


def fake_data(name: str, vocab: int = 0) -> part2.Data:
    c = corpus.Corpus(name, np.arange(5000) % 97, np.arange(700) % 97)
    v = corpus.CompactVocab(kept=np.arange(vocab - 1), size=vocab) if vocab else None
    return part2.Data(c, v, torch.zeros(10, 65, dtype=torch.long), torch.zeros(3, 65, dtype=torch.long), None,
                      vocab or 50257)


def test_corpus_sentence_says_when_the_reports_numbers_compare():
    sub = part2.corpus_sentence(SMALL, fake_data("shakespeare-milton", 4096))
    assert "substitute" in sub and "cannot be compared" in sub and "5,000 training" in sub
    for k in part2.REPORTED_ABSOLUTE:
        assert f"{part2.REPORTED[k]:g}" in sub
    small_wiki = part2.corpus_sentence(SMALL, fake_data("wikitext-2", 4096))
    assert "cannot be compared" in small_wiki and "scaled-down" in small_wiki
    full_wiki = part2.corpus_sentence(FULL, fake_data("wikitext-2"))
    assert "can be set beside" in full_wiki and "cannot" not in full_wiki


def test_projections_are_judged_only_at_their_scope():
    measured = {"best val PPL": 60.0, "val PPL epoch 5": 220.0, "parameters (millions)": 71.43,
                "occupied slots": 256.0, "unk share": 0.0, "self-BLEU": 0.75}
    small = {r["figure"]: r["verdict"] for r in part2.judge_projections(measured, SMALL, "shakespeare-milton")}
    assert small["best validation PPL"] == "not testable here"
    assert small["self-BLEU (read as diversity)"] == "not testable here"
    assert small["parameters"] == "met" and small["active memory slots"] == "not met"
    assert small["<unk> share"] == "not testable here"  # the cut vocabulary has an unk id
    assert small["val PPL after epoch 1"] == "not a projection"
    full = {r["figure"]: r["verdict"] for r in part2.judge_projections(measured, FULL, "wikitext-2")}
    assert full["best validation PPL"] == "met" and full["val PPL after epoch 5"] == "met"
    assert full["self-BLEU (read as diversity)"] == "met" and full["<unk> share"] == "met"
    assert full["val PPL after epoch 10"] == "not testable here"  # not measured
    summary = part2.projection_summary(part2.judge_projections(measured, SMALL, "shakespeare-milton"))
    assert (summary["met"], summary["judged"]) == (1, 2) and "parameters" in summary["lists"]["met"]
    assert len(part2.PROJECTIONS) == sum(len(v) for v in summary["lists"].values())


def test_mechanism_sentence_follows_the_numbers():
    unused = part2.mechanism_sentence(260.0, 239.0, 263.0, 242.0)
    assert "not learned to read ahead" in unused and "260.00" in unused and "239.00" in unused
    used = part2.mechanism_sentence(20.0, 240.0, 263.0, 242.0)
    assert "reads ahead" in used and "not learned" not in used
    assert "equally" in part2.collapse_sentence(0.97, 0.95, 0.24, "Balanced (script)")
    assert "+0.300 more" in part2.collapse_sentence(0.9, 0.6, 0.2, "temperature 1.0")


def test_eos_id_survives_only_a_vocabulary_that_keeps_it():
    assert fake_data("x").eos_id == corpus.EOT
    assert fake_data("x", 50).eos_id is None
    d = fake_data("x", 50)
    d.vocab.kept[3] = corpus.EOT
    assert d.eos_id == 3


def fake_grid(seeds=(0, 1, 2), dropout_seeds=1) -> part2.TrainingGrid:
    """Runs with made-up figures: the IIT term lowers PPL by 5 on every seed; phi weights drift by 0.01 per seed."""
    init = dict(zip(part2.COMPONENTS, part2.InfinitoConfig(vocab_size=8).phi_init))
    runs = []
    for s, iit, dropout in [(s, iit, 0.15) for s in seeds for iit in (True, False)] + \
            [(s, True, 0.25) for s in seeds[:dropout_seeds]]:
        weights = {k: w + 0.01 * (s + 1) * (1 if iit else 0) for k, w in init.items()}
        runs.append({"seed": s, "iit": iit, "dropout": dropout, "best val PPL": 100.0 + s - 5.0 * iit,
                     "final train loss": 4.0, "best step": 10, "steps": 10, "stopped early": False,
                     "phi weights": weights, "sigma": 0.1, "memory writes": 0})
    return part2.TrainingGrid(runs, {}, init)


def test_phi_weight_change_is_measured_from_the_models_own_initial_weights():
    grid = fake_grid()
    assert grid.phi_init == dict(zip(part2.COMPONENTS, (0.3, 0.3, 0.2, 0.2)))
    assert math.isclose(part2.phi_weight_change({**grid.phi_init, "complexity": 0.45}, grid.phi_init), 0.25)
    moves = part2.dropout_and_memory(grid, {"seeds": [0, 1, 2], "dropout_seeds": 1})
    assert math.isclose(moves.glued["move_iit_015"], 0.03) and moves.glued["move_plain"] == 0.0
    assert list(moves.glued)[:6] == ["move_iit_015", "move_iit_025", "move_plain", "dropout_ppl_025",
                                     "dropout_ppl_015", "memory_writes"]


def test_iit_comparison_pairs_by_seed_and_cannot_go_below_its_design_floor():
    shown = part2.iit_comparison(fake_grid())
    assert shown.glued["diff"] == -5.0 and shown.glued["n_negative"] == 3 and shown.glued["diff_n"] == 3
    assert shown.glued["diff_p"] >= 0.25 and shown.glued["diff_p_floor"] == 0.25  # 3 pairs: 2 / 2^3
    assert list(shown.table.index) == ["with IIT term", "without IIT term"]
    assert set(shown.record) == {"ppl_iit", "ppl_plain", "paired_difference"}


def test_repetition_figures_read_nan_for_a_decoder_the_page_did_not_run():
    import pandas as pd

    rows = [{"model": m, "decoder": d, "repetition 1-gram": 0.5, "self-BLEU": 0.1}
            for m in part2.COLLAPSE_VARIANTS for d in ("greedy", "temperature 1.0")]
    diversity = part2.Diversity(pd.DataFrame(rows).set_index(["model", "decoder"]), pd.DataFrame())
    shown = part2.repetition_figures(diversity, {"decoders": ["greedy", "temperature 1.0"]})
    assert shown.glued["rep_greedy_orig"] == 0.5 and math.isnan(shown.glued["rep_t07_orig"])
    assert sum(k.startswith("rep_script_") for k in shown.glued) == 3 * len(part2.SCRIPT_PRESETS)
    assert "equally" in shown.record["collapse_sentence"].data
