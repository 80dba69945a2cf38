"""Repetition and diversity of generated text: n-gram repetition rate, distinct-n, self-BLEU (sacrebleu),
BLEU against references, unique tokens per 100, longest run of one token, unigram entropy; and the n-gram
baselines a language model must beat (add-k unigram, interpolated Kneser-Ney bigram), per token and in bits
per byte."""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np


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


# ---------------------------------------------------------------- n-gram baselines
# Kneser-Ney is written here because no pinned package has it: nltk (not pinned; present only through
# rouge-score) scores one token at a time in pure Python, far too slow for a corpus of two million tokens.

def _as_ids(tokens) -> np.ndarray:
    ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if ids.size and ids.min() < 0:
        raise ValueError("token ids must be >= 0")
    return ids


class UnigramLM:
    """Add-k unigram model: P(w) = (c(w) + k) / (N + kV)."""

    def __init__(self, tokens, vocab_size: int, k: float = 0.1):
        ids = _as_ids(tokens)
        counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
        self.vocab_size = vocab_size
        self.probs = (counts + k) / (counts.sum() + k * vocab_size)

    def log_probs(self, tokens) -> np.ndarray:
        """Natural-log probability of every token after the first (the first has no context in the bigram,
        so both models are scored on the same targets)."""
        return np.log(self.probs[_as_ids(tokens)[1:]])


def _discount(counts: np.ndarray) -> float:
    """Ney's absolute discount D = n1 / (n1 + 2 n2) from the counts of counts (n1: seen once, n2: twice)."""
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


class KneserNeyBigram:
    """Interpolated Kneser-Ney bigram model (Chen & Goodman, 1998), recursive down to a uniform distribution:

    P(w|v) = max(c(vw) - D, 0) / c(v) + D N1+(v.) / c(v) * Pc(w)       (Pc(w) alone where c(v) = 0)
    Pc(w)  = max(N1+(.w) - D1, 0) / N1+(..) + D1 |{w: N1+(.w) > 0}| / N1+(..) / V

    c(v) counts v as a context, N1+(v.) the distinct words after v, N1+(.w) the distinct words before w;
    D and D1 are Ney's discounts of the bigram and continuation counts. Every P(.|v) sums to 1."""

    def __init__(self, tokens, vocab_size: int):
        ids = _as_ids(tokens)
        if ids.size < 2:
            raise ValueError("a bigram model needs at least two tokens")
        V = self.vocab_size = vocab_size
        keys, counts = np.unique(ids[:-1] * V + ids[1:], return_counts=True)
        self.keys, self.counts = keys, counts
        first, second = keys // V, keys % V
        self.context_count = np.bincount(ids[:-1], minlength=V).astype(np.float64)
        self.followers = np.bincount(first, minlength=V).astype(np.float64)
        continuation = np.bincount(second, minlength=V).astype(np.float64)
        self.D = _discount(counts)
        D1 = _discount(continuation[continuation > 0])
        types = float(keys.size)
        self.continuation = (np.maximum(continuation - D1, 0) + D1 * (continuation > 0).sum() / V) / types

    def _bigram_count(self, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        q = v * self.vocab_size + w
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        return np.where(self.keys[pos] == q, self.counts[pos], 0).astype(np.float64)

    def prob(self, v, w) -> np.ndarray:
        v, w = _as_ids(v), _as_ids(w)
        cv = self.context_count[v]
        seen = cv > 0
        safe = np.where(seen, cv, 1.0)
        interpolated = (np.maximum(self._bigram_count(v, w) - self.D, 0)
                        + self.D * self.followers[v] * self.continuation[w]) / safe
        return np.where(seen, interpolated, self.continuation[w])

    def log_probs(self, tokens) -> np.ndarray:
        ids = _as_ids(tokens)
        return np.log(self.prob(ids[:-1], ids[1:]))


def token_byte_lengths(encoding, vocab_size: int) -> np.ndarray:
    """UTF-8 bytes of each token id of a tiktoken encoding; special tokens (end-of-text) count 0 bytes,
    since they stand for no text."""
    special = set(getattr(encoding, "special_tokens_set", ()))
    out = np.zeros(vocab_size, dtype=np.int64)
    for i in range(min(vocab_size, encoding.n_vocab)):
        try:
            piece = encoding.decode_single_token_bytes(i)
        except KeyError:
            continue
        out[i] = 0 if piece.decode("utf-8", "replace") in special else len(piece)
    return out


def score(log_probs: np.ndarray, n_bytes: int | None = None) -> dict:
    """Perplexity per token from natural-log probabilities; bits per byte when the text's bytes are given."""
    nll = -float(np.sum(log_probs))
    out = {"ppl": math.exp(nll / len(log_probs)), "tokens": int(len(log_probs))}
    if n_bytes:
        out["bits_per_byte"] = nll / math.log(2) / n_bytes
    return out


def ngram_baselines(train, validation, vocab_size: int, byte_lengths: np.ndarray | None = None,
                    k: float = 0.1) -> dict:
    """Validation perplexity of the add-k unigram and the interpolated Kneser-Ney bigram fitted on ``train``
    (both scored on every validation token after the first); bits per byte with ``byte_lengths``."""
    val = _as_ids(validation)
    n_bytes = int(byte_lengths[val[1:]].sum()) if byte_lengths is not None else None
    return {"unigram (add-%g)" % k: score(UnigramLM(train, vocab_size, k).log_probs(val), n_bytes),
            "bigram (interpolated Kneser-Ney)": score(KneserNeyBigram(train, vocab_size).log_probs(val), n_bytes)}
