"""Computed sentences and the projection table of the Part II pages (lab.infinito.chapter)."""
import math

import numpy as np
import torch

from lab import corpus
from lab.infinito import chapter as part2, expectations
from lab.verdicts import VERDICTS

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
    for value in part2.reported_perplexities():  # read from data/originals.yml
        assert f"{value:g}" in sub
    small_wiki = part2.corpus_sentence(SMALL, fake_data("wikitext-2", 4096))
    assert "cannot be compared" in small_wiki and "scaled-down" in small_wiki
    full_wiki = part2.corpus_sentence(FULL, fake_data("wikitext-2"))
    assert "can be set beside" in full_wiki and "cannot" not in full_wiki


def test_projections_are_judged_only_at_their_scope():
    measured = {"best val PPL": 60.0, "val PPL epoch 5": 220.0, "parameters (millions)": 71.43,
                "occupied slots": 256.0, "unk share": 0.0, "self-BLEU": 0.75}
    full_size = expectations.OCTOBER_PARAMETERS
    scaled_down = expectations.run_scale(full_size, 4096, "shakespeare-milton", at_size=False)
    small = {r["figure"]: r["verdict"] for r in expectations.judge_projections(measured, scaled_down)}
    assert small["best validation PPL"] == "not testable here"
    assert small["self-BLEU (read as diversity)"] == "not testable here"
    assert small["parameters"] == "supported" and small["active memory slots"] == "refuted"
    assert small["<unk> share"] == "not testable here"  # the cut vocabulary has an unk id
    assert small["val PPL after epoch 1"] == "not a projection"
    original = expectations.run_scale(full_size, 50257, "wikitext-2", at_size=True)
    full = {r["figure"]: r["verdict"] for r in expectations.judge_projections(measured, original)}
    assert full["best validation PPL"] == "supported" and full["val PPL after epoch 5"] == "supported"
    assert full["self-BLEU (read as diversity)"] == "supported" and full["<unk> share"] == "supported"
    assert full["val PPL after epoch 10"] == "not testable here"  # not measured
    on_substitute = expectations.run_scale(full_size, 50257, "shakespeare-milton", at_size=True)
    other = {r["figure"]: r["verdict"] for r in expectations.judge_projections(measured, on_substitute)}
    assert other["best validation PPL"] == "not testable here" and other["self-BLEU (read as diversity)"] == "supported"
    summary = expectations.projection_summary(expectations.judge_projections(measured, scaled_down))
    assert (summary["supported"], summary["judged"]) == (1, 2) and "parameters" in summary["lists"]["supported"]
    assert len(expectations.PROJECTIONS) == sum(len(v) for v in summary["lists"].values())
    verdicts = {r["verdict"] for r in expectations.judge_projections(measured, original)}
    assert verdicts - {expectations.NOT_PROJECTED} <= set(VERDICTS)  # the book's one vocabulary


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


def test_repetition_figures_read_nan_for_a_decoder_the_page_did_not_run():
    import pandas as pd

    rows = [{"model": m, "decoder": d, "repetition 1-gram": 0.5, "self-BLEU": 0.1}
            for m in part2.COLLAPSE_VARIANTS for d in ("greedy", "temperature 1.0")]
    diversity = part2.Diversity(pd.DataFrame(rows).set_index(["model", "decoder"]), pd.DataFrame())
    shown = part2.repetition_figures(diversity, {"decoders": ["greedy", "temperature 1.0"]})
    assert shown.glued["rep_greedy_orig"] == 0.5 and math.isnan(shown.glued["rep_t07_orig"])
    assert sum(k.startswith("rep_script_") for k in shown.glued) == 3 * len(part2.SCRIPT_PRESETS)
    assert "equally" in shown.record["collapse_sentence"].data


def test_a_blank_continuation_says_why_it_is_blank():
    assert "end-of-text" in part2.shown_text({"ids": [], "text": ""})
    assert part2.shown_text({"ids": [5, 5], "text": "\n\n"}) == "(blank: 2 tokens that decode to whitespace only, '\\n\\n')"
    assert part2.shown_text({"ids": [5], "text": "word"}) == "word"
