import numpy as np
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


def _reference_iit(h, attn_layers, learnable_w, base_w=(0.3, 0.3, 0.2, 0.2), target=1.2):
    """The components, phi_base, phi_w and the auxiliary loss written out from their definitions
    (ORIGINAL_REPOS.md B.3 and B.4) in float64 numpy, sharing no code with lab.infinito."""
    h = np.asarray(h, dtype=np.float64)
    a = np.mean([np.asarray(x, dtype=np.float64) for x in attn_layers], axis=0)  # averaged over layers
    batch, length, _ = h.shape
    out = []
    for b in range(batch):
        x = h[b]
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        temporal = (np.mean([unit[t] @ unit[t + 1] for t in range(length - 1)]) + 1) / 2
        q = length // 4  # four contiguous quarters, the remainder dropped
        quarters = [x[i * q:(i + 1) * q].mean(0) for i in range(4)]
        quarters = [m / np.linalg.norm(m) for m in quarters]
        integration = np.mean([abs(quarters[i] @ quarters[j]) for i in range(4) for j in range(i + 1, 4)])
        complexity = 1 / (1 + np.exp(-10 * np.var(x, ddof=1)))  # unbiased, over all L*d entries
        diversity = -np.sum(a[b] * np.log(a[b] + 1e-10)) / np.log(length)
        out.append([temporal, integration, complexity, diversity])
    c = np.array(out)
    phi_base = np.clip(3 * c @ np.asarray(base_w), 0, 10)
    phi_w = c @ np.asarray(learnable_w)
    aux = np.mean((phi_w - target) ** 2) + np.mean(np.maximum(phi_base - phi_w, 0))
    return c, phi_base, phi_w, aux


def test_components_are_in_unit_interval_and_aux_loss_matches_definition():
    torch.manual_seed(0)
    model = Infinito(small()).train()
    # learnable weights away from the fixed ones, so that a mix-up of the two weightings shows
    with torch.no_grad():
        model.phi_logits.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]).log())
    # 18 positions (quarters of 4, two left over) and a small spread, so that complexity is not saturated at 1
    h = 0.2 * torch.randn(3, 18, 32) + 0.1 * torch.randn(3, 1, 32)
    attn = [torch.softmax(2 * torch.randn(3, 18), -1), torch.softmax(torch.randn(3, 18), -1)]
    terms = model.iit_terms(h, attn)
    c, phi_base, phi_w, aux = _reference_iit(h.numpy(), [x.numpy() for x in attn], [0.1, 0.2, 0.3, 0.4])
    assert ((c >= 0) & (c <= 1)).all() and 0.6 < c[:, 2].min() < 0.9  # complexity in its sensitive range
    np.testing.assert_allclose(terms["components"].numpy(), c.mean(0), rtol=1e-5)
    np.testing.assert_allclose(terms["phi_base"].detach().numpy(), phi_base, rtol=1e-5)
    np.testing.assert_allclose(terms["phi_w"].detach().numpy(), phi_w, rtol=1e-5)
    assert float(terms["aux"].detach()) == pytest.approx(aux, rel=1e-5)


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
