import pytest
import torch

from lab import infinito
from lab.infinito import Infinito, original_config, fixed_config, scaled


def small(**kw):
    return scaled(original_config(), vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=32, **kw)


def test_original_configuration_has_exactly_65_324_439_parameters():
    with torch.device("meta"):
        model = Infinito(original_config())
    assert model.num_parameters() == infinito.ORIGINAL_PARAMETERS == 65_324_439
    with torch.device("meta"):
        assert Infinito(fixed_config()).num_parameters() == 65_324_439
        # the IIT flag changes the loss, not the architecture: the ablation is one flag apart
        assert Infinito(original_config(iit=False)).num_parameters() == 65_324_439


def test_original_switches():
    c = original_config()
    assert (c.causal_mask, c.prenorm, c.tie_weights, c.block_size, c.dropout) == (False, False, False, 1000, 0.15)
    assert fixed_config().causal_mask is True


def test_phi_weights_start_at_reported_values_and_move_only_with_iit_loss():
    torch.manual_seed(0)
    x = torch.randint(0, 101, (4, 16))
    for iit, should_move in ((True, True), (False, False)):
        model = Infinito(small(iit=iit)).train()
        w0 = model.phi_weights()
        assert [round(v, 6) for v in w0.values()] == [0.3, 0.3, 0.2, 0.2]
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        for _ in range(3):
            _, loss = model(x, x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        moved = max(abs(model.phi_weights()[k] - w0[k]) for k in w0)
        assert (moved > 1e-3) == should_move, (iit, moved)


def test_components_are_in_unit_interval_and_aux_loss_matches_definition():
    torch.manual_seed(0)
    model = Infinito(small()).train()
    h = torch.randn(3, 16, 32)
    attn = torch.softmax(torch.randn(3, 16), -1)
    terms = model.iit_terms(h, [attn, attn])
    c = torch.stack([infinito.temporal_coherence(h), infinito.integration_strength(h), infinito.complexity(h),
                     infinito.attention_diversity(attn)], 1)
    assert bool(((c >= 0) & (c <= 1)).all())
    w = torch.tensor([0.3, 0.3, 0.2, 0.2])
    phi_w = (c * w).sum(1)
    phi_base = (3 * phi_w).clamp(0, 10)
    expected = ((phi_w - 1.2) ** 2).mean() + torch.relu(phi_base - phi_w).mean()
    torch.testing.assert_close(terms["aux"], expected)


def test_uniform_attention_has_diversity_one_and_identical_positions_coherence_one():
    attn = torch.full((2, 8), 1 / 8)
    torch.testing.assert_close(infinito.attention_diversity(attn), torch.ones(2))
    h = torch.randn(2, 1, 5).expand(2, 8, 5)
    torch.testing.assert_close(infinito.temporal_coherence(h), torch.ones(2))


def test_memory_never_writes_and_noise_only_in_training():
    torch.manual_seed(0)
    model = Infinito(small()).train()
    x = torch.randint(0, 101, (4, 16))
    for _ in range(3):
        model(x, x)
    assert int(model.memory.write_count) == 0 and int(model.memory.global_time) == 3
    # a threshold below the priority would write: the rule is live, the original's threshold just never lets it
    model.memory.threshold_logit.data.fill_(-5.0)
    model(x, x)
    assert int(model.memory.write_count) == 4
    model.eval()
    a, _ = model(x)
    b, _ = model(x)
    torch.testing.assert_close(a, b)
    model.train()
    torch.manual_seed(1)
    c, _ = model(x)
    torch.manual_seed(2)
    d, _ = model(x)
    assert not torch.allclose(c, d)


def test_scaled_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown"):
        scaled(original_config(), n_embed=3)
