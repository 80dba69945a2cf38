"""Observables of a perturbed run against its control, and the original study's metrics beside them.

Proper observables: per-step KL(control || perturbed) of next-token distributions (exact from local
logits; from API top-k log-probabilities only a lower bound, named as such), token edit distance,
divergence onset, sentence-embedding distance, and memorization as Carlini et al. define it.

The original's metrics (``001_2f74044695a0fe33.txt``: "memorization" >= 0.7/0.8 and a word-count "KL") are
re-implemented as its code computes them (ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py), so that
the book can show their ceilings on the same generations.
"""
from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.stats import entropy

from ..extraction import matched_prefix_length  # noqa: F401  (one definition, shared with lab.extraction)
from ..models import assets

# ---------------------------------------------------------------- distributions


def kl_per_step(logp_control, logp_perturbed):
    """Exact KL(P_control || P_perturbed) in nats at each step; inputs are [T, vocab] log-probabilities."""
    import torch

    p = logp_control.exp()
    return (p * (logp_control - logp_perturbed)).sum(-1).clamp(min=0.0)


def kl_topk_lower_bound(top_control: dict[str, float], top_perturbed: dict[str, float]) -> float:
    """A lower bound on KL(P || Q) from the top-k log-probabilities an API returns.

    Coarse-grain the vocabulary into the tokens present in both top-k lists, each on its own, plus one
    bucket for everything else; by the data-processing inequality the KL of the coarse-grained
    distributions never exceeds the true KL. It is a bound, not an estimate: 0 means "unknown"."""
    shared = set(top_control) & set(top_perturbed)
    p = {t: math.exp(top_control[t]) for t in shared}
    q = {t: math.exp(top_perturbed[t]) for t in shared}
    kl = sum(p[t] * math.log(p[t] / q[t]) for t in shared if p[t] > 0)
    p_rest, q_rest = max(0.0, 1 - sum(p.values())), max(0.0, 1 - sum(q.values()))
    if p_rest > 1e-12:
        kl += p_rest * math.log(p_rest / max(q_rest, 1e-12))
    return max(0.0, kl)


def true_token_probabilities(logp, tokens: Sequence[int]) -> list[float]:
    """p(true token | prefix) at each step, from [T, vocab] log-probabilities."""
    import torch

    if not tokens:
        return []
    idx = torch.tensor(list(tokens), device=logp.device)
    return logp.gather(-1, idx[:, None]).squeeze(-1).exp().tolist()


def mean_nll(logp, tokens: Sequence[int]) -> float:
    """Mean negative log-likelihood per token (nats) of ``tokens`` under [T, vocab] log-probabilities; NaN for
    none. Read from the log-probabilities directly: a probability of e^-120 would underflow to 0 in float32."""
    if not tokens:
        return math.nan
    import torch

    idx = torch.tensor(list(tokens), device=logp.device)
    return float(-logp.gather(-1, idx[:, None]).mean())


# ---------------------------------------------------------------- sequences


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two token sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def divergence_onset(control: Sequence, perturbed: Sequence) -> int | None:
    """First step at which the two continuations differ; None when they never do."""
    n = matched_prefix_length(control, perturbed)
    return None if n == len(control) == len(perturbed) else n


def k_extractable(generated: Sequence, true_continuation: Sequence, k: int) -> bool | None:
    """Carlini et al. (2023, "Quantifying memorization"): the greedy continuation of the prompt equals
    the true next ``k`` tokens exactly. None (unavailable) when fewer than ``k`` true tokens exist or
    fewer than ``k`` were generated."""
    if len(true_continuation) < k or len(generated) < k:
        return None
    return list(generated[:k]) == list(true_continuation[:k])


# ---------------------------------------------------------------- embeddings


@lru_cache(maxsize=1)
def _sentence_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(assets.path("minilm")), device="cpu")


def embedding_distances(pairs: Sequence[tuple[str, str]], batch_size: int = 64) -> list[float]:
    """Cosine distance (1 - cos) between all-MiniLM-L6-v2 embeddings of each pair of texts."""
    if not pairs:
        return []
    model = _sentence_model()
    texts = [t for pair in pairs for t in pair]
    vecs = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    a, b = vecs[0::2], vecs[1::2]
    return [float(round(1.0 - v, 6)) for v in np.sum(a * b, axis=1)]


# ---------------------------------------------------------------- the original's metrics

ORIGINAL_THRESHOLD = 0.8  # 0.7 in one of the original scripts
# As ebaenamar/llm-controlled-dynamics@8d5dda35:src/core/metrics.py computes them (TextMetrics.memorization_score,
# DistributionMetrics.kl_divergence_approx); tests/unit/test_original_metrics.py reproduces its values.
ORIGINAL_SMOOTHING = 1e-10


def original_words(text: str) -> list[str]:
    """The original's words: a whitespace split, case kept (its prefix and exact terms keep case, its overlap and
    KL lower-case these words)."""
    return text.split()


def original_memorization(generated: str, canonical: str) -> dict:
    """The original composite, 0.4*exact + 0.3*(leading matching words / canonical words) + 0.3*overlap,
    "memorized" when >= 0.8, with the original's definitions: exact = the whitespace-normalised texts are equal;
    leading = the count of leading whitespace words equal, case kept; overlap = Jaccard of the lower-cased word
    sets (1 when both are empty, 0 when one is)."""
    g, c = original_words(generated), original_words(canonical)
    if not c:
        raise ValueError("empty canonical text")
    exact = float(g == c)  # " ".join(text.split()) equal <=> the word lists are equal
    leading = matched_prefix_length(g, c) / len(c)
    gs, cs = {w.lower() for w in g}, {w.lower() for w in c}
    overlap = 1.0 if not gs and not cs else (len(gs & cs) / len(gs | cs) if gs and cs else 0.0)
    score = 0.4 * exact + 0.3 * leading + 0.3 * overlap
    return {"score": score, "exact": exact, "leading": leading, "overlap": overlap,
            "memorized": score >= ORIGINAL_THRESHOLD}


def original_ceiling(canonical: str, continuation: str, n_words: int) -> float:
    """The original score of a *perfect* continuation cut at ``n_words`` words (``continuation``: the canonical
    text after the prompt): the most a generation of that length can score without echoing the prompt,
    whatever the model knows."""
    return original_memorization(" ".join(original_words(continuation)[:n_words]), canonical)["score"]


def original_word_kl(generated: str, canonical: str, smoothing: float = ORIGINAL_SMOOTHING) -> float:
    """The original's "KL": KL(canonical || output) in nats between lower-cased word-frequency histograms over
    their joint vocabulary, ``smoothing`` added to every count (scipy's entropy, as the original; 0 when both
    texts are empty). It ignores order and compares one sample against a text, so it is not a divergence
    between model distributions; with smoothing 1e-10 a canonical word the output lacks costs about 20 nats,
    so an empty output scores lower than a perfect continuation that omits the prompt's words."""
    c, g = Counter(w.lower() for w in original_words(canonical)), Counter(w.lower() for w in original_words(generated))
    vocab = sorted(set(c) | set(g))
    if not vocab:
        return 0.0
    p = [c[w] + smoothing for w in vocab]
    q = [g[w] + smoothing for w in vocab]
    return float(entropy(p, q))  # scipy normalises both
