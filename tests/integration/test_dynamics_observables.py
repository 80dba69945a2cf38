import math

import pytest
import torch

from lab.dynamics import observables as obs


def _logp(seed, T=4, V=50, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(torch.randn(T, V, generator=g) * scale, -1)


def test_kl_is_exact_zero_on_itself_and_matches_scipy():
    from scipy.stats import entropy

    p, q = _logp(0), _logp(1)
    assert torch.allclose(obs.kl_per_step(p, p), torch.zeros(4), atol=1e-6)
    want = [entropy(p[t].exp().numpy(), q[t].exp().numpy()) for t in range(4)]
    assert torch.allclose(obs.kl_per_step(p, q), torch.tensor(want, dtype=torch.float32), rtol=1e-4)


@pytest.mark.parametrize("seed", range(10))
def test_topk_bound_never_exceeds_the_exact_kl(seed):
    p, q = _logp(seed, T=1)[0], _logp(seed + 100, T=1, scale=1.5)[0]
    exact = float(obs.kl_per_step(p[None], q[None])[0])
    for k in (1, 5, 20, 50):
        tp = {str(i): float(p[i]) for i in p.topk(k).indices}
        tq = {str(i): float(q[i]) for i in q.topk(k).indices}
        assert obs.kl_topk_lower_bound(tp, tq) <= exact * (1 + 1e-5) + 1e-6  # float32 logits
    full = {str(i): float(p[i]) for i in range(50)}
    fullq = {str(i): float(q[i]) for i in range(50)}
    assert obs.kl_topk_lower_bound(full, fullq) == pytest.approx(exact, rel=1e-4)


def test_sequence_observables():
    assert obs.edit_distance([1, 2, 3], [1, 3]) == 1 and obs.edit_distance([], [4, 5]) == 2
    assert obs.divergence_onset([1, 2, 3], [1, 2, 3]) is None
    assert obs.divergence_onset([1, 2, 3], [1, 9, 3]) == 1
    assert obs.matched_prefix_length([5, 6, 7], [5, 6, 0]) == 2
    true = list(range(60))
    assert obs.k_extractable(true[:50], true, 32) is True and obs.k_extractable(true[:50], true, 50) is True
    assert obs.k_extractable(true[:31] + [99], true, 32) is False
    assert obs.k_extractable(true[:40], true, 50) is None  # not enough generated: unavailable
    assert obs.k_extractable(true, true[:20], 32) is None  # not enough true text: unavailable


def test_true_token_probabilities():
    lp = _logp(3)
    got = obs.true_token_probabilities(lp, [0, 1, 2, 3])
    assert got == pytest.approx([math.exp(float(lp[i, i])) for i in range(4)])


def test_embedding_distance_uses_the_real_sentence_model():
    d = obs.embedding_distances([("Four score and seven years ago", "Four score and seven years ago"),
                                 ("Four score and seven years ago", "Four score and seven years past"),
                                 ("Four score and seven years ago", "def main(): print('hello')")])
    assert d[0] == pytest.approx(0.0, abs=1e-5)
    assert 0 < d[1] < d[2]
