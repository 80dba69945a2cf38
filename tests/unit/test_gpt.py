import pytest
import torch

from lab.gpt import GPT, GPTConfig


def tiny(**kw):
    base = dict(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=32)
    base.update(kw)
    return GPTConfig(**base)


def test_forward_shapes_and_loss_is_near_uniform_at_init():
    torch.manual_seed(0)
    model = GPT(tiny())
    x = torch.randint(0, 97, (3, 16))
    logits, loss = model(x, x)
    assert logits.shape == (3, 16, 97)
    # GPT-2 init: the untrained model predicts nearly uniformly over the vocabulary.
    assert abs(loss.item() - torch.log(torch.tensor(97.0)).item()) < 0.3


def test_parameter_count_matches_formula():
    c = tiny()
    d, v, L = c.n_embd, c.vocab_size, c.n_layer
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d
    expected = v * d + c.block_size * d + L * block + 2 * d + (v * d + v)
    assert GPT(c).num_parameters() == expected
    tied = GPT(tiny(tie_weights=True)).num_parameters()
    assert tied == expected - v * d - v


def test_sdpa_path_equals_explicit_attention_path():
    torch.manual_seed(1)
    for causal in (True, False):
        model = GPT(tiny(causal_mask=causal)).eval()
        x = torch.randint(0, 97, (2, 12))
        a, _ = model.trunk(x, need_weights=False)
        b, summaries = model.trunk(x, need_weights=True)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        assert summaries[0].shape == (2, 12)
        torch.testing.assert_close(summaries[0].sum(-1), torch.ones(2))


def test_postnorm_has_no_final_norm_and_runs():
    model = GPT(tiny(prenorm=False, init="torch"))
    assert isinstance(model.ln_f, torch.nn.Identity)
    logits, loss = model(torch.randint(0, 97, (1, 8)), torch.randint(0, 97, (1, 8)))
    assert torch.isfinite(loss)


def test_bad_config_and_too_long_input_fail_clearly():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="init"):
        GPTConfig(init="xavier")
    with pytest.raises(ValueError, match="block_size"):
        GPT(tiny())(torch.zeros(1, 40, dtype=torch.long))


def test_ignore_index_positions_do_not_count():
    torch.manual_seed(0)
    model = GPT(tiny()).eval()
    x = torch.randint(0, 97, (1, 8))
    y = x.clone()
    _, full = model(x, y)
    y2 = y.clone()
    y2[0, 4:] = -100
    _, part = model(x, y2)
    logits, _ = model(x)
    manual = torch.nn.functional.cross_entropy(logits[0, :4], y[0, :4])
    torch.testing.assert_close(part, manual)
    assert not torch.allclose(full, part)
