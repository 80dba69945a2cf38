import pytest
import torch

from lab import corpus
from lab.infinito import leaks
from lab.infinito import Infinito, fixed_config, original_config, scaled


def small(config):
    return scaled(config, vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=32)


def test_label_shift_test_fails_on_original_collate_and_passes_on_fixed():
    original = leaks.label_shift_test_collate(corpus.make_collate(shift_labels=False))
    fixed = leaks.label_shift_test_collate(corpus.make_collate(shift_labels=True))
    assert not original and "equal the input at the same position" in original.detail
    assert fixed, fixed.detail


def test_label_shift_test_catches_a_shift_in_the_wrong_direction():
    x = torch.arange(10).view(1, 10)
    assert not leaks.label_shift_test(x, torch.roll(x, 1, dims=1))


def test_causality_test_fails_without_mask_and_passes_with_it():
    torch.manual_seed(0)
    original = leaks.causality_test(Infinito(small(original_config())), vocab_size=101)
    torch.manual_seed(0)
    fixed = leaks.causality_test(Infinito(small(fixed_config())), vocab_size=101)
    assert not original and "sees the future" in original.detail
    assert fixed, fixed.detail


def test_causality_test_leaves_training_mode_as_it_was():
    model = Infinito(small(fixed_config())).train()
    leaks.causality_test(model, vocab_size=101)
    assert model.training


class _NextTokenReader(torch.nn.Module):
    """Reads the token at t+1 (what an unmasked model could learn): certain with the window, blind without."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx, labels=None):
        logits = torch.zeros(*idx.shape, self.vocab)
        logits[:, :-1].scatter_(2, idx[:, 1:, None], 30.0)
        return logits, None


def test_future_reliance_is_one_for_a_causal_model_and_large_for_a_model_reading_the_next_token():
    g = torch.Generator().manual_seed(0)
    windows = torch.randint(0, 101, (4, 17), generator=g)
    torch.manual_seed(0)
    causal = leaks.future_reliance(Infinito(small(fixed_config())), windows)
    assert causal["ratio"] == pytest.approx(1.0, abs=1e-4)
    reader = leaks.future_reliance(_NextTokenReader(101), windows)
    assert reader["ppl_past_only"] == pytest.approx(101, rel=1e-3) and reader["ratio"] > 20
