"""The plan's baselines, made concrete: random, majority, TF-IDF + logistic regression, zero-shot base model;
and two that the plan lacked. The zero-shot base model with contextual calibration (Zhao et al. 2021,
"Calibrate before use"): each class's score minus its share when the article is replaced by content-free
text, which removes the model's prior for one answer whatever the article says. And a frozen-feature probe:
logistic regression on the base model's mean-pooled last hidden states of the article, which asks whether
the untrained representation already separates the classes.

For cloze the 'random' and 'majority' answers are drawn from the training answers of the same span
category (percentage, majority/quorum, time limit, organ): the category is plain from the context of the
blank ("en el plazo de ____"), so this is the fair guess-from-priors baseline. TF-IDF + logistic
regression has no cloze counterpart.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from .data import Example, TaskSet, prompt_for
from .evaluate import autocast_to, label_logprobs_batch, predict

# each system's short name in the chapter's glue (p3_<task>_<key>)
GLUE_KEYS = {"random": "random", "majority": "majority", "TF-IDF + logistic regression": "tfidf",
             "base model zero-shot": "base", "base model zero-shot, calibrated": "calibrated",
             "frozen-feature probe": "probe"}
CONTENT_FREE = ("N/A", "", "[MASK]")  # Zhao et al. 2021's content-free inputs, averaged
PROBE_BATCH = 16


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


def content_free_logprobs(lm, tok, taskset: TaskSet) -> np.ndarray:
    """Log of each class's probability, normalised over the classes, with content-free text in place of the
    article (the mean of the probabilities over ``CONTENT_FREE``)."""
    labels = list(taskset.labels)
    scores = label_logprobs_batch(lm, tok, [prompt_for(taskset.task, text) for text in CONTENT_FREE],
                                  [taskset.verbalisers[c] for c in labels])
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return np.log(probs.mean(axis=0))


def zero_shot_both(lm, tok, taskset: TaskSet, examples: list[Example]) -> tuple[list[str], list[str]]:
    """(zero-shot, calibrated) predictions of a classification task from one scoring of the test prompts: the
    argmax of the label scores, and the argmax of the scores less the content-free log-probabilities."""
    if not taskset.is_classification:
        raise ValueError("contextual calibration applies to classification")
    labels = list(taskset.labels)
    scores = label_logprobs_batch(lm, tok, [e.prompt for e in examples], [taskset.verbalisers[c] for c in labels])
    shifted = scores - content_free_logprobs(lm, tok, taskset)
    return [labels[int(i)] for i in scores.argmax(axis=1)], [labels[int(i)] for i in shifted.argmax(axis=1)]


def zero_shot_calibrated(lm, tok, taskset: TaskSet, examples: list[Example]) -> list[str]:
    """The zero-shot base model with contextual calibration: argmax of score - content-free log-probability."""
    return zero_shot_both(lm, tok, taskset, examples)[1]


def mean_pooled_states(lm, tok, texts: list[str], cache: dict | None = None, autocast: str = "none") -> np.ndarray:
    """(texts x hidden) mean of the decoder's last hidden states over each text's tokens (no instruction), the
    decoder under bfloat16 autocast when asked (features for a linear probe; the rounding is far below what
    separates the classes)."""
    import torch

    cache = {} if cache is None else cache
    todo = sorted(dict.fromkeys(t for t in texts if t not in cache), key=lambda t: len(tok(t).input_ids))  # pad little
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    decoder = lm.get_decoder()
    lm.eval()
    for start in range(0, len(todo), PROBE_BATCH):
        chunk = todo[start:start + PROBE_BATCH]
        encoded = [tok(t).input_ids for t in chunk]
        width = max(len(e) for e in encoded)
        ids = torch.tensor([e + [pad] * (width - len(e)) for e in encoded], device=lm.device)
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in encoded], device=lm.device)
        with torch.no_grad(), autocast_to(lm, autocast):
            hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        for text, vector in zip(chunk, pooled.cpu().numpy()):
            cache[text] = vector
    return np.stack([cache[t] for t in texts])


def frozen_probe(lm, tok, taskset: TaskSet, examples: list[Example], seed: int = 0,
                 cache: dict | None = None, limit: int = 0, autocast: str = "none") -> list[str]:
    """Logistic regression (standardised features, the inverse regularisation C chosen by cross-validation on
    the training split: 5 folds, fewer when a class has fewer examples) on ``mean_pooled_states`` of the
    article text; fitted on the first ``limit`` training examples (0: all of them)."""
    if not taskset.is_classification:
        raise ValueError("the frozen probe is a classification baseline")
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = taskset.splits["train"][:limit] if limit else taskset.splits["train"]
    folds = min(5, min(Counter(e.label for e in train).values()))
    classifier = (LogisticRegressionCV(Cs=8, cv=folds, l1_ratios=(0.0,), scoring="accuracy", max_iter=3000,
                                       random_state=seed, use_legacy_attributes=False) if folds >= 2
                  else LogisticRegression(max_iter=3000, random_state=seed))
    probe = make_pipeline(StandardScaler(), classifier)
    probe.fit(mean_pooled_states(lm, tok, [_article_text(e) for e in train], cache, autocast), [e.label for e in train])
    return [str(p) for p in probe.predict(mean_pooled_states(lm, tok, [_article_text(e) for e in examples], cache,
                                                             autocast))]


def all_baselines(taskset: TaskSet, examples: list[Example], lm=None, tok=None, seed: int = 0,
                  progress: bool | None = None, features: dict | None = None,
                  probe_examples: int = 0, autocast: str = "none") -> dict[str, list[str]]:
    """Predictions of every baseline that applies to the task (``features`` caches the probe's hidden
    states across the tasks that share articles; ``autocast`` is the probe's, the zero-shot scores are float32)."""
    out = {"random": random_baseline(taskset, examples, seed), "majority": majority_baseline(taskset, examples)}
    if taskset.is_classification:
        out["TF-IDF + logistic regression"] = tfidf_logreg(taskset, examples, seed)
    if lm is not None:
        if taskset.is_classification:
            out["base model zero-shot"], out["base model zero-shot, calibrated"] = zero_shot_both(lm, tok, taskset,
                                                                                                 examples)
            out["frozen-feature probe"] = frozen_probe(lm, tok, taskset, examples, seed, features, probe_examples,
                                                       autocast)
        else:
            out["base model zero-shot"] = zero_shot(lm, tok, taskset, examples, progress)
    return out
