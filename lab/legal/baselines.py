"""The plan's baselines, made concrete: random, majority, TF-IDF + logistic regression, zero-shot base model.

For cloze the 'random' and 'majority' answers are drawn from the training answers of the same span
category (percentage, majority/quorum, time limit, organ): the category is plain from the context of the
blank ("en el plazo de ____"), so this is the fair guess-from-priors baseline. TF-IDF + logistic
regression has no cloze counterpart.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .data import Example, TaskSet
from .evaluate import predict


def random_baseline(taskset: TaskSet, examples: list[Example], seed: int = 0) -> list[str]:
    """Uniformly random class (classification) or a random training answer of the same category (cloze)."""
    rng = np.random.default_rng(seed)
    if taskset.is_classification:
        return [taskset.labels[int(i)] for i in rng.integers(0, len(taskset.labels), len(examples))]
    pools = _answers_by_category(taskset)
    return [pools[e.category][int(rng.integers(0, len(pools[e.category])))] if pools.get(e.category) else ""
            for e in examples]


def majority_baseline(taskset: TaskSet, examples: list[Example]) -> list[str]:
    """The most frequent training class, or the most frequent training answer of the same category."""
    if taskset.is_classification:
        counts = Counter(e.label for e in taskset.splits["train"])
        top = max(taskset.labels, key=lambda c: (counts.get(c, 0), -taskset.labels.index(c)))
        return [top] * len(examples)
    pools = _answers_by_category(taskset)
    top = {c: Counter(a.lower() for a in answers).most_common(1)[0][0] for c, answers in pools.items() if answers}
    return [top.get(e.category, "") for e in examples]


def _answers_by_category(taskset: TaskSet) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for e in taskset.splits["train"]:
        pools.setdefault(e.category, []).append(e.label)
    return pools


def _article_text(ex: Example) -> str:
    """The article words of a classification prompt (the first and last lines are the fixed instruction)."""
    return "\n".join(ex.prompt.split("\n")[1:-1])


def tfidf_logreg(taskset: TaskSet, examples: list[Example], seed: int = 0) -> list[str]:
    """Word 1-2-gram TF-IDF and L2 logistic regression, fitted on the training split's article texts."""
    if not taskset.is_classification:
        raise ValueError("TF-IDF + logistic regression is a classification baseline")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train = taskset.splits["train"]
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                          LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    model.fit([_article_text(e) for e in train], [e.label for e in train])
    return [str(p) for p in model.predict([_article_text(e) for e in examples])]


def zero_shot(lm, tok, taskset: TaskSet, examples: list[Example], progress: bool | None = None) -> list[str]:
    """The base model with the same prompts and label scoring as the LoRA model, no training."""
    return predict(lm, tok, taskset, examples, progress=progress)


def all_baselines(taskset: TaskSet, examples: list[Example], lm=None, tok=None, seed: int = 0,
                  progress: bool | None = None) -> dict[str, list[str]]:
    """Predictions of every baseline that applies to the task."""
    out = {"random": random_baseline(taskset, examples, seed), "majority": majority_baseline(taskset, examples)}
    if taskset.is_classification:
        out["TF-IDF + logistic regression"] = tfidf_logreg(taskset, examples, seed)
    if lm is not None:
        out["base model zero-shot"] = zero_shot(lm, tok, taskset, examples, progress)
    return out
