"""Two reusable leak tests for language-model training code; each returns a result, never just prints.

- ``label_shift_test``: the target of position t must be the input token at t+1. Labels equal to the
  inputs (the original collate bug) let the model copy what it sees: perplexity near 1, a fake.
- ``causality_test``: changing token t+1 must not change the logits at any position <= t. Without a causal
  mask, the model reads the token it is asked to predict.

Both fail on the original Infinito V5.2 set-up and pass on the fixed one (tests/test_leaks.py).

A failed causality test shows that a model *can* see the future; ``future_reliance`` measures whether a
trained one *does* use it (its perplexity with the whole window visible against the past only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from ..gpt import IGNORE_INDEX


@dataclass(frozen=True)
class LeakResult:
    name: str
    passed: bool
    detail: str

    def __bool__(self) -> bool:
        return self.passed

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise AssertionError(f"{self.name} failed: {self.detail}")


def label_shift_test(inputs: torch.Tensor, labels: torch.Tensor) -> LeakResult:
    """Checks labels[:, t] == inputs[:, t+1] wherever a label is set (the last position has no next input)."""
    if inputs.shape != labels.shape or inputs.dim() != 2:
        return LeakResult("label-shift", False, f"inputs {tuple(inputs.shape)} and labels {tuple(labels.shape)} "
                                                "must be two [batch, seq] tensors of the same shape")
    lab, nxt = labels[:, :-1], inputs[:, 1:]
    checked = lab != IGNORE_INDEX
    n = int(checked.sum())
    if n == 0:
        return LeakResult("label-shift", False, "no position carries a label")
    wrong = int(((lab != nxt) & checked).sum())
    same = int(((labels == inputs) & (labels != IGNORE_INDEX)).sum())
    total = int((labels != IGNORE_INDEX).sum())
    if wrong == 0:
        return LeakResult("label-shift", True, f"all {n} checked labels are the next input token")
    return LeakResult("label-shift", False, f"{wrong} of {n} labels are not the next input token; "
                                            f"{same} of {total} labels equal the input at the same position")


def label_shift_test_collate(collate: Callable, seq_len: int = 16, batch: int = 2) -> LeakResult:
    """Runs ``label_shift_test`` on what ``collate`` makes of windows of distinct tokens 1, 2, 3, ...
    (distinct values make 'the next token' unambiguous)."""
    windows = [torch.arange(1 + i * (seq_len + 1), 1 + (i + 1) * (seq_len + 1)) for i in range(batch)]
    inputs, labels = collate(windows)
    return label_shift_test(inputs, labels)


@torch.no_grad()
def causality_test(model: torch.nn.Module, vocab_size: int, seq_len: int = 16, positions=None, seed: int = 0,
                   atol: float = 1e-5) -> LeakResult:
    """Changes token t+1 and checks that the logits at positions 0..t stay the same (eval mode)."""
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator().manual_seed(seed)
        device = next(model.parameters()).device
        x = torch.randint(0, vocab_size, (2, seq_len), generator=g).to(device)
        base = model(x)[0].float()
        positions = list(positions) if positions is not None else [0, seq_len // 2, seq_len - 2]
        worst, worst_at = 0.0, None
        for t in positions:
            y = x.clone()
            y[:, t + 1] = (y[:, t + 1] + 1 + torch.randint(0, vocab_size - 1, (1,), generator=g).item()) % vocab_size
            diff = (model(y)[0].float()[:, :t + 1] - base[:, :t + 1]).abs().max().item()
            if diff > worst:
                worst, worst_at = diff, t
    finally:
        model.train(was_training)
    if worst <= atol:
        return LeakResult("causality", True, f"logits at positions <= t unchanged (max |diff| {worst:.2e}) "
                                             f"when token t+1 changes, t in {positions}")
    return LeakResult("causality", False, f"changing token {worst_at + 1} changes the logits at positions <= "
                                          f"{worst_at} by up to {worst:.3g}: the model sees the future")


@torch.no_grad()
def future_reliance(model: torch.nn.Module, windows: torch.Tensor, batch_size: int = 32) -> dict:
    """Whether a trained model uses the future it can see: its next-token perplexity over windows of T+1
    tokens (inputs w[:-1], targets w[1:]) scored twice,

    - ``ppl_full``: the whole input visible, as a non-causal model is scored by its own training pipeline;
    - ``ppl_past_only``: the prediction at t from the prefix w[:t+1] alone (one forward pass per t), as in
      generation, where no future token exists.

    A causal model gives the same two numbers; a model that reads the token it must predict scores better,
    often far better, with the whole window. ``ratio`` = ppl_past_only / ppl_full."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        full = past = 0.0
        n = 0
        for i in range(0, windows.size(0), batch_size):
            w = windows[i:i + batch_size].to(device)
            x, y = w[:, :-1], w[:, 1:]
            logits = model(x)[0].float()
            full += torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="sum").item()
            for t in range(x.size(1)):
                last = model(x[:, :t + 1])[0][:, -1].float()
                past += torch.nn.functional.cross_entropy(last, y[:, t], reduction="sum").item()
            n += y.numel()
    finally:
        model.train(was_training)
    ppl_full, ppl_past = math.exp(full / n), math.exp(past / n)
    return {"ppl_full": ppl_full, "ppl_past_only": ppl_past, "ratio": ppl_past / ppl_full, "tokens": n}
