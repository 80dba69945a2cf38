"""The memorization chapter's design: canaries a small share of the stream (checked before any work), every run
trained to its plateau and measured after every epoch (resuming where a kill left it), and the words and figures
the page draws from the measurements, with intervals whose unit is the canary."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from lab.memorization import ladder, report
from lab.memorization.canaries import Canary
from lab.publish.params import ParameterError

DESIGN = dict(sizes=["xs", "s"], train_bytes=800_000, duplicates=[1, 4, 16, 64], per_count=3, held_out=2,
              pretrained=[], device="cpu")


def test_the_published_design_keeps_canaries_under_the_cap():
    share = ladder.canary_share(DESIGN["train_bytes"], DESIGN["duplicates"], DESIGN["per_count"])
    assert 0.03 < share <= ladder.MAX_CANARY_SHARE
    ladder.LadderDesign(**DESIGN).check_here()


def test_a_stream_mostly_canaries_is_refused_before_any_work():
    old = {**DESIGN, "train_bytes": 150_000, "duplicates": [1, 2, 4, 8, 16, 32, 64]}  # an earlier design: 35%
    with pytest.raises(ParameterError, match=r"raise train_bytes to at least [\d,]+"):
        ladder.LadderDesign(**old).check_here()
    with pytest.raises(ParameterError, match="distinct counts"):
        ladder.LadderDesign(**{**DESIGN, "duplicates": [4, 4]}).check_here()
    with pytest.raises(ParameterError, match="unknown size"):
        ladder.LadderDesign(**{**DESIGN, "sizes": ["xs", "huge"]}).check_here()


def test_the_share_the_check_computes_is_the_share_of_the_built_stream():
    corpus = ladder.build_corpus(20_000, [1, 4], 1, 1, seed=0)
    assert len(corpus.canaries[0].tokens) == ladder.CANARY_LENGTH
    assert corpus.share == pytest.approx(ladder.canary_share(20_000, [1, 4], 1))


def test_a_step_refuses_a_stream_that_is_not_the_one_its_key_names():
    stream = ladder.Stream(20_000, (1, 4), 1, 1, 0).pinned()
    assert stream.checked().share > 0
    with pytest.raises(Exception, match="differs from the one"):
        ladder.Stream(20_000, (1, 4), 1, 1, 0, stream_sha256="0" * 64).checked()


TINY = ladder.Schedule(batch_size=32, decay_epochs=2.0, lr_floor=0.01, patience=1, min_improvement=0.01,
                       max_epochs=3, dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny sizes, two seeds, at most three epochs, on a small stream (about 10 s on one core)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LAB_STEPS", "off")  # computed here, written nowhere (checkpoints in the cache's scratch folders)
    try:
        stream = ladder.Stream(20_000, (1, 8), 1, 1, 0).pinned()
        runs = [ladder.train_rung(stream, size, seed, TINY) for size in ("xs", "s") for seed in (0, 1)]
    finally:
        mp.undo()
    return stream, runs


def test_every_run_is_measured_after_every_epoch_and_keeps_its_best(trained):
    stream, runs = trained
    corpus = stream.build()
    for run in runs:
        assert [s.epoch for s in run.snapshots] == list(range(1, run.epochs + 1))
        assert run.canaries == [c.id for c in corpus.canaries]
        assert all(len(s.extractable) == len(corpus.canaries) for s in run.snapshots)
        assert run.snapshots[-1].val_bpb < run.snapshots[0].val_bpb or run.plateaued  # it learns
        assert run.kept.val_bpb == min(s.val_bpb for s in run.snapshots)
        assert run.plateaued == (run.epochs < TINY.max_epochs) or run.plateaued
        assert run.dtype.resolved == "float32"
    lad = report.Ladder(runs, corpus.canaries)
    per = lad.measurements.groupby(["size", "seed", "epoch"]).size()
    assert (per == len(corpus.canaries)).all()
    assert lad.table.index.names == ["size", "seed"] and len(lad.table) == 4


def test_a_killed_run_resumes_with_the_measurements_it_had(tmp_path):
    """Killed after some steps and started again on its checkpoints, a run ends with the same canary measurements
    and validation curve as a run trained straight through."""
    import torch

    from lab.corpus import make_collate, windows
    from lab.gpt import GPT
    from lab.train import TrainConfig

    corpus = ladder.build_corpus(20_000, [1, 8], 1, 1, seed=0)
    train_w, val_w = windows(corpus.train, ladder.SEQ_LEN, pad_id=0), windows(corpus.val, ladder.SEQ_LEN, pad_id=0)

    def trainer(folder):
        torch.manual_seed(0)
        cfg = TrainConfig(lr=3e-3, weight_decay=0.0, batch_size=32, epochs=2, scheduler="none", early_stopping=None,
                          seed=0, progress=False, checkpoint_dir=str(folder))
        return ladder.LadderTrainer(GPT(ladder.model_config("xs")), train_w, val_w, cfg,
                                    make_collate(shift_labels=True, pad_id=0), horizon=8, floor=0.1, corpus=corpus)

    straight = trainer(tmp_path / "straight").fit()
    first = trainer(tmp_path / "killed")
    first.fit(stop_after=first.batches_per_epoch + 1)  # killed one step into the second epoch
    resumed = trainer(tmp_path / "killed").fit()
    assert [e["canaries"] for e in resumed.evals] == [e["canaries"] for e in straight.evals]
    assert [round(e["loss"], 6) for e in resumed.evals] == [round(e["loss"], 6) for e in straight.evals]


# ---------------------------------------------------------------- words and figures from measurements

SIZES = {"xs": (1, 16, 3_312), "m": (2, 64, 100_096), "xl": (4, 128, 793_344)}
CANARIES = [Canary(f"c{i}", "random", 64, (0,) * 64) for i in range(4)] + [Canary("held", "random", 0, (0,) * 64)]


def synthetic(hits: dict, epochs: int = 3, bpb: dict | None = None, seeds=(0,), plateaued=True) -> report.Ladder:
    """A ladder whose measurements are given: ``hits[(size, epoch)]`` = canaries (seen 64 times) extracted of 4,
    the same for every seed; the held-out canary is never extracted."""
    bpb = bpb or {"xs": [4.0, 3.8, 3.7], "m": [3.6, 3.3, 3.1], "xl": [3.5, 3.0, 2.7]}
    runs = []
    for size, (layers, width, n) in SIZES.items():
        for seed in seeds:
            snaps = [ladder.Snapshot(e, bpb[size][e - 1], 1e-3, [int(i < hits.get((size, e), 0)) for i in range(4)] + [0],
                                     [0] * 5, [0.0] * 5) for e in range(1, epochs + 1)]
            best = min(snaps, key=lambda s: s.val_bpb).epoch
            runs.append(ladder.RungRun(size, seed, layers, width, n, n + 1000, 1e-3, 1000,
                                       ladder.cpu.DtypeChoice("float32", "float32", "asked for", {}),
                                       [c.id for c in CANARIES], snaps, best, plateaued, 1.0, 1.0))
    return report.Ladder(runs, CANARIES)


def test_the_onset_is_read_after_each_epoch():
    onset = report.onset_by_epoch(synthetic({("xl", 2): 1, ("xl", 3): 2, ("m", 3): 1}).measurements)
    assert math.isnan(onset[1])
    assert onset[2] == pytest.approx(math.log10(793_344)) and onset[3] == pytest.approx(math.log10(100_096))


@pytest.mark.parametrize("hits, words", [
    ({("xl", 2): 1, ("xl", 3): 2, ("m", 3): 1}, "moves with training (none after 1 epoch, 10^5.9 parameters after "
                                                 "2 epochs, 10^5.0 parameters after 3 epochs)"),
    ({("xl", e): 2 for e in (1, 2, 3)}, "is 10^5.9 parameters after every epoch"),
    ({}, "no size extracts any canary after any epoch"),
])
def test_the_verdict_says_whether_training_moves_the_onset(hits, words):
    lad = synthetic(hits)
    v = report.verdict(report.fit_all(lad, resamples=100, seed=0), lad)
    assert words in v and "nothing here locates or excludes a threshold at 70B" in v


def test_sizes_are_matched_at_the_worst_runs_best_loss():
    target, epoch_of = report.matched_loss(synthetic({}))
    assert target == 3.7 and epoch_of == {("xs", 0): 3, ("m", 0): 1, ("xl", 0): 1}


def test_the_training_sentence_counts_the_runs_that_reached_the_cap():
    lad = synthetic({}, plateaued=False)
    out = report.headline(report.fit_all(lad, 100, 0), lad, pd.DataFrame())
    assert out["p5_still_improving"] == 3 and out["p5_training_sentence"].startswith("3 of 3 runs reached the cap")
    done = synthetic({}, seeds=(0, 1, 2))
    out = report.headline(report.fit_all(done, 100, 0), done, pd.DataFrame())
    assert out["p5_still_improving"] == 0 and out["p5_seeds_per_size"] == 3
    assert out["p5_training_sentence"].startswith("All 9 runs stopped because validation had stopped improving")


def test_the_headline_carries_what_the_ledger_reads():
    lad = synthetic({("xl", 3): 2, ("m", 2): 1})
    out = report.headline(report.fit_all(lad, 100, 0), lad, pd.DataFrame())
    assert out["p5_first_extracting_log10"] == pytest.approx(math.log10(793_344))  # the kept models (epoch 3)
    assert out["p5_first_extracting_any_epoch_log10"] == pytest.approx(math.log10(100_096))
    assert out["p5_top_rate"] == 0.5 and out["p5_top_n"] == 4 and out["p5_epochs"] == 3
    assert out["p5_held_out_n"] == 1 and out["p5_false_positive"] == 0.0  # the unit is the held-out canary
    json.dumps({k: v for k, v in out.items() if not (isinstance(v, float) and not np.isfinite(v))})


def test_seeds_measuring_the_same_canaries_do_not_narrow_the_interval():
    """Three seeds that agree on every canary are three measurements of the same four canaries: the interval over
    canaries is the one of a single seed, not a narrower one."""
    one = report.headline(report.fit_all(lad := synthetic({("xl", 3): 2}), 100, 0), lad, pd.DataFrame())
    three = report.headline(report.fit_all(lad := synthetic({("xl", 3): 2}, seeds=(0, 1, 2)), 100, 0), lad,
                            pd.DataFrame())
    assert (three["p5_top_rate_low"], three["p5_top_rate_high"]) == (one["p5_top_rate_low"], one["p5_top_rate_high"])
    assert three["p5_top_n"] == 4


def test_the_clustered_bootstrap_resamples_units_not_measurements():
    from lab.memorization import scaling

    x = [3.0, 4.0, 5.0]
    outcomes = [np.array([0, 0, 1, 0] * 3), np.array([0, 1, 1, 0] * 3), np.array([1, 1, 1, 0] * 3)]
    units = [np.array(["a", "b", "c", "d"] * 3)] * 3  # four canaries, each measured three times per cell
    clustered = scaling.compare(x, outcomes, resamples=200, seed=0, clusters=units)
    naive = scaling.compare(x, outcomes, resamples=200, seed=0)
    assert clustered.linear.params == naive.linear.params  # the point estimate does not depend on the units
    assert clustered.trials == 36


def test_a_held_out_canary_counts_once_however_many_sizes_and_epochs_extract_it():
    lad = synthetic({})
    df = lad.measurements
    df.loc[(df.duplicates == 0) & (df.epoch >= 2), "extractable"] = 1  # the one held-out canary, by every size
    out = report.headline(report.fit_all(lad, 100, 0), lad, pd.DataFrame())
    assert out["p5_held_out_n"] == 1 and out["p5_false_positive"] == 1.0
    assert out["p5_false_positive_low"] < 0.3  # Wilson over one canary, not over 9 measurements of it


def test_extraction_against_training_carries_an_interval_per_cell():
    table = report.training_table(synthetic({("xl", 2): 4, ("xl", 3): 4}).measurements)
    assert table.loc[("xl", 793_344), "epoch 3 (192 exposures)"] == "1.00 [0.51, 1.00]"  # 4 of 4 canaries, Wilson
    assert table.loc[("xs", 3_312), "epoch 1 (64 exposures)"] == "0.00 [0.00, 0.49]"


def test_memorization_below_the_verbatim_threshold_is_the_copied_canaries_bits_gain():
    """Copied canaries predicted better than held-out ones: a positive gap, with an interval over canaries."""
    rows = [{"canary": f"c{i}", "duplicates": 64, "logprob": -10.0 - i, "parameters": 100, "kept": True}
            for i in range(4)]
    rows += [{"canary": f"h{i}", "duplicates": 0, "logprob": -60.0 - i, "parameters": 100, "kept": True}
             for i in range(4)]
    rows += [{"canary": "c0", "duplicates": 64, "logprob": -80.0, "parameters": 10, "kept": True}]  # a smaller size
    gap, low, high, copied, held = report.bits_gap(pd.DataFrame(rows))
    assert (copied, held) == (4, 4) and 0 < low < gap < high
    assert gap == pytest.approx((61.5 - 11.5) / (32 * math.log(2)))
