"""benchmarks/ceiling.py counts each workload's FLOPs with torch's FlopCounterMode; these tests hold that count to
an analytic one from the shapes (so that a fraction of the peak is a fraction of the right number)."""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from lab.paths import REPO

spec = importlib.util.spec_from_file_location("ceiling", REPO / "benchmarks" / "ceiling.py")
ceiling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ceiling)


def test_a_gpt_training_step_counts_as_its_shapes_say():
    from lab.gpt import GPT, GPTConfig, make_adamw

    torch.manual_seed(0)
    batch, length, layers, width, vocab = 4, 32, 2, 64, 300
    model = GPT(GPTConfig(vocab_size=vocab, block_size=length, n_layer=layers, n_head=2, n_embd=width))
    optimizer = make_adamw(model, lr=1e-3, weight_decay=0.0)
    x = torch.randint(0, vocab, (batch, length))

    def step():
        _, loss = model(x, x)
        loss.backward()
        optimizer.step()

    assert ceiling.counted_flops(step) == ceiling.gpt_step_flops(batch, length, layers, width, vocab)


def test_a_lora_step_counts_as_its_shapes_say(tiny_model):
    from lab import models
    from lab.legal import lora

    lm, _ = models.load(str(tiny_model))
    settings = lora.LoraSettings(r=4, target_modules=("q_proj", "v_proj", "o_proj", "gate_proj"))
    model = lora.attach_lora(lm, settings)
    model.train()
    ids = torch.randint(3, lm.config.vocab_size, (3, 20))
    labels = torch.full_like(ids, -100)
    labels[:, 12:] = ids[:, 12:]  # 8 answer positions per row, each scored from the position before it
    mask = torch.ones_like(ids)

    def step():
        lora.answer_token_losses(model, ids, labels, mask)[0].mean().backward()

    expected = ceiling.lora_step_flops(model, tokens=ids.numel(), answer_tokens=3 * 8, r=4,
                                       targets=settings.target_modules)
    assert ceiling.counted_flops(step) == pytest.approx(expected, rel=0.01)


def test_attention_is_added_from_its_shapes():
    assert ceiling.attention_flops(2, 3, 10, 8, 4, training=False) == 4 * 2 * 3 * 100 * 8 * 4
    assert ceiling.attention_flops(2, 3, 10, 8, 4, training=True) == 3 * 4 * 2 * 3 * 100 * 8 * 4


def test_the_committed_ceiling_names_its_machine_and_meets_its_goal():
    out = json.loads((REPO / "benchmarks" / "ceiling.json").read_text())
    assert out["machine"]["isa"] in ("avx2", "avx512", "amx") and set(out["peak_gflops"]) == {"float32", "bfloat16"}
    lora = [w for w in out["workloads"] if w["name"] == "LoRA step"]
    assert lora[0]["speedup"] == 1 and "reference" in lora[0]["config"]
    for w in out["workloads"]:
        assert 0 < w["fraction_of_peak"] < 1.2, w  # counted FLOPs over time, against the dtype's own peak
    goal = out["lora_goal"]
    assert goal == ceiling.lora_goal(out) and goal["speedup_goal"] == ceiling.LORA_GOALS[out["machine"]["isa"]]
    assert goal["met"], f"the LoRA step's goal on {goal['isa']} is {goal['speedup_goal']}x; best {goal['best_speedup']}x"
