"""The training dtype is chosen by measuring (lab.cpu.choose_dtype), and the bfloat16 path learns as float32 does:
over the first 50 steps of one model on one stream of batches, its loss curve stays within a stated tolerance."""
from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch

from lab import cpu
from lab.gpt import GPT, GPTConfig, make_adamw

# bfloat16 keeps 8 bits of mantissa: each step's loss may differ by a few hundredths of a nat, and the curves
# must not drift apart (the mean gap over the last 10 steps stays small against the 1.5 nats the model learns)
STEP_TOLERANCE = 0.08  # nats, any one step
LATE_TOLERANCE = 0.03  # nats, mean over steps 40-49


def test_asked_dtypes_are_kept_and_auto_follows_the_measurement(monkeypatch):
    assert cpu.choose_dtype("float32").resolved == "float32"
    assert cpu.choose_dtype("bfloat16").resolved == "bfloat16"
    assert cpu.choose_dtype("auto", device="cuda").resolved == "bfloat16"
    rates = {torch.float32: 100.0, torch.bfloat16: 230.0}  # an AMX CPU
    monkeypatch.setattr(cpu, "matmul_gflops", lambda dtype, **_: rates[dtype])
    choice = cpu.choose_dtype("auto")
    assert choice.resolved == "bfloat16" and choice.gflops == {"float32": 100.0, "bfloat16": 230.0}
    rates[torch.bfloat16] = 0.3  # an AVX2-only CPU
    assert cpu.choose_dtype("auto").resolved == "float32"
    with pytest.raises(ValueError, match="'auto', 'float32' or 'bfloat16'"):
        cpu.choose_dtype("fp16")


def _curve(bfloat16: bool, steps: int = 50) -> list[float]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, n_embd=64))
    optimizer = make_adamw(model, lr=3e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)
    base = torch.randint(0, 64, (256,), generator=generator)  # a repeating stream the model can learn
    losses = []
    for step in range(steps):
        starts = torch.randint(0, 224, (16,), generator=generator)
        x = torch.stack([base[s:s + 32] for s in starts])
        y = torch.stack([base[s + 1:s + 33] for s in starts])
        with torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16 else nullcontext():
            _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def test_the_bfloat16_loss_curve_stays_within_tolerance_of_float32():
    fp32, bf16 = _curve(False), _curve(True)
    assert fp32[0] - fp32[-1] > 1.0, "the model must learn for the comparison to mean anything"
    gaps = [abs(a - b) for a, b in zip(fp32, bf16)]
    assert max(gaps) <= STEP_TOLERANCE, max(gaps)
    assert sum(gaps[40:]) / 10 <= LATE_TOLERANCE
