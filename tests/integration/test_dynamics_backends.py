import pytest
import torch

from lab.dynamics import actions as act
from lab.dynamics import attractors, observables as obs
from lab.dynamics.backends import BackendError, LocalLM



@pytest.fixture(scope="module")
def lm(tiny_model):
    return LocalLM.load(str(tiny_model))


def _conditions(lm, T=12):
    prompt, _ = attractors.load(["gettysburg_address"])[0].split(lm.encode, 16)
    conds = [act.control(prompt, 0)]
    for a in act.expand({"A": [2], "B": [2], "C": [40.0], "D": [3.0], "E": [2], "A_seed": [], "C_seed": []}):
        conds += [a.apply(prompt, lm, s, T) for s in (0, 1)]
    return conds


def test_batched_kv_generation_equals_one_prompt_at_a_time_generate(lm):
    conds = _conditions(lm)
    batched = lm.generate(conds, 12, batch_size=5)
    single = lm.generate_one_by_one(conds, 12)
    assert [g.tokens for g in batched] == single
    assert any(g.tokens != batched[0].tokens for g in batched[1:])  # the perturbations do something


def test_shock_tokens_are_forced_at_their_step(lm):
    c = act.make("E", 3).apply(_conditions(lm)[0].prompt_ids, lm, 4, 12)
    [g] = lm.generate([c], 12)
    assert tuple(g.tokens[c.shock_step:c.shock_step + 3]) == c.shock_ids


def test_teacher_forcing_reproduces_the_generation_and_kl_is_zero_for_the_control(lm):
    conds = _conditions(lm)
    gens = lm.generate(conds, 12)
    control = gens[0].tokens
    lps = lm.teacher_forced(conds, [control] * len(conds), lambda i, lp, toks: lp)
    assert lps[0].argmax(-1).tolist() == control  # greedy = argmax of the teacher-forced distribution
    d = [c for c in conds if c.action == "D"][0]
    [gd] = lm.generate([d], 12)
    [lpd] = lm.teacher_forced([d], [gd.tokens], lambda i, lp, toks: lp)
    assert lpd.argmax(-1).tolist() == gd.tokens  # the logit processor is the same in both passes
    kl = [obs.kl_per_step(lps[0], lp) for lp in lps]
    assert float(kl[0].max()) < 1e-5
    assert all(float(k.mean()) > 1e-7 for k, c in zip(kl, conds) if c.action in ("A", "B", "C", "D"))
    assert all(float(k.mean()) > 0.05 for k, c in zip(kl, conds) if c.action in ("C", "D"))
    e = next(i for i, c in enumerate(conds) if c.action == "E")
    assert float(kl[e][:conds[e].shock_step].max()) < 1e-5 < float(kl[e][conds[e].shock_step:].max())


def test_noise_scale_follows_neftune(lm):
    c = act.make("C", 8.0).apply([0, 5, 6, 7, 8], lm, 0, 4)
    ids, mask = lm._left_pad([c.prompt_ids])
    with torch.no_grad():
        clean = lm.model.get_input_embeddings()(ids)
        noisy = lm._embed(ids, mask, [c], [5])
    assert float((noisy - clean).norm()) == pytest.approx(8.0, rel=0.25)  # Frobenius norm ~ alpha


def test_tail_bias_only_moves_tokens_outside_the_top_k(lm):
    logits = torch.randn(3, lm.model.config.vocab_size)
    c = act.Condition("D", 5.0, 0, (1,), tail_bias=5.0, tail_top_k=4)
    out = lm._process(logits.clone(), [c, act.control([1], 0), c])
    top = logits[0].topk(4).indices
    assert torch.equal(out[0, top], logits[0, top])
    rest = torch.ones(logits.shape[1], dtype=torch.bool)
    rest[top] = False
    assert torch.allclose(out[0, rest], logits[0, rest] + 5.0) and torch.equal(out[1], logits[1])


def test_bad_models_fail_before_any_work(tmp_path):
    with pytest.raises(BackendError, match="unknown model"):
        LocalLM.load("llama-70b")
