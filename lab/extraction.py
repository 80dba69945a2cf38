"""Verbatim memorization as Carlini et al. (2022) define it, for any model given as a logits function.

A sequence is *k-extractable with a p-token prefix* when greedy decoding from its first p tokens
reproduces the next k tokens exactly. Beside the yes/no we keep the matched-prefix length (how many of
the k tokens come out right before the first error) and the exact-sequence log-probability of the true
continuation under teacher forcing (a graded measure that does not saturate).

``logits_fn(ids: LongTensor[B, T]) -> FloatTensor[B, T, V]`` is all we need of a model, so the same code
measures our own GPTs and pretrained transformers (``hf_logits_fn``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Extraction:
    extractable: bool  # greedy continuation == true continuation, all k tokens
    matched: int  # leading tokens of the greedy continuation that are right
    logprob: float  # log p(true continuation | prefix), natural log, teacher-forced
    greedy: tuple[int, ...]


def matched_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@torch.no_grad()
def greedy_decode(logits_fn: LogitsFn, prefixes: torch.Tensor, k: int, context: int | None = None) -> torch.Tensor:
    """Greedy continuation of a batch of equal-length prefixes, k tokens each (no cache: small models)."""
    ids = prefixes
    for _ in range(k):
        window = ids if context is None else ids[:, -context:]
        nxt = logits_fn(window)[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=1)
    return ids[:, prefixes.shape[1]:]


@torch.no_grad()
def continuation_logprob(logits_fn: LogitsFn, prefixes: torch.Tensor, suffixes: torch.Tensor) -> torch.Tensor:
    """Sum of log p(suffix_t | prefix, suffix_<t) for each row."""
    ids = torch.cat([prefixes, suffixes], dim=1)
    logp = torch.log_softmax(logits_fn(ids[:, :-1]).float(), dim=-1)
    p = prefixes.shape[1]
    picked = logp[:, p - 1:].gather(-1, suffixes[..., None])[..., 0]
    return picked.sum(dim=1)


def measure(logits_fn: LogitsFn, sequences: Sequence[Sequence[int]], prefix: int, k: int, batch: int = 64,
            context: int | None = None, device: str = "cpu", greedy_fn=None) -> list[Extraction]:
    """k-extractability of each sequence's tokens [prefix, prefix + k) given its first ``prefix`` tokens.

    ``greedy_fn(prefixes, k)``, if given, replaces the plain greedy loop (e.g. a KV-cached generate).
    """
    too_short = [i for i, s in enumerate(sequences) if len(s) < prefix + k]
    if too_short:
        raise ValueError(f"{len(too_short)} sequence(s) are shorter than prefix + k = {prefix + k}")
    out: list[Extraction] = []
    for start in range(0, len(sequences), batch):
        rows = torch.tensor([list(s[:prefix + k]) for s in sequences[start:start + batch]], device=device)
        pre, true = rows[:, :prefix], rows[:, prefix:]
        greedy = greedy_fn(pre, k) if greedy_fn else greedy_decode(logits_fn, pre, k, context)
        lp = continuation_logprob(logits_fn, pre, true)
        for g, t, l in zip(greedy.tolist(), true.tolist(), lp.tolist()):
            m = matched_prefix_length(g, t)
            out.append(Extraction(m == k, m, float(l), tuple(g)))
    return out


def hf_logits_fn(model) -> LogitsFn:
    """Adapter for a transformers causal LM."""
    def fn(ids: torch.Tensor) -> torch.Tensor:
        return model(input_ids=ids).logits
    return fn


def hf_greedy_fn(model):
    """KV-cached greedy decoding of exactly k tokens for a transformers causal LM. Unlike ``generate`` it
    does not stop at end-of-text: like the plain loop, it just keeps taking the argmax."""
    @torch.no_grad()
    def fn(prefixes: torch.Tensor, k: int) -> torch.Tensor:
        out = model(input_ids=prefixes, use_cache=True)
        tokens = [out.logits[:, -1].argmax(-1)]
        for _ in range(k - 1):
            out = model(input_ids=tokens[-1][:, None], past_key_values=out.past_key_values, use_cache=True)
            tokens.append(out.logits[:, -1].argmax(-1))
        return torch.stack(tokens, dim=1)
    return fn
