"""The memorization chapter's design: canaries a small share of the stream (checked before any work), training
measured epoch by epoch as one run, and the words and figures it draws from the measurements."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lab.memorization import chapter as ch

PARAMS = {"sizes": ["xs", "s"], "train_bytes": 800_000, "epochs": 2, "duplicates": [1, 4, 16, 64], "per_count": 3,
          "held_out": 2, "api_models": []}


def test_the_published_design_keeps_canaries_under_the_cap():
    share = ch.canary_share(PARAMS["train_bytes"], PARAMS["duplicates"], PARAMS["per_count"])
    assert 0.03 < share <= ch.MAX_CANARY_SHARE
    ch.check(PARAMS)


def test_a_stream_mostly_canaries_is_refused_before_any_work():
    old = {**PARAMS, "train_bytes": 150_000, "duplicates": [1, 2, 4, 8, 16, 32, 64]}  # the previous design: 35%
    with pytest.raises(ValueError, match=r"raise train_bytes to at least [\d,]+"):
        ch.check(old)
    with pytest.raises(ValueError, match="distinct counts"):
        ch.check({**PARAMS, "duplicates": [4, 4]})


def test_the_share_the_check_computes_is_the_share_of_the_built_stream():
    corpus = ch.build_corpus(20_000, [1, 4], 1, 1, seed=0)
    assert len(corpus.canaries[0].tokens) == ch.CANARY_LENGTH
    built = 1 - corpus.clean_bytes / len(corpus.train)
    assert built == pytest.approx(ch.canary_share(20_000, [1, 4], 1))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny rungs, three epochs, on a small stream (about 20 s on one core)."""
    runs = tmp_path_factory.mktemp("runs")
    old, ch.RUNS = ch.RUNS, runs
    try:
        corpus = ch.build_corpus(20_000, [1, 8], 1, 1, seed=0)
        ladder = ch.train_ladder(["xs", "s"], corpus, 3, seed=0, device="cpu", batch_size=32)
    finally:
        ch.RUNS = old
    return corpus, ladder, runs


def test_every_rung_is_measured_after_every_epoch(trained):
    corpus, ladder, _ = trained
    df = ladder.measurements
    assert sorted(df.epoch.unique()) == [1, 2, 3]
    per = df.groupby(["size", "epoch"]).size()
    assert (per == len(corpus.canaries) * len(ch.MEASURES)).all()
    for rung in ladder.rungs:
        assert [c["epoch"] for c in rung.curve] == [1, 2, 3]
        assert rung.curve[-1]["val_bpb"] < rung.curve[0]["val_bpb"]  # it learns
    assert list(ladder.table.columns[-2:]) == ["gain in the last epoch", "still improving"]


def test_epoch_snapshots_are_one_run_not_separate_shorter_runs(trained, tmp_path):
    """The staged run (one epoch at a time, resumed from its checkpoint) ends with the weights of a run trained
    straight through: a constant learning rate makes epoch e a snapshot of the longer run."""
    import torch

    from lab.corpus import make_collate, windows
    from lab.gpt import GPT
    from lab.train import TrainConfig, train

    corpus, ladder, _ = trained
    cfg = ch.model_config("xs")
    torch.manual_seed(0)
    model = GPT(cfg)
    tcfg = TrainConfig(lr=ch.learning_rate(cfg.n_embd), weight_decay=0.0, batch_size=32, epochs=3, grad_clip=1.0,
                       scheduler="none", early_stopping=None, seed=0, progress=False)
    train(model, windows(corpus.train, ch.SEQ_LEN, pad_id=0), windows(corpus.val, ch.SEQ_LEN, pad_id=0), tcfg,
          make_collate(shift_labels=True, pad_id=0))
    staged = ladder.rungs[0].model.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, staged[name]), name


def test_a_rerun_reads_the_measurements_it_already_made(trained):
    corpus, ladder, runs = trained
    old, ch.RUNS = ch.RUNS, runs
    try:
        files = sorted(runs.rglob("measured-e*.json"))
        assert len(files) == 2 * 3
        again = ch.train_ladder(["xs", "s"], corpus, 3, seed=0, device="cpu", batch_size=32)
    finally:
        ch.RUNS = old
    pd.testing.assert_frame_equal(again.measurements, ladder.measurements)


# ---------------------------------------------------------------- words and figures from measurements

def synthetic(hits: dict, epochs: int = 3, bpb: dict | None = None) -> ch.Ladder:
    """A ladder whose measurements are given: ``hits[(size, epoch)]`` = canaries (seen 64 times) extracted of 4."""
    sizes = {"xs": 3_312, "m": 100_096, "xl": 793_344}
    bpb = bpb or {"xs": [4.0, 3.8, 3.7], "m": [3.6, 3.3, 3.1], "xl": [3.5, 3.0, 2.7]}
    rows, rungs = [], []
    for size, n in sizes.items():
        curve = [{"epoch": e, "tokens_seen": e * 1000, "val_bpb": bpb[size][e - 1]} for e in range(1, epochs + 1)]
        rungs.append(ch.Rung(size, SimpleNamespace(config=SimpleNamespace(n_layer=1, n_embd=16)), n, n + 1000, curve))
        for e in range(1, epochs + 1):
            k = hits.get((size, e), 0)
            for i in range(4):
                rows.append({"size": size, "parameters": n, "epoch": e, "prefix": 32, "k": 32, "duplicates": 64,
                             "canary": f"c{i}", "extractable": int(i < k)})
            rows.append({"size": size, "parameters": n, "epoch": e, "prefix": 32, "k": 32, "duplicates": 0,
                         "canary": "held", "extractable": 0})
    return ch.Ladder(rungs, pd.DataFrame(rows))


def test_the_onset_is_read_after_each_epoch():
    ladder = synthetic({("xl", 2): 1, ("xl", 3): 2, ("m", 3): 1})
    onset = ch.onset_by_epoch(ladder.measurements)
    assert math.isnan(onset[1])
    assert onset[2] == pytest.approx(math.log10(793_344)) and onset[3] == pytest.approx(math.log10(100_096))


@pytest.mark.parametrize("hits, words", [
    ({("xl", 2): 1, ("xl", 3): 2, ("m", 3): 1}, "moves with training (none after 1 epoch, 10^5.9 parameters after "
                                                 "2 epochs, 10^5.0 parameters after 3 epochs)"),
    ({("xl", e): 2 for e in (1, 2, 3)}, "is 10^5.9 parameters after every epoch"),
    ({}, "no size extracts any canary after any epoch"),
])
def test_the_verdict_says_whether_training_moves_the_onset(hits, words):
    ladder = synthetic(hits)
    cmps = ch.fit_all(ladder, resamples=100, seed=0)
    v = ch.verdict(cmps, ladder)
    assert words in v and "nothing here locates or excludes a threshold at 70B" in v


def test_sizes_are_matched_at_the_worst_rungs_last_loss():
    target, epoch_of = ch.matched_loss(synthetic({}))
    assert target == 3.7 and epoch_of == {"xs": 3, "m": 1, "xl": 1}


def test_the_training_sentence_says_which_rungs_were_still_improving():
    flat = synthetic({}, bpb={"xs": [4.0, 3.8, 3.795], "m": [3.6, 3.3, 3.295], "xl": [3.5, 3.0, 2.7]})
    out = ch.headline(ch.fit_all(flat, 100, 0), flat, pd.DataFrame())
    assert out["p5_still_improving"] == 1 and out["p5_training_sentence"].startswith("xl was still improving")
    done = synthetic({}, bpb={"xs": [4.0, 3.8, 3.8], "m": [3.6, 3.3, 3.3], "xl": [3.5, 3.0, 3.0]})
    out = ch.headline(ch.fit_all(done, 100, 0), done, pd.DataFrame())
    assert out["p5_training_sentence"].startswith("Every rung had stopped improving")


def test_the_headline_carries_what_the_ledger_reads():
    ladder = synthetic({("xl", 3): 2, ("m", 2): 1})
    out = ch.headline(ch.fit_all(ladder, 100, 0), ladder, pd.DataFrame())
    assert out["p5_first_extracting_log10"] == pytest.approx(math.log10(793_344))  # after the last epoch
    assert out["p5_first_extracting_any_epoch_log10"] == pytest.approx(math.log10(100_096))
    assert out["p5_top_rate"] == 0.5 and out["p5_top_n"] == 4 and out["p5_epochs"] == 3
    assert out["p5_held_out_n"] == 1 and out["p5_false_positive"] == 0.0  # the unit is the held-out canary


def test_a_held_out_canary_counts_once_however_many_sizes_and_epochs_extract_it():
    ladder = synthetic({})
    df = ladder.measurements
    df.loc[(df.duplicates == 0) & (df.epoch >= 2), "extractable"] = 1  # the one held-out canary, by every size
    out = ch.headline(ch.fit_all(ladder, 100, 0), ladder, pd.DataFrame())
    assert out["p5_held_out_n"] == 1 and out["p5_false_positive"] == 1.0
    assert out["p5_false_positive_low"] < 0.3  # Wilson over one canary, not over 9 measurements of it
    json.dumps({k: v for k, v in out.items() if not (isinstance(v, float) and not np.isfinite(v))})


def test_extraction_against_training_carries_an_interval_per_cell():
    table = ch.training_table(synthetic({("xl", 2): 1, ("xl", 3): 2}).measurements)
    assert table.loc[("xl", 793_344), "epoch 3 (192 exposures)"] == "0.50 [0.15, 0.85]"  # 2 of 4, Wilson
    assert table.loc[("xs", 3_312), "epoch 1 (64 exposures)"] == "0.00 [0.00, 0.49]"
