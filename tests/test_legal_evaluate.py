"""lab.legal.evaluate and baselines: label scoring, metrics, CIs, paired tests, verdicts, deployment."""
import numpy as np
import pytest
import torch

from lab import models, stats
from lab.legal import baselines, data, evaluate
from tests.legal_fixtures import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def legal():
    return data.prepare(["jurisdiction", "topic", "cloze"], max_words=24)


def test_cached_label_scores_equal_full_sequence_scores(tiny, legal):
    lm, tok = models.load(tiny)
    ts = legal.tasks["topic"]
    prompt = ts.splits["test"][0].prompt
    verbalisers = [ts.verbalisers[c] for c in ts.labels]
    fast = evaluate.label_logprobs(lm, tok, prompt, verbalisers)
    for score, v in zip(fast, verbalisers):
        p, lab = tok(prompt).input_ids, tok(v, add_special_tokens=False).input_ids
        with torch.no_grad():
            lp = torch.log_softmax(lm(torch.tensor([p + lab])).logits[0].float(), -1)
        assert score == pytest.approx(sum(lp[len(p) - 1 + k, lab[k]].item() for k in range(len(lab))), abs=1e-4)


def test_predictions_are_deterministic(tiny, legal):
    lm, tok = models.load(tiny)
    for name in ("jurisdiction", "cloze"):
        ts, ex = legal.tasks[name], legal.tasks[name].splits["test"][:3]
        first = evaluate.predict(lm, tok, ts, ex, progress=False)
        assert first == evaluate.predict(lm, tok, ts, ex, progress=False)
        if ts.is_classification:
            assert set(first) <= set(ts.labels)


def test_metrics():
    assert evaluate.exact_match(["Treinta días.", "x"], ["treinta  días", "y"]).tolist() == [1.0, 0.0]
    # rouge-score's default tokenizer would drop the accented letters; ours keeps 'días'
    assert evaluate.rouge_l(["treinta días"], ["treinta días hábiles"])[0] == pytest.approx(0.8)
    assert evaluate.rouge_l(["días"], ["dias"])[0] == 0.0
    assert evaluate.macro_f1(["a", "a", "b"], ["a", "b", "b"], ["a", "b"]) == pytest.approx(2 / 3)


def test_bootstrap_metric_covers_estimate_and_needs_1000():
    rng = np.random.default_rng(0)
    refs = list(rng.choice(["a", "b", "c"], 80))
    preds = [r if rng.random() < 0.7 else "a" for r in refs]
    iv = evaluate.bootstrap_metric(refs, preds, lambda p, r: evaluate.macro_f1(p, r, ["a", "b", "c"]), 1000)
    assert iv.low <= iv.estimate <= iv.high and iv.high - iv.low > 0.05
    with pytest.raises(ValueError):
        evaluate.bootstrap_metric(refs, preds, lambda p, r: 0.0, 500)


def test_verdicts():
    assert evaluate.verdict_above(stats.Interval(0.7, 0.65, 0.75), 0.6) == "met"
    assert evaluate.verdict_above(stats.Interval(0.5, 0.45, 0.55), 0.6) == "not met"
    assert evaluate.verdict_above(stats.Interval(0.6, 0.55, 0.65), 0.6) == "inconclusive"


def test_baselines(legal):
    ts = legal.tasks["jurisdiction"]
    test = ts.splits["test"]
    majority = baselines.majority_baseline(ts, test)
    assert set(majority) == {"ES"}  # Spain has the most training articles
    rnd = baselines.random_baseline(ts, test, seed=0)
    assert rnd == baselines.random_baseline(ts, test, seed=0) and len(set(rnd)) == 4
    tfidf = baselines.tfidf_logreg(ts, test)
    acc = np.mean([p == e.label for p, e in zip(tfidf, test)])
    assert acc > 0.5  # far above chance (0.25): the laws' wording differs
    cloze = legal.tasks["cloze"]
    guesses = baselines.majority_baseline(cloze, cloze.splits["test"])
    assert all(g for g in guesses)
    with pytest.raises(ValueError):
        baselines.tfidf_logreg(cloze, cloze.splits["test"])


def test_paired_tests_and_summary(legal):
    ts = legal.tasks["jurisdiction"]
    test = ts.splits["test"]
    gold = evaluate.score(ts, test, [e.label for e in test], "oracle")
    rnd = evaluate.score(ts, test, baselines.random_baseline(ts, test), "random")
    table = evaluate.paired_tests(gold, {"random": rnd}, resamples=1000)
    assert table.loc[("random", "accuracy"), "p (Holm)"] < 0.01
    summary = evaluate.summary_table(ts, test, {"oracle": gold, "random": rnd}, resamples=1000)
    assert summary.loc["oracle", "accuracy"] == 1.0 and summary.loc["random", "acc high"] < 0.5


def test_deployment_variants_run_in_their_own_process(tiny, legal, tmp_path):
    from lab.legal import lora

    lm, tok = models.load(tiny)
    peft_model = lora.attach_lora(lm, lora.LoraSettings(r=2, alpha=4))
    peft_model.save_pretrained(tmp_path / "adapter")
    ts = legal.tasks["jurisdiction"]
    table = evaluate.deployment_table(tiny, str(tmp_path / "adapter"), ts, ts.splits["test"][:2])
    assert list(table.index) == list(evaluate.VARIANTS)
    assert (table["p50 ms"] > 0).all() and (table["peak RSS MB"] > table["RSS after imports MB"]).all()
    # a freshly initialised LoRA B matrix is zero: merged and unmerged models must agree exactly
    assert table.loc["LoRA merged fp32", "same class as LoRA fp32"] == 1.0
