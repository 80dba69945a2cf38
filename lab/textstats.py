"""Repetition and diversity of generated text: n-gram repetition rate, distinct-n, self-BLEU (sacrebleu),
BLEU against references, unique tokens per 100, longest run of one token, unigram entropy."""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence


def ngrams(tokens: Sequence, n: int) -> list[tuple]:
    if n < 1:
        raise ValueError("n must be >= 1")
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def repetition_rate(tokens: Sequence, n: int = 1) -> float:
    """1 - unique/total n-grams of one text (004_27d3d2876e77c6bd.txt's definition); 0 = no repeats."""
    grams = ngrams(tokens, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def distinct_n(texts: Sequence[Sequence], n: int = 1) -> float:
    """Unique n-grams over all texts / total n-grams (Li et al., 2016)."""
    grams = [g for t in texts for g in ngrams(t, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def unique_per_100(tokens: Sequence) -> float:
    """Mean number of distinct tokens in consecutive chunks of 100 (the projection's 'tokens únicos por 100')."""
    chunks = [tokens[i:i + 100] for i in range(0, len(tokens) - 99, 100)] or [tokens]
    return sum(len(set(c)) * 100 / len(c) for c in chunks) / len(chunks)


def longest_run(tokens: Sequence) -> int:
    best = run = 0
    prev = object()
    for t in tokens:
        run = run + 1 if t == prev else 1
        prev = t
        best = max(best, run)
    return best


def entropy_bits(tokens: Sequence) -> float:
    counts = Counter(tokens)
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def self_bleu(texts: Sequence[str]) -> float:
    """Mean sentence BLEU (sacrebleu, 0-1) of each text against all the others; 1 = all alike."""
    import sacrebleu

    if len(texts) < 2:
        raise ValueError("self-BLEU needs at least two texts")
    scores = [sacrebleu.sentence_bleu(t, [o for j, o in enumerate(texts) if j != i]).score
              for i, t in enumerate(texts)]
    return sum(scores) / len(scores) / 100.0


def bleu(hypotheses: Sequence[str], references: Sequence[str], max_order: int = 4) -> float:
    """Corpus BLEU-n (sacrebleu, 0-1) of hypotheses against one reference each."""
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references):
        raise ValueError("one reference per hypothesis")
    return BLEU(max_ngram_order=max_order, effective_order=True).corpus_score(list(hypotheses), [list(references)]).score / 100.0


def summary(token_lists: Sequence[Sequence[int]], texts: Sequence[str]) -> dict:
    """All figures for a set of generations (token ids for n-gram figures, decoded text for BLEU)."""
    words = [t.split() for t in texts]
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    out = {f"repetition {n}-gram": mean([repetition_rate(t, n) for t in token_lists]) for n in (1, 2, 3)}
    out.update({f"distinct-{n}": distinct_n(token_lists, n) for n in (1, 2)})
    out["unique tokens per 100"] = mean([unique_per_100(t) for t in token_lists])
    out["longest run"] = mean([longest_run(t) for t in token_lists])
    out["entropy (bits)"] = mean([entropy_bits(t) for t in token_lists])
    out["word repetition 1-gram"] = mean([repetition_rate(w, 1) for w in words])
    out["self-BLEU"] = self_bleu(texts) if len(texts) > 1 else float("nan")
    return out
