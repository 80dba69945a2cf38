"""The named configurations of Part II: parameter counts, switches and training recipes against the map of the
original code (ORIGINAL_REPOS.md, B.2, B.6, B.8)."""
import pytest
import torch

from lab import corpus
from lab.infinito import chapter as part2
from lab.infinito import (OCTOBER_PARAMETERS, ORIGINAL_PARAMETERS, RECIPES, Infinito, WritingMemory, fixed_config,
                          model_a_config, model_b_config, october_config, scaled)


def count(config) -> int:
    with torch.device("meta"):
        return Infinito(config).num_parameters()


@pytest.mark.parametrize("make, expected", [(model_a_config, 65_324_439), (model_b_config, 65_324_439),
                                            (fixed_config, 65_324_439), (october_config, 71_433_171)])
def test_parameter_counts_of_the_named_configurations(make, expected):
    assert count(make()) == expected
    assert ORIGINAL_PARAMETERS == 65_324_439 and OCTOBER_PARAMETERS == 71_433_171


def test_october_model_is_six_layers_writing_memory_without_iit_or_phi_weights():
    c = october_config()
    assert (c.n_layer, c.dropout, c.iit, c.learnable_phi, c.memory_kind, c.embd_dropout, c.causal_mask) == \
        (6, 0.1, False, False, "writing", False, False)
    model = Infinito(scaled(c, vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))
    assert model.phi_logits is None and model.phi_weights() == {}
    assert isinstance(model.drop, torch.nn.Identity)
    with pytest.raises(ValueError, match="learnable_phi"):
        october_config(iit=True)


def test_writing_memory_writes_on_every_call_with_importance_one():
    torch.manual_seed(0)
    model = Infinito(scaled(october_config(), vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16,
                            memory_slots=8))
    assert isinstance(model.memory, WritingMemory)
    x = torch.randint(0, 50, (3, 16))
    for _ in range(5):
        model(x)
    st = model.memory.statistics()
    assert st["writes"] == 5 and st["occupied_slots"] == 5
    written = model.memory.importance[model.memory.slots.abs().sum(1) > 0]
    assert torch.allclose(written, torch.ones(5))
    for _ in range(20):  # full: later writes replace slots, never exceed them
        model(x)
    assert model.memory.statistics()["occupied_slots"] == 8
    assert all(p.grad is None for p in model.memory.parameters())


def test_model_b_differs_from_a_in_its_scripts_settings():
    a, b = model_a_config(), model_b_config()
    assert (a.iit, a.dropout) == (True, 0.15) and (b.iit, b.dropout) == (False, 0.25)
    ra, rb = RECIPES["model A"], RECIPES["model B"]
    assert (ra.train["lr"], ra.train["weight_decay"], ra.train["eps"], ra.train["min_delta"]) == (5e-4, 0.01, 1e-9, 0.01)
    assert (rb.train["lr"], rb.train["weight_decay"], rb.train["eps"], rb.window_stride) == (2e-4, 0.05, 1e-8, 0.5)


def test_october_recipe_is_the_scripts_optimiser_and_schedule():
    r = RECIPES["october 6-layer"].train
    assert (r["lr"], r["batch_size"], r["betas"], r["eps"], r["weight_decay"]) == (1e-4, 32, (0.9, 0.98), 1e-9, 0.01)
    assert (r["scheduler"], r["scheduler_interval"], r["min_lr"], r["early_stopping"]) == ("cosine", "epoch", 1e-6, None)
    assert "0949b1fc1b259c010db6ccc98f128a1d6958d46a" in RECIPES["october 6-layer"].source


PROFILE = dict(vocab=0, n_layer=2, n_head=4, n_embd=64, seq_len=32, batch_size=16, epochs=2, train_windows=0,
               val_windows=0, lr=1e-3, eval_every=0, device="cpu", precision="fp32", compile=False)


def test_faithful_training_defaults_and_ratios_to_model_a():
    a = part2.train_config(PROFILE, 0)
    assert (a.eps, a.min_delta, a.betas, a.lr, a.batch_size) == (1e-9, 0.01, (0.9, 0.999), 1e-3, 16)
    o = part2.train_config(PROFILE, 0, "october 6-layer")
    assert o.lr == pytest.approx(2e-4) and o.batch_size == 32 and o.scheduler_interval == "epoch"
    b = part2.train_config(PROFILE, 0, "model B")
    assert b.lr == pytest.approx(4e-4) and b.weight_decay == 0.05 and b.min_delta == 0.0


def test_recipe_sizes_keep_the_layer_ratio_and_model_b_windows_overlap_by_half():
    data = part2.Data(corpus.Corpus("substitute", torch.arange(1000).numpy() % 50, torch.arange(300).numpy() % 50),
                      None, corpus.windows(torch.arange(1000).numpy() % 50, 32), None, None, 50257)
    assert part2.recipe_sizes(PROFILE, data, "october 6-layer")["n_layer"] == 3
    assert part2.recipe_sizes({**PROFILE, "n_layer": 4}, data, "october 6-layer")["n_layer"] == 6
    w = part2.recipe_windows(PROFILE, data, "model B")
    assert w.shape[1] == 33 and torch.equal(w[1, :17], w[0, 16:])  # starts every 16 tokens
    assert part2.recipe_windows(PROFILE, data, "model A") is data.train
