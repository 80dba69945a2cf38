import math

import numpy as np
import pytest
import torch

from lab.infinito import leaks, postmortem as pm
from lab.infinito import Infinito, original_config, scaled


def test_padding_share_is_exact_on_a_fixture():
    # batches of 2 in order: (2, 4) padded to 4 -> 8 positions, 6 real; (3,) alone -> 3 positions, 3 real
    r = pm.padding_share([2, 4, 3], batch_size=2)
    assert (r["padded"], r["positions"], r["batches"]) == (2, 11, 2)
    assert r["share"] == pytest.approx(2 / 11)
    # the order decides which lines share a batch: (2, 3) then (4,) -> 1 padded of 10
    assert pm.padding_share([2, 4, 3], batch_size=2, order=[0, 2, 1])["share"] == pytest.approx(1 / 10)


def test_collates_reproduce_the_original_pipelines():
    rows = pm.pack([[5, 6, 7], [8, 9]])
    x, y = pm.LineCollate(False, pad_id=0, eos_id=99)(rows)
    assert x.tolist() == [[5, 6, 7], [8, 9, 0]] and torch.equal(x, y)  # labels = inputs, padding 0 counted
    assert not leaks.label_shift_test(x, y)
    shifted = pm.LineCollate(True, pad_id=0, eos_id=99)
    x, y = shifted(rows)
    assert y.tolist() == [[6, 7, 99], [9, 0, 99]]
    assert leaks.label_shift_test(x, y)
    assert shifted.real_mask(rows).tolist() == [[True, True, False], [True, False, False]]
    assert pm.LineCollate(False, 0, 99).real_mask(rows).tolist() == [[True, True, True], [True, True, False]]


def test_tokenise_lines_keeps_lines_of_more_than_ten_tokens_truncated():
    encode = str.split  # one token per word
    ten, eleven, long = " ".join("w" * 10), " ".join("w" * 11), " ".join("v" * 40)
    assert pm.tokenise_lines(["short\n", ten, eleven, long], encode, max_length=16) == [list("w" * 11), list("v" * 16)]


class _PadLover(torch.nn.Module):
    """Puts all its mass on the padding id, whatever the input: padded labels cost ~0, real ones a lot."""

    def __init__(self, vocab=10, pad=0):
        super().__init__()
        self.vocab, self.pad = vocab, pad
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, labels=None):
        logits = torch.zeros(*idx.shape, self.vocab)
        logits[..., self.pad] = 20.0
        return logits, None


def test_position_losses_split_padding_from_real_tokens_and_average_batches_like_the_original():
    rows = pm.pack([[1, 2, 3, 4], [5, 6], [7, 8, 9]])
    collate = pm.LineCollate(False, pad_id=0, eos_id=9)
    m = pm.position_losses(_PadLover(), rows, collate, batch_size=2)
    real_nll = 20.0 + math.log(1 + 9 * math.exp(-20.0))
    assert m["loss_real"] == pytest.approx(real_nll, rel=1e-4)
    assert m["loss_padded"] < 1e-6
    # batch 1: 8 positions, 2 padded; batch 2: 3 positions, none padded -> mean of the two batch means
    assert m["loss_original"] == pytest.approx((6 / 8 * real_nll + real_nll) / 2, rel=1e-4)
    assert m["padded_label_share"] == pytest.approx(2 / 11)


def test_plateau_rule_finds_the_flat_part_and_can_fail():
    steps = list(range(0, 100, 10))
    ppl = [100, 50, 20, 10, 5, 3, 2.0, 1.99, 1.985, 1.984]
    found = pm.plateau(steps, ppl, window=2, tol=0.01)
    assert found == {"index": 8, "step": 80, "ppl": 1.985}
    falling = [100 * 0.8 ** i for i in range(10)]
    assert pm.plateau(steps, falling, window=2, tol=0.01) is None
    assert pm.first_step_below(steps, ppl, 18.99) == 30 and pm.first_step_below(steps, ppl, 1.0) is None


def _random_lines(n, vocab, seed):
    g = np.random.default_rng(seed)
    return [g.integers(1, vocab, size=g.integers(11, 20)).tolist() for _ in range(n)]


def test_fake_perplexity_of_the_copy_bug_falls_towards_one_within_a_bounded_number_of_steps():
    torch.manual_seed(0)
    vocab = 32
    cfg = scaled(original_config(), vocab_size=vocab, block_size=32, n_layer=1, n_head=2, n_embd=16)
    train, val = pm.pack(_random_lines(256, vocab, 0)), pm.pack(_random_lines(32, vocab, 1))
    curve = pm.train_curve(Infinito(cfg), train, val, pm.LineCollate(False, 0, vocab - 1), steps=60,
                           eval_every=20, lr=1e-2, seed=0)
    assert curve.ppl[0] > 10  # untrained: about the vocabulary size
    assert curve.ppl[-1] < 1.2 and curve.ppl_real[-1] < 1.2  # the random tokens are copied, not predicted


def test_leak_sentence_follows_the_measurement():
    used = pm.leak_sentence({"ppl_full": 2.0, "ppl_past_only": 200.0, "ratio": 100.0}, 1000)
    unused = pm.leak_sentence({"ppl_full": 260.0, "ppl_past_only": 262.0, "ratio": 262 / 260}, 1000)
    assert "uses the leak" in used and "not learned to use" in unused and "1,000 parameters" in unused


def test_one_epoch_of_the_copy_curve_is_read_at_its_last_evaluation_inside_it():
    steps, ppl = [0, 50, 100, 150, 200, 250, 300, 350], [5000, 159, 35, 15.4, 10.3, 8.0, 6.5, 5.6]
    assert pm.at_epoch(steps, ppl, 313) == {"step": 300, "ppl": 6.5}
    assert pm.at_epoch(steps, ppl, 40) is None
    far = pm.verdict_sentence({"step": 300, "ppl": 6.5}, None, 1.28, 313, 18.99)
    assert far.startswith("So 18.99 is not where") and "still falling at the end of the run (1.280)" in far
    assert "can give the figure" in pm.verdict_sentence({"step": 300, "ppl": 25.0}, None, 2.0, 313, 18.99)
    assert "cannot place" in pm.verdict_sentence({"step": 300, "ppl": 12.0}, None, 2.0, 313, 18.99)
    assert "cannot say" in pm.verdict_sentence(None, None, 2.0, 313, 18.99)
    assert "does not stand far below it" in pm.attribution_sentence({"step": 300, "ppl": 12.0}, 0.5, 3.9, 18.99)
    assert "copy task stands far below it" in pm.attribution_sentence({"step": 300, "ppl": 6.5}, 0.5, 0.9, 18.99)
    assert "Taken together" in pm.attribution_sentence({"step": 300, "ppl": 6.5}, 0.5, 3.9, 18.99)
